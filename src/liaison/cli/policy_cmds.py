"""`liaison partner …`, `liaison agreement …`, `liaison marking …`, `liaison policy explain`."""

from __future__ import annotations

import click

from liaison.cli.common import home_opt, json_opt, open_node, print_json
from liaison.cli.main import cli
from liaison.errors import BadRequest
from liaison.policy.decide import explain_text
from liaison.policy.model import DIRECTIONS, Agreement, Partner, tlp_name
from liaison.stix.timestamps import format_taxii_timestamp, parse_timestamp

TLP_CHOICES = ["clear", "green", "amber", "amber+strict", "red"]


def _partner_doc(p: Partner) -> dict[str, object]:
    return {"name": p.name, "id": p.id, "org_identity": p.org_identity, "url": p.url,
            "has_remote_token": p.remote_token is not None,
            "created": format_taxii_timestamp(p.created_at)}


def _agreement_doc(a: Agreement, names: dict[int, str], partners: dict[str, str]) -> dict[str, object]:
    def ts(v: int | None) -> str | None:
        return format_taxii_timestamp(v) if v is not None else None

    return {"id": a.id, "partner": partners.get(a.partner_id, a.partner_id),
            "collections": [names.get(c, str(c)) for c in a.cids],
            "remote_collections": list(a.remote_collections), "direction": a.direction,
            "max_tlp": tlp_name(a.max_tlp), "reshare": a.reshare, "from": ts(a.valid_from),
            "until": ts(a.valid_until), "revoked": ts(a.revoked_at), "created": ts(a.created_at)}


def _date(value: str | None, flag: str) -> int | None:
    if value is None:
        return None
    text = value if "T" in value else value + "T00:00:00Z"
    try:
        return parse_timestamp(text)
    except ValueError as exc:
        raise BadRequest(f"{flag} must be a date (2026-12-31) or a UTC timestamp: {exc}") from None


@cli.group()
def partner() -> None:
    """Partner organisations: the nodes we share with."""


@partner.command("add")
@home_opt
@click.argument("name")
@click.option("--org-identity", required=True, help="The partner's STIX identity id.")
@click.option("--url", default=None, help="The partner node's TAXII discovery or API root URL.")
@click.option("--token", default=None, help="The token our node uses to call the partner.")
@json_opt
def partner_add(name: str, org_identity: str, url: str | None, token: str | None,
                as_json: bool) -> None:
    """Register partner NAME and print the token its node must use to call us (once)."""
    with open_node() as node:
        new = node.exchange.partners.add(name, org_identity, url, token)
    if as_json:
        print_json({**_partner_doc(new.partner), "inbound_token": new.token})
        return
    click.echo(f"Added partner '{name}' ({org_identity}).")
    click.echo(f"  inbound token: {new.token}")
    click.echo("Give it to the partner's administrator: their node calls us with user "
               f"'{name}' and this token.  It is shown only once.")


@partner.command("list")
@home_opt
@json_opt
def partner_list(as_json: bool) -> None:
    """List partners."""
    with open_node() as node:
        rows = [_partner_doc(p) for p in node.exchange.partners.list()]
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("No partners yet — add one with 'liaison partner add NAME --org-identity …'.")
    for r in rows:
        click.echo(f"{r['name']:<20} {r['org_identity']}  {r['url'] or '(no URL)'}")


@partner.command("show")
@home_opt
@click.argument("name")
@json_opt
def partner_show(name: str, as_json: bool) -> None:
    """Show partner NAME and its agreements."""
    with open_node() as node:
        p = node.exchange.partners.get(name)
        names = {c.cid: c.alias or c.id for c in node.store.list_collections()}
        agreements = [_agreement_doc(a, names, {p.id: p.name})
                      for a in node.exchange.partners.agreements(name)]
    doc = {**_partner_doc(p), "agreements": agreements}
    if as_json:
        print_json(doc)
        return
    for key in ("name", "id", "org_identity", "url", "created"):
        click.echo(f"{key:<13} {doc[key]}")
    for a in agreements:
        click.echo(f"agreement {a['id']}: {a['direction']} {', '.join(a['collections'])} "  # type: ignore[arg-type]
                   f"up to {a['max_tlp']}{' (revoked)' if a['revoked'] else ''}")


@partner.command("remove")
@home_opt
@click.argument("name")
def partner_remove(name: str) -> None:
    """Remove partner NAME: its token stops working and its agreements end now."""
    with open_node() as node:
        node.exchange.partners.remove(name)
    click.echo(f"Removed partner '{name}'.")


@cli.group()
def agreement() -> None:
    """Sharing agreements: what a partner may read (pull) or write (push)."""


@agreement.command("add")
@home_opt
@click.argument("partner_name", metavar="PARTNER")
@click.option("--collection", "collections", multiple=True, required=True,
              help="A collection (id or alias) the agreement covers; repeat for more.")
@click.option("--remote-collection", "remote", multiple=True,
              help="The partner's collection id matching each --collection (federation).")
@click.option("--direction", type=click.Choice(DIRECTIONS), required=True,
              help="pull: the partner reads from us; push: it writes to us; both.")
@click.option("--max-tlp", type=click.Choice(TLP_CHOICES), required=True,
              help="Highest TLP released under this agreement.")
@click.option("--reshare", is_flag=True,
              help="Also release material we received from other partners (CLEAR/GREEN only).")
@click.option("--from", "valid_from", default=None, help="Start date (UTC) [default: now].")
@click.option("--until", "valid_until", default=None, help="End date (UTC) [default: none].")
@json_opt
def agreement_add(partner_name: str, collections: tuple[str, ...], remote: tuple[str, ...],
                  direction: str, max_tlp: str, reshare: bool, valid_from: str | None,
                  valid_until: str | None, as_json: bool) -> None:
    """Add an agreement with PARTNER and print its id."""
    with open_node() as node:
        a = node.exchange.partners.add_agreement(
            partner_name, list(collections), direction, max_tlp, reshare,
            _date(valid_from, "--from"), _date(valid_until, "--until"), list(remote))
    if as_json:
        print_json({"id": a.id, "partner": partner_name, "direction": direction,
                    "max_tlp": tlp_name(a.max_tlp), "reshare": reshare,
                    "collections": list(collections)})
        return
    click.echo(a.id)


@agreement.command("list")
@home_opt
@click.option("--partner", "partner_name", default=None, help="Only this partner's agreements.")
@json_opt
def agreement_list(partner_name: str | None, as_json: bool) -> None:
    """List agreements (revoked ones included, marked)."""
    with open_node() as node:
        names = {c.cid: c.alias or c.id for c in node.store.list_collections()}
        partners = {p.id: p.name for p in node.store.list_partners()}
        rows = [_agreement_doc(a, names, partners)
                for a in node.exchange.partners.agreements(partner_name)]
    if as_json:
        print_json(rows)
        return
    if not rows:
        click.echo("No agreements yet — add one with 'liaison agreement add PARTNER …'.")
    for r in rows:
        state = "revoked" if r["revoked"] else "active"
        click.echo(f"{r['id']}  {r['partner']:<16} {r['direction']:<5} up to {r['max_tlp']:<17} "
                   f"{'reshare ' if r['reshare'] else ''}{state}  "
                   f"{', '.join(r['collections'])}")  # type: ignore[arg-type]


@agreement.command("revoke")
@home_opt
@click.argument("agreement_id")
def agreement_revoke(agreement_id: str) -> None:
    """Revoke an agreement: it stops applying on the very next request."""
    with open_node() as node:
        node.exchange.partners.revoke_agreement(agreement_id)
    click.echo(f"Revoked agreement {agreement_id}.")


@cli.group()
def marking() -> None:
    """Markings beyond TLP: releasability to named organisations."""


@marking.command("add-releasability")
@home_opt
@click.argument("name")
@click.option("--to", "orgs", multiple=True,
              help="An organisation identity id it is releasable to; repeat for more. "
              "None at all means releasable to no one.")
@json_opt
def marking_add(name: str, orgs: tuple[str, ...], as_json: bool) -> None:
    """Create a releasability marking NAME and print its id."""
    with open_node() as node:
        org = str(node.org_identity()["id"])
        m = node.exchange.partners.add_releasability(name, list(orgs), org)
    if as_json:
        print_json({"id": m["id"], "name": name, "releasable_to": sorted(set(orgs)),
                    "marking_definition": m})
        return
    click.echo(m["id"])


@cli.group()
def policy() -> None:
    """The release decision, explained."""


@policy.command("explain")
@home_opt
@click.argument("object_id")
@click.option("--partner", "partner_name", required=True, help="The partner to explain for.")
@click.option("--collection", "collection_ref", default=None,
              help="The collection (id or alias) [default: every collection holding it].")
@json_opt
def policy_explain(object_id: str, partner_name: str, collection_ref: str | None,
                   as_json: bool) -> None:
    """Explain, rule by rule, whether OBJECT_ID is released to PARTNER."""
    with open_node() as node:
        results = node.exchange.explain(object_id, partner_name, collection_ref)
    if as_json:
        print_json([r.as_dict() for r in results])
        return
    for r in results:
        click.echo(f"[collection {r.collection}]")
        click.echo(explain_text(r.decision, object_id=object_id, partner=partner_name))

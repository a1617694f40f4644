"""Partners and agreements (admins): list, create, revoke, sync now, status and errors.

    GET  /ui/partners/                      partners, agreements, sync status
    POST /ui/partners/                      add a partner (its token is shown once)
    POST /ui/partners/{name}/remove         remove a partner (its agreements end now)
    POST /ui/partners/{name}/sync           one sync pass with that partner, now
    POST /ui/agreements/                    add an agreement
    POST /ui/agreements/{id}/revoke         revoke an agreement (effective at once)

Every action goes through `Exchange.partners` (audited there); its answer is the
same page with a notice, or the form's error in words.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from liaison.errors import BadRequest, LiaisonError
from liaison.policy.model import DIRECTIONS, Agreement, tlp_name
from liaison.stix.timestamps import now_us, parse_timestamp
from liaison.web import stixview
from liaison.web.app import Ctx, View
from liaison.storage.base import Principal
from liaison.web.backend import Backend, ts


def _state(a: Agreement, now: int) -> str:
    if a.revoked_at is not None:
        return "revoked"
    if a.valid_until is not None and now >= a.valid_until:
        return "expired"
    if a.valid_from is not None and now < a.valid_from:
        return "not yet valid"
    return "active"


def _date(value: str, what: str) -> int | None:
    if not value:
        return None
    text = value if "T" in value else value + "T00:00:00Z"
    try:
        return parse_timestamp(text)
    except ValueError as exc:
        raise BadRequest(f"{what} must be a date (2026-12-31): {exc}") from None


def model(b: Backend, who: Principal) -> dict[str, Any]:
    """Partners, agreements and sync status, as the page (and its twin) show them."""
    now = now_us()
    names = {v.collection.cid: v.collection.alias or v.collection.id
             for v in b.exchange.collections(who)}
    partners = b.exchange.partners.list()
    by_id = {p.id: p.name for p in partners}
    agreements = []
    for a in b.exchange.partners.agreements():
        if a.partner_id not in by_id:
            continue
        agreements.append({"id": a.id, "partner": by_id[a.partner_id],
                           "collections": [names.get(c, str(c)) for c in a.cids],
                           "remote_collections": list(a.remote_collections),
                           "direction": a.direction, "max_tlp": tlp_name(a.max_tlp),
                           "max_tlp_level": stixview.TLP_ORDER[a.max_tlp],
                           "reshare": a.reshare, "valid_from": ts(a.valid_from),
                           "valid_until": ts(a.valid_until), "created": ts(a.created_at),
                           "revoked": ts(a.revoked_at), "state": _state(a, now)})
    active = {p: sum(1 for a in agreements if a["partner"] == p and a["state"] == "active")
              for p in by_id.values()}
    return {"partners": [{"name": p.name, "org_identity": p.org_identity, "url": p.url,
                          "has_token": bool(p.remote_token), "created": ts(p.created_at),
                          "active_agreements": active[p.name]} for p in partners],
            "agreements": agreements, "status": b.sync_rows(),
            "collections": sorted(set(names.values())), "directions": list(DIRECTIONS),
            "tlps": [tlp_name(n) for n in range(len(stixview.TLP_ORDER))],
            "notice": None, "error": None, "token": None, "sync_results": None}


def page(ctx: Ctx) -> View:
    """The partners page."""
    return View("partners.html", model(ctx.backend, ctx.who), "Partners and agreements")


def _act(ctx: Ctx, action: Callable[[], dict[str, Any]]) -> View:
    """Run an action; show the page with its notice, or with the error in words."""
    status = 200
    try:
        extra = action()
    except LiaisonError as exc:
        extra, status = {"error": exc.message}, exc.http_status
    m = model(ctx.backend, ctx.who)
    m.update(extra)
    return View("partners.html", m, "Partners and agreements", status)


def add_partner(ctx: Ctx) -> View:
    """Add a partner; its inbound token is shown once."""
    def act() -> dict[str, Any]:
        made = ctx.backend.exchange.partners.add(
            ctx.arg("name"), ctx.arg("org_identity"), ctx.arg("url") or None,
            ctx.arg("token") or None)
        return {"notice": f"Partner '{made.partner.name}' added. Give its node this token "
                          "(shown only once).",
                "token": {"partner": made.partner.name, "token": made.token}}
    return _act(ctx, act)


def remove_partner(ctx: Ctx) -> View:
    name = ctx.param("name")

    def act() -> dict[str, Any]:
        ctx.backend.exchange.partners.remove(name)
        return {"notice": f"Partner '{name}' removed: its token no longer works and its "
                          "agreements have ended."}
    return _act(ctx, act)


def sync_now(ctx: Ctx) -> View:
    name = ctx.param("name")

    def act() -> dict[str, Any]:
        results = ctx.backend.sync_now(name)
        return {"notice": f"Sync with '{name}' ran: {len(results)} job(s)." if results else
                f"Nothing to sync with '{name}': it needs a URL, a token and an active "
                "agreement with a remote collection.", "sync_results": results}
    return _act(ctx, act)


def add_agreement(ctx: Ctx) -> View:
    def act() -> dict[str, Any]:
        remote = ctx.args("remote_collection")
        a = ctx.backend.exchange.partners.add_agreement(
            ctx.arg("partner"), ctx.args("collection"), ctx.arg("direction"),
            ctx.arg("max_tlp"), ctx.arg("reshare") == "on",
            _date(ctx.arg("valid_from"), "'valid from'"),
            _date(ctx.arg("valid_until"), "'valid until'"), remote or None)
        return {"notice": f"Agreement {a.id} with '{ctx.arg('partner')}' added."}
    return _act(ctx, act)


def revoke_agreement(ctx: Ctx) -> View:
    aid = ctx.param("aid")

    def act() -> dict[str, Any]:
        ctx.backend.exchange.partners.revoke_agreement(aid)
        return {"notice": f"Agreement {aid} revoked: it stops applying on the next request."}
    return _act(ctx, act)

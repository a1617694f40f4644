"""`liaison lookup`, `liaison search`, `liaison correlate` and `liaison db reindex`.

Thin over `Exchange.finder` (the one door).  On the node's own terminal the operator
sees everything (as a node administrator); `--as NAME` answers as that user or partner
would be answered over HTTP, within their grants or agreements (a partner's answers
are then recorded as releases, as over HTTP).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import click

from liaison.cli.common import home_opt, json_opt, open_node, print_json
from liaison.cli.main import cli
from liaison.cli.node_cmds import db
from liaison.errors import BadRequest
from liaison.node import Node
from liaison.search.probes import KINDS
from liaison.storage.base import Principal

BATCH = 1000
OPERATOR = Principal("cli-operator", "cli-operator", "user", "admin", 0)
"""Who the node's own terminal is: a node administrator (sees every collection)."""

as_opt = click.option("--as", "as_name", default=None, metavar="NAME",
                      help="Answer as this user or partner would be answered.")


def _principal(node: Node, name: str | None) -> Principal:
    if name is None:
        return OPERATOR
    found = node.store.principal_by_name(name)
    if found is None or found.revoked_at is not None:
        raise BadRequest(f"no active user or partner named '{name}' — see 'liaison user "
                         "list' and 'liaison partner list'")
    return found


def _values(values: tuple[str, ...], source: Path | None) -> Iterator[str]:
    yield from (v for v in values if v.strip())
    if source is None:
        return
    stream: TextIO = sys.stdin if str(source) == "-" else source.open(encoding="utf-8")
    try:
        for line in stream:
            text = line.strip()
            if text and not text.startswith("#"):
                yield text
    finally:
        if stream is not sys.stdin:
            stream.close()


def _batches(values: Iterator[str]) -> Iterator[list[str]]:
    batch: list[str] = []
    for v in values:
        batch.append(v)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _hit_line(h: dict[str, Any]) -> str:
    name = f" '{h['name']}'" if h.get("name") else ""
    where = h.get("collection_alias") or h["collection"]
    revoked = ", revoked" if h.get("revoked") else ""
    return (f"{h['type']}{name} {h['id']} [{where}, TLP:{h['tlp'].upper()}, "
            f"from {h['origin']}{revoked}; first {h['first_seen']}, last {h['last_seen']}]")


@cli.command("lookup")
@home_opt
@click.argument("values", nargs=-1)
@click.option("--file", "source", type=click.Path(dir_okay=False, allow_dash=True,
                                                  path_type=Path), default=None,
              help="Also look up the values in this file, one per line ('-': standard "
              "input; blank lines and # comments are skipped).")
@click.option("--kind", type=click.Choice(KINDS), default=None,
              help="What the values are, instead of guessing from their form.")
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True,
              help="Most objects shown per value.")
@click.option("--all-versions", is_flag=True, help="Every version, not only the latest.")
@as_opt
@json_opt
def lookup_cmd(values: tuple[str, ...], source: Path | None, kind: str | None, limit: int,
               all_versions: bool, as_name: str | None, as_json: bool) -> None:
    """Which stored objects mention each VALUE (addresses, CIDR blocks, domains, URLs,
    e-mail addresses, hashes, …; defanged values are fine).  Unknown values are "not
    seen"."""
    if not values and source is None:
        raise BadRequest("give values to look up, or --file PATH ('-' for standard input)")
    answers: list[dict[str, Any]] = []
    seen = 0
    with open_node() as node:
        who = _principal(node, as_name)
        for batch in _batches(_values(values, source)):
            found = node.exchange.finder.lookup(who, batch, kind=kind, limit=limit,
                                                all_versions=all_versions)
            seen += sum(1 for a in found if a["seen"])
            if as_json:
                answers.extend(found)
                continue
            for a in found:
                label = a["value"] if a["value"] == a["normalised"] else \
                    f"{a['value']} ({a['normalised']})"
                if not a["seen"]:
                    click.echo(f"{label} [{a['kind']}]: not seen")
                    continue
                count = f"{len(a['hits'])}{'+' if a['more'] else ''}"
                click.echo(f"{label} [{a['kind']}]: seen in {count} object(s)")
                for h in a["hits"]:
                    m = h["matched"]
                    click.echo(f"  {_hit_line(h)} — {m['kind']} {m['value']} via {m['via']}")
    if as_json:
        print_json({"values": answers, "seen": seen, "not_seen": len(answers) - seen})


@cli.command("search")
@home_opt
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True,
              help="Results per page.")
@click.option("--next", "cursor", default=None, help="The cursor printed by the previous page.")
@click.option("--facets", is_flag=True, help="Also count matches by type, collection and TLP.")
@click.option("--newest", is_flag=True, help="Newest first instead of by relevance.")
@click.option("--all-versions", is_flag=True, help="Every version, not only the latest.")
@as_opt
@json_opt
def search_cmd(query: tuple[str, ...], limit: int, cursor: str | None, facets: bool,
               newest: bool, all_versions: bool, as_name: str | None, as_json: bool) -> None:
    """Full-text search: words, "phrases", prefix*, a OR b, -excluded, and filters
    type: tlp: from: collection: after: before: (see docs/search.md)."""
    text = " ".join(query)
    with open_node() as node:
        page = node.exchange.finder.search(_principal(node, as_name), text, limit=limit,
                                           next=cursor, facets=facets, newest=newest,
                                           all_versions=all_versions)
    if as_json:
        print_json(page)
        return
    total = f"{page['total']}{'+' if page['total_capped'] else ''}"
    click.echo(f"{total} match(es) for {text!r}")
    for n, r in enumerate(page["results"], 1):
        click.echo(f"{n:3d}. {_hit_line(r)}")
    for name, counts in page.get("facets", {}).items():
        click.echo(f"{name}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if page["more"]:
        click.echo(f"more: --next {page['next']}")


@cli.command("correlate")
@home_opt
@click.argument("object_id")
@click.option("--collection", default=None, help="Only this collection (id or alias).")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True,
              help="Most objects per list.")
@as_opt
@json_opt
def correlate_cmd(object_id: str, collection: str | None, limit: int, as_name: str | None,
                  as_json: bool) -> None:
    """Objects sharing an observable value with OBJECT_ID, and its relationships."""
    with open_node() as node:
        answer = node.exchange.finder.correlate(_principal(node, as_name), object_id,
                                                collection=collection, limit=limit)
    if as_json:
        print_json(answer)
        return
    click.echo(_hit_line(answer["object"]))
    for o in answer["observables"]:
        more = "+" if o["more"] else ""
        click.echo(f"  {o['kind']} {o['value']} (via {o['via']}): shared with "
                   f"{o['shared_with']}{more}")
    click.echo(f"shared observables: {len(answer['shared'])}"
               f"{'+' if answer['shared_more'] else ''}")
    for s in answer["shared"]:
        values = ", ".join(f"{m['kind']} {m['value']}" for m in s["shared"])
        click.echo(f"  {_hit_line(s)} — {values}")
    click.echo(f"relationships: {len(answer['relationships'])}"
               f"{'+' if answer['relationships_more'] else ''}")
    for r in answer["relationships"]:
        other = r.get("other") or {}
        arrow = "->" if r["direction"] == "outgoing" else "<-"
        click.echo(f"  {arrow} {r['relationship_type']} {other.get('name') or ''} "
                   f"{other.get('id') or r['id']}".rstrip())


@db.command("reindex")
@home_opt
@json_opt
def db_reindex(as_json: bool) -> None:
    """Rebuild the search index of every stored version (after upgrading to schema 5)."""
    with open_node() as node:
        done = node.exchange.finder.reindex()
    if as_json:
        print_json({"reindexed": done})
    else:
        click.echo(f"Reindexed {done} object versions.")

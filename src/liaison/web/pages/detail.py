"""One object, for people.

    GET /ui/collections/{c}/objects/{id}/   the object in one collection
    GET /ui/objects/{id}/                   find it: the one collection holding it, or a list

The page shows the properties rendered (the raw JSON one click away), every version
with what changed, the relationship graph (click a node to go to that object),
objects related by shared observables (`Exchange.finder.correlate`), provenance
(which partner, when, through which agreement), and for admins who received it and,
per partner, why the policy did or did not release it (`Exchange.explain`).
"""

from __future__ import annotations

from typing import Any

from liaison.errors import NotFound
from liaison.storage.base import Principal
from liaison.web import graph, stixview
from liaison.web.app import Ctx, Redirect, View
from liaison.web.backend import Backend, cname, row
from liaison.web.render import object_url


def _edges(center: dict[str, Any], relations: list[dict[str, Any]]) -> list[graph.Edge]:
    """Links from the object: its own `*_ref(s)`, and the relationships and sightings
    around it (from the correlation)."""
    edges = [graph.Edge(other, key.removesuffix("_refs").removesuffix("_ref").replace("_", " "),
                        True) for key, other in stixview.refs_of(center)]
    for r in relations:
        other = (r.get("other") or {}).get("id")
        if r["type"] == "sighting":
            edges.append(graph.Edge(r["id"], "sighted", False))
        elif other:
            edges.append(graph.Edge(other, str(r.get("relationship_type") or "related-to"),
                                    r.get("direction") == "outgoing", r["id"]))
    return edges


def _neighbours(b: Backend, who: Principal, name: str, edges: list[graph.Edge],
                relations: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What the graph knows of each neighbour: read from this collection, else named by
    the correlation (held elsewhere), else nothing (not visible: drawn faint)."""
    known = {i: stixview.summary(o, name) for i, o in
             b.by_ids(who, name, {e.other for e in edges}).items()}
    b.decorate(who, list(known.values()))
    for r in relations:
        other = r.get("other") or {}
        if other.get("id") and other["id"] not in known and other.get("name"):
            known[other["id"]] = {"id": other["id"], "type": other["type"],
                                  "title": other["name"], "collection": None}
    return known


def _related(b: Backend, who: Principal, shared: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Objects sharing an observable value with this one, grouped by the value."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for item in shared:
        r = row(item)
        for match in item.get("shared", []):
            groups.setdefault((match["kind"], match["value"]), []).append(r)
    b.decorate(who, [r for rows in groups.values() for r in rows])
    return [{"kind": k, "value": v, "objects": rows} for (k, v), rows in groups.items()]


def _admin_part(b: Backend, name: str, oid: str) -> dict[str, Any]:
    """Who received the object and, per partner, the release decision in words."""
    explanations = []
    for p in b.exchange.partners.list():
        for e in b.exchange.explain(oid, p.name, name):
            explanations.append({"partner": p.name, **e.as_dict()})
    return {"received": b.audit.who_received(oid), "explanations": explanations}


def detail(ctx: Ctx) -> View:
    """Everything about one object in one collection."""
    b, who = ctx.backend, ctx.who
    view = b.collection(who, ctx.param("collection"))
    name, oid = cname(view), ctx.param("oid")
    versions = b.versions(who, name, oid)
    if not versions:
        raise NotFound(f"object '{oid}' not found in this collection")
    latest = max(versions, key=stixview.version_of)
    try:
        around = b.correlate(who, oid)
    except NotFound:  # not in the index (yet): no relations or correlations to show
        around = {"relationships": [], "shared": []}
    relations = around["relationships"]
    edges = _edges(latest, relations)
    known = _neighbours(b, who, name, edges, relations)
    summary = b.decorate(who, [stixview.summary(latest, name)])[0]
    if "object" in around and summary["tlp"] is None:  # unmarked: the collection default
        summary.update(tlp=around["object"]["tlp"], tlp_default=True)
    drawn = graph.layout(summary, edges, known,
                         lambda i: object_url(i, known[i]["collection"]) if i in known
                         else object_url(i))
    links = [{"label": e.label, "outgoing": e.outgoing, "other": e.other, "via": e.via,
              "other_title": known[e.other]["title"] if e.other in known else e.other,
              "other_type": e.other.partition("--")[0],
              "collection": known[e.other]["collection"] if e.other in known else None}
             for e in edges]
    model: dict[str, Any] = {
        "collection": {"name": name, "id": view.collection.id, "title": view.collection.title},
        "object": summary, "description": latest.get("description"),
        "properties": stixview.properties(latest),
        "markings": list(b.markings(summary["markings"]).values()),
        "raw": latest, "versions": stixview.versions(versions), "graph": drawn,
        "relationships": links, "related": _related(b, who, around["shared"]),
        "provenance": b.provenance(who, name, oid)}
    if who.is_admin:
        model.update(_admin_part(b, name, oid))
    return View("detail.html", model, summary["title"])


def find(ctx: Ctx) -> View | Redirect:
    """An object by id alone: straight to it when one collection holds it."""
    b, who = ctx.backend, ctx.who
    oid = ctx.param("oid")
    holders = b.holders(who, oid)
    if not holders:
        raise NotFound(f"no collection you can read holds '{oid}'")
    if len(holders) == 1 and not ctx.wants_json:
        return Redirect(object_url(oid, holders[0]))
    return View("find.html", {"id": oid, "collections": holders}, oid)

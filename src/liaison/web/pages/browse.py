"""Collections and the object browser.

    GET /ui/collections/                          the collections this user may use
    GET /ui/collections/{c}/?q=&type=&tlp=&next=  the objects of one collection

The browser is the search of the search issue (`Exchange.finder.search`, the query
language of `liaison.search.query`: words, "phrases", OR, -exclusions, `type:`,
`tlp:`, `from:`, `after:`…) narrowed to the collection: newest first when there are
no words, ranked when there are, paged with signed cursors, with counts by type and
TLP.  Every row carries its TLP (an unmarked object's being its collection's
default), its other markings and its origin.
"""

from __future__ import annotations

from typing import Any

from liaison.errors import BadRequest
from liaison.web import stixview
from liaison.web.app import Ctx, View
from liaison.web.backend import STANDARD_MARKINGS, cname, row

PAGE = 50
COMMON_TYPES = ("indicator", "malware", "threat-actor", "intrusion-set", "campaign",
                "attack-pattern", "tool", "vulnerability", "infrastructure", "report",
                "relationship", "sighting", "observed-data", "identity", "location",
                "ipv4-addr", "ipv6-addr", "domain-name", "url", "file", "email-addr", "note",
                "marking-definition")


def collections(ctx: Ctx) -> View:
    """The collections this user can see, with rights (and counts, for admins)."""
    b, who = ctx.backend, ctx.who
    counts = ({c.id: n for c, n in b.exchange.admin.collections()} if who.is_admin else {})
    items = [{"name": cname(v), "id": v.collection.id, "title": v.collection.title,
              "alias": v.collection.alias, "description": v.collection.description,
              "can_read": v.can_read, "can_write": v.can_write,
              "objects": counts.get(v.collection.id)} for v in b.collections(who)]
    return View("collections.html", {"collections": items}, "Collections")


def query_of(name: str, q: str, types: tuple[str, ...], tlp: str) -> str:
    """The search query the form stands for: its words, narrowed to the collection."""
    parts = [q, f"collection:{name}"]
    if types:
        parts.append("type:" + ",".join(types))
    if tlp:
        parts.append(f"tlp:{tlp}")
    return " ".join(p for p in parts if p)


def browse(ctx: Ctx) -> View:
    """One collection's objects: search box, type and TLP filters, pages of 50."""
    b, who = ctx.backend, ctx.who
    view = b.collection(who, ctx.param("collection"))
    name = cname(view)
    q, tlp = ctx.arg("q"), ctx.arg("tlp").lower()
    types = tuple(dict.fromkeys(t.lower() for t in ctx.args("type")))
    items: list[dict[str, Any]] = []
    found: dict[str, Any] = {"total": 0, "total_capped": False, "facets": {}}
    limited: list[str] = []
    error = None
    if view.can_read:
        try:
            found = b.search(who, query_of(name, q, types, tlp), limit=PAGE,
                             cursor=ctx.arg("next") or None, facets=True, newest=not q)
        except BadRequest as exc:  # the query, said back in words beside the search box
            error, found["results"] = exc.message, []
        show_standard = "marking-definition" in types or "marking-definition" in q
        items = b.decorate(who, [row(x) for x in found["results"]
                                 if show_standard or x["id"] not in STANDARD_MARKINGS])
    else:
        limited.append("you may add objects to this collection but not read it")
    facets = found.get("facets", {})
    model = {"collection": {"name": name, "id": view.collection.id,
                            "title": view.collection.title, "can_write": view.can_write},
             "query": {"q": q, "type": list(types), "tlp": tlp}, "items": items,
             "total": found["total"], "total_capped": found["total_capped"],
             "next": found.get("next"), "by_type": facets.get("type", {}),
             "by_tlp": facets.get("tlp", {}), "types": list(COMMON_TYPES),
             "tlps": list(stixview.TLP_ORDER), "limited": limited, "error": error}
    return View("browse.html", model, view.collection.title)

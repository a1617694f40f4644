"""The dashboard: what the node holds, what arrived last, how sync is doing.

Model (`GET /ui/?format=json`):
    collections  per readable collection: objects, by_type, by_tlp (an unmarked object
                 counts at its collection's default TLP), complete (counts are exact)
    recent       the latest additions across them (rows as in the object browser)
    partners     per partner: health, last success, lag, last error (sync state)
    audit        the latest audit entries (admins only; absent otherwise)

Counts and recent additions come from the search index (`Exchange.finder`), which
counts up to its cap; the standard TLP marking definitions are left out.
"""

from __future__ import annotations

from typing import Any

from liaison.storage.base import Principal
from liaison.web import stixview
from liaison.web.app import Ctx, View
from liaison.web.backend import STANDARD_MARKINGS, Backend, cname, row
from liaison.web.pages.audit import entry_row

RECENT = 12
AUDIT_ROWS = 10


def _partners(names: list[str], rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Sync state rows folded per partner (every partner, even without agreements):
    the worst news first."""
    out: dict[str, dict[str, Any]] = {}
    for name in [*names, *(r["partner"] for r in rows)]:
        out.setdefault(name, {"partner": name, "jobs": 0, "last_success": None,
                              "lag_seconds": None, "last_error": None,
                              "last_error_at": None, "notes": []})
    for r in rows:
        p = out[r["partner"]]
        p["jobs"] += 1
        if r["last_success"] and (p["last_success"] is None or r["last_success"] > p["last_success"]):
            p["last_success"] = r["last_success"]
        if r["lag_seconds"] is not None:
            p["lag_seconds"] = max(p["lag_seconds"] or 0, r["lag_seconds"])
        if r["last_error"] and (p["last_error_at"] is None or
                                (r["last_error_at"] or "") > p["last_error_at"]):
            p["last_error"], p["last_error_at"] = r["last_error"], r["last_error_at"]
        if r["note"] and r["note"] not in p["notes"]:
            p["notes"].append(r["note"])
    for p in out.values():
        failing = p["last_error"] and (p["last_success"] is None
                                       or (p["last_error_at"] or "") > p["last_success"])
        p["health"] = ("error" if failing else "ok" if p["last_success"] else
                       "never synced" if p["jobs"] else "no agreement")
    return sorted(out.values(), key=lambda p: (p["health"] != "error", p["partner"]))


def _counts(b: Backend, who: Principal, name: str) -> dict[str, Any]:
    """Objects of one collection by type and TLP, from the index's facets."""
    found = b.search(who, f"collection:{name}", limit=1, facets=True)
    std = [x for x in b.search(who, f"collection:{name} type:marking-definition",
                               limit=len(STANDARD_MARKINGS))["results"]
           if x["id"] in STANDARD_MARKINGS]
    facets = found.get("facets", {})
    by_type = dict(facets.get("type", {}))
    by_tlp = dict(facets.get("tlp", {}))
    for x in std:
        by_type["marking-definition"] = by_type.get("marking-definition", 0) - 1
        by_tlp[x["tlp"]] = by_tlp.get(x["tlp"], 0) - 1
    order = (*stixview.TLP_ORDER, "unknown")
    return {"objects": found["total"] - len(std), "complete": not found["total_capped"],
            "by_type": {k: v for k, v in sorted(by_type.items(), key=lambda kv: -kv[1]) if v},
            "by_tlp": {k: by_tlp[k] for k in order if by_tlp.get(k)}}


def dashboard(ctx: Ctx) -> View:
    """The node at a glance."""
    b, who = ctx.backend, ctx.who
    views = b.readable(who)
    collections = [{"name": cname(v), "id": v.collection.id, "title": v.collection.title,
                    "can_write": v.can_write, **_counts(b, who, cname(v))} for v in views]
    recent: list[dict[str, Any]] = []
    if views:
        everywhere = "collection:" + ",".join(cname(v) for v in views)
        limit = min(200, RECENT + len(STANDARD_MARKINGS) * len(views))
        found = b.search(who, everywhere, limit=limit)["results"]
        recent = b.decorate(who, [row(x) for x in found
                                  if x["id"] not in STANDARD_MARKINGS][:RECENT])
    model: dict[str, Any] = {
        "collections": collections, "recent": recent,
        "partners": _partners([p.name for p in b.exchange.partners.list()], b.sync_rows())}
    if who.is_admin:
        head = b.audit_head()
        entries = b.audit.log(after_seq=max(0, head - AUDIT_ROWS), limit=AUDIT_ROWS)
        model["audit"] = [entry_row(e) for e in reversed(entries)]
    return View("dashboard.html", model, "Dashboard")

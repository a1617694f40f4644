"""The relationship graph of one object, laid out on the server as inline SVG data.

The object sits in the middle; its neighbours (objects joined to it by a relationship
or sighting, or named in one of its `*_ref(s)` properties) sit on one or two rings
around it.  Each node is a link to that object's page, so the graph is clickable
without JavaScript; the page's script only adds hover highlighting.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

WIDTH, HEIGHT = 760, 520
MAX_NEIGHBOURS = 40
_RING = 190
_INNER = 130

TYPE_GROUPS = {
    "threat": {"threat-actor", "intrusion-set", "campaign", "malware", "tool",
               "attack-pattern", "infrastructure"},
    "indicator": {"indicator", "observed-data", "sighting"},
    "observable": {"ipv4-addr", "ipv6-addr", "domain-name", "url", "file", "email-addr",
                   "network-traffic", "mac-addr", "autonomous-system", "x509-certificate"},
    "context": {"identity", "location", "vulnerability", "course-of-action", "report",
                "grouping", "note", "opinion"},
}


def group_of(stix_type: str) -> str:
    return next((g for g, types in TYPE_GROUPS.items() if stix_type in types), "other")


@dataclass(frozen=True, slots=True)
class Edge:
    """One link from the centre to a neighbour; `outgoing` when the centre is the source."""

    other: str
    label: str
    outgoing: bool
    via: str | None = None
    """The relationship or sighting object that makes the link (None: an embedded ref)."""


def _size(n: int) -> tuple[int, int, float]:
    """Canvas height and ring radius for `n` neighbours (small graphs stay small)."""
    if n <= 2:
        return 220, 115.0, 1.8
    if n <= 4:
        return 340, 115.0, 1.8
    if n <= 8:
        return 420, 150.0, 1.7
    return HEIGHT, float(_RING), 1.55


def _trim(x1: float, y1: float, x2: float, y2: float, r1: float, r2: float,
          ) -> tuple[float, float, float, float]:
    """The segment between two circles' edges (so arrowheads stay visible)."""
    dx, dy = x2 - x1, y2 - y1
    d = math.hypot(dx, dy) or 1.0
    ux, uy = dx / d, dy / d
    return (round(x1 + ux * r1, 1), round(y1 + uy * r1, 1),
            round(x2 - ux * r2, 1), round(y2 - uy * r2, 1))


def layout(center: dict[str, Any], edges: list[Edge], known: dict[str, dict[str, Any]],
           href: Any) -> dict[str, Any]:
    """Nodes and edges with coordinates.  `known` maps ids to summaries (title, type)
    of neighbours found; `href(id)` gives a node's link."""
    others: list[str] = []
    for e in edges:
        if e.other not in others and e.other != center["id"]:
            others.append(e.other)
    shown = others[:MAX_NEIGHBOURS]
    height, ring, stretch = _size(len(shown))
    cx, cy = WIDTH / 2, height / 2
    nodes = [{"id": center["id"], "type": center["type"], "title": center["title"],
              "group": group_of(center["type"]), "x": cx, "y": cy, "center": True, "r": 26,
              "href": href(center["id"]), "known": True}]
    rings = [shown] if len(shown) <= 14 else [shown[:12], shown[12:]]
    for r, members in enumerate(rings):
        radius = _INNER if len(rings) == 2 and r == 0 else ring
        for n, other in enumerate(members):
            start = -math.pi / 2 if len(shown) >= 3 else 0.0  # one or two: side by side
            angle = 2 * math.pi * n / max(1, len(members)) + start + r * 0.35
            info = known.get(other)
            kind = info["type"] if info else other.partition("--")[0]
            nodes.append({"id": other, "type": kind,
                          "title": (info or {}).get("title") or other.partition("--")[0],
                          "group": group_of(kind), "center": False, "known": info is not None,
                          "x": round(cx + radius * math.cos(angle) * stretch, 1),
                          "y": round(cy + radius * math.sin(angle), 1), "r": 18,
                          "href": href(other)})
    where = {n["id"]: n for n in nodes}
    lines = []
    for e in edges:
        if e.other not in where or e.other == center["id"]:
            continue
        o, c = where[e.other], nodes[0]
        src, dst = (c, o) if e.outgoing else (o, c)
        x1, y1, x2, y2 = _trim(src["x"], src["y"], dst["x"], dst["y"], src["r"] + 2,
                               dst["r"] + 6)
        lines.append({"source": src["id"], "target": dst["id"], "label": e.label,
                      "via": e.via, "x1": x1, "y1": y1, "x2": x2, "y2": y2,
                      "lx": round((cx + o["x"]) / 2, 1), "ly": round((cy + o["y"]) / 2 - 4, 1)})
    return {"width": WIDTH, "height": height, "nodes": nodes, "edges": lines,
            "hidden": max(0, len(others) - len(shown))}

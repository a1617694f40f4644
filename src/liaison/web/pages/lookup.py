"""Lookup: paste many values, see at once which are known, where from, how marked.

    GET  /ui/lookup/?values=…        (also the JSON twin: ?format=json)
    POST /ui/lookup/                 the form (values in a textarea)

Values may be defanged (`hxxp://`, `[.]`, `[@]`): the finder (`Exchange.finder.
lookup`, `liaison.search.probes`) re-fangs, classifies and normalises each one and
answers from the observable index, within what the user may read.
"""

from __future__ import annotations

import re
from typing import Any

from liaison.web.app import Ctx, View
from liaison.web.backend import row

MAX_VALUES = 1000


def split_values(text: str) -> list[str]:
    """The distinct values in pasted text (one per line, or separated by spaces,
    commas or semicolons), in order, at most MAX_VALUES."""
    seen: dict[str, None] = {}
    for raw in re.split(r"[\s,;]+", text):
        v = raw.strip().strip("\"'<>")
        if v:
            seen.setdefault(v, None)
        if len(seen) >= MAX_VALUES:
            break
    return list(seen)


def lookup(ctx: Ctx) -> View:
    """Which of the pasted values this node knows."""
    b, who = ctx.backend, ctx.who
    text = "\n".join(ctx.args("values"))
    values = split_values(text)
    items: list[dict[str, Any]] = []
    for answer in b.lookup(who, values) if values else []:
        matches = b.decorate(who, [row(h) for h in answer["hits"]])
        for m, h in zip(matches, answer["hits"]):
            m["matched"] = h.get("matched")
        items.append({"input": answer["value"], "kind": answer["kind"],
                      "value": answer["normalised"],
                      "defanged": answer["normalised"] != answer["value"],
                      "known": answer["seen"], "matches": matches, "more": answer["more"],
                      "tlps": sorted({m["tlp"] or "unknown" for m in matches}),
                      "origins": sorted({m["origin"] or "this node" for m in matches}),
                      "first_seen": answer.get("first_seen"),
                      "last_seen": answer.get("last_seen")})
    known = sum(1 for i in items if i["known"])
    limited = [f"only the first {MAX_VALUES} values were looked up"] \
        if len(values) >= MAX_VALUES else []
    model = {"pasted": text, "items": items, "known": known, "unknown": len(items) - known,
             "limited": limited}
    return View("lookup.html", model, "Lookup")

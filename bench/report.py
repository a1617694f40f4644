"""Tables, ratios and target checks from one or more result files.

    .venv/bin/python -m bench.report bench/results/a.json [bench/results/b.json …]

Later files override earlier ones for the same (N, peer), so a 1M-object run of one
peer can be combined with a 10k/100k run of all peers.  Prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path

PEERS = ("medallion", "liaison-sqlite", "liaison-sqlite-noaudit", "liaison-sqlite-noindex",
         "liaison-postgres")
LIAISON = "liaison-sqlite"
NOAUDIT, NOINDEX = "liaison-sqlite-noaudit", "liaison-sqlite-noindex"
UNAUDITED = {"full_read": "a read by the node's own admin writes no audit entry: the same "
                          "code on both sides, so the difference is measurement noise"}
"""Operations the audit does not touch (only what is released to a partner is recorded)."""
MEDALLION_NA = {"partner_read": "n/a — medallion has no partner agreements",
                "lookup_single": "n/a — medallion has no lookup/search",
                "lookup_batch": "n/a — medallion has no lookup/search",
                "search": "n/a — medallion has no lookup/search"}

# (op, label, kind): "rate" = items/s from res[op]["objects_per_s"] (higher is better);
# "p50"/"p95"/"p99" = latency in ms (lower is better); "vrate" = values/s of batch
# lookups; "received" = objects a partner received (and their share of the ids).
# {batch} in a label: the number of values per batch lookup.
ROWS = (
    ("ingest", "ingest, objects/s (POST envelopes of 1,000)", "rate"),
    ("full_read", "full paginated read, objects/s (limit 1,000)", "rate"),
    ("full_read", "full paginated read, objects/s without the client's JSON parsing", "srate"),
    ("manifest", "manifest walk, records/s (limit 1,000)", "rate"),
    ("export", "export: all versions, objects/s (limit 5,000)", "rate"),
    ("filter_type", "match[type] page of 100, p50 ms", "p50"),
    ("filter_added_after", "added_after page of 100, p50 ms", "p50"),
    ("filter_ids", "match[id] × 100 ids, p50 ms", "p50"),
    ("single_get", "single GET, p50 ms", "p50"),
    ("single_get", "single GET, p95 ms", "p95"),
    ("single_get", "single GET, p99 ms", "p99"),
    ("partner_read", "partner's full read, objects/s (limit 1,000)", "rate"),
    ("partner_read", "partner's full read: objects received (share of ids)", "received"),
    ("lookup_single", "lookup of one value, p50 ms", "p50"),
    ("lookup_single", "lookup of one value, p95 ms", "p95"),
    ("lookup_single", "lookup of one value, p99 ms", "p99"),
    ("lookup_single", "lookup of an often-seen value (a URL host), p50 ms", "often_p50"),
    ("lookup_batch", "lookup of {batch} values, p50 ms per batch", "p50"),
    ("lookup_batch", "lookup of {batch} values, p95 ms per batch", "p95"),
    ("lookup_batch", "lookup of {batch} values, values/s", "vrate"),
    ("search", "full-text search, p50 ms", "p50"),
    ("search", "full-text search, p95 ms", "p95"),
    ("search", "full-text search, p99 ms", "p99"),
)
HIGHER_IS_BETTER = ("rate", "srate", "vrate", "received")


def load(paths: list[Path]) -> dict:
    merged: dict = {"runs": {}, "machine": None, "commands": [], "profiles": {}}
    for path in paths:
        doc = json.loads(path.read_text())
        merged["machine"] = merged["machine"] or doc.get("machine")
        merged["commands"].append(doc.get("command"))
        merged["profiles"].update(doc.get("profiles", {}))
        for n, run in doc.get("runs", {}).items():
            slot = merged["runs"].setdefault(n, {"peers": {}})
            for key in ("dataset", "limit"):
                if key in run:
                    slot[key] = run[key]
            slot["peers"].update(run.get("peers", {}))
            slot.setdefault("paired", {}).update(run.get("paired", {}))
    return merged


def value(res: dict | None, op: str, kind: str) -> float | None:
    """The figure, or None when missing or the operation did not finish."""
    if not res or op not in res:
        return None
    r = res[op]
    if r.get("invalid") or r.get("not_applicable"):
        return None
    if kind in ("rate", "srate", "vrate", "received"):
        if r.get("finished") is False:
            return None
        if kind == "srate":  # the server's side of a walk: wall time less the client's parsing
            parse, secs, count = r.get("client_parse_s"), r.get("seconds"), r.get("objects")
            if parse is None or not secs or count is None:
                return r.get("objects_per_s")  # the limit: nothing is parsed there
            return count / (secs - parse) if secs > parse else None
        return r.get({"rate": "objects_per_s", "vrate": "values_per_s", "received": "objects"}[kind])
    if r.get("finished") is False and not r.get("count"):
        return None
    return r.get(f"{kind}_ms")


def cell(res: dict | None, op: str, kind: str, peer: str = "") -> str:
    if peer == "medallion" and op in MEDALLION_NA:
        return MEDALLION_NA[op]
    if res is None:
        return "—"
    if res.get("skipped"):
        return "not run"
    r = res.get(op) or {}
    if r.get("not_applicable"):
        return "n/a — index off" if "search index" in r["not_applicable"] else "n/a"
    if r.get("invalid"):
        return f"INVALID ({r.get('problem_count', 1)} wrong answers: see JSON)" if r.get(
            "problem_count") else "INVALID: " + r["invalid"][:80]
    if kind == "received" and "objects" in r:
        share = r.get("received_share_of_distinct_ids")
        return f"{r['objects']:,}" + (f" ({share:.0%})" if share is not None else "")
    if kind == "vrate" and r.get("values_per_s"):
        return f"{r['values_per_s']:,.0f}"
    if op not in res:
        if res.get("ingest", {}).get("finished") is False and op != "ingest":
            return "—"
        return "—"
    r = res[op]
    if r.get("not_attempted"):
        return "DNF (not tried: did not finish at a smaller N)"
    v = r.get("objects_per_s") if kind in HIGHER_IS_BETTER else r.get(f"{kind}_ms")
    if kind == "srate":
        v = value(res, op, kind) if r.get("finished") is not False else None
    if v is None:
        return f"DNF (> {r.get('budget_s', '?')} s)" if r.get("budget_s") else "DNF"
    text = f"{v:,.0f}" if kind in ("rate", "srate") else f"{v:,.2f}"
    if r.get("finished") is False:
        if kind == "rate":
            return f"DNF ({r.get('objects', 0):,} in {r.get('seconds', 0):.0f} s: {text}/s)"
        return f"{text} ({r.get('count', 0)}/{r.get('requested', '?')} req)"
    return text


def ratio(a: float | None, b: float | None, kind: str) -> float | None:
    """How many times better `a` is than `b` (rates: a/b; latencies: b/a)."""
    if a is None or b is None or a == 0 or b == 0:
        return None
    return a / b if kind in HIGHER_IS_BETTER else b / a


def fmt_ratio(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:.2f}×" if x < 10 else f"{x:,.0f}×"


def table(n: str, run: dict) -> list[str]:
    peers = [p for p in PEERS if p in run["peers"]]
    limit = run.get("limit")
    head = ["operation", "limit (no HTTP)"] + peers + [f"{LIAISON} / limit", f"{LIAISON} / medallion"]
    lines = [f"### N = {int(n):,}", "", "| " + " | ".join(head) + " |",
             "|" + "---|" * len(head)]
    batch = next((r["lookup_batch"]["values_per_batch"] for r in run["peers"].values()
                  if isinstance(r.get("lookup_batch"), dict)
                  and r["lookup_batch"].get("values_per_batch")), 1000)
    for op, label, kind in ROWS:
        if op in MEDALLION_NA and not any(op in r for p, r in run["peers"].items()
                                          if p != "medallion"):
            continue  # no Liaison peer measured it (an older result file)
        label = label.format(batch=f"{batch:,}")
        lim = value(limit, op, kind) if limit else None
        lim_text = "—" if lim is None else (f"{lim:,.0f}" if kind in ("rate", "srate")
                                            else f"{lim:,.3f}")
        cells = [cell(run["peers"].get(p), op, kind, p) for p in peers]
        li = value(run["peers"].get(LIAISON), op, kind)
        me = value(run["peers"].get("medallion"), op, kind)
        lines.append("| " + " | ".join([label, lim_text, *cells,
                                         fmt_ratio(ratio(li, lim, kind)),
                                         fmt_ratio(ratio(li, me, kind))]) + " |")
    rss = []
    for p in peers:
        r = run["peers"][p]
        rss.append("not run" if r.get("skipped") else f"{r.get('peak_rss_mib') or float('nan'):,.0f}")
    lines.append("| " + " | ".join(["peak server RSS, MiB", "—", *rss, "—", "—"]) + " |")
    lines.append("")
    return lines


def _p50(r: dict, op: str, key: str = "p50_ms") -> str:
    x = r.get(op, {}).get(key)
    if isinstance(x, dict):
        x = x.get("p50_ms")
    return "—" if x is None or r.get(op, {}).get("invalid") else f"{x:,.2f}"


def growth(merged: dict, peer: str) -> list[str]:
    sizes = sorted((int(n) for n, run in merged["runs"].items()
                    if peer in run["peers"] and not run["peers"][peer].get("skipped")))
    if not sizes:
        return []
    searched = any(op in merged["runs"][str(n)]["peers"][peer] for n in sizes
                   for op in ("lookup_single", "search"))
    extra = " lookup p50 ms | lookup batch p50 ms | search p50 ms |" if searched else ""
    lines = [f"#### {peer}", "",
             ("| N | ingest µs/object (wall) | server CPU µs/object | server writes KiB/object "
              "| full-read page p50 ms "
              "| match[type] page p50 ms | added_after page p50 ms | single GET p50 / p99 ms "
              "| peak RSS MiB |" + extra),
             "|---|---|---|---|---|---|---|---|---|" + ("---|" * 3 if searched else "")]
    for n in sizes:
        r = merged["runs"][str(n)]["peers"][peer]
        ing = r.get("ingest", {})
        ing_text = "—" if ing.get("us_per_object") is None else f"{ing['us_per_object']:,.0f}"
        if ing.get("finished") is False:
            ing_text += " (DNF)"
        cpu = ing.get("server_cpu_us_per_object")
        kib = ing.get("server_written_kib_per_object")
        line = (f"| {n:,} | {ing_text} | {'—' if cpu is None else f'{cpu:,.0f}'} | "
                f"{'—' if kib is None else f'{kib:,.1f}'} | "
                f"{_p50(r, 'full_read', 'page')} | {_p50(r, 'filter_type')} | "
                f"{_p50(r, 'filter_added_after')} | {_p50(r, 'single_get')} / "
                f"{_p50(r, 'single_get', 'p99_ms')} | {r.get('peak_rss_mib') or float('nan'):,.0f} |")
        if searched:
            line += (f" {_p50(r, 'lookup_single')} | {_p50(r, 'lookup_batch')} | "
                     f"{_p50(r, 'search')} |")
        lines.append(line)
    lines.append("")
    return lines


def targets(merged: dict) -> list[dict]:
    """Each target of the issue with its measured ratio and PASS / MISS."""
    out: list[dict] = []
    runs = merged["runs"]

    def res(n: int | str, peer: str) -> dict | None:
        run = runs.get(str(n))
        return None if run is None else run["peers"].get(peer)

    for n in sorted(runs, key=int):
        run = runs[n]
        lim = run.get("limit")
        li = res(n, LIAISON)
        if lim and li and not li.get("skipped"):
            r = ratio(value(li, "ingest", "rate"), value(lim, "ingest", "rate"), "rate")
            out.append({"target": f"ingest ≥ 50% of raw limit (N={int(n):,})", "measured": r,
                        "goal": 0.5, "pass": r is not None and r >= 0.5})
            # The limit reads and splices; the client's own JSON parsing of each page is
            # neither (it is timed apart, see workload._walk): the target compares the
            # walk without it, and the wall-clock ratio is shown beside it.
            r = ratio(value(li, "full_read", "srate"), value(lim, "full_read", "srate"), "rate")
            wall = ratio(value(li, "full_read", "rate"), value(lim, "full_read", "rate"), "rate")
            out.append({"target": f"full read ≥ 40% of raw read-and-splice limit (N={int(n):,}; "
                                  f"client's JSON parsing excluded"
                                  + (f", with it {wall:.2f}×)" if wall is not None else ")"),
                        "measured": r, "goal": 0.4, "pass": r is not None and r >= 0.4})
        me = res(n, "medallion")
        if li and me and not me.get("skipped") and not li.get("skipped"):
            for op, label, kind in ROWS:
                if kind in ("p95", "p99", "srate") or op in MEDALLION_NA:  # shown once / none
                    continue
                m_val, l_val = value(me, op, kind), value(li, op, kind)
                r = ratio(l_val, m_val, kind)
                entry = {"target": f"vs medallion ≥ 10× on {op} (N={int(n):,})", "measured": r,
                         "goal": 10.0, "pass": r is not None and r >= 10}
                if m_val is None:  # medallion did not finish: outside the target's scope
                    mr = me.get(op, {})
                    entry["pass"] = None
                    if mr.get("not_attempted"):
                        entry["note"] = "medallion: not attempted (did not finish at a smaller N)"
                    else:
                        budget = mr.get("budget_s")
                        entry["note"] = ("medallion did not finish" +
                                         (f" within {budget:.0f} s" if budget else ""))
                    if kind == "rate" and mr.get("objects") and mr.get("seconds") and l_val:
                        entry["measured"] = l_val / (mr["objects"] / mr["seconds"])
                        entry["lower_bound"] = True
                    elif kind != "rate" and l_val and mr.get("budget_s"):
                        entry["measured"] = mr["budget_s"] * 1000 / l_val
                        entry["lower_bound"] = True
                out.append(entry)
            if int(n) == 100_000:
                l_val = value(li, "ingest", "rate")
                mr = me.get("ingest", {})
                m_rate = mr.get("objects_per_s")
                r = l_val / m_rate if l_val and m_rate else None
                entry = {"target": "vs medallion ≥ 100× on ingest at N=100,000", "measured": r,
                         "goal": 100.0, "pass": r is not None and r >= 100}
                if mr.get("finished") is False:
                    entry["lower_bound"] = True
                    entry["note"] = (f"medallion did not finish: {mr.get('objects', 0):,} objects in "
                                     f"{mr.get('seconds', 0):.0f} s; its rate only falls as the "
                                     "store grows, so the ratio is a lower bound")
                out.append(entry)
    sizes = sorted(int(n) for n in runs)
    if sizes and max(sizes) >= 1_000_000 and str(10_000) in runs:
        lo, hi = res(10_000, LIAISON), res(max(sizes), LIAISON)
        if lo and hi and not lo.get("skipped") and not hi.get("skipped"):
            def grow(op: str, key: str, goal: float, label: str) -> None:
                a = lo.get(op, {}).get(key)
                b = hi.get(op, {}).get(key)
                if isinstance(a, dict):
                    a, b = a.get("p50_ms"), (b or {}).get("p50_ms")
                r = b / a if a and b else None
                out.append({"target": f"growth 10k → {max(sizes):,}: {label} < {goal}×",
                            "measured": r, "goal": goal, "pass": r is not None and r < goal,
                            "lower_is_better": True})
            grow("ingest", "us_per_object", 1.5, "ingest µs/object (wall)")
            grow("ingest", "server_cpu_us_per_object", 1.5, "ingest server CPU µs/object")
            grow("filter_type", "p50_ms", 1.5, "match[type] page p50")
            grow("filter_added_after", "p50_ms", 1.5, "added_after page p50")
            grow("single_get", "p50_ms", 1.5, "single GET p50")
            grow("single_get", "p99_ms", 1.5, "single GET p99")
            a, b = lo.get("peak_rss_mib"), hi.get("peak_rss_mib")
            r = b / a if a and b else None
            out.append({"target": f"growth 10k → {max(sizes):,}: peak server RSS < 2×",
                        "measured": r, "goal": 2.0, "pass": r is not None and r < 2,
                        "lower_is_better": True})
    out += lookup_growth(merged) + index_cost(merged) + audit_cost(merged)
    return out


def _measured(res: dict | None) -> bool:
    return bool(res) and not res.get("skipped")


def _not_measured(target: str, why: str) -> dict:
    return {"target": target, "measured": None, "goal": None, "pass": None,
            "verdict": "not measured", "note": why}


def lookup_growth(merged: dict) -> list[dict]:
    """Lookup cost at 1M within 1.5× of its cost at 10k (liaison-sqlite)."""
    runs = merged["runs"]
    big = max((int(n) for n in runs if int(n) >= 1_000_000
               and _measured(runs[n]["peers"].get(LIAISON))), default=None)
    lo = runs.get("10000", {}).get("peers", {}).get(LIAISON)
    out = []
    for op, label, kind in (("lookup_single", "lookup of one value, p50", "p50"),
                            ("lookup_single", "lookup of an often-seen value, p50",
                             "often_p50"),
                            ("lookup_batch", "batch lookup, p50 ms per batch", "p50")):
        target = f"lookup cost at 1M within 1.5× of its cost at 10k: {label}"
        hi = runs[str(big)]["peers"][LIAISON] if big else None
        a, b = value(lo, op, kind), value(hi, op, kind)
        if a is None or b is None:
            missing = [f"N={n:,}" for n, v in ((10_000, a), (1_000_000, b)) if v is None]
            out.append(_not_measured(target, f"{LIAISON} {op} not measured at "
                                             f"{' and '.join(missing)}"))
            continue
        out.append({"target": target + f" (10k → {big:,})", "measured": b / a, "goal": 1.5,
                    "pass": b / a <= 1.5, "lower_is_better": True, "goal_text": "≤ 1.5"})
    return out


def _switch_note(res: dict, variant: str) -> str | None:
    """Why a variant's figures do not measure its switch (None: they do)."""
    sw = res.get("switch")
    if sw is not None and not sw.get("honoured"):
        return (f"not measured: the server ignored {sw.get('env')} ({variant} ran with the "
                f"setting on, `liaison settings` showed {sw.get('shown')})")
    return None


def _cpu_note(base: dict, variant: dict, op: str, name: str) -> str:
    a = base.get(op, {}).get("server_cpu_s")
    b = variant.get(op, {}).get("server_cpu_s")
    if not a or not b or min(a, b) < 0.5:  # CPU time comes in ticks of 10 ms
        return ""
    return f"server CPU {name}: {a / b:.2f}×"


def _side_by_side(merged: dict, n: str, switch: str, op: str) -> tuple[float, str] | None:
    """(base / variant objects/s, how it was measured) from the paired run of `switch`
    at N (bench/paired.py), or None when there is none or it is invalid."""
    p = merged["runs"][n].get("paired", {}).get(switch)
    if not p or p.get("invalid") or not isinstance(p.get(op), dict) or p[op].get("invalid"):
        return None
    r = p[op]
    a = r.get(p["base"], {}).get("objects_per_s")
    b = r.get(p["variant"], {}).get("objects_per_s")
    if not a or not b:
        return None
    how = ("side by side, envelopes alternating between the two servers" if op == "ingest"
           else f"side by side, walks alternating, median of {r.get('rounds')} each")
    return a / b, how


def _separate(base: dict | None, var: dict | None, op: str) -> float | None:
    """base / variant objects/s from the two peers' own runs (None: not both measured)."""
    if not _measured(base) or not _measured(var):
        return None
    a, b = value(base, op, "rate"), value(var, op, "rate")
    return a / b if a and b else None


def _cost_rows(merged: dict, switch: str, variant: str, ops: tuple[str, ...],
               label: Callable[[str, int], str], row: Callable[[float, str], dict],
               target: str) -> list[dict]:
    """One row per (N, op): the side-by-side figure when there is one (the separate
    runs' figure in the note), else the separate runs' (with their CPU note)."""
    runs = merged["runs"]
    out = []
    for n in sorted(runs, key=int):
        peers_at = runs[n]["peers"]
        base, var = peers_at.get(LIAISON), peers_at.get(variant)
        for op in ops:
            t = label(op, int(n))
            paired = _side_by_side(merged, n, switch, op)
            separate = _separate(base, var, op)
            why = _switch_note(var, variant) if _measured(var) else None
            if paired is not None:
                x, how = paired
                note = how + ("" if separate is None else
                              "; in separate runs, minutes apart: "
                              f"{row(separate, op)['measured']:.2f}×")
                out.append({**row(x, op), "target": t, "note": note})
            elif separate is not None and not why:
                note = (_cpu_note(var, base, op, "without / with the audit") if switch == "audit"
                        else _cpu_note(base, var, op, "with / without the index"))
                out.append({**row(separate, op), "target": t,
                            "note": "; ".join(filter(None, ["separate runs", note]))})
            elif base is not None or var is not None or runs[n].get("paired", {}).get(switch):
                out.append(_not_measured(t, why or f"{op} missing, invalid or did not finish"))
    return out or [_not_measured(target, f"needs {LIAISON} and {variant} at the same N, "
                                         "or their side-by-side run")]


def index_cost(merged: dict) -> list[dict]:
    """The search index adds at most 25% to ingest time (µs/object, same N)."""
    target = "the search index adds at most 25% to ingest time"

    def row(x: float, op: str) -> dict:  # x: objects/s with / without the index
        cost = 1 / x  # µs per object with / without
        return {"measured": cost, "goal": 1.25, "pass": cost <= 1.25,
                "lower_is_better": True, "goal_text": "≤ 1.25"}

    return _cost_rows(merged, "search_index", NOINDEX, ("ingest",),
                      lambda op, n: f"{target} ({LIAISON} vs {NOINDEX}, ingest µs/object, "
                                    f"N={n:,})", row, target)


def audit_cost(merged: dict) -> list[dict]:
    """With the audit on, ingest and reads keep ≥ 85% of their speed without it."""
    target = "with the audit on, ingest and read keep ≥85% of their speed without it"

    def row(x: float, op: str) -> dict:
        r = {"measured": x, "goal": 0.85, "pass": x >= 0.85}
        if op in UNAUDITED:
            r["unaudited"] = UNAUDITED[op]
        return r

    rows = _cost_rows(merged, "audit", NOAUDIT, ("ingest", "full_read", "partner_read"),
                      lambda op, n: f"{target}: {op} ({LIAISON} / {NOAUDIT}, objects/s, "
                                    f"N={n:,})", row, target)
    for r in rows:
        unaudited = r.pop("unaudited", None)
        if unaudited:
            r["note"] = "; ".join(filter(None, [unaudited, r.get("note")]))
    return rows


def paired_table(run: dict) -> list[str]:
    """The side-by-side pairs of one N (bench/paired.py): each server's figure and the
    ratio, per setting and operation."""
    rows = []
    for switch, p in sorted(run.get("paired", {}).items()):
        base, variant = p.get("base"), p.get("variant")
        if p.get("invalid"):
            rows.append(f"| {switch} | — | — | — | — | INVALID: {p['invalid'][:200]} |")
            continue
        for op in ("ingest", "full_read", "partner_read"):
            r = p.get(op)
            if not isinstance(r, dict):
                continue
            a = r.get(base, {}).get("objects_per_s")
            b = r.get(variant, {}).get("objects_per_s")
            if not a or not b:
                continue
            how = (f"{len(r['ratios'])} paired ingests: "
                   + ", ".join(f"{x:.2f}" for x in r["ratios"]) + "; median kept"
                   if op == "ingest" and len(r.get("ratios", ())) > 1 else
                   "one paired ingest" if op == "ingest" else
                   f"median of {r.get('rounds')} walks each")
            if r.get("invalid"):
                how = f"INVALID: {r['invalid']}"
            rows.append(f"| {switch} | {op} | {a:,.0f} | {b:,.0f} | {a / b:.2f}× | {how} |")
    if not rows:
        return []
    return ["Side by side (both servers running, work alternating; bench/paired.py), "
            "objects/s:", "",
            f"| setting | operation | {LIAISON} | with it off | on / off | how |",
            "|---|---|---|---|---|---|", *rows, ""]


def render(merged: dict) -> str:
    lines: list[str] = []
    m = merged.get("machine") or {}
    if m:
        lines += ["## Machine", ""]
        lines += [f"- {k}: {v}" for k, v in m.items()]
        lines.append("")
    lines += ["## Figures", ""]
    for n in sorted(merged["runs"], key=int):
        run = merged["runs"][n]
        ds = run.get("dataset", {})
        if ds:
            lines.append(f"Dataset: {ds.get('objects', 0):,} objects ({ds.get('latest', 0):,} distinct ids), "
                         f"{ds.get('envelopes', 0)} envelopes, {ds.get('mib', 0):.1f} MiB of JSON.")
            lines.append("")
        lines += table(n, run)
        lines += paired_table(run)
        notes = [f"- {p}: {note}" for p, r in run["peers"].items() for note in r.get("notes", [])]
        for p, r in run["peers"].items():
            if r.get("audit_entries") is not None:
                counts = ", ".join(f"{k} {v:,}" for k, v in sorted(r["audit_entries"].items()))
                notes.append(f"- {p}: audit entries at the end of the run: {counts or 'none'}")
        if notes:
            lines += notes + [""]
    lines += ["## Growth with the store", ""]
    for p in PEERS:
        lines += growth(merged, p)
    lines += ["## Targets", "", "| target | measured | result |", "|---|---|---|"]
    for t in targets(merged):
        r = t["measured"]
        shown = "—" if r is None else (f"{r:.2f}×" if (t.get("lower_is_better") or r < 10) else f"{r:,.0f}×")
        if t.get("lower_bound") and r is not None:
            shown = "≥ " + shown
        goal = t["goal"]
        if t.get("goal_text"):
            shown += f" (goal {t['goal_text']})"
        elif goal is not None:
            shown += f" (goal {'<' if t.get('lower_is_better') else '≥'} {goal:g})"
        verdict = t.get("verdict") or ("n/a" if t["pass"] is None else ("PASS" if t["pass"] else "MISS"))
        note = f" — {t['note']}" if t.get("note") else ""
        lines.append(f"| {t['target']} | {shown} | {verdict}{note} |")
    lines.append("")
    for name, prof in merged.get("profiles", {}).items():
        lines += [f"## Profile: {name} ({prof.get('samples', 0):,} samples)", "",
                  "| own time: function | % | | inclusive: function | % |", "|---|---|---|---|---|"]
        own, incl = prof.get("own", []), [x for x in prof.get("inclusive", [])]
        for i in range(max(len(own), 15)):
            a = own[i] if i < len(own) else ("", "")
            b = incl[i] if i < len(incl) else ("", "")
            lines.append(f"| `{a[0]}` | {a[1]} | | `{b[0]}` | {b[1]} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("files", nargs="+", type=Path)
    args = ap.parse_args()
    print(render(load(args.files)))


if __name__ == "__main__":
    main()

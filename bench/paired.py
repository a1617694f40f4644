"""Side by side: Liaison with a setting on and with it off, measured in alternation.

The cost targets of a switch (the audit keeps >= 85 % of the speed, the search index
adds <= 25 % to ingest) compare two servers.  Measured one after the other, minutes
apart, they compare two moments of the machine as much as two servers: on the 2-core
machines of BENCHMARKS.md the same walk varies by +-25 % from one repetition to the
next and a whole run by +-15 % from one hour to the next, which is as large as the
costs being measured.  Here both servers run at once on fresh homes and every unit of
work alternates between them, the one that goes first swapping each time:

- ingest: envelope i is POSTed to one server, then to the other (the status followed
  to `complete`, as in `workload.ingest`); each server's figure is the sum of its own
  POSTs' wall times, so both stores grow in step; a short one (10k objects: about a
  second each) is made three times into fresh pairs and the median ratio kept;
- reads: a full walk as the node's admin, then as the partner, on one server then the
  other, `ROUNDS` times at least (more while they are short); each server's figure is
  the median of its walks.

Both servers must end with the same number of objects read (the same data and the
same policy), or the pair is marked invalid.  Only one server works at any moment:
the client is sequential.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

from bench import peers
from bench.gen import Dataset
from bench.stats import Deadline, proc_cpu
from bench.workload import Budget, _client, _walk, post_envelope

ROUNDS = 7
"""Each read is walked at least this many times on each server."""
MAX_ROUNDS = 25
ROUND_TIME_S = 10.0
"""Short walks are repeated (up to `MAX_ROUNDS`) until one kind has taken this long."""
INGESTS = 3
SHORT_INGEST_S = 20.0
"""A paired ingest shorter than this (both servers together) is made `INGESTS` times."""


def _ingest(pair: tuple[peers.Server, peers.Server], ds: Dataset, budget: Budget,
            ) -> dict[str, dict]:
    seconds = [0.0, 0.0]
    objects = [0, 0]
    order: list[str] = []
    dl = Deadline(2 * budget.op_cap)
    cpu0 = [proc_cpu(s.pid) for s in pair]
    with _client(pair[0]) as c0, _client(pair[1]) as c1:
        clients = (c0, c1)
        for i, env in enumerate(ds.envelopes):
            for k in ((0, 1) if i % 2 == 0 else (1, 0)):
                t = time.perf_counter()
                status, error, _ = post_envelope(clients[k], pair[k], env, dl)
                seconds[k] += time.perf_counter() - t
                if status is None or status.get("status") != "complete":
                    raise RuntimeError(f"{pair[k].name}, envelope {i}: "
                                       f"{error or 'the status did not complete in time'}")
                objects[k] += int(status.get("success_count", 0))
                if i < 2:
                    order.append(pair[k].name)
    cpu1 = [proc_cpu(s.pid) for s in pair]
    out = {}
    for k, s in enumerate(pair):
        r = {"objects": objects[k], "seconds": seconds[k],
             "objects_per_s": objects[k] / seconds[k] if seconds[k] else 0.0,
             "us_per_object": seconds[k] / objects[k] * 1e6 if objects[k] else None}
        if cpu0[k] is not None and cpu1[k] is not None:
            r["server_cpu_s"] = cpu1[k] - cpu0[k]
        out[s.name] = r
    out["first_two_envelopes"] = {"order": order}
    return out


def _reads(pair: tuple[peers.Server, peers.Server], budget: Budget, page: int,
           ) -> dict[str, dict]:
    kinds: dict[str, Callable[[peers.Server], tuple[str, str] | None]] = {
        "full_read": lambda s: None, "partner_read": lambda s: s.partner_auth}
    rates: dict[str, list[list[float]]] = {k: [[], []] for k in kinds}
    counts: dict[str, list[set[int]]] = {k: [set(), set()] for k in kinds}
    spent = dict.fromkeys(kinds, 0.0)
    rounds = 0
    while rounds < MAX_ROUNDS:
        for kind, auth in kinds.items():
            for k in ((0, 1) if rounds % 2 == 0 else (1, 0)):
                s = pair[k]
                if kind == "partner_read" and s.partner_auth is None:
                    continue
                r = _walk(s, s.objects_url, {"limit": page}, budget, "objects", auth=auth(s))
                if not r.get("finished"):
                    raise RuntimeError(f"{s.name}: {kind} did not finish: {r.get('error')}")
                rates[kind][k].append(r["objects_per_s"])
                counts[kind][k].add(r["objects"])
                spent[kind] += r["seconds"]
        rounds += 1
        if rounds >= ROUNDS and min(spent.values()) >= ROUND_TIME_S:
            break
    out: dict[str, dict] = {}
    for kind in kinds:
        if not rates[kind][0] or not rates[kind][1]:
            continue
        got = counts[kind]
        r = {"rounds": rounds, "objects": sorted(got[0] | got[1])}
        for k, s in enumerate(pair):
            r[s.name] = {"objects_per_s": statistics.median(rates[kind][k]),
                         "walks_per_s": rates[kind][k]}
        if len(got[0] | got[1]) != 1:
            r["invalid"] = (f"the two servers returned different numbers of objects "
                            f"({sorted(got[0])} against {sorted(got[1])})")
        out[kind] = r
    return out


@contextmanager
def _pair(switch: str, page: int, log: Callable[[str], None],
          ) -> Iterator[tuple[peers.Server, peers.Server]]:
    """Liaison on SQLite as is and with `switch` off, both fresh and running."""
    started: list[peers.Server] = []
    try:
        started.append(peers.start(peers.LIAISON, max_page_size=page, log=log))
        started.append(peers.start(peers.VARIANT_OF[switch], max_page_size=page, log=log))
        yield started[0], started[1]
    finally:
        for s in started:
            s.stop()


def _ratio(ingest: dict, base: str, variant: str) -> float:
    return ingest[base]["objects_per_s"] / ingest[variant]["objects_per_s"]


def run_paired(switch: str, ds: Dataset, budget: Budget, *, page: int,
               log: Callable[[str], None] = print) -> dict:
    """Start Liaison on SQLite twice (as is, and with `switch` off), ingest `ds` into
    both and walk both, in alternation; each server's figures by its peer name.

    A short paired ingest (under `SHORT_INGEST_S` for both) is made `INGESTS` times,
    each into a fresh pair, and the one with the median ratio kept (the reads are
    those of the first pair); every pair's ratio is listed under `ingest.ratios`."""
    base, variant = peers.LIAISON, peers.VARIANT_OF[switch]
    out: dict = {"base": base, "variant": variant}
    try:
        with _pair(switch, page, log) as pair:
            out["switch"] = sw = pair[1].switch
            if sw is not None and not sw.get("honoured"):
                out["invalid"] = f"the server ignored {sw.get('env')}"
                return out
            log(f"  side by side, {base} and {variant}: ingest, alternating envelopes")
            ingests = [_ingest(pair, ds, budget)]
            log(f"  side by side, {base} and {variant}: full and partner reads, "
                "alternating walks")
            out.update(_reads(pair, budget, page))
        while (len(ingests) < INGESTS
               and ingests[0][base]["seconds"] + ingests[0][variant]["seconds"] < SHORT_INGEST_S):
            with _pair(switch, page, log) as pair:
                ingests.append(_ingest(pair, ds, budget))
    except (RuntimeError, httpx.HTTPError) as exc:
        log(f"  side by side, {switch}: failed: {exc}")
        return {**out, "invalid": f"failed: {exc}"[:2000]}
    ratios = [_ratio(i, base, variant) for i in ingests]
    out["ingest"] = {**sorted(ingests, key=lambda i: _ratio(i, base, variant))[
        (len(ingests) - 1) // 2], "ratios": ratios}
    log(f"    ingest: {base} / {variant} = " + ", ".join(f"{r:.3f}" for r in ratios)
        + (" (median kept)" if len(ratios) > 1 else ""))
    for kind in ("full_read", "partner_read"):
        if kind in out:
            log(f"    {kind}: " + ", ".join(
                f"{name} {out[kind][name]['objects_per_s']:,.0f}" for name in (base, variant))
                + f" objects/s (median of {out[kind]['rounds']} walks each)")
    return out

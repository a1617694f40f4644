"""The HTTP workload, the same for every server: ingest, reads, latencies, memory.

Operations (each bounded by its own time budget; a budget that runs out is recorded
as "did not finish" with how far it got):

- ingest:        POST every envelope to objects/ (TAXII §5.5), follow each status
                 (§4.3) until `complete`; objects/s and µs per object.
- full_read:     GET objects/?limit=PAGE, following `next` to the end (§3.5).
- manifest:      GET manifest/?limit=PAGE, following `next` to the end (§5.3).
- export:        GET objects/?match[version]=all&limit=MAX, every version of every
                 object, at the largest page both servers allow.
- filter_type:   GET objects/?match[type]=T&limit=100 (T rotating over the types).
- filter_added_after: GET objects/?added_after=D&limit=100, D spread over the store.
- filter_ids:    GET objects/?match[id]=<100 ids> (one request, 100 objects back).
- single_get:    GET objects/<id>/ for random ids: p50/p95/p99.
Liaison only (bench/workload_search.py): partner_read (the full read as a partner),
lookup_single, lookup_batch and search.
Peak RSS (VmHWM) of the server process is read after every operation.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import orjson

from bench import workload_search as ws
from bench.gen import Dataset
from bench.peers import TAXII, Server, audit_counts
from bench.stats import (Deadline, latency_summary, loadavg, median_run, proc_cpu,
                         proc_memory, proc_written)


class Budget:
    def __init__(self, op_cap: float, latency_cap: float) -> None:
        self.op_cap = op_cap
        self.latency_cap = latency_cap


def _client(server: Server, auth: tuple[str, str] | None = None) -> httpx.Client:
    return httpx.Client(auth=auth or server.auth, headers={"Accept": TAXII},
                        timeout=httpx.Timeout(600.0, connect=10.0),
                        limits=httpx.Limits(max_keepalive_connections=4))


def _timeout(dl: Deadline) -> httpx.Timeout:
    return httpx.Timeout(max(1.0, dl.remaining() + 1.0), connect=10.0)


def post_envelope(c: httpx.Client, server: Server, env: bytes, dl: Deadline,
                  ) -> tuple[dict | None, str | None, int]:
    """POST one envelope and follow its status (§4.3) until `complete` or the deadline:
    (the last status, None, polls), or (None, why it failed, polls)."""
    try:
        r = c.post(server.objects_url, content=env, headers={"Content-Type": TAXII},
                   timeout=_timeout(dl))
    except httpx.TimeoutException:
        return None, "no answer before the time budget ran out", 0
    if r.status_code != 202:
        return None, f"HTTP {r.status_code} {r.text[:300]}", 0
    status = orjson.loads(r.content)
    polls = 0
    while status.get("status") != "complete" and not dl.expired():
        time.sleep(0.05)
        polls += 1
        status = orjson.loads(c.get(server.status_url(status["id"])).content)
    return status, None, polls


def note_written(r: dict, before: int | None, after: int | None) -> None:
    """What each object of an ingest cost the disk: the pages its commit dirtied, in the
    WAL and again when a checkpoint copies them (this grows with the store)."""
    if r.get("objects") and before is not None and after is not None:
        r["server_written_bytes"] = after - before
        r["server_written_kib_per_object"] = (after - before) / r["objects"] / 1024


def ingest(server: Server, ds: Dataset, budget: Budget, log: Callable) -> dict:
    dl = Deadline(budget.op_cap)
    lat: list[float] = []
    done = ok = failed = polls = 0
    errors: list[str] = []
    report_every = max(1, len(ds.envelopes) // 10)
    with _client(server) as c:  # made before the clock starts, as for the walks
        t0 = time.perf_counter()
        for i, env in enumerate(ds.envelopes):
            t = time.perf_counter()
            status, error, n_polls = post_envelope(c, server, env, dl)
            polls += n_polls
            if status is None:
                errors.append(f"envelope {i}: {error}")
                break
            lat.append(time.perf_counter() - t)
            ok += int(status.get("success_count", 0))
            failed += int(status.get("failure_count", 0))
            done += len(ds.metas[i])
            if (i + 1) % report_every == 0:
                elapsed = time.perf_counter() - t0
                log(f"    ingest {done:,}/{ds.n:,} objects, {elapsed:.1f}s, "
                    f"{done / elapsed:,.0f}/s")
            if dl.expired() and i + 1 < len(ds.envelopes):
                errors.append(f"time budget of {budget.op_cap:.0f}s ran out after "
                              f"{done:,} objects")
                break
        secs = time.perf_counter() - t0
    finished = done == ds.n and not errors
    tenth = max(1, len(lat) // 10)
    out = {"finished": finished, "objects": done, "seconds": secs,
           "objects_per_s": done / secs if secs else 0, "us_per_object": secs / done * 1e6 if done else None,
           "success_count": ok, "failure_count": failed, "status_polls": polls,
           "post": latency_summary(lat),
           "first_tenth_us_per_object": sum(lat[:tenth]) / (tenth * ds.envelope_size) * 1e6 if lat else None,
           "last_tenth_us_per_object": sum(lat[-tenth:]) / (tenth * ds.envelope_size) * 1e6 if lat else None}
    if errors:
        out["errors"] = errors[:5]
    return out


def _walk(server: Server, url: str, params: dict, budget: Budget, key: str,
          dates: list[str] | None = None, auth: tuple[str, str] | None = None) -> dict:
    """Follow `next` from the first page to the last; count items."""
    dl = Deadline(budget.op_cap)
    lat: list[float] = []
    count = pages = 0
    parse_s = 0.0  # the client's own JSON parsing, included in the wall time
    nxt = None
    error = None
    # The client is made before the clock starts: httpx.Client() loads a TLS context
    # (25-50 ms here), which is more than the server needs for a whole 10k walk's pages.
    with _client(server, auth) as c:
        t0 = time.perf_counter()
        while True:
            q = dict(params)
            if nxt:
                q["next"] = nxt
            t = time.perf_counter()
            try:
                r = c.get(url, params=q, timeout=_timeout(dl))
            except httpx.TimeoutException:
                error = f"no answer before the time budget ({budget.op_cap:.0f}s) ran out"
                break
            if r.status_code != 200:
                error = f"HTTP {r.status_code}: {r.text[:300]}"
                break
            tp = time.perf_counter()
            doc = orjson.loads(r.content)
            parse_s += time.perf_counter() - tp
            lat.append(time.perf_counter() - t)
            pages += 1
            count += len(doc.get(key, ()))
            if dates is not None and "X-TAXII-Date-Added-Last" in r.headers:
                dates.append(r.headers["X-TAXII-Date-Added-Last"])
            if not doc.get("more"):
                break
            nxt = doc.get("next")
            if not nxt:
                error = "more=true without next"
                break
            if dl.expired():
                error = f"time budget of {budget.op_cap:.0f}s ran out after {count:,} items"
                break
        secs = time.perf_counter() - t0
    out = {"finished": error is None, "budget_s": budget.op_cap, "objects": count, "pages": pages, "seconds": secs,
           "objects_per_s": count / secs if secs else 0, "page": latency_summary(lat),
           "client_parse_s": parse_s}
    if error:
        out["error"] = error
    return out


def _repeat(server: Server, budget: Budget, n: int,
            request: Callable[[httpx.Client, int, httpx.Timeout], httpx.Response],
            check: Callable[[httpx.Response, int], str | None],
            lat: list[float] | None = None) -> dict:
    """`n` requests (or as many as fit in the latency budget): latency summary.
    `lat`, when given, receives each request's latency (seconds, in order)."""
    dl = Deadline(min(budget.latency_cap, budget.op_cap))
    lat = [] if lat is None else lat
    problems: list[str] = []
    abandoned = False
    with _client(server) as c:
        for i in range(n):
            t = time.perf_counter()
            try:
                r = request(c, i, _timeout(dl))
            except httpx.TimeoutException:
                if lat:  # the budget ran out part-way: what came back is the sample
                    abandoned = True
                else:
                    problems.append(f"request {i} got no answer within the budget of "
                                    f"{dl.seconds:.0f}s")
                break
            lat.append(time.perf_counter() - t)
            p = check(r, i)
            if p:
                problems.append(p)
            if dl.expired():
                break
    out = latency_summary(lat)
    out["budget_s"] = dl.seconds
    out["requested"] = n
    out["finished"] = bool(lat) and not problems  # fewer than n requests in the budget is a sample
    out["sampled"] = len(lat) < n
    if abandoned:
        out["abandoned_request"] = True
    if problems:
        out["problems"] = problems[:5]
        out["problem_count"] = len(problems)
    return out


def _count_check(expected: int | None) -> Callable[[httpx.Response, int], str | None]:
    def check(r: httpx.Response, i: int) -> str | None:
        if r.status_code != 200:
            return f"HTTP {r.status_code}: {r.text[:200]}"
        if expected is not None:
            got = len(orjson.loads(r.content).get("objects", ()))
            if got != expected:
                return f"request {i}: {got} objects, expected {expected}"
        return None
    return check


WALKS = 3
"""Each full walk is made at least this many times; the report keeps the median (one
walk of a small store lasts a fraction of a second, and alone is at the mercy of the
machine)."""
MAX_WALKS = 15
WALK_TIME_S = 2.0
"""Short walks are repeated (up to `MAX_WALKS`) until they have taken this long."""
WALK_BUDGET_S = 60.0
"""No further walk starts once the walks of one operation have taken this long."""


def _walks(walk: Callable[[bool], dict]) -> dict:
    """Repeat `walk` (its argument: whether this is the first walk) `WALKS` times, and
    more while the walks are short (see `WALK_TIME_S`), never past `WALK_BUDGET_S`;
    return the median walk by rate (the lower of the two middle ones for an even count),
    with every walk's rate under `walks_per_s`.  A walk that does not finish ends the
    series and is returned as it is."""
    done: list[dict] = []
    spent = 0.0
    while len(done) < MAX_WALKS:
        r = walk(not done)
        if not r.get("finished"):
            return r if not done else {**r, "walks_per_s": [w["objects_per_s"] for w in done]}
        done.append(r)
        spent += r["seconds"]
        if spent >= WALK_BUDGET_S or (len(done) >= WALKS and spent >= WALK_TIME_S):
            break
    return median_run(done, "walks_per_s")


def run(server: Server, ds: Dataset, budget: Budget, *, page: int, export_page: int,
        reps: int, single_gets: int, ids_per_query: int, filter_page: int,
        log: Callable, lookups: int = 500, lookup_batch: int = 1000,
        lookup_batches: int = 20, searches: int = 100,
        skip_ingest: bool = False, hooks: dict | None = None,
        restart: Callable[[Server], Server] | None = None,
        skip: dict[str, str] | None = None, only: set[str] | None = None) -> dict:
    """Every operation against one running server; results by operation name.

    `restart`, when given, is called after an operation that did not finish (medallion
    goes on computing an abandoned request in its thread; a fresh process keeps the
    next operation from competing with it) and returns the server to go on with."""
    hooks = hooks or {}
    res: dict = {"memory_at_start": proc_memory(server.pid)}
    cur = {"server": server}

    skip = skip or {}

    def op(name: str, fn: Callable[[Server], dict]) -> dict:
        if only is not None and name not in only:
            res[name] = {}
            return res[name]
        if name in skip:
            res[name] = {"finished": False, "not_attempted": skip[name]}
            log(f"    {name}: not attempted ({skip[name]})")
            return res[name]
        server = cur["server"]
        cpu0, load0, written0 = proc_cpu(server.pid), loadavg(), proc_written(server.pid)
        with hooks.get(name, _null)():
            r = fn(server)
        cpu1, written1 = proc_cpu(server.pid), proc_written(server.pid)
        if name == "ingest":
            note_written(r, written0, written1)
        r["server_cpu_s"] = (cpu1 - cpu0) if cpu0 is not None and cpu1 is not None else None
        if r["server_cpu_s"] is not None and len(r.get("walks_per_s", ())) > 1:
            r["server_cpu_s"] /= len(r["walks_per_s"])  # per walk, as the other figures
        if r.get("objects"):
            r["server_cpu_us_per_object"] = (r["server_cpu_s"] or 0) / r["objects"] * 1e6
        r["loadavg"] = [load0, loadavg()]
        r["memory"] = proc_memory(server.pid)
        r["memory"]["alive"] = server.alive()
        res[name] = r
        _say(log, server, name, r)
        if ((r.get("finished") is False or r.get("abandoned_request")) and restart is not None
                and name != "ingest"):
            res.setdefault("restarts", []).append(name)
            cur["server"] = restart(server)
        return r

    if not skip_ingest:
        log(f"  {server.name}: ingest {ds.n:,} objects in {len(ds.envelopes)} envelopes")
        if not op("ingest", lambda sv: ingest(sv, ds, budget, log))["finished"]:
            res["peak_rss_mib"] = proc_memory(server.pid)["peak_rss_mib"]
            res["server"] = server
            return res
    dates: list[str] = []
    log(f"  {server.name}: full paginated read (limit={page}), manifest, export")
    op("full_read", lambda sv: _walks(lambda first: _walk(
        sv, sv.objects_url, {"limit": page}, budget, "objects", dates if first else None)))
    if server.partner_auth:
        # What the node stores beyond the dataset (the TLP marking definitions it keeps
        # with marked content) is released to partners too.
        extra = max(0, res.get("full_read", {}).get("objects", ds.latest_count) - ds.latest_count)
        op("partner_read", lambda sv: ws.check_partner_read(
            _walks(lambda first: _walk(sv, sv.objects_url, {"limit": page}, budget, "objects",
                                       auth=sv.partner_auth)),
            ds, sv, extra))
    op("manifest", lambda sv: _walks(lambda first: _walk(
        sv, sv.manifest_url, {"limit": page}, budget, "objects")))
    op("export", lambda sv: _walks(lambda first: _walk(
        sv, sv.objects_url, {"limit": export_page, "match[version]": "all"}, budget, "objects")))
    types = sorted(ds.type_counts)
    log(f"  {server.name}: filtered reads and single GETs")
    op("filter_type", lambda sv: _repeat(
        sv, budget, reps,
        lambda c, i, to: c.get(sv.objects_url, params={"match[type]": types[i % len(types)],
                                                       "limit": filter_page}, timeout=to),
        _count_check(None)))
    if not dates:  # no page came back from the full read: take dates from the manifest
        dates = _manifest_dates(cur["server"], budget, page)
    if dates:
        op("filter_added_after", lambda sv: _repeat(
            sv, budget, reps,
            lambda c, i, to: c.get(sv.objects_url, params={"added_after": dates[(i * 7) % len(dates)],
                                                           "limit": filter_page}, timeout=to),
            _count_check(None)))
    ids = ds.sample_ids

    def id_batch(i: int) -> str:
        return ",".join(ids[(i * ids_per_query + k) % len(ids)] for k in range(ids_per_query))

    op("filter_ids", lambda sv: _repeat(
        sv, budget, reps,
        lambda c, i, to: c.get(sv.objects_url, params={"match[id]": id_batch(i), "limit": page},
                               timeout=to),
        _count_check(min(ids_per_query, len(ids)))))
    op("single_get", lambda sv: _repeat(
        sv, budget, single_gets,
        lambda c, i, to: c.get(f"{sv.objects_url}{ids[i % len(ids)]}/", timeout=to),
        _count_check(1)))
    if server.is_liaison and (only is None or only & set(ws.SEARCH_OPS)):
        _search_ops(op, res, cur["server"], ds, budget, log, lookups=lookups,
                    lookup_batch=lookup_batch, lookup_batches=lookup_batches,
                    searches=searches)
    audit = audit_counts(cur["server"])
    if audit is not None:
        res["audit_entries"] = audit
    res["peak_rss_mib"] = max(proc_memory(cur["server"].pid)["peak_rss_mib"] or 0,
                              *(res[k]["memory"]["peak_rss_mib"] or 0 for k in res
                                if isinstance(res[k], dict) and "memory" in res[k]))
    res["server"] = cur["server"]
    return res


def _search_ops(op: Callable, res: dict, server: Server, ds: Dataset, budget: Budget,
                log: Callable, *, lookups: int, lookup_batch: int, lookup_batches: int,
                searches: int) -> None:
    """lookup_single, lookup_batch and search (Liaison only; not with the index off)."""
    if not server.search_index:
        r = httpx.get(f"{server.base}/liaison/lookup/", params={"value": "192.0.2.1"},
                      auth=server.auth, timeout=30)
        res["index_off_probe"] = {"lookup_status": r.status_code, "body": r.text[:300]}
        if r.status_code == 200 and server.switch is not None:
            server.switch["honoured"] = False
            log(f"  {server.name}: WARNING: lookup answers 200 with the index switched off")
        for name in ws.SEARCH_OPS:
            res[name] = {"not_applicable": ws.NO_INDEX}
        log(f"  {server.name}: lookup and search not measured ({ws.NO_INDEX}); "
            f"lookup answers HTTP {r.status_code}")
        return
    p = ws.probes(ds)
    log(f"  {server.name}: lookups ({len(p.seen):,} values present in the dataset, from "
        f"{p.envelopes_sampled} envelopes), batches of {lookup_batch:,}, searches")

    def repeat(sv: Server, n: int, request: Callable, check: Callable, lat: list) -> dict:
        return _repeat(sv, budget, n, request, check, lat)

    op("lookup_single", lambda sv: ws.lookup_single(sv, ds, lookups, repeat))
    op("lookup_batch", lambda sv: ws.lookup_batch(sv, ds, lookup_batches, lookup_batch, repeat))
    op("search", lambda sv: ws.search(sv, ds, searches, repeat))


def _manifest_dates(server: Server, budget: Budget, page: int) -> list[str]:
    """date_added of one record per manifest page (for added_after requests)."""
    dates: list[str] = []
    dl = Deadline(min(budget.latency_cap, budget.op_cap))
    with _client(server) as c:
        nxt = None
        while not dl.expired():
            q = {"limit": page, **({"next": nxt} if nxt else {})}
            try:
                r = c.get(server.manifest_url, params=q, timeout=_timeout(dl))
            except httpx.TimeoutException:
                break
            if r.status_code != 200:
                break
            doc = orjson.loads(r.content)
            recs = doc.get("objects", [])
            if recs:
                dates.append(recs[-1]["date_added"])
            nxt = doc.get("next")
            if not doc.get("more") or not nxt:
                break
    return dates


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def _say(log: Callable, server: Server, op: str, r: dict) -> None:
    flag = "" if r.get("finished", True) else "  DID NOT FINISH: " + str(r.get("error") or r.get("errors") or r.get("problems"))
    if r.get("invalid"):
        flag = f"  INVALID ANSWERS: {r['invalid']}"
        log(f"    {op}: WRONG ANSWERS from {server.name} — {r['invalid']}")
    if op == "lookup_batch" and "values_per_s" in r:
        log(f"    {op}: p50 {r.get('p50_ms', float('nan')):.2f} ms per {r['values_per_batch']:,} "
            f"values, {r['values_per_s']:,.0f} values/s, found {r.get('seen_found', 0):,}/"
            f"{r.get('seen_asked', 0):,} present ({r.get('count', 0)} batches){flag}")
    elif op == "partner_read" and "objects_per_s" in r:
        log(f"    {op}: {r['objects']:,} objects released to the partner "
            f"({(r.get('received_share_of_distinct_ids') or 0):.0%} of the distinct ids, "
            f"{r.get('allowed_at_most', 0):,} allowed by TLP) in {r['seconds']:.2f}s = "
            f"{r['objects_per_s']:,.0f}/s{flag}")
    elif "objects_per_s" in r:
        log(f"    {op}: {r['objects']:,} in {r['seconds']:.2f}s = {r['objects_per_s']:,.0f}/s{flag}")
    else:
        log(f"    {op}: p50 {r.get('p50_ms', float('nan')):.2f} ms, p95 {r.get('p95_ms', float('nan')):.2f} ms "
            f"({r.get('count', 0)} requests){flag}")

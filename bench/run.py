"""Run the benchmarks: limits, medallion and Liaison, side by side, at each N.

    .venv/bin/python -m bench.run --sizes 10000,100000 \\
        [--peers medallion,liaison-sqlite,liaison-sqlite-noaudit,liaison-sqlite-noindex,liaison-postgres] \\
        [--out bench/results/x.json] [--profile bench/results/profiles]

For each N: generate N objects (deterministic from --seed), measure the limits (no
HTTP), then start each peer as a real process on 127.0.0.1, drive it over HTTP, stop
it; then, for each setting with a cost target (audit, search index), Liaison with it
on and off side by side, in alternation (bench/paired.py).  Results go to --out as
JSON after every peer (a run cut short keeps what it measured); a Markdown report
(tables, ratios, targets) is printed at the end.  See bench/README.md and
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import gen, limits, peers, report, workload
from bench.paired import run_paired
from bench.profile import Profiler, hot_spots
from bench.stats import loadavg, median_run, proc_cpu, proc_written

RESULTS = Path(__file__).resolve().parent / "results"
# The two variants of liaison-sqlite (audit log off, search index off) cost about what
# liaison-sqlite itself costs — a small part of a run that includes medallion — and the
# targets on the cost of the audit and the index need them, so they run by default,
# next to liaison-sqlite (wall-clock comparisons suffer less from a load that changes).
DEFAULT_PEERS = ("medallion", "liaison-sqlite", "liaison-sqlite-noaudit",
                 "liaison-sqlite-noindex", "liaison-postgres")


def _dates(n: int) -> list[str]:
    """Distinct, increasing date_added values for a preloaded medallion store."""
    base = datetime(2030, 1, 1, tzinfo=UTC).timestamp()
    out = []
    for i in range(n):
        t = datetime.fromtimestamp(base + i / 1000, tz=UTC)
        out.append(t.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    return out


def machine() -> dict:
    cpu = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = "?"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    info = {"cpus (nproc)": os.cpu_count(), "cpu model": cpu, "memory": mem,
            "kernel": platform.release(), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version}
    try:
        import psycopg

        with psycopg.connect(peers.PG_ADMIN_URL, connect_timeout=3) as conn:
            info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
    except Exception:  # noqa: BLE001
        info["postgresql"] = "not reachable"
    versions = []
    for mod in ("uvicorn", "starlette", "httpx", "jiter", "orjson", "h11", "uvloop", "httptools"):
        try:
            m = __import__(mod)
            versions.append(f"{mod} {getattr(m, '__version__', '?')}")
        except ImportError:
            versions.append(f"{mod} absent")
    info["server stack"] = ", ".join(versions)
    info["medallion"] = peers.medallion_version() if peers.MEDALLION_VENV.exists() else "not installed"
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=peers.REPO,
                             capture_output=True, text=True, check=False).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "src"], cwd=peers.REPO,
                               capture_output=True, text=True, check=False).stdout.strip()
        snap = os.environ.get("BENCH_SNAPSHOT")
        import liaison

        info["liaison source"] = (f"{snap} (frozen copy, --snapshot)" if snap else
                                  rev + (" + uncommitted changes in src/" if dirty else ""))
        info["liaison imported from"] = str(Path(liaison.__file__).parent)
    except OSError:
        pass
    return info


def _reexec_on_snapshot(rev: str, argv: list[str]) -> None:
    """Extract `rev`'s src/ and run this command again with it first on PYTHONPATH."""
    commit = subprocess.run(["git", "rev-parse", "--short",
                             "HEAD" if rev == "worktree" or Path(rev).is_dir() else rev],
                            cwd=peers.REPO, check=True, capture_output=True, text=True).stdout.strip()
    if Path(rev, "src", "liaison").is_dir():  # a copy made earlier (…-src-worktree-…)
        target = Path(rev).resolve()
        commit = f"frozen copy {target.name}"
    elif rev == "worktree":  # the work tree as it is now, frozen for the run
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        target = Path(f"/tmp/liaison-bench-src-worktree-{stamp}")
        shutil.copytree(peers.REPO / "src", target / "src",
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        commit = f"work tree of {stamp} on {commit}"
    else:
        target = Path(f"/tmp/liaison-bench-src-{commit}")
    if not (target / "src" / "liaison").exists():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", commit, "src"], cwd=peers.REPO, check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    env = dict(os.environ, BENCH_SNAPSHOT=commit,
               PYTHONPATH=os.pathsep.join([str(target / "src"), str(peers.REPO)]))
    log(f"benchmarking the Liaison source of {rev} ({commit}) from {target}/src")
    os.execve(sys.executable, [sys.executable, "-m", "bench.run", *argv], env)


def _profile_pass(peer: str, ds: gen.Dataset, budget: workload.Budget, opts: dict,
                  directory: Path, doc: dict, n: int) -> None:
    """A separate ingest + full read on a fresh server with py-spy attached (the
    sampling costs a little, so the measured figures come from the run before)."""
    log(f"N = {n:,}: {peer}: profiling ingest and full read (py-spy), figures not recorded")
    server = peers.start(peer, max_page_size=opts["export_page"], log=log)
    paths = {op: directory / f"{peer}-{n}-{op}.txt" for op in ("ingest", "full_read")}
    hooks = {op: (lambda p=path: Profiler(server.pid, p)) for op, path in paths.items()}
    try:
        workload.run(server, ds, budget, log=log, hooks=hooks, only=set(paths), **opts)
    finally:
        server.stop()
    for op, path in paths.items():
        if path.exists():
            doc["profiles"][f"{peer} {op} N={n:,}"] = hot_spots(path)


INGESTS = 3
"""A short ingest is made this many times, each into a fresh server, and the median kept."""
SHORT_INGEST_S = 20.0
"""An ingest is repeated only when it took less than this (a 10k ingest lasts under a
second and swung ±15 % from one run to the next; a 1M ingest lasts minutes)."""


def _more_ingests(peer: str, ds: gen.Dataset, budget: workload.Budget, max_page_size: int,
                  first: dict) -> dict:
    """The median of `INGESTS` ingests when the first one was short and finished: the
    others go into fresh servers, stopped at once (the reads were measured after the
    first).  Every ingest's rate is kept under `ingests_per_s`."""
    if not first.get("finished") or first.get("seconds", SHORT_INGEST_S) >= SHORT_INGEST_S:
        return first
    done = [first]
    for _ in range(INGESTS - 1):
        server = peers.start(peer, max_page_size=max_page_size, log=log)
        try:
            cpu0, written0 = proc_cpu(server.pid), proc_written(server.pid)
            r = workload.ingest(server, ds, budget, lambda *a: None)
            cpu1, written1 = proc_cpu(server.pid), proc_written(server.pid)
            workload.note_written(r, written0, written1)
        finally:
            server.stop()
        if not r.get("finished"):
            break
        if cpu0 is not None and cpu1 is not None:
            r["server_cpu_s"] = cpu1 - cpu0
            r["server_cpu_us_per_object"] = r["server_cpu_s"] / r["objects"] * 1e6
        done.append(r)
    median = median_run(done, "ingests_per_s")
    for key in ("loadavg", "memory"):  # of the server that went on to the reads
        if key in first:
            median[key] = first[key]
    log(f"  {peer}: ingest made {len(done)} times, into fresh servers: "
        + ", ".join(f"{r:,.0f}" for r in median["ingests_per_s"]) + " objects/s; median kept")
    return median


def pg_reachable() -> bool:
    try:
        import psycopg

        with psycopg.connect(peers.PG_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001
        return False


def log(msg: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="10000,100000", help="comma-separated N [%(default)s]")
    ap.add_argument("--peers", default=",".join(DEFAULT_PEERS),
                    help="comma-separated peers, of " + ", ".join(peers.PEERS) + " [%(default)s]")
    ap.add_argument("--out", type=Path, default=None, help="result JSON [bench/results/bench-TIME.json]")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--envelope", type=int, default=1000, help="objects per POST [%(default)s]")
    ap.add_argument("--page", type=int, default=1000, help="limit of paginated reads [%(default)s]")
    ap.add_argument("--export-page", type=int, default=5000, help="limit of the export walk, and "
                    "medallion's max_page_size [%(default)s]")
    ap.add_argument("--filter-page", type=int, default=100, help="limit of filtered pages [%(default)s]")
    ap.add_argument("--reps", type=int, default=50, help="requests per filtered-read kind [%(default)s]")
    ap.add_argument("--single-gets", type=int, default=500, help="single-object GETs [%(default)s]")
    ap.add_argument("--ids", type=int, default=100, help="ids per match[id] request [%(default)s]")
    ap.add_argument("--lookups", type=int, default=500,
                    help="single-value lookups, half present, half absent (Liaison) [%(default)s]")
    ap.add_argument("--lookup-batch", type=int, default=1000,
                    help="values per batch lookup (POST) [%(default)s]")
    ap.add_argument("--lookup-batches", type=int, default=20,
                    help="batch lookups [%(default)s]")
    ap.add_argument("--searches", type=int, default=100,
                    help="full-text searches, four kinds of query in turn [%(default)s]")
    ap.add_argument("--op-cap", type=float, default=600, help="seconds one operation may take "
                    "before it is recorded as 'did not finish' [%(default)s]")
    ap.add_argument("--latency-cap", type=float, default=120, help="seconds for each batch of "
                    "latency requests [%(default)s]")
    ap.add_argument("--medallion-max", type=int, default=100_000,
                    help="largest N medallion is run at [%(default)s]")
    ap.add_argument("--no-preload", action="store_true", help="when medallion's ingest does not "
                    "finish, skip its reads instead of reloading the data from its data file")
    ap.add_argument("--profile", type=Path, default=None, help="directory: profile Liaison "
                    "(py-spy) during ingest and full read at the largest N")
    ap.add_argument("--profile-size", type=int, default=None,
                    help="N at which to profile [the largest of --sizes]")
    ap.add_argument("--medallion-skip", default="",
                    help="medallion operations not to attempt (comma-separated), e.g. ones "
                    "that did not finish at a smaller N in an earlier invocation")
    ap.add_argument("--medallion-skip-reason", default="did not finish, or took minutes per "
                    "request, at a smaller N in an earlier run, and medallion's object reads "
                    "grow as N² (filters/basic_filter.py sort_and_paginate)",
                    help="why the --medallion-skip operations are not attempted (recorded)")
    ap.add_argument("--paired", default="auto", metavar="SWITCHES",
                    help="settings (of " + ", ".join(peers.VARIANT_OF) + ") whose cost is "
                    "also measured side by side: Liaison with the setting on and off, both "
                    "running, ingest and reads in alternation (bench/paired.py); 'auto': "
                    "those whose variant peer is in --peers; '' for none [%(default)s]")
    ap.add_argument("--snapshot", default=None, metavar="REV",
                    help="benchmark the committed source of REV (e.g. HEAD; 'git archive' of "
                    "its src/), or 'worktree' (a copy of src/ as it is now), or a directory "
                    "holding such a copy, from a temporary "
                    "directory: the limits and every "
                    "Liaison server from there, so edits in the work tree during a run do "
                    "not change what is measured")
    args = ap.parse_args(argv)
    if args.snapshot and os.environ.get("BENCH_SNAPSHOT") is None:
        _reexec_on_snapshot(args.snapshot, argv if argv is not None else sys.argv[1:])

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s]
    peer_names = [p.strip() for p in args.peers.split(",") if p.strip()]
    unknown = [p for p in peer_names if p not in peers.PEERS]
    if unknown:
        ap.error(f"unknown peer(s) {', '.join(unknown)}: use {', '.join(peers.PEERS)}")
    if args.paired == "auto":
        paired = [sw for sw, peer in peers.VARIANT_OF.items() if peer in peer_names]
    else:
        paired = [sw.strip() for sw in args.paired.split(",") if sw.strip()]
        bad = [sw for sw in paired if sw not in peers.VARIANT_OF]
        if bad:
            ap.error(f"unknown setting(s) for --paired: {', '.join(bad)}: use "
                     f"{', '.join(peers.VARIANT_OF)}")
    out = args.out or RESULTS / f"bench-{datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    if "medallion" in peer_names:
        peers.ensure_medallion(log)
    doc: dict = {"command": " ".join([Path(sys.executable).name, "-m", "bench.run", *(argv or sys.argv[1:])]),
                 "started": datetime.now(UTC).isoformat(timespec="seconds"),
                 "machine": machine(), "config": {k: (str(v) if isinstance(v, Path) else v)
                                                  for k, v in vars(args).items()},
                 "runs": {}, "profiles": {}}
    budget = workload.Budget(args.op_cap, args.latency_cap)
    opts = {"page": args.page, "export_page": args.export_page, "reps": args.reps,
            "single_gets": args.single_gets, "ids_per_query": args.ids,
            "filter_page": args.filter_page, "lookups": args.lookups,
            "lookup_batch": args.lookup_batch, "lookup_batches": args.lookup_batches,
            "searches": args.searches}
    t_all = time.perf_counter()

    def save() -> None:
        out.write_text(json.dumps(doc, indent=1))

    medallion_dnf: dict[str, str] = {  # op -> why it is not tried again at larger N
        op: args.medallion_skip_reason
        for op in args.medallion_skip.split(",") if op}
    for n in sizes:
        log(f"N = {n:,}: generating (seed {args.seed})")
        t = time.perf_counter()
        ds = gen.generate(n, args.seed, args.envelope)
        # The dataset (millions of small objects at 1M) would otherwise be walked by every
        # full garbage collection inside the in-process limits, which a server holding
        # one envelope at a time never pays.
        gc.collect()
        gc.freeze()
        run: dict = {"dataset": {"objects": n, "latest": ds.latest_count, "envelopes": len(ds.envelopes),
                                 "mib": ds.bytes_total / 2**20, "types": ds.type_counts,
                                 "generate_s": time.perf_counter() - t},
                     "peers": {}}
        doc["runs"][str(n)] = run
        log(f"N = {n:,}: limits (parse + serialise + SQLite insert, read and splice; load {loadavg():.2f})")
        run["limit"] = limits.run_limits(ds, page=args.page, export_page=args.export_page,
                                         filter_page=args.filter_page, reps=args.reps,
                                         single_gets=args.single_gets, ids_per_query=args.ids,
                                         cap_seconds=args.latency_cap, log=log)
        save()
        for peer in peer_names:
            if peer == "medallion" and n > args.medallion_max:
                run["peers"][peer] = {"skipped": f"N above --medallion-max {args.medallion_max:,}"}
                log(f"  medallion: not run at N = {n:,} (above --medallion-max)")
                continue
            if peer == "liaison-postgres" and not pg_reachable():
                run["peers"][peer] = {"skipped": f"PostgreSQL not reachable at {peers.PG_ADMIN_URL}"}
                log("  liaison-postgres: PostgreSQL not reachable, skipped")
                continue
            log(f"N = {n:,}: {peer}: starting (load {loadavg():.2f})")
            try:
                server = peers.start(peer, max_page_size=args.export_page, log=log)
            except Exception as exc:  # noqa: BLE001 - record and go on with the others
                run["peers"][peer] = {"skipped": f"could not start: {exc}"[:2000]}
                log(f"  {peer}: could not start: {exc}")
                save()
                continue
            hooks: dict = {}
            preload_cache: dict = {}

            # `restart` is only called during this iteration, so it may read the loop's
            # `ds` and `preload_cache` late (binding them as defaults would keep a
            # dataset of up to 500 MiB alive after `del ds`, into the next N).
            def restart(old: peers.Server) -> peers.Server:
                """A fresh medallion holding the whole dataset (from its data file)."""
                old.stop()
                cache = preload_cache  # noqa: B023
                if "data" not in cache:
                    objs = gen.objects_of(ds)  # noqa: B023, F821
                    cache["data"] = (objs, _dates(len(objs)))
                log("  medallion: restarting it with the dataset preloaded from its data file")
                t = time.perf_counter()
                fresh = peers.start_medallion(args.export_page, preload=cache["data"], log=log)
                cache.setdefault("load_s", time.perf_counter() - t)
                return fresh

            is_medallion = peer == "medallion"
            try:
                skip = medallion_dnf if is_medallion else None
                res = workload.run(server, ds, budget, log=log, hooks=hooks,
                                   restart=restart if is_medallion and not args.no_preload else None,
                                   skip=skip, **opts)
                server = res.pop("server", server)
                res["notes"] = list(server.notes)
                if server.switch is not None:  # a variant: the setting it switches off
                    res["switch"] = server.switch
                if is_medallion and res.get("ingest", {}).get("finished") is False and not args.no_preload:
                    log("  medallion: ingest did not finish; its reads are measured on a "
                        "server preloaded with the whole dataset")
                    server = restart(server)
                    reads = workload.run(server, ds, budget, log=log, skip_ingest=True,
                                         restart=restart, skip=skip, **opts)
                    server = reads.pop("server", server)
                    res = {**reads, "ingest": res["ingest"], "notes": res["notes"],
                           "peak_rss_mib": max(reads.get("peak_rss_mib") or 0,
                                               res.get("peak_rss_mib") or 0)}
                    res["preloaded_for_reads"] = True
                if is_medallion and "load_s" in preload_cache:
                    res["notes"].append(
                        f"operations that did not finish were followed by a restart of medallion "
                        f"with the dataset preloaded from its data file (start-up took "
                        f"{preload_cache['load_s']:.0f} s), so an abandoned request does not "
                        f"slow the next operation")
            except Exception as exc:  # noqa: BLE001
                res = {"skipped": f"failed: {exc!r}"[:2000]}
                log(f"  {peer}: failed: {exc!r}")
            finally:
                server.stop()
            preload_cache.clear()
            if isinstance(res.get("ingest"), dict):
                res["ingest"] = _more_ingests(peer, ds, budget, args.export_page, res["ingest"])
            run["peers"][peer] = res
            if is_medallion:  # an operation that did not finish at N is not tried at larger N
                for op_name, r in res.items():
                    if (isinstance(r, dict) and r.get("finished") is False and op_name != "ingest"
                            and "not_attempted" not in r):
                        medallion_dnf[op_name] = (f"did not finish at N = {n:,} within its budget; "
                                                  "its cost only grows with N")
            save()
            if args.profile and peer == "liaison-sqlite" and n == (args.profile_size or max(sizes)):
                _profile_pass(peer, ds, budget, opts, args.profile, doc, n)
            save()
        for switch in paired:
            log(f"N = {n:,}: the cost of {switch}, side by side (load {loadavg():.2f})")
            run.setdefault("paired", {})[switch] = run_paired(switch, ds, budget,
                                                              page=args.page, log=log)
            save()
        del ds
        gc.unfreeze()
        gc.collect()
    doc["seconds"] = time.perf_counter() - t_all
    save()
    log(f"done in {doc['seconds']:.0f} s; results in {out}")
    print()
    print(report.render(report.load([out])))
    return 0


if __name__ == "__main__":
    sys.exit(main())

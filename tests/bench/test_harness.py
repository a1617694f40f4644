"""The benchmark harness runs end to end at a tiny N and measures what it claims to.

One `python -m bench.run` at N = 300 (envelopes of 100, liaison-sqlite only, small
repetition counts and budgets, and the audit's side-by-side pair; no medallion, no
PostgreSQL), then checks that every
operation finished with sane answers — the objects counted, lookups that find the
values present in the dataset and only those, searches that find something, a partner
that receives a good share — and that the report renders.  Speed is never asserted.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench import report, workload, workload_search
from bench import run as run_mod

REPO = Path(__file__).resolve().parents[2]
N = 300
LATENCY_OPS = ("filter_type", "filter_added_after", "filter_ids", "single_get",
               "lookup_single", "lookup_batch", "search")


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench") / "tiny.json"
    cmd = [sys.executable, "-m", "bench.run", "--sizes", str(N), "--envelope", "100",
           "--peers", "liaison-sqlite", "--reps", "5", "--single-gets", "20", "--lookups", "20",
           "--lookup-batches", "2", "--searches", "8", "--op-cap", "60", "--latency-cap", "10",
           "--paired", "audit", "--out", str(out)]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=180,
                          check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    doc = json.loads(out.read_text())
    doc["_stdout"] = done.stdout
    return doc


def _peer(result: dict) -> dict:
    peer = result["runs"][str(N)]["peers"]["liaison-sqlite"]
    assert not peer.get("skipped"), peer
    return peer


def test_ingest_and_reads_count_every_object(result: dict) -> None:
    run = result["runs"][str(N)]
    peer = _peer(result)
    latest = run["dataset"]["latest"]
    ingest = peer["ingest"]
    assert ingest["finished"] and ingest["objects"] == N
    assert ingest["success_count"] == N and ingest["failure_count"] == 0
    rates = ingest["ingests_per_s"]  # a short ingest: made three times, into fresh servers
    assert len(rates) == run_mod.INGESTS and ingest["objects_per_s"] == sorted(rates)[1]
    assert ingest["server_cpu_us_per_object"] > 0
    # Every commit appends its pages to the WAL: more than the bodies' own bytes.
    assert ingest["server_written_bytes"] > run["dataset"]["mib"] * 2**20
    assert ingest["server_written_kib_per_object"] == ingest["server_written_bytes"] / N / 1024
    # The node stores the TLP marking definitions with marked content: a few more
    # objects than the dataset, the same few in every read.
    extra = peer["full_read"]["objects"] - latest
    assert 0 <= extra <= 9
    assert peer["full_read"]["finished"] and peer["manifest"]["objects"] == latest + extra
    assert peer["export"]["finished"] and peer["export"]["objects"] == N + extra
    for op in ("full_read", "partner_read", "manifest", "export"):
        rates = peer[op]["walks_per_s"]  # each walk made several times, the median kept
        assert workload.WALKS <= len(rates) <= workload.MAX_WALKS, (op, rates)
        assert peer[op]["objects_per_s"] == sorted(rates)[(len(rates) - 1) // 2], (op, rates)
    for op in LATENCY_OPS:
        r = peer[op]
        assert r["finished"], (op, r)
        assert r["count"] == r["requested"] > 0 and r["p50_ms"] > 0, (op, r)
        assert not r.get("problems") and not r.get("invalid"), (op, r)


def test_partner_receives_a_good_share_and_no_more(result: dict) -> None:
    run = result["runs"][str(N)]
    r = _peer(result)["partner_read"]
    assert r["finished"] and not r.get("invalid"), r
    assert 0.5 * run["dataset"]["latest"] <= r["objects"] <= r["allowed_at_most"]
    assert r["partner_max_tlp"] == "amber"
    assert _peer(result)["audit_entries"].get("release", 0) >= 1  # the read was audited


def test_lookups_find_present_values_and_only_them(result: dict) -> None:
    peer = _peer(result)
    single, batch = peer["lookup_single"], peer["lookup_batch"]
    assert single["seen_asked"] == 10 and single["seen_found"] == 10
    assert single["unseen_asked"] == 10 and single.get("unseen_found", 0) == 0
    assert single["hits"] >= single["seen_found"]
    # Often-seen values (URL hosts): asked a fifth as often, each found, at most 3 hits.
    assert single["often_count"] == 10 and "often_invalid" not in single
    assert single["often_p50_ms"] > 0 and 1 <= single["often_hits_median"] <= 3
    assert batch["values_per_batch"] == 1000
    assert batch["seen_asked"] == batch["seen_found"] == 2 * 500
    assert batch["unseen_asked"] == 2 * 500 and batch.get("unseen_found", 0) == 0
    assert batch["values_per_s"] > 0


def test_searches_find_something(result: dict) -> None:
    r = _peer(result)["search"]
    assert r["found"] == r["count"] == 8 and r["results"] > 0
    assert all(r[f"{kind}_p50_ms"] for kind in workload_search.SEARCH_KINDS)


def test_report_renders_the_new_rows_and_targets(result: dict) -> None:
    text = result["_stdout"]
    for label in ("lookup of one value, p50 ms", "lookup of 1,000 values, values/s",
                  "lookup of an often-seen value (a URL host), p50 ms",
                  "full-text search, p50 ms", "partner's full read, objects/s",
                  "server writes KiB/object"):
        assert label in text
    assert "INVALID" not in text
    # Without the variants and without N = 10k / 1M: the new targets say so.
    assert text.count("not measured") >= 5


def test_targets_compare_the_variants() -> None:
    def peer(ingest_us: float, rate: float, **extra: object) -> dict:
        return {"ingest": {"us_per_object": ingest_us, "objects_per_s": 1e6 / ingest_us,
                           "finished": True},
                "full_read": {"objects_per_s": rate, "finished": True},
                "partner_read": {"objects_per_s": rate, "finished": True}, **extra}

    merged = {"runs": {"2000": {"peers": {
        "liaison-sqlite": peer(120, 90_000),
        "liaison-sqlite-noindex": peer(100, 90_000, switch={"honoured": True}),
        "liaison-sqlite-noaudit": peer(100, 100_000, switch={"honoured": True}),
    }}}}
    by = {t["target"]: t for t in report.targets(merged)}
    index = next(t for k, t in by.items() if "search index" in k)
    assert index["measured"] == pytest.approx(1.2) and index["pass"] is True
    audit = [t for k, t in by.items() if "audit on" in k]
    assert [t["pass"] for t in audit] == [False, True, True]  # ingest 0.83, reads 0.90
    assert "no audit entry" in audit[1]["note"] and "no audit entry" not in audit[2]["note"]
    merged["runs"]["2000"]["peers"]["liaison-sqlite-noaudit"]["switch"]["honoured"] = False
    audit = [t for t in report.targets(merged) if "audit on" in t["target"]]
    assert all(t["verdict"] == "not measured" for t in audit)
    del merged["runs"]["2000"]["peers"]["liaison-sqlite-noindex"]
    index = [t for t in report.targets(merged) if "search index" in t["target"]]
    assert len(index) == 1 and index[0]["verdict"] == "not measured"


def test_the_side_by_side_pair_alternates_and_counts_everything(result: dict) -> None:
    """Both servers of the pair get every envelope, the first server swaps from one
    envelope to the next, a short ingest is repeated, the walks alternate at least `ROUNDS` times and both servers
    return the same objects; the audit target row says how it was measured."""
    from bench.paired import ROUNDS

    pair = result["runs"][str(N)]["paired"]["audit"]
    assert "invalid" not in pair, pair
    base, variant = pair["base"], pair["variant"]
    assert (base, variant) == ("liaison-sqlite", "liaison-sqlite-noaudit")
    assert pair["switch"]["honoured"] is True
    assert pair["ingest"]["first_two_envelopes"]["order"] == [base, variant, variant, base]
    for name in (base, variant):
        assert pair["ingest"][name]["objects"] == N and pair["ingest"][name]["seconds"] > 0
    # A short paired ingest is made three times, into fresh pairs; the median ratio kept.
    ratios = pair["ingest"]["ratios"]
    kept = pair["ingest"][base]["objects_per_s"] / pair["ingest"][variant]["objects_per_s"]
    assert len(ratios) == 3 and kept == pytest.approx(sorted(ratios)[1])
    for kind in ("full_read", "partner_read"):
        r = pair[kind]
        assert "invalid" not in r and r["rounds"] >= ROUNDS and len(r["objects"]) == 1
        for name in (base, variant):
            assert len(r[name]["walks_per_s"]) == r["rounds"]
            assert r[name]["objects_per_s"] == statistics.median(r[name]["walks_per_s"])
    assert pair["full_read"]["objects"][0] > pair["partner_read"]["objects"][0] > 0
    assert "| audit | partner_read |" in result["_stdout"]  # the pair's own table
    rows = [line for line in result["_stdout"].splitlines() if "audit on" in line]
    assert len(rows) == 3 and all("side by side" in line for line in rows), rows


def test_side_by_side_figures_decide_the_cost_targets() -> None:
    """With a pair, its figure is the verdict and the separate runs' goes in the note;
    a pair marked invalid falls back to the separate runs."""
    def peer(rate: float) -> dict:
        return {"ingest": {"us_per_object": 1e6 / rate, "objects_per_s": rate, "finished": True},
                "full_read": {"objects_per_s": rate, "finished": True},
                "partner_read": {"objects_per_s": rate, "finished": True},
                "switch": {"honoured": True}}

    def side(base_rate: float, variant_rate: float, variant: str) -> dict:
        figures = {"liaison-sqlite": {"objects_per_s": base_rate},
                   variant: {"objects_per_s": variant_rate}}
        return {"base": "liaison-sqlite", "variant": variant,
                **{op: {**figures, "rounds": 9} for op in ("ingest", "full_read", "partner_read")}}

    merged = {"runs": {"5000": {
        "peers": {"liaison-sqlite": peer(75_000), "liaison-sqlite-noaudit": peer(100_000),
                  "liaison-sqlite-noindex": peer(100_000)},
        "paired": {"audit": side(90_000, 100_000, "liaison-sqlite-noaudit"),
                   "search_index": side(75_000, 100_000, "liaison-sqlite-noindex")}}}}
    audit = [t for t in report.targets(merged) if "audit on" in t["target"]]
    assert [t["measured"] for t in audit] == [pytest.approx(0.9)] * 3
    assert all(t["pass"] for t in audit)
    assert "separate runs, minutes apart: 0.75×" in audit[2]["note"]
    assert "median of 9" in audit[2]["note"] and "no audit entry" in audit[1]["note"]
    index = next(t for t in report.targets(merged) if "search index" in t["target"])
    assert index["measured"] == pytest.approx(100 / 75) and index["pass"] is False
    assert "envelopes alternating" in index["note"]
    assert "separate runs, minutes apart: 1.33×" in index["note"]  # µs, as the figure
    merged["runs"]["5000"]["paired"]["audit"]["invalid"] = "failed: boom"
    audit = [t for t in report.targets(merged) if "audit on" in t["target"]]
    assert [t["measured"] for t in audit] == [pytest.approx(0.75)] * 3
    assert all(t["pass"] is False and "separate runs" in t["note"] for t in audit)


def test_a_wrong_lookup_answer_is_invalid() -> None:
    tally = workload_search._Tally()
    present = ("domain", "jade-1f.com", "domain-name--00000000-0000-4000-8000-000000000001")
    workload_search._check_answer({"value": "jade-1f.com", "seen": False, "hits": []},
                                  present, True, tally)
    workload_search._check_answer({"value": "nx.example", "seen": True,
                                   "hits": [{"id": "x"}]}, ("domain", "nx.example"), False,
                                  tally)
    out = workload_search._finish({"finished": True}, tally)
    assert out["finished"] is False and out["problem_count"] == 2
    assert "not seen" in out["invalid"]


def test_walks_keep_the_median_and_stop_at_a_walk_that_did_not_finish() -> None:
    rates = iter([30.0, 10.0, 20.0])
    firsts: list[bool] = []

    def walk(first: bool) -> dict:
        firsts.append(first)
        return {"finished": True, "objects": 5, "seconds": workload.WALK_TIME_S / 2,
                "objects_per_s": next(rates)}

    r = workload._walks(walk)  # three walks: together they took long enough
    assert r["objects_per_s"] == 20.0 and r["walks_per_s"] == [30.0, 10.0, 20.0]
    assert firsts == [True, False, False]  # only the first walk collects the page dates

    outcomes = iter([{"finished": True, "objects": 5, "seconds": 0.1, "objects_per_s": 50.0},
                     {"finished": False, "objects": 2, "seconds": 9.0, "objects_per_s": 0.2,
                      "error": "time budget ran out"}])
    r = workload._walks(lambda first: next(outcomes))
    assert r["finished"] is False and r["error"] and r["walks_per_s"] == [50.0]


def test_walks_stop_once_their_budget_is_spent() -> None:
    calls = []

    def walk(first: bool) -> dict:
        calls.append(first)
        return {"finished": True, "objects": 1, "seconds": workload.WALK_BUDGET_S,
                "objects_per_s": 1.0}

    assert workload._walks(walk)["walks_per_s"] == [1.0] and calls == [True]


def test_short_walks_are_repeated_up_to_the_cap() -> None:
    def walk(first: bool) -> dict:
        return {"finished": True, "objects": 5, "seconds": 0.001, "objects_per_s": 5.0}

    r = workload._walks(walk)
    assert len(r["walks_per_s"]) == workload.MAX_WALKS


class _SlowToMakeClient:
    """A stand-in for httpx.Client that takes `setup` seconds to make (httpx loads a TLS
    context: 25-50 ms) and answers at once."""

    def __init__(self, setup: float) -> None:
        time.sleep(setup)

    def __enter__(self) -> "_SlowToMakeClient":
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def get(self, url: str, **kw: object) -> SimpleNamespace:
        return SimpleNamespace(status_code=200, headers={},
                               content=b'{"more":false,"objects":[{"id":"x"}]}')

    def post(self, url: str, **kw: object) -> SimpleNamespace:
        return SimpleNamespace(status_code=202, text="", content=b'{"id":"s","status":"complete",'
                               b'"success_count":1,"failure_count":0}')


def test_the_clock_starts_after_the_client_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    setup = 0.5
    monkeypatch.setattr(workload, "_client", lambda *a, **kw: _SlowToMakeClient(setup))
    server = SimpleNamespace(objects_url="http://127.0.0.1:1/objects/", auth=("a", "b"),
                             status_url=lambda sid: "http://127.0.0.1:1/status/")
    budget = workload.Budget(60, 60)
    walk = workload._walk(server, server.objects_url, {"limit": 1}, budget, "objects")
    assert walk["finished"] and walk["objects"] == 1 and walk["seconds"] < setup / 2
    ds = SimpleNamespace(envelopes=[b"{}"], metas=[[object()]], n=1, envelope_size=1)
    ingest = workload.ingest(server, ds, budget, lambda *a: None)
    assert ingest["finished"] and ingest["seconds"] < setup / 2

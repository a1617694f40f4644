"""What a lookup and a search cost does not grow with the store: each value's index
entries are read newest first up to the cap (schema 9), a search ranks and counts the
newest FACET_CAP matches.  Shown by the plans each engine makes and by the work it does
(SQLite's virtual machine steps, PostgreSQL's rows scanned), never by timing."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from liaison.storage.sqlite import SQLiteStore
from tests.conftest import NodeFixture
from tests.search.test_index_engines import (
    T1,
    _admin,
    _recorded,
    _rows,
    _sql,
    indicator,
    loaded,
    oid,
    sco,
)

__all__ = ["loaded"]  # a fixture, used by name


def _steps(fx: NodeFixture, run: Any) -> int:
    """SQLite virtual machine steps `run()` made on the store's connection."""
    store = _sql(fx)
    assert isinstance(store, SQLiteStore)
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    conn = store._conn()
    conn.set_progress_handler(count, 1)
    try:
        run()
    finally:
        conn.set_progress_handler(None, 1)
    return steps[0]


def test_a_search_ranks_and_counts_the_newest_matches_up_to_the_cap(
        node_fx: NodeFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages stop at FACET_CAP results, and so does what a search ranks and counts: the
    newest FACET_CAP matches the caller may see (a word found in 60,000 objects of a
    million is not ranked in full).  Here the cap is 6: the best match, the oldest,
    drops out of the ranking once six newer ones exist, and the counts are those six."""
    import liaison.lookup
    import liaison.storage.search_sql

    cid = node_fx.add_collection("Main", "main")
    best = indicator(100, "[domain-name:value = 'k0.example']", "kestrel kestrel kestrel")
    newer = [indicator(101 + n, f"[domain-name:value = 'k{n}.example']",
                       f"kestrel number {n} of a long series of named things") for n in range(8)]
    malware = {"type": "malware", "spec_version": "2.1", "id": oid("malware", 200),
               "created": T1, "modified": T1, "name": "loader", "is_family": True,
               "description": "seen beside kestrel"}
    admin = _admin(node_fx)
    finder = node_fx.node.exchange.finder
    for obj in (best, *newer, malware):  # one envelope each: date order = this order
        node_fx.node.exchange.add_envelope(admin, cid, orjson.dumps({"objects": [obj]}))
    ranked = finder.search(admin, "kestrel")
    assert ranked["results"][0]["id"] == best["id"] and ranked["total"] == 10

    for module in (liaison.storage.search_sql, liaison.lookup):
        monkeypatch.setattr(module, "FACET_CAP", 6)
    ranked = finder.search(admin, "kestrel", facets=True)
    newest_six = {o["id"] for o in (*newer[-5:], malware)}
    assert {r["id"] for r in ranked["results"]} == newest_six
    assert ranked["results"][0]["id"] == newer[-1]["id"]  # the best of those six
    assert (ranked["total"], ranked["total_capped"], ranked["more"]) == (6, True, False)
    assert ranked["facets"]["type"] == {"indicator": 5, "malware": 1}
    by_date = finder.search(admin, "kestrel", newest=True, limit=4)
    assert [r["id"] for r in by_date["results"]] == [
        malware["id"], *(o["id"] for o in reversed(newer[-3:]))]
    second = finder.search(admin, "kestrel", newest=True, limit=4, next=by_date["next"])
    assert [r["id"] for r in second["results"]] == [newer[-4]["id"], newer[-5]["id"]]
    assert not second["more"]
    if _sql(node_fx).engine == "sqlite":  # read newest first, stopped at the cap
        few = _steps(node_fx, lambda: finder.search(admin, "kestrel"))
        more = [indicator(300 + n, f"[domain-name:value = 'm{n}.example']", f"kestrel {n}")
                for n in range(60)]
        node_fx.node.exchange.add_envelope(admin, cid, orjson.dumps({"objects": more}))
        many = _steps(node_fx, lambda: finder.search(admin, "kestrel"))
        assert many < 2 * few, (few, many)  # 70 matches cost what 10 did


def _plan(fx: NodeFixture, query: str, params: list[object]) -> str:
    """The engine's plan of `query` (on PostgreSQL with sequential scans off: the tables
    here are tiny, so the plan says what the query *can* use)."""
    store = _sql(fx)
    sqlite = store.engine == "sqlite"
    with store._write() as tx:
        if not sqlite:
            tx.execute("SET LOCAL enable_seqscan = off")
        return str(tx.execute(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + query,
                              params).fetchall())


def test_exact_lookups_read_the_value_index_newest_first(
        loaded: NodeFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Addresses and blocks are found through the range index only, so the value index
    holds no entry for them (one random-key index entry fewer per address ingested).
    Each value's entries are in date order (schema 9: value, date_added), so the lookup
    reads them newest first and stops at its cap: no sort of every mention."""
    sqlite = _sql(loaded).engine == "sqlite"
    definition = _rows(loaded, "SELECT sql FROM sqlite_master WHERE name = "
                       "'observables_by_value'" if sqlite else "SELECT indexdef FROM "
                       "pg_indexes WHERE indexname = 'observables_by_value'")[0][0]
    assert "lo is null" in definition.lower(), definition
    assert "(value, date_added)" in definition, definition
    found, seen = _recorded(loaded, ["one.example", "192.0.2.1"], monkeypatch)
    assert found == [{12}, {13}]
    [(query, params)] = [(q, p) for q, p in seen if "v.value = " in q]
    plan = _plan(loaded, query, params)
    assert "observables_by_value" in plan, plan
    assert ("TEMP B-TREE" if sqlite else "Sort") not in plan, plan
    [(query, params)] = [(q, p) for q, p in seen if "v.lo = " in q]
    plan = _plan(loaded, query, params)
    assert "observables_by_range" in plan, plan
    assert ("TEMP B-TREE" if sqlite else "Sort") not in plan, plan


def _work(fx: NodeFixture, query: str, params: list[object]) -> int:
    """How much the engine did to answer `query`: SQLite's virtual machine steps, or
    the rows PostgreSQL's scans of the observable indexes produced."""
    store = _sql(fx)
    if isinstance(store, SQLiteStore):
        return _steps(fx, lambda: store._conn().execute(query, params).fetchall())
    with store._write() as tx:
        tx.execute("SET LOCAL enable_seqscan = off")
        plan = tx.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + query, params).fetchall()[0][0]

    def scanned(node: dict[str, Any]) -> int:
        own = (node["Actual Rows"] * node["Actual Loops"]
               if str(node.get("Index Name", "")).startswith("observables_by") else 0)
        return own + sum(scanned(n) for n in node.get("Plans", []))
    return scanned(plan[0]["Plan"])


def test_a_lookup_costs_the_same_however_often_a_value_was_seen(
        node_fx: NodeFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """A value mentioned by 600 objects costs a lookup what one mentioned by 30 does: the
    newest 20 come back (and "more"), read newest first from the index, the rest never
    read.  (Before schema 9 every mention was joined and ranked: 20 times the work.)"""
    cid = node_fx.add_collection("Many", "many")
    objects = ([sco("domain-name", n, value="popular.example") for n in range(600)]
               + [sco("domain-name", 1000 + n, value="rare.example") for n in range(30)]
               + [sco("ipv4-addr", 2000 + n, value="198.51.100.7") for n in range(600)]
               + [sco("ipv4-addr", 3000 + n, value="198.51.100.9") for n in range(30)])
    for i in range(0, len(objects), 300):
        node_fx.node.exchange.add_envelope(_admin(node_fx), cid, orjson.dumps(
            {"objects": objects[i : i + 300]}))
    work = {}
    for value, kind, first, count in (("popular.example", "domain-name", 0, 600),
                                      ("rare.example", "domain-name", 1000, 30),
                                      ("198.51.100.7", "ipv4-addr", 2000, 600),
                                      ("198.51.100.9", "ipv4-addr", 3000, 30)):
        [answer] = node_fx.node.exchange.finder.lookup(_admin(node_fx), [value])
        assert answer["more"], value
        assert sorted(h["id"] for h in answer["hits"]) == [  # the newest 20: the last ingested
            oid(kind, n) for n in range(first + count - 20, first + count)]
        _, seen = _recorded(node_fx, [value], monkeypatch)
        [(query, params)] = [(q, p) for q, p in seen if "v.value = " in q or "v.lo = " in q]
        work[value] = _work(node_fx, query, params)
    assert work["popular.example"] < 2 * work["rare.example"], work
    assert work["198.51.100.7"] < 2 * work["198.51.100.9"], work

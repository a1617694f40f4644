"""Sync state: the lease (one syncer at a time), fencing, and checkpoints that move only
with their data — on SQLite and on PostgreSQL — plus a crash at every step boundary
of a pull (reliability reference test 27, goals S1 and S3)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from liaison.errors import LeaseLost
from liaison.node import Node, init_node, upgrade
from liaison.storage.base import Collection, NewVersion, SyncAdvance, SyncFailure, SyncKey
from tests.conftest import database_for
from tests.federation.helpers import BASE_US, Local, ScriptedPartner, indicator

def _pg_store() -> Any:
    from liaison.storage.postgres import PostgresStore
    from tests.conftest import postgres_schema_url

    url = postgres_schema_url()
    return lambda: PostgresStore(url, pool_size=2)


@pytest.fixture(params=["sqlite", "postgres"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """Two store handles on one fresh database, as two processes would have."""
    if request.param == "sqlite":
        init_node(tmp_path / "n", "Org")
        first, second = Node.open(tmp_path / "n").store, Node.open(tmp_path / "n").store
    else:
        make = _pg_store()
        first, second = make(), make()
        upgrade(first)
    first.add_collection(Collection(0, "7a4a0b5e-3a5b-4d51-9d52-3b2a4a43c001", "c", "c"))
    yield first, second
    first.close()
    second.close()


def test_exactly_one_process_holds_a_lease(stores: tuple[Any, Any]) -> None:
    a, b = stores
    cid = a.list_collections()[0].cid
    key = SyncKey("agreement-1", cid, "pull")
    wins: list[str] = []
    barrier = threading.Barrier(8)

    def contend(store: Any, name: str) -> None:
        barrier.wait()
        if store.acquire_sync_lease(key, name, 1000, 10**15):
            wins.append(name)

    threads = [threading.Thread(target=contend, args=(s, f"owner-{i}"))
               for i, s in enumerate([a, b] * 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(wins) == 1
    owner = wins[0]
    assert not b.acquire_sync_lease(key, "late", 2000, 10**15)
    assert a.acquire_sync_lease(key, owner, 2000, 10**15)  # re-entrant for its owner
    assert b.acquire_sync_lease(key, "after-expiry", 10**15 + 1, 10**16)  # expired: taken over
    with pytest.raises(LeaseLost):
        a.advance_sync(SyncAdvance(key, owner, 3000, 10**16, checkpoint=5))
    b.release_sync_lease(key, "after-expiry")
    assert a.acquire_sync_lease(key, "next", 3000, 10**15)


def test_checkpoint_moves_with_its_data_forward_only_and_only_for_the_owner(
        stores: tuple[Any, Any]) -> None:
    a, b = stores
    cid = a.list_collections()[0].cid
    key = SyncKey("agreement-1", cid, "pull")
    assert a.acquire_sync_lease(key, "me", 1, 10**16)
    v = NewVersion(f"indicator--{'0' * 8}-0000-4000-8000-{'0' * 12}", "indicator", 1, "t",
                   b'{"id":"x"}', origin=None, received_via="agreement-1")

    def step(cp: int, owner: str = "me", failures: tuple[SyncFailure, ...] = ()) -> Any:
        return lambda outcomes: SyncAdvance(key, owner, 5, 10**16, checkpoint=cp,
                                            moved=sum(o.stored for o in outcomes),
                                            failures=failures)

    a.add_objects(cid, [v], 100, advance=step(50, failures=(SyncFailure("x--1", "v", "no"),)))
    [state] = a.sync_states("agreement-1")
    assert (state.checkpoint, state.moved, state.failed) == (50, 1, 1)
    a.add_objects(cid, [], 200, advance=step(40))  # never backwards
    assert a.sync_states("agreement-1")[0].checkpoint == 50
    other = NewVersion(v.id, "indicator", 2, "t2", b'{"id":"y"}')
    with pytest.raises(LeaseLost):  # not the owner: the data is rolled back with it
        b.add_objects(cid, [other], 300, advance=step(90, owner="intruder"))
    assert [r[0] for r in a.provenance(cid, v.id)] == ["t"]
    assert a.provenance(cid, v.id)[0][3] == "agreement-1"
    assert a.sync_states("agreement-1")[0].checkpoint == 50
    assert [f.message for f in a.sync_failures(key)] == ["no"]


class Crash(BaseException):
    """The process dies here (not an Exception: nothing may catch it)."""


def test_a_crash_at_every_step_boundary_resumes_with_no_gap_and_no_duplicate(
        engine: str, tmp_path: Path) -> None:
    """Kill the puller before each request and inside each page's transaction; after
    every crash the next run converges, re-fetching at most one already-stored page."""
    from tests.federation.helpers import make_local

    crashes = 0
    for point in range(1, 7):  # 5 pages: 5 requests and 5 commits, then no crash
        for where in ("request", "commit"):
            home = tmp_path / f"{where}-{point}"
            local = make_local(home, database=database_for(engine, home))
            try:
                source = ScriptedPartner([indicator(local.partner_org, i) for i in range(50)])
                crashed = _run_with_crash(local, source, point, where)
                crashes += crashed
                before = local.state().checkpoint
                seen = len(source.requests)
                r = local.syncer(source.transport(), page_size=10).run_once()[0]
                assert r.caught_up and r.error is None
                assert local.ids() == [o["id"] for o in source.objects]  # none missing, no extra
                assert len(set(local.versions())) == len(local.versions())
                refetched = sum(1 for q in source.requests[seen:]
                                if _start(q) < ((before or BASE_US - 1) - BASE_US + 1))
                assert refetched <= 1
            finally:
                local.node.close()
    assert crashes == 10


def _start(request: Any) -> int:
    from liaison.stix.timestamps import parse_timestamp

    q = request.url.params
    if "next" in q:
        return int(q["next"])
    return parse_timestamp(q["added_after"]) - BASE_US + 1 if "added_after" in q else 0


def _run_with_crash(local: Local, source: ScriptedPartner, point: int, where: str) -> bool:
    calls = {"request": 0, "commit": 0}
    original_receive = local.exchange.receive

    def counting_receive(access: Any, agreement_id: str, objects: Any, now: int,
                         advance: Any) -> Any:
        def dying_advance(report: Any) -> Any:
            calls["commit"] += 1
            if where == "commit" and calls["commit"] == point:
                raise Crash()
            return advance(report)
        return original_receive(access, agreement_id, objects, now, dying_advance)

    def dying_handle(request: Any) -> Any:
        calls["request"] += 1
        if where == "request" and calls["request"] == point:
            raise Crash()
        return ScriptedPartner.handle(source, request)

    local.exchange.receive = counting_receive
    transport = httpx.MockTransport(dying_handle)
    try:
        local.syncer(transport, page_size=10).run_once()
        crashed = False
    except Crash:
        crashed = True
        # The dead process's lease: the next run (a new process) must wait for it to
        # expire; here we end it as the expiry would.
        local.node.store.release_sync_lease(local.state().key, local.state().lease_owner or "")
    finally:
        local.exchange.receive = original_receive
    return crashed

"""Two real `liaison serve` processes on 127.0.0.1 (separate homes and ports) that
share a collection under a bilateral agreement: pull and push both ways, withheld
material never arrives, the partner going down mid-sync, revocation, and the
scheduler `liaison serve` runs in the background.  Each test is bounded in time."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from liaison.cli.sync_cmds import render_status, status_rows
from tests.federation.pair import crash_and_revive, pair, partner_auth

BOUND = 150.0


@pytest.fixture(autouse=True)
def _bounded() -> Iterator[None]:
    started = time.monotonic()
    yield
    assert time.monotonic() - started < BOUND


def _ids(versions: list[tuple[str, str]]) -> set[str]:
    return {i for i, _v in versions}


def test_pull_and_push_both_ways_and_what_is_withheld_never_arrives(tmp_path: Path) -> None:
    with pair(tmp_path) as (north, south):
        n_ok, n_held = north.sample(1)
        s_ok, s_held = south.sample(2)
        north.add(n_ok + n_held)
        south.add(s_ok + s_held)
        run = north.sync()  # north pulls from south and pushes to north's released set
        assert run.returncode == 0, run.stdout + run.stderr
        assert "pull shared from south" in run.stdout and "push shared to south" in run.stdout
        at_north, at_south = _ids(north.versions()), _ids(south.versions())
        assert {o["id"] for o in s_ok} <= at_north and {o["id"] for o in n_ok} <= at_south
        assert not {o["id"] for o in s_held} & at_north
        assert not {o["id"] for o in n_held} & at_south
        # Exactly what south releases to north, no more, no duplicate version.
        released = south.versions(as_partner=partner_auth(south, north))
        pulled = [v for v in north.versions() if v[0] in _ids(released)]
        assert sorted(pulled) == sorted(released) and len(set(pulled)) == len(pulled)
        # Later material flows when the other side syncs (south pushes, south pulls).
        later, _ = south.sample(3, 4)
        south.add(later)
        assert south.sync().returncode == 0
        assert {o["id"] for o in later} <= _ids(north.versions())
        node = north.open()
        try:
            c = node.exchange.admin.collection("shared")
            [(_v, _date, origin, via)] = node.store.provenance(c.cid, s_ok[0]["id"])
            assert origin == node.exchange.partners.get("south").id and via == north.agreement
        finally:
            node.close()
        status = north.node.cli_json("partner", "status", "south")
        assert {r["direction"] for r in status} == {"pull", "push"}
        for row in status:
            assert row["last_success"] and row["last_error"] is None and row["lag_seconds"] is not None
        assert sum(r["objects_moved"] for r in status) >= len(s_ok) + len(n_ok)


def test_the_partner_going_down_mid_sync_and_coming_back(tmp_path: Path) -> None:
    env = {"LIAISON_SYNC_PAGE_SIZE": "25"}
    with pair(tmp_path, directions=("push", "pull"), env=env) as (north, south):
        released, _ = south.sample(1, 1500)
        south.add(released)
        proc = north.sync_process()
        deadline = time.monotonic() + 60
        while True:  # wait until the first pages are in, then take the partner down
            state = north.state("pull")
            if state is not None and state.moved > 0:
                break
            assert proc.poll() is None and time.monotonic() < deadline, "no progress"
            time.sleep(0.05)
        # `liaison partner status` shows the running first sync with a progress bar.
        node = north.open()
        try:
            rows = [r for r in status_rows(node.exchange, "south") if r["direction"] == "pull"]
        finally:
            node.close()
        assert rows[0]["running"] and 0 <= rows[0]["progress"] < 1
        assert "syncing now [" in render_status(rows)

        def while_down() -> None:
            assert proc.wait(90) == 1  # retried with backoff, then gave up: error recorded
            state = north.state("pull")
            assert state.last_error and 0 < state.moved < len(released)

        crash_and_revive(south.node, while_down)
        run = north.sync()
        assert run.returncode == 0, run.stdout + run.stderr
        want = south.versions(as_partner=partner_auth(south, north))
        got = north.versions()
        assert sorted(got) == sorted(want) and len(set(got)) == len(got)
        assert north.state("pull").last_error is None


def test_revoking_the_agreement_stops_the_flow(tmp_path: Path) -> None:
    with pair(tmp_path) as (north, south):
        first, _ = south.sample(1, 3)
        south.add(first)
        assert north.sync().returncode == 0
        assert {o["id"] for o in first} <= _ids(north.versions())
        south.node.cli("agreement", "revoke", south.agreement)  # south stops sharing
        later, _ = south.sample(2, 3)
        south.add(later)
        mine, _ = north.sample(3, 2)
        north.add(mine)
        run = north.sync()
        assert run.returncode == 1
        assert "answered 404" in run.stdout  # south no longer shows north the collection
        assert not {o["id"] for o in later} & _ids(north.versions())
        assert not {o["id"] for o in mine} & _ids(south.versions())
        north.node.cli("agreement", "revoke", north.agreement)  # and north's own side
        assert "Nothing to sync" in north.sync().stdout


def test_serve_runs_the_scheduler_in_the_background(tmp_path: Path) -> None:
    env = {"LIAISON_SYNC_INTERVAL_SECONDS": "1"}
    with pair(tmp_path, env=env, serve_args=()) as (north, south):
        n_ok, n_held = north.sample(1, 3)
        s_ok, _ = south.sample(2, 3)
        north.add(n_ok + n_held)
        south.add(s_ok)
        deadline = time.monotonic() + 60
        want_n, want_s = {o["id"] for o in s_ok}, {o["id"] for o in n_ok}
        while not (want_n <= _ids(north.versions()) and want_s <= _ids(south.versions())):
            assert time.monotonic() < deadline, "the background sync did not deliver"
            time.sleep(0.5)
        assert not {o["id"] for o in n_held} & _ids(south.versions())
        assert "Sync:" in north.node.stdout()


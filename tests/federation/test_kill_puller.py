"""SIGKILL the puller (`liaison sync --once`, a real process) at random points of a
large first sync from a real partner node, restart it, and check that it converges to
exactly the released set: no missing, no extra, no duplicate versions (reliability
reference test 27, goal S1).  A few seeded kill points keep it bounded in time.

The kill points are progress points (a number of versions moved), watched through the
store while the puller runs, not delays: on a fast machine a delay lets the whole sync
finish before the kill, and the test would prove nothing about a torn sync."""

from __future__ import annotations

import random
import signal
import subprocess
import time
from pathlib import Path

from tests.federation.pair import Side, pair, partner_auth

KILLS = 4
BOUND = 240.0
WATCH_S = 60.0


def kill_when_moved(side: Side, proc: subprocess.Popen[bytes], target: int) -> int:
    """SIGKILL `proc` once its pull has moved at least `target` versions (or it ended);
    returns the count the store held after the kill."""
    n = side.open()
    try:
        deadline = time.monotonic() + WATCH_S
        while proc.poll() is None and time.monotonic() < deadline:
            state = next((s for s in n.store.sync_states(side.agreement)
                          if s.key.direction == "pull"), None)
            if state is not None and state.moved >= target:
                break
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        n.close()
    state = side.state("pull")
    return 0 if state is None else state.moved


def test_killing_the_puller_at_random_points_converges_exactly(tmp_path: Path) -> None:
    started = time.monotonic()
    rng = random.Random(20261129)
    env = {"LIAISON_SYNC_PAGE_SIZE": "40", "LIAISON_SYNC_LEASE_SECONDS": "1"}
    with pair(tmp_path, directions=("push", "pull"), env=env) as (north, south):
        released, withheld = south.sample(1, 4000)
        # Some objects get a second version, so every version must arrive.
        again = [dict(o, modified="2026-03-01T00:00:00.000Z", name=o["name"] + " (v2)")
                 for o in released[:300]]
        south.add(released + withheld + again)
        want = south.versions(as_partner=partner_auth(south, north))
        assert len(want) == 4300
        partial = []
        targets = sorted(rng.sample(range(1, len(want) - 400), KILLS))
        for target in targets:
            partial.append(kill_when_moved(north, north.sync_process(), target))
            time.sleep(1.1)  # the dead process's lease (1 s) expires
        assert all(0 < moved < len(want) for moved in partial), partial  # every kill tore a sync
        run = north.sync()
        assert run.returncode == 0, run.stdout + run.stderr
        got = north.versions()
        assert len(got) == len(set(got))                 # no duplicate version
        assert sorted(got) == sorted(want)                # none missing, none extra
        assert not {o["id"] for o in withheld} & {i for i, _v in got}
        # The counter moves in the same transactions as the data: exact despite the kills
        # (the TLP definitions came with north's own first page, so they are no-ops).
        assert north.state("pull").moved == len(want)
    assert time.monotonic() - started < BOUND

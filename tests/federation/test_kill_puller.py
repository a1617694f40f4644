"""SIGKILL the puller (`liaison sync --once`, a real process) at random points of a
large first sync from a real partner node, restart it, and check that it converges to
exactly the released set: no missing, no extra, no duplicate versions (reliability
reference test 27, goal S1).  A few seeded kill points keep it bounded in time."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

from tests.federation.pair import pair, partner_auth

KILLS = 4
BOUND = 240.0


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
        for _ in range(KILLS):
            proc = north.sync_process()
            time.sleep(rng.uniform(0.8, 2.5))
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            state = north.state("pull")
            partial.append(0 if state is None else state.moved)
            time.sleep(1.1)  # the dead process's lease (1 s) expires
        assert any(0 < moved < len(want) for moved in partial), partial
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

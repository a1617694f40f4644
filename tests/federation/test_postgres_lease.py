"""Several processes on one PostgreSQL database: only one syncs a given (agreement,
collection, direction) at a time (the lease), and together they converge exactly."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from tests.conftest import postgres_schema_url
from tests.federation.pair import pair, partner_auth


def test_two_sync_processes_on_one_postgres_node_never_work_on_the_same_job(
        tmp_path: Path) -> None:
    started = time.monotonic()
    env = {"LIAISON_SYNC_PAGE_SIZE": "25"}
    north_db = {"north": {"LIAISON_DATABASE": postgres_schema_url()}}
    with pair(tmp_path, directions=("push", "pull"), env=env, env_by_node=north_db) as (
            north, south):
        node = north.open()
        try:
            assert node.store.engine == "postgres"
        finally:
            node.close()
        released, _ = south.sample(1, 2000)
        south.add(released)
        procs = [north.sync_process("--json", stdout=subprocess.PIPE) for _ in range(2)]
        outs = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
        assert [p.returncode for p in procs] == [0, 0]
        [a], [b] = outs
        assert {a["skipped"] is None, b["skipped"] is None} == {True, False}  # one worked
        worker = a if a["skipped"] is None else b
        assert "another process" in (b if worker is a else a)["skipped"]
        assert worker["caught_up"]
        want = south.versions(as_partner=partner_auth(south, north))
        got = north.versions()
        assert sorted(got) == sorted(want) and len(got) == len(set(got))
    assert time.monotonic() - started < 180

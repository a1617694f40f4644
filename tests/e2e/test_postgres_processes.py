"""Two real `liaison serve` processes on one PostgreSQL database behave as one node.

Server A is a plain `liaison serve`; server B is started from a second home holding
a copy of A's settings file (as on a second machine) with `--workers 2`, so three
processes share the database.  Shown here:

- a `next` cursor minted by one process is honoured by the other, and status
  resources are visible from any process;
- concurrent POSTs through both lose nothing and duplicate nothing: a full read finds
  every acknowledged object exactly once, and a reader paging with `added_after`
  while the writes run ends with exactly the same set, in `date_added` order;
- the commit-order case (reliability reference, test 29): a write that has taken an
  earlier `date_added` but not committed yet keeps every later write from committing
  before it, so a reader in between cannot skip it.

Everything runs on 127.0.0.1.  No assertion depends on timing: waits poll for a
state (a backend waiting on a lock) and are bounded only so a bug cannot hang CI.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
import psycopg
import pytest

from liaison.node import Node
from liaison.settings import SETTINGS_FILE
from liaison.taxii.media import TAXII_21
from tests.conftest import needs_postgres, postgres_schema_url
from tests.e2e.server import STARTUP_TIMEOUT, RunningNode, liaison_node, start_server, stop

pytestmark = needs_postgres

HEADERS = {"Accept": TAXII_21, "Content-Type": TAXII_21}
GUARD = 60.0  # seconds: only so that a bug fails instead of hanging; never asserted on


@dataclass
class Cluster:
    a: RunningNode
    b: RunningNode
    url: str
    collection: str

    @property
    def app_name(self) -> str:
        return parse_qs(urlsplit(self.url).query)["application_name"][0]

    def client(self, node: RunningNode) -> httpx.Client:
        return httpx.Client(base_url=node.base_url, auth=node.auth(), headers=HEADERS,
                            timeout=GUARD)

    def path(self, rest: str) -> str:
        return f"/api/collections/{self.collection}/{rest}"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    url = postgres_schema_url()
    with liaison_node(tmp_path / "a", init_args=["--db", url]) as a:
        node = Node.open(a.home)
        try:
            collection = node.exchange.admin.add_collection("Shared", "shared").id
        finally:
            node.close()
        home_b = tmp_path / "b"  # "another machine": the same settings, its own home
        home_b.mkdir()
        shutil.copy(a.home / SETTINGS_FILE, home_b / SETTINGS_FILE)
        b = start_server(home_b, a.init, a.env, ["--workers", "2"], None, STARTUP_TIMEOUT)
        try:
            yield Cluster(a, b, url, collection)
        finally:
            code = stop(b.process)
            assert "Traceback" not in b.stderr(), b.stderr()
            assert code in (0, -15), f"server B exited {code}\n{b.stderr()}"


def indicator(oid: str | None = None, modified: str = "2024-01-01T00:00:00.000Z",
              n: int = 0) -> dict[str, Any]:
    return {"type": "indicator", "spec_version": "2.1",
            "id": oid or f"indicator--{uuid.uuid4()}", "created": "2024-01-01T00:00:00.000Z",
            "modified": modified, "name": f"bad address {n}", "pattern_type": "stix",
            "pattern": f"[ipv4-addr:value = '198.51.100.{n % 250}']",
            "valid_from": "2024-01-01T00:00:00Z"}


def post(http: httpx.Client, c: Cluster, objects: list[dict[str, Any]]) -> dict[str, Any]:
    resp = http.post(c.path("objects/"), content=orjson.dumps({"objects": objects}))
    assert resp.status_code == 202, resp.text
    status: dict[str, Any] = resp.json()
    assert status["failure_count"] == 0, status
    return status


def acknowledged(status: dict[str, Any]) -> set[tuple[str, str]]:
    return {(s["id"], s["version"]) for s in status.get("successes", [])}


def read_manifest(clients: list[httpx.Client], c: Cluster, *, added_after: str | None = None,
                  limit: int = 50) -> list[dict[str, Any]]:
    """Every version after `added_after`, paging with `next` and alternating processes."""
    params: dict[str, Any] = {"limit": limit, "match[version]": "all"}
    if added_after:
        params["added_after"] = added_after
    records: list[dict[str, Any]] = []
    for turn in range(100_000):
        resp = clients[turn % len(clients)].get(c.path("manifest/"), params=params)
        assert resp.status_code == 200, resp.text
        doc = resp.json()
        records += doc.get("objects", [])
        if not doc.get("more"):
            return records
        params = {"limit": limit, "match[version]": "all", "next": doc["next"]}
        if added_after:
            params["added_after"] = added_after
    raise AssertionError("the manifest never ended")


def wait_until(what: str, condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + GUARD
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.02)


def test_cursor_and_status_hand_over_between_processes(cluster: Cluster) -> None:
    c = cluster
    with c.client(c.a) as a, c.client(c.b) as b:
        status = post(a, c, [indicator(n=n) for n in range(25)])
        posted = [oid for oid, _v in sorted(acknowledged(status))]
        assert b.get(f"/api/status/{status['id']}/").json() == status  # made by A, read on B

        first = a.get(c.path("objects/"), params={"limit": 10}).json()
        assert first["more"] is True
        second = b.get(c.path("objects/"), params={"limit": 10, "next": first["next"]}).json()
        third = a.get(c.path("objects/"), params={"limit": 10, "next": second["next"]}).json()
        assert third["more"] is False and "next" not in third
        ids = [o["id"] for page in (first, second, third) for o in page["objects"]]
        assert sorted(ids) == posted and len(set(ids)) == 25

        forged = second["next"][:-2] + ("AA" if not second["next"].endswith("AA") else "BB")
        assert b.get(c.path("objects/"), params={"next": forged}).status_code == 400


def test_concurrent_posts_through_both_processes_lose_and_duplicate_nothing(
        cluster: Cluster) -> None:
    c = cluster
    writers, envelopes, size = 6, 6, 20  # two processes, three writers each
    acked: list[set[tuple[str, str]]] = [set() for _ in range(writers)]
    errors: list[BaseException] = []
    seen: list[dict[str, Any]] = []
    done = threading.Event()

    def write(w: int) -> None:
        try:
            with c.client(c.a if w % 2 == 0 else c.b) as http:
                for e in range(envelopes):
                    base = (w * envelopes + e) * size
                    acked[w] |= acknowledged(
                        post(http, c, [indicator(n=base + i) for i in range(size)]))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    def read() -> None:
        """A puller: `added_after` = the last date_added it has seen, over and over."""
        last: str | None = None
        try:
            with c.client(c.b) as http:
                while True:
                    finished = done.is_set()
                    page = read_manifest([http], c, added_after=last, limit=17)
                    seen.extend(page)
                    if page:
                        last = page[-1]["date_added"]
                    elif finished:
                        return
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
    reader = threading.Thread(target=read)
    reader.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    done.set()
    reader.join()
    assert errors == []

    everything = set().union(*acked)
    assert len(everything) == writers * envelopes * size
    with c.client(c.a) as a, c.client(c.b) as b:
        full = read_manifest([a, b], c, limit=100)
        bodies = []
        params: dict[str, Any] = {"limit": 150}
        for turn in range(1000):
            doc = (a, b)[turn % 2].get(c.path("objects/"), params=params).json()
            bodies += [(o["id"], o["modified"]) for o in doc.get("objects", [])]
            if not doc.get("more"):
                break
            params = {"limit": 150, "next": doc["next"]}
    records = [(r["id"], r["version"]) for r in full]
    assert len(records) == len(set(records)) and set(records) == everything
    dates = [r["date_added"] for r in full]
    assert dates == sorted(dates) and len(set(dates)) == len(dates)
    assert len(bodies) == len(set(bodies)) == len(everything)
    assert [(r["id"], r["version"]) for r in seen] == records  # the puller missed nothing


def _waiting(c: Cluster, watcher: psycopg.Connection[Any], query_like: str) -> bool:
    row = watcher.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
        "AND wait_event_type = 'Lock' AND query LIKE %s", (c.app_name, query_like)).fetchone()
    return bool(row and row[0])


def test_a_later_write_cannot_commit_before_an_earlier_in_flight_one(cluster: Cluster) -> None:
    """Test 29: T1 takes its date_added first and is held before COMMIT; T2 (another
    process) must not become visible with a later date while T1 is in flight, so a
    reader that pages in between, then resumes from where it was, sees both."""
    c = cluster
    x = f"indicator--{uuid.uuid4()}"
    with c.client(c.a) as a, c.client(c.b) as b, \
            psycopg.connect(c.url, autocommit=True,
                            application_name=f"{c.app_name}-watch") as watcher, \
            psycopg.connect(c.url, application_name=f"{c.app_name}-block") as blocker:
        post(a, c, [indicator(x, "2024-01-01T00:00:00.000Z")])
        before = read_manifest([b], c)
        position = before[-1]["date_added"]

        # Hold X's stored row, so T1 (a new version of X) stops at its re-flag UPDATE:
        # after it has taken the ordering lock and its date_added, before COMMIT.
        blocker.execute("SELECT 1 FROM objects WHERE stix_id = %s FOR UPDATE", (x,))
        results: dict[str, Any] = {}

        def t1() -> None:
            results["t1"] = post(a, c, [indicator(x, "2024-02-01T00:00:00.000Z", 1)])

        def t2() -> None:
            with c.client(c.b) as http:
                results["t2"] = post(http, c, [indicator(n=2)])

        first = threading.Thread(target=t1)
        first.start()
        wait_until("T1 to block inside its transaction",
                   lambda: _waiting(c, watcher, "UPDATE objects%"))
        second = threading.Thread(target=t2)
        second.start()
        wait_until("T2 to wait for T1 (or, wrongly, to finish)",
                   lambda: _waiting(c, watcher, "%FOR UPDATE%") or not second.is_alive())
        t2_overtook = not second.is_alive()  # checked at the end, after the reads

        between = read_manifest([b], c, added_after=position)  # a puller reads now
        if between:
            position = between[-1]["date_added"]
        blocker.rollback()  # T1 may go on; T2 follows it
        first.join(GUARD)
        second.join(GUARD)
        assert set(results) == {"t1", "t2"}

        resumed = read_manifest([a], c, added_after=position)  # ... and resumes later
        everything = read_manifest([a, b], c)
        assert before + between + resumed == everything  # nothing skipped, nothing twice
        assert not t2_overtook, "T2 committed while T1, with an earlier date, was in flight"
        assert between == []
        versions = [(r["id"], r["version"]) for r in resumed]
        t1_ack, t2_ack = acknowledged(results["t1"]), acknowledged(results["t2"])
        assert versions == [*sorted(t1_ack), *sorted(t2_ack)]  # T1's date is the earlier

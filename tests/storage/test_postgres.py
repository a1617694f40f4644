"""PostgreSQL-only behaviour of `liaison.storage.postgres` (the shared behaviour is in
the contract suite)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from liaison.node import Node, init_node
from liaison.policy.model import Terms, Visibility
from liaison.storage.base import ObjectQuery, Principal
from liaison.storage.postgres import _GROWING, PostgresStore
from liaison.storage.sql import page_sql
from tests.conftest import needs_postgres, postgres_schema_url

pytestmark = needs_postgres


@dataclass
class PgNode:
    url: str
    node: Node
    store: PostgresStore
    admin: Principal
    cid: str  # the collection "main"

    def add(self, objects: list[dict[str, Any]]) -> None:
        body = self.node.exchange.add_envelope(self.admin, self.cid,
                                               orjson.dumps({"objects": objects}))
        assert orjson.loads(body)["success_count"] == len(objects)


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[PgNode]:
    url = postgres_schema_url()
    init_node(tmp_path, "Org", database=url)
    node = Node.open(tmp_path)
    try:
        store, admin = node.store, node.store.principal_by_name("admin")
        assert isinstance(store, PostgresStore) and admin is not None
        yield PgNode(url, node, store, admin, node.exchange.admin.add_collection("Main").id)
    finally:
        node.close()


def _analysed(url: str) -> set[str]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("SELECT relname FROM pg_stat_user_tables WHERE schemaname = "
                            "current_schema() AND last_analyze IS NOT NULL").fetchall()
    return {name for (name,) in rows}


def test_statistics_follow_bulk_growth_of_every_growing_table(pg: PgNode) -> None:
    """After bulk growth the store analyses the objects and everything that grows with
    them, on a background thread: with the estimates of an empty `observables` a batch lookup scanned the table
    (4.7 s per 1,000 values at 1M objects in the benchmark)."""
    pg.store._analyze_at = 5  # as after ~20 % growth of a big table
    assert _analysed(pg.url).isdisjoint(_GROWING)
    pg.add([{"type": "ipv4-addr", "spec_version": "2.1",
             "id": f"ipv4-addr--00000000-0000-4000-8000-{n:012d}",
             "value": f"192.0.2.{n}"} for n in range(10)])
    analyzer = pg.store._analyzer  # in the background: the POST does not wait for it
    assert analyzer is not None
    analyzer.join(timeout=30)
    assert set(_GROWING) <= _analysed(pg.url)


def test_a_partner_page_probes_markings_per_row(pg: PgNode) -> None:
    """The marking rule of a partner's page is an index probe per candidate row, not a
    hash of the whole `object_markings` table built for every page (which made each
    page cost time proportional to the store), and no JIT compiles the page."""
    statement = {"type": "marking-definition", "spec_version": "2.1",
                 "id": "marking-definition--00000000-0000-4000-8000-00000000000a",
                 "created": "2024-01-01T00:00:00.000Z", "definition_type": "statement",
                 "definition": {"statement": "Copyright Org"}}
    pg.add([statement] + [
        {"type": "ipv4-addr", "spec_version": "2.1",
         "id": f"ipv4-addr--00000000-0000-4000-8000-{n:012d}",
         "value": f"10.{n // 65536}.{n // 256 % 256}.{n % 256}",
         "object_marking_refs": [statement["id"]]} for n in range(3000)])
    coll = pg.store.collection(pg.cid)
    assert coll is not None
    vis = Visibility("partner-id", "identity--5eed0000-0000-4000-8000-00000000beef", 2,
                     (Terms("agreement-id", 2, False),))
    query, params = page_sql(ObjectQuery(cid=coll.cid, limit=100, visibility=vis), "%s")
    with psycopg.connect(pg.url, autocommit=True) as conn:
        conn.execute("ANALYZE")
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN " + query, params))
    assert "Seq Scan on object_markings" not in plan, plan
    with pg.store._conn() as conn:
        assert conn.execute("SHOW jit").fetchone() == ("off",)

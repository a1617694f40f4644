"""Shared fixtures: a fresh node per test, its ASGI client, and principals.

`engine` is parametrised over the storage engines: every test that uses a node runs
against each engine.  PostgreSQL is the server on 127.0.0.1:5432 (or
$LIAISON_TEST_POSTGRES, an admin URL); each `database_for` call gets a fresh, migrated
schema of the database `liaison_test`, private to the test (see `_Schemas`: emptied
and reused after the test, dropped at the end of the session).
Without a reachable server the PostgreSQL cases skip, saying why — unless
LIAISON_REQUIRE_POSTGRES=1 (CI: `.ci/run`), which makes the run fail at once.
"""

from __future__ import annotations

import base64
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from starlette.testclient import TestClient

from liaison.node import Node, init_node
from liaison.taxii.app import create_app
from liaison.taxii.media import TAXII_21

PG_ADMIN_URL = os.environ.get("LIAISON_TEST_POSTGRES",
                              "postgresql://postgres@127.0.0.1:5432/postgres")
PG_TEST_DB = "liaison_test"
REQUIRE_POSTGRES = os.environ.get("LIAISON_REQUIRE_POSTGRES") == "1"
_SCHEMA_PREFIX = "t_"
_STALE_SECONDS = 6 * 3600


def _with_db(url: str, dbname: str, **query: str) -> str:
    """`url` pointing at `dbname`, with extra connection parameters."""
    parts = urlsplit(url)
    extra = "&".join(f"{k}={quote(v, safe='')}" for k, v in query.items())
    joined = "&".join(q for q in (parts.query, extra) if q)
    return urlunsplit((parts.scheme, parts.netloc, "/" + dbname, joined, ""))


def _postgres_problem() -> str | None:
    """None when the test server answers (and has `liaison_test`); else why not."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - psycopg is a dependency
        return f"psycopg is not installed ({exc})"
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=5, autocommit=True) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (PG_TEST_DB,)).fetchone() is None:
                try:
                    conn.execute(f'CREATE DATABASE "{PG_TEST_DB}"')
                except psycopg.errors.DuplicateDatabase:  # another session made it
                    pass
    except psycopg.Error as exc:
        return f"no PostgreSQL server at {PG_ADMIN_URL}: {' '.join(str(exc).split())}"
    return None


POSTGRES_PROBLEM = _postgres_problem()
if POSTGRES_PROBLEM is not None and REQUIRE_POSTGRES:
    raise RuntimeError(
        "LIAISON_REQUIRE_POSTGRES=1 but the PostgreSQL tests cannot run: start a server on "
        "127.0.0.1:5432 (as .ci/run does) or unset LIAISON_REQUIRE_POSTGRES.  Reason: "
        f"{POSTGRES_PROBLEM}")

needs_postgres = pytest.mark.skipif(
    POSTGRES_PROBLEM is not None,
    reason=f"PostgreSQL tests skipped: {POSTGRES_PROBLEM} "
    "(set LIAISON_TEST_POSTGRES to an admin URL, or LIAISON_REQUIRE_POSTGRES=1 to fail)")
"""Skip a PostgreSQL-only test on a machine without the server, as the README promises;
CI sets LIAISON_REQUIRE_POSTGRES=1, so there a missing server fails the run instead."""

ENGINES: list[Any] = ["sqlite", pytest.param("postgres", marks=needs_postgres)]
_pg_admin: Any = None


def _admin() -> Any:
    """One autocommit connection to `liaison_test` for making and recycling schemas."""
    global _pg_admin
    if _pg_admin is None or _pg_admin.closed:
        import psycopg

        _pg_admin = psycopg.connect(_with_db(PG_ADMIN_URL, PG_TEST_DB), autocommit=True)
        _pg_admin.execute("SET lock_timeout = '10s'")
        _sweep_stale_schemas(_pg_admin)
    return _pg_admin


def _sweep_stale_schemas(conn: Any) -> None:
    """Drop schemas left by crashed runs (named t_<epoch>_<random>, older than 6 h)."""
    cutoff = int(time.time()) - _STALE_SECONDS
    for (name,) in conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\\_%'"
                                ).fetchall():
        stamp = name.split("_")[1] if name.count("_") >= 2 else ""
        if stamp.isdigit() and int(stamp) < cutoff:
            conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def _schema_url(name: str) -> str:
    return _with_db(PG_ADMIN_URL, PG_TEST_DB, options=f"-csearch_path={name}",
                    application_name=name)


class _Schemas:
    """Fresh, migrated PostgreSQL schemas, one per `database_for` call.

    Creating tables costs ~10 ms each on a slow disk, so a schema is migrated once
    (by the real `liaison.node.upgrade`) and, after the test, emptied back to the
    state of a pristine migrated template — rows and sequences — and reused.  A schema
    whose tables or migrations differ from the template (a test dropped or added
    something) is dropped instead.  Every schema is dropped at the end of the session.
    """

    def __init__(self) -> None:
        self.template: str | None = None
        self.tables: list[str] = []
        self.free: list[str] = []
        self.used: list[str] = []

    def _create(self) -> str:
        from liaison.node import upgrade
        from liaison.storage.postgres import PostgresStore

        name = f"{_SCHEMA_PREFIX}{int(time.time())}_{secrets.token_hex(6)}"
        _admin().execute(f'CREATE SCHEMA "{name}"')
        store = PostgresStore(_schema_url(name), pool_size=1)
        try:
            upgrade(store)
        finally:
            store.close()
        return name

    def _layout(self, name: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        conn = _admin()
        tables = [t for (t,) in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind = 'r' ORDER BY c.oid DESC", (name,))]
        applied = conn.execute(f'SELECT version, name FROM "{name}".schema_migrations '
                               "ORDER BY version").fetchall() if "schema_migrations" in tables else []
        return tables, applied

    def take(self) -> str:
        if self.template is None:
            self.template = self._create()
            self.tables = self._layout(self.template)[0]
        name = self.free.pop() if self.free else self._create()
        self.used.append(name)
        return name

    def _recycle(self, name: str) -> bool:
        """Empty `name` back to the template's rows; False if it no longer matches."""
        assert self.template is not None
        if self._layout(name) != self._layout(self.template):
            return False
        conn = _admin()
        with conn.transaction():
            for table in self.tables:  # newest first: referencing before referenced
                conn.execute(f'DELETE FROM "{name}"."{table}"')
            for table in reversed(self.tables):
                conn.execute(f'INSERT INTO "{name}"."{table}" '
                             f'SELECT * FROM "{self.template}"."{table}"')
            for (seq,) in conn.execute("SELECT sequencename FROM pg_sequences "
                                       "WHERE schemaname = %s", (name,)).fetchall():
                conn.execute(f'SELECT setval(\'"{name}"."{seq}"\', 1, false)')
        return True

    def release_used(self) -> None:
        while self.used:
            name = self.used.pop()
            try:
                if self._recycle(name):
                    self.free.append(name)
                    continue
            except Exception:  # noqa: BLE001 - a schema that cannot be emptied is dropped
                pass
            self._drop(name)

    def drop_all(self) -> None:
        self.release_used()
        for name in [*self.free, *([self.template] if self.template else [])]:
            self._drop(name)
        self.free.clear()
        self.template = None

    @staticmethod
    def _drop(name: str) -> None:
        try:
            _admin().execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        except Exception as exc:  # a leaked connection holds a lock: the sweep gets it later
            import warnings

            warnings.warn(f"could not drop test schema {name}: {exc}", stacklevel=1)


_schemas = _Schemas()


def postgres_schema_url() -> str:
    """The URL of a fresh, migrated schema of `liaison_test`, private to this test."""
    if POSTGRES_PROBLEM is not None:
        pytest.fail(f"PostgreSQL is needed here but {POSTGRES_PROBLEM}")
    return _schema_url(_schemas.take())


@pytest.fixture(autouse=True)
def _release_postgres_schemas() -> Iterator[None]:
    """Give back the schemas the test used (after its own fixtures closed them)."""
    yield
    if _schemas.used:
        _schemas.release_used()


@pytest.fixture(autouse=True, scope="session")
def _drop_postgres_schemas() -> Iterator[None]:
    yield
    if _schemas.template is not None:
        _schemas.drop_all()


def basic(name: str, token: str) -> dict[str, str]:
    raw = base64.b64encode(f"{name}:{token}".encode()).decode()
    return {"Authorization": f"Basic {raw}", "Accept": TAXII_21}


@dataclass
class NodeFixture:
    home: Path
    node: Node
    admin_token: str
    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, name: str = "admin") -> dict[str, str]:
        token = self.admin_token if name == "admin" else self.tokens[name]
        return basic(name, token)

    def add_user(self, name: str, role: str = "analyst") -> str:
        cred = self.node.exchange.admin.add_user(name, role)
        self.tokens[name] = cred.token
        return cred.token

    def add_collection(self, title: str, alias: str | None = None) -> str:
        return self.node.exchange.admin.add_collection(title, alias).id


def database_for(engine: str, tmp_path: Path) -> str | None:
    """The `--db` URL of a fresh database for `engine` (None: SQLite in the home)."""
    if engine == "sqlite":
        return None
    if engine == "postgres":
        return postgres_schema_url()
    raise AssertionError(f"unknown engine {engine}")


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def node_fx(engine: str, tmp_path: Path) -> Iterator[NodeFixture]:
    home = tmp_path / "node"
    result = init_node(home, "Test Org", database=database_for(engine, tmp_path))
    node = Node.open(home)
    with TestClient(create_app(node), base_url="http://testserver") as client:
        yield NodeFixture(home, node, result.admin_token, client)
    node.close()

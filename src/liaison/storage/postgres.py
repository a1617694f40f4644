"""The server engine: PostgreSQL through psycopg 3 and a connection pool.

Any number of server processes may share one database and behave as one node
(DESIGN principle 5): cursor keys, status resources and every object live in the
database; a process keeps nothing a request depends on.

Each `Store` method is one transaction on a pooled connection (autocommit for single
reads, `BEGIN … COMMIT` for writes).  An insert is a handful of round trips whatever
its size: rows go in with one binary COPY, flags are fixed with one UPDATE over
arrays.  Inside `unit(...)` (`storage.audit_sql`) write methods join the unit's
transaction, so a change and its audit entry commit together; any lock taken below
is then held until that transaction commits.

**Ordering under concurrency** (TAXII 2.1 §3.4.2 `added_after`, §3.5 pagination;
reliability reference, tests 28 and 29).  `date_added` is node-wide strictly
increasing, exactly as on SQLite: an insert assigns max(now, last + 1), +1 per row,
from the high-water mark in meta 'last_date_added'.  Here every transaction that
assigns dates (or deletes versions) first takes the row lock on that meta row
(`SELECT … FOR UPDATE`) and holds it until COMMIT.  Hence:

- no two transactions assign dates at the same time, so dates never collide;
- a transaction reads the mark only after the previous holder has committed (or
  rolled back, in which case its dates were never visible), so dates are handed out
  in commit order: if row a has a smaller `date_added` than row b, a's transaction
  committed before b's transaction could even read the mark;
- PostgreSQL makes a transaction visible before it releases its locks, so any
  snapshot that shows b also shows a.

So a reader that has seen `date_added` d (as `X-TAXII-Date-Added-Last`, or inside a
`next` cursor) can never later find a newly committed row with a date ≤ d: paging
with `added_after` or `next` skips nothing, in any process.  The price is that
inserts are serialised node-wide, one short transaction at a time (the same as
SQLite's single writer); the lock is held only for the insert itself, never across
requests, and readers never wait for it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace

import psycopg
from psycopg import sql as pgsql
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from liaison.errors import ConfigError, Unavailable
from liaison.storage import migrations, sql, versions
from liaison.storage.audit_sql import AuditSQL
from liaison.storage.registry import RegistrySQL
from liaison.storage.search_sql import SearchSQL
from liaison.storage.syncstate import SyncStateSQL
from liaison.storage.base import (
    AdvanceMaker,
    Collection,
    Grant,
    NewVersion,
    ObjectQuery,
    ObjectRow,
    Page,
    Principal,
    StatusMaker,
    StatusRecord,
    StoredOutcome,
    VersionFilter,
)

_PRINCIPAL_COLS = "id, name, kind, role, created_at, revoked_at"
_COLLECTION_COLS = "cid, id, title, alias, description, created_at, default_tlp"
_OBJECT_COLS = ("date_added", "cid", "stix_id", "type", "version", "version_text",
                "is_latest", "is_first", "body", "tlp", "restricted", "public", "origin",
                "ref_a", "ref_b", "received_via")
_OBJECT_TYPES = ["bigint", "bigint", "text", "text", "bigint", "text", "smallint",
                 "smallint", "bytea", "integer", "smallint", "smallint", "text", "text", "text",
                 "text"]
_LOCK_ORDER = "SELECT value FROM meta WHERE key = 'last_date_added' FOR UPDATE"
_MIGRATION_LOCK = 0x4C49_4149_534F_4E  # pg_advisory_xact_lock key: "LIAISON"
_NUL = "\x00"
"""PostgreSQL text cannot hold U+0000; stored keys never contain it (the parser rejects
it), so a lookup key that does matches nothing — as on SQLite."""
_GROWING = ("objects", "object_markings", "observables", "search_text")
"""The tables that grow with every stored object (their statistics must follow)."""


def _configure(conn: psycopg.Connection) -> None:
    """Per connection: no JIT.  A page (`LIMIT 1001`) over a large collection is costed
    as the whole ordered walk, far above `jit_above_cost`, and PostgreSQL then spends
    ≈ 850 ms compiling a query that runs in 40 ms (a partner's page at 300k objects)."""
    conn.execute("SET jit = off")


def _describe(url: str) -> str:
    """Where the URL points, without credentials (for messages a person reads)."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the configured URL"
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    return f"{host}:{port}/{parts.get('dbname') or parts.get('user') or ''}"


def _has_nul(params: Sequence[object]) -> bool:
    return any(isinstance(p, str) and _NUL in p for p in params)


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


class PostgresStore(AuditSQL, RegistrySQL, SearchSQL, SyncStateSQL):
    """`Store` on PostgreSQL (see `storage.base.Store` for the contract)."""

    engine = "postgres"
    _mark = "%s"
    _lock_head = " FOR UPDATE"

    def __init__(self, url: str, *, pool_size: int = 10) -> None:
        self.url = url
        self._where = _describe(url)
        self._tx: ContextVar[psycopg.Cursor | None] = ContextVar(f"pg-tx-{id(self)}", default=None)
        self._since_analyze = 0
        self._analyze_at = 10_000
        self._analyze_lock = threading.Lock()
        self._analyzer: threading.Thread | None = None
        try:  # a direct probe gives a clear reason; a pool would only time out
            psycopg.connect(url, connect_timeout=10, autocommit=True).close()
        except psycopg.Error as exc:
            raise ConfigError(f"cannot connect to PostgreSQL at {self._where}: "
                              f"{_reason(exc)}") from None
        self._pool = ConnectionPool(url, min_size=1, max_size=max(1, pool_size), timeout=30,
                                    kwargs={"autocommit": True}, configure=_configure,
                                    open=True, name=f"liaison {self._where}")

    # -- connections ----------------------------------------------------------
    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection]:
        """A pooled connection in autocommit: each statement is its own transaction."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except PoolTimeout:
            raise Unavailable("every database connection is busy; try again") from None
        except psycopg.OperationalError as exc:
            raise Unavailable(f"the database at {self._where} is unavailable "
                              f"({_reason(exc)}); try again") from None

    @contextmanager
    def _write(self) -> Iterator[psycopg.Cursor]:
        """One write transaction: committed on success, rolled back on any exception.
        A nested call joins the transaction already open in this context (see `unit`)."""
        current = self._tx.get()
        if current is not None:
            yield current
            return
        with self._conn() as conn, conn.transaction(), conn.cursor(binary=True) as cur:
            token = self._tx.set(cur)
            try:
                yield cur
            finally:
                self._tx.reset(token)
        self._maybe_analyze()

    # Single reads.  Lookups are by key, and no stored text holds U+0000, so a key with
    # one matches nothing: answer that without asking (PostgreSQL could not take it).
    def _one(self, query: str, params: Sequence[object] = ()) -> tuple | None:  # type: ignore[type-arg]
        if _has_nul(params):
            return None
        current = self._tx.get()
        if current is not None:  # inside a unit: read what it has written so far
            return current.execute(query, params).fetchone()
        with self._conn() as conn:
            return conn.execute(query, params).fetchone()

    def _all(self, query: str, params: Sequence[object] = ()) -> list[tuple]:  # type: ignore[type-arg]
        if _has_nul(params):
            return []
        current = self._tx.get()
        if current is not None:
            return current.execute(query, params).fetchall()
        with self._conn() as conn:
            return conn.execute(query, params).fetchall()

    def close(self) -> None:
        if self._analyzer is not None:  # let a running ANALYZE finish with the pool open
            self._analyzer.join(timeout=60)
        self._pool.close()

    # -- schema -----------------------------------------------------------------
    def applied_migrations(self) -> set[int]:
        """Read-only: a database without the record table has no migration applied."""
        with self._conn() as conn:
            if conn.execute("SELECT to_regclass('schema_migrations')").fetchone() == (None,):
                return set()
            return {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}

    def apply_migration(self, migration: migrations.Migration, now: int) -> None:
        """Apply one migration and record it, in one transaction (DDL is transactional).

        An advisory lock makes concurrent `liaison db upgrade` runs take turns; a
        migration another run already recorded is skipped.
        """
        with self._write() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            cur.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER "
                        "PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)")
            cur.execute("SELECT 1 FROM schema_migrations WHERE version = %s",
                        (migration.version,))
            if cur.fetchone() is not None:
                return
            for statement in migrations.split_statements(migration.sql):
                cur.execute(statement)  # type: ignore[arg-type]
            cur.execute("INSERT INTO schema_migrations (version, name, applied_at) "
                        "VALUES (%s, %s, %s)", (migration.version, migration.name, now))

    def reset(self) -> None:
        """Drop the node's tables (those our migrations create), nothing else."""
        names = {"schema_migrations"}
        for m in migrations.available(self.engine):
            names.update(re.findall(r"CREATE TABLE (?:IF NOT EXISTS )?(\w+)", m.sql, re.I))
        with self._write() as cur:
            for name in sorted(names):
                cur.execute(pgsql.SQL("DROP TABLE IF EXISTS {} CASCADE").format(
                    pgsql.Identifier(name)))

    # -- node metadata ----------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM meta WHERE key = %s", (key,))
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as cur:
            cur.execute("INSERT INTO meta (key, value) VALUES (%s, %s) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (key, value))

    # -- principals -----------------------------------------------------------
    def add_principal(self, principal: Principal, token_hash: str) -> None:
        with self._write() as cur:
            cur.execute(
                f"INSERT INTO principals ({_PRINCIPAL_COLS}, token_hash) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (principal.id, principal.name, principal.kind, principal.role,
                 principal.created_at, principal.revoked_at, token_hash))

    def _principal_where(self, column: str, value: str) -> Principal | None:
        row = self._one(f"SELECT {_PRINCIPAL_COLS} FROM principals WHERE {column} = %s",
                        (value,))
        return Principal(*row) if row else None

    def principal_by_token(self, token_hash: str) -> Principal | None:
        return self._principal_where("token_hash", token_hash)

    def principal_by_name(self, name: str) -> Principal | None:
        return self._principal_where("name", name)

    def list_principals(self) -> list[Principal]:
        rows = self._all(f'SELECT {_PRINCIPAL_COLS} FROM principals ORDER BY name')
        return [Principal(*r) for r in rows]

    def revoke_principal(self, principal_id: str, at: int) -> None:
        with self._write() as cur:
            cur.execute("UPDATE principals SET revoked_at = %s "
                        "WHERE id = %s AND revoked_at IS NULL", (at, principal_id))

    # -- collections and grants -------------------------------------------------
    def add_collection(self, collection: Collection) -> Collection:
        with self._write() as cur:
            cur.execute(
                "INSERT INTO collections (id, title, alias, description, created_at, "
                "default_tlp) VALUES (%s, %s, %s, %s, %s, %s) RETURNING cid",
                (collection.id, collection.title, collection.alias, collection.description,
                 collection.created_at, collection.default_tlp))
            row = cur.fetchone()
        assert row is not None
        return replace(collection, cid=int(row[0]))

    def list_collections(self) -> list[Collection]:
        return [Collection(*r) for r in
                self._all(f"SELECT {_COLLECTION_COLS} FROM collections ORDER BY cid")]

    def collection(self, id_or_alias: str) -> Collection | None:
        row = self._one(
            f"SELECT {_COLLECTION_COLS} FROM collections WHERE id = %s OR alias = %s "
            "ORDER BY id = %s DESC LIMIT 1", (id_or_alias, id_or_alias, id_or_alias))
        return Collection(*row) if row else None

    def set_grant(self, cid: int, principal_id: str, can_read: bool, can_write: bool) -> None:
        with self._write() as cur:
            cur.execute(
                "INSERT INTO grants (cid, principal_id, can_read, can_write) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (cid, principal_id) DO UPDATE SET "
                "can_read = excluded.can_read, can_write = excluded.can_write",
                (cid, principal_id, bool(can_read), bool(can_write)))

    def remove_grant(self, cid: int, principal_id: str) -> bool:
        with self._write() as cur:
            cur.execute("DELETE FROM grants WHERE cid = %s AND principal_id = %s",
                        (cid, principal_id))
            return cur.rowcount > 0

    def grants_of(self, principal_id: str) -> dict[int, tuple[bool, bool]]:
        rows = self._all("SELECT cid, can_read, can_write FROM grants WHERE principal_id = %s",
                         (principal_id,))
        return {int(cid): (bool(r), bool(w)) for cid, r, w in rows}

    def list_grants(self) -> list[Grant]:
        rows = self._all(
            "SELECT c.id, g.principal_id, g.can_read, g.can_write FROM grants g "
            'JOIN collections c ON c.cid = g.cid ORDER BY c.cid, g.principal_id')
        return [Grant(c, p, bool(r), bool(w)) for c, p, r, w in rows]

    # -- objects ----------------------------------------------------------------
    def add_objects(
        self,
        cid: int,
        new: Sequence[NewVersion],
        now: int,
        make_status: StatusMaker | None = None,
        advance: AdvanceMaker | None = None,
    ) -> list[StoredOutcome]:
        """Store versions (see `versions.plan_insert`) under the ordering lock, with the
        status resource and the sync checkpoint (`advance`) in the same transaction."""
        with self._write() as cur:
            last = self._lock_order(cur) if new else 0
            existing = self._existing_versions(cur, cid, {v.id for v in new})
            plan = versions.plan_insert(new, existing, now, last)
            if plan.rows:
                self._copy_rows(cur, cid, plan.rows)
                self._add_index(cur, plan.rows)
            if plan.reflag:
                sids = list(plan.reflag)
                cur.execute(
                    "UPDATE objects o SET is_latest = (o.version = f.hi)::int, "
                    "is_first = (o.version = f.lo)::int "
                    "FROM unnest(%s::text[], %s::bigint[], %s::bigint[]) AS f (sid, lo, hi) "
                    "WHERE o.cid = %s AND o.stix_id = f.sid AND (o.is_latest, o.is_first) "
                    "IS DISTINCT FROM ((o.version = f.hi)::int, (o.version = f.lo)::int)",
                    (sids, [plan.reflag[s][0] for s in sids], [plan.reflag[s][1] for s in sids],
                     cid))
            if plan.rows:
                cur.execute("UPDATE meta SET value = %s WHERE key = 'last_date_added'",
                            (str(plan.last_date_added),))
            if advance is not None:
                self._advance_sync(cur, advance(plan.outcomes))
            if make_status is not None:
                status = make_status(plan.outcomes)
                cur.execute(
                    "INSERT INTO statuses (id, principal_id, cid, created_at, body) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    (status.id, status.principal_id, status.cid, status.created_at,
                     status.body))
        self._keep_statistics(len(plan.rows))
        return plan.outcomes

    def _keep_statistics(self, inserted: int) -> None:
        """ANALYZE after bulk growth, so the planner keeps choosing the id, type and value
        indexes: autovacuum can lag a minute behind a large import, and with the stale
        estimates of an empty table a single-object GET walks the date index (ms → 0.2 ms)
        and a lookup of 1,000 values scans the observables (4.7 s → 74 ms at 1M objects).
        Every table that grows with the objects is analysed (`_GROWING`).  Runs outside
        any transaction, at most once per ~20 % growth of the objects table."""
        self._since_analyze += inserted

    def _maybe_analyze(self) -> None:
        """Called after the outermost transaction committed (see `_write`): starts the
        ANALYZE on a background thread, one at a time, so that no request waits for it
        (≈ 0.5 s per growth step at 300k objects, paid by the POST that crossed the
        step: a 100k-object ingest took 18 s instead of 13)."""
        if self._since_analyze < self._analyze_at:
            return
        with self._analyze_lock:
            if self._analyzer is not None and self._analyzer.is_alive():
                return
            self._since_analyze = 0
            self._analyzer = threading.Thread(target=self._analyze, daemon=True,
                                              name=f"liaison analyze {self._where}")
            self._analyzer.start()

    def _analyze(self) -> None:
        try:
            with self._conn() as conn:
                conn.execute("ANALYZE " + ", ".join(_GROWING))
                row = conn.execute("SELECT reltuples FROM pg_class "
                                   "WHERE oid = 'objects'::regclass").fetchone()
            self._analyze_at = max(10_000, int((row[0] if row else 0) * 0.2))
        except (Unavailable, psycopg.Error):  # statistics are an optimisation only
            pass

    @staticmethod
    def _copy_rows(cur: psycopg.Cursor, cid: int, rows: Sequence[versions.PlannedRow]) -> None:
        """The new rows and their markings, each table in one binary COPY."""
        cols = pgsql.SQL(", ").join(map(pgsql.Identifier, _OBJECT_COLS))
        with cur.copy(pgsql.SQL("COPY objects ({}) FROM STDIN (FORMAT BINARY)")
                      .format(cols)) as copy:
            copy.set_types(_OBJECT_TYPES)
            for r in rows:
                s = r.source
                copy.write_row((r.date_added, cid, r.id, r.type, r.version, r.version_text,
                                r.is_latest, r.is_first, r.body, s.tlp, int(s.restricted),
                                int(s.public), s.origin, s.ref_a, s.ref_b, s.received_via))
        if any(r.source.markings for r in rows):
            with cur.copy("COPY object_markings (date_added, marking_id) FROM STDIN "
                          "(FORMAT BINARY)") as copy:
                copy.set_types(["bigint", "text"])
                for r in rows:
                    for m in r.source.markings:
                        copy.write_row((r.date_added, m))

    @staticmethod
    def _lock_order(cur: psycopg.Cursor) -> int:
        """Take the node-wide ordering lock (held to COMMIT); return the high-water mark."""
        row = cur.execute(_LOCK_ORDER).fetchone()
        if row is None:  # seeded by migration 0001; re-seed if someone deleted it
            cur.execute("INSERT INTO meta (key, value) VALUES ('last_date_added', '0') "
                        "ON CONFLICT (key) DO NOTHING")
            row = cur.execute(_LOCK_ORDER).fetchone()
        assert row is not None
        return int(row[0])

    @staticmethod
    def _existing_versions(
        cur: psycopg.Cursor, cid: int, ids: set[str]
    ) -> dict[str, dict[int, bytes]]:
        found: dict[str, dict[int, bytes]] = {}
        if not ids:
            return found
        cur.execute("SELECT stix_id, version, body FROM objects "
                    "WHERE cid = %s AND stix_id = ANY(%s::text[])", (cid, list(ids)))
        for sid, version, body in cur:
            found.setdefault(sid, {})[version] = body
        return found

    def query(self, q: ObjectQuery) -> Page:
        if any(_NUL in x for x in (*q.ids, *q.types)):
            kept = replace(q, ids=tuple(i for i in q.ids if _NUL not in i),
                           types=tuple(t for t in q.types if _NUL not in t))
            if (q.ids and not kept.ids) or (q.types and not kept.types):
                return Page([], False)
            q = kept
        text, params = sql.page_sql(q, "%s")
        with self._conn() as conn, conn.cursor(binary=True) as cur:
            rows = cur.execute(text, params).fetchall()  # type: ignore[arg-type]
        more = len(rows) > q.limit
        if more:
            rows = rows[: q.limit]
        return Page(list(map(ObjectRow._make, rows)), more)

    def delete_versions(self, cid: int, stix_id: str, which: VersionFilter) -> int:
        """Delete versions and re-flag the rest, under the ordering lock (so an insert
        of the same object never re-flags against versions that are gone)."""
        if _NUL in stix_id:
            return 0
        clause, params = sql.version_clause(which, "%s")
        with self._write() as cur:
            self._lock_order(cur)
            cur.execute(f"DELETE FROM objects WHERE cid = %s AND stix_id = %s{clause}",  # type: ignore[arg-type]
                        (cid, stix_id, *params))
            removed = cur.rowcount
            if removed:
                cur.execute(
                    "UPDATE objects o SET is_latest = (o.version = m.hi)::int, "
                    "is_first = (o.version = m.lo)::int FROM (SELECT MIN(version) AS lo, "
                    "MAX(version) AS hi FROM objects WHERE cid = %s AND stix_id = %s) m "
                    "WHERE o.cid = %s AND o.stix_id = %s", (cid, stix_id) * 2)
            return removed

    def count_objects(self, cid: int) -> int:
        row = self._one("SELECT COUNT(*) FROM objects WHERE cid = %s AND is_latest = 1", (cid,))
        return int(row[0]) if row else 0

    # -- statuses -----------------------------------------------------------------
    def get_status(self, status_id: str) -> StatusRecord | None:
        if _NUL in status_id:
            return None
        with self._conn() as conn, conn.cursor(binary=True) as cur:
            row = cur.execute("SELECT id, principal_id, cid, created_at, body FROM statuses "
                              "WHERE id = %s", (status_id,)).fetchone()
        return StatusRecord(*row) if row else None

    def purge_statuses(self, older_than: int) -> int:
        with self._write() as cur:
            cur.execute("DELETE FROM statuses WHERE created_at < %s", (older_than,))
            return cur.rowcount

"""The embedded engine: one SQLite file in WAL mode.

Durability: `synchronous=FULL`, so an acknowledged write survives power loss, not
only a process crash.  Concurrency: one writer at a time (a process-local lock plus
`BEGIN IMMEDIATE` with a busy timeout across processes), readers in parallel, each
thread with its own connection.  No read transaction is held between requests.  The
write-ahead log is copied into the database file by a background thread after commits
(`storage.walcheckpoint`), not by the request whose commit crosses a threshold.
"""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from pathlib import Path

from liaison.errors import ConfigError, Unavailable
from liaison.storage import migrations, sql, versions
from liaison.storage.audit_sql import AuditSQL
from liaison.storage.registry import RegistrySQL
from liaison.storage.search_sql import SearchSQL
from liaison.storage.syncstate import SyncStateSQL
from liaison.storage.walcheckpoint import Checkpointer
from liaison.storage.base import (
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
    AdvanceMaker,
    VersionFilter,
)

_CHUNK = 500
WAL_CAP_PAGES = 40_000
"""The WAL length (pages) at which a committing writer checkpoints by itself: only when
the background `Checkpointer` has fallen behind or stopped (about 160 MiB of log)."""
_PRINCIPAL_COLS = "id, name, kind, role, created_at, revoked_at"
_COLLECTION_COLS = "cid, id, title, alias, description, created_at, default_tlp"


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA cache_size=-65536")
    # The WAL is copied into the database by the store's background Checkpointer after
    # commits; a writer checkpoints by itself only past this cap.
    conn.execute(f"PRAGMA wal_autocheckpoint={WAL_CAP_PAGES}")
    return conn


class SQLiteStore(AuditSQL, RegistrySQL, SearchSQL, SyncStateSQL):
    """`Store` on SQLite (see `storage.base.Store` for the contract)."""

    engine = "sqlite"
    _mark = "?"

    def __init__(self, path: str | Path, *, create: bool = False) -> None:
        self.path = str(path)
        if not create and not Path(self.path).exists():
            raise ConfigError(f"database {self.path} does not exist — run 'liaison init' first")
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._tx: ContextVar[sqlite3.Connection | None] = ContextVar(f"sqlite-tx-{id(self)}",
                                                                     default=None)
        self._connections: list[sqlite3.Connection] = []
        self._all_lock = threading.Lock()
        self._checkpointer: Checkpointer | None = None
        """Started by the first commit (a store that only reads needs none)."""

    # -- connections ----------------------------------------------------------
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = _connect(self.path)
            except sqlite3.Error as exc:
                raise ConfigError(f"cannot open database {self.path}: {exc}") from exc
            self._local.conn = conn
            with self._all_lock:
                self._connections.append(conn)
        return conn

    def _one(self, query: str, params: Sequence[object] = ()) -> tuple | None:  # type: ignore[type-arg]
        return self._conn().execute(query, params).fetchone()  # type: ignore[no-any-return]

    def _all(self, query: str, params: Sequence[object] = ()) -> list[tuple]:  # type: ignore[type-arg]
        return self._conn().execute(query, params).fetchall()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; a nested call joins the one already open (so that a
        domain operation and its audit entry commit together, see `unit`)."""
        current = self._tx.get()
        if current is not None:
            yield current
            return
        with self._write_lock:
            conn = self._conn()
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise Unavailable(f"the database is busy ({exc}); try again") from exc
            token = self._tx.set(conn)
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            finally:
                self._tx.reset(token)
            conn.execute("COMMIT")
            if self._checkpointer is None:
                path = self.path  # (the thread must not keep the store alive)
                self._checkpointer = Checkpointer(lambda: _connect(path))
                weakref.finalize(self, self._checkpointer.stop, 0.0)  # dropped unclosed
            self._checkpointer.poke()

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for reads made of several statements."""
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.stop()
            self._checkpointer = None
        with self._all_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    # -- schema -----------------------------------------------------------------
    def applied_migrations(self) -> set[int]:
        """Read-only: a database without the record table has no migration applied."""
        conn = self._conn()
        if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                        "AND name = 'schema_migrations'").fetchone() is None:
            return set()
        return {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}

    def apply_migration(self, migration: migrations.Migration, now: int) -> None:
        """Apply one migration and record it, in one transaction (skipped if recorded)."""
        with self._write() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"
            )
            if conn.execute("SELECT 1 FROM schema_migrations WHERE version = ?",
                            (migration.version,)).fetchone() is not None:
                return
            for statement in migrations.split_statements(migration.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.name, now),
            )

    def reset(self) -> None:
        with self._write() as conn:
            # Virtual tables first (dropping one drops its shadow tables), then the rest
            # newest first, so referencing tables go before the tables they reference.
            tables = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
                "ORDER BY sql LIKE 'CREATE VIRTUAL TABLE%' DESC, rowid DESC")]
            conn.execute("PRAGMA defer_foreign_keys = ON")
            for table in tables:
                conn.execute(f'DROP TABLE IF EXISTS "{table}"')

    # -- node metadata ----------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self._conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    # -- principals -----------------------------------------------------------
    def add_principal(self, principal: Principal, token_hash: str) -> None:
        with self._write() as conn:
            conn.execute(
                f"INSERT INTO principals ({_PRINCIPAL_COLS}, token_hash) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (principal.id, principal.name, principal.kind, principal.role,
                 principal.created_at, principal.revoked_at, token_hash),
            )

    def principal_by_token(self, token_hash: str) -> Principal | None:
        row = self._conn().execute(
            f"SELECT {_PRINCIPAL_COLS} FROM principals WHERE token_hash = ?", (token_hash,)
        ).fetchone()
        return Principal(*row) if row else None

    def principal_by_name(self, name: str) -> Principal | None:
        row = self._conn().execute(
            f"SELECT {_PRINCIPAL_COLS} FROM principals WHERE name = ?", (name,)
        ).fetchone()
        return Principal(*row) if row else None

    def list_principals(self) -> list[Principal]:
        rows = self._conn().execute(f"SELECT {_PRINCIPAL_COLS} FROM principals ORDER BY name")
        return [Principal(*r) for r in rows]

    def revoke_principal(self, principal_id: str, at: int) -> None:
        with self._write() as conn:
            conn.execute(
                "UPDATE principals SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL",
                (at, principal_id),
            )

    # -- collections and grants -------------------------------------------------
    def add_collection(self, collection: Collection) -> Collection:
        with self._write() as conn:
            cur = conn.execute(
                "INSERT INTO collections (id, title, alias, description, created_at, default_tlp) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (collection.id, collection.title, collection.alias, collection.description,
                 collection.created_at, collection.default_tlp),
            )
            cid = cur.lastrowid
        assert cid is not None
        return replace(collection, cid=cid)

    def list_collections(self) -> list[Collection]:
        rows = self._conn().execute(f"SELECT {_COLLECTION_COLS} FROM collections ORDER BY cid")
        return [Collection(*r) for r in rows]

    def collection(self, id_or_alias: str) -> Collection | None:
        row = self._conn().execute(
            f"SELECT {_COLLECTION_COLS} FROM collections WHERE id = ? OR alias = ? "
            "ORDER BY id = ? DESC LIMIT 1",
            (id_or_alias, id_or_alias, id_or_alias),
        ).fetchone()
        return Collection(*row) if row else None

    def set_grant(self, cid: int, principal_id: str, can_read: bool, can_write: bool) -> None:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO grants (cid, principal_id, can_read, can_write) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (cid, principal_id) DO UPDATE SET "
                "can_read = excluded.can_read, can_write = excluded.can_write",
                (cid, principal_id, int(can_read), int(can_write)),
            )

    def remove_grant(self, cid: int, principal_id: str) -> bool:
        with self._write() as conn:
            cur = conn.execute(
                "DELETE FROM grants WHERE cid = ? AND principal_id = ?", (cid, principal_id)
            )
            return cur.rowcount > 0

    def grants_of(self, principal_id: str) -> dict[int, tuple[bool, bool]]:
        rows = self._conn().execute(
            "SELECT cid, can_read, can_write FROM grants WHERE principal_id = ?", (principal_id,)
        )
        return {cid: (bool(r), bool(w)) for cid, r, w in rows}

    def list_grants(self) -> list[Grant]:
        rows = self._conn().execute(
            "SELECT c.id, g.principal_id, g.can_read, g.can_write FROM grants g "
            "JOIN collections c ON c.cid = g.cid ORDER BY c.cid, g.principal_id"
        )
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
        with self._write() as conn:
            existing = self._existing_versions(conn, cid, {v.id for v in new})
            row = conn.execute("SELECT value FROM meta WHERE key = 'last_date_added'").fetchone()
            plan = versions.plan_insert(new, existing, now, int(row[0]) if row else 0)
            conn.executemany(
                "INSERT INTO objects (date_added, cid, stix_id, type, version, version_text, "
                "is_latest, is_first, body, tlp, restricted, public, origin, ref_a, ref_b, "
                "received_via) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(r.date_added, cid, r.id, r.type, r.version, r.version_text, r.is_latest,
                  r.is_first, r.body, r.source.tlp, int(r.source.restricted),
                  int(r.source.public), r.source.origin, r.source.ref_a, r.source.ref_b,
                  r.source.received_via)
                 for r in plan.rows],
            )
            conn.executemany(
                "INSERT INTO object_markings (date_added, marking_id) VALUES (?, ?)",
                [(r.date_added, m) for r in plan.rows for m in r.source.markings],
            )
            self._add_index(conn, plan.rows)
            # Only the rows whose flags change are rewritten (usually the one that was
            # latest): an unchanged row rewritten still dirties its page.
            conn.executemany(
                "UPDATE objects SET is_latest = (version = ?1), is_first = (version = ?2) "
                "WHERE cid = ?3 AND stix_id = ?4 "
                "AND (is_latest != (version = ?1) OR is_first != (version = ?2))",
                [(hi, lo, cid, sid) for sid, (lo, hi) in plan.reflag.items()],
            )
            if plan.rows:
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('last_date_added', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(plan.last_date_added),),
                )
            if advance is not None:
                self._advance_sync(conn, advance(plan.outcomes))
            if make_status is not None:
                status = make_status(plan.outcomes)
                conn.execute(
                    "INSERT INTO statuses (id, principal_id, cid, created_at, body) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (status.id, status.principal_id, status.cid, status.created_at, status.body),
                )
        return plan.outcomes

    @staticmethod
    def _existing_versions(
        conn: sqlite3.Connection, cid: int, ids: set[str]
    ) -> dict[str, dict[int, bytes]]:
        found: dict[str, dict[int, bytes]] = {}
        id_list = list(ids)
        for i in range(0, len(id_list), _CHUNK):
            chunk = id_list[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for sid, version, body in conn.execute(
                f"SELECT stix_id, version, body FROM objects WHERE cid = ? AND stix_id IN ({marks})",
                (cid, *chunk),
            ):
                found.setdefault(sid, {})[version] = body
        return found

    def query(self, q: ObjectQuery) -> Page:
        text, params = sql.page_sql(q, "?")
        rows = self._conn().execute(text, params).fetchall()
        more = len(rows) > q.limit
        if more:
            rows = rows[: q.limit]
        return Page(list(map(ObjectRow._make, rows)), more)

    def delete_versions(self, cid: int, stix_id: str, which: VersionFilter) -> int:
        clause, params = sql.version_clause(which, "?")
        with self._write() as conn:
            cur = conn.execute(
                f"DELETE FROM objects WHERE cid = ? AND stix_id = ?{clause}",
                (cid, stix_id, *params),
            )
            conn.execute(
                "UPDATE objects SET "
                "is_latest = (version = (SELECT MAX(version) FROM objects WHERE cid = ? AND stix_id = ?)), "
                "is_first = (version = (SELECT MIN(version) FROM objects WHERE cid = ? AND stix_id = ?)) "
                "WHERE cid = ? AND stix_id = ?",
                (cid, stix_id) * 3,
            )
            return cur.rowcount

    def count_objects(self, cid: int) -> int:
        row = self._conn().execute(
            "SELECT COUNT(*) FROM objects WHERE cid = ? AND is_latest = 1", (cid,)
        ).fetchone()
        return int(row[0])

    # -- statuses -----------------------------------------------------------------
    def get_status(self, status_id: str) -> StatusRecord | None:
        row = self._conn().execute(
            "SELECT id, principal_id, cid, created_at, body FROM statuses WHERE id = ?",
            (status_id,),
        ).fetchone()
        return StatusRecord(*row) if row else None

    def purge_statuses(self, older_than: int) -> int:
        with self._write() as conn:
            return conn.execute("DELETE FROM statuses WHERE created_at < ?", (older_than,)).rowcount

"""Federation sync state: checkpoints, counters, errors, failures and the sync lease.

A mixin of plain SQL for both engines, like `storage.registry`: an engine provides
`_mark`, `_one`, `_all` and `_write()` (a transaction whose handle has `execute`
returning something with `rowcount`).

**One syncer at a time.**  Each (agreement, collection, direction) has a row holding a
lease: `acquire_sync_lease` takes it with one conditional UPDATE (free, expired, or
already ours), which both engines serialise on the row, so of any number of processes
— on one SQLite file or one PostgreSQL database — exactly one gets it.

**Fencing.**  Every step of a run (`_advance_sync`) updates the row only `WHERE
lease_owner = <us>`; if another process has taken the lease over (ours expired while
we hung), the step matches no row and raises `LeaseLost`, which rolls back the whole
transaction — data included.  A checkpoint therefore moves only with the data it
covers, only forward, and only for the one process entitled to move it.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any

from liaison.errors import LeaseLost
from liaison.storage.base import SyncAdvance, SyncFailure, SyncKey, SyncState

_STATE_COLS = ("agreement_id, cid, direction, checkpoint, run_from, horizon, last_attempt, "
               "last_success, caught_up_at, last_error, last_error_at, moved, failed, "
               "lease_owner, lease_until")
_KEY = "agreement_id = ? AND cid = ? AND direction = ?"
MAX_MESSAGE = 1000
"""Messages from a partner are cut to this many characters before they are stored."""


def _key(k: SyncKey) -> tuple[str, int, str]:
    return (k.agreement_id, k.cid, k.direction)


def clip(message: str) -> str:
    """A partner's message made safe to store and print: one line, bounded length."""
    flat = " ".join(str(message).replace("\x00", " ").split())
    return flat if len(flat) <= MAX_MESSAGE else flat[: MAX_MESSAGE - 1] + "…"


class SyncStateSQL:
    _mark: str

    def _one(self, query: str, params: Sequence[object] = ()) -> Any: ...
    def _all(self, query: str, params: Sequence[object] = ()) -> list[Any]: ...
    def _write(self) -> AbstractContextManager[Any]: ...

    def _q(self, text: str) -> str:
        return text.replace("?", self._mark)

    def sync_states(self, agreement_id: str | None = None) -> list[SyncState]:
        cond, params = ("WHERE agreement_id = ?", (agreement_id,)) if agreement_id else ("", ())
        rows = self._all(self._q(f"SELECT {_STATE_COLS} FROM sync_state {cond} "
                                 "ORDER BY agreement_id, cid, direction"), params)
        return [SyncState(SyncKey(r[0], int(r[1]), r[2]), *r[3:11], int(r[11]), int(r[12]),
                          r[13], r[14]) for r in rows]

    def acquire_sync_lease(self, key: SyncKey, owner: str, now: int, until: int) -> bool:
        """Take the lease if it is free, expired or already `owner`'s; True if taken."""
        with self._write() as tx:
            tx.execute(self._q("INSERT INTO sync_state (agreement_id, cid, direction) "
                               "VALUES (?, ?, ?) ON CONFLICT (agreement_id, cid, direction) "
                               "DO NOTHING"), _key(key))
            cur = tx.execute(self._q(
                f"UPDATE sync_state SET lease_owner = ?, lease_until = ? WHERE {_KEY} AND "
                "(lease_owner IS NULL OR lease_until < ? OR lease_owner = ?)"),
                (owner, until, *_key(key), now, owner))
            return bool(cur.rowcount == 1)

    def release_sync_lease(self, key: SyncKey, owner: str) -> None:
        with self._write() as tx:
            tx.execute(self._q(f"UPDATE sync_state SET lease_owner = NULL, lease_until = NULL "
                               f"WHERE {_KEY} AND lease_owner = ?"), (*_key(key), owner))

    def start_sync_run(self, key: SyncKey, owner: str, now: int, horizon: int | None) -> None:
        """Note the start of a run: where it starts from and how far it expects to go."""
        with self._write() as tx:
            self._fenced(tx, key, owner, "last_attempt = ?, run_from = checkpoint, horizon = ?",
                         [now, horizon])

    def renew_sync_lease(self, key: SyncKey, owner: str, until: int) -> None:
        """Extend our lease; `LeaseLost` if another process has taken it over."""
        with self._write() as tx:
            self._fenced(tx, key, owner, "lease_until = ?", [until])

    def fail_sync(self, key: SyncKey, owner: str, message: str, at: int) -> None:
        """Record why a run stopped (shown by 'liaison partner status')."""
        with self._write() as tx:
            self._fenced(tx, key, owner, "last_error = ?, last_error_at = ?", [clip(message), at])

    def advance_sync(self, advance: SyncAdvance) -> None:
        """A step with no local data to write (push), as its own transaction."""
        with self._write() as tx:
            self._advance_sync(tx, advance)

    def _advance_sync(self, tx: Any, a: SyncAdvance) -> None:
        """A step, inside the caller's transaction (pull: the one storing the data)."""
        sets = ["lease_until = ?", "moved = moved + ?", "failed = failed + ?"]
        params: list[object] = [a.lease_until, a.moved, len(a.failures)]
        if a.checkpoint is not None:
            sets.append("checkpoint = CASE WHEN checkpoint IS NULL OR checkpoint < ? "
                        "THEN ? ELSE checkpoint END")
            params += [a.checkpoint, a.checkpoint]
        if a.run_from is not None:
            sets.append("run_from = COALESCE(run_from, ?)")
            params.append(a.run_from)
        if a.caught_up:
            sets += ["last_success = ?", "caught_up_at = ?", "last_error = NULL",
                     "last_error_at = NULL"]
            params += [a.at, a.at]
        self._fenced(tx, a.key, a.owner, ", ".join(sets), params)
        k = _key(a.key)
        for stix_id, version in a.resolved:
            tx.execute(self._q(f"DELETE FROM sync_failures WHERE {_KEY} AND stix_id = ? "
                               "AND version = ?"), (*k, stix_id, version))
        for f in a.failures:
            tx.execute(self._q(f"DELETE FROM sync_failures WHERE {_KEY} AND stix_id = ? "
                               "AND version = ?"), (*k, f.stix_id, f.version))
            tx.execute(self._q("INSERT INTO sync_failures (agreement_id, cid, direction, "
                               "stix_id, version, message, at) VALUES (?, ?, ?, ?, ?, ?, ?)"),
                       (*k, f.stix_id, f.version, clip(f.message), a.at))

    def _fenced(self, tx: Any, key: SyncKey, owner: str, sets: str,
                params: list[object]) -> None:
        cur = tx.execute(self._q(f"UPDATE sync_state SET {sets} WHERE {_KEY} AND "
                                 "lease_owner = ?"), (*params, *_key(key), owner))
        if cur.rowcount != 1:
            raise LeaseLost(f"another process took over the {key.direction} sync of agreement "
                            f"{key.agreement_id}; this run stops")

    def provenance(self, cid: int, stix_id: str) -> list[tuple[str, int, str | None, str | None]]:
        """(version, date_added, origin, received_via) of every stored version."""
        return [tuple(r) for r in self._all(self._q(
            "SELECT version_text, date_added, origin, received_via FROM objects WHERE cid = ? "
            "AND stix_id = ? ORDER BY version"), (cid, stix_id))]

    def sync_failures(self, key: SyncKey, limit: int = 50) -> list[SyncFailure]:
        rows = self._all(self._q(f"SELECT stix_id, version, message, at FROM sync_failures "
                                 f"WHERE {_KEY} ORDER BY at DESC, stix_id LIMIT ?"),
                         (*_key(key), limit))
        return [SyncFailure(*r) for r in rows]

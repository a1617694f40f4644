"""The audit chain in the database: appended inside the transaction it records.

A mixin for both engines.  `unit(draft)` opens a write transaction (joining one that
is already open in this context), runs the caller's block and appends the draft as
the next chained entry before COMMIT: the change and its entry commit together or not
at all (NIST AU-5, fail closed).  The chain head is one row read with `FOR UPDATE` on
PostgreSQL (the SQLite writer lock serialises it there), so entries are numbered and
linked in commit order.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import logging

import orjson

from liaison.audit.chain import AuditDraft, AuditEntry, chain
from liaison.errors import LiaisonError, Unavailable
from liaison.stix.timestamps import now_us

log = logging.getLogger("liaison.audit")
_COLS = ("seq, at, request_id, actor_id, actor_name, org, action, target, result, details, "
         "prev_hash, hash")


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _details(text: Any) -> dict[str, Any]:
    try:
        value = orjson.loads(text)
    except (orjson.JSONDecodeError, TypeError):
        value = None
    return value if isinstance(value, dict) else {"unreadable details": str(text)}


def _entry(row: Sequence[Any]) -> AuditEntry:
    """A stored row as an entry.  A row altered beyond its types (text in a number
    column on SQLite, details that are not a JSON object) still reads — as values that
    cannot match the hash — so that verification reports it instead of crashing."""
    seq, at, rid, aid, aname, org, action, target, result, details, prev, h = row
    return AuditEntry(_int(seq), _int(at), str(rid), str(aid), str(aname), str(org),
                      str(action), str(target), str(result), _details(details), str(prev),
                      str(h))


class AuditSQL:
    _mark: str
    _lock_head: str = ""
    """Appended to the head SELECT: ' FOR UPDATE' where the engine needs a row lock."""
    audit_enabled: bool = True
    """False only on a node serving with the setting `audit` off (to measure its cost):
    nothing is appended then, and the chain holds the switch itself (`node.audit_switch`)."""

    def _write(self) -> AbstractContextManager[Any]: ...
    def _all(self, query: str, params: Sequence[object] = ()) -> list[Any]: ...
    def _one(self, query: str, params: Sequence[object] = ()) -> Any: ...

    @contextmanager
    def unit(self, audit: AuditDraft | None = None) -> Iterator[None]:
        """One transaction for the block, with `audit` appended before it commits."""
        with self._write() as tx:
            yield
            if audit is not None:
                self._append(tx, [audit])

    def record(self, drafts: Sequence[AuditDraft]) -> None:
        """Append entries on their own (releases, refusals) in one transaction."""
        if not self.audit_enabled:
            return
        with self._write() as tx:
            self._append(tx, drafts)

    def _append(self, tx: Any, drafts: Sequence[AuditDraft]) -> None:
        """Chain and insert `drafts`; any failure is a 503 that aborts the transaction
        (the change it records is rolled back with it: fail closed, NIST AU-5)."""
        if not self.audit_enabled:
            return
        try:
            self._insert(tx, drafts)
        except LiaisonError:
            raise
        except Exception as exc:
            log.error("audit write failed, the operation is refused: %s", exc)
            raise Unavailable("the audit log could not be written, so the operation was not "
                              "carried out; see the node's log") from exc

    def _insert(self, tx: Any, drafts: Sequence[AuditDraft]) -> None:
        m = self._mark
        seq, prev = tx.execute(f"SELECT seq, hash FROM audit_head WHERE id = 1{self._lock_head}"
                               ).fetchone()
        at = now_us()
        rows = []
        for d in drafts:
            seq += 1
            e = chain(d, seq, at, prev)
            rows.append((e.seq, e.at, e.request_id, e.actor_id, e.actor_name, e.org, e.action,
                         e.target, e.result, orjson.dumps(e.details).decode(), e.prev_hash,
                         e.hash))
            prev = e.hash
        marks = ", ".join([m] * 12)
        for row in rows:
            tx.execute(f"INSERT INTO audit_log ({_COLS}) VALUES ({marks})", row)
        tx.execute(f"UPDATE audit_head SET seq = {m}, hash = {m} WHERE id = 1", (seq, prev))

    # -- reading --------------------------------------------------------------
    def audit_head(self) -> tuple[int, str]:
        seq, h = self._one("SELECT seq, hash FROM audit_head WHERE id = 1")
        return int(seq), h

    def audit_count(self) -> int:
        return int(self._one("SELECT count(*) FROM audit_log")[0])

    def audit_entries(self, after_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Entries in sequence order after `after_seq` (for verification and export)."""
        m = self._mark
        return [_entry(r) for r in self._all(
            f"SELECT {_COLS} FROM audit_log WHERE seq > {m} ORDER BY seq LIMIT {m}",
            (after_seq, limit))]

    def audit_search(self, *, since: int | None = None, actor: str | None = None,
                     action: str | None = None, contains: str | None = None,
                     after_seq: int = 0, limit: int = 1000) -> list[AuditEntry]:
        """Entries matching every given filter, in sequence order."""
        m = self._mark
        cond, params = [f"seq > {m}"], [after_seq]
        if since is not None:
            cond.append(f"at >= {m}")
            params.append(since)
        if actor:
            cond.append(f"(actor_name = {m} OR actor_id = {m})")
            params += [actor, actor]
        if action:
            cond.append(f"(action = {m} OR action LIKE {m})")
            params += [action, action.rstrip("*") + "%" if action.endswith("*") else action]
        if contains:
            cond.append(f"details LIKE {m} ESCAPE '\\'")
            escaped = contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            params.append("%" + escaped + "%")
        return [_entry(r) for r in self._all(
            f"SELECT {_COLS} FROM audit_log WHERE {' AND '.join(cond)} ORDER BY seq LIMIT {m}",
            (*params, limit))]

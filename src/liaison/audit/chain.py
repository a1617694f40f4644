"""Audit entries and their hash chain (NIST SP 800-53 AU-3, AU-9(3); ASVS 16.2, 16.4).

Each entry's hash covers its canonical form (every field but the hash, as sorted-key
JSON with no insignificant white space) and the previous entry's hash, so any update,
deletion, insertion or reordering breaks the chain from that entry on.  Entries are
appended in the same database transaction as the change they record (see
`storage.audit_sql`), so there is never a change without its entry, or the reverse.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

GENESIS = "0" * 64
"""The `prev_hash` of the first entry."""


@dataclass(slots=True)
class AuditDraft:
    """An entry before it is chained: filled by the domain, appended by the store."""

    action: str
    target: str
    actor_id: str = "system"
    actor_name: str = "system"
    org: str = ""
    result: str = "ok"
    request_id: str = ""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A chained, stored entry."""

    seq: int
    at: int
    request_id: str
    actor_id: str
    actor_name: str
    org: str
    action: str
    target: str
    result: str
    details: dict[str, Any]
    prev_hash: str
    hash: str

    def canonical(self) -> bytes:
        return canonical_form(self.seq, self.at, self.request_id, self.actor_id,
                              self.actor_name, self.org, self.action, self.target, self.result,
                              self.details, self.prev_hash)

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at, "request_id": self.request_id,
                "actor_id": self.actor_id, "actor_name": self.actor_name, "org": self.org,
                "action": self.action, "target": self.target, "result": self.result,
                "details": self.details, "prev_hash": self.prev_hash, "hash": self.hash}


def canonical_form(seq: int, at: int, request_id: str, actor_id: str, actor_name: str,
                   org: str, action: str, target: str, result: str, details: dict[str, Any],
                   prev_hash: str) -> bytes:
    return orjson.dumps({"seq": seq, "at": at, "request_id": request_id,
                         "actor_id": actor_id, "actor_name": actor_name, "org": org,
                         "action": action, "target": target, "result": result,
                         "details": details, "prev_hash": prev_hash},
                        option=orjson.OPT_SORT_KEYS)


def entry_hash(canonical: bytes) -> str:
    return hashlib.sha256(canonical).hexdigest()


def chain(draft: AuditDraft, seq: int, at: int, prev_hash: str) -> AuditEntry:
    """The entry `draft` becomes at position `seq` after an entry hashed `prev_hash`."""
    body = canonical_form(seq, at, draft.request_id, draft.actor_id, draft.actor_name,
                          draft.org, draft.action, draft.target, draft.result, draft.details,
                          prev_hash)
    return AuditEntry(seq, at, draft.request_id, draft.actor_id, draft.actor_name, draft.org,
                      draft.action, draft.target, draft.result, draft.details, prev_hash,
                      entry_hash(body))


@dataclass(frozen=True, slots=True)
class Break:
    """Where verification found the chain broken, and why."""

    seq: int
    reason: str


def verify_entries(entries: Iterable[AuditEntry]) -> tuple[Break | None, AuditEntry | None]:
    """Walk entries in stored order: the first inconsistency (or None) and the last
    entry that was verified (the head, when nothing broke)."""
    prev_hash, expected = GENESIS, 1
    last: AuditEntry | None = None
    for e in entries:
        if e.seq != expected:
            return Break(e.seq, f"expected entry {expected} here, found entry {e.seq} "
                         "(an entry was deleted, inserted or moved)"), last
        if e.prev_hash != prev_hash:
            return Break(e.seq, "its link to the previous entry does not match "
                         "(an entry before it was changed, deleted or inserted)"), last
        if entry_hash(e.canonical()) != e.hash:
            return Break(e.seq, "its content does not match its hash (the entry was changed)"), last
        prev_hash, expected, last = e.hash, expected + 1, e
    return None, last

"""The questions people ask of the audit, and the proofs it gives.

`verify` walks the whole chain (in pages, constant memory), checks the stored head
against the last entry (a deleted tail with a stale head is caught) and each given
signed checkpoint against the entry at its sequence number (a tail truncated back past
a checkpoint is caught even if the head was rewritten too).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from liaison.audit.chain import AuditEntry, Break, verify_entries
from liaison.audit.checkpoint import Checkpoint, load_checkpoint, load_key, public_key_text, sign
from liaison.errors import BadRequest
from liaison.stix.timestamps import format_taxii_timestamp, now_us, parse_timestamp
from liaison.storage.base import Store

PAGE = 1000
LOWEST = -(2**63)


def parse_since(value: str | None, name: str = "--since") -> int | None:
    """A `since` filter: a date (2026-12-31, midnight UTC) or a UTC timestamp."""
    if value is None or value == "":
        return None
    text = value if "T" in value else value + "T00:00:00Z"
    try:
        return parse_timestamp(text)
    except ValueError as exc:
        raise BadRequest(f"{name} must be a date (2026-12-31) or a UTC timestamp "
                         f"(2026-12-31T08:00:00Z): {exc}") from None


@dataclass(slots=True)
class Verification:
    entries: int = 0
    head_seq: int = 0
    broken: Break | None = None
    checkpoints: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.broken is None

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "head_seq": self.head_seq,
                "break": None if self.broken is None else
                {"seq": self.broken.seq, "reason": self.broken.reason},
                "checkpoints": self.checkpoints}


class Audit:
    def __init__(self, store: Store, home: Path) -> None:
        self.store = store
        self.home = home

    def _all(self) -> Iterator[AuditEntry]:
        after = LOWEST  # from the very bottom: a row slipped in below entry 1 is seen too
        while True:
            page = self.store.audit_entries(after, PAGE)
            yield from page
            if len(page) < PAGE:
                return
            after = page[-1].seq

    def verify(self, checkpoints: Sequence[bytes] = (), trusted_key: str | None = None,
               ) -> Verification:
        """Walk the chain and hold it against the stored head and the checkpoints."""
        report = Verification()
        cps = [load_checkpoint(c, trusted_key or self.pubkey()) for c in checkpoints]
        wanted = {cp.seq: cp for cp in cps}
        seen: dict[int, str] = {}

        def counted() -> Iterator[AuditEntry]:
            for e in self._all():
                report.entries += 1
                if e.seq in wanted:
                    seen[e.seq] = e.hash
                yield e

        broken, last = verify_entries(counted())
        report.head_seq = last.seq if last else 0
        if broken is None:  # rows no walk in sequence order can reach (a NULL seq)
            rows = self.store.audit_count()
            if rows != report.entries:
                broken = Break(report.head_seq, f"the table holds {rows} rows but the chain "
                               f"{report.entries}: rows were inserted outside the sequence")
        if broken is None:
            head_seq, head_hash = self.store.audit_head()
            if (head_seq, head_hash) != ((last.seq, last.hash) if last else (0, head_hash)):
                broken = Break(head_seq, f"the chain ends at entry {report.head_seq} but the "
                               f"recorded head is entry {head_seq}: entries were removed from "
                               "the end or the head was altered")
        node_id = self.store.get_meta("node_id") or ""
        for cp in cps:
            if cp.node_id != node_id:
                broken = broken or Break(cp.seq, "the checkpoint was signed for another node")
            elif cp.seq not in seen:
                broken = broken or Break(cp.seq, f"entry {cp.seq}, signed in a checkpoint, is "
                                         "missing: the log was truncated back past it")
            elif seen[cp.seq] != cp.hash:
                broken = broken or Break(cp.seq, f"entry {cp.seq} differs from the signed "
                                         "checkpoint: history was rewritten")
            else:
                report.checkpoints.append(f"entry {cp.seq} matches the checkpoint of "
                                          f"{format_taxii_timestamp(cp.at)}")
        report.broken = broken
        return report

    def head(self) -> tuple[int, str]:
        """The sequence number and hash of the newest entry."""
        return self.store.audit_head()

    def checkpoint(self) -> Checkpoint:
        seq, h = self.store.audit_head()
        return sign(load_key(self.home), self.store.get_meta("node_id") or "", seq, h, now_us())

    def pubkey(self) -> str:
        return public_key_text(load_key(self.home))

    def log(self, *, since: int | None = None, actor: str | None = None,
            action: str | None = None, after_seq: int = 0, limit: int = 100) -> list[AuditEntry]:
        return self.store.audit_search(since=since, actor=actor, action=action,
                                       after_seq=after_seq, limit=limit)

    def who_received(self, object_id: str) -> list[dict[str, Any]]:
        """Every release of any version of `object_id`: partner, when, agreement, how."""
        out: list[dict[str, Any]] = []
        after = 0
        while True:
            page = self.store.audit_search(action="release", contains=object_id,
                                           after_seq=after, limit=PAGE)
            for e in page:
                for sid, version in e.details.get("versions", []):
                    if sid == object_id:
                        out.append({"partner": e.details.get("partner"),
                                    "org": e.details.get("org"), "version": version,
                                    "at": format_taxii_timestamp(e.at),
                                    "agreements": e.details.get("agreements", []),
                                    "channel": e.details.get("channel"), "kind": e.details.get("kind"),
                                    "collection": e.target, "request_id": e.request_id,
                                    "seq": e.seq})
            if len(page) < PAGE:
                return out
            after = page[-1].seq

    def export(self, since: int | None = None) -> Iterator[AuditEntry]:
        after = 0
        while True:
            page = self.store.audit_search(since=since, after_seq=after, limit=PAGE)
            yield from page
            if len(page) < PAGE:
                return
            after = page[-1].seq

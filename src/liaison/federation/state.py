"""The sync engine's side of `storage.syncstate`: jobs, the lease and run results.

A `Job` is one (partner, agreement, local collection, direction).  Which directions
run (docs/federation.md): an agreement that lets the partner write to a collection
("push" or "both") makes our node *pull* from the partner's mapped collection — the
same flow as the partner pushing to us, initiated by us; one that lets the partner
read ("pull" or "both") makes our node *push* to it what our policy releases.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

from liaison.policy.model import Agreement, Partner
from liaison.stix.timestamps import now_us
from liaison.storage.base import Store, SyncAdvance, SyncFailure, SyncKey, SyncState

LEASE_SECONDS = 300


@dataclass(frozen=True, slots=True)
class Job:
    partner: Partner
    agreement: Agreement
    cid: int
    collection: str
    """The local collection's alias (or id), for messages."""
    remote: str
    """The partner's collection id this collection maps to."""
    direction: str

    @property
    def key(self) -> SyncKey:
        return SyncKey(self.agreement.id, self.cid, self.direction)

    def describe(self) -> str:
        arrow = "from" if self.direction == "pull" else "to"
        return f"{self.direction} {self.collection} {arrow} {self.partner.name}"


def directions(agreement: Agreement) -> list[str]:
    """The sync directions our node runs for an agreement (see the module docstring)."""
    out = []
    if agreement.lets_partner_write():
        out.append("pull")
    if agreement.lets_partner_read():
        out.append("push")
    return out


@dataclass(slots=True)
class RunResult:
    job: Job
    moved: int = 0
    failed: int = 0
    pages: int = 0
    caught_up: bool = False
    error: str | None = None
    skipped: str | None = None

    def describe(self) -> str:
        if self.skipped:
            return f"{self.job.describe()}: skipped — {self.skipped}"
        state = ("up to date" if self.caught_up else "stopped: " + self.error if self.error
                 else "more to do (page limit of this run reached)")
        return (f"{self.job.describe()}: {self.moved} moved, {self.failed} refused, "
                f"{self.pages} page(s); {state}")


def new_owner() -> str:
    """A lease owner id unique to this process and run."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Ledger:
    """Sync state for one owner: lease, run start, steps, errors."""

    def __init__(self, store: Store, owner: str | None = None,
                 lease_seconds: int = LEASE_SECONDS) -> None:
        self.store = store
        self.owner = owner or new_owner()
        self.lease_us = lease_seconds * 1_000_000

    def state(self, key: SyncKey) -> SyncState:
        found = [s for s in self.store.sync_states(key.agreement_id) if s.key == key]
        return found[0] if found else SyncState(key)

    def acquire(self, key: SyncKey) -> bool:
        now = now_us()
        return self.store.acquire_sync_lease(key, self.owner, now, now + self.lease_us)

    def renew(self, key: SyncKey) -> None:
        self.store.renew_sync_lease(key, self.owner, now_us() + self.lease_us)

    def release(self, key: SyncKey) -> None:
        self.store.release_sync_lease(key, self.owner)

    def start(self, key: SyncKey) -> None:
        now = now_us()
        self.store.start_sync_run(key, self.owner, now, now)

    def step(self, key: SyncKey, *, checkpoint: int | None = None, moved: int = 0,
             failures: tuple[SyncFailure, ...] = (), resolved: tuple[tuple[str, str], ...] = (),
             caught_up: bool = False, run_from: int | None = None) -> SyncAdvance:
        now = now_us()
        return SyncAdvance(key, self.owner, now, now + self.lease_us, checkpoint, moved,
                           failures, resolved, caught_up, run_from)

    def commit(self, advance: SyncAdvance) -> None:
        """A step with no local data (push), in its own transaction."""
        self.store.advance_sync(advance)

    def fail(self, key: SyncKey, message: str) -> None:
        self.store.fail_sync(key, self.owner, message, now_us())


def progress(state: SyncState) -> float | None:
    """How far the current (or last) run got, 0–1, from checkpoint vs the run's span."""
    start = state.run_from
    if state.checkpoint is None or start is None or state.horizon is None:
        return None
    if state.horizon <= start:
        return 1.0
    return max(0.0, min(1.0, (state.checkpoint - start) / (state.horizon - start)))

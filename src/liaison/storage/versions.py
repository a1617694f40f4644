"""Engine-independent planning of an insert: dates, duplicates, first/last flags.

Written once so that both engines decide identically (TAXII 2.1 §3.4.1 versions,
STIX 2.1 §3.6 versioning):

- `date_added` is node-wide strictly increasing: max(now, last + 1), then +1 per row,
  so pagination by `date_added` never skips or repeats, even under ties of the clock.
- An exact duplicate (id, version) with the same bytes is a success and no new row.
  The same (id, version) with other bytes keeps the first copy and is reported as a
  success with a message (node decision, reference §1.9).
- An SCO without `modified`/`created` has one version per id: its version is the
  `date_added` it was first stored with; a later copy is a duplicate.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from liaison.stix.timestamps import format_taxii_timestamp
from liaison.storage.base import NewVersion, StoredOutcome

CONFLICT_MESSAGE = (
    "a different object with this id and version is already stored; the first copy is kept"
)


# Not frozen (read-only by convention): built once per object on the hot path, and a
# frozen dataclass's __init__ costs about 3x (object.__setattr__ per field).
@dataclass(slots=True)
class PlannedRow:
    date_added: int
    id: str
    type: str
    version: int
    version_text: str
    is_latest: int
    is_first: int
    body: bytes
    source: NewVersion
    """The version as given, with its release columns (tlp, markings, origin, …)."""


@dataclass(slots=True)
class InsertPlan:
    rows: list[PlannedRow] = field(default_factory=list)
    outcomes: list[StoredOutcome] = field(default_factory=list)
    reflag: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Ids with rows already stored: (first, last) version to recompute flags with."""
    last_date_added: int = 0


def plan_insert(
    new: Sequence[NewVersion],
    existing: Mapping[str, Mapping[int, bytes]],
    now: int,
    last_date_added: int,
) -> InsertPlan:
    """Decide which versions become rows, with their dates and flags."""
    plan = InsertPlan()
    clock = max(now, last_date_added + 1) - 1
    seen: dict[str, dict[int, bytes]] = {}
    pending: list[tuple[int, NewVersion, int, str]] = []
    for v in new:
        stored = existing.get(v.id, {})
        batch = seen.setdefault(v.id, {})
        if v.version is None and (stored or batch):
            first = (stored or batch)[min(stored or batch)]
            plan.outcomes.append(_duplicate(v, _text_of(stored, batch), first))
            continue
        if v.version is not None:
            prior = stored.get(v.version, batch.get(v.version))
            if prior is not None:
                plan.outcomes.append(_duplicate(v, v.version_text or "", prior))
                continue
        clock += 1
        version = v.version if v.version is not None else clock
        text = v.version_text if v.version_text is not None else format_taxii_timestamp(clock)
        batch[version] = v.body
        pending.append((clock, v, version, text))
        plan.outcomes.append(StoredOutcome(v.id, text, True))
    for date_added, v, version, text in pending:
        versions = set(seen[v.id]) | set(existing.get(v.id, ()))
        lo, hi = min(versions), max(versions)
        if v.id in existing:
            plan.reflag[v.id] = (lo, hi)
        plan.rows.append(
            PlannedRow(date_added, v.id, v.type, version, text, int(version == hi),
                       int(version == lo), v.body, v)
        )
    plan.last_date_added = clock
    return plan


def _text_of(stored: Mapping[int, bytes], batch: Mapping[int, bytes]) -> str:
    return format_taxii_timestamp(min(stored or batch))


def _duplicate(v: NewVersion, version_text: str, prior: bytes) -> StoredOutcome:
    message = None if prior == v.body else CONFLICT_MESSAGE
    return StoredOutcome(v.id, version_text, False, message)

"""The storage seam: value objects and the `Store` protocol every engine implements.

Nothing above this layer knows SQL.  Query semantics (TAXII 2.1 §3.4 filters, §3.5
pagination) are decided once, here and in `exchange`; an engine only compiles an
`ObjectQuery` into its own SQL.  Both engines pass the one contract suite in
`tests/storage/`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, Protocol

from liaison.policy.model import Agreement, MarkingInfo, Partner, Visibility

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from liaison.audit.chain import AuditDraft, AuditEntry
    from liaison.storage.migrations import Migration
    from liaison.storage.search_base import (
        Facets,
        FoundRow,
        Scope,
        SearchSpec,
        ValueHit,
        ValueKey,
    )

ROLES = ("admin", "analyst", "reader")
PRINCIPAL_KINDS = ("user", "partner")


@dataclass(frozen=True, slots=True)
class Principal:
    """Someone who calls the node: a local user (with a role) or a partner's node."""

    id: str
    name: str
    kind: str
    role: str
    created_at: int
    revoked_at: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.kind == "user" and self.role == "admin"


@dataclass(frozen=True, slots=True)
class Collection:
    """A TAXII collection (§5.2.1); `cid` is the engine's compact internal key."""

    cid: int
    id: str
    title: str
    alias: str | None = None
    description: str | None = None
    created_at: int = 0
    default_tlp: int = 2
    """TLP rank assumed for unmarked objects (2 = AMBER; never CLEAR by accident)."""


@dataclass(frozen=True, slots=True)
class Grant:
    """Collection-level rights of one principal (TAXII §1.8 can_read / can_write)."""

    collection_id: str
    principal_id: str
    can_read: bool
    can_write: bool


@dataclass(frozen=True, slots=True)
class VersionFilter:
    """`match[version]` (TAXII §3.4.1): keywords and exact instants, ORed together."""

    first: bool = False
    last: bool = True
    all: bool = False
    exact: tuple[int, ...] = ()

    @classmethod
    def everything(cls) -> VersionFilter:
        return cls(last=False, all=True)


@dataclass(frozen=True, slots=True)
class ObjectQuery:
    """One page of object versions of one collection, in ascending `date_added`.

    `after` is exclusive and combines `added_after` with the position of a `next`
    cursor (the larger of the two).  `limit` rows are returned; the engine fetches one
    more to tell whether there is `more`.
    """

    cid: int
    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    versions: VersionFilter = field(default_factory=VersionFilter)
    after: int | None = None
    limit: int = 100
    with_body: bool = True
    visibility: Visibility | None = None
    """A partner's read terms: compiled into the query by `storage.policy_sql`."""
    exclude_origin: str | None = None
    """Leave out versions that came from this partner (federation push: no echoes)."""


class ObjectRow(NamedTuple):
    """One stored object version as a read returns it (body spliced, never parsed).

    A named tuple: a page builds one per row straight from the database row
    (`ObjectRow._make`), about three times cheaper than a dataclass."""

    date_added: int
    id: str
    version: str
    body: bytes | None = None


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[ObjectRow]
    more: bool


IndexedValue = tuple[str, str, bytes | None, bytes | None, str]
"""(kind, value, lo, hi, via) of one observable (`search.observables.Observable`)."""


# Not frozen (read-only by convention): built once per object on the hot path, and a
# frozen dataclass's __init__ costs about 3x (object.__setattr__ per field).
@dataclass(slots=True)
class NewVersion:
    """A validated object version ready to store (built from a `stix.StixObject`)."""

    id: str
    type: str
    version: int | None
    version_text: str | None
    body: bytes
    tlp: int | None = None
    markings: tuple[str, ...] = ()
    restricted: bool = False
    public: bool = False
    ref_a: str | None = None
    ref_b: str | None = None
    origin: str | None = None
    """None for this node's own material, else the id of the partner it came from."""
    received_via: str | None = None
    """The agreement a partner's version arrived through (provenance); None if local."""
    observables: tuple[IndexedValue, ...] = ()
    """Normalised observable values it mentions (`search.index`), indexed with the row."""
    search: tuple[str, str, str] | None = None
    """Its full-text fields (names, terms, prose) as tokens (`search.text`), if any."""


# Not frozen (read-only by convention): built once per object on the hot path, and a
# frozen dataclass's __init__ costs about 3x (object.__setattr__ per field).
@dataclass(slots=True)
class StoredOutcome:
    """What happened to one `NewVersion` in `Store.add_objects`, in input order."""

    id: str
    version: str
    stored: bool
    message: str | None = None


class Store(Protocol):
    """What the exchange needs from a database.  Every method is one transaction."""

    engine: str
    audit_enabled: bool
    """The setting `audit`: when False, `unit` and `record` append nothing."""
    index_enabled: bool
    """The setting `search_index`: when False, stored versions get no index rows."""

    # -- schema (numbered migrations, see `storage.migrations`) ----------------
    def applied_migrations(self) -> set[int]: ...
    def apply_migration(self, migration: Migration, now: int) -> None: ...
    def reset(self) -> None:
        """Drop every table of the node (used by `liaison init --force`)."""

    # -- transactions and the audit chain (see `storage.audit_sql`) ----------
    def unit(self, audit: AuditDraft | None = None) -> AbstractContextManager[None]:
        """One transaction for a block of store calls, `audit` appended before COMMIT."""
    def record(self, drafts: Sequence[AuditDraft]) -> None:
        """Append audit entries in a transaction of their own."""
    def audit_head(self) -> tuple[int, str]: ...
    def audit_count(self) -> int: ...
    def audit_entries(self, after_seq: int = 0, limit: int = 1000) -> list[AuditEntry]: ...
    def audit_search(self, *, since: int | None = None, actor: str | None = None,
                     action: str | None = None, contains: str | None = None,
                     after_seq: int = 0, limit: int = 1000) -> list[AuditEntry]: ...

    # -- node metadata --------------------------------------------------------
    def close(self) -> None: ...
    def get_meta(self, key: str) -> str | None: ...
    def set_meta(self, key: str, value: str) -> None: ...

    # -- principals -----------------------------------------------------------
    def add_principal(self, principal: Principal, token_hash: str) -> None: ...
    def principal_by_token(self, token_hash: str) -> Principal | None: ...
    def principal_by_name(self, name: str) -> Principal | None: ...
    def list_principals(self) -> list[Principal]: ...
    def revoke_principal(self, principal_id: str, at: int) -> None: ...

    # -- collections and grants ----------------------------------------------
    def add_collection(self, collection: Collection) -> Collection: ...
    def list_collections(self) -> list[Collection]: ...
    def collection(self, id_or_alias: str) -> Collection | None: ...
    def set_grant(self, cid: int, principal_id: str, can_read: bool, can_write: bool) -> None: ...
    def remove_grant(self, cid: int, principal_id: str) -> bool: ...
    def grants_of(self, principal_id: str) -> dict[int, tuple[bool, bool]]: ...
    def list_grants(self) -> list[Grant]: ...

    # -- objects --------------------------------------------------------------
    def add_objects(
        self,
        cid: int,
        versions: Sequence[NewVersion],
        now: int,
        make_status: StatusMaker | None = None,
        advance: AdvanceMaker | None = None,
    ) -> list[StoredOutcome]:
        """Store versions as one transaction; `make_status` and `advance` (a sync
        checkpoint, see `storage.syncstate`) are written inside that same transaction."""
    def query(self, q: ObjectQuery) -> Page: ...
    def delete_versions(self, cid: int, stix_id: str, versions: VersionFilter) -> int: ...
    def count_objects(self, cid: int) -> int: ...

    def origins(self, stix_ids: Sequence[str]) -> dict[str, set[str | None]]:
        """Node-wide: the origins of every stored version of each id (STIX §3.5)."""
    def object_facts(self, cid: int, stix_id: str) -> ObjectRelease | None:
        """The release columns of the latest version of an object (for explain)."""

    # -- partners, agreements and the marking registry -----------------------
    def add_partner(self, partner: Partner) -> None: ...
    def partner(self, name: str) -> Partner | None: ...
    def partner_by_principal(self, principal_id: str) -> Partner | None: ...
    def list_partners(self) -> list[Partner]: ...
    def set_partner_remote(self, partner_id: str, url: str | None, token: str | None) -> None: ...
    def remove_partner(self, partner_id: str, at: int) -> None: ...
    def add_agreement(self, agreement: Agreement) -> None: ...
    def agreements(self, partner_id: str | None) -> list[Agreement]: ...
    def revoke_agreement(self, agreement_id: str, at: int) -> bool: ...
    def set_marking(self, info: MarkingInfo, body: bytes | None) -> None: ...
    def markings(self, ids: Sequence[str]) -> dict[str, MarkingInfo]: ...
    def marking_bodies(self, ids: Sequence[str]) -> dict[str, bytes]: ...

    # -- federation sync state (storage.syncstate.SyncStateSQL) ---------------
    def sync_states(self, agreement_id: str | None = None) -> list[SyncState]: ...
    def acquire_sync_lease(self, key: SyncKey, owner: str, now: int, until: int) -> bool: ...
    def release_sync_lease(self, key: SyncKey, owner: str) -> None: ...
    def renew_sync_lease(self, key: SyncKey, owner: str, until: int) -> None: ...
    def start_sync_run(self, key: SyncKey, owner: str, now: int,
                       horizon: int | None) -> None: ...
    def advance_sync(self, advance: SyncAdvance) -> None: ...
    def fail_sync(self, key: SyncKey, owner: str, message: str, at: int) -> None: ...
    def sync_failures(self, key: SyncKey, limit: int = 50) -> list[SyncFailure]: ...
    def provenance(self, cid: int, stix_id: str) -> list[tuple[str, int, str | None, str | None]]:
        """(version, date_added, origin partner, agreement received via) per version."""

    # -- the search index (storage.search_sql.SearchSQL) ------------------------
    def lookup_values(self, keys: Sequence[ValueKey], scope: Scope, per_value: int,
                      all_versions: bool = False) -> list[ValueHit]: ...
    def search(self, spec: SearchSpec) -> tuple[list[FoundRow], bool, Facets]: ...
    def object_rows(self, stix_id: str, scope: Scope) -> list[FoundRow]: ...
    def observables_at(self, keys: Sequence[int]) -> list[tuple[int, IndexedValue]]: ...
    def relations(self, stix_ids: Sequence[str], scope: Scope, limit: int) -> list[FoundRow]: ...
    def latest_rows(self, stix_ids: Sequence[str], scope: Scope) -> list[FoundRow]: ...
    def index_pending(self, after: int, limit: int) -> list[tuple[int, str, bytes]]: ...
    def replace_index(self, entries: Sequence[tuple[int, tuple[IndexedValue, ...],
                                                    tuple[str, str, str] | None]]) -> None: ...

    # -- status resources (TAXII §4.3) ---------------------------------------
    def get_status(self, status_id: str) -> StatusRecord | None: ...
    def purge_statuses(self, older_than: int) -> int: ...


@dataclass(frozen=True, slots=True)
class StatusRecord:
    """A stored status resource; `body` is its finished TAXII JSON (§4.3.1)."""

    id: str
    principal_id: str
    cid: int
    created_at: int
    body: bytes


StatusMaker = Callable[[list[StoredOutcome]], StatusRecord]
"""Builds the status resource from the outcomes, inside the same transaction."""

AdvanceMaker = Callable[[list[StoredOutcome]], "SyncAdvance"]
"""Builds a sync step (checkpoint, counters) from the outcomes, inside the same
transaction (`storage.syncstate`)."""


@dataclass(frozen=True, slots=True)
class ObjectRelease:
    """The stored release columns of one object version (see `policy.derive`)."""

    date_added: int
    id: str
    type: str
    tlp: int | None
    markings: tuple[str, ...]
    restricted: bool
    public: bool
    origin: str | None
    ref_a: str | None
    ref_b: str | None


@dataclass(frozen=True, slots=True)
class SyncKey:
    """What one syncer works on: an agreement, a local collection, a direction."""

    agreement_id: str
    cid: int
    direction: str
    """"pull" (the partner's collection into ours) or "push" (ours to the partner's)."""


@dataclass(frozen=True, slots=True)
class SyncFailure:
    """An object the other side refused, with its message (latest attempt)."""

    stix_id: str
    version: str
    message: str
    at: int = 0


@dataclass(frozen=True, slots=True)
class SyncAdvance:
    """A step of a sync run, written only while `owner` holds the lease.

    `checkpoint` never moves backwards; `moved` adds to the objects counter;
    `failures` are recorded (and `resolved` ones forgotten); `caught_up` marks a run
    that reached the end of what the other side had.
    """

    key: SyncKey
    owner: str
    at: int
    lease_until: int
    checkpoint: int | None = None
    moved: int = 0
    failures: tuple[SyncFailure, ...] = ()
    resolved: tuple[tuple[str, str], ...] = ()
    caught_up: bool = False
    run_from: int | None = None
    """Where this run started, if the state did not know yet (first sync: progress)."""


@dataclass(frozen=True, slots=True)
class SyncState:
    """The stored state of one `SyncKey` (times in microseconds since the epoch)."""

    key: SyncKey
    checkpoint: int | None = None
    run_from: int | None = None
    horizon: int | None = None
    last_attempt: int | None = None
    last_success: int | None = None
    caught_up_at: int | None = None
    last_error: str | None = None
    last_error_at: int | None = None
    moved: int = 0
    failed: int = 0
    lease_owner: str | None = None
    lease_until: int | None = None

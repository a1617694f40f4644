"""Values the release decision is made of: agreements, terms, marking knowledge, facts.

Everything here is immutable and free of I/O; `decide` evaluates these values and
`storage.policy_sql` compiles the same rules into the predicate every read uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from liaison.stix.markings import TLP_LEVELS, tlp_rank

CLEAR, GREEN, AMBER, AMBER_STRICT, RED = range(5)
RESHARE_MAX = GREEN
"""Material received from another partner is re-shared only up to TLP:GREEN."""

DIRECTIONS = ("pull", "push", "both")


def tlp_name(rank: int) -> str:
    return "TLP:" + TLP_LEVELS[rank].upper()


def parse_tlp(level: str) -> int:
    """A TLP level name ('amber+strict', 'TLP:RED', 'white' = clear) as its rank."""
    name = level.strip().lower().removeprefix("tlp:")
    return tlp_rank("clear" if name == "white" else name)


@dataclass(frozen=True, slots=True)
class Partner:
    """Another organisation's node: its identity, URL and the principal it calls us as."""

    id: str
    name: str
    org_identity: str
    principal_id: str
    url: str | None = None
    remote_token: str | None = None
    created_at: int = 0
    removed_at: int | None = None


@dataclass(frozen=True, slots=True)
class Agreement:
    """A written sharing agreement with one partner over some collections."""

    id: str
    partner_id: str
    cids: tuple[int, ...]
    direction: str
    max_tlp: int
    reshare: bool
    valid_from: int | None = None
    valid_until: int | None = None
    revoked_at: int | None = None
    created_at: int = 0
    remote_collections: tuple[str | None, ...] = ()

    def active(self, now: int) -> bool:
        return (self.revoked_at is None
                and (self.valid_from is None or self.valid_from <= now)
                and (self.valid_until is None or now < self.valid_until))

    def lets_partner_read(self) -> bool:
        return self.direction in ("pull", "both")

    def lets_partner_write(self) -> bool:
        return self.direction in ("push", "both")


@dataclass(frozen=True, slots=True)
class Terms:
    """What one active agreement releases from one collection."""

    agreement_id: str
    max_tlp: int
    reshare: bool


@dataclass(frozen=True, slots=True)
class Visibility:
    """A partner's read terms on one collection: the input of the SQL predicate."""

    partner_id: str
    org_id: str
    default_tlp: int
    terms: tuple[Terms, ...]


@dataclass(frozen=True, slots=True)
class MarkingInfo:
    """A marking the node knows: a TLP level, a releasability list or a statement."""

    id: str
    kind: str
    tlp: int | None = None
    releasable_to: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ObjectFacts:
    """What the decision needs to know about one stored object version."""

    id: str
    type: str
    tlp: int | None
    markings: tuple[str, ...] = ()
    restricted: bool = False
    origin: str | None = None
    public: bool = False
    endpoints: tuple[tuple[str, bool], ...] = ()


@dataclass(frozen=True, slots=True)
class Reason:
    rule: str
    passed: bool
    detail: str


@dataclass(frozen=True, slots=True)
class Decision:
    released: bool
    reasons: tuple[Reason, ...]

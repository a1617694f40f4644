"""Value objects of the search queries (lookup, full text, correlation) a store answers.

Like `storage.base.ObjectQuery`, they say *what* to find; `storage.search_sql`
compiles them for either engine.  Every query carries a `Scope`: the collections the
caller reads whole (local grants) and, per collection, a partner's `Visibility`
(compiled with `storage.policy_sql.visible_sql`).  An empty scope finds nothing, so
nothing — not even a count — is learnt about objects outside it.
"""

from __future__ import annotations

from dataclasses import dataclass

from liaison.policy.model import Visibility


@dataclass(frozen=True, slots=True)
class Scope:
    """What a principal may read: whole collections, and collections under a partner's
    release terms."""

    whole: tuple[int, ...] = ()
    released: tuple[tuple[int, Visibility], ...] = ()

    @property
    def empty(self) -> bool:
        return not self.whole and not self.released

    def narrowed(self, cids: tuple[int, ...] | None) -> Scope:
        """The scope restricted to `cids` (None: unchanged)."""
        if cids is None:
            return self
        keep = set(cids)
        return Scope(tuple(c for c in self.whole if c in keep),
                     tuple(r for r in self.released if r[0] in keep))


@dataclass(frozen=True, slots=True)
class ValueKey:
    """One looked-up value as index keys (see `search.probes.Probe`)."""

    key: int
    """The caller's number for this value (answers are grouped by it)."""
    exact: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    """Restrict exact matches to these kinds (empty: any kind)."""
    lo: bytes | None = None
    hi: bytes | None = None
    inside: bool = False
    """Also what lies inside [lo, hi] (the value is a block)."""
    bits: int = 128
    """The address width of [lo, hi]'s family (32: IPv4, stored IPv4-mapped): the
    blocks that may contain it span up to this many bits.  The range index is probed
    at the block sizes the store holds (`observables.containing_blocks`)."""


@dataclass(frozen=True, slots=True)
class ValueHit:
    """An object version that mentions a looked-up value."""

    key: int
    date_added: int
    cid: int
    stix_id: str
    version: str
    origin: str | None
    body: bytes
    kind: str
    value: str
    via: str
    first_seen: int
    """The earliest version of the object in that collection the caller may see."""


@dataclass(frozen=True, slots=True)
class Atom:
    """A word (one token) or a phrase (consecutive tokens); `prefix`: the last token is
    a prefix."""

    tokens: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Group:
    """Atoms of which one must match (OR); `negated`: none may match."""

    atoms: tuple[Atom, ...]
    negated: bool = False


@dataclass(frozen=True, slots=True)
class SearchSpec:
    """A full-text search: every group must hold (AND), with filters, in a scope."""

    scope: Scope
    groups: tuple[Group, ...] = ()
    types: tuple[str, ...] = ()
    tlps: tuple[int, ...] = ()
    origins: tuple[str | None, ...] | None = None
    """Partner ids (None inside means this node's own material); None: any origin."""
    after: int | None = None
    """date_added >= after."""
    before: int | None = None
    """date_added < before."""
    all_versions: bool = False
    newest_first: bool = False
    """Order by date_added instead of relevance."""
    limit: int = 20
    offset: int = 0

    @property
    def has_text(self) -> bool:
        return any(not g.negated for g in self.groups)


@dataclass(frozen=True, slots=True)
class FoundRow:
    """One object version a search or relation query found."""

    date_added: int
    cid: int
    stix_id: str
    version: str
    type: str
    origin: str | None
    body: bytes
    first_seen: int


@dataclass(frozen=True, slots=True)
class Facets:
    """Counts over every match the caller may see (types, collections, TLP ranks)."""

    total: int
    capped: bool
    by_type: tuple[tuple[str, int], ...] = ()
    by_collection: tuple[tuple[int, int], ...] = ()
    by_tlp: tuple[tuple[int | None, int], ...] = ()

"""The write path: from untrusted objects to versions ready to store.

For every writer: STIX validation (`stix.validate`), the release columns
(`policy.derive`) and the search index entry (`search.index`: observable values and
full-text tokens, stored in the same transaction as the object).  For partner writers
(TAXII push, federation pull) also the receiving policy of the policy issue: identity
comes from the credentials, never from the payload (an object whose `created_by_ref`
names anyone but the partner is refused), and only the creator versions an object
(STIX §3.5: a partner may not add versions of an object that originated here or with
another partner).

Marking knowledge: statement and releasability marking-definitions written by local
users (or the CLI) are entered in the node's marking registry; those received from
partners are stored as objects but not trusted as definitions, so anything carrying
them stays withheld from partners (fail closed).  When marked content enters a
collection, the definitions it uses come with it: the nine standard TLP definitions,
and the registry's own definitions it references.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

from liaison.policy.derive import STANDARD_TLP, derive
from liaison.policy.model import MarkingInfo, Partner
from liaison.policy.releasability import releasable_to
from liaison.search.index import entry as index_entry
from liaison.search.patterns import pattern_error
from liaison.stix.jsonparse import parse_json
from liaison.stix.markings import standard_marking_definitions
from liaison.stix.validate import InvalidObject, StixObject, check_object
from liaison.storage.base import NewVersion, ObjectQuery, Store, StoredOutcome, VersionFilter


@dataclass(slots=True)
class Prepared:
    """Versions to store (the envelope's own first, then companions) and refusals."""

    versions: list[NewVersion] = field(default_factory=list)
    failures: list[StoredOutcome] = field(default_factory=list)
    own: int = 0
    """How many of `versions` came from the envelope (the rest are companions)."""
    markings: list[tuple[MarkingInfo, bytes]] = field(default_factory=list)


def _version(s: StixObject, origin: str | None, via: str | None = None,
             index: bool = True) -> NewVersion:
    c = derive(s)
    observed, fields = index_entry(s.obj, s.category) if index else ((), None)
    return NewVersion(s.id, s.type, s.version_us, s.version_text, s.body, c.tlp, c.markings,
                      c.restricted, c.public, c.ref_a, c.ref_b, origin, via, observed, fields)


def _marking_info(s: StixObject) -> MarkingInfo | None:
    if s.type != "marking-definition" or s.id in STANDARD_TLP:
        return None
    orgs = releasable_to(s.obj)
    if orgs is not None:
        return MarkingInfo(s.id, "releasability", None, orgs)
    if s.obj.get("definition_type") == "statement":
        return MarkingInfo(s.id, "statement")
    return None


def _partner_refusal(s: StixObject, partner: Partner, origins: dict[str, set[str | None]],
                     ) -> str | None:
    creator = s.created_by_ref
    if creator is not None and creator != partner.org_identity:
        return (f"created_by_ref names {creator}, but these credentials belong to "
                f"{partner.org_identity}: a partner may only send objects it created")
    if s.category != "sco" and s.id not in STANDARD_TLP:
        others = origins.get(s.id, set()) - {partner.id}
        if others:
            return ("this object originated elsewhere: only its creator may add versions "
                    "(STIX 2.1 §3.5); publish a new object with a derived-from relationship")
    return None


def _inherited(found: set[str | None] | None) -> str | None:
    """The origin of a local user's version: an object received from a partner stays
    that partner's material, so a local edit or re-mark cannot launder it past the
    re-share rule (reliability-security §(b) test 11)."""
    partners = sorted(o for o in (found or ()) if o is not None)
    return partners[0] if partners else None


def _held(store: Store, cid: int, checked: list[StixObject]) -> set[tuple[str, bytes]]:
    """(id, canonical bytes) of the given objects' versions already stored in `cid`."""
    ids = tuple(dict.fromkeys(s.id for s in checked))
    found: set[tuple[str, bytes]] = set()
    for i in range(0, len(ids), 500):
        after = None
        while True:
            page = store.query(ObjectQuery(cid=cid, ids=ids[i : i + 500], after=after,
                                           versions=VersionFilter.everything(), limit=1000))
            found.update((r.id, r.body) for r in page.rows if r.body is not None)
            if not page.more:
                break
            after = page.rows[-1].date_added
    return found


def _pattern_problem(s: StixObject) -> str | None:
    """An indicator's STIX pattern must be valid (STIX 2.1 §4.7, §9)."""
    if s.type != "indicator" or s.obj.get("pattern_type") != "stix":
        return None
    pattern = s.obj.get("pattern")
    if not isinstance(pattern, str):
        return None  # the validator already reported a pattern that is not a string
    error = pattern_error(pattern)
    return None if error is None else f"property 'pattern' is not a valid STIX pattern: {error}"


def prepare(store: Store, objects: Iterable[object], partner: Partner | None,
            via: str | None = None, copies_in: int | None = None) -> Prepared:
    """Validate and classify objects; nothing is written here.

    `via` is the agreement partner material arrives through (federation provenance).
    With `copies_in` (a collection), a partner's byte-identical copy of a version that
    collection already holds passes as a duplicate without the creator rule: federation
    re-delivers (and echoes back) what we have, and storing nothing is always safe.
    """
    out = Prepared()
    checked: list[StixObject] = []
    for obj in objects:
        try:
            s = check_object(obj)
        except InvalidObject as exc:
            out.failures.append(StoredOutcome(exc.object_id, exc.version, False, exc.message))
            continue
        problem = _pattern_problem(s)
        if problem is not None:
            out.failures.append(StoredOutcome(s.id, s.version_text or "unknown", False, problem))
            continue
        checked.append(s)
    origins = store.origins([s.id for s in checked])
    held = (_held(store, copies_in, checked)
            if partner is not None and copies_in is not None else set())
    used: set[str] = set()
    index = store.index_enabled
    for s in checked:
        if partner is not None:
            refusal = None if (s.id, s.body) in held else _partner_refusal(s, partner, origins)
            if refusal is not None:
                out.failures.append(StoredOutcome(s.id, s.version_text or "unknown", False,
                                                  refusal))
                continue
        else:
            info = _marking_info(s)
            if info is not None:
                out.markings.append((info, s.body))
        origin = partner.id if partner is not None else _inherited(origins.get(s.id))
        out.versions.append(_version(s, origin, via, index))
        used.update(s.marking_refs)
        used.update(s.granular_marking_refs)
    out.own = len(out.versions)
    out.versions.extend(_companions(store, used))
    return out


@functools.cache
def _standard_versions() -> tuple[NewVersion, ...]:
    return tuple(_version(check_object(d), None) for d in standard_marking_definitions())


def _companions(store: Store, used: set[str]) -> list[NewVersion]:
    """The marking definitions marked content needs beside it in its collection."""
    extra: list[NewVersion] = list(_standard_versions()) if used & STANDARD_TLP else []
    known = store.marking_bodies(sorted(used - STANDARD_TLP)) if used - STANDARD_TLP else {}
    for marking_id in sorted(known):
        extra.append(_version(check_object(parse_json(known[marking_id])), None))
    return extra

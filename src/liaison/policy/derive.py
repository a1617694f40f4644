"""Release columns computed once at ingest from a validated object (DESIGN principle 3).

Stored beside each object version and read by the SQL predicate: the object's TLP
rank, its other markings, whether granular markings restrict it, whether it is a
public standard definition, and the endpoints its release depends on.
"""

from __future__ import annotations

from dataclasses import dataclass

from liaison.policy.releasability import releasable_to
from liaison.stix.markings import TLP1_IDS, TLP2_IDS, tlp_level_of_marking, tlp_rank
from liaison.stix.validate import StixObject

STANDARD_TLP = frozenset(TLP1_IDS) | frozenset(TLP2_IDS)


# Not frozen (read-only by convention): built once per object on the hot path, and a
# frozen dataclass's __init__ costs about 3x (object.__setattr__ per field).
@dataclass(slots=True)
class ReleaseColumns:
    tlp: int | None
    markings: tuple[str, ...]
    restricted: bool
    public: bool
    ref_a: str | None
    ref_b: str | None


def _rank(marking_id: str) -> int | None:
    level = tlp_level_of_marking(marking_id)
    return None if level is None else tlp_rank(level)


def derive(s: StixObject) -> ReleaseColumns:
    """The release columns of one object version."""
    ranks = [r for r in map(_rank, s.marking_refs) if r is not None]
    tlp = max(ranks) if ranks else None
    others = [m for m in s.marking_refs if m not in STANDARD_TLP]
    if s.type == "marking-definition" and releasable_to(s.obj) is not None:
        others.append(s.id)  # a releasability definition is released only as it says
    own = set(s.marking_refs)
    floor = -1 if tlp is None else tlp
    restricted = False
    for ref in s.granular_marking_refs:
        if ref in own:
            continue
        rank = _rank(ref)
        if rank is None or rank > floor:
            restricted = True
            break
    ref_a = ref_b = None
    if s.type == "relationship":
        ref_a, ref_b = s.obj.get("source_ref"), s.obj.get("target_ref")
    elif s.type == "sighting":
        ref_a = s.obj.get("sighting_of_ref")
    return ReleaseColumns(tlp, tuple(dict.fromkeys(others)), restricted,
                          s.type == "marking-definition" and s.id in STANDARD_TLP, ref_a, ref_b)

"""`explain`: the release decision for one object and one partner, rule by rule.

It gathers the same stored facts the SQL predicate reads (release columns, marking
registry, endpoints) and runs the pure `policy.decide` on them, so the words and the
query cannot drift apart (the property tests hold all three together).
"""

from __future__ import annotations

from dataclasses import dataclass

from liaison.access import Rights
from liaison.errors import NotFound
from liaison.policy.decide import decide
from liaison.policy.model import Decision, ObjectFacts, Partner, Visibility
from liaison.storage.base import Collection, ObjectRelease, Store


@dataclass(frozen=True, slots=True)
class Explanation:
    collection: str
    decision: Decision

    def as_dict(self) -> dict[str, object]:
        return {"collection": self.collection,
                "result": "RELEASED" if self.decision.released else "WITHHELD",
                "rules": [{"rule": r.rule, "passed": r.passed, "detail": r.detail}
                          for r in self.decision.reasons]}


def _facts(row: ObjectRelease, endpoints: tuple[tuple[str, bool], ...] = ()) -> ObjectFacts:
    return ObjectFacts(row.id, row.type, row.tlp, row.markings, row.restricted, row.origin,
                       row.public, endpoints)


def decide_stored(store: Store, vis: Visibility, c: Collection, row: ObjectRelease) -> Decision:
    """The decision for a stored version, its endpoints judged on their own rules."""
    endpoints = []
    for ref in (row.ref_a, row.ref_b):
        if ref is None:
            continue
        end = store.object_facts(c.cid, ref)
        ok = False
        if end is not None and end.ref_a is None and end.ref_b is None:  # no SRO chains
            ok = decide(vis, _facts(end), store.markings(end.markings)).released
        endpoints.append((ref, ok))
    return decide(vis, _facts(row, tuple(endpoints)), store.markings(row.markings))


def explain(store: Store, rights: Rights, object_id: str, partner: Partner,
            collection: Collection | None) -> list[Explanation]:
    """One explanation per collection holding the object (or for the one named)."""
    targets = [collection] if collection is not None else store.list_collections()
    out = []
    for c in targets:
        row = store.object_facts(c.cid, object_id)
        if row is None:
            continue
        vis = rights.for_partner(partner, [c])[0].visibility
        assert vis is not None
        out.append(Explanation(c.alias or c.id, decide_stored(store, vis, c, row)))
    if not out:
        where = f"collection '{collection.alias or collection.id}'" if collection else "any collection"
        raise NotFound(f"object '{object_id}' is not in {where}")
    return out

"""The pure decision, the SQL predicate and `explain` agree on every generated case.

Hypothesis generates stored objects (TLP, markings known/unknown/releasability,
granular restriction, origin, relationship endpoints) and partners' read terms
(TLP ceilings, re-share, several or no agreements, collection default); for each pair
the row is returned by the partner's query exactly when `decide` releases it, and
`explain` (which reads the stored facts back) says the same.  Well over 10,000
(object, terms) pairs run per engine.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from liaison.explain import decide_stored
from liaison.node import Node, init_node
from liaison.policy.decide import decide
from liaison.policy.model import MarkingInfo, ObjectFacts, Terms, Visibility
from liaison.storage.base import Collection, NewVersion, ObjectQuery, Store, VersionFilter
from tests.conftest import database_for

ORG_A, ORG_B, ORG_C = (f"identity--00000000-0000-4000-8000-00000000000{n}" for n in (1, 2, 3))
PARTNER_A, PARTNER_B = "partner-a", "partner-b"
REL_A, REL_B, REL_AB, REL_NONE, STATEMENT, UNKNOWN = (
    f"marking-definition--00000000-0000-4000-8000-0000000000{n}" for n in (11, 12, 13, 14, 15, 16))
REGISTRY = {
    REL_A: MarkingInfo(REL_A, "releasability", None, frozenset({ORG_A})),
    REL_B: MarkingInfo(REL_B, "releasability", None, frozenset({ORG_B})),
    REL_AB: MarkingInfo(REL_AB, "releasability", None, frozenset({ORG_A, ORG_B})),
    REL_NONE: MarkingInfo(REL_NONE, "releasability", None, frozenset()),
    STATEMENT: MarkingInfo(STATEMENT, "statement"),
}
PAIRS = {"n": 0}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
          ) -> Iterator[tuple[Store, list[Collection]]]:
    engine = request.param
    tmp = tmp_path_factory.mktemp(f"policy-{engine}")
    init_node(tmp / "n", "Org", database=database_for(engine, tmp))
    node = Node.open(tmp / "n")
    for info in REGISTRY.values():
        node.store.set_marking(info, None)
    yield node.store, []
    node.close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "world" in metafunc.fixturenames:
        from tests.conftest import ENGINES

        metafunc.parametrize("world", ENGINES, indirect=True, scope="module")


facts_st = st.builds(
    dict,
    tlp=st.none() | st.integers(0, 4),
    markings=st.lists(st.sampled_from([REL_A, REL_B, REL_AB, REL_NONE, STATEMENT, UNKNOWN]),
                      max_size=2, unique=True),
    restricted=st.booleans(),
    public=st.sampled_from([False] * 9 + [True]),
    origin=st.sampled_from([None, None, PARTNER_A, PARTNER_B]),
    ends=st.lists(st.integers(-1, 60), max_size=2),
)
terms_st = st.lists(st.builds(Terms, st.just("agr"), st.integers(0, 4), st.booleans()),
                    max_size=2)
vis_st = st.builds(lambda who, terms, default: Visibility(
    who[0], who[1], default, tuple(Terms(f"agr{i}", t.max_tlp, t.reshare) for i, t in enumerate(terms))),
    st.sampled_from([(PARTNER_A, ORG_A), (PARTNER_B, ORG_B), ("partner-c", ORG_C)]),
    terms_st, st.integers(0, 4))


def _sid(n: int, kind: str = "indicator") -> str:
    return f"{kind}--00000000-0000-4000-9000-{n:012d}"


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(objects=st.lists(facts_st, min_size=40, max_size=60),
       visibilities=st.lists(vis_st, min_size=15, max_size=20),
       default=st.integers(0, 4))
def test_decision_sql_and_explain_agree(world: tuple[Store, list[Collection]],
                                        objects: list[dict], visibilities: list[Visibility],  # type: ignore[type-arg]
                                        default: int) -> None:
    store, _ = world
    c = store.add_collection(Collection(0, f"c0ffee00-0000-4000-8000-{PAIRS['n']:012d}", "P"))
    PAIRS["n"] += 1
    versions, facts = [], []
    for n, o in enumerate(objects):
        is_rel = bool(o["ends"])
        sid = _sid(n, "relationship" if is_rel else "indicator")
        ends = [(_sid(e) if 0 <= e < len(objects) and not objects[e]["ends"] else _sid(999))
                for e in o["ends"]]
        ref_a = ends[0] if ends else None
        ref_b = ends[1] if len(ends) > 1 else None
        versions.append(NewVersion(sid, "relationship" if is_rel else "indicator", 1000 + n,
                                   f"v{n}", b"{}", o["tlp"], tuple(o["markings"]), o["restricted"],
                                   o["public"], ref_a, ref_b, o["origin"]))
        facts.append((sid, ref_a, ref_b, o))
    store.add_objects(c.cid, versions, now=1_800_000_000_000_000)
    by_id = {sid: o for sid, _, _, o in facts}

    def oracle_facts(sid: str, endpoints: tuple[tuple[str, bool], ...] = ()) -> ObjectFacts:
        o = by_id[sid]
        return ObjectFacts(sid, "x", o["tlp"], tuple(o["markings"]), o["restricted"],
                           o["origin"], o["public"], endpoints)

    for raw in visibilities:
        vis = Visibility(raw.partner_id, raw.org_id, default, raw.terms)
        page = store.query(ObjectQuery(cid=c.cid, versions=VersionFilter.everything(),
                                       limit=1000, with_body=False, visibility=vis))
        got = {r.id for r in page.rows}
        for sid, ref_a, ref_b, _o in facts:
            endpoints = tuple(
                (ref, ref in by_id and decide(vis, oracle_facts(ref), REGISTRY).released)
                for ref in (ref_a, ref_b) if ref is not None)
            expected = decide(vis, oracle_facts(sid, endpoints), REGISTRY).released
            assert (sid in got) == expected, (sid, by_id[sid], vis, endpoints)
            PAIRS["pairs"] = PAIRS.get("pairs", 0) + 1
        for sid, *_ in facts[:5]:
            row = store.object_facts(c.cid, sid)
            assert row is not None
            assert decide_stored(store, vis, Collection(c.cid, c.id, c.title, default_tlp=default), row).released == (sid in got)


def test_enough_pairs_were_checked() -> None:
    """Runs after the property test in file order: it must have judged ≥ 10,000 pairs."""
    assert PAIRS.get("pairs", 0) >= 10_000, PAIRS

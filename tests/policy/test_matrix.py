"""The read matrix: every read endpoint and filter × every principal class × every fixture.

Reference reliability-security §(b) tests 1–7, 9, 10, 14–16 and goal A1 ("0 leaks in
the exhaustive matrix").  The expected answer of every request comes from the test's
own oracle (`tests.policy.oracle`, written from DESIGN "The release decision", without
`liaison.policy`).  For each response the test checks the status, the body item by item
(ids, versions, bodies as written, manifest dates), `more`/`next`, the
X-TAXII-Date-Added-First/Last headers (the first/last *visible* item), and that no
response to a partner mentions the id of an object withheld from it — except a 404 for
the id the partner itself asked for, which must then be byte-identical to the 404 for an
id that does not exist at all (no 403 oracle, no difference to measure).

Statuses by principal class (node decisions, asserted): no or revoked credentials and
removed partners 401 everywhere; a principal without read access to the collection
(no grant, no / expired / not-yet-valid agreement) 404 for the collection and all
below it, as if it did not exist; a push-only partner sees the collection (can_read
false) and gets 403 on every read of it; a status is 200 for its poster and admins,
404 for everyone else.  An object of which some version is released but which the
filter leaves empty (e.g. the default `last` when only an older version is released)
is 200 `{}` by id; an object with no released version is 404.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from liaison.stix.timestamps import now_us
from liaison.taxii.media import TAXII_21
from tests.conftest import ENGINES
from tests.policy.oracle import TLP2, Version, Who, released
from tests.policy.world import NAME_OF, World, iid, shared_world, sid

PRINCIPALS = ["anon", "revoked", "admin", "analyst", "reader", "nogrant", "amber", "red",
              "amber-rs", "src", "noagr", "expired", "future", "pushonly", "gone"]
READING_PARTNERS = ["amber", "red", "amber-rs", "src"]
DATE_FIRST, DATE_LAST = "X-TAXII-Date-Added-First", "X-TAXII-Date-Added-Last"
T2_TEXT = "2024-02-01T00:00:00.000Z"


@pytest.fixture(scope="module", params=ENGINES)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    with shared_world(request.param, tmp_path_factory.mktemp(f"matrix-{request.param}")) as w:
        yield w


@dataclass
class Probe:
    """One principal's requests, each response kept for the leak scan at the end."""

    w: World
    name: str
    seen: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def who(self) -> Who:
        return self.w.who[self.name]

    def get(self, path: str, **params: str) -> Any:
        resp = self.w.get(self.name, path, **params)
        assert resp.status_code < 500, (path, resp.text)
        assert resp.headers["content-type"].replace(" ", "") == TAXII_21.replace(" ", "")
        self.seen.append((path + "?" + "&".join(f"{k}={v}" for k, v in params.items()), resp))
        return resp

    def withheld_ids(self, now: int) -> set[str]:
        """Ids of every stored object of which this principal may see no version."""
        stored: set[str] = set()
        visible: set[str] = set()
        for model in self.w.colls.values():
            visible |= {v.id for v in model.visible(self.who, self.w.registry, now)}
            stored |= {v.id for v in model.versions if v.origin != self.name}
        return stored - visible  # (what a partner sent us, it knows: its statuses list it)

    def assert_no_leak(self, now: int) -> None:
        """No id withheld from a partner (or a caller without valid credentials) appears
        in any response it got.  (Local users see whole collections by their grants: a
        relationship they may read can name an object of a collection they may not.)"""
        if self.who.kind in ("admin", "user"):
            return
        hidden = self.withheld_ids(now)
        for where, resp in self.seen:
            text = resp.text + " ".join(f"{k}: {v}" for k, v in resp.headers.items())
            for oid in hidden:
                if oid in text:  # allowed only as the echo of the id the caller sent
                    assert oid in where and resp.status_code == 404, (self.name, where, oid)


def _version(obj: dict[str, Any]) -> str:
    return str(obj.get("modified") or obj.get("created"))


def check_error(resp: Any, status: int) -> None:
    assert resp.status_code == status, resp.text
    doc = resp.json()
    assert doc["http_status"] == str(status)
    assert DATE_FIRST not in resp.headers and DATE_LAST not in resp.headers
    if status == 401:
        assert "WWW-Authenticate" in resp.headers


def check_listing(resp: Any, expected: list[Version], kind: str, more: bool = False) -> None:
    """A 200 listing holding exactly `expected`, in order, with consistent headers."""
    assert resp.status_code == 200, resp.text
    if not expected:
        assert resp.content == b"{}", resp.text
        assert DATE_FIRST not in resp.headers and DATE_LAST not in resp.headers
        return
    doc = resp.json()
    assert doc["more"] is more and ("next" in doc) is more, doc
    if kind == "objects":
        got = [(o["id"], _version(o)) for o in doc["objects"]]
        assert [o for o in doc["objects"]] == [v.obj for v in expected]
    elif kind == "manifest":
        got = [(r["id"], r["version"]) for r in doc["objects"]]
        assert [r["date_added"] for r in doc["objects"]] == [v.date_added for v in expected]
    else:
        got = [(expected[0].id, ver) for ver in doc["versions"]]
    assert got == [(v.id, v.version) for v in expected]
    assert resp.headers[DATE_FIRST] == expected[0].date_added
    assert resp.headers[DATE_LAST] == expected[-1].date_added


def gate(probe: Probe, coll: str, now: int) -> int | None:
    """The error every read of `coll` gets (None: the principal may read it)."""
    if not probe.who.authenticated:
        return 401
    can_read, can_write = probe.who.access(coll, now)
    if can_read:
        return None
    return 403 if can_write else 404


# -- collections, collection, status ---------------------------------------------------
def _check_collections(p: Probe, now: int) -> None:
    w = p.w
    resp = p.get("collections/")
    if not p.who.authenticated:
        check_error(resp, 401)
        return
    expected = []
    for coll in (w.main, w.other):
        r, wr = p.who.access(coll, now)
        if r or wr:
            expected.append((coll, r, wr))
    assert resp.status_code == 200
    got = [(c["id"], c["can_read"], c["can_write"])
           for c in resp.json().get("collections", [])]
    assert got == expected
    for coll in (w.main, w.other, str(uuid.uuid4())):
        one = p.get(f"collections/{coll}/")
        match = [e for e in expected if e[0] == coll]
        if match:
            assert one.status_code == 200
            doc = one.json()
            assert (doc["id"], doc["can_read"], doc["can_write"]) == match[0]
        else:
            check_error(one, 404)


def _check_statuses(p: Probe) -> None:
    for owner, status_id in p.w.statuses.items():
        resp = p.get(f"status/{status_id}/")
        if not p.who.authenticated:
            check_error(resp, 401)
        elif p.name == owner or p.who.kind == "admin":
            assert resp.status_code == 200 and resp.json()["id"] == status_id
        else:
            check_error(resp, 404)
    check_error(p.get(f"status/{uuid.uuid4()}/"), 401 if not p.who.authenticated else 404)


# -- object listings -----------------------------------------------------------------------
def _page_all(p: Probe, path: str, kind: str, expected: list[Version], limit: int,
              **params: str) -> None:
    """Page with `limit` and `next`: every page full, each visible item exactly once."""
    served: list[Version] = []
    cursor: str | None = None
    while True:
        extra = {"next": cursor} if cursor else {}
        resp = p.get(path, limit=str(limit), **params, **extra)
        page = expected[len(served): len(served) + limit]
        more = len(served) + len(page) < len(expected)
        check_listing(resp, page, kind, more)
        served += page
        if not more:
            break
        cursor = resp.json()["next"]
    assert served == expected


def _check_listings(p: Probe, now: int) -> None:
    w, model = p.w, p.w.colls["main"]
    base = f"collections/{w.main}/"
    error = gate(p, w.main, now)
    requests: list[tuple[str, dict[str, str]]] = [
        ("objects/", {}), ("manifest/", {}), ("objects/", {"match[type]": "indicator"}),
        ("objects/", {"match[version]": "all"}), ("manifest/", {"match[version]": "all"}),
        ("objects/", {"match[version]": "first"}),
        ("objects/", {"match[type]": "relationship,sighting"}),
        ("objects/", {"match[id]": ",".join(sorted({v.id for v in model.versions}))}),
        ("objects/", {"added_after": model.versions[len(model.versions) // 2].date_added}),
        ("manifest/", {"added_after": model.versions[3].date_added,
                       "match[version]": "all"}),
        ("objects/", {"match[id]": iid("two-versions"), "match[version]": T2_TEXT}),
    ]
    if error is not None:
        for path, params in requests:
            check_error(p.get(base + path, **params), error)
        check_error(p.get(base + "objects/", limit="1"), error)
        return
    every = model.visible(p.who, w.registry, now)
    latest = model.visible_latest(p.who, w.registry, now)
    first = {v.id: min(u.version for u in model.versions if u.id == v.id)
             for v in model.versions}
    for path, params in requests:
        which = params.get("match[version]", "last")
        pool = {"all": every, "last": latest,
                "first": [v for v in every if v.version == first[v.id]]}.get(
            which, [v for v in every if v.version == which])
        if "match[type]" in params:
            pool = [v for v in pool if v.obj["type"] in params["match[type]"].split(",")]
        if "match[id]" in params:
            pool = [v for v in pool if v.id in params["match[id]"].split(",")]
        if "added_after" in params:
            pool = [v for v in pool if v.date_added > params["added_after"]]
        check_listing(p.get(base + path, **params), pool, path.rstrip("/"))
    _page_all(p, base + "objects/", "objects", latest, 1)
    _page_all(p, base + "manifest/", "manifest", every, 4, **{"match[version]": "all"})



# -- one object ---------------------------------------------------------------------------
def _ids_to_probe(p: Probe) -> list[str]:
    ids = sorted({v.id for v in p.w.colls["main"].versions})
    if p.who.kind == "partner" and p.name in READING_PARTNERS:
        return ids
    # others: the same answer for every id; a sample of each kind is enough
    keep = {iid("tlp2-red"), iid("tlp2-green"), iid("two-versions"), iid("red-then-green"),
            sid("relationship", "rel-ok"), iid("rel-none"), iid("f-green")}
    return [i for i in ids if i in keep] + [iid("only-in-other")]


def _check_objects_by_id(p: Probe, now: int) -> None:
    w, model = p.w, p.w.colls["main"]
    base = f"collections/{w.main}/objects/"
    error = gate(p, w.main, now)
    every = model.visible(p.who, w.registry, now)
    latest = {v.id: v for v in model.visible_latest(p.who, w.registry, now)}
    ghost = sid("indicator", f"ghost-{uuid.uuid4()}")
    ghost_obj = p.get(f"{base}{ghost}/")
    ghost_versions = p.get(f"{base}{ghost}/versions/")
    check_error(ghost_obj, error or 404)
    check_error(ghost_versions, error or 404)
    for oid in _ids_to_probe(p):
        mine = [v for v in every if v.id == oid]
        one, versions = p.get(f"{base}{oid}/"), p.get(f"{base}{oid}/versions/")
        everything = p.get(f"{base}{oid}/", **{"match[version]": "all"})
        if error is not None or not mine:
            for resp, twin in ((one, ghost_obj), (versions, ghost_versions),
                               (everything, ghost_obj)):
                check_error(resp, error or 404)
                assert resp.content == twin.content.replace(ghost.encode(), oid.encode())
            continue
        check_listing(one, [latest[oid]] if oid in latest else [], "objects")
        check_listing(versions, mine, "versions")
        check_listing(everything, mine, "objects")


# -- the matrix ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PRINCIPALS)
def test_every_read_endpoint_for_every_principal(world: World, name: str) -> None:
    now = now_us()
    probe = Probe(world, name)
    _check_collections(probe, now)
    _check_statuses(probe)
    _check_listings(probe, now)
    _check_objects_by_id(probe, now)
    probe.assert_no_leak(now)


@pytest.mark.parametrize("name", READING_PARTNERS)
@pytest.mark.parametrize("limit", [2, 3, 5])
def test_pages_are_never_short(world: World, name: str, limit: int) -> None:
    """With limit=k a partner gets exactly min(k, visible remaining) items per page and
    every visible item once: withheld rows never shorten a page (reference test 3)."""
    now = now_us()
    probe = Probe(world, name)
    model = world.colls["main"]
    latest = model.visible_latest(probe.who, world.registry, now)
    every = model.visible(probe.who, world.registry, now)
    assert len(every) > len(latest) > 2 * limit  # several pages, some items withheld
    assert len(model.versions) > len(every)
    base = f"collections/{world.main}/"
    _page_all(probe, base + "objects/", "objects", latest, limit)
    _page_all(probe, base + "manifest/", "manifest", every, limit, **{"match[version]": "all"})
    probe.assert_no_leak(now)


# -- what the oracle expects of the fixtures (so that the matrix is not vacuous) ------------
EXPECTED = {
    # partner: ids (by fixture name) it must receive in the default listing
    "amber": {"tlp1-white", "tlp1-green", "tlp1-amber", "tlp2-clear", "tlp2-green",
              "tlp2-amber", "unmarked", "rel-amber", "rel-conj", "rel-ar", "rel-all",
              "statement", "granular-green", "granular-own", "red-then-green",
              "rel-ok", "sighting-ok", "sighting-unmarked"},
    "red": {"tlp1-red", "tlp2-red", "tlp2-amber+strict", "green-and-red", "two-versions",
            "rel-ar", "rel-all", "f-clear", "f-white", "f-green", "f-green1",
            "rel-red-end", "rel-foreign-end", "rel-itself-red", "sighting-red", "last-red",
            "rel-amber-strict-end"},
    "src": {"f-clear", "f-green", "f-amber", "f-unmarked", "f-rel", "src-statement",
            "rel-foreign-end", "rel-all"},
}
NEVER = {"rel-none", "rel-third", "unknown-marking", "partner-statement", "granular-red",
         "granular-unknown", "rel-missing-end", "rel-other-collection", "rel-third-end",
         "sighting-missing", "f-red", "rel-chain", "rel-chain-ok", "sighting-of-rel"}


def _names(versions: list[Version]) -> set[str]:
    return {NAME_OF.get(v.id, v.id) for v in versions}


def test_the_oracle_sees_the_fixtures_as_designed(world: World) -> None:
    """Spot checks of the oracle against the DESIGN by hand, so a wrong oracle cannot
    make the matrix agree with a wrong node; and every partner class differs."""
    now = now_us()
    model = world.colls["main"]
    got = {name: _names(model.visible_latest(world.who[name], world.registry, now))
           for name in ("amber", "red", "amber-rs", "src")}
    for name, must in EXPECTED.items():
        assert must <= got[name], (name, must - got[name])
    for name in got:
        assert not (NEVER & got[name]), (name, NEVER & got[name])
    assert "f-green" in got["amber-rs"] and "f-amber" not in got["amber-rs"]
    assert not {"f-clear", "f-green", "f-amber"} & got["amber"]  # no re-share
    assert "two-versions" not in got["amber"] and "rel-latest-red-end" not in got["amber"]
    assert {"rel-conj", "rel-amber"} & got["red"] == set()  # releasable to amber only
    assert len({frozenset(g) for g in got.values()}) == len(got)
    # withheld rows sit first and last: the date headers must skip them
    amber = world.who["amber"]
    latest = model.latest()
    for edge in (model.versions[0], model.versions[-1]):
        assert edge.obj["type"] == "indicator"
        assert not released(amber, world.main, edge, latest, world.registry, now)


def test_latest_red_older_green(world: World) -> None:
    """Latest version RED, the older GREEN: the default `last` shows nothing of it to an
    AMBER partner, `match[version]=all` and the versions endpoint only the GREEN one; the
    RED-entitled partner gets the RED version by default."""
    oid, base = iid("two-versions"), f"collections/{world.main}/"
    v1, v2 = "2024-01-01T00:00:00.000Z", T2_TEXT
    amber = Probe(world, "amber")
    assert oid not in amber.get(base + "objects/", limit="1000").text
    assert oid not in amber.get(base + "manifest/", limit="1000").text
    one = amber.get(f"{base}objects/{oid}/")
    assert one.status_code == 200 and one.content == b"{}"  # known object, no version left
    assert amber.get(f"{base}objects/{oid}/", **{"match[version]": v2}).content == b"{}"
    every = amber.get(f"{base}objects/{oid}/", **{"match[version]": "all"}).json()
    assert [o["modified"] for o in every["objects"]] == [v1]
    assert amber.get(f"{base}objects/{oid}/versions/").json()["versions"] == [v1]
    listing = amber.get(base + "objects/", **{"match[id]": oid, "match[version]": "all"})
    assert [o["object_marking_refs"] for o in listing.json()["objects"]] == [[TLP2["green"]]]
    red = Probe(world, "red")
    assert red.get(f"{base}objects/{oid}/").json()["objects"][0]["modified"] == v2
    assert red.get(f"{base}objects/{oid}/versions/").json()["versions"] == [v1, v2]
    amber.assert_no_leak(now_us())


def test_a_cursor_is_bound_to_its_partner_and_query(world: World) -> None:
    """Reference test 16: a `next` minted for one partner is refused for another (400)
    and for another query; the refusal names no object."""
    base = f"collections/{world.main}/"
    amber, red = Probe(world, "amber"), Probe(world, "red")
    cursor = amber.get(base + "objects/", limit="2").json()["next"]
    for probe, path, params in ((red, "objects/", {}), (amber, "manifest/", {}),
                                (amber, "objects/", {"match[type]": "indicator"}),
                                (amber, "objects/", {"added_after": "2000-01-01T00:00:00Z"})):
        resp = probe.get(base + path, limit="2", next=cursor, **params)
        check_error(resp, 400)
        assert "--" not in resp.json()["description"]
    tampered = cursor[:-2] + ("AA" if cursor[-2:] != "AA" else "BB")
    check_error(amber.get(base + "objects/", limit="2", next=tampered), 400)
    ok = amber.get(base + "objects/", limit="2", next=cursor)
    assert ok.status_code == 200 and len(ok.json()["objects"]) == 2
    red.assert_no_leak(now_us())
    amber.assert_no_leak(now_us())

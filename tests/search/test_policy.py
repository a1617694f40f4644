"""Lookup, search, correlation and counts × every principal class, against the oracle.

The fixtures are the policy matrix's world (`tests.policy.world`: principals, partners
and agreements of every kind, markings, relationships, versions, foreign material), plus
a few objects that share observable values across TLP levels, releasability and origin
(`EXTRA`).  Each answer is judged against the independent oracle
(`tests.policy.oracle`): the hits, results, totals and facets must be exactly those of
the latest versions the principal may read, and no response to a partner (or to a caller
without valid credentials) may mention the id of an object withheld from it (reference
goal A1, "0 leaks"; MISP CVE-2020-14969, OpenCTI #3319/#11496: correlations and counts
filtered by the same ACL as direct reads).
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from liaison.stix.timestamps import now_us
from tests.conftest import ENGINES
from tests.policy.oracle import AMBER, TLP2, Version, Who
from tests.policy.world import ORG, T1, World, shared_world, sid

PRINCIPALS = ["anon", "revoked", "admin", "analyst", "reader", "nogrant", "amber", "red",
              "amber-rs", "src", "noagr", "expired", "future", "pushonly", "gone"]
UNAUTHENTICATED = {"anon", "revoked", "gone"}
G2, R2, A2 = TLP2["green"], TLP2["red"], TLP2["amber"]


def _ind(name: str, pattern: str, marks: list[str], **extra: Any) -> dict[str, Any]:
    return {"type": "indicator", "spec_version": "2.1", "id": sid("indicator", name),
            "created": T1, "modified": T1, "name": name, "pattern": pattern,
            "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z",
            "description": f"secret description of {name}",
            **({"object_marking_refs": marks} if marks else {}), **extra}


def _extra(w: World) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Objects sharing values across TLP, releasability and origin: (local, from src)."""
    shared = "[domain-name:value = 'shared.example']"
    local = [
        _ind("shared-plain", "[domain-name:value = 'Shared.Example.']", [G2]),
        _ind("shared-green", shared, [G2]),
        _ind("shared-red", shared, [R2]),
        _ind("shared-rel-none", shared, [G2, w.rel["none"]]),
        _ind("shared-rel-amber", shared, [G2, w.rel["amber"]]),
        _ind("ip-green", "[ipv4-addr:value = '10.1.2.3']", [G2]),
        _ind("cidr-amber", "[ipv4-addr:value ISSUBSET '10.0.0.0/8']", [A2]),
        _ind("cidr-red", "[ipv4-addr:value ISSUBSET '10.1.0.0/16']", [R2]),
        {"type": "relationship", "spec_version": "2.1", "id": sid("relationship", "x-rel-g"),
         "created": T1, "modified": T1, "relationship_type": "related-to",
         "source_ref": sid("indicator", "shared-green"),
         "target_ref": sid("indicator", "shared-plain"), "object_marking_refs": [G2]},
        {"type": "relationship", "spec_version": "2.1", "id": sid("relationship", "x-rel-r"),
         "created": T1, "modified": T1, "relationship_type": "related-to",
         "source_ref": sid("indicator", "shared-red"),
         "target_ref": sid("indicator", "shared-plain"), "object_marking_refs": [G2]},
    ]
    foreign = [_ind("f-shared", shared, [G2], created_by_ref=ORG["src"]),
               _ind("f-shared-amber", shared, [A2], created_by_ref=ORG["src"])]
    return local, foreign


@pytest.fixture(scope="module", params=ENGINES)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    with shared_world(request.param, tmp_path_factory.mktemp(f"search-{request.param}")) as w:
        local, foreign = _extra(w)
        w.write("admin", w.main, local)
        w.write("src", w.main, foreign)
        w.write("admin", w.other, [_ind("other-shared", "[domain-name:value = "
                                        "'shared.example']", [G2])])
        w.refresh_model()
        yield w


# -- the oracle's view ---------------------------------------------------------------------
def _visible(w: World, who: Who, now: int) -> list[tuple[str, Version]]:
    """(collection id, version) of every latest version `who` may read, both collections."""
    out = []
    for key in ("main", "other"):
        model = w.colls[key]
        out += [(model.name, v) for v in model.visible_latest(who, w.registry, now)]
    return out


def _values(obj: dict[str, Any]) -> set[tuple[str, str]]:
    """The observable values the test wrote into an object (its own small model)."""
    pattern = obj.get("pattern", "")
    if pattern.startswith("[ipv4-addr:"):
        return {("ipv4", pattern.split("'")[1])}
    if pattern.startswith("[domain-name:value = '"):
        return {("domain", pattern.split("'")[1].lower().rstrip("."))}
    return set()


def _meets(a: set[tuple[str, str]], b: set[tuple[str, str]]) -> bool:
    if a & b:
        return True
    nets_a = [ipaddress.ip_network(v) for k, v in a if k == "ipv4"]
    nets_b = [ipaddress.ip_network(v) for k, v in b if k == "ipv4"]
    return any(x.subnet_of(y) or y.subnet_of(x) for x in nets_a for y in nets_b)


def _tlp(obj: dict[str, Any]) -> str:
    from tests.policy.oracle import TLP_RANK
    ranks = [TLP_RANK[m] for m in obj.get("object_marking_refs", []) if m in TLP_RANK]
    return ["clear", "green", "amber", "amber+strict", "red"][max(ranks) if ranks else AMBER]


@dataclass
class Caller:
    """One principal's requests to the /liaison/ endpoints, kept for the leak scan."""

    w: World
    name: str
    seen: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def who(self) -> Who:
        return self.w.who[self.name]

    def _keep(self, what: str, resp: Any) -> Any:
        assert resp.status_code < 500, (what, resp.text)
        self.seen.append((what, resp))
        return resp

    def get(self, path: str, **params: Any) -> Any:
        return self._keep(path, self.w.client.get(f"/liaison/{path}", params=params,
                                                  headers=self.w.headers(self.name)))

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._keep(path, self.w.client.post(
            f"/liaison/{path}", content=orjson.dumps(body),
            headers={**self.w.headers(self.name), "Content-Type": "application/json"}))

    def assert_no_leak(self, now: int) -> None:
        if self.who.kind in ("admin", "user"):
            return
        visible = {v.id for _, v in _visible(self.w, self.who, now)} if \
            self.who.kind == "partner" else set()
        stored = {v.id for m in self.w.colls.values() for v in m.versions
                  if v.origin != self.name}
        hidden = stored - visible
        for what, resp in self.seen:
            text = resp.text + " ".join(f"{k}: {v}" for k, v in resp.headers.items())
            leaked = [i for i in hidden if i in text and i not in what]
            assert not leaked, (self.name, what, leaked)


def _first_seen(w: World, who: Who, now: int) -> dict[tuple[str, str], str]:
    """When the first version `who` may see of each object was added (per collection)."""
    out: dict[tuple[str, str], str] = {}
    for key in ("main", "other"):
        model = w.colls[key]
        for v in model.visible(who, w.registry, now):
            out.setdefault((model.name, v.id), v.date_added)
    return out


def _check_seen(items: list[dict[str, Any]], first: dict[tuple[str, str], str],
                visible: list[tuple[str, Version]]) -> None:
    """first_seen / last_seen come from versions the caller may see, and no other."""
    last = {(c, v.id): v.date_added for c, v in visible}
    for item in items:
        assert item["first_seen"] == first[_key(item)], item
        assert item["last_seen"] == last[_key(item)], item


def _unauthorised(resp: Any) -> None:
    assert resp.status_code == 401 and "WWW-Authenticate" in resp.headers
    assert resp.json()["http_status"] == "401"


def _key(item: dict[str, Any]) -> tuple[str, str]:
    return item["collection"], item["id"]


# -- lookup --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", PRINCIPALS)
def test_lookup(world: World, name: str) -> None:
    now = now_us()
    c = Caller(world, name)
    asked = sorted({val for m in world.colls.values() for v in m.versions
                    for _, val in _values(v.obj)} | {"10.1.2.3", "never.example"})
    resp = c.post("lookup/", {"values": asked})
    one = c.get("lookup/", value="shared.example")
    if name in UNAUTHENTICATED:
        _unauthorised(resp)
        _unauthorised(one)
        c.assert_no_leak(now)
        return
    assert resp.status_code == 200, resp.text
    visible = _visible(world, c.who, now)
    first = _first_seen(world, c.who, now)
    answers = resp.json()["values"]
    assert [a["value"] for a in answers] == asked
    for a in answers:
        asked_as = {("ipv4" if a["kind"] == "ipv4" else "domain", a["normalised"])}
        want = {(coll, v.id) for coll, v in visible if _meets(_values(v.obj), asked_as)}
        got = {_key(h) for h in a["hits"]}
        assert got == want, (name, a["value"], got ^ want)
        assert a["seen"] is bool(want)
        _check_seen(a["hits"], first, visible)
        for h in a["hits"]:
            assert h["origin"] in (("local", "you", "partner") if c.who.kind == "partner"
                                   else ("local", "src"))
    assert one.json()["values"][0]["hits"] == next(
        a for a in answers if a["value"] == "shared.example")["hits"]
    c.assert_no_leak(now)


# -- search --------------------------------------------------------------------------------
SEARCHES: list[tuple[str, Any]] = [
    ("secret description", lambda v: v.obj["type"] == "indicator"),
    ('"shared red"', lambda v: v.obj.get("name") == "shared-red"),
    ("shared.example", lambda v: ("domain", "shared.example") in _values(v.obj)),
    ("type:indicator", lambda v: v.obj["type"] == "indicator"),
    ("type:relationship,sighting", lambda v: v.obj["type"] in ("relationship", "sighting")),
    ("tlp:red", lambda v: _tlp(v.obj) == "red"),
    ("tlp:green tlp:clear", lambda v: _tlp(v.obj) in ("green", "clear")),
    ("tlp:amber secret", lambda v: _tlp(v.obj) == "amber" and v.obj["type"] == "indicator"),
    ("from:us", lambda v: v.origin is None),
    ("from:src secret", "src"),
    ("from:me", "me"),
    ("collection:other", "other"),
    ("secret -green", lambda v: v.obj["type"] == "indicator"
     and "green" not in re.findall("[a-z0-9]+", v.obj["name"])),
    ("tlp1* OR tlp2*", lambda v: any(t.startswith(("tlp1", "tlp2")) for t in re.findall(
        "[a-z0-9]+", f"{v.obj.get('name', '')} {v.obj.get('description', '')}".lower()))),
]


def _search_expected(query: str, rule: Any, who: Who, visible: list[tuple[str, Version]],
                     world: World) -> set[tuple[str, str]]:
    if rule == "src":  # a partner's own material, named: only local users may filter by it
        ok = who.kind in ("admin", "user")
        return {(c, v.id) for c, v in visible if ok and v.origin == "src"
                and v.obj["type"] == "indicator"}
    if rule == "other":
        return {(c, v.id) for c, v in visible if c == world.other}
    if rule == "me":  # "me" is the partner caller itself
        return {(c, v.id) for c, v in visible if who.kind == "partner"
                and v.origin == who.name}
    return {(c, v.id) for c, v in visible if rule(v)}


def _pages(c: Caller, q: str, limit: int) -> tuple[list[dict[str, Any]], int]:
    out: list[dict[str, Any]] = []
    cursor = None
    total = None
    while True:
        params: dict[str, Any] = {"q": q, "limit": limit, "facets": "true"}
        if cursor:
            params["next"] = cursor
        resp = c.get("search/", **params)
        assert resp.status_code == 200, resp.text
        doc = resp.json()
        total = doc["total"] if total is None else total
        assert doc["total"] == total and not doc["total_capped"]
        out += doc["results"]
        if not doc["more"]:
            assert len(doc["results"]) == total - (len(out) - len(doc["results"]))
            return out, total
        assert len(doc["results"]) == limit  # pages are never short
        cursor = doc["next"]


@pytest.mark.parametrize("name", PRINCIPALS)
def test_search_results_counts_and_facets(world: World, name: str) -> None:
    now = now_us()
    c = Caller(world, name)
    if name in UNAUTHENTICATED:
        _unauthorised(c.get("search/", q="secret"))
        c.assert_no_leak(now)
        return
    visible = _visible(world, c.who, now)
    first = _first_seen(world, c.who, now)
    by_key = {(coll, v.id): v for coll, v in visible}
    for query, rule in SEARCHES:
        want = _search_expected(query, rule, c.who, visible, world)
        results, total = _pages(c, query, 4)
        got = [_key(r) for r in results]
        assert len(got) == len(set(got)) == total, (name, query)
        assert set(got) == want, (name, query, set(got) ^ want)
        _check_seen(results, first, visible)
        doc = c.get("search/", q=query, facets="true", limit=1).json()
        facets = doc["facets"]
        assert sum(facets["type"].values()) == total
        types: dict[str, int] = {}
        for key in want:
            t = by_key[key].obj["type"]
            types[t] = types.get(t, 0) + 1
        assert facets["type"] == types, (name, query)
        tlps: dict[str, int] = {}
        for key in want:
            level = _tlp(by_key[key].obj)
            tlps[level] = tlps.get(level, 0) + 1
        assert facets["tlp"] == tlps, (name, query)
    c.assert_no_leak(now)


# -- correlation ----------------------------------------------------------------------------
CORRELATED = ["shared-plain", "shared-green", "shared-red", "shared-rel-none", "f-shared",
              "ip-green", "cidr-amber", "cidr-red", "tlp2-green", "tlp2-red"]


def _id(name: str) -> str:
    return sid("indicator", name)


@pytest.mark.parametrize("name", PRINCIPALS)
def test_correlation(world: World, name: str) -> None:
    now = now_us()
    c = Caller(world, name)
    ghost = sid("indicator", f"ghost-{uuid.uuid4()}")
    ghost_resp = c.get(f"objects/{ghost}/correlations/")
    if name in UNAUTHENTICATED:
        _unauthorised(ghost_resp)
        for target in CORRELATED[:3]:
            _unauthorised(c.get(f"objects/{_id(target)}/correlations/"))
        c.assert_no_leak(now)
        return
    assert ghost_resp.status_code == 404
    visible = _visible(world, c.who, now)
    for target in CORRELATED:
        oid = _id(target)
        resp = c.get(f"objects/{oid}/correlations/")
        mine = [v for _, v in visible if v.id == oid]
        if not mine:  # withheld or unreadable: exactly the answer for an unknown id
            assert resp.status_code == 404
            assert resp.content == ghost_resp.content.replace(ghost.encode(), oid.encode())
            continue
        assert resp.status_code == 200, resp.text
        doc = resp.json()
        values = _values(mine[0].obj)
        want = {(coll, v.id) for coll, v in visible if v.id != oid
                and _meets(_values(v.obj), values)}
        got = {_key(s) for s in doc["shared"]}
        assert got == want, (name, target, got ^ want)
        rels = {(coll, v.id) for coll, v in visible if v.obj["type"] in (
            "relationship", "sighting") and oid in (v.obj.get("source_ref"),
                                                    v.obj.get("target_ref"),
                                                    v.obj.get("sighting_of_ref"))}
        assert {_key(r) for r in doc["relationships"]} == rels, (name, target)
        for o in doc["observables"]:
            assert o["shared_with"] == sum(1 for s in doc["shared"] if any(
                m["kind"] == o["kind"] for m in s["shared"]) and _meets(
                {(m["kind"], m["value"]) for m in s["shared"]}, {(o["kind"], o["value"])}))
    c.assert_no_leak(now)


def test_partner_answers_are_recorded_as_releases(world: World) -> None:
    """What a partner is told by lookup, search and correlation is in the audit as a
    release, version by version, before it leaves (`who-received` lists it)."""
    c = Caller(world, "amber")
    before = world.node.store.audit_head()[0]
    hits = c.post("lookup/", {"values": ["shared.example"]}).json()["values"][0]["hits"]
    results = c.get("search/", q="shared").json()["results"]
    corr = c.get(f"objects/{_id('shared-green')}/correlations/").json()
    entries = [e for e in world.node.store.audit_entries(before, 1000)
               if e.action == "release"]
    by_channel: dict[str, set[tuple[str, str]]] = {}
    for e in entries:
        assert e.details["partner"] == "amber" and e.details["org"] == ORG["amber"]
        by_channel.setdefault(e.details["channel"], set()).update(
            (sid_, ver) for sid_, ver in e.details["versions"])
    assert by_channel["lookup"] == {(h["id"], h["version"]) for h in hits}
    assert by_channel["search"] == {(r["id"], r["version"]) for r in results}
    shown = {(corr["object"]["id"], corr["object"]["version"])}
    shown |= {(s["id"], s["version"]) for s in corr["shared"]}
    shown |= {(r["id"], r["version"]) for r in corr["relationships"]}
    assert shown <= by_channel["correlate"]
    local = Caller(world, "analyst")
    mark = world.node.store.audit_head()[0]
    local.post("lookup/", {"values": ["shared.example"]})
    assert not [e for e in world.node.store.audit_entries(mark, 100) if e.action == "release"]


def test_the_extra_fixtures_are_not_vacuous(world: World) -> None:
    """The oracle sees the sharing objects differently per partner class."""
    now = now_us()
    def names(who: str) -> set[str]:
        return {v.obj.get("name") for _, v in
                _visible(world, world.who[who], now)}
    amber, red, src = names("amber"), names("red"), names("src")
    assert {"shared-green", "shared-rel-amber", "shared-plain", "ip-green"} <= amber
    assert not {"shared-red", "shared-rel-none", "f-shared", "cidr-red"} & amber
    assert {"shared-red", "cidr-red", "f-shared"} <= red and "shared-rel-amber" not in red
    assert {"f-shared", "f-shared-amber"} <= src and "shared-red" not in src
    assert "other-shared" not in amber | red | src

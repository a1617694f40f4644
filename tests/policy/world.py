"""The policy fixture world: one node, its principals, agreements, markings and objects.

Built through the node's own doors (partners/agreements/markings administration, TAXII
POSTs by the admin and by a partner), and mirrored in an `oracle` model that the tests
judge every response against.  Objects are written so that withheld items sit first
and last in the collection (the X-TAXII-Date-Added headers must skip them) and are
interleaved with visible ones (pages must not come back short).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from starlette.testclient import TestClient

from liaison.node import Node, init_node
from liaison.stix.timestamps import now_us
from liaison.taxii.app import create_app
from liaison.taxii.media import TAXII_21
from tests.conftest import basic
from tests.policy.oracle import (
    AMBER,
    RED,
    TLP1,
    TLP2,
    CollectionModel,
    Deal,
    Registry,
    Version,
    Who,
)

API = "/api/"
T1, T2, T3 = "2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"
HOUR = 3_600_000_000


NAME_OF: dict[str, str] = {}
"""Fixture name of every id made by `sid` (for readable assertions)."""


def sid(kind: str, name: str) -> str:
    """A deterministic, valid (version 4, RFC variant) STIX id for a fixture name."""
    digest = hashlib.sha256(name.encode()).digest()[:16]
    out = f"{kind}--{uuid.UUID(bytes=digest, version=4)}"
    NAME_OF[out] = name
    return out


ORG = {name: sid("identity", f"org-{name}") for name in (
    "amber", "red", "amber-rs", "src", "noagr", "expired", "future", "pushonly", "gone",
    "third")}
UNKNOWN_MARKING = sid("marking-definition", "never-defined")
MISSING = sid("indicator", "never-stored")


def indicator(name: str, marks: list[str] | None = None, *, modified: str = T1,
              granular: list[tuple[str, str]] | None = None,
              created_by: str | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "type": "indicator", "spec_version": "2.1", "id": sid("indicator", name),
        "created": T1, "modified": modified, "name": name,
        "description": f"secret description of {name}",
        "pattern": f"[domain-name:value = '{name}.example']", "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z"}
    if marks:
        obj["object_marking_refs"] = marks
    if granular:
        obj["granular_markings"] = [{"marking_ref": m, "selectors": [sel]} for m, sel in granular]
    if created_by:
        obj["created_by_ref"] = created_by
    return obj


def relationship(name: str, source: str, target: str, marks: list[str]) -> dict[str, Any]:
    obj = {"type": "relationship", "spec_version": "2.1", "id": sid("relationship", name),
           "created": T1, "modified": T1, "relationship_type": "related-to",
           "source_ref": source, "target_ref": target}
    return {**obj, "object_marking_refs": marks} if marks else obj


def sighting(name: str, of: str, marks: list[str]) -> dict[str, Any]:
    obj = {"type": "sighting", "spec_version": "2.1", "id": sid("sighting", name),
           "created": T1, "modified": T1, "sighting_of_ref": of}
    return {**obj, "object_marking_refs": marks} if marks else obj


def statement(name: str, text: str, created_by: str | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"type": "marking-definition", "spec_version": "2.1",
                           "id": sid("marking-definition", name), "created": T1,
                           "definition_type": "statement", "definition": {"statement": text}}
    if created_by:
        obj["created_by_ref"] = created_by
    return obj


def iid(name: str) -> str:
    return sid("indicator", name)


@dataclass
class World:
    node: Node
    client: TestClient
    admin_token: str
    our_org: str
    main: str = ""
    other: str = ""
    tokens: dict[str, str] = field(default_factory=dict)
    who: dict[str, Who] = field(default_factory=dict)
    agreements: dict[str, str] = field(default_factory=dict)
    rel: dict[str, str] = field(default_factory=dict)
    registry: Registry = field(default_factory=Registry)
    colls: dict[str, CollectionModel] = field(default_factory=dict)
    origin: dict[str, str | None] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    written: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)

    # -- requests ---------------------------------------------------------------------
    def headers(self, name: str) -> dict[str, str]:
        if name == "anon":
            return {"Accept": TAXII_21}
        if name == "admin":
            return basic("admin", self.admin_token)
        return basic(name, self.tokens[name])

    def get(self, name: str, path: str, **params: str) -> Any:
        return self.client.get(API + path, params=params or None, headers=self.headers(name))

    def post(self, name: str, coll: str, objects: list[dict[str, Any]]) -> Any:
        return self.client.post(f"{API}collections/{coll}/objects/",
                                content=orjson.dumps({"objects": objects}),
                                headers={**self.headers(name), "Content-Type": TAXII_21})

    def write(self, name: str, coll: str, objects: list[dict[str, Any]]) -> dict[str, Any]:
        """POST as `name` and record the stored versions in the model (asserting success)."""
        resp = self.post(name, coll, objects)
        assert resp.status_code == 202, resp.text
        status = resp.json()
        assert status["failure_count"] == 0, status
        origin = None if self.who[name].kind != "partner" else name
        for obj in objects:
            self.origin.setdefault(obj["id"], origin)
            self.written[(obj["id"], obj.get("modified") or obj["created"])] = obj
        return status

    # -- the model ----------------------------------------------------------------------
    def refresh_model(self) -> None:
        """Read back every stored version (admin, match[version]=all) into the model.

        Bodies are compared with what was written: the model holds the test's own
        JSON, and the node's `date_added` order (checked strictly increasing)."""
        for key, coll in (("main", self.main), ("other", self.other)):
            resp = self.get("admin", f"collections/{coll}/manifest/", **{
                "match[version]": "all", "limit": "1000"})
            assert resp.status_code == 200
            records = resp.json().get("objects", [])
            objs = self.get("admin", f"collections/{coll}/objects/", **{
                "match[version]": "all", "limit": "1000"}).json().get("objects", [])
            assert [(o["id"], o.get("modified") or o.get("created")) for o in objs] == \
                   [(r["id"], r["version"]) for r in records]
            dates = [r["date_added"] for r in records]
            assert dates == sorted(dates) and len(set(dates)) == len(dates)
            model = CollectionModel(coll)
            for rec, obj in zip(records, objs, strict=True):
                mine = self.written.get((obj["id"], rec["version"]))
                assert mine is None or mine == obj, (mine, obj)  # stored as written
                model.versions.append(Version(obj, self.origin.get(obj["id"]),
                                              rec["date_added"]))
            self.colls[key] = model


def _partners(w: World, now: int) -> None:
    p = w.node.exchange.partners
    main, other = w.main, w.other
    plans: dict[str, list[Deal]] = {
        "amber": [Deal(frozenset({main}), "pull", AMBER),
                  Deal(frozenset({main}), "pull", RED, valid_until=now - HOUR,
                       valid_from=now - 2 * HOUR),
                  Deal(frozenset({main}), "pull", RED, revoked=True)],
        "red": [Deal(frozenset({main}), "pull", RED, reshare=True)],
        "amber-rs": [Deal(frozenset({main}), "pull", AMBER),
                     Deal(frozenset({main}), "pull", 1, reshare=True)],
        "src": [Deal(frozenset({main}), "both", AMBER)],
        "noagr": [],
        "expired": [Deal(frozenset({main, other}), "pull", AMBER, valid_from=now - 2 * HOUR,
                         valid_until=now - HOUR)],
        "future": [Deal(frozenset({main}), "pull", RED, valid_from=now + HOUR)],
        "pushonly": [Deal(frozenset({main}), "push", RED, reshare=True)],
        "gone": [Deal(frozenset({main}), "pull", RED, reshare=True)],
    }
    levels = ["clear", "green", "amber", "amber+strict", "red"]
    for name, deals in plans.items():
        w.tokens[name] = p.add(name, ORG[name]).token
        w.who[name] = Who("partner", name, ORG[name], deals=deals)
        for n, d in enumerate(deals):
            a = p.add_agreement(name, sorted(d.collections), d.direction, levels[d.max_tlp],
                                reshare=d.reshare, valid_from=d.valid_from,
                                valid_until=d.valid_until)
            w.agreements[f"{name}#{n}"] = a.id
            if d.revoked:
                p.revoke_agreement(a.id)


def _users(w: World) -> None:
    admin = w.node.exchange.admin
    for name, role, grant in (("analyst", "analyst", (True, True)),
                              ("reader", "reader", (True, False)),
                              ("nogrant", "analyst", None), ("revoked", "analyst", (True, True))):
        w.tokens[name] = admin.add_user(name, role).token
        grants = {}
        if grant:
            admin.grant(w.main, name, read=grant[0], write=grant[1])
            grants[w.main] = grant
        w.who[name] = Who("user", name, grants=grants)
    admin.revoke_user("revoked")
    w.who["revoked"].kind = "revoked"
    w.who["admin"] = Who("admin", "admin")
    w.who["anon"] = Who("anon", "anon")


def _markings(w: World) -> None:
    p = w.node.exchange.partners
    for key, orgs in (("amber", [ORG["amber"]]), ("ar", [ORG["amber"], ORG["red"]]),
                      ("third", [ORG["third"]]), ("none", []),
                      ("all", [ORG["amber"], ORG["red"], ORG["amber-rs"], ORG["src"]])):
        m = p.add_releasability(f"rel-{key}", orgs, w.our_org)
        w.rel[key] = str(m["id"])
        w.registry.known[w.rel[key]] = frozenset(orgs)


def local_objects(w: World) -> list[list[dict[str, Any]]]:
    """The admin's envelopes, in order (the first object and the last are withheld)."""
    g2, r2, a2 = TLP2["green"], TLP2["red"], TLP2["amber"]
    rel, stm = w.rel, sid("marking-definition", "local-statement")
    first = [indicator("tlp2-red", [r2])]
    first += [indicator(f"tlp1-{c}", [mid]) for c, mid in TLP1.items()]
    first += [indicator(f"tlp2-{c}", [mid]) for c, mid in TLP2.items() if c != "red"]
    first += [indicator("unmarked"), indicator("green-and-red", [g2, r2])]
    second = [
        statement("local-statement", "Copyright Test Org; share per agreement."),
        indicator("rel-amber", [g2, rel["amber"]]),
        indicator("rel-ar", [g2, rel["ar"]]),
        indicator("rel-third", [g2, rel["third"]]),
        indicator("rel-none", [g2, rel["none"]]),
        indicator("rel-conj", [g2, rel["amber"], rel["ar"]]),
        indicator("rel-all", [a2, rel["all"]]),
        indicator("unknown-marking", [g2, UNKNOWN_MARKING]),
        indicator("statement", [g2, stm]),
        indicator("partner-statement", [g2, sid("marking-definition", "src-statement")]),
        indicator("granular-red", [g2], granular=[(r2, "description")]),
        indicator("granular-green", [a2], granular=[(g2, "description")]),
        indicator("granular-own", [g2, rel["ar"]], granular=[(rel["ar"], "description")]),
        indicator("granular-unknown", [g2], granular=[(UNKNOWN_MARKING, "description")]),
        indicator("two-versions", [g2], modified=T1),
        indicator("red-then-green", [r2], modified=T1),
    ]
    third = [
        indicator("two-versions", [r2], modified=T2),
        indicator("red-then-green", [g2], modified=T2),
        relationship("rel-ok", iid("tlp2-green"), iid("tlp2-clear"), [g2]),
        relationship("rel-red-end", iid("tlp2-green"), iid("tlp2-red"), [g2]),
        relationship("rel-missing-end", iid("tlp2-green"), MISSING, [g2]),
        relationship("rel-other-collection", iid("tlp2-green"), iid("only-in-other"), [g2]),
        relationship("rel-third-end", iid("rel-third"), iid("tlp2-green"), [g2]),
        relationship("rel-latest-red-end", iid("tlp2-green"), iid("two-versions"), [g2]),
        relationship("rel-foreign-end", iid("tlp2-green"), iid("f-green"), [g2]),
        relationship("rel-amber-strict-end", iid("tlp1-green"), iid("tlp2-amber+strict"), [g2]),
        relationship("rel-itself-red", iid("tlp2-green"), iid("tlp2-clear"), [r2]),
        relationship("rel-chain", iid("tlp2-green"), sid("relationship", "rel-red-end"), [g2]),
        relationship("rel-chain-ok", iid("tlp2-green"), sid("relationship", "rel-ok"), [g2]),
        sighting("sighting-of-rel", sid("relationship", "rel-ok"), [g2]),
        sighting("sighting-ok", iid("tlp2-green"), [g2]),
        sighting("sighting-red", iid("tlp1-red"), [g2]),
        sighting("sighting-missing", MISSING, [g2]),
        sighting("sighting-unmarked", iid("rel-amber"), []),
    ]
    last = [indicator("last-red", [TLP1["red"]])]
    return [first, second, third, last]


def foreign_objects(w: World) -> list[dict[str, Any]]:
    """What partner `src` pushes: its own material at every TLP, and a statement of its own."""
    by = ORG["src"]
    return [
        indicator("f-clear", [TLP2["clear"]], created_by=by),
        indicator("f-white", [TLP1["white"]]),
        indicator("f-green", [TLP2["green"]], created_by=by),
        indicator("f-green1", [TLP1["green"]]),
        indicator("f-amber", [TLP2["amber"]], created_by=by),
        indicator("f-red", [TLP2["red"]], created_by=by),
        indicator("f-unmarked", created_by=by),
        statement("src-statement", "src's own statement", created_by=by),
        relationship("f-rel", iid("f-green"), iid("tlp2-green"), [TLP2["green"]]),
    ]


def build(home: Path, database: str | None) -> Iterator[World]:
    """Create the world (generator: yields it, closes the node afterwards)."""
    init = init_node(home, "Test Org", database=database)
    node = Node.open(home)
    try:
        with TestClient(create_app(node), base_url="http://testserver") as client:
            w = World(node, client, init.admin_token, str(init.org_identity["id"]))
            admin = node.exchange.admin
            w.main = admin.add_collection("Main", "main").id
            w.other = admin.add_collection("Other", "other").id
            _users(w)
            _partners(w, now_us())
            _markings(w)
            w.registry.known[sid("marking-definition", "local-statement")] = None
            envelopes = local_objects(w)
            w.statuses["admin"] = w.write("admin", w.main, envelopes[0])["id"]
            w.write("admin", w.main, envelopes[1])
            w.statuses["src"] = w.write("src", w.main, foreign_objects(w))["id"]
            w.write("admin", w.main, envelopes[2])
            w.write("admin", w.main, envelopes[3])
            w.write("admin", w.other, [indicator("only-in-other", [TLP2["green"]])])
            node.exchange.partners.remove("gone")
            w.who["gone"].removed = True
            w.refresh_model()
            yield w
    finally:
        node.close()


@contextmanager
def world_at(home: Path, database: str | None) -> Iterator[World]:
    gen = build(home, database)
    try:
        yield next(gen)
    finally:
        gen.close()


@contextmanager
def module_database(engine: str, tmp: Path) -> Iterator[str | None]:
    """`database_for(engine)`, kept for a whole module.

    conftest hands back (empties and reuses) every PostgreSQL schema a test took when
    that test ends; a world shared by a module's tests takes its schema out of that
    list for the module's lifetime and returns it afterwards (after the node closed).
    """
    from tests import conftest

    url = conftest.database_for(engine, tmp)
    held = None
    if engine == "postgres":
        held = conftest._schemas.used.pop()
        assert url is not None and held in url
    try:
        yield url
    finally:
        if held is not None:
            conftest._schemas.used.append(held)


@contextmanager
def shared_world(engine: str, tmp: Path) -> Iterator[World]:
    with module_database(engine, tmp) as url, world_at(tmp / "node", url) as w:
        yield w

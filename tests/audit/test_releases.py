"""Release entries match exactly what each partner received (issue item 1, goal U1).

On the partner matrix of the policy issue (`tests.policy.world`: partners under
different agreements, TLP levels, releasability markings, foreign material), every
reading partner pages through objects, manifests and versions.  Each response that
carried data has exactly one `release` entry, with its X-Request-ID, listing exactly
the (id, version) pairs of that response in order, of its kind, under the partner's
active agreements; an empty response has none; local users' reads have none.  Then
`who-received` — by CLI (`--json`) and over HTTP — gives, for every object, exactly the
(partner, version, kind) triples the partners saw, and nothing else.  A push records
one entry per page with what was posted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from liaison.stix.timestamps import now_us
from tests.audit.helpers import cli, entries, head
from tests.conftest import ENGINES, database_for
from tests.federation.helpers import RED as FED_RED
from tests.federation.helpers import ScriptedPartner, make_local
from tests.federation.helpers import indicator as fed_indicator
from tests.policy.world import ORG, World, iid, shared_world

READERS = ["amber", "red", "amber-rs", "src"]
OTHERS = ["admin", "analyst", "reader", "pushonly", "noagr", "expired", "future"]


@dataclass
class Seen:
    """Everything the partners got, response by response."""

    responses: dict[str, tuple[str, str, list[tuple[str, str]]]] = field(default_factory=dict)
    """request id -> (partner, kind, [(id, version), …] in response order)"""
    empty: list[str] = field(default_factory=list)

    def received(self) -> dict[str, set[tuple[str, str, str]]]:
        """object id -> {(partner, version, kind)}"""
        out: dict[str, set[tuple[str, str, str]]] = defaultdict(set)
        for partner, kind, items in self.responses.values():
            for oid, version in items:
                out[oid].add((partner, version, kind))
        return out


def _items(kind: str, doc: dict[str, Any]) -> list[tuple[str, str]]:
    if kind == "objects":
        return [(o["id"], str(o.get("modified") or o.get("created"))) for o in
                doc.get("objects", [])]
    if kind == "manifest":
        return [(r["id"], r["version"]) for r in doc.get("objects", [])]
    raise AssertionError(kind)


def _read(w: World, seen: Seen, name: str, path: str, kind: str, oid: str | None = None,
          **params: str) -> None:
    """One listing, followed through every `next` page; each response noted."""
    while True:
        resp = w.get(name, path, **params)
        assert resp.status_code in (200, 403, 404), resp.text
        rid = resp.headers["X-Request-ID"]
        doc = resp.json() if resp.status_code == 200 else {}
        if kind == "versions":
            items = [(oid or "", v) for v in doc.get("versions", [])]
        else:
            items = _items(kind, doc)
        if items:
            seen.responses[rid] = (name, kind, items)
        else:
            seen.empty.append(rid)
        if not doc.get("more"):
            return
        params = {**params, "next": doc["next"]}


@dataclass
class Fixture:
    w: World
    seen: Seen
    before: int
    after: int


@pytest.fixture(scope="module", params=ENGINES)
def fx(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
       ) -> Iterator[Fixture]:
    tmp = tmp_path_factory.mktemp(f"releases-{request.param}")
    with shared_world(request.param, tmp) as w:
        store = w.node.store
        before = head(store)
        seen = Seen()
        base = f"collections/{w.main}/"
        probe = [iid("tlp2-green"), iid("two-versions"), iid("red-then-green"), iid("tlp2-red"),
                 iid("f-green"), iid("rel-amber")]
        for name in READERS + OTHERS:
            _read(w, seen, name, base + "objects/", "objects", limit="5",
                  **{"match[version]": "all"})
            _read(w, seen, name, base + "objects/", "objects", limit="7")
            _read(w, seen, name, base + "manifest/", "manifest", limit="6",
                  **{"match[version]": "all"})
            _read(w, seen, name, base + "objects/", "objects",
                  **{"match[type]": "relationship,sighting"})
            for oid in probe:
                _read(w, seen, name, f"{base}objects/{oid}/", "objects")
                _read(w, seen, name, f"{base}objects/{oid}/versions/", "versions", oid)
            _read(w, seen, name, f"collections/{w.other}/objects/", "objects")
        yield Fixture(w, seen, before, head(store))


def _releases(f: Fixture) -> list[Any]:
    return [e for e in entries(f.w.node.store, f.before) if e.action == "release"]


def test_every_response_with_data_has_exactly_one_release_entry(fx: Fixture) -> None:
    by_request = {e.request_id: e for e in _releases(fx)}
    assert len(by_request) == len(_releases(fx))  # one entry per request, never two
    partner_responses = {rid: r for rid, r in fx.seen.responses.items() if r[0] in READERS}
    assert set(by_request) == set(partner_responses)
    now = now_us()
    for rid, (partner, kind, items) in partner_responses.items():
        e = by_request[rid]
        assert (e.target, e.actor_name, e.org, e.result) == (fx.w.main, partner, ORG[partner],
                                                             "ok")
        assert (e.details["partner"], e.details["org"], e.details["kind"],
                e.details["channel"]) == (partner, ORG[partner], kind, "taxii")
        assert [tuple(v) for v in e.details["versions"]] == items, (partner, kind)
        deals = fx.w.who[partner].deals
        active = sorted(fx.w.agreements[f"{partner}#{n}"] for n, d in enumerate(deals)
                        if d.active(now) and d.direction in ("pull", "both"))
        assert sorted(e.details["agreements"]) == active


def test_local_users_and_refused_partners_leave_no_release(fx: Fixture) -> None:
    names = {e.actor_name for e in _releases(fx)}
    assert names == set(READERS)
    got_data = {r[0] for r in fx.seen.responses.values()}
    assert got_data - set(READERS) <= {"admin", "analyst", "reader"}
    assert any(r[0] == "admin" for r in fx.seen.responses.values())  # they did get data
    refused = [e for e in entries(fx.w.node.store, fx.before) if e.action == "access.denied"]
    assert {e.actor_name for e in refused} >= {"pushonly", "noagr", "expired", "future"}


def test_every_kind_of_read_is_recorded_with_its_kind(fx: Fixture) -> None:
    kinds = {(e.actor_name, e.details["kind"]) for e in _releases(fx)}
    for partner in READERS:
        assert {(partner, k) for k in ("objects", "manifest", "versions")} <= kinds


def _who_received_cli(fx: Fixture, oid: str) -> list[dict[str, Any]]:
    result = cli("audit", "who-received", oid, "--json", home=fx.w.node.settings.home)
    assert result.code == 0, result
    return result.json()  # type: ignore[no-any-return]


def test_who_received_lists_exactly_what_each_partner_saw(fx: Fixture) -> None:
    received = fx.seen.received()
    local = {oid for oid, got in received.items()
             if all(p in ("admin", "analyst", "reader") for p, _v, _k in got)}
    asked = sorted({*received, iid("rel-none"), iid("unknown-marking")})
    for n, oid in enumerate(asked):
        expected = {t for t in received.get(oid, set()) if t[0] in READERS}
        rows = (_who_received_cli(fx, oid) if n % 5 == 0 else fx.w.client.get(
            f"/liaison/audit/who-received/{oid}/", headers=fx.w.headers("admin")).json()[
                "received"])
        got = {(r["partner"], r["version"], r["kind"]) for r in rows}
        assert got == expected, oid
        for r in rows:
            assert r["org"] == ORG[r["partner"]] and r["channel"] == "taxii"
            assert r["collection"] == fx.w.main and r["request_id"] in fx.seen.responses
        if oid in local and not expected:
            assert rows == []
    for withheld in (iid("rel-none"), iid("unknown-marking"), iid("granular-unknown")):
        assert _who_received_cli(fx, withheld) == []  # released to no one, recorded for no one
    assert {r["partner"] for r in _who_received_cli(fx, iid("tlp2-red"))} == {"red"}


def test_the_whole_chain_still_verifies(fx: Fixture) -> None:
    result = cli("audit", "verify", "--json", home=fx.w.node.settings.home)
    assert result.code == 0 and result.json()["entries"] == fx.after


def test_a_push_records_each_page_with_what_was_posted(engine: str, tmp_path: Path) -> None:
    local = make_local(tmp_path, "pull", database_for(engine, tmp_path))
    try:
        objs = [fed_indicator(None, i) for i in range(12)] + [fed_indicator(None, 99,
                                                                             marking=FED_RED)]
        local.import_objects(objs)
        bodies: list[list[tuple[str, str]]] = []
        partner = ScriptedPartner()
        real_accept = partner.accept

        def accept(request: Any) -> Any:
            import json

            sent = json.loads(request.content)["objects"]
            bodies.append([(o["id"], o.get("modified") or o["created"]) for o in sent])
            return real_accept(request)

        partner.accept = accept  # type: ignore[method-assign]
        before = head(local.node.store)
        results = local.syncer(partner.transport(), page_size=5).run_once()
        assert next(r for r in results if r.job.direction == "push").caught_up
        pushed = [e for e in entries(local.node.store, before) if e.action == "release"]
        assert [[tuple(v) for v in e.details["versions"]] for e in pushed] == bodies
        for e in pushed:
            assert (e.details["channel"], e.details["partner"], e.details["agreements"]) == \
                ("push", "remote", [local.agreement.id])
        red = objs[-1]["id"]
        assert all(red not in str(e.details) for e in pushed)
        rows = cli("audit", "who-received", objs[0]["id"], "--json",
                   home=local.node.settings.home).json()
        assert [(r["partner"], r["channel"]) for r in rows] == [("remote", "push")]
    finally:
        local.node.close()

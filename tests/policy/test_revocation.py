"""Revocation, expiry, removal and re-marking take effect on the very next request, even
one that carries a `next` cursor minted before (DESIGN "Revoking it takes effect on the
next request"; reliability-security §(b) tests 4 and 14, goal A3: 0 s grace).

What that next request gets, by change:
- every agreement revoked / expired, partner without any other agreement: 404 (the
  collection no longer exists for it, as for a partner that never had one);
- the pull agreements revoked while a push agreement remains: 403 (it may still write);
- the partner removed: 401 (its token no longer authenticates);
- one of two agreements revoked (the re-sharing one), or an object re-marked (a new
  RED version, or one releasable to a third party only): 200 with the rest of the
  pages, minus what is newly withheld — checked against the oracle;
- a local user's grant revoked: 404.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from liaison.stix.timestamps import now_us
from tests.conftest import NodeFixture
from tests.policy.oracle import AMBER, GREEN, Deal, Who
from tests.policy.world import ORG, T2, TLP2, World, iid, indicator

LIMIT = 2


def small_world(fx: NodeFixture) -> World:
    """Ten GREEN local indicators with RED ones between, two foreign GREEN ones; partner
    `p` with pull AMBER, pull GREEN+re-share and push; `src` pushes; analyst `ana`."""
    w = World(fx.node, fx.client, fx.admin_token, str(fx.node.org_identity()["id"]))
    admin, partners = fx.node.exchange.admin, fx.node.exchange.partners
    w.main = admin.add_collection("Main", "main").id
    w.other = admin.add_collection("Other", "other").id
    w.who["admin"] = Who("admin", "admin")
    w.tokens["ana"] = admin.add_user("ana", "analyst").token
    admin.grant("main", "ana", read=True, write=False)
    w.who["ana"] = Who("user", "ana", grants={w.main: (True, False)})
    deals = {"p": [Deal(frozenset({w.main}), "pull", AMBER),
                   Deal(frozenset({w.main}), "pull", GREEN, reshare=True),
                   Deal(frozenset({w.main}), "push", AMBER)],
             "src": [Deal(frozenset({w.main}), "push", AMBER)]}
    levels = ["clear", "green", "amber", "amber+strict", "red"]
    for name, plan in deals.items():
        w.tokens[name] = partners.add(name, ORG.get(name, ORG["amber"])).token
        w.who[name] = Who("partner", name, ORG.get(name, ORG["amber"]), deals=plan)
        for n, d in enumerate(plan):
            a = partners.add_agreement(name, ["main"], d.direction, levels[d.max_tlp],
                                       reshare=d.reshare)
            w.agreements[f"{name}#{n}"] = a.id
    w.rel["third"] = str(partners.add_releasability("third", [ORG["third"]], w.our_org)["id"])
    w.rel["none"] = str(partners.add_releasability("nobody", [], w.our_org)["id"])
    for key in ("third", "none"):
        w.registry.known[w.rel[key]] = frozenset([ORG["third"]] if key == "third" else [])
    local = []
    for n in range(10):
        local.append(indicator(f"g{n}", [TLP2["green"]]))
        if n % 3 == 0:
            local.append(indicator(f"r{n}", [TLP2["red"]]))
    w.write("admin", w.main, local[:8])
    w.write("src", w.main, [indicator("f0", [TLP2["green"]]), indicator("f1", [TLP2["clear"]])])
    w.write("admin", w.main, local[8:])
    w.refresh_model()
    return w


def first_page(w: World, who: str) -> tuple[list[str], str]:
    resp = w.get(who, f"collections/{w.main}/objects/", limit=str(LIMIT))
    assert resp.status_code == 200, resp.text
    doc = resp.json()
    assert len(doc["objects"]) == LIMIT and doc["more"] is True
    return [o["id"] for o in doc["objects"]], doc["next"]


def rest(w: World, who: str, cursor: str) -> Any:
    return w.get(who, f"collections/{w.main}/objects/", limit=str(LIMIT), next=cursor)


def remaining(w: World, who: str, after: str) -> list[str]:
    """What the oracle says the rest of the pages hold, after the change."""
    w.refresh_model()
    model = w.colls["main"]
    return [v.id for v in model.visible_latest(w.who[who], w.registry, now_us())
            if v.date_added > after]


def page_through(w: World, who: str, cursor: str) -> list[str]:
    got: list[str] = []
    while True:
        resp = rest(w, who, cursor)
        assert resp.status_code == 200, resp.text
        doc = resp.json()
        if not doc:
            return got
        got += [o["id"] for o in doc["objects"]]
        assert len(doc["objects"]) == LIMIT or not doc["more"]
        if not doc["more"]:
            return got
        cursor = doc["next"]


def _last_served(w: World, ids: list[str]) -> str:
    return next(v.date_added for v in w.colls["main"].versions if v.id == ids[-1])


def _revoke(w: World, *keys: str) -> None:
    for key in keys:
        w.node.exchange.partners.revoke_agreement(w.agreements[key])
        n = int(key.split("#")[1])
        deal = w.who[key.split("#")[0]].deals[n]
        w.who[key.split("#")[0]].deals[n] = Deal(deal.collections, deal.direction,
                                                  deal.max_tlp, deal.reshare, revoked=True)


DENIALS: dict[str, tuple[str, Callable[[World], None], int]] = {
    "all agreements revoked": ("p", lambda w: _revoke(w, "p#0", "p#1", "p#2"), 404),
    "pull revoked, push kept": ("p", lambda w: _revoke(w, "p#0", "p#1"), 403),
    "partner removed": ("p", lambda w: w.node.exchange.partners.remove("p"), 401),
    "grant revoked": ("ana", lambda w: w.node.exchange.admin.revoke_grant("main", "ana"), 404),
}


@pytest.mark.parametrize("change", list(DENIALS))
def test_the_next_request_is_refused(node_fx: NodeFixture, change: str) -> None:
    w = small_world(node_fx)
    who, act, status = DENIALS[change]
    _, cursor = first_page(w, who)
    act(w)
    resp = rest(w, who, cursor)
    assert resp.status_code == status, resp.text
    assert resp.json()["http_status"] == str(status)
    assert "objects" not in resp.json() and "X-TAXII-Date-Added-First" not in resp.headers
    fresh = w.get(who, f"collections/{w.main}/objects/")  # and without a cursor too
    assert fresh.status_code == status
    manifest = w.get(who, f"collections/{w.main}/manifest/", next=cursor, limit=str(LIMIT))
    assert manifest.status_code == status  # rights first: the cursor is never even opened


def test_expiry_between_pages(node_fx: NodeFixture) -> None:
    """An agreement whose valid_until passes between two pages: the next page is 404."""
    w = small_world(node_fx)
    _revoke(w, "p#0", "p#1", "p#2")
    window = 1_000_000  # 1 s of validity
    until = now_us() + window
    w.node.exchange.partners.add_agreement("p", ["main"], "pull", "amber", valid_until=until)
    _, cursor = first_page(w, "p")
    assert now_us() < until, "the first page must be served while the agreement is valid"
    time.sleep(max(0.0, (until - now_us()) / 1e6) + 0.05)
    resp = rest(w, "p", cursor)
    assert resp.status_code == 404 and resp.json()["http_status"] == "404"
    assert w.get("p", "collections/").content == b"{}"


def _remark(w: World, names: tuple[str, ...], marks: list[str]) -> list[str]:
    """Our admin adds a new version of each object with other markings."""
    w.write("admin", w.main, [indicator(n, marks, modified=T2) for n in names])
    return list(names)


def _stop_resharing(w: World) -> list[str]:
    _revoke(w, "p#1")
    return ["f0", "f1"]


NARROWINGS: dict[str, Callable[[World], list[str]]] = {
    # each makes its change and returns the fixture names it newly withholds (one served
    # on the first page already, the others still to come)
    "re-share agreement revoked": _stop_resharing,
    "re-marked RED": lambda w: _remark(w, ("g5", "g0"), [TLP2["red"]]),
    "re-marked to a third party": lambda w: _remark(w, ("g6", "g1"),
                                                    [TLP2["green"], w.rel["third"]]),
    "re-marked to nobody": lambda w: _remark(w, ("g7",), [TLP2["green"], w.rel["none"]]),
}


@pytest.mark.parametrize("change", list(NARROWINGS))
def test_the_next_page_omits_what_became_withheld(node_fx: NodeFixture, change: str) -> None:
    w = small_world(node_fx)
    served, cursor = first_page(w, "p")
    before = set(remaining(w, "p", _last_served(w, served)))
    names = NARROWINGS[change](w)
    gone = {iid(n) for n in names}
    assert gone & before  # some of them were still to come
    expected = remaining(w, "p", _last_served(w, served))
    assert not gone & set(expected)
    got = page_through(w, "p", cursor)
    assert got == expected  # nothing newly withheld; nothing visible skipped
    everything = w.get("p", f"collections/{w.main}/objects/", limit="100").json()
    assert not gone & {o["id"] for o in everything.get("objects", [])}
    for oid in gone:  # the new version never reaches the partner, by any path
        for path in (f"objects/{oid}/", f"objects/{oid}/versions/"):
            resp = w.get("p", f"collections/{w.main}/{path}")
            assert T2 not in resp.text


def test_an_empty_releasability_list_releases_to_no_one(node_fx: NodeFixture) -> None:
    """Reference test 4 (MISP #4200): an allow-list that resolves to no one shares with
    no one — not with every partner.  The definition itself has no `releasable_to`."""
    w = small_world(node_fx)
    partners = node_fx.node.exchange.partners
    marking = partners.add_releasability("empty", [], w.our_org)
    ext = next(iter(marking["extensions"].values()))
    assert "releasable_to" not in ext
    # every partner class that could read the collection: own org, re-share, RED
    for name, org_id, level, reshare in (("q-red", ORG["red"], "red", True),
                                         ("q-ours", w.our_org, "red", True)):
        w.tokens[name] = partners.add(name, org_id).token
        partners.add_agreement(name, ["main"], "pull", level, reshare=reshare)
    obj = indicator("for-nobody", [TLP2["clear"], str(marking["id"])])
    w.write("admin", w.main, [obj])
    for name in ("p", "q-red", "q-ours"):
        listing = w.get(name, f"collections/{w.main}/objects/", limit="100").json()
        assert obj["id"] not in {o["id"] for o in listing.get("objects", [])}
        assert str(marking["id"]) not in orjson.dumps(listing).decode()  # nor its definition
        assert w.get(name, f"collections/{w.main}/objects/{obj['id']}/").status_code == 404
        assert node_fx.node.exchange.explain(obj["id"], name)[0].decision.released is False
    # the same after the only partner a list named is removed
    named = partners.add_releasability("only-p", [ORG["amber"]], w.our_org)
    w.registry.known[str(named["id"])] = frozenset({ORG["amber"]})
    obj2 = indicator("for-p-only", [TLP2["green"], str(named["id"])])
    w.write("admin", w.main, [obj2])
    assert obj2["id"] in {o["id"] for o in w.get("p", f"collections/{w.main}/objects/",
                                                 limit="100").json()["objects"]}
    partners.remove("p")
    for name in ("q-red", "q-ours"):
        assert w.get(name, f"collections/{w.main}/objects/{obj2['id']}/").status_code == 404

"""Mixed envelopes, pagination under ties, cursor binding, revocation, status privacy and
DELETE without match[version] (TAXII 2.1 §3.4, §3.5, §4.3, §5.5, §5.7, Appendix B).

Every response goes through `harness.call` (reference §4 implicit checks (a)-(d), and
stix2-validator on every served object).
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest

from tests.conftest import NodeFixture
from tests.taxii.harness import T1, T2, T3, World, assert_error, indicator

N_TIES = 1500


@pytest.fixture
def w(node_fx: NodeFixture) -> World:
    world = World(node_fx)
    world.load()
    return world


def identity(n: int) -> dict[str, Any]:
    return {"type": "identity", "spec_version": "2.1", "id": f"identity--{uuid.uuid4()}",
            "created": "2024-05-01T00:00:00.000Z", "modified": "2024-05-01T00:00:00.000Z",
            "name": f"Org {n}", "identity_class": "organization"}


# -- a mix of valid and invalid objects (§5.5, §4.3.1) ------------------------------------
def test_mixed_envelope_stores_the_valid_and_lists_each_invalid(w: World) -> None:
    good = [identity(1), identity(2), indicator(f"indicator--{uuid.uuid4()}", T2)]
    bad_id = f"indicator--{uuid.uuid4()}"
    bad: list[tuple[dict[str, Any], str]] = [
        ({"type": "indicator"}, "id"),
        ({**identity(3), "name": 5}, "name"),
        (indicator(bad_id, T1, created=T3), "modified"),
        ({**identity(4), "spec_version": "2.0"}, "spec_version"),
        ({k: v for k, v in identity(5).items() if k != "created"}, "created"),
        ({**identity(6), "id": "identity--not-a-uuid"}, "id"),
        ({**identity(7), "labels": []}, "labels"),
        ({"type": "marking-definition", "spec_version": "2.1",
          "id": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
          "created": "2022-10-01T00:00:00.000Z", "name": "TLP:CLEAR",
          "extensions": {"extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {
              "extension_type": "property-extension", "tlp_2_0": "clear"}}}, "TLP"),
    ]
    envelope = [good[0], bad[0][0], good[1], *[b for b, _ in bad[1:]], good[2]]
    before = {r[0] for r in w.snapshot()}
    resp = w.post(w.col("RW", "objects/"), {"objects": envelope})
    assert resp.status_code == 202
    doc = resp.json()
    assert doc["total_count"] == len(envelope)
    assert doc["success_count"] == len(good) and doc["failure_count"] == len(bad)
    assert [s["id"] for s in doc["successes"]] == [g["id"] for g in good]
    assert len(doc["failures"]) == len(bad)
    for failure, (obj, word) in zip(doc["failures"], bad, strict=True):
        assert failure["id"] == obj.get("id", "unknown")
        assert word in failure["message"], (word, failure)
    assert {f["version"] for f in doc["failures"] if f["id"] == bad_id} == {T1}
    stored = {r[0] for r in w.snapshot()} - before
    assert stored == {g["id"] for g in good}
    status = w.get(f"/api/status/{doc['id']}/").json()
    assert status == doc


# -- pagination under ties: one envelope, one clock instant (§3.4, §3.5) -------------------
def test_pagination_of_one_big_envelope_serves_each_object_once(node_fx: NodeFixture) -> None:
    """1,500 objects posted in one envelope, read with limit=100 by `next` and again by
    `added_after` = X-TAXII-Date-Added-Last: every object exactly once, both ways."""
    w = World(node_fx)
    sent = [identity(n) for n in range(N_TIES)]
    doc = w.post_objects(sent)
    assert doc["success_count"] == N_TIES
    want = sorted(o["id"] for o in sent)
    url = w.col("RW", "objects/")

    by_next: list[str] = []
    params: dict[str, str] = {"limit": "100"}
    pages = 0
    while True:
        resp = w.get(url, params)
        body = resp.json()
        pages += 1
        assert len(body["objects"]) == 100
        by_next += [o["id"] for o in body["objects"]]
        if not body["more"]:
            break
        params = {"limit": "100", "next": body["next"]}
        assert pages < 20
    assert pages == N_TIES // 100
    assert sorted(by_next) == want and len(set(by_next)) == N_TIES

    by_date: list[str] = []
    params = {"limit": "100"}
    while True:
        resp = w.get(url, params)
        if resp.json() == {}:
            break
        by_date += [o["id"] for o in resp.json()["objects"]]
        params = {"limit": "100", "added_after": resp.headers["X-TAXII-Date-Added-Last"]}
        assert len(by_date) <= N_TIES
    assert by_date == by_next


# -- next cursors are bound to the principal, collection and filters (App. B) --------------
@pytest.fixture
def paged(w: World) -> tuple[World, str]:
    """U has read RW with limit=2 and holds the `next` cursor of the first page."""
    w.fx.add_user("V", "analyst")
    w.fx.node.exchange.admin.grant(w.cols["RW"], "V", read=True, write=True)
    resp = w.get(w.col("RW", "objects/"), {"limit": "2"})
    assert resp.json()["more"] is True
    return w, resp.json()["next"]


def test_cursor_is_refused_for_another_principal(paged: tuple[World, str]) -> None:
    w, cursor = paged
    assert_error(w.get(w.col("RW", "objects/"), {"limit": "2", "next": cursor}, user="V"), 400)
    assert_error(w.get(w.col("RW", "objects/"), {"limit": "2", "next": cursor}, user="admin"), 400)


def test_cursor_is_refused_on_another_collection(paged: tuple[World, str]) -> None:
    w, cursor = paged
    resp = w.post(w.col("RO", "objects/"), {"objects": [identity(1), identity(2), identity(3)]},
                  user="admin")
    assert resp.status_code == 202
    assert_error(w.get(w.col("RO", "objects/"), {"limit": "2", "next": cursor}), 400)


@pytest.mark.parametrize("changed", [
    {"match[type]": "indicator"}, {"match[version]": "all"}, {"match[id]": "x"},
    {"added_after": "2020-01-01T00:00:00Z"}, {"match[spec_version]": "2.1"},
])
def test_cursor_is_refused_with_other_filters(paged: tuple[World, str],
                                              changed: dict[str, str]) -> None:
    w, cursor = paged
    if "match[id]" in changed:
        changed = {"match[id]": w.i1}
    assert_error(w.get(w.col("RW", "objects/"), {"limit": "2", "next": cursor, **changed}), 400)


def test_cursor_is_refused_on_another_endpoint(paged: tuple[World, str]) -> None:
    w, cursor = paged
    assert_error(w.get(w.col("RW", "manifest/"), {"limit": "2", "next": cursor}), 400)
    assert_error(w.get(w.col("RW", f"objects/{w.i1}/"), {"limit": "2", "next": cursor}), 400)


def test_tampered_cursor_is_refused(paged: tuple[World, str]) -> None:
    w, cursor = paged
    head, _, sig = cursor.partition(".")
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    for bad in (f"{head}.{flipped}", head, f"{head}.", cursor + "x", cursor[1:]):
        assert_error(w.get(w.col("RW", "objects/"), {"limit": "2", "next": bad}), 400)


def test_cursor_is_accepted_when_only_limit_changes(paged: tuple[World, str]) -> None:
    w, cursor = paged
    everything = [o["id"] for o in w.get(w.col("RW", "objects/")).json()["objects"]]
    resp = w.get(w.col("RW", "objects/"), {"limit": "1000", "next": cursor})
    assert resp.status_code == 200
    rest = [o["id"] for o in resp.json()["objects"]]
    assert everything[2:] == rest and resp.json()["more"] is False
    without_limit = w.get(w.col("RW", "objects/"), {"next": cursor})
    assert [o["id"] for o in without_limit.json()["objects"]] == rest


@pytest.mark.parametrize("path", ["objects/", "manifest/", "objects/{i1}/",
                                  "objects/{i1}/versions/"])
def test_next_on_every_listing(w: World, path: str) -> None:
    """E6, E7, E9 and E11 emit `next` whenever `more` is true (reference §1.6 node
    decision); following it with limit=1 yields the full listing, each item once."""
    url = w.col("RW", path.format(i1=w.i1))
    params = {"match[version]": "all"} if "versions" not in path else {}
    key = "versions" if "versions" in path else "objects"
    full = w.get(url, params).json()[key]
    seen: list[Any] = []
    page: dict[str, str] = {**params, "limit": "1"}
    while True:
        doc = w.get(url, page).json()
        seen += doc[key]
        if not doc["more"]:
            break
        page = {**params, "limit": "1", "next": doc["next"]}
    assert seen == full and len(full) >= 3


def test_cursor_rights_are_rechecked_on_every_page(paged: tuple[World, str]) -> None:
    """A cursor grants nothing by itself (Appendix B): losing read access ends paging."""
    w, cursor = paged
    admin = w.fx.node.exchange.admin
    admin.grant(w.cols["RW"], w.user, read=False, write=True)
    assert_error(w.get(w.col("RW", "objects/"), {"limit": "2", "next": cursor}), 403)
    admin.revoke_grant(w.cols["RW"], w.user)
    assert_error(w.get(w.col("RW", "objects/"), {"limit": "2", "next": cursor}), 404)
    admin.grant(w.cols["RW"], w.user, read=True, write=True)
    assert w.get(w.col("RW", "objects/"), {"limit": "2", "next": cursor}).status_code == 200


# -- revocation, status privacy (§1.6.9, §4.3) -----------------------------------------------
def test_revoked_user_gets_401_on_the_next_request(w: World) -> None:
    assert w.get(w.col("RW", "objects/")).status_code == 200
    w.fx.node.exchange.admin.revoke_user(w.user)
    for resp in (w.get(w.col("RW", "objects/")), w.get("/taxii2/"),
                 w.post(w.col("RW", "objects/"), {"objects": [identity(1)]})):
        assert_error(resp, 401)
        assert "WWW-Authenticate" in resp.headers
    resp = w.get("/taxii2/", headers={"Authorization": f"Bearer {w.fx.tokens[w.user]}"})
    assert_error(resp, 401)


def test_status_is_404_for_another_user(w: World) -> None:
    w.fx.add_user("V", "analyst")
    w.fx.node.exchange.admin.grant(w.cols["RW"], "V", read=True, write=True)
    posted = w.post_objects([identity(1)])
    url = f"/api/status/{posted['id']}/"
    assert w.get(url).json() == posted
    assert_error(w.get(url, user="V"), 404)
    assert w.get(url, user="admin").json() == posted  # admins see every status


# -- DELETE without match[version] removes every version (node decision, §5.7) -------------
def test_delete_without_match_version_removes_all_versions(w: World) -> None:
    assert len(w.get(w.col("RW", f"objects/{w.i1}/versions/")).json()["versions"]) == 3
    resp = w.delete(w.col("RW", f"objects/{w.i1}/"))
    assert resp.status_code == 200 and resp.content == b""
    assert_error(w.get(w.col("RW", f"objects/{w.i1}/")), 404)
    assert_error(w.get(w.col("RW", f"objects/{w.i1}/versions/")), 404)
    gone = w.get(w.col("RW", "manifest/"), {"match[id]": w.i1, "match[version]": "all"})
    assert gone.json() == {}
    assert w.i1 not in {r[0] for r in w.snapshot()}
    assert {w.id1, w.s1} <= {r[0] for r in w.snapshot()}, "other objects stay"
    assert_error(w.delete(w.col("RW", f"objects/{w.i1}/")), 404)


def test_delete_of_another_spec_version_removes_nothing(w: World) -> None:
    before = w.snapshot()
    resp = w.delete(w.col("RW", f"objects/{w.i1}/"), {"match[spec_version]": "2.0"})
    assert_error(resp, 404)
    assert w.snapshot() == before
    assert orjson.loads(w.get(w.col("RW", f"objects/{w.i1}/")).content)["objects"]

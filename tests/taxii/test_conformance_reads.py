"""TAXII 2.1 conformance checks C26-C45 of reference §4, strict node profile.

Reads, filters, pagination, versions and delete on a collection loaded by C13 and C16
(`World.load`: I1@t1, ID1, S1, M, then I1@t2, I1@t3).  Every response goes through
`harness.call` (implicit checks (a)-(d), and stix2-validator on every served object).
Strict profile: C32 -> 400; C40 -> 404; `next` whenever `more` is true.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.conftest import NodeFixture
from tests.taxii.harness import DATE_HEADERS, T1, T2, T3, TIMESTAMP, World, assert_error, call

OBJ = "objects/"


@pytest.fixture
def w(node_fx: NodeFixture) -> World:
    world = World(node_fx)
    world.load()
    return world


def objects(w: World, params: Any = None, path: str = OBJ, col: str = "RW") -> list[dict[str, Any]]:
    resp = w.get(w.col(col, path), params)
    assert resp.status_code == 200, resp.text
    return resp.json().get("objects", [])


def versions_of(found: list[dict[str, Any]]) -> list[tuple[str, str | None]]:
    return [(o["id"], o.get("modified")) for o in found]


def test_c26_get_objects(w: World) -> None:
    """C26: GET {R}collections/{RW}/objects/ → 200 with an envelope. The X-TAXII-Date-Added-
    First and -Last headers are present and equal the `date_added` of the first and last
    returned items, taken from the manifest. Items are in ascending `date_added` order.
    Only the latest version of I1 (t3) is returned."""
    resp = w.get(w.col("RW", OBJ))
    assert resp.status_code == 200
    found = resp.json()["objects"]
    assert set(versions_of(found)) == w.loaded() and len(found) == len(w.loaded())
    records = w.manifest(params={})  # same default filters: latest versions
    assert [r["id"] for r in records] == [o["id"] for o in found]
    added = [r["date_added"] for r in records]
    assert added == sorted(added) and len(set(added)) == len(added)
    assert resp.headers["X-TAXII-Date-Added-First"] == added[0]
    assert resp.headers["X-TAXII-Date-Added-Last"] == added[-1]
    ids = [o["id"] for o in found]
    assert ids[:2] == [w.id1, w.s1] and ids[-1] == w.i1  # C13's order; I1@t3 added last


def test_c27_no_read_on_write_only(w: World) -> None:
    """C27: GET objects or manifest on {WO} → 403 or 404."""
    for path in (OBJ, "manifest/", f"{OBJ}{w.i1}/", f"{OBJ}{w.i1}/versions/"):
        resp = w.get(w.col("WO", path))
        assert resp.status_code in (403, 404)
        assert_error(resp, resp.status_code)


def test_c28_follow_next(w: World) -> None:
    """C28: GET …/objects/?limit=1, then follow `next` (same filters plus &next=) until
    `more` is false or absent → each page has ≤ 1 object. `more: true` on all but the last
    page. The union of the pages equals C26 with no duplicates. This node: `next` present
    whenever `more` is true."""
    everything = objects(w)
    pages: list[list[dict[str, Any]]] = []
    params: dict[str, str] = {"limit": "1"}
    while True:
        doc = w.get(w.col("RW", OBJ), params).json()
        pages.append(doc.get("objects", []))
        assert len(pages[-1]) <= 1
        if not doc.get("more"):
            break
        assert doc["next"]
        params = {"limit": "1", "next": doc["next"]}
        assert len(pages) <= len(everything) + 1, "next never ends"
    union = [o for page in pages for o in page]
    assert union == everything
    assert len({o["id"] for o in union}) == len(union) == len(w.loaded())


def test_c29_follow_added_after(w: World) -> None:
    """C29: GET …/objects/?limit=1, then ?limit=1&added_after=<X-TAXII-Date-Added-Last of
    the previous page> → the second page's item has `date_added` strictly after that
    value."""
    first = w.get(w.col("RW", OBJ), {"limit": "1"})
    assert first.json()["more"] is True
    last = first.headers["X-TAXII-Date-Added-Last"]
    second = w.get(w.col("RW", OBJ), {"limit": "1", "added_after": last})
    (item,) = second.json()["objects"]
    assert item["id"] != first.json()["objects"][0]["id"]
    added = {r["id"]: r["date_added"] for r in w.manifest(params={})}
    assert added[item["id"]] > last
    assert second.headers["X-TAXII-Date-Added-First"] == added[item["id"]]


@pytest.mark.parametrize("limit", ["0", "-1", "abc"])
def test_c30_bad_limit(w: World, limit: str) -> None:
    """C30: GET …/objects/?limit=0, ?limit=-1, ?limit=abc → 400 each."""
    assert_error(w.get(w.col("RW", OBJ), {"limit": limit}), 400)


def test_c31_bad_added_after(w: World) -> None:
    """C31: GET …/objects/?added_after=yesterday → 400."""
    assert_error(w.get(w.col("RW", OBJ), {"added_after": "yesterday"}), 400)


def test_c32_random_next(w: World) -> None:
    """C32: GET …/objects/?next=<random string> → 400 (strict profile)."""
    for junk in (uuid.uuid4().hex, "a.b", "!!!", "eyJ4Ijox.fQ"):
        assert_error(w.get(w.col("RW", OBJ), {"next": junk}), 400)


def test_c33_match_type(w: World) -> None:
    """C33: GET …/objects/?match[type]=indicator; then …=indicator,identity; then
    …?match[type]=grouping&match[id]=<I1> → only indicators; then only indicators and
    identities (OR); then 200 {} with no error (a STIX type must not cause an error)."""
    assert versions_of(objects(w, {"match[type]": "indicator"})) == [(w.i1, T3)]
    both = objects(w, {"match[type]": "indicator,identity"})
    assert sorted(o["id"] for o in both) == sorted([w.i1, w.id1])
    resp = w.get(w.col("RW", OBJ), {"match[type]": "grouping", "match[id]": w.i1})
    assert resp.status_code == 200 and resp.json() == {}
    assert not any(h in resp.headers for h in DATE_HEADERS)


def test_c34_match_id(w: World) -> None:
    """C34: GET …/objects/?match[id]=<I1>,<ID1> → exactly those two ids.
    &match[type]=identity added → only ID1 (AND)."""
    two = objects(w, {"match[id]": f"{w.i1},{w.id1}"})
    assert sorted(o["id"] for o in two) == sorted([w.i1, w.id1])
    one = objects(w, {"match[id]": f"{w.i1},{w.id1}", "match[type]": "identity"})
    assert [o["id"] for o in one] == [w.id1]


@pytest.mark.parametrize(("version", "expected"), [
    ("first", [T1]), ("all", [T1, T2, T3]), (T2, [T2]), ("first,last", [T1, T3]),
    ("last", [T3]), ("2024-02-01T00:00:00Z", [T2]), (f"{T2},{T3}", [T2, T3]),
])
def test_c35_match_version(w: World, version: str, expected: list[str]) -> None:
    """C35: GET …/objects/?match[id]=<I1>&match[version]= with `first`, `all`, `<t2>`,
    `first,last` → t1; all three versions; t2; t1 and t3.  (Also: `last`; t2 spelled
    without milliseconds, compared as an instant; two exact versions ORed.)"""
    found = objects(w, {"match[id]": w.i1, "match[version]": version})
    assert [o["modified"] for o in found] == expected
    assert all(o["id"] == w.i1 for o in found)


def test_c36_match_spec_version(w: World) -> None:
    """C36: GET …/objects/?match[spec_version]=2.1; then …?match[spec_version]=2.0&
    match[id]=<I1> → every returned object has `spec_version` 2.1 or is an SCO without
    it; then 200 {}."""
    found = objects(w, {"match[spec_version]": "2.1"})
    assert set(versions_of(found)) == w.loaded()
    assert all(o.get("spec_version", "2.1") == "2.1" for o in found)
    assert all("spec_version" in o or o["type"] == "ipv4-addr" for o in found)
    resp = w.get(w.col("RW", OBJ), {"match[spec_version]": "2.0", "match[id]": w.i1})
    assert resp.status_code == 200 and resp.json() == {}
    assert set(versions_of(objects(w, {"match[spec_version]": "2.0,2.1"}))) == w.loaded()


def test_c37_added_after_last(w: World) -> None:
    """C37: GET …/objects/?added_after=<X-TAXII-Date-Added-Last from C26> → 200 with no
    objects."""
    last = w.get(w.col("RW", OBJ)).headers["X-TAXII-Date-Added-Last"]
    resp = w.get(w.col("RW", OBJ), {"added_after": last})
    assert resp.status_code == 200 and resp.json() == {}


def test_c38_manifest(w: World) -> None:
    """C38: GET {R}collections/{RW}/manifest/; then ?match[type]=indicator; then
    ?match[id]=<I1>&match[version]=all → 200 with X-TAXII headers. Each record has `id`,
    `date_added`, and `version` (`modified`, or `created` for M). `media_type`, if
    present, is in the collection's `media_types`. Records are in ascending `date_added`.
    The second request returns only `indicator--` ids (filtering on the source object).
    The third returns exactly three records for I1 (one per version)."""
    media_types = w.get(w.col("RW")).json().get("media_types", ["application/stix+json"])
    resp = w.get(w.col("RW", "manifest/"))
    assert resp.status_code == 200
    records = resp.json()["objects"]
    assert resp.headers["X-TAXII-Date-Added-First"] == records[0]["date_added"]
    assert resp.headers["X-TAXII-Date-Added-Last"] == records[-1]["date_added"]
    added = [r["date_added"] for r in records]
    assert added == sorted(added)
    version = {r["id"]: r["version"] for r in records}
    assert version[w.i1] == T3 and version[w.id1] == T1
    assert version[w.m["id"]] == w.m["created"]
    s1 = next(r for r in records if r["id"] == w.s1)
    assert s1["version"] == s1["date_added"]  # an SCO's version: the date it was first added
    for r in records:
        assert isinstance(r["id"], str) and TIMESTAMP.match(r["date_added"])
        if "media_type" in r:
            assert r["media_type"] in media_types
    only = w.get(w.col("RW", "manifest/"), {"match[type]": "indicator"}).json()["objects"]
    assert [r["id"] for r in only] == [w.i1]
    three = w.manifest(params={"match[id]": w.i1, "match[version]": "all"})
    assert [(r["id"], r["version"]) for r in three] == [(w.i1, T1), (w.i1, T2), (w.i1, T3)]


def test_c39_get_an_object(w: World) -> None:
    """C39: GET …/objects/{I1}/, then …/objects/{I1}/?match[version]=all → 200 with an
    envelope holding only I1 at t3, plus X-TAXII headers; then all three versions."""
    resp = w.get(w.col("RW", f"{OBJ}{w.i1}/"))
    assert resp.status_code == 200
    assert versions_of(resp.json()["objects"]) == [(w.i1, T3)]
    assert all(h in resp.headers for h in DATE_HEADERS)
    assert resp.json()["objects"][0] == w.i1_at[T3]
    every = w.get(w.col("RW", f"{OBJ}{w.i1}/"), {"match[version]": "all"})
    assert [o["modified"] for o in every.json()["objects"]] == [T1, T2, T3]
    assert all(h in every.headers for h in DATE_HEADERS)


def test_c40_unknown_object(w: World) -> None:
    """C40: GET …/objects/<unknown id>/ → 404 (this node; 200 {} is the alternative)."""
    assert_error(w.get(w.col("RW", f"{OBJ}indicator--{uuid.uuid4()}/")), 404)


def test_c41_versions(w: World) -> None:
    """C41: GET …/objects/{I1}/versions/ and …/objects/<unknown id>/versions/ → 200
    {"versions": …} whose set is {t1, t2, t3} (order unspecified), with X-TAXII headers;
    then 404."""
    resp = w.get(w.col("RW", f"{OBJ}{w.i1}/versions/"))
    assert resp.status_code == 200
    assert set(resp.json()["versions"]) == {T1, T2, T3} and len(resp.json()["versions"]) == 3
    assert all(h in resp.headers for h in DATE_HEADERS)
    assert_error(w.get(w.col("RW", f"{OBJ}indicator--{uuid.uuid4()}/versions/")), 404)


def test_c42_delete_needs_read_and_write(w: World) -> None:
    """C42: DELETE …/objects/<any object id>/ on {RO}, {WO} and {NA} → 403, 403 and 404
    respectively."""
    for col in ("RO", "WO", "NA"):
        resp = w.post(w.col(col, OBJ), {"objects": [w.id1_obj]}, user="admin")
        assert resp.status_code == 202
    for col, code in (("RO", 403), ("WO", 403), ("NA", 404)):
        assert_error(w.delete(w.col(col, f"{OBJ}{w.id1}/")), code)
        assert [r[0] for r in w.snapshot(col)] == [w.id1], f"nothing was deleted from {col}"


def test_c43_delete_one_version(w: World) -> None:
    """C43: DELETE {RW}…/objects/{I1}/?match[version]=<t2> → 200. C41 now gives {t1, t3}."""
    resp = w.delete(w.col("RW", f"{OBJ}{w.i1}/"), {"match[version]": T2})
    assert resp.status_code == 200 and resp.content == b""
    assert set(w.get(w.col("RW", f"{OBJ}{w.i1}/versions/")).json()["versions"]) == {T1, T3}
    assert objects(w, {"match[version]": T2, "match[id]": w.i1}) == []
    assert versions_of(objects(w, {"match[id]": w.i1})) == [(w.i1, T3)]


def test_c44_delete_all_versions(w: World) -> None:
    """C44: DELETE {RW}…/objects/{I1}/?match[version]=all → 200. Afterwards
    …/objects/{I1}/ gives 404, and the manifest with ?match[id]=<I1> has no records."""
    resp = w.delete(w.col("RW", f"{OBJ}{w.i1}/"), {"match[version]": "all"})
    assert resp.status_code == 200
    assert_error(w.get(w.col("RW", f"{OBJ}{w.i1}/")), 404)
    manifest = w.get(w.col("RW", "manifest/"), {"match[id]": w.i1, "match[version]": "all"})
    assert manifest.status_code == 200 and manifest.json() == {}
    assert {r[0] for r in w.snapshot()} == {w.id1, w.s1, *w.tlp}


def test_c45_unknown_match_field_and_no_user_agent(w: World) -> None:
    """C45: GET …/objects/?match[x_unknown]=1 (unknown field), and a GET with no
    User-Agent → 200 for both: unknown fields may be ignored, and a missing User-Agent
    must not cause rejection."""
    assert set(versions_of(objects(w, {"match[x_unknown]": "1"}))) == w.loaded()
    resp = call(w.client, "GET", w.col("RW", OBJ), headers=w.headers(), omit=["user-agent"])
    assert "user-agent" not in resp.request.headers
    assert resp.status_code == 200
    assert set(versions_of(resp.json()["objects"])) == w.loaded()

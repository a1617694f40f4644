"""TAXII 2.1 conformance checks C1-C25 of reference §4, strict node profile.

Discovery, API root, status, collections and Add Objects.  C26-C45 (reads, filters,
pagination, delete) are in `test_conformance_reads.py`.  Every response goes through
`harness.call`, which asserts the implicit checks (a)-(d) of §4.  Strict profile:
C2 -> 401 with WWW-Authenticate, C4 -> 406, C17 -> 415, C18 -> 406.
"""

from __future__ import annotations

import time
import uuid

import orjson
import pytest

from tests.conftest import NodeFixture
from tests.taxii.harness import (
    A21,
    CT21,
    R,
    T1,
    T2,
    T3,
    TAXII_21,
    UUID4,
    World,
    assert_error,
    call,
)


@pytest.fixture
def w(node_fx: NodeFixture) -> World:
    return World(node_fx)


def check_status(doc: dict[str, object], total: int) -> None:
    """A status resource (§4.3.1) as C13 describes it."""
    assert isinstance(doc["id"], str) and UUID4.match(doc["id"])
    assert doc["status"] in ("complete", "pending")
    assert doc["total_count"] == total
    counts = {k: doc[f"{k}_count"] for k in ("success", "failure", "pending")}
    assert all(isinstance(c, int) and c >= 0 for c in counts.values())
    assert sum(counts.values()) == total  # type: ignore[arg-type]
    for kind, lst in (("success", "successes"), ("failure", "failures"), ("pending", "pendings")):
        if lst in doc:
            entries = doc[lst]
            assert isinstance(entries, list) and len(entries) == counts[kind]
            assert all(isinstance(e["id"], str) and isinstance(e["version"], str) for e in entries)


# -- §4.1 discovery ------------------------------------------------------------------------
def test_c01_discovery(w: World) -> None:
    """C1: GET /taxii2/ → 200. A string `title`. Each entry in `api_roots` is an https://
    absolute URL or starts with a single `/`, and has no `?`. If `default` is present, it
    is in `api_roots`."""
    resp = w.get("/taxii2/")
    assert resp.status_code == 200
    doc = resp.json()
    assert isinstance(doc["title"], str) and doc["title"]
    assert doc["api_roots"], "the node serves one API root and advertises it"
    for root in doc["api_roots"]:
        assert root.startswith("https://") or (root.startswith("/") and not root.startswith("//"))
        assert "?" not in root and "../" not in root
    if "default" in doc:
        assert doc["default"] in doc["api_roots"]
    assert R in doc["api_roots"]


def test_c02_discovery_without_authorization(w: World) -> None:
    """C2: GET /taxii2/ without Authorization → 401 with a WWW-Authenticate header
    (strict profile; the lenient alternatives are 404 or no answer)."""
    resp = call(w.client, "GET", "/taxii2/", headers=A21)
    assert_error(resp, 401)
    challenge = resp.headers["WWW-Authenticate"]
    assert "basic" in challenge.lower() and "realm=" in challenge.lower()


def test_c03_accept_without_version(w: World) -> None:
    """C3: GET /taxii2/ with `Accept: application/taxii+json` (no version) → 200, not 406.
    The response Content-Type carries version=2.1."""
    resp = w.get("/taxii2/", headers={"Accept": "application/taxii+json"})
    assert resp.status_code == 200
    assert "version=2.1" in resp.headers["content-type"].replace(" ", "")


def test_c04_accept_xml(w: World) -> None:
    """C4: GET /taxii2/ with `Accept: application/xml` → 406 (strict profile)."""
    assert_error(w.get("/taxii2/", headers={"Accept": "application/xml"}), 406)


# -- §4.2, §4.3 ------------------------------------------------------------------------------
def test_c05_api_root(w: World) -> None:
    """C5: GET {R} → 200. A string `title`. `versions` contains
    application/taxii+json;version=2.1. `max_content_length` is an integer > 0."""
    resp = w.get(R)
    assert resp.status_code == 200
    doc = resp.json()
    assert isinstance(doc["title"], str)
    assert TAXII_21 in doc["versions"]
    assert type(doc["max_content_length"]) is int and doc["max_content_length"] > 0
    assert doc["max_content_length"] == w.fx.node.settings.max_content_length


def test_c06_unknown_api_root(w: World) -> None:
    """C6: GET /no-such-root-<uuid>/ → 404."""
    assert_error(w.get(f"/no-such-root-{uuid.uuid4()}/"), 404)
    assert_error(w.get(f"/no-such-root-{uuid.uuid4()}/collections/"), 404)


def test_c07_unknown_status(w: World) -> None:
    """C7: GET {R}status/<random uuid4>/ → 404."""
    assert_error(w.get(f"{R}status/{uuid.uuid4()}/"), 404)


# -- §5.1, §5.2 collections ------------------------------------------------------------------
def test_c08_collections(w: World) -> None:
    """C8: GET {R}collections/ → 200. The body is {} or has a non-empty `collections` list.
    Each entry has a UUID `id`, a string `title`, and booleans `can_read` and `can_write`.
    `media_types`, if present, is a non-empty list of strings."""
    resp = w.get(f"{R}collections/")
    assert resp.status_code == 200
    entries = resp.json()["collections"]
    for c in entries:
        assert UUID4.match(c["id"]) and isinstance(c["title"], str)
        assert type(c["can_read"]) is bool and type(c["can_write"]) is bool
        if "media_types" in c:
            assert c["media_types"] and all(isinstance(m, str) for m in c["media_types"])
    rights = {c["id"]: (c["can_read"], c["can_write"]) for c in entries}
    assert rights == {w.cols["RW"]: (True, True), w.cols["RO"]: (True, False),
                      w.cols["WO"]: (False, True)}  # NA is hidden from U (§1.6.9)
    other = w.fx.add_user("nobody")
    assert other
    empty = w.get(f"{R}collections/", user="nobody")
    assert empty.status_code == 200 and empty.json() == {}


def test_c09_collections_order_is_stable(w: World) -> None:
    """C9: GET {R}collections/ twice → the same order of ids both times."""
    first = [c["id"] for c in w.get(f"{R}collections/").json()["collections"]]
    second = [c["id"] for c in w.get(f"{R}collections/").json()["collections"]]
    assert first == second and len(first) == 3


def test_c10_each_collection_equals_its_list_entry(w: World) -> None:
    """C10: GET {R}collections/{id}/ for each listed id → 200, and the body equals the
    matching list entry."""
    entries = w.get(f"{R}collections/").json()["collections"]
    for entry in entries:
        resp = w.get(w.col(entry["id"]))
        assert resp.status_code == 200
        assert resp.json() == entry


def test_c11_unknown_collection(w: World) -> None:
    """C11: GET {R}collections/<random uuid4>/ → 404."""
    assert_error(w.get(w.col(str(uuid.uuid4()))), 404)
    assert_error(w.get(w.col("NA")), 404)  # invisible to U: indistinguishable from unknown


def test_c12_wrong_password(w: World) -> None:
    """C12: GET {R}collections/ with the wrong password → 401 (or 404)."""
    resp = call(w.client, "GET", f"{R}collections/", headers=w.headers() | {
        "Authorization": w.headers()["Authorization"][:-4] + "AAAA"})
    assert_error(resp, 401)
    assert "WWW-Authenticate" in resp.headers


# -- §5.5 add objects, §4.3 status -------------------------------------------------------
def test_c13_add_objects(w: World) -> None:
    """C13: POST {R}collections/{RW}/objects/ with {"objects":[I1@t1, ID1, S1, M]} → 202.
    A `status` with a UUID `id`, `status` ∈ {complete, pending}, and `total_count` = 4.
    success + failure + pending = total. Each list that is present has a length equal to
    its count, and each entry has `id` and `version`."""
    doc = w.post_objects([w.i1_at[T1], w.id1_obj, w.s1_obj, w.m])
    check_status(doc, 4)
    assert doc["success_count"] == 4 and doc["failure_count"] == 0
    assert {s["id"] for s in doc["successes"]} == {w.i1, w.id1, w.s1, w.m["id"]}


def test_c14_status_is_retrievable(w: World) -> None:
    """C14: GET {R}status/{C13.id}/, polled for up to 60 s → 200 with the same `id`.
    It ends as `complete` with `success_count` = 4."""
    posted = w.post_objects([w.i1_at[T1], w.id1_obj, w.s1_obj, w.m])
    deadline = time.monotonic() + 60
    while True:
        resp = w.get(f"{R}status/{posted['id']}/")
        assert resp.status_code == 200
        doc = resp.json()
        if doc["status"] == "complete" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    check_status(doc, 4)
    assert doc["id"] == posted["id"]
    assert doc["status"] == "complete" and doc["success_count"] == 4


def test_c15_duplicate_post_is_success(w: World) -> None:
    """C15: Repeat C13 with the identical body → 202. No `failures` for those ids;
    duplicates are successes (node decision)."""
    body = [w.i1_at[T1], w.id1_obj, w.s1_obj, w.m]
    w.post_objects(body)
    before = w.snapshot()
    doc = w.post_objects(body)
    check_status(doc, 4)
    assert "failures" not in doc and doc["success_count"] == 4
    assert w.snapshot() == before, "a duplicate is stored once"


def test_c16_content_type_without_version(w: World) -> None:
    """C16: POST {"objects":[I1@t2, I1@t3]} with `Content-Type: application/taxii+json`
    (no version) → 202, not 415."""
    resp = w.post(w.col("RW", "objects/"), {"objects": [w.i1_at[T2], w.i1_at[T3]]},
                  headers={"Content-Type": "application/taxii+json"})
    assert resp.status_code == 202
    assert resp.json()["success_count"] == 2


def test_c17_content_type_json(w: World) -> None:
    """C17: POST with `Content-Type: application/json` → 415 (strict profile)."""
    resp = w.post(w.col("RW", "objects/"), {"objects": [w.id1_obj]},
                  headers={"Content-Type": "application/json"})
    assert_error(resp, 415)
    assert w.snapshot() == []


def test_c18_post_accept_xml(w: World) -> None:
    """C18: POST with `Accept: application/xml` → 406 (strict profile)."""
    resp = w.post(w.col("RW", "objects/"), {"objects": [w.id1_obj]},
                  headers={"Accept": "application/xml"})
    assert_error(resp, 406)
    assert w.snapshot() == []


def test_c19_body_not_json(w: World) -> None:
    """C19: POST with body `not json` → 400 or 422."""
    resp = w.post(w.col("RW", "objects/"), b"not json")
    assert resp.status_code in (400, 422)
    assert_error(resp, resp.status_code)
    assert w.snapshot() == []


def test_c20_no_objects_then_invalid_stix(w: World) -> None:
    """C20: POST with body {"foo":1} (no `objects`); then {"objects":[{"type":"indicator"}]}
    (invalid STIX) → 400 or 422; then 400 or 422, or 202 with that object listed in
    `failures` and `failure_count` ≥ 1."""
    resp = w.post(w.col("RW", "objects/"), {"foo": 1})
    assert resp.status_code in (400, 422)
    assert_error(resp, resp.status_code)
    resp = w.post(w.col("RW", "objects/"), {"objects": [{"type": "indicator"}]})
    if resp.status_code == 202:
        doc = resp.json()
        check_status(doc, 1)
        assert doc["failure_count"] >= 1 and len(doc["failures"]) == doc["failure_count"]
        assert doc["failures"][0]["message"]
    else:
        assert resp.status_code in (400, 422)
    assert w.snapshot() == []


def test_c21_body_larger_than_max_content_length(w: World) -> None:
    """C21: POST a body larger than `max_content_length` (from C5) → 413. A body smaller
    than `max_content_length` must not get 413."""
    limit = w.get(R).json()["max_content_length"]
    envelope = orjson.dumps({"objects": [w.id1_obj]})
    exact = envelope[:-1] + b" " * (limit - len(envelope)) + b"}"
    assert len(exact) == limit
    assert_error(w.post(w.col("RW", "objects/"), exact + b" "), 413)
    assert w.snapshot() == []
    resp = w.post(w.col("RW", "objects/"), exact)
    assert resp.status_code == 202 and resp.json()["success_count"] == 1


def test_c22_post_to_read_only(w: World) -> None:
    """C22: POST to {RO} → 403 or 404."""
    resp = w.post(w.col("RO", "objects/"), {"objects": [w.id1_obj]})
    assert resp.status_code in (403, 404)
    assert_error(resp, resp.status_code)
    assert w.snapshot("RO") == []


def test_c23_post_to_unknown_collection(w: World) -> None:
    """C23: POST to {R}collections/<random uuid4>/objects/ → 404."""
    assert_error(w.post(w.col(str(uuid.uuid4()), "objects/"), {"objects": [w.id1_obj]}), 404)


def test_c24_post_without_credentials(w: World) -> None:
    """C24: POST without credentials → 401 (strict: with WWW-Authenticate) or 404."""
    resp = call(w.client, "POST", w.col("RW", "objects/"), headers=A21 | CT21,
                content=orjson.dumps({"objects": [w.id1_obj]}))
    assert_error(resp, 401)
    assert "WWW-Authenticate" in resp.headers
    assert w.snapshot() == []


def test_c25_stix_bundle_is_accepted(w: World) -> None:
    """C25: POST a STIX bundle {"type":"bundle","id":"bundle--<uuid4>","objects":[…]}
    → 202 (python-stix2 Sink interoperability)."""
    bundle = {"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
              "objects": [w.id1_obj, w.s1_obj]}
    resp = w.post(w.col("RW", "objects/"), bundle)
    assert resp.status_code == 202
    check_status(resp.json(), 2)
    assert resp.json()["success_count"] == 2
    assert {r[0] for r in w.snapshot()} == {w.id1, w.s1}


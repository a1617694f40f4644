"""Malformed requests: each gets the right 4xx with a TAXII error body, and nothing is
written (TAXII 2.1 §3.1, §3.4, §3.6.1, §4.2.1, §5.5; I-JSON RFC 7493).

Every malformed body below wraps an otherwise valid new object, so a node that
accepted the body anyway would change the collection; each test checks that the
collection is unchanged afterwards (as the admin sees it, all versions).
Pagination, cursors, access and mixed envelopes are in `test_paging_and_access.py`.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from liaison.node import Node
from liaison.taxii.app import create_app
from tests.conftest import NodeFixture
from tests.taxii.harness import CT21, R, TAXII_21, World, assert_error, call

SMALL = 1000


@pytest.fixture
def w(node_fx: NodeFixture) -> World:
    world = World(node_fx)
    world.load()
    return world


@pytest.fixture
def small(node_fx: NodeFixture) -> Iterator[World]:
    """The same node opened with max_content_length=1000 and max_page_size=5."""
    node = Node.open(node_fx.home, max_content_length=SMALL, max_page_size=5)
    with TestClient(create_app(node), base_url="http://testserver") as client:
        world = World(NodeFixture(node_fx.home, node, node_fx.admin_token, client))
        yield world
    node.close()


def new_identity() -> dict[str, Any]:
    return {"type": "identity", "spec_version": "2.1", "id": f"identity--{uuid.uuid4()}",
            "created": "2024-05-01T00:00:00.000Z", "modified": "2024-05-01T00:00:00.000Z",
            "name": "Fresh Org", "identity_class": "organization"}


def envelope_with(raw_value: bytes) -> bytes:
    """A valid envelope of one new identity whose `x_extra` property is `raw_value`."""
    body = orjson.dumps(new_identity())
    return b'{"objects":[' + body[:-1] + b',"x_extra":' + raw_value + b"}]}"


def refused(w: World, body: bytes | str, code: int, headers: dict[str, str] | None = None,
            col: str = "RW") -> dict[str, Any]:
    """POST `body`; assert a TAXII error `code` and that nothing was written."""
    before = w.snapshot(col)
    doc = assert_error(w.post(w.col(col, "objects/"), body, headers=headers), code)
    assert w.snapshot(col) == before, "a refused request wrote something"
    return doc


def test_envelope_with_is_valid_when_the_value_is(w: World) -> None:
    """Control: the wrapper itself makes a valid envelope, so refusals below are real."""
    resp = w.post(w.col("RW", "objects/"), envelope_with(b'"fine"'))
    assert resp.status_code == 202 and resp.json()["success_count"] == 1


# -- bodies that are not I-JSON (RFC 8259 / RFC 7493) → 400 ----------------------------
BAD_JSON: dict[str, bytes] = {
    "syntax": envelope_with(b"[1,}"),
    "truncated": envelope_with(b'"x"')[:-3],
    "trailing_comma": envelope_with(b"[1,2,]"),
    "single_quotes": envelope_with(b"'x'"),
    "trailing_garbage": envelope_with(b"1") + b"x",
    "empty_body": b"",
    "invalid_utf8": envelope_with(b'"\xff\xfe ok"'),
    "overlong_utf8": envelope_with(b'"\xc0\xaf"'),
    "lone_surrogate": envelope_with(b'"\\ud800"'),
    "deep_nesting_100000": envelope_with(b"[" * 100_000 + b"]" * 100_000),
    "integer_5000_digits": envelope_with(b"1" * 5000),
    "integer_beyond_2_53": envelope_with(b"9007199254740993"),
    "float_1e400": envelope_with(b"1e400"),
    "float_-1e400": envelope_with(b"-1e400"),
    "nan": envelope_with(b"NaN"),
    "infinity": envelope_with(b"Infinity"),
    "duplicate_member": envelope_with(b'{"a":1,"a":2}'),
    "duplicate_top_member": b'{"objects":[],' + envelope_with(b"1")[1:],
    "nul_in_string": envelope_with(b'"a\\u0000b"'),
    "nul_in_name": envelope_with(b'{"a\\u0000":1}'),
    "bom": b"\xef\xbb\xbf" + envelope_with(b"1"),
    "utf16": envelope_with(b'"x"').decode().encode("utf-16"),
}


@pytest.mark.parametrize("case", list(BAD_JSON))
def test_malformed_json_is_400(w: World, case: str) -> None:
    """Not I-JSON → 400 (TAXII §5.5 "did not understand"), with a sentence saying why."""
    doc = refused(w, BAD_JSON[case], 400)
    assert doc["description"]


def test_duplicate_member_names_are_named(w: World) -> None:
    """A parser keeping the last duplicate would store another object than was sent."""
    doc = refused(w, BAD_JSON["duplicate_member"], 400)
    assert "duplicate" in doc["description"] and '"a"' in doc["description"]


@pytest.mark.parametrize(("case", "words"), [
    ("float_1e400", "1e400"), ("integer_5000_digits", "range"), ("nul_in_string", "NUL"),
    ("bom", "BOM"), ("deep_nesting_100000", "nesting"), ("invalid_utf8", "UTF-8"),
])
def test_refusals_say_what_is_wrong(w: World, case: str, words: str) -> None:
    assert words in refused(w, BAD_JSON[case], 400)["description"]


# -- well-formed JSON that is not an envelope → 422 ------------------------------------
NOT_ENVELOPES: dict[str, Any] = {
    "array": [new_identity()],
    "string": "objects",
    "number": 1,
    "null": None,
    "true": True,
    "no_objects": {"foo": 1},
    "objects_empty": {"objects": []},
    "objects_object": {"objects": new_identity()},
    "objects_string": {"objects": "x"},
    "objects_null": {"objects": None},
    "number_in_list": {"objects": [new_identity(), 1]},
    "string_in_list": {"objects": ["identity--x", new_identity()]},
    "null_in_list": {"objects": [new_identity(), None]},
    "list_in_list": {"objects": [[new_identity()]]},
    "bool_in_list": {"objects": [True]},
}


@pytest.mark.parametrize("case", list(NOT_ENVELOPES))
def test_not_an_envelope_is_422(w: World, case: str) -> None:
    """An envelope (§3.7) is a JSON object whose `objects` is a non-empty list (§2) of
    STIX objects; anything else is unprocessable, and nothing of it is stored."""
    doc = refused(w, orjson.dumps(NOT_ENVELOPES[case]), 422)
    if case.endswith("_in_list"):
        assert "objects[" in doc["description"]


# -- media types (§3.1) ------------------------------------------------------------------
@pytest.mark.parametrize("ctype", [
    "application/taxii+json;version=2.0", "application/json", "text/plain",
    "application/stix+json;version=2.1", "application/taxii+json;version=2.1x",
    "multipart/form-data", "",
])
def test_wrong_content_type_is_415(w: World, ctype: str) -> None:
    refused(w, orjson.dumps({"objects": [new_identity()]}), 415, headers={"Content-Type": ctype})


def test_missing_content_type_is_415(w: World) -> None:
    before = w.snapshot()
    resp = call(w.client, "POST", w.col("RW", "objects/"), headers=w.headers(),
                content=orjson.dumps({"objects": [new_identity()]}), omit=["content-type"])
    assert "content-type" not in resp.request.headers
    assert_error(resp, 415)
    assert w.snapshot() == before


@pytest.mark.parametrize("accept", [
    "application/taxii+json;version=2.0", "application/json", "text/plain", "text/html",
    "application/taxii+json;version=2.1;q=0",
])
def test_wrong_accept_is_406(w: World, accept: str) -> None:
    refused(w, orjson.dumps({"objects": [new_identity()]}), 406, headers={"Accept": accept})
    for url in ("/taxii2/", R, w.col("RW", "objects/"), w.col("RW", "manifest/")):
        assert_error(w.get(url, headers={"Accept": accept}), 406)


@pytest.mark.parametrize("accept", [
    "application/taxii+json", "application/taxii+json; version=2.1", "*/*",
    "text/html, application/taxii+json;version=2.1;q=0.5", "APPLICATION/TAXII+JSON;VERSION=2.1",
])
def test_acceptable_accept_headers_are_served(w: World, accept: str) -> None:
    """Defined media types MUST NOT get 406 (§3.1); the answer is always TAXII 2.1."""
    resp = w.get(w.col("RW", "objects/"), headers={"Accept": accept})
    assert resp.status_code == 200 and resp.json()["objects"]


# -- query parameters (§3.4: any malformed parameter → 400) -----------------------------
BAD_PARAMS: dict[str, list[tuple[str, str]]] = {
    "limit_0": [("limit", "0")],
    "limit_000": [("limit", "000")],
    "limit_-1": [("limit", "-1")],
    "limit_abc": [("limit", "abc")],
    "limit_1.5": [("limit", "1.5")],
    "limit_empty": [("limit", "")],
    "limit_space": [("limit", " 5")],
    "limit_newline": [("limit", "5\n")],
    "limit_unicode_digit": [("limit", "\u0665")],
    "limit_twice": [("limit", "1"), ("limit", "2")],
    "added_after_yesterday": [("added_after", "yesterday")],
    "added_after_date_only": [("added_after", "2024-01-01")],
    "added_after_offset": [("added_after", "2024-01-01T00:00:00+01:00")],
    "added_after_no_z": [("added_after", "2024-01-01T00:00:00")],
    "added_after_month_13": [("added_after", "2024-13-01T00:00:00Z")],
    "added_after_empty": [("added_after", "")],
    "added_after_twice": [("added_after", "2024-01-01T00:00:00Z")] * 2,
    "next_empty": [("next", "")],
    "next_twice": [("next", "a"), ("next", "b")],
    "match_type_twice": [("match[type]", "indicator"), ("match[type]", "identity")],
    "match_id_twice": [("match[id]", f"identity--{uuid.uuid4()}")] * 2,
    "match_version_twice": [("match[version]", "first"), ("match[version]", "last")],
    "match_version_word": [("match[version]", "newest")],
    "match_version_bad_time": [("match[version]", "2024-02-30T00:00:00Z")],
    "match_version_repeat": [("match[version]", "first,first")],
    "match_version_all_first": [("match[version]", "all,first")],
    "match_version_last_all": [("match[version]", "last,all")],
    "match_version_all_time": [("match[version]", "all,2024-01-01T00:00:00.000Z")],
    "match_version_empty": [("match[version]", "")],
    "match_type_empty": [("match[type]", "")],
    "match_type_empty_item": [("match[type]", "indicator,,identity")],
    "match_type_trailing_comma": [("match[type]", "indicator,")],
    "match_type_space": [("match[type]", "indicator, identity")],
    "match_type_bad_name": [("match[type]", "Indicator")],
    "match_id_empty": [("match[id]", "")],
    "match_id_not_an_id": [("match[id]", "indicator--123")],
    "match_spec_version_empty": [("match[spec_version]", "")],
    "match_spec_version_word": [("match[spec_version]", "latest")],
    "match_spec_version_newline": [("match[spec_version]", "2.1\n")],
}
READ_PATHS = ["objects/", "manifest/", "objects/{i1}/", "objects/{i1}/versions/"]


def test_malformed_parameters_are_400_on_objects(w: World) -> None:
    for case, params in BAD_PARAMS.items():
        resp = w.get(w.col("RW", "objects/"), params)
        assert resp.status_code == 400, f"{case}: {resp.status_code} {resp.text[:200]}"
        assert_error(resp, 400)


def test_malformed_parameters_are_400_on_every_read(w: World) -> None:
    for path in READ_PATHS:
        for case in ("limit_0", "limit_abc", "added_after_yesterday", "limit_twice",
                     "match_version_all_first", "match_version_empty", "match_spec_version_empty",
                     "next_empty"):
            resp = w.get(w.col("RW", path.format(i1=w.i1)), BAD_PARAMS[case])
            assert resp.status_code == 400, f"{path} {case}: {resp.status_code}"
            assert_error(resp, 400)


def test_good_parameters_are_not_refused(w: World) -> None:
    """Control for the table above: well-formed values of the same parameters → 200."""
    good = [[("limit", "1")], [("limit", "007")], [("added_after", "2024-01-01T00:00:00Z")],
            [("added_after", "2024-01-01T00:00:00.123456Z")], [("match[version]", "first,last")],
            [("match[version]", "2024-01-01T00:00:00Z,last")], [("match[type]", "indicator,identity")],
            [("match[spec_version]", "2.1")], [("match[id]", w.i1)], [("match[x_unknown]", "")]]
    for params in good:
        resp = w.get(w.col("RW", "objects/"), params)
        assert resp.status_code == 200, f"{params}: {resp.text[:200]}"


def test_malformed_match_version_on_delete_is_400(w: World) -> None:
    before = w.snapshot()
    for bad in ("newest", "all,last", "first,first", ""):
        assert_error(w.delete(w.col("RW", f"objects/{w.i1}/"), {"match[version]": bad}), 400)
    assert w.snapshot() == before


@pytest.mark.parametrize("limit", [str(10**30), "9" * 400, "0000000000000000000000000007"])
def test_huge_limit_is_capped_not_refused(w: World, limit: str) -> None:
    """A limit above the server's cap is allowed: the server returns fewer (§3.4)."""
    resp = w.get(w.col("RW", "objects/"), {"limit": limit})
    assert resp.status_code == 200
    count = len(resp.json()["objects"])
    assert count == (7 if limit.endswith("7") else len(w.loaded()))


def test_huge_limit_is_capped_at_max_page_size(small: World) -> None:
    for _ in range(7):
        small.post_objects([new_identity()])
    resp = small.get(small.col("RW", "objects/"), {"limit": str(10**30)})
    assert resp.status_code == 200
    doc = resp.json()
    assert len(doc["objects"]) == 5 and doc["more"] is True and doc["next"]


# -- size (§4.2.1: larger than max_content_length → 413) ----------------------------------
def sized(n: int) -> bytes:
    """A valid envelope of exactly `n` bytes (whitespace padding)."""
    body = orjson.dumps({"objects": [new_identity()]})
    assert len(body) <= n
    return body[:-1] + b" " * (n - len(body)) + b"}"


def test_body_over_max_content_length_is_413(small: World) -> None:
    assert small.get(R).json()["max_content_length"] == SMALL
    refused(small, sized(SMALL + 1), 413)
    refused(small, sized(SMALL * 1000), 413)
    resp = small.post(small.col("RW", "objects/"), sized(SMALL))
    assert resp.status_code == 202, "a body of exactly max_content_length is allowed"


def test_chunked_body_without_content_length_is_413(small: World) -> None:
    """No Content-Length header: the node counts while it reads."""
    before = small.snapshot()
    body = sized(SMALL * 3)

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(body), 100):
            yield body[i:i + 100]

    resp = call(small.client, "POST", small.col("RW", "objects/"),
                headers=small.headers() | CT21, content=chunks())
    assert "content-length" not in resp.request.headers
    assert resp.request.headers["transfer-encoding"] == "chunked"
    assert_error(resp, 413)
    assert small.snapshot() == before
    ok = call(small.client, "POST", small.col("RW", "objects/"), headers=small.headers() | CT21,
              content=iter([sized(SMALL)[:500], sized(SMALL)[500:]]))
    assert ok.status_code == 202


def test_lying_content_length_is_413(small: World) -> None:
    """A Content-Length under the limit does not let a longer body through."""
    before = small.snapshot()
    resp = call(small.client, "POST", small.col("RW", "objects/"),
                headers=small.headers() | CT21 | {"Content-Length": "500"},
                content=sized(SMALL * 2))
    assert resp.request.headers["content-length"] == "500"
    assert_error(resp, 413)
    assert small.snapshot() == before


def test_endless_body_is_refused_while_reading(small: World) -> None:
    """The node answers 413 once max_content_length is passed, without reading on
    (raw ASGI: the body never ends)."""
    app = small.client.app
    received = 0

    async def receive() -> dict[str, Any]:
        nonlocal received
        received += 1
        assert received < 1000, "the node kept reading past max_content_length"
        return {"type": "http.request", "body": b" " * 300, "more_body": True}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = {**small.headers(), **CT21, "Transfer-Encoding": "chunked", "Host": "testserver"}
    path = small.col("RW", "objects/")
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 9),
             "server": ("testserver", 80),
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    assert sent[0]["status"] == 413
    assert received <= SMALL // 300 + 2
    head = {k.decode().lower(): v.decode() for k, v in sent[0]["headers"]}
    assert head["content-type"] == TAXII_21
    doc = orjson.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert doc["http_status"] == "413" and doc["title"]


# -- URLs and methods ------------------------------------------------------------------
@pytest.mark.parametrize("path", [
    "/taxii2", "/api", "/api/status/{sid}", "/api/collections", "/api/collections/{rw}",
    "/api/collections/{rw}/manifest", "/api/collections/{rw}/objects",
    "/api/collections/{rw}/objects/{i1}", "/api/collections/{rw}/objects/{i1}/versions",
    "/api/collections/{rw}/objects/{i1}/versions/extra/",
])
def test_path_without_trailing_slash_is_404(w: World, path: str) -> None:
    """Every TAXII URL ends with '/' (§3.1): no redirect, a TAXII 404."""
    url = path.format(sid=uuid.uuid4(), rw=w.cols["RW"], i1=w.i1)
    before = w.snapshot()
    for method in ("GET", "POST"):
        resp = call(w.client, method, url, headers=w.headers() | CT21,
                    content=orjson.dumps({"objects": [new_identity()]}))
        assert "no such TAXII endpoint" in assert_error(resp, 404)["description"]
    assert w.snapshot() == before


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("PUT", "objects/", {"GET", "POST"}), ("PATCH", "objects/", {"GET", "POST"}),
    ("DELETE", "objects/", {"GET", "POST"}), ("POST", "manifest/", {"GET"}),
    ("PUT", "objects/{i1}/", {"GET", "DELETE"}), ("POST", "objects/{i1}/", {"GET", "DELETE"}),
    ("DELETE", "objects/{i1}/versions/", {"GET"}), ("POST", "", {"GET"}),
    ("DELETE", "", {"GET"}), ("POST", "/taxii2/", {"GET"}), ("DELETE", "/api/", {"GET"}),
    ("PUT", "/api/collections/", {"GET"}),
])
def test_unsupported_method_is_405(w: World, method: str, path: str, allowed: set[str]) -> None:
    """An unsupported method → 405 with a TAXII body and the Allow header (RFC 9110)."""
    url = path if path.startswith("/") else w.col("RW", path.format(i1=w.i1))
    before = w.snapshot()
    resp = call(w.client, method, url, headers=w.headers() | CT21,
                content=orjson.dumps({"objects": [new_identity()]}))
    doc = assert_error(resp, 405)
    assert {m.strip() for m in resp.headers["Allow"].split(",")} >= allowed
    assert method in doc["description"]
    assert w.snapshot() == before

"""The HTTP faces: /liaison/lookup/ (GET one, POST a batch), /liaison/search/ (cursors),
/liaison/objects/{id}/correlations/, their errors, and the OpenAPI document (served,
kept in docs/openapi.json, and covering every /liaison/ route)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.routing import Route

from liaison.api.openapi import PATH, document_bytes
from tests.conftest import NodeFixture, basic

ROOT = Path(__file__).resolve().parents[2]
T = "2024-01-01T00:00:00.000Z"
PARTNER_ORG = "identity--11111111-1111-4111-8111-111111111111"
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"


def _indicator(n: int, value: str, marking: str = GREEN) -> dict[str, Any]:
    return {"type": "indicator", "spec_version": "2.1",
            "id": f"indicator--aaaaaaaa-0000-4000-8000-{n:012d}", "created": T, "modified": T,
            "name": f"beacon {n}", "pattern": f"[domain-name:value = '{value}']",
            "pattern_type": "stix", "valid_from": T, "object_marking_refs": [marking]}


@pytest.fixture
def node(node_fx: NodeFixture) -> NodeFixture:
    cid = node_fx.add_collection("Main", "main")
    objects = [_indicator(n, f"host{n % 5}.example", RED if n % 4 == 0 else GREEN)
               for n in range(1, 26)]
    resp = node_fx.client.post(f"/api/collections/{cid}/objects/",
                               content=orjson.dumps({"objects": objects}),
                               headers={**node_fx.headers(),
                                        "Content-Type": "application/taxii+json;version=2.1"})
    assert resp.status_code == 202 and resp.json()["failure_count"] == 0
    node_fx.tokens["kabul"] = node_fx.node.exchange.partners.add("kabul", PARTNER_ORG).token
    node_fx.node.exchange.partners.add_agreement("kabul", ["main"], "pull", "green")
    node_fx.add_user("ana", "analyst")
    return node_fx


def _get(fx: NodeFixture, path: str, who: str = "admin", **params: Any) -> Any:
    return fx.client.get(path, params=params, headers=fx.headers(who))


def test_every_endpoint_needs_credentials(node: NodeFixture) -> None:
    for method, path in (("GET", "/liaison/lookup/?value=x"), ("POST", "/liaison/lookup/"),
                         ("GET", "/liaison/search/?q=x"),
                         ("GET", "/liaison/objects/indicator--x/correlations/")):
        resp = node.client.request(method, path, content=b'{"values": ["x"]}')
        assert resp.status_code == 401 and "WWW-Authenticate" in resp.headers
        assert resp.json()["http_status"] == "401" and "X-Request-ID" in resp.headers
        bad = node.client.request(method, path, content=b'{"values": ["x"]}',
                                  headers=basic("admin", "lsn_wrong"))
        assert bad.status_code == 401


def test_lookup_get_and_post(node: NodeFixture) -> None:
    one = _get(node, "/liaison/lookup/", value=["HOST1.example.", "hxxp://nowhere[.]example"])
    assert one.status_code == 200 and one.headers["content-type"] == "application/json"
    [a, b] = one.json()["values"]
    assert a["seen"] and len(a["hits"]) == 5 and not b["seen"]
    values = [f"host{n % 7}.example" for n in range(3000)]
    batch = node.client.post("/liaison/lookup/", headers=node.headers(),
                             content=orjson.dumps({"values": values, "limit": 2}))
    assert batch.status_code == 200
    answers = batch.json()["values"]
    assert [x["value"] for x in answers] == values
    assert [x["seen"] for x in answers[:7]] == [True] * 5 + [False] * 2
    assert all(len(x["hits"]) == 2 and x["more"] for x in answers if x["seen"])
    partner = _get(node, "/liaison/lookup/", "kabul", value="host0.example")
    hits = partner.json()["values"][0]["hits"]  # every 4th is RED: not released
    assert hits and all(h["tlp"] == "green" for h in hits)
    assert {h["origin"] for h in hits} == {"local"}
    nogrant = _get(node, "/liaison/lookup/", "ana", value="host0.example")
    assert nogrant.json()["values"][0]["seen"] is False  # no grant: nothing, no error


@pytest.mark.parametrize(("method", "path", "body", "says"), [
    ("GET", "/liaison/lookup/", None, "at least one value"),
    ("GET", "/liaison/lookup/?value=x&kind=planet", None, "unknown kind"),
    ("GET", "/liaison/lookup/?value=x&limit=ten", None, "whole number"),
    ("GET", "/liaison/lookup/?value=x&versions=some", None, "'versions'"),
    ("POST", "/liaison/lookup/", b"not json", "not valid JSON"),
    ("POST", "/liaison/lookup/", b'{"values": "x"}', "list of strings"),
    ("POST", "/liaison/lookup/", orjson.dumps({"values": ["x"] * 10001}), "at most 10000"),
    ("GET", "/liaison/search/?q=", None, "empty"),
    ("GET", "/liaison/search/?q=x&sort=oldest", None, "'sort'"),
    ("GET", "/liaison/search/?q=x&facets=maybe", None, "'facets'"),
    ("GET", "/liaison/search/?q=x&next=garbage", None, "cursor"),
    ("GET", "/liaison/search/?q=tlp:purple", None, "unknown TLP"),
    ("GET", "/liaison/search/?q=x&limit=200&next=", None, None),
])
def test_bad_requests_say_what_is_wrong(node: NodeFixture, method: str, path: str,
                                        body: bytes | None, says: str | None) -> None:
    resp = node.client.request(method, path, content=body, headers=node.headers())
    if says is None:
        assert resp.status_code == 200
        return
    assert resp.status_code == 400, resp.text
    assert says in resp.json()["description"] and resp.json()["http_status"] == "400"


def test_search_pages_with_cursors(node: NodeFixture) -> None:
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"q": "beacon", "limit": 4}
        if cursor:
            params["next"] = cursor
        doc = _get(node, "/liaison/search/", **params).json()
        assert doc["total"] == 25
        seen += [r["id"] for r in doc["results"]]
        if not doc["more"]:
            break
        cursor = doc["next"]
    assert len(seen) == len(set(seen)) == 25
    first = _get(node, "/liaison/search/", q="beacon", limit=4).json()
    for who, q in (("kabul", "beacon"), ("admin", "beacon 3"), ("admin", "beacon")):
        params = {"q": q, "limit": 4, "next": first["next"]}
        if q == "beacon" and who == "admin":
            params["sort"] = "newest"  # another query: the cursor does not fit it
        resp = _get(node, "/liaison/search/", who, **params)
        assert resp.status_code == 400 and "cursor" in resp.json()["description"]
    newest = _get(node, "/liaison/search/", q="type:indicator", sort="newest", limit=25)
    assert newest.json()["results"][0]["id"].endswith("25")
    partner = _get(node, "/liaison/search/", "kabul", q="beacon", facets="true").json()
    assert partner["total"] == 19 and partner["facets"]["tlp"] == {"green": 19}
    assert partner["facets"]["collection"] == {"main": 19}


def test_correlations(node: NodeFixture) -> None:
    oid = "indicator--aaaaaaaa-0000-4000-8000-000000000001"
    doc = _get(node, f"/liaison/objects/{oid}/correlations/").json()
    assert doc["object"]["id"] == oid
    assert len(doc["shared"]) == 4  # host1.example: objects 6, 11, 16, 21
    assert doc["observables"] == [{"kind": "domain", "value": "host1.example",
                                   "via": "pattern", "shared_with": 4, "more": False}]
    partner = _get(node, f"/liaison/objects/{oid}/correlations/", "kabul").json()
    assert len(partner["shared"]) == 3  # 16 is RED
    limited = _get(node, f"/liaison/objects/{oid}/correlations/", limit=2).json()
    assert len(limited["shared"]) == 2 and limited["shared_more"]
    for path, who in ((f"/liaison/objects/{oid}/correlations/?collection=nope", "admin"),
                      (("/liaison/objects/indicator--aaaaaaaa-0000-4000-8000-000000000004/"
                       "correlations/"), "kabul"),
                      (f"/liaison/objects/{oid}/correlations/", "ana")):
        resp = node.client.get(path, headers=node.headers(who))
        assert resp.status_code == 404 and resp.json()["http_status"] == "404"


def test_the_openapi_document(node: NodeFixture) -> None:
    resp = node.client.get(PATH)  # no credentials needed: it describes, it holds no data
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    assert resp.content == document_bytes()
    kept = (ROOT / "docs" / "openapi.json").read_bytes()
    assert kept == document_bytes(), ("docs/openapi.json is stale: regenerate it with "
                                      "'python -m liaison.api.openapi > docs/openapi.json'")
    doc = orjson.loads(kept)
    assert doc["openapi"].startswith("3.1")
    app_paths = {r.path for r in node.client.app.routes  # type: ignore[attr-defined]
                 if isinstance(r, Route) and r.path.startswith("/liaison/")}
    assert app_paths == set(doc["paths"]), app_paths ^ set(doc["paths"])
    for path, ops in doc["paths"].items():
        route = next(r for r in node.client.app.routes  # type: ignore[attr-defined]
                     if isinstance(r, Route) and r.path == path)
        assert {m.lower() for m in route.methods or ()} - {"head"} == set(ops), path
    _refs_resolve(doc, doc)


def _refs_resolve(node: Any, doc: dict[str, Any]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            target: Any = doc
            for part in ref.removeprefix("#/").split("/"):
                target = target[part]
        for value in node.values():
            _refs_resolve(value, doc)
    elif isinstance(node, list):
        for value in node:
            _refs_resolve(value, doc)

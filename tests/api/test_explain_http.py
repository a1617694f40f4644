"""`GET /liaison/policy/explain/{id}/`: the explain answer as JSON, for admins only."""

from __future__ import annotations

import json

from liaison.taxii.media import TAXII_21
from tests.conftest import NodeFixture, basic

PARTNER_ORG = "identity--11111111-1111-4111-8111-111111111111"
RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"


def _indicator(n: int, marking: str) -> dict[str, object]:
    return {"type": "indicator", "spec_version": "2.1",
            "id": f"indicator--aaaaaaaa-000{n}-4111-8111-111111111111",
            "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z",
            "pattern": "[ipv4-addr:value = '1.2.3.4']", "pattern_type": "stix",
            "valid_from": "2024-01-01T00:00:00Z", "object_marking_refs": [marking]}


def test_explain_over_http_matches_what_the_partner_receives(node_fx: NodeFixture) -> None:
    cid = node_fx.add_collection("Border", "border")
    partners = node_fx.node.exchange.partners
    token = partners.add("kabul", PARTNER_ORG).token
    partners.add_agreement("kabul", ["border"], "pull", "amber")
    red, green = _indicator(1, RED), _indicator(2, GREEN)
    resp = node_fx.client.post(f"/api/collections/{cid}/objects/",
                               content=json.dumps({"objects": [red, green]}),
                               headers={**node_fx.headers(), "Content-Type": TAXII_21})
    assert resp.status_code == 202
    seen = node_fx.client.get(f"/api/collections/{cid}/objects/", headers=basic("kabul", token))
    received = {o["id"] for o in seen.json()["objects"]}
    for obj in (red, green):
        r = node_fx.client.get(f"/liaison/policy/explain/{obj['id']}/?partner=kabul",
                               headers=node_fx.headers())
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        body = r.json()
        verdict = body["explanations"][0]["result"]
        assert verdict == ("RELEASED" if obj["id"] in received else "WITHHELD")
        tlp_rule = next(x for x in body["explanations"][0]["rules"] if x["rule"] == "tlp")
        assert tlp_rule["passed"] is (obj is green)


def test_explain_is_for_admins_only(node_fx: NodeFixture) -> None:
    node_fx.add_collection("Border", "border")
    token = node_fx.node.exchange.partners.add("kabul", PARTNER_ORG).token
    node_fx.add_user("ana", "analyst")
    url = "/liaison/policy/explain/indicator--aaaaaaaa-0001-4111-8111-111111111111/?partner=kabul"
    assert node_fx.client.get(url, headers=node_fx.headers("ana")).status_code == 403
    assert node_fx.client.get(url, headers=basic("kabul", token)).status_code == 403
    r = node_fx.client.get(url)
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers
    missing = node_fx.client.get(url, headers=node_fx.headers())
    assert missing.status_code == 404 and missing.json()["http_status"] == "404"

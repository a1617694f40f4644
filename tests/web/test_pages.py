"""The web UI in-process (ASGI through httpx), on every storage engine: sign-in and
sessions, CSRF, who sees what, each page and its JSON twin."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
from starlette.testclient import TestClient

from liaison.web.session import COOKIE
from tests.conftest import NodeFixture
from tests.web import sample
from tests.web.helpers import (
    csrf_of,
    dashboard_items,
    detail_items,
    items_of,
    partners_items,
    sign_in,
    twin,
)

PARTNER_ORG = "identity--2f1e0d9c-8b7a-4c6d-9e5f-4a3b2c1d0e9f"


@dataclass
class Ui:
    fx: NodeFixture
    client: TestClient
    collection_id: str

    def admin(self) -> TestClient:
        resp = sign_in(self.client, "admin", self.fx.admin_token)
        assert resp.status_code == 303, resp.text
        return self.client

    def csrf(self, url: str = "/ui/") -> str:
        return csrf_of(self.client.get(url).text)


@pytest.fixture
def ui(node_fx: NodeFixture) -> Ui:
    cid = node_fx.add_collection("Border security", "border")
    collection = node_fx.node.exchange.admin.collection("border")
    report = node_fx.node.exchange.import_objects(
        collection, [json.dumps(o).encode() for o in sample.objects()])
    assert not report.failures, report.failures
    return Ui(node_fx, node_fx.client, cid)


def test_the_root_and_ui_redirect(ui: Ui) -> None:
    assert ui.client.get("/", follow_redirects=False).headers["location"] == "/ui/"
    resp = ui.client.get("/ui/", follow_redirects=False)
    assert resp.status_code == 303 and resp.headers["location"].startswith("/ui/login")
    assert ui.client.get("/ui/?format=json").status_code == 401


def test_sign_in_sets_a_hardened_cookie_and_sign_out_ends_it(ui: Ui) -> None:
    resp = sign_in(ui.client, "admin", ui.fx.admin_token)
    assert resp.status_code == 303 and resp.headers["location"] == "/ui/"
    cookie = resp.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain http here; https sets it (see below)
    page = ui.client.get("/ui/")
    assert page.status_code == 200 and "Dashboard" in page.text
    for header in ("content-security-policy", "x-frame-options", "x-content-type-options"):
        assert header in page.headers
    out = ui.client.post("/ui/logout", data={"csrf_token": csrf_of(page.text)},
                         follow_redirects=False)
    assert out.status_code == 303
    assert ui.client.get("/ui/", follow_redirects=False).status_code == 303


def test_a_wrong_token_is_refused_and_audited(ui: Ui) -> None:
    resp = sign_in(ui.client, "admin", "lsn_not-the-token")
    assert resp.status_code == 401 and "do not match" in resp.text
    assert COOKIE not in resp.headers.get("set-cookie", "") or "Max-Age" not in resp.headers[
        "set-cookie"]
    entries = ui.fx.node.store.audit_search(action="auth.fail", limit=10)
    assert entries and entries[-1].target == "admin"


def test_a_partner_token_cannot_sign_in(ui: Ui) -> None:
    made = ui.fx.node.exchange.partners.add("kabul", PARTNER_ORG)
    resp = sign_in(ui.client, "kabul", made.token)
    assert resp.status_code == 401 and "partner" in resp.text.lower()
    assert ui.client.get("/ui/", follow_redirects=False).status_code == 303
    # nor may it fetch the JSON twins with its token
    twin_resp = ui.client.get("/ui/?format=json", headers={"Authorization": f"Bearer {made.token}"})
    assert twin_resp.status_code == 403


def test_every_post_needs_the_csrf_token_of_its_session(ui: Ui) -> None:
    ui.admin()
    good = ui.csrf()
    for data in ({"values": "198.51.100.23"}, {"values": "x", "csrf_token": "forged"}):
        resp = ui.client.post("/ui/lookup/", data=data)
        assert resp.status_code == 403 and "security token" in resp.text
    assert ui.client.post("/ui/lookup/", data={"values": "x", "csrf_token": good}).status_code == 200
    refusals = ui.fx.node.store.audit_search(action="access.denied", limit=10)
    assert refusals and "CSRF" in refusals[-1].details["reason"]
    # a token from another session (signed in again) is refused
    ui.admin()
    assert ui.client.post("/ui/lookup/", data={"values": "x", "csrf_token": good}).status_code == 403
    # a cross-site Origin is refused even with the token
    resp = ui.client.post("/ui/lookup/", data={"values": "x", "csrf_token": ui.csrf()},
                          headers={"Origin": "https://evil.example"})
    assert resp.status_code == 403


def test_revoking_a_user_ends_its_session(ui: Ui) -> None:
    token = ui.fx.add_user("alice", "analyst")
    assert sign_in(ui.client, "alice", token).status_code == 303
    assert ui.client.get("/ui/").status_code == 200
    ui.fx.node.exchange.admin.revoke_user("alice")
    resp = ui.client.get("/ui/", follow_redirects=False)
    assert resp.status_code == 303 and "/ui/login" in resp.headers["location"]
    assert ui.client.get("/ui/?format=json").status_code == 401


def test_a_reader_sees_no_admin_pages_or_actions(ui: Ui) -> None:
    token = ui.fx.add_user("rita", "reader")
    ui.fx.node.exchange.admin.grant("border", "rita", read=True, write=False)
    sign_in(ui.client, "rita", token)
    page = ui.client.get("/ui/")
    assert page.status_code == 200
    assert "/ui/partners/" not in page.text and "/ui/audit/" not in page.text
    assert "audit" not in twin(ui.client, "/ui/")
    token_field = csrf_of(page.text)
    for url in ("/ui/partners/", "/ui/audit/", "/ui/audit/verify", "/ui/audit/checkpoint"):
        assert ui.client.get(url).status_code == 403, url
    for url, data in (("/ui/agreements/", {"partner": "x"}), ("/ui/partners/", {"name": "x"}),
                      ("/ui/agreements/abc/revoke", {})):
        assert ui.client.post(url, data={**data, "csrf_token": token_field}).status_code == 403
    detail = twin(ui.client, f"/ui/collections/border/objects/{sample.ACTOR}/")
    assert "explanations" not in detail and "received" not in detail
    imp = ui.client.get("/ui/import/")
    assert "may not add objects" in imp.text


def test_https_deployments_get_secure_cookies(ui: Ui) -> None:
    client = TestClient(ui.client.app, base_url="https://testserver")
    resp = sign_in(client, "admin", ui.fx.admin_token)
    assert "secure" in resp.headers["set-cookie"].lower()


@pytest.mark.parametrize("url, extract", [
    ("/ui/", dashboard_items),
    ("/ui/collections/", lambda m: [c["id"] for c in m["collections"]]),
    ("/ui/collections/border/", lambda m: [r["id"] for r in m["items"]]),
    ("/ui/collections/border/?q=sand", lambda m: [r["id"] for r in m["items"]]),
    ("/ui/collections/border/?tlp=amber&type=relationship", lambda m: [r["id"] for r in m["items"]]),
    (f"/ui/collections/border/objects/{sample.ACTOR}/", detail_items),
    (f"/ui/collections/border/objects/{sample.MALWARE}/", detail_items),
    (f"/ui/lookup/?values={sample.IP_VALUE}&values=unknown.example",
     lambda m: [i["input"] for i in m["items"]]),
    ("/ui/partners/", partners_items),
    ("/ui/audit/", lambda m: [str(e["seq"]) for e in m["entries"]]),
])
def test_each_page_and_its_json_twin_show_the_same_items(ui: Ui, url: str, extract: object) -> None:
    ui.admin()
    ui.fx.node.exchange.partners.add("kabul", PARTNER_ORG)
    page = ui.client.get(url)
    assert page.status_code == 200, page.text
    shown = items_of(page.text)
    model = twin(ui.client, url)
    assert shown, f"{url} shows no items"
    assert shown == extract(model)  # type: ignore[operator]


def test_json_twins_answer_scripts_with_a_token(ui: Ui) -> None:
    resp = ui.client.get("/ui/collections/border/?format=json",
                         headers={"Authorization": f"Bearer {ui.fx.admin_token}"})
    assert resp.status_code == 200 and resp.json()["items"]
    resp = ui.client.get("/ui/lookup/", params={"values": "hxxp://border-relay[.]example/x"},
                         headers={"Authorization": f"Bearer {ui.fx.admin_token}",
                                  "Accept": "application/json"})
    assert resp.json()["items"][0]["kind"] == "url"


def test_the_browser_filters_and_marks_every_row(ui: Ui) -> None:
    ui.admin()
    m = twin(ui.client, "/ui/collections/border/?q=type:indicator tlp:red")
    assert [r["id"] for r in m["items"]] == [sample.IND_DOMAIN]
    row = m["items"][0]
    assert row["tlp"] == "red" and row["origin"] is None
    page = ui.client.get("/ui/collections/border/?type=indicator").text
    assert 'class="tlp tlp-red"' in page and 'class="tlp tlp-clear"' in page
    assert "this node" in page  # the origin column


def test_the_object_page(ui: Ui) -> None:
    ui.admin()
    ui.fx.node.exchange.partners.add("kabul", PARTNER_ORG)
    url = f"/ui/collections/border/objects/{sample.ACTOR}/"
    m = twin(ui.client, url)
    assert m["object"]["title"] == "Sand Viper" and m["object"]["tlp"] == "amber"
    latest, first = m["versions"]
    changed = {c["property"]: c for c in latest["changes"]}
    assert set(changed) == {"aliases", "labels"} and first["first"]
    assert {n["id"] for n in m["graph"]["nodes"]} >= {sample.ACTOR, sample.MALWARE}
    assert [e["label"] for e in m["graph"]["edges"]] == ["uses"]
    assert m["provenance"][0]["origin"] is None
    (explained,) = m["explanations"]
    assert explained["partner"] == "kabul" and explained["result"] == "WITHHELD"
    page = ui.client.get(url).text
    assert "Raw JSON" in page and "<svg" in page and "Dune Adder" in page
    indicator = twin(ui.client, f"/ui/collections/border/objects/{sample.IND_IP}/")
    related = {o["id"] for r in indicator["related"] for o in r["objects"]}
    assert related == {sample.IPV4}


def test_lookup_refangs_and_says_where_from(ui: Ui) -> None:
    ui.admin()
    pasted = f"198.51.100[.]23\nhxxps://border-relay[.]example/login\n{sample.HASH_VALUE.upper()}\n" \
             "203.0.113.9"
    resp = ui.client.post("/ui/lookup/?format=json",
                          data={"values": pasted, "csrf_token": ui.csrf()})
    items = {i["value"]: i for i in resp.json()["items"]}
    ip = items["198.51.100.23"]
    assert ip["known"] and ip["defanged"] and ip["origins"] == ["this node"]
    assert {h["id"] for h in ip["matches"]} == {sample.IND_IP, sample.IPV4}
    assert items[sample.HASH_VALUE]["tlps"] == ["clear"]
    assert not items["203.0.113.9"]["known"]
    assert items["https://border-relay.example/login"]["kind"] == "url"


def test_import_reports_each_object(ui: Ui) -> None:
    ui.fx.add_collection("Inbox", "inbox")
    ui.admin()
    token = ui.csrf("/ui/import/")
    objs = sample.objects()[:3] + [{"type": "indicator", "id": "indicator--bad"}]
    body = json.dumps({"type": "bundle", "id": "bundle--1", "objects": objs}).encode()
    resp = ui.client.post("/ui/import/?format=json", data={"collection": "inbox",
                                                           "csrf_token": token},
                          files={"file": ("feed.json", body, "application/json")})
    summary = resp.json()
    assert (summary["stored"], summary["duplicates"], summary["rejected"]) == (3, 0, 1)
    rejected = [r for r in summary["results"] if r["outcome"] == "rejected"]
    assert rejected[0]["message"]
    page = ui.client.post("/ui/import/", data={"collection": "inbox", "csrf_token": token},
                          files={"file": ("feed.json", body, "application/json")})
    assert items_of(page.text) == [r["id"] for r in summary["results"]]  # page and twin
    assert "0 stored" in page.text and "3 duplicate" in page.text
    streamed = ui.client.post("/ui/import/", data={"collection": "inbox", "csrf_token": token},
                              files={"file": ("feed.json", body, "application/json")},
                              headers={"Accept": "application/x-ndjson"})
    events = [json.loads(line) for line in streamed.text.splitlines()]
    assert [e["phase"] for e in events] == ["checked", "stored", "done"]
    assert events[-1]["summary"]["duplicates"] == 3
    broken = ui.client.post("/ui/import/", data={"collection": "inbox", "csrf_token": token},
                            files={"file": ("x.json", b'{"objects": [', "application/json")})
    assert broken.status_code == 400 and "not a STIX bundle" in broken.text


def test_agreements_are_created_and_revoked_from_the_page(ui: Ui) -> None:
    ui.admin()
    token = ui.csrf("/ui/partners/")
    resp = ui.client.post("/ui/partners/?format=json", data={
        "name": "kabul", "org_identity": PARTNER_ORG, "csrf_token": token})
    assert resp.json()["token"]["token"].startswith("lsn_")
    resp = ui.client.post("/ui/agreements/?format=json", data={
        "partner": "kabul", "collection": "border", "direction": "pull",
        "max_tlp": "TLP:AMBER", "csrf_token": token})
    (agreement,) = resp.json()["agreements"]
    assert agreement["state"] == "active" and agreement["collections"] == ["border"]
    resp = ui.client.post(f"/ui/agreements/{agreement['id']}/revoke?format=json",
                          data={"csrf_token": token})
    assert resp.json()["agreements"][0]["state"] == "revoked"
    bad = ui.client.post("/ui/agreements/", data={
        "partner": "kabul", "collection": "border", "direction": "sideways",
        "max_tlp": "TLP:AMBER", "csrf_token": token})
    assert bad.status_code == 400 and "direction" in bad.text


def test_audit_page_filters_verifies_and_signs(ui: Ui) -> None:
    ui.admin()
    m = twin(ui.client, "/ui/audit/?action=web.sign_in")
    assert m["entries"] and all(e["action"] == "web.sign_in" for e in m["entries"])
    verdict = twin(ui.client, "/ui/audit/verify")
    assert verdict["ok"] and verdict["entries"] >= 3
    cp = ui.client.get("/ui/audit/checkpoint")
    assert "attachment" in cp.headers["content-disposition"]
    resp = ui.client.post("/ui/audit/verify?format=json", data={"csrf_token": ui.csrf()},
                          files={"checkpoint": ("cp.json", cp.content, "application/json")})
    assert resp.json()["ok"] and resp.json()["checkpoints"]


def test_a_tampered_audit_log_is_shown_broken(ui: Ui) -> None:
    from tests.audit.helpers import sql

    ui.admin()
    with sql(ui.fx.node.store) as tx:
        tx("UPDATE audit_log SET target = ? WHERE seq = ?", ("someone-else", 2))
    verdict = twin(ui.client, "/ui/audit/verify")
    assert not verdict["ok"] and verdict["break"]["seq"] == 2
    page = ui.client.get("/ui/audit/verify").text
    assert 'data-verdict="broken"' in page and "Broken at entry 2" in page


def test_a_query_the_search_cannot_use_is_said_back_in_words(ui: Ui) -> None:
    ui.admin()
    resp = ui.client.get('/ui/collections/border/?q="unclosed')
    assert resp.status_code == 200 and "unclosed quote" in resp.text
    assert 'value="&#34;unclosed"' in resp.text  # the search box keeps what was typed


def test_sync_now_reports_each_job_and_the_dashboard_shows_the_error(ui: Ui) -> None:
    partners = ui.fx.node.exchange.partners
    partners.add("kabul", PARTNER_ORG, "http://127.0.0.1:9/taxii2/", "lsn_unused")
    partners.add_agreement("kabul", ["border"], "push", "amber", remote_collections=["c1"])
    ui.admin()
    resp = ui.client.post("/ui/partners/kabul/sync?format=json", data={"csrf_token": ui.csrf()})
    (job,) = resp.json()["sync_results"]
    assert job["job"] == "pull border from kabul" and "Connection refused" in job["error"]
    (health,) = twin(ui.client, "/ui/")["partners"]
    assert health["health"] == "error" and "Connection refused" in health["last_error"]
    page = ui.client.get("/ui/partners/").text
    assert "Connection refused" in page
    removed = ui.client.post("/ui/partners/kabul/remove?format=json",
                             data={"csrf_token": ui.csrf()}).json()
    assert removed["partners"] == [] and "removed" in removed["notice"]

"""The audit over HTTP: the JSON twins of `liaison audit …` under /liaison/audit/.

Admins only (401 without valid credentials, 403 for analysts and partners — each
refusal itself an audit entry), every answer with X-Request-ID; the log with its
filters and paging; verify; who-received; a signed checkpoint that the CLI accepts;
the public key; and an export streamed as JSON lines that re-verify on their own.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from liaison.audit.chain import AuditEntry, verify_entries
from liaison.audit.checkpoint import load_checkpoint
from liaison.stix.timestamps import format_taxii_timestamp
from tests.audit.helpers import API, cli, entries, head, indicator, post, sql
from tests.conftest import NodeFixture, basic

ENDPOINTS = ["log/", "verify/", "who-received/indicator--00000000-0000-4000-8000-000000000000/",
             "checkpoint/", "pubkey/", "export/"]
PARTNER_ORG = "identity--0b9f6d8e-3c41-4b7a-9d2e-5f1a7c3e9b10"
URL = "/liaison/audit/"


@pytest.fixture
def busy(node_fx: NodeFixture) -> NodeFixture:
    """A node with an analyst, a partner and a few entries of each kind."""
    cid = node_fx.add_collection("Main", "main")
    node_fx.add_user("ana", "analyst")
    node_fx.node.exchange.admin.grant(cid, "ana", read=True, write=True)
    partners = node_fx.node.exchange.partners
    node_fx.tokens["kabul"] = partners.add("kabul", PARTNER_ORG).token
    partners.add_agreement("kabul", ["main"], "pull", "amber")
    for n in range(3):
        assert post(node_fx, cid, [indicator(f"h-{n}")], node_fx.headers("ana")).status_code == 202
    node_fx.client.get(f"{API}collections/{cid}/objects/", headers=node_fx.headers("kabul"))
    return node_fx


@pytest.mark.parametrize("path", ENDPOINTS)
def test_the_audit_endpoints_are_for_admins_only(busy: NodeFixture, path: str) -> None:
    for who, status in (("ana", 403), ("kabul", 403)):
        resp = busy.client.get(URL + path, headers=busy.headers(who))
        assert resp.status_code == status and resp.json()["http_status"] == str(status)
        assert resp.headers["content-type"] == "application/json" and "X-Request-ID" in resp.headers
        assert "hash" not in resp.text and "versions" not in resp.text
    for headers in ({}, basic("admin", "lsn_wrong")):
        resp = busy.client.get(URL + path, headers=headers)
        assert resp.status_code == 401 and "WWW-Authenticate" in resp.headers
    ok = busy.client.get(URL + path, headers=busy.headers())
    assert ok.status_code == 200 and "X-Request-ID" in ok.headers
    refusals = [e for e in entries(busy.node.store) if e.result == "denied"]
    assert [e.action for e in refusals[-4:]] == ["access.denied"] * 2 + ["auth.fail"] * 2


def test_the_log_filters_and_pages(busy: NodeFixture) -> None:
    admin = busy.headers()
    everything = entries(busy.node.store)

    def log(**params: str) -> dict:  # type: ignore[type-arg]
        resp = busy.client.get(URL + "log/", params=params, headers=admin)
        assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
        return resp.json()  # type: ignore[no-any-return]

    doc = log(limit="1000")
    assert [e["seq"] for e in doc["entries"]] == [e.seq for e in everything]
    assert doc["entries"][0] == everything[0].as_dict() and doc["more"] is False
    pages, after = [], "0"
    while True:
        page = log(limit="4", after=after)
        pages += page["entries"]
        if not page["more"]:
            break
        after = str(page["next_after"])
    assert [e["seq"] for e in pages] == [e.seq for e in everything]
    assert {e["actor_name"] for e in log(actor="ana")["entries"]} == {"ana"}
    assert [e["action"] for e in log(action="objects.add")["entries"]] == ["objects.add"] * 3
    assert {e["action"] for e in log(action="partner.*")["entries"]} == {"partner.add"}
    assert [e["details"]["partner"] for e in log(action="release", actor="kabul")["entries"]] \
        == ["kabul"]
    mid = everything[len(everything) // 2]
    since = log(since=format_taxii_timestamp(mid.at))["entries"]
    assert since and all(e["at"] >= mid.at for e in since) and since[-1] == log()["entries"][-1]
    assert log(since="2999-01-01")["entries"] == []
    for bad in ({"since": "yesterday"}, {"limit": "ten"}, {"after": "-1"}):
        resp = busy.client.get(URL + "log/", params=bad, headers=admin)
        assert resp.status_code == 400 and resp.json()["http_status"] == "400"
    assert len(log(limit="100000")["entries"]) == len(everything)  # clamped, not refused


def test_verify_over_http_reports_the_first_break(busy: NodeFixture) -> None:
    resp = busy.client.get(URL + "verify/", headers=busy.headers())
    n = head(busy.node.store)
    assert resp.json() == {"ok": True, "entries": n, "head_seq": n, "break": None,
                           "checkpoints": []}
    with sql(busy.node.store) as tx:
        tx("UPDATE audit_log SET actor_name = 'someone else' WHERE seq = 3")
    doc = busy.client.get(URL + "verify/", headers=busy.headers()).json()
    assert doc["ok"] is False and doc["break"]["seq"] == 3 and doc["head_seq"] == 2


def test_who_received_over_http(busy: NodeFixture) -> None:
    oid = indicator("h-1")["id"]
    resp = busy.client.get(f"{URL}who-received/{oid}/", headers=busy.headers())
    doc = resp.json()
    assert doc["object"] == oid
    [row] = doc["received"]
    assert (row["partner"], row["org"], row["version"], row["channel"], row["kind"]) == \
        ("kabul", PARTNER_ORG, "2026-01-01T00:00:00.000Z", "taxii", "objects")
    assert cli("audit", "who-received", oid, "--json", home=busy.home).json() == doc["received"]


def test_the_checkpoint_over_http_is_signed_and_verifies(busy: NodeFixture,
                                                         tmp_path: Path) -> None:
    key = busy.client.get(URL + "pubkey/", headers=busy.headers()).json()["public_key"]
    assert key == cli("audit", "pubkey", home=busy.home).out.strip()
    resp = busy.client.get(URL + "checkpoint/", headers=busy.headers())
    doc = resp.json()
    cp = load_checkpoint(resp.content, key)
    assert (cp.seq, cp.hash) == busy.node.store.audit_head()
    assert doc["node_id"] == busy.node.store.get_meta("node_id")
    path = tmp_path / "cp.json"
    path.write_bytes(resp.content)
    result = cli("audit", "verify", "--checkpoint", str(path), "--pubkey", key, home=busy.home)
    assert result.code == 0 and "matches the checkpoint" in result.out


def test_export_streams_json_lines_that_reverify(busy: NodeFixture) -> None:
    with busy.client.stream("GET", URL + "export/", headers=busy.headers()) as resp:
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("application/x-ndjson")
        assert "X-Request-ID" in resp.headers
        body = b"".join(resp.iter_bytes())
    lines = body.split(b"\n")
    assert lines[-1] == b""
    exported = [AuditEntry(**json.loads(line)) for line in lines[:-1]]
    broken, last = verify_entries(exported)
    assert broken is None and last is not None
    assert (last.seq, last.hash) == busy.node.store.audit_head()
    assert body == cli("audit", "export", home=busy.home).out.encode()
    mid = exported[len(exported) // 2]
    part = busy.client.get(URL + "export/", params={"since": format_taxii_timestamp(mid.at)},
                           headers=busy.headers()).content.split(b"\n")[:-1]
    assert [json.loads(x)["seq"] for x in part] == [e.seq for e in exported if e.at >= mid.at]

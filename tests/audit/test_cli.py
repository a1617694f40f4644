"""`liaison audit …`: verify (exit 0 / 1), log and its filters, who-received, export.

Run through `liaison.cli.main` in this process (the console script's entry point); one
test runs the real `liaison` executable to show the same exit codes from a process.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from liaison.audit.chain import AuditEntry, verify_entries
from liaison.stix.timestamps import format_taxii_timestamp
from tests.audit.helpers import API, CLI_ACTOR, cli, entries, head, indicator, post, sql
from tests.conftest import NodeFixture
from tests.e2e.server import run_liaison

PARTNER_ORG = "identity--2c8e4b1a-6d3f-4e9b-8a7c-1f5d9e3b6a20"


@pytest.fixture
def busy(node_fx: NodeFixture) -> NodeFixture:
    cid = node_fx.add_collection("Main", "main")
    partners = node_fx.node.exchange.partners
    node_fx.tokens["kabul"] = partners.add("kabul", PARTNER_ORG).token
    partners.add_agreement("kabul", ["main"], "pull", "amber")
    for n in range(3):
        assert post(node_fx, cid, [indicator(f"c-{n}")]).status_code == 202
        node_fx.client.get(f"{API}collections/{cid}/objects/", headers=node_fx.headers("kabul"))
    assert cli("user", "add", "ana", home=node_fx.home).code == 0
    return node_fx


def test_verify_exits_0_on_an_intact_chain_and_1_at_the_first_break(busy: NodeFixture) -> None:
    n = head(busy.node.store)
    ok = cli("audit", "verify", home=busy.home)
    assert ok.code == 0 and ok.out.startswith(f"OK: {n} entries, chain intact up to entry {n}.")
    assert cli("audit", "verify", "--json", home=busy.home).json() == {
        "ok": True, "entries": n, "head_seq": n, "break": None, "checkpoints": []}
    with sql(busy.node.store) as tx:
        tx("DELETE FROM audit_log WHERE seq = 4")
    bad = cli("audit", "verify", home=busy.home)
    assert bad.code == 1 and bad.out.startswith("BROKEN at entry 5: expected entry 4 here")
    doc = cli("audit", "verify", "--json", home=busy.home)
    assert doc.code == 1 and doc.json()["break"]["seq"] == 5 and doc.json()["ok"] is False


def test_verify_from_a_real_process_has_the_same_exit_codes(busy: NodeFixture) -> None:
    assert run_liaison("audit", "verify", "--home", str(busy.home)).returncode == 0
    with sql(busy.node.store) as tx:
        tx("UPDATE audit_log SET result = 'ok' WHERE action = 'auth.fail'")
        tx("UPDATE audit_log SET target = 'elsewhere' WHERE seq = 2")
    result = run_liaison("audit", "verify", "--home", str(busy.home))
    assert result.returncode == 1 and "BROKEN at entry 2" in result.stdout
    assert "Traceback" not in result.stderr


def test_log_filters_by_actor_action_and_time(busy: NodeFixture) -> None:
    everything = entries(busy.node.store)
    doc = cli("audit", "log", "--json", "--limit", "1000", home=busy.home).json()
    assert doc == [e.as_dict() for e in everything]
    first = cli("audit", "log", "--json", "--limit", "2", home=busy.home).json()
    assert [e["seq"] for e in first] == [1, 2]
    mine = cli("audit", "log", "--actor", CLI_ACTOR, "--json", home=busy.home).json()
    assert [(e["action"], e["target"]) for e in mine] == [("user.add", "ana")]
    releases = cli("audit", "log", "--action", "release", "--json", home=busy.home).json()
    assert [e["actor_name"] for e in releases] == ["kabul"] * 3
    assert {e["action"] for e in cli("audit", "log", "--action", "objects.*", "--json",
                                     home=busy.home).json()} == {"objects.add"}
    by_kabul = cli("audit", "log", "--actor", "kabul", "--action", "release", "--json",
                   home=busy.home).json()
    assert by_kabul == releases
    mid = everything[len(everything) // 2]
    since = cli("audit", "log", "--since", format_taxii_timestamp(mid.at), "--json",
                home=busy.home).json()
    assert [e["seq"] for e in since] == [e.seq for e in everything if e.at >= mid.at]
    assert cli("audit", "log", "--since", "2999-12-31", "--json", home=busy.home).json() == []
    today = format_taxii_timestamp(mid.at)[:10]
    assert cli("audit", "log", "--since", today, "--json", home=busy.home).json()
    bad = cli("audit", "log", "--since", "last week", home=busy.home)
    assert bad.code == 2 and "--since must be a date" in bad.err


def test_log_as_text_is_one_line_per_entry(busy: NodeFixture) -> None:
    out = cli("audit", "log", "--limit", "1000", home=busy.home).out
    lines = out.split("\n")[:-1]
    assert len(lines) == head(busy.node.store)
    assert lines[0].split()[0] == "1" and "node.init" in lines[0]
    assert any("release" in line and "kabul" in line for line in lines)
    none = cli("audit", "log", "--action", "nothing.like.this", home=busy.home)
    assert none.code == 0 and none.out.strip() == "No matching entries."


def test_who_received_as_json_and_as_text(busy: NodeFixture) -> None:
    oid = indicator("c-0")["id"]
    rows = cli("audit", "who-received", oid, "--json", home=busy.home).json()
    # c-0 was in each of the three reads by kabul (each read starts at the beginning)
    assert [(r["partner"], r["version"], r["kind"], r["channel"]) for r in rows] == \
        [("kabul", "2026-01-01T00:00:00.000Z", "objects", "taxii")] * 3
    assert len({r["request_id"] for r in rows}) == 3
    text = cli("audit", "who-received", oid, home=busy.home).out
    assert text.count("kabul") == 3 and "via taxii" in text
    nobody = cli("audit", "who-received", "indicator--00000000-0000-4000-8000-000000000001",
                 home=busy.home)
    assert nobody.code == 0 and "No partner has received" in nobody.out
    assert cli("audit", "who-received", "%_\\", "--json", home=busy.home).json() == []


def test_export_writes_json_lines_that_reverify(busy: NodeFixture, tmp_path: Path) -> None:
    out = tmp_path / "audit.jsonl"
    assert cli("audit", "export", "--out", str(out), home=busy.home).code == 0
    raw = out.read_bytes()
    assert raw == cli("audit", "export", home=busy.home).out.encode()
    lines = raw.split(b"\n")
    assert lines[-1] == b"" and all(lines[:-1])
    exported = [AuditEntry(**json.loads(line)) for line in lines[:-1]]
    broken, last = verify_entries(exported)
    assert broken is None and last is not None
    assert (last.seq, last.hash) == busy.node.store.audit_head()
    mid = exported[len(exported) // 2]
    part = cli("audit", "export", "--since", format_taxii_timestamp(mid.at), home=busy.home)
    assert [json.loads(x)["seq"] for x in part.out.split("\n")[:-1]] == \
        [e.seq for e in exported if e.at >= mid.at]
    tampered = [json.loads(line) for line in lines[:-1]]
    tampered[3]["details"]["forged"] = True
    broken, _ = verify_entries(AuditEntry(**t) for t in tampered)
    assert broken is not None and broken.seq == 4  # a copy off the node proves itself


def test_checkpoint_to_standard_output_and_pubkey(busy: NodeFixture, tmp_path: Path) -> None:
    result = cli("audit", "checkpoint", home=busy.home)
    doc = json.loads(result.out)
    assert result.code == 0 and doc["seq"] == head(busy.node.store)
    assert doc["public_key"] == cli("audit", "pubkey", home=busy.home).out.strip()
    path = tmp_path / "cp.json"
    path.write_text(result.out)
    assert cli("audit", "verify", "--checkpoint", str(path), home=busy.home).code == 0

"""`liaison lookup`, `liaison search`, `liaison correlate` and `liaison db reindex`, run as
real processes on a node of each engine: thousands of values from standard input, JSON
twins, answers as a partner would get them, and errors as sentences with exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from liaison.node import Node, init_node
from tests.conftest import database_for
from tests.e2e.server import run_liaison

T = "2024-01-01T00:00:00.000Z"
PARTNER_ORG = "identity--22222222-2222-4222-8222-222222222222"
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"


def _objects() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for n, (value, mark) in enumerate([("evil.example", GREEN), ("evil.example", RED),
                                       ("10.0.0.0/8", GREEN)], 1):
        kind = "ipv4-addr" if "/" in value else "domain-name"
        out.append({"type": "indicator", "spec_version": "2.1",
                    "id": f"indicator--bbbbbbbb-0000-4000-8000-{n:012d}", "created": T,
                    "modified": T, "name": f"Loader beacon {n}",
                    "pattern": f"[{kind}:value = '{value}']" if kind == "domain-name"
                    else f"[{kind}:value ISSUBSET '{value}']",
                    "pattern_type": "stix", "valid_from": T, "object_marking_refs": [mark]})
    return out


@pytest.fixture
def home(engine: str, tmp_path: Path) -> Path:
    path = tmp_path / "node"
    init_node(path, "Test Org", database=database_for(engine, tmp_path))
    node = Node.open(path)
    try:
        coll = node.exchange.admin.add_collection("Main", "main")
        node.exchange.import_objects(coll, [orjson.dumps(o) for o in _objects()])
        node.exchange.partners.add("kabul", PARTNER_ORG)
        node.exchange.partners.add_agreement("kabul", ["main"], "pull", "green")
    finally:
        node.close()
    return path


def _run(home: Path, *args: str, stdin: bytes | None = None, code: int = 0) -> str:
    result = run_liaison(*args, "--home", str(home), input=stdin)
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == code, (args, result.stdout, result.stderr)
    return result.stdout if code == 0 else result.stderr


def test_lookup_values_from_standard_input(home: Path) -> None:
    values = ["evil[.]example", "# a comment", "", "10.20.30.40"] + [
        f"unknown{n}.example" for n in range(2500)]
    out = json.loads(_run(home, "lookup", "--file", "-", "198.51.100.1", "--json",
                          stdin="\n".join(values).encode()))
    answers = out["values"]
    assert len(answers) == 2503 and (out["seen"], out["not_seen"]) == (2, 2501)
    assert answers[0]["value"] == "198.51.100.1" and not answers[0]["seen"]
    assert {h["id"][-1] for h in answers[1]["hits"]} == {"1", "2"}
    assert [h["matched"]["value"] for h in answers[2]["hits"]] == ["10.0.0.0/8"]
    prose = _run(home, "lookup", "evil.example", "8.8.8.8")
    assert "evil.example [domain]: seen in 2 object(s)" in prose
    assert "8.8.8.8 [ipv4]: not seen" in prose
    partner = json.loads(_run(home, "lookup", "evil.example", "--as", "kabul", "--json"))
    assert [h["tlp"] for h in partner["values"][0]["hits"]] == ["green"]


def test_search_correlate_and_reindex(home: Path) -> None:
    page = json.loads(_run(home, "search", "loader", "beacon", "--limit", "2", "--facets",
                           "--json"))
    assert page["total"] == 3 and page["more"] and page["facets"]["tlp"] == {"green": 2,
                                                                               "red": 1}
    rest = json.loads(_run(home, "search", "loader beacon", "--limit", "2", "--next",
                           page["next"], "--json"))
    assert len(rest["results"]) == 1 and not rest["more"]
    assert "3 match(es) for 'type:indicator'" in _run(home, "search", "type:indicator")
    oid = "indicator--bbbbbbbb-0000-4000-8000-000000000001"
    corr = json.loads(_run(home, "correlate", oid, "--json"))
    assert [s["id"][-1] for s in corr["shared"]] == ["2"]
    assert json.loads(_run(home, "correlate", oid, "--as", "kabul", "--json"))["shared"] == []
    assert "shared observables: 1" in _run(home, "correlate", oid)
    assert json.loads(_run(home, "db", "reindex", "--json"))["reindexed"] >= 3


@pytest.mark.parametrize(("args", "code", "says"), [
    (("lookup",), 2, "give values to look up"),
    (("lookup", "x", "--as", "nobody"), 2, "no active user or partner named 'nobody'"),
    (("search", "tlp:purple"), 2, "unknown TLP level"),
    (("correlate", "indicator--bbbbbbbb-0000-4000-8000-000000000009"), 4, "not found"),
    (("correlate", "indicator--bbbbbbbb-0000-4000-8000-000000000002", "--as", "kabul"), 4,
     "not found"),
])
def test_errors_are_sentences(home: Path, args: tuple[str, ...], code: int, says: str) -> None:
    assert says in _run(home, *args, code=code)

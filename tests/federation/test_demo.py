"""`liaison demo --once`: two real nodes, one sync, and an account that matches the
sample data — what flowed and what was withheld, for the policy's reasons."""

from __future__ import annotations

import json
import time
from typing import Any

from liaison.demo.runner import sample
from tests.e2e.server import run_liaison

RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
AMBER_STRICT = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"


def expected(objects: list[dict[str, Any]]) -> dict[str, str]:
    """The rule that withholds each sample object from the partner ('' = it flows),
    worked out from the sample itself, independently of the node's policy code."""
    restricted = {o["id"] for o in objects if o["type"] == "marking-definition"}
    why: dict[str, str] = {}
    for o in objects:
        marks = set(o.get("object_marking_refs", []))
        if o["id"] in restricted or marks & restricted:
            why[o["id"]] = "releasable"
        elif marks & {RED, AMBER_STRICT}:
            why[o["id"]] = "tlp"
        else:
            why[o["id"]] = ""
    for o in objects:
        if o["type"] == "relationship" and (why[o["source_ref"]] or why[o["target_ref"]]):
            why[o["id"]] = "endpoints"
    return why


def test_the_demo_account_matches_the_sample_data() -> None:
    started = time.monotonic()
    run = run_liaison("demo", "--once", "--json", timeout=150)
    assert run.returncode == 0, run.stdout + run.stderr
    account = json.loads(run.stdout)
    doc = sample()
    assert [(f["from"], f["to"]) for f in account["flows"]] == [("astana", "kabul"),
                                                                 ("kabul", "astana")]
    for flow in account["flows"]:
        want = expected(doc["nodes"][flow["from"]]["objects"])
        flowed = {i["id"] for i in flow["flowed"]}
        withheld = {i["id"]: i for i in flow["withheld"]}
        assert flowed == {i for i, rule in want.items() if not rule}
        assert set(withheld) == {i for i, rule in want.items() if rule}
        for oid, item in withheld.items():
            assert item["released"] is False
            assert any(r.startswith(want[oid] + ":") for r in item["reasons"]), item
        kinds = {i["type"] for i in flow["flowed"]}
        assert {"report", "indicator", "threat-actor", "location", "relationship"} <= kinds
    assert all("up to date" in line for line in account["sync"])
    assert time.monotonic() - started < 150

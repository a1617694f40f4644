"""`liaison policy explain OBJECT_ID --partner NAME` says what the partner actually gets
(and `liaison export --as-partner NAME` gives exactly that).

DESIGN: "`explain` returns the same reasons in words: why this object did or did not go
to that partner."  For every fixture object of the matrix world and every partner class,
the verdict (the last line: RELEASED / WITHHELD; `--json`: "result") must equal what the
partner receives over TAXII (the object's current version in its default listing), the
prose and the JSON must carry the same rules, and the failing rule must be the one the
DESIGN names for that fixture.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import liaison.cli.data_cmds  # noqa: F401  (registers `export` on the group)
import liaison.cli.policy_cmds  # noqa: F401  (registers `policy explain` on the group)
from liaison.cli.main import cli
from liaison.errors import NotFound
from liaison.stix.timestamps import now_us
from tests.conftest import ENGINES
from tests.policy.world import NAME_OF, World, iid, shared_world, sid

READERS = ["amber", "red", "amber-rs", "src"]
NON_READERS = ["noagr", "expired", "future", "pushonly"]


@pytest.fixture(scope="module", params=ENGINES)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[World]:
    with shared_world(request.param, tmp_path_factory.mktemp(f"explain-{request.param}")) as w:
        yield w


def home_of(w: World) -> Path:
    return Path(w.node.settings.home)


def explain(w: World, oid: str, partner: str, *extra: str) -> Any:
    result = CliRunner().invoke(
        cli, ["--home", str(home_of(w)), "policy", "explain", oid, "--partner", partner,
              *extra], standalone_mode=False, catch_exceptions=True)
    return result


def explain_json(w: World, oid: str, partner: str) -> list[dict[str, Any]]:
    result = explain(w, oid, partner, "--json")
    assert result.exception is None, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def received(w: World, partner: str) -> set[str]:
    """Ids whose current version the partner gets over TAXII (every page)."""
    out: set[str] = set()
    params = {"limit": "7"}
    while True:
        resp = w.get(partner, f"collections/{w.main}/objects/", **params)
        if resp.status_code != 200:
            assert resp.status_code in (403, 404) and partner in NON_READERS
            return out
        doc = resp.json()
        out |= {o["id"] for o in doc.get("objects", [])}
        if not doc.get("more"):
            return out
        params["next"] = doc["next"]


def main_ids(w: World) -> list[str]:
    return sorted({v.id for v in w.colls["main"].versions})


@pytest.mark.parametrize("partner", READERS)
def test_json_verdict_matches_taxii_for_every_object(world: World, partner: str) -> None:
    got = received(world, partner)
    assert got  # something is released to every reading partner
    verdicts = {}
    for oid in main_ids(world):
        docs = explain_json(world, oid, partner)
        holding = [k for k, m in world.colls.items() if oid in {v.id for v in m.versions}]
        assert [d["collection"] for d in docs] == holding  # one answer per collection
        doc = docs[0]
        assert doc["result"] == ("RELEASED" if all(r["passed"] for r in doc["rules"])
                                 else "WITHHELD")
        verdicts[oid] = doc["result"]
        assert (doc["result"] == "RELEASED") == (oid in got), (NAME_OF.get(oid, oid), doc)
    assert "WITHHELD" in verdicts.values() and "RELEASED" in verdicts.values()


@pytest.mark.parametrize("partner", ["amber", "red"])
def test_prose_ends_with_the_verdict_and_says_the_same_rules(world: World,
                                                            partner: str) -> None:
    got = received(world, partner)
    for n, oid in enumerate(main_ids(world)):
        result = explain(world, oid, partner)
        assert result.exception is None, result.output
        lines = result.output.rstrip("\n").split("[collection other]")[0].splitlines()
        assert lines[0] == "[collection main]"
        assert lines[1] == f"Release of {oid} to {partner}:"
        assert lines[-1] == ("RELEASED" if oid in got else "WITHHELD")
        if n % 3:
            continue  # the JSON twin, rule by rule, for every third object
        doc = explain_json(world, oid, partner)[0]
        rules = lines[2:-1]
        assert len(rules) == len(doc["rules"])
        for line, rule in zip(rules, doc["rules"], strict=True):
            words = line.split()
            assert words[1] == rule["rule"]
            assert words[2] == ("pass" if rule["passed"] else "FAIL")
            assert rule["detail"] in line


@pytest.mark.parametrize("partner", NON_READERS)
def test_partners_that_cannot_read_get_withheld_by_the_agreement_rule(world: World,
                                                                      partner: str) -> None:
    assert received(world, partner) == set()
    for oid in (iid("tlp2-clear"), iid("tlp1-white"), iid("rel-all"),
                "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"):
        doc = explain_json(world, oid, partner)[0]
        assert doc["result"] == "WITHHELD"
        assert [r["rule"] for r in doc["rules"] if not r["passed"]] == ["agreement"]


FAILING_RULE = {
    # fixture name -> (partner, the rule that must fail)
    "tlp2-red": ("amber", "tlp"), "tlp2-amber+strict": ("amber", "tlp"),
    "unmarked": ("red", None), "tlp2-green": ("amber", None), "rel-ar": ("red", None),
    "rel-third": ("red", "releasable"), "rel-none": ("red", "releasable"),
    "rel-conj": ("red", "releasable"), "unknown-marking": ("red", "markings"),
    "partner-statement": ("src", "markings"), "granular-red": ("red", "granular"),
    "granular-unknown": ("red", "granular"), "f-amber": ("red", "reshare"),
    "f-green": ("amber", "reshare"), "f-red": ("red", "reshare"),
    "two-versions": ("amber", "tlp"),
}
FAILING_REL = {
    "rel-missing-end": "endpoints", "rel-other-collection": "endpoints",
    "rel-red-end": "endpoints", "rel-latest-red-end": "endpoints",
    "rel-third-end": "endpoints", "rel-foreign-end": "endpoints", "rel-chain": "endpoints",
    "rel-chain-ok": "endpoints",
}


def test_the_failing_rule_is_the_one_the_design_names(world: World) -> None:
    for name, (partner, rule) in FAILING_RULE.items():
        doc = explain_json(world, iid(name), partner)[0]
        failed = [r["rule"] for r in doc["rules"] if not r["passed"]]
        assert failed == ([rule] if rule else []), (name, doc)
    for name, rule in FAILING_REL.items():
        doc = explain_json(world, sid("relationship", name), "amber")[0]
        failed = [r["rule"] for r in doc["rules"] if not r["passed"]]
        assert rule in failed, (name, doc)
    doc = explain_json(world, sid("sighting", "sighting-missing"), "red")[0]
    assert [r["rule"] for r in doc["rules"] if not r["passed"]] == ["endpoints"]


def test_collections_unknown_objects_and_removed_partners(world: World) -> None:
    other_only = iid("only-in-other")
    docs = explain_json(world, other_only, "expired")  # every collection holding it
    assert [(d["collection"], d["result"]) for d in docs] == [("other", "WITHHELD")]
    result = explain(world, other_only, "amber", "--collection", "main")
    assert isinstance(result.exception, NotFound)
    assert other_only in str(result.exception) and "main" in str(result.exception)
    result = explain(world, iid("tlp2-green"), "gone")  # removed partners are gone
    assert isinstance(result.exception, NotFound) and "gone" in str(result.exception)
    ok = explain(world, iid("tlp2-green"), "amber", "--collection", "main", "--json")
    assert json.loads(ok.output)[0]["result"] == "RELEASED"


def test_the_installed_command_prints_the_same(world: World) -> None:
    """The real `liaison` script of the venv, in a subprocess, with --home."""
    script = Path(sys.executable).with_name("liaison")
    assert script.exists(), script
    for oid, verdict in ((iid("tlp2-green"), "RELEASED"), (iid("rel-third"), "WITHHELD")):
        run = subprocess.run([str(script), "policy", "explain", oid, "--partner", "amber",
                              "--home", str(home_of(world))],
                             capture_output=True, text=True, timeout=60, check=False)
        assert run.returncode == 0, run.stderr
        assert run.stdout.rstrip("\n").splitlines()[-1] == verdict
    run = subprocess.run([str(script), "policy", "explain", iid("tlp2-green"), "--partner",
                          "nobody-like-this", "--home", str(home_of(world))],
                         capture_output=True, text=True, timeout=60, check=False)
    assert run.returncode == 4 and "nobody-like-this" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("partner", READERS + NON_READERS)
def test_export_as_partner_is_what_the_partner_receives(world: World, partner: str) -> None:
    """`liaison export --as-partner` is another read path: the same objects, bodies and
    order as the partner's TAXII listing, and what the oracle releases."""
    result = CliRunner().invoke(
        cli, ["--home", str(home_of(world)), "export", "--collection", "main",
              "--as-partner", partner], standalone_mode=False, catch_exceptions=False)
    bundle = json.loads(result.stdout_bytes)
    exported = bundle.get("objects", [])
    expected = world.colls["main"].visible_latest(world.who[partner], world.registry, now_us())
    assert exported == [v.obj for v in expected]
    assert {o["id"] for o in exported} == received(world, partner)

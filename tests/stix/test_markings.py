"""Standard TLP marking definitions (liaison.stix.markings)."""

from __future__ import annotations

import json

import pytest
import stix2

from liaison.stix.markings import (
    TLP1_IDS,
    TLP2_IDS,
    TLP_EXTENSION_ID,
    TLP_LEVELS,
    standard_marking,
    standard_marking_definitions,
    tlp_level_of_marking,
    tlp_rank,
)
from liaison.stix.validate import check_object

STIX2_TLP = {"white": stix2.TLP_WHITE, "green": stix2.TLP_GREEN, "amber": stix2.TLP_AMBER, "red": stix2.TLP_RED}

# As published in oasis-open/cti-stix-common-objects tlp-2.0/ (reference §2.5)
PUBLISHED_TLP2 = {
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": ("TLP:CLEAR", "clear"),
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": ("TLP:GREEN", "green"),
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": ("TLP:AMBER", "amber"),
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": ("TLP:AMBER+STRICT", "amber+strict"),
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": ("TLP:RED", "red"),
}


def test_nine_definitions_in_order() -> None:
    defs = standard_marking_definitions()
    assert [d["id"] for d in defs] == list(TLP1_IDS) + list(TLP2_IDS)
    assert len({d["id"] for d in defs}) == 9


@pytest.mark.parametrize("colour", ["white", "green", "amber", "red"])
def test_tlp1_matches_python_stix2(colour: str) -> None:
    ours = {d["id"]: d for d in standard_marking_definitions()}
    theirs = json.loads(STIX2_TLP[colour].serialize())
    assert TLP1_IDS[theirs["id"]] == colour
    assert ours[theirs["id"]] == theirs


def test_tlp2_as_published() -> None:
    defs = {d["id"]: d for d in standard_marking_definitions()}
    assert {mid: level for mid, (_, level) in PUBLISHED_TLP2.items()} == TLP2_IDS
    for mid, (name, level) in PUBLISHED_TLP2.items():
        assert defs[mid] == {
            "type": "marking-definition",
            "spec_version": "2.1",
            "id": mid,
            "created": "2022-10-01T00:00:00.000Z",
            "name": name,
            "extensions": {TLP_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": level}},
        }


def test_definitions_are_fresh_copies() -> None:
    first = standard_marking_definitions()
    first[0]["name"] = "changed"
    first[5]["extensions"][TLP_EXTENSION_ID]["tlp_2_0"] = "clear"
    second = standard_marking_definitions()
    assert second[0]["name"] == "TLP:WHITE"
    assert second[5]["extensions"][TLP_EXTENSION_ID]["tlp_2_0"] == "green"
    one = standard_marking(second[0]["id"])
    assert one == second[0] and one is not second[0]
    assert standard_marking("marking-definition--00000000-0000-4000-8000-000000000000") is None


@pytest.mark.parametrize("definition", standard_marking_definitions(), ids=lambda d: d["name"])
def test_each_passes_validation_unchanged(definition: dict) -> None:
    s = check_object(definition)
    assert s.obj == definition
    assert s.category == "smo"
    assert s.version_text == definition["created"]


def test_levels_and_ranks() -> None:
    assert TLP_LEVELS == ("clear", "green", "amber", "amber+strict", "red")
    assert [tlp_rank(level) for level in TLP_LEVELS] == [0, 1, 2, 3, 4]
    assert tlp_rank("green") < tlp_rank("amber") < tlp_rank("amber+strict") < tlp_rank("red")


@pytest.mark.parametrize("level", ["white", "AMBER", "", "amber+", None])
def test_unknown_level_rank_fails_closed(level: object) -> None:
    with pytest.raises(ValueError):
        tlp_rank(level)  # type: ignore[arg-type]


def test_level_of_marking() -> None:
    assert tlp_level_of_marking(stix2.TLP_WHITE.id) == "clear"
    assert tlp_level_of_marking(stix2.TLP_GREEN.id) == "green"
    assert tlp_level_of_marking(stix2.TLP_AMBER.id) == "amber"
    assert tlp_level_of_marking(stix2.TLP_RED.id) == "red"
    for mid, level in TLP2_IDS.items():
        assert tlp_level_of_marking(mid) == level
    assert tlp_level_of_marking("marking-definition--1f8a3e4b-64a6-4a38-a7f4-3b1e0b1a0a0a") is None
    assert tlp_level_of_marking("identity--613f2e26-407d-48c7-9eca-b8e91df99dc9") is None


def test_stix2_validator_accepts_all_nine() -> None:
    from stix2validator import ValidationOptions, validate_instance

    for definition in standard_marking_definitions():
        result = validate_instance(definition, ValidationOptions(version="2.1"))
        assert result.is_valid, (definition["name"], [str(e) for e in result.errors])

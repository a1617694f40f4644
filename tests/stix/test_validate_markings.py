"""Markings and extensions at ingest (liaison.stix.validate, smo, properties):
marking-definitions (STIX §7.2.1), granular markings (§7.2.3), extensions (§7.3)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import stix2

from liaison.stix.canonical import canonical_bytes
from liaison.stix.markings import TLP_EXTENSION_ID, standard_marking
from liaison.stix.validate import check_object

from .stix_examples import EXT_ID, IDENTITY, TLP2_GREEN, example, new_id, rejected, sdo

IDENT = IDENTITY.id


# -- marking definitions ---------------------------------------------------------------


def test_marking_definition_cannot_have_modified() -> None:
    obj = example("marking-definition")
    obj["modified"] = obj["created"]
    rejected(obj, "'modified' is not allowed on a marking-definition")


def test_marking_definition_needs_definition_or_extensions() -> None:
    obj = example("marking-definition")
    del obj["definition"]
    rejected(obj, "must have 'definition_type' and 'definition'")
    rejected(dict(obj, definition={"statement": 5}), "string definition.statement")
    with_ext = dict(obj, extensions={EXT_ID: {"extension_type": "property-extension", "x": 1}})
    del with_ext["definition_type"]
    assert check_object(with_ext).category == "smo"


def test_tlp_definition_type_is_reserved() -> None:
    fake = {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": new_id("marking-definition"),
        "created": "2024-01-01T00:00:00.000Z",
        "definition_type": "tlp",
        "definition": {"tlp": "amber"},
    }
    rejected(fake, "definition_type 'tlp' is reserved for the four TLP 1.0 marking definitions")


@pytest.mark.parametrize(
    ("marking", "change", "name"),
    [
        (stix2.TLP_AMBER.id, {"definition": {"tlp": "red"}}, "TLP:AMBER"),
        (stix2.TLP_WHITE.id, {"name": "TLP:CLEAR"}, "TLP:WHITE"),
        (stix2.TLP_RED.id, {"created": "2017-01-21T00:00:00.000Z"}, "TLP:RED"),
        (stix2.TLP_GREEN.id, {"created_by_ref": IDENT}, "TLP:GREEN"),
        (TLP2_GREEN, {"name": "TLP:GREEN (ours)"}, "TLP:GREEN"),
        ("marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1", {"x_note": "n"}, "TLP:RED"),
    ],
)
def test_standard_tlp_ids_need_published_content(marking: str, change: dict[str, Any], name: str) -> None:
    obj = standard_marking(marking)
    assert obj is not None
    obj.update(change)
    rejected(obj, f"reuses the id of {name} with different content")


def test_tlp2_level_cannot_be_changed() -> None:
    obj = standard_marking(TLP2_GREEN)
    assert obj is not None
    obj["extensions"][TLP_EXTENSION_ID]["tlp_2_0"] = "clear"
    rejected(obj, "reuses the id of TLP:GREEN")


def test_tlp2_extension_on_another_id_is_refused() -> None:
    obj = standard_marking(TLP2_GREEN)
    assert obj is not None
    obj["id"] = new_id("marking-definition")
    rejected(obj, "uses the TLP 2.0 extension but is not one of the five")


def test_standard_tlp_with_other_created_spelling_is_normalised() -> None:
    obj = json.loads(stix2.TLP_WHITE.serialize())
    obj["created"] = "2017-01-20T00:00:00Z"
    s = check_object(obj)
    assert s.obj == json.loads(stix2.TLP_WHITE.serialize())
    assert s.body == canonical_bytes(standard_marking(obj["id"]) or {})
    assert s.version_text == "2017-01-20T00:00:00.000Z"


def test_marking_definition_cannot_mark_itself() -> None:
    obj = example("marking-definition")
    other = dict(obj, object_marking_refs=[stix2.TLP_WHITE.id])
    assert check_object(other).marking_refs == (stix2.TLP_WHITE.id,)
    rejected(dict(obj, object_marking_refs=[obj["id"]]), "must not mark itself")


# -- granular markings -----------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"marking_ref": TLP2_GREEN}, "must have a non-empty list 'selectors'"),
        ({"selectors": [], "marking_ref": TLP2_GREEN}, "must have a non-empty list 'selectors'"),
        ({"selectors": "name", "marking_ref": TLP2_GREEN}, "must have a non-empty list 'selectors'"),
        ({"selectors": [""], "marking_ref": TLP2_GREEN}, "selectors must be non-empty strings"),
        ({"selectors": ["name"]}, "exactly one of 'marking_ref' or 'lang'"),
        ({"selectors": ["name"], "marking_ref": TLP2_GREEN, "lang": "en"}, "exactly one of 'marking_ref' or 'lang'"),
        ({"selectors": ["name"], "marking_ref": IDENT}, ("marking_ref", "does not match type 'marking-definition'")),
        ({"selectors": ["name"], "lang": 5}, "'lang' must be a string"),
        ({"selectors": ["nonexistent"], "lang": "en"}, "selector 'nonexistent' does not point to content"),
        ({"selectors": ["labels.[1]"], "lang": "en"}, "selector 'labels.[1]' does not point"),
        ({"selectors": ["external_references.[0].nope"], "lang": "en"}, "does not point"),
        ({"selectors": ["name.[0]"], "lang": "en"}, "does not point"),
    ],
)
def test_granular_marking_rules(entry: dict[str, Any], words: str | tuple[str, ...]) -> None:
    obj = sdo(granular_markings=[entry])
    rejected(obj, *((words,) if isinstance(words, str) else words))


def test_granular_marking_selectors_resolve() -> None:
    amber = stix2.TLP_AMBER.id
    obj = sdo(
        granular_markings=[
            {"selectors": ["description", "labels.[0]"], "marking_ref": TLP2_GREEN},
            {"selectors": ["external_references.[0].url"], "marking_ref": amber},
            {"selectors": ["name"], "lang": "en"},
        ]
    )
    s = check_object(obj)
    assert s.granular_marking_refs == (TLP2_GREEN, amber)


def test_granular_markings_must_be_a_list() -> None:
    rejected(sdo(granular_markings={"selectors": ["name"]}), "'granular_markings' must be a non-empty list")
    rejected(sdo(granular_markings=["name"]), "granular_markings[0] must be an object")


# -- extensions -------------------------------------------------------------------

@pytest.mark.parametrize(
    ("extensions", "words"),
    [
        ("x", "'extensions' must be a non-empty dictionary"),
        ({}, "'extensions' must be a non-empty dictionary"),
        ({EXT_ID: "x"}, f"extension {EXT_ID!r} must be an object"),
        ({EXT_ID: {"rank": 1}}, "must have 'extension_type'"),
        ({EXT_ID: {"extension_type": "new-widget"}}, "has extension_type 'new-widget'"),
        ({"extension-definition--BAD": {"extension_type": "property-extension"}}, "extension key"),
    ],
)
def test_extension_rules(extensions: Any, words: str) -> None:
    rejected(sdo(extensions=extensions), words)


def test_unknown_extensions_and_custom_properties_are_kept() -> None:
    ext = {
        EXT_ID: {"extension_type": "property-extension", "rank": 3, "Nested": {"Any Key": [1, 2]}},
        "x-legacy-ext": {"a": 1},
    }
    obj = sdo(extensions=ext, x_acme_score=7, x_acme_tags=["a"])
    s = check_object(obj)
    assert s.obj["extensions"] == ext and s.obj["x_acme_score"] == 7
    assert json.loads(s.body)["extensions"] == ext


def test_predefined_sco_extension_needs_no_extension_type() -> None:
    obj = example("file")
    assert "extension_type" not in obj["extensions"]["ntfs-ext"]
    assert check_object(obj).category == "sco"



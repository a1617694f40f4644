"""Ingest validation of single STIX 2.1 objects (liaison.stix.validate).

Throughput (tests/stix/bench_stix.py: 1,000 stix2 indicators with a creator,
a TLP marking and labels; id and timestamp caches cleared before each run;
best of many runs on the shared 2-core VM): check_object 100k-165k
objects/s, parse_json + check_object 75k-125k objects/s.  Not asserted here.
"""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import stix2

from liaison.stix.catalogue import SCO_TYPES, SDO_TYPES, SMO_TYPES, SRO_TYPES
from liaison.stix.timestamps import parse_timestamp
from liaison.stix.validate import InvalidObject, StixObject, check_object

from .stix_examples import EXAMPLES, EXT_ID, IDENTITY, TLP2_GREEN, example, example_params, new_id, rejected, sdo

IDENT = IDENTITY.id


# -- every standard type, as python-stix2 makes it, passes ---------------------


def test_examples_cover_every_standard_type() -> None:
    assert {obj["type"] for _, obj in EXAMPLES} == SDO_TYPES | SRO_TYPES | SCO_TYPES | SMO_TYPES


@pytest.mark.parametrize("obj", example_params())
def test_stix2_examples_pass(obj: dict[str, Any]) -> None:
    before = copy.deepcopy(obj)
    s = check_object(obj)
    assert obj == before  # input not modified
    assert s.obj is obj
    assert s.id == obj["id"] and s.type == obj["type"]
    assert s.spec_version == "2.1"
    expected = {**dict.fromkeys(SDO_TYPES, "sdo"), **dict.fromkeys(SRO_TYPES, "sro")}
    expected |= {**dict.fromkeys(SCO_TYPES, "sco"), **dict.fromkeys(SMO_TYPES, "smo")}
    assert s.category == expected[obj["type"]]
    assert s.body == orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
    assert json.loads(s.body) == obj


# -- required properties -------------------------------------------------------

# Independent of the implementation's tables: reference digest §2.2 and §2.4.
REQUIRED: dict[str, tuple[str, ...]] = {
    "attack-pattern": ("name",),
    "campaign": ("name",),
    "course-of-action": ("name",),
    "grouping": ("context", "object_refs"),
    "identity": ("name",),
    "incident": ("name",),
    "indicator": ("pattern", "pattern_type", "valid_from"),
    "infrastructure": ("name",),
    "intrusion-set": ("name",),
    "malware": ("is_family",),
    "malware-analysis": ("product",),
    "note": ("content", "object_refs"),
    "observed-data": ("first_observed", "last_observed", "number_observed"),
    "opinion": ("opinion", "object_refs"),
    "report": ("name", "published", "object_refs"),
    "threat-actor": ("name",),
    "tool": ("name",),
    "vulnerability": ("name",),
    "relationship": ("relationship_type", "source_ref", "target_ref"),
    "sighting": ("sighting_of_ref",),
    "autonomous-system": ("number",),
    "directory": ("path",),
    "domain-name": ("value",),
    "email-addr": ("value",),
    "email-message": ("is_multipart",),
    "ipv4-addr": ("value",),
    "ipv6-addr": ("value",),
    "mac-addr": ("value",),
    "mutex": ("name",),
    "network-traffic": ("protocols",),
    "software": ("name",),
    "url": ("value",),
    "language-content": ("object_ref", "contents"),
    "extension-definition": ("name", "schema", "version", "extension_types", "created_by_ref"),
}
COMMON_SDO = ("type", "id", "spec_version", "created", "modified")
COMMON_REQUIRED: dict[str, tuple[str, ...]] = {
    **{t: COMMON_SDO for t in SDO_TYPES | SRO_TYPES | {"language-content", "extension-definition"}},
    **{t: ("type", "id") for t in SCO_TYPES},
    "marking-definition": ("type", "id", "spec_version", "created"),
}
MISSING_CASES = [
    pytest.param(t, prop, id=f"{t}-{prop}")
    for t in sorted(COMMON_REQUIRED)
    for prop in COMMON_REQUIRED[t] + REQUIRED.get(t, ())
]


@pytest.mark.parametrize(("t", "prop"), MISSING_CASES)
def test_missing_required_property(t: str, prop: str) -> None:
    obj = example(t)
    assert prop in obj
    del obj[prop]
    rejected(obj, "missing required property", repr(prop))


def test_sco_may_omit_spec_version() -> None:
    obj = example("ipv4-addr")
    del obj["spec_version"]
    s = check_object(obj)
    assert s.spec_version == "2.1" and s.category == "sco"
    assert "spec_version" not in s.obj  # nothing is added


@pytest.mark.parametrize("version", ["2.0", "2.2", 2.1, None, ""])
@pytest.mark.parametrize("t", ["indicator", "ipv4-addr", "marking-definition"])
def test_only_stix_2_1(t: str, version: Any) -> None:
    obj = example(t)
    obj["spec_version"] = version
    rejected(obj, "only STIX 2.1 objects are accepted", f"(spec_version {version!r})")


def test_spec_version_message_is_exact() -> None:
    assert rejected(sdo(spec_version="2.0")).message == "only STIX 2.1 objects are accepted (spec_version '2.0')"


@pytest.mark.parametrize(
    ("t", "remove", "words"),
    [
        ("location", ("region",), "'region', 'country', or 'latitude' and 'longitude'"),
        ("malware-analysis", ("result",), "at least one of 'result', 'analysis_sco_refs'"),
        ("observed-data", ("object_refs",), "at least one of 'object_refs', 'objects'"),
        ("network-traffic", ("src_ref", "dst_ref"), "at least one of 'src_ref', 'dst_ref'"),
        ("file", ("hashes", "name"), "at least one of 'hashes', 'name'"),
    ],
)
def test_one_of_groups(t: str, remove: tuple[str, ...], words: str) -> None:
    obj = example(t)
    for key in remove:
        del obj[key]
    rejected(obj, words)


def test_malware_family_needs_a_name() -> None:
    obj = sdo("malware")
    assert obj["is_family"] is True
    del obj["name"]
    rejected(obj, "'name'", "is_family")
    obj["is_family"] = False
    assert check_object(obj).type == "malware"
    obj["is_family"] = "true"
    rejected(obj, "'is_family' must be a boolean")


def test_grouping_name_is_optional() -> None:
    obj = example("grouping")
    obj.pop("name", None)
    assert check_object(obj).type == "grouping"


@pytest.mark.parametrize(
    ("props", "words"),
    [
        ({"latitude": 10.0}, "'latitude' and 'longitude' must be given together"),
        ({"longitude": 10.0}, "'latitude' and 'longitude' must be given together"),
        ({"latitude": 91, "longitude": 0}, "'latitude' must be a number from -90 to 90"),
        ({"latitude": 0, "longitude": -180.5}, "'longitude' must be a number from -180 to 180"),
        ({"latitude": "1", "longitude": 0}, "'latitude' must be a number"),
        ({"region": "europe", "precision": 10.0}, "'precision' requires"),
    ],
)
def test_location_rules(props: dict[str, Any], words: str) -> None:
    obj = example("location")
    del obj["region"]
    obj.update(props)
    rejected(obj, words)


def test_observed_data_rules() -> None:
    obj = sdo("observed-data", objects={"0": {"type": "ipv4-addr", "value": "198.51.100.3"}})
    rejected(obj, "must not have more than one of 'object_refs', 'objects'")
    del obj["object_refs"]
    assert check_object(obj).type == "observed-data"  # deprecated form still accepted
    rejected(sdo("observed-data", number_observed=0), "'number_observed' must be an integer from 1 to 999999999")
    rejected(sdo("observed-data", number_observed=True), "'number_observed' must be")
    bad = sdo("observed-data", objects={})
    del bad["object_refs"]
    rejected(bad, "'objects' must be a non-empty dictionary")


def test_artifact_payload_and_url_are_exclusive() -> None:
    rejected(sdo("artifact", url="https://example.com/a"), "must not have more than one of 'payload_bin', 'url'")


def test_extension_definition_rules() -> None:
    rejected(sdo("extension-definition", extension_types=["new-thing"]), "'extension_types'[0] is 'new-thing'")
    rejected(sdo("extension-definition", extension_properties=["x_a"]), "'extension_properties' is only allowed")
    ok = sdo("extension-definition", extension_types=["toplevel-property-extension"], extension_properties=["x_a"])
    assert check_object(ok).category == "smo"
    rejected(sdo("extension-definition", created_by_ref=stix2.TLP_RED.id), "'created_by_ref' must reference an identity")


def test_language_content_needs_contents() -> None:
    rejected(sdo("language-content", contents={}), "'contents' must be a non-empty dictionary")


def test_sighting_reference_types() -> None:
    rejected(sdo("sighting", where_sighted_refs=[new_id("indicator")]), "'where_sighted_refs' must reference identity or location")
    rejected(sdo("sighting", observed_data_refs=[new_id("report")]), "'observed_data_refs' must reference observed-data")
    rejected(sdo("sighting", count=-1), "'count' must be an integer from 0")


# -- timestamps ----------------------------------------------------------------


def test_modified_before_created() -> None:
    obj = sdo(created="2024-03-01T10:00:00.000Z", modified="2024-03-01T09:59:59.999Z")
    e = rejected(obj)
    assert e.message == (
        "property 'modified' (2024-03-01T09:59:59.999Z) is earlier than created (2024-03-01T10:00:00.000Z) (STIX §3.2)"
    )


def test_modified_equal_to_created_in_another_spelling() -> None:
    obj = sdo(created="2024-03-01T10:00:00Z", modified="2024-03-01T10:00:00.000Z")
    assert check_object(obj).version_us == check_object(sdo(created=obj["created"], modified=obj["created"])).version_us


@pytest.mark.parametrize("prop", ["created", "modified"])
@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("2024-03-01T10:00:00+01:00", "must be UTC with Z"),
        ("2024-03-01T10:00:00", "missing the trailing Z"),
        ("2016-12-31T23:59:60Z", "leap seconds"),
        ("2024-03-01T10:00:00.1234567Z", "sub-microsecond"),
        (1709287200, "must be a string"),
    ],
)
def test_bad_common_timestamp(prop: str, value: Any, words: str) -> None:
    obj = sdo(created="2024-01-01T00:00:00Z", modified="2024-06-01T00:00:00Z")
    obj[prop] = value
    rejected(obj, f"property {prop!r}", words)


@pytest.mark.parametrize(
    ("t", "prop"),
    [
        ("indicator", "valid_from"),
        ("indicator", "valid_until"),
        ("campaign", "first_seen"),
        ("malware", "last_seen"),
        ("report", "published"),
        ("observed-data", "first_observed"),
        ("sighting", "first_seen"),
        ("relationship", "start_time"),
        ("malware-analysis", "submitted"),
        ("directory", "ctime"),
        ("email-message", "date"),
        ("network-traffic", "start"),
        ("user-account", "account_created"),
        ("windows-registry-key", "modified_time"),
        ("x509-certificate", "validity_not_before"),
        ("process", "created_time"),
        ("language-content", "object_modified"),
    ],
)
def test_bad_type_specific_timestamp(t: str, prop: str) -> None:
    rejected(sdo(t, **{prop: "2024-02-30T00:00:00Z"}), f"property {prop!r}", "day 30")


@pytest.mark.parametrize(
    ("t", "earlier", "later", "strict"),
    [
        ("indicator", "valid_from", "valid_until", True),
        ("relationship", "start_time", "stop_time", True),
        ("campaign", "first_seen", "last_seen", False),
        ("malware", "first_seen", "last_seen", False),
        ("threat-actor", "first_seen", "last_seen", False),
        ("intrusion-set", "first_seen", "last_seen", False),
        ("infrastructure", "first_seen", "last_seen", False),
        ("sighting", "first_seen", "last_seen", False),
        ("observed-data", "first_observed", "last_observed", False),
        ("network-traffic", "start", "end", False),
    ],
)
def test_timestamp_order(t: str, earlier: str, later: str, strict: bool) -> None:
    t1, t2 = "2024-01-01T00:00:00Z", "2024-01-02T00:00:00Z"
    assert check_object(sdo(t, **{earlier: t1, later: t2}))
    rejected(sdo(t, **{earlier: t2, later: t1}), f"property {later!r}", f"{earlier!r}")
    same = sdo(t, **{earlier: t1, later: t1})
    if strict:
        rejected(same, "must be later than")
    else:
        assert check_object(same)


# -- property names, lists, simple common properties ----------------------------


@pytest.mark.parametrize("name", ["Name", "ab", "x-custom", "x_custom ", "naïve", "a" * 251, "", "x.y"])
def test_bad_property_names(name: str) -> None:
    e = rejected(sdo(**{name: "v"}), f"property name {name!r} must be lowercase ASCII letters, digits and underscores")
    assert "3-250 characters" in e.message


@pytest.mark.parametrize("name", ["x_custom", "abc", "a" * 250, "x_acme_score2", "123", "___"])
def test_good_property_names(name: str) -> None:
    s = check_object(sdo(**{name: "v"}))
    assert s.obj[name] == "v" and f'"{name}":"v"'.encode() in s.body


def test_names_inside_dictionaries_are_not_checked() -> None:
    obj = sdo(
        "file",
        hashes={"SHA-256": "b" * 64, "x-Custom Hash": "c"},
        extensions={"ntfs-ext": {"sid": "S-1", "Weird Key": 1}},
        external_references=[{"source_name": "x", "URL": "u"}],
    )
    obj.pop("name")
    assert check_object(obj).obj["hashes"]["x-Custom Hash"] == "c"


@pytest.mark.parametrize("prop", ["labels", "x_things", "external_references", "object_refs_not"])
def test_empty_top_level_list(prop: str) -> None:
    rejected(sdo(**{prop: []}), f"property {prop!r} is an empty list")


@pytest.mark.parametrize(
    ("props", "words"),
    [
        ({"revoked": "yes"}, "'revoked' must be a boolean"),
        ({"revoked": 1}, "'revoked' must be a boolean"),
        ({"confidence": 101}, "'confidence' must be an integer from 0 to 100"),
        ({"confidence": -1}, "'confidence' must be an integer from 0 to 100"),
        ({"confidence": 50.5}, "'confidence' must be an integer"),
        ({"confidence": True}, "'confidence' must be an integer"),
        ({"labels": "bad"}, "'labels' must be a non-empty list of strings"),
        ({"labels": ["ok", 1]}, "'labels' must be a non-empty list of strings"),
        ({"lang": 1}, "'lang' must be a string"),
        ({"external_references": [{"url": "u"}]}, "'external_references'[0] must have a string 'source_name'"),
        ({"external_references": ["x"]}, "'external_references'[0] must be an object"),
        ({"kill_chain_phases": [{"kill_chain_name": "k"}]}, "must have a string 'phase_name'"),
        ({"name": 5}, "'name' must be a string"),
        ({"pattern": ["x"]}, "'pattern' must be a string"),
    ],
)
def test_common_property_values(props: dict[str, Any], words: str) -> None:
    rejected(sdo(**props), words)


@pytest.mark.parametrize("confidence", [0, 100])
def test_confidence_bounds(confidence: int) -> None:
    assert check_object(sdo(confidence=confidence)).obj["confidence"] == confidence


# -- references ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("props", "words"),
    [
        ({"created_by_ref": new_id("malware")}, ("'created_by_ref' must reference an identity",)),
        ({"created_by_ref": "identity--not-a-uuid"}, ("property 'created_by_ref'", "not a UUID")),
        ({"created_by_ref": [f"identity--{uuid.uuid4()}"]}, ("'created_by_ref' must be an identifier string",)),
        ({"object_marking_refs": [new_id("identity")]}, ("'object_marking_refs'[0] must reference a marking-definition",)),
        ({"object_marking_refs": stix2.TLP_RED.id}, ("'object_marking_refs' must be a non-empty list of identifiers",)),
        ({"x_target_ref": "nothing"}, ("property 'x_target_ref'", "<type>--<uuid>")),
        ({"x_things_refs": [new_id("tool"), "TOOL--x"]}, ("property 'x_things_refs'[1]",)),
        ({"x_things_refs": []}, ("'x_things_refs' is an empty list",)),
        ({"sample_ref": 7}, ("'sample_ref' must be an identifier string",)),
    ],
)
def test_reference_properties(props: dict[str, Any], words: tuple[str, ...]) -> None:
    rejected(sdo(**props), *words)


def test_reference_messages_name_the_uuid_problem() -> None:
    rejected(sdo(created_by_ref="identity--" + str(uuid.uuid4()).upper()), "'created_by_ref'", "UUIDs must be lowercase")


# -- custom object types ----------------------------------------------------------


def test_custom_type_categories() -> None:
    sco = {
        "type": "x-acme-gadget",
        "spec_version": "2.1",
        "id": new_id("x-acme-gadget"),
        "value": "g",
        "extensions": {EXT_ID: {"extension_type": "new-sco"}},
    }
    s = check_object(sco)
    assert s.category == "sco" and s.version_us is None and s.version_text is None
    sro = dict(sco, type="x-acme-link", id=new_id("x-acme-link"), extensions={EXT_ID: {"extension_type": "new-sro"}})
    rejected(sro, "missing required property 'created'")
    sro |= {"created": "2024-01-01T00:00:00Z", "modified": "2024-01-01T00:00:00Z"}
    assert check_object(sro).category == "sro"
    legacy = dict(sco, type="x-acme-thing", id=new_id("x-acme-thing"))
    del legacy["extensions"]
    rejected(legacy, "missing required property 'created'")  # treated as an SDO
    legacy |= {"created": "2024-01-01T00:00:00Z", "modified": "2024-01-02T00:00:00Z"}
    s = check_object(legacy)
    assert s.category == "sdo" and s.version_text == "2024-01-02T00:00:00Z"


# -- type and id --------------------------------------------------------------------


@pytest.mark.parametrize("value", [[], "indicator", None, 3, [{"type": "indicator"}]])
def test_not_an_object(value: Any) -> None:
    e = rejected(value, "a STIX object must be a JSON object")
    assert (e.object_id, e.version) == ("unknown", "unknown")


@pytest.mark.parametrize(
    ("props", "words"),
    [
        ({"type": None}, "missing required property 'type'"),
        ({"type": 5}, "property 'type' must be a string"),
        ({"type": "Indicator"}, ("property 'type'", "lowercase")),
        ({"type": "malware"}, ("property 'id'", "id prefix 'indicator' does not match type 'malware'")),
        ({"id": 5}, ("property 'id'", "must be a string")),
        ({"id": "indicator--00000000-0000-0000-0000-000000000000"}, ("property 'id'", "nil UUID")),
    ],
)
def test_type_and_id(props: dict[str, Any], words: str | tuple[str, ...]) -> None:
    obj = sdo(**props)
    if obj["type"] is None:
        del obj["type"]
    rejected(obj, *((words,) if isinstance(words, str) else words))


def test_missing_id() -> None:
    obj = sdo()
    del obj["id"]
    e = rejected(obj, "missing required property 'id'")
    assert e.object_id == "unknown" and e.version == obj["modified"]


def test_invalid_object_identifies_the_object() -> None:
    obj = sdo(confidence=500)
    e = rejected(obj)
    assert (e.object_id, e.version) == (obj["id"], obj["modified"])
    assert isinstance(e, ValueError) and str(e) == e.message
    del obj["modified"]
    assert rejected(obj).version == obj["created"]
    obj["created"] = 5
    assert rejected(obj).version == "unknown"


# -- derived fields ------------------------------------------------------------------


def test_derived_fields_of_an_sdo() -> None:
    obj = example("indicator")
    s = check_object(obj)
    assert isinstance(s, StixObject)
    assert s.version_text == obj["modified"]
    assert s.version_us == parse_timestamp(obj["modified"])
    assert s.created_by_ref == IDENT
    assert s.marking_refs == (stix2.TLP_AMBER.id,)
    assert s.granular_marking_refs == (TLP2_GREEN,)
    assert s.refs == (IDENT, stix2.TLP_AMBER.id)
    assert s.revoked is False


def test_version_is_modified() -> None:
    s = check_object(sdo(created="2024-01-01T00:00:00Z", modified="2024-02-01T00:00:00.5Z"))
    assert s.version_us == 1_706_745_600_500_000
    assert s.version_text == "2024-02-01T00:00:00.5Z"


def test_version_of_marking_definition_is_created() -> None:
    s = check_object(json.loads(stix2.TLP_RED.serialize()))
    assert s.version_us == 1_484_870_400_000_000  # 2017-01-20T00:00:00Z
    assert s.version_text == "2017-01-20T00:00:00.000Z"


def test_version_of_sco() -> None:
    plain = check_object(example("ipv4-addr"))
    assert plain.version_us is None and plain.version_text is None
    versioned = dict(example("ipv4-addr"), created="2024-01-01T00:00:00Z", modified="2024-01-03T00:00:00Z")
    assert check_object(versioned).version_text == "2024-01-03T00:00:00Z"
    created_only = dict(example("ipv4-addr"), created="2024-01-01T00:00:00Z")
    assert check_object(created_only).version_us == 1_704_067_200_000_000
    rejected(dict(versioned, modified="2023-01-01T00:00:00Z"), "earlier than created")


def test_refs_of_relationship_and_containers() -> None:
    rel = example("relationship")
    s = check_object(rel)
    assert set(s.refs) == {rel["source_ref"], rel["target_ref"]}
    report = example("report")
    report["created_by_ref"] = IDENT
    report["object_refs"].append(report["object_refs"][0])  # duplicate
    s = check_object(report)
    assert s.refs == (IDENT, *dict.fromkeys(report["object_refs"]))
    sighting = example("sighting")
    s = check_object(sighting)
    assert set(s.refs) == {sighting["sighting_of_ref"], *sighting["observed_data_refs"], *sighting["where_sighted_refs"]}
    traffic = example("network-traffic")
    assert set(check_object(traffic).refs) == {traffic["src_ref"], traffic["dst_ref"]}


def test_revoked() -> None:
    assert check_object(sdo(revoked=True)).revoked is True
    assert check_object(sdo(revoked=False)).revoked is False




# -- robustness: anything at all yields a StixObject or an InvalidObject ----------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
_interesting_keys = st.sampled_from(
    ["type", "id", "spec_version", "created", "modified", "created_by_ref", "object_marking_refs", "labels",
     "granular_markings", "extensions", "confidence", "revoked", "name", "valid_from", "valid_until", "x_foo_ref",
     "x_foo_refs", "definition_type", "definition", "extension_types", "latitude", "objects", "object_refs",
     "selectors", "is_family", "contents", "number_observed"]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.integers(0, len(EXAMPLES) - 1), st.lists(st.tuples(_interesting_keys, _json_values), max_size=3))
def test_mutated_objects_never_crash(n: int, changes: list[tuple[str, Any]]) -> None:
    obj = copy.deepcopy(EXAMPLES[n][1])
    for key, value in changes:
        obj[key] = value
    try:
        s = check_object(obj)
    except InvalidObject as e:
        assert e.message and isinstance(e.object_id, str) and isinstance(e.version, str)
    else:
        assert json.loads(s.body) == s.obj


@pytest.mark.parametrize(
    ("props", "words"),
    [
        ({"x_big": 2**70}, "cannot be serialised as I-JSON"),
        ({"x_big": 2**53}, "cannot be serialised as I-JSON"),
        ({"x_big": [-(2**53)]}, "cannot be serialised as I-JSON"),
        ({"description": "a\x00b"}, "\\u0000 (NUL) is not allowed in strings (found at $.description)"),
        ({"x_deep": {"k\x00": 1}}, "(NUL) is not allowed"),
    ],
)
def test_objects_built_in_python_meet_the_json_limits(props: dict[str, Any], words: str) -> None:
    """Converters hand check_object dicts that never went through parse_json."""
    rejected(sdo(**props), words)


def test_safe_integer_boundary_in_python_objects() -> None:
    assert check_object(sdo(x_big=2**53 - 1, x_small=-(2**53) + 1)).obj["x_big"] == 2**53 - 1


def test_stix2_validator_agrees_with_the_examples() -> None:
    """The fixtures are valid for the OASIS validator too (so 'passes' means something)."""
    from stix2validator import ValidationOptions, validate_instance

    options = ValidationOptions(version="2.1")
    for label, obj in EXAMPLES:
        result = validate_instance(copy.deepcopy(obj), options)
        assert result.is_valid, (label, [str(e) for e in result.errors])


@pytest.mark.parametrize("t", ["ipv4-addr", "indicator"])
def test_null_modified_is_refused(t: str) -> None:
    obj = example(t)
    obj["modified"] = None
    rejected(obj, "property 'modified'", "must be a string")


def test_a_bundle_is_not_an_object() -> None:
    bundle = {"type": "bundle", "id": new_id("bundle"), "objects": [example("indicator")]}
    rejected(bundle, "a bundle is a container, not a STIX object")

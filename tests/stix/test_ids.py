"""STIX identifiers and type names (liaison.stix.ids)."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liaison.stix.ids import SCO_NAMESPACE, check_id, check_type_name

V4 = "6b3c8e2a-1f4d-4c6e-9a7b-0d1e2f3a4b5c"


def _with(version: str, variant: str) -> str:
    """V4 with its version and variant nibbles replaced."""
    return f"{V4[:14]}{version}{V4[15:19]}{variant}{V4[20:]}"


GOOD = [
    (f"indicator--{V4}", "indicator"),
    (f"indicator--{uuid.uuid1()}", "indicator"),  # v1
    (f"indicator--{uuid.uuid4()}", "indicator"),  # v4
    ("ipv4-addr--" + str(uuid.uuid5(SCO_NAMESPACE, '{"value":"198.51.100.3"}')), "ipv4-addr"),  # v5
    (f"report--{_with('7', '8')}", "report"),  # v7
    (f"x-acme-thing--{_with('8', 'b')}", "x-acme-thing"),  # v8
    (f"indicator--{_with('3', '9')}", "indicator"),  # v3
    (f"indicator--{_with('6', 'a')}", "indicator"),  # v6
    (f"x509-certificate--{V4}", "x509-certificate"),
    (f"abc--{V4}", "abc"),
    (f"{'a' * 250}--{V4}", "a" * 250),
]


@pytest.mark.parametrize(("value", "prefix"), GOOD)
def test_good(value: str, prefix: str) -> None:
    assert check_id(value) == prefix
    assert check_id(value, prefix) == prefix


BAD = [
    ("indicator--00000000-0000-0000-0000-000000000000", "nil UUID"),
    (f"indicator--{_with('4', '0')}", "not an RFC 4122 UUID"),  # NCS variant 0xxx
    (f"indicator--{_with('4', '7')}", "not an RFC 4122 UUID"),  # NCS variant 0xxx
    (f"indicator--{_with('4', 'c')}", "not an RFC 4122 UUID"),  # Microsoft 110x
    (f"indicator--{_with('4', 'd')}", "not an RFC 4122 UUID"),  # Microsoft 110x
    (f"indicator--{_with('4', 'e')}", "not an RFC 4122 UUID"),  # future 111x
    (f"indicator--{_with('4', 'f')}", "not an RFC 4122 UUID"),  # future 111x
    (f"indicator--{_with('0', '8')}", "version '0'"),
    (f"indicator--{_with('9', '8')}", "version '9'"),
    (f"indicator--{_with('f', '8')}", "version 'f'"),
    (f"indicator--{V4.upper()}", "UUIDs must be lowercase"),
    (f"indicator--{V4[:-1]}A", "UUIDs must be lowercase"),
    (f"indicator-{V4}", "not of the form <type>--<uuid>"),
    (V4, "not of the form <type>--<uuid>"),
    ("indicator", "not of the form <type>--<uuid>"),
    ("", "not of the form <type>--<uuid>"),
    (f"indicator--{V4.replace('-', '')}", "not a UUID"),
    (f"indicator--{{{V4}}}", "not a UUID"),
    (f"indicator--urn:uuid:{V4}", "not a UUID"),
    (f"indicator--{V4}\n", "not a UUID"),
    (f"indicator--{V4} ", "not a UUID"),
    (f"indicator--{V4[:-1]}g", "not a UUID"),
    (f"Indicator--{V4}", "lowercase ASCII"),
    (f"x_foo--{V4}", "lowercase ASCII"),
    (f"1abc--{V4}", "lowercase ASCII"),
    (f"-abc--{V4}", "lowercase ASCII"),
    (f"abc---{V4}", "lowercase ASCII"),  # type 'abc-' ends with a hyphen
    (f"ab--{V4}", "3-250 characters"),
    (f"{'a' * 251}--{V4}", "3-250 characters"),
    (f"x--y--{V4}", "must not contain '--'"),
    (f"--{V4}", "3-250 characters"),
]


@pytest.mark.parametrize(("value", "words"), BAD)
def test_bad(value: str, words: str) -> None:
    with pytest.raises(ValueError) as info:
        check_id(value)
    assert words in str(info.value)


@pytest.mark.parametrize("value", [None, 42, ["indicator--" + V4], {"id": V4}, b"indicator--" + V4.encode()])
def test_not_a_string(value: object) -> None:
    with pytest.raises(ValueError, match="must be a string"):
        check_id(value)


def test_prefix_mismatch() -> None:
    with pytest.raises(ValueError) as info:
        check_id(f"malware--{V4}", "indicator")
    assert str(info.value) == "id prefix 'malware' does not match type 'indicator'"


def test_cached_answer_still_checks_expected_type() -> None:
    value = f"malware--{uuid.uuid4()}"
    assert check_id(value) == "malware"
    assert check_id(value, "malware") == "malware"
    with pytest.raises(ValueError, match="does not match"):
        check_id(value, "tool")


def test_sco_namespace_matches_worked_example() -> None:
    # STIX §2.9 worked example (reference digest §2.1)
    name = '{"value":"198.51.100.3"}'
    assert str(uuid.uuid5(SCO_NAMESPACE, name)) == "28bb3599-77cd-5a82-a950-b5bc3caf07c4"


@given(st.sampled_from([1, 2, 3, 4, 5]).flatmap(lambda v: st.uuids(version=v)))
def test_any_rfc4122_uuid_of_versions_1_to_5_is_accepted(u: uuid.UUID) -> None:
    # with a version, hypothesis generates RFC 4122 variant UUIDs
    assert u.variant == uuid.RFC_4122
    assert check_id(f"threat-actor--{u}", "threat-actor") == "threat-actor"


@given(st.integers(0, 2**128 - 1))
def test_random_128_bit_values(n: int) -> None:
    u = uuid.UUID(int=n)
    text = f"tool--{u}"
    valid = u.variant == uuid.RFC_4122 and 1 <= ((n >> 76) & 0xF) <= 8
    if valid:
        assert check_id(text) == "tool"
    else:
        with pytest.raises(ValueError):
            check_id(text)


TYPE_NAMES_GOOD = ["indicator", "x-acme-widget", "x509-certificate", "abc", "a1b", "a" * 250]
TYPE_NAMES_BAD = ["ab", "a" * 251, "Indicator", "x_acme", "-abc", "abc-", "a--b", "1abc", "in dicator", "indicätor", ""]


@pytest.mark.parametrize("name", TYPE_NAMES_GOOD)
def test_type_name_good(name: str) -> None:
    check_type_name(name)


@pytest.mark.parametrize("name", TYPE_NAMES_BAD)
def test_type_name_bad(name: str) -> None:
    with pytest.raises(ValueError):
        check_type_name(name)


def test_type_name_not_a_string() -> None:
    with pytest.raises(ValueError, match="must be a string"):
        check_type_name(None)

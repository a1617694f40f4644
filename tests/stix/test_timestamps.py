"""STIX/TAXII timestamps <-> integer microseconds (liaison.stix.timestamps)."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from liaison.stix.timestamps import (
    format_taxii_timestamp,
    now_us,
    parse_stix_timestamp,
    parse_taxii_timestamp,
    parse_timestamp,
)

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
MIN_US = -62_135_596_800_000_000
MAX_US = 253_402_300_799_999_999


def _us(d: dt.datetime) -> int:
    return (d - EPOCH) // dt.timedelta(microseconds=1)


GOOD = [
    ("1970-01-01T00:00:00Z", 0),
    ("1970-01-01T00:00:00.000001Z", 1),
    ("1969-12-31T23:59:59.999999Z", -1),
    ("2016-05-12T08:17:27.000Z", 1_463_041_047_000_000),
    ("2024-02-29T12:00:00.5Z", _us(dt.datetime(2024, 2, 29, 12, 0, 0, 500_000, tzinfo=dt.timezone.utc))),
    ("2000-02-29T00:00:00Z", _us(dt.datetime(2000, 2, 29, tzinfo=dt.timezone.utc))),
    ("0001-01-01T00:00:00Z", MIN_US),
    ("9999-12-31T23:59:59.999999Z", MAX_US),
    ("2024-01-01T00:00:00.123456000Z", 1_704_067_200_123_456),  # extra digits all zero
    ("2024-01-01T00:00:00.000000000000Z", 1_704_067_200_000_000),
]


@pytest.mark.parametrize(("text", "us"), GOOD)
def test_good(text: str, us: int) -> None:
    assert parse_timestamp(text) == us
    assert parse_taxii_timestamp(text) == us
    assert parse_stix_timestamp(text) == us


BAD = [
    ("2016-12-31T23:59:60Z", "leap seconds are not supported"),
    ("2024-01-01T00:00:00+01:00", "must be UTC with Z"),
    ("2024-01-01T00:00:00-0500", "must be UTC with Z"),
    ("2024-01-01T00:00:00+00:00", "must be UTC with Z"),
    ("2024-01-01T00:00:00", "missing the trailing Z"),
    ("2024-01-01T00:00:00.123", "missing the trailing Z"),
    ("2024-01-01t00:00:00z", "uppercase"),
    ("2024-01-01T00:00:00z", "uppercase"),
    ("0000-01-01T00:00:00Z", "year 0000"),
    ("10000-01-01T00:00:00Z", "more than 4 digits"),
    ("+12024-01-01T00:00:00Z", "more than 4 digits"),
    ("2024-00-01T00:00:00Z", "month 00"),
    ("2024-13-01T00:00:00Z", "month 13"),
    ("2024-01-00T00:00:00Z", "day 00"),
    ("2023-02-29T00:00:00Z", "day 29 out of range for 2023-02"),
    ("1900-02-29T00:00:00Z", "day 29"),
    ("2024-04-31T00:00:00Z", "day 31"),
    ("2024-01-01T24:00:00Z", "hour 24"),
    ("2024-01-01T00:60:00Z", "minute 60"),
    ("2024-01-01T00:00:61Z", "second 61"),
    ("2024-01-01T00:00:00.123456789Z", "sub-microsecond precision is not supported"),
    ("2024-01-01T00:00:00.1234567Z", "sub-microsecond precision is not supported"),
    ("2024-01-01T00:00:00.Z", "not of the form"),
    ("2024-01-01 00:00:00Z", "not of the form"),
    ("2024-1-01T00:00:00Z", "not of the form"),
    ("20240101T000000Z", "not of the form"),
    ("\u0662\u0660\u0662\u0664-01-01T00:00:00Z", "not of the form"),  # Arabic-Indic digits
    ("", "not of the form"),
    ("2024-01-01T00:00:00Z ", "missing the trailing Z"),
]


@pytest.mark.parametrize(("text", "words"), BAD)
def test_bad(text: str, words: str) -> None:
    for parse in (parse_timestamp, parse_taxii_timestamp, parse_stix_timestamp):
        with pytest.raises(ValueError) as info:
            parse(text)
        assert words in str(info.value)


@pytest.mark.parametrize("value", [None, 1704067200, 1.5, b"2024-01-01T00:00:00Z", ["x"]])
def test_not_a_string(value: object) -> None:
    with pytest.raises(ValueError, match="must be a string"):
        parse_timestamp(value)


def test_millisecond_precision_is_optional_by_default() -> None:
    assert parse_stix_timestamp("2024-01-01T00:00:00Z") == 1_704_067_200_000_000
    assert parse_stix_timestamp("2024-01-01T00:00:00Z", min_precision_ms=False) == 1_704_067_200_000_000


@pytest.mark.parametrize("text", ["2024-01-01T00:00:00Z", "2024-01-01T00:00:00.1Z", "2024-01-01T00:00:00.12Z"])
def test_millisecond_precision_when_asked(text: str) -> None:
    with pytest.raises(ValueError, match="millisecond precision"):
        parse_stix_timestamp(text, min_precision_ms=True)


def test_millisecond_precision_met() -> None:
    assert parse_stix_timestamp("2024-01-01T00:00:00.123Z", min_precision_ms=True) == 1_704_067_200_123_000
    assert parse_stix_timestamp("2024-01-01T00:00:00.123456Z", min_precision_ms=True) == 1_704_067_200_123_456
    # a cached answer for the lenient call must not leak into the strict one
    parse_stix_timestamp("2025-01-01T00:00:00Z")
    with pytest.raises(ValueError):
        parse_stix_timestamp("2025-01-01T00:00:00Z", min_precision_ms=True)


FORMATTED = [
    (0, "1970-01-01T00:00:00.000000Z"),
    (1, "1970-01-01T00:00:00.000001Z"),
    (-1, "1969-12-31T23:59:59.999999Z"),
    (1_704_067_200_123_000, "2024-01-01T00:00:00.123000Z"),
    (MIN_US, "0001-01-01T00:00:00.000000Z"),
    (MAX_US, "9999-12-31T23:59:59.999999Z"),
]


@pytest.mark.parametrize(("us", "text"), FORMATTED)
def test_format(us: int, text: str) -> None:
    assert format_taxii_timestamp(us) == text


@pytest.mark.parametrize("us", [MIN_US - 1, MAX_US + 1])
def test_format_out_of_range(us: int) -> None:
    with pytest.raises(ValueError):
        format_taxii_timestamp(us)


def test_format_needs_int() -> None:
    with pytest.raises(TypeError):
        format_taxii_timestamp(1.5)  # type: ignore[arg-type]


@given(st.integers(MIN_US, MAX_US))
def test_round_trip_from_microseconds(us: int) -> None:
    text = format_taxii_timestamp(us)
    assert len(text) == 27 and text[19] == "." and text.endswith("Z")
    assert parse_timestamp(text) == us
    assert parse_taxii_timestamp(text) == us


@given(st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59, 999999)))
def test_agrees_with_datetime(d: dt.datetime) -> None:
    d = d.replace(tzinfo=dt.timezone.utc)
    us = _us(d)
    seconds = f"{d.year:04d}-{d.month:02d}-{d.day:02d}T{d.hour:02d}:{d.minute:02d}:{d.second:02d}"
    assert format_taxii_timestamp(us) == f"{seconds}.{d.microsecond:06d}Z"
    # second precision, millisecond precision and full precision all parse
    assert parse_timestamp(f"{seconds}Z") == us - d.microsecond
    assert parse_timestamp(f"{seconds}.{d.microsecond // 1000:03d}Z") == us - d.microsecond % 1000
    assert parse_timestamp(f"{seconds}.{d.microsecond:06d}000Z") == us


def test_now() -> None:
    before = _us(dt.datetime.now(dt.timezone.utc))
    now = now_us()
    after = _us(dt.datetime.now(dt.timezone.utc))
    assert type(now) is int
    assert before - 1000 <= now <= after + 1000


def test_long_trailing_zero_fraction_is_accepted_and_not_cached() -> None:
    from liaison.stix import timestamps

    text = "2024-01-01T00:00:00.5" + "0" * 10_000 + "Z"
    before = timestamps._parse_cached.cache_info().currsize
    assert parse_timestamp(text) == 1_704_067_200_500_000
    assert timestamps._parse_cached.cache_info().currsize == before

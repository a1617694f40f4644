"""Strict JSON parsing of untrusted bytes (liaison.stix.jsonparse).

Throughput (tests/stix/bench_stix.py: 1,000 stix2 indicators of ~580 bytes
in one envelope, best of many runs, on the shared 2-core VM while other test
suites ran): jiter alone 0.5-0.8M objects/s, parse_json 0.3-0.5M objects/s
(an idle first measurement: jiter 500k, parse_json 300k).  Speed is measured
in bench/, not asserted here.
"""

from __future__ import annotations

import json
import random
import uuid

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liaison.stix.jsonparse import MAX_DEPTH, MAX_SAFE_INT, JSONError, _needs_walk, parse_json

REJECTED = [
    # (case id, raw bytes, words the message must contain)
    ("duplicate key", b'{"id":"a","id":"b"}', 'duplicate member name "id" at line 1 column'),
    ("duplicate nested key", b'{"a":{"x":1,"y":2,"x":3}}', 'duplicate member name "x"'),
    ("100000-deep arrays", b"[" * 100_000 + b"]" * 100_000, "nesting too deep"),
    ("100000-deep objects", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nesting too deep"),
    ("5000-digit integer", b"1" * 5000, "out of range"),
    ("2**53", b"9007199254740992", "number 9007199254740992 is out of range"),
    ("-(2**53)", b"-9007199254740992", "number -9007199254740992 is out of range"),
    ("20-digit int in object", b'{"x": 12345678901234567890}', "at $.x"),
    ("1e400", b"[1e400]", "number 1e400 is out of range"),
    ("-1e400", b'{"a":-1e400}', "number -1e400 is out of range"),
    ("1E+400", b'{"a": 1E+400}', "number 1E+400 is out of range"),
    ("1.5e999 pretty", b'{\n  "a": [\n    1,\n    1.5e999\n  ]\n}', "at $.a[1]"),
    ("400-digit float", b"[" + b"1" * 400 + b".5]", "out of range"),
    ("NaN", b"NaN", "invalid JSON"),
    ("Infinity", b'{"a":Infinity}', "invalid JSON"),
    ("-Infinity", b"[-Infinity]", "invalid JSON"),
    ("lone high surrogate", b'"\\ud800"', "surrogate"),
    ("lone low surrogate", b'"\\udc00"', "surrogate"),
    ("high surrogate + letter", b'"\\ud800\\u0041"', "surrogate"),
    ("invalid UTF-8", b'"\xff"', "invalid UTF-8"),
    ("overlong encoding of /", b'"\xc0\xaf"', "invalid UTF-8"),
    ("overlong NUL", b'"\xc0\x80"', "invalid UTF-8"),
    ("UTF-8 encoded surrogate", b'"\xed\xa0\x80"', "invalid UTF-8"),
    ("code point above U+10FFFF", b'"\xf4\x90\x80\x80"', "invalid UTF-8"),
    ("BOM", b'\xef\xbb\xbf{"a":1}', "byte order mark"),
    ("NUL escape in key", b'{"\\u0000":1}', "\\u0000 (NUL) is not allowed in strings (found in a member name"),
    ("NUL escape in value", b'{"a":["x","b\\u0000c"]}', "\\u0000 (NUL) is not allowed in strings (found at $.a[1])"),
    ("NUL escape after escaped backslash", b'"\\\\\\u0000"', "(NUL) is not allowed"),
    ("raw NUL byte", b'"a\x00b"', "control character"),
    ("empty body", b"", "empty body"),
    ("blank body", b" \n ", "empty body"),
    ("trailing garbage", b'{"a":1} x', "invalid JSON"),
    ("trailing comma", b"[1,]", "invalid JSON"),
    ("single quotes", b"{'a':1}", "invalid JSON"),
    ("leading zero", b"01", "invalid JSON"),
]


@pytest.mark.parametrize(("data", "words"), [c[1:] for c in REJECTED], ids=[c[0] for c in REJECTED])
def test_rejected(data: bytes, words: str) -> None:
    with pytest.raises(JSONError) as info:
        parse_json(data)
    assert words in info.value.message
    assert str(info.value) == info.value.message
    assert isinstance(info.value, ValueError)


ACCEPTED = [
    ("2**53-1", b"9007199254740991", MAX_SAFE_INT),
    ("-(2**53-1)", b"-9007199254740991", -MAX_SAFE_INT),
    ("15-digit int", b"[999999999999999]", [999_999_999_999_999]),
    ("escaped backslash then u0000 text", b'"\\\\u0000"', "\\u0000"),
    ("surrogate pair", b'"\\ud83d\\ude00"', "\U0001f600"),
    ("1e308", b"1e308", 1e308),
    ("underflow to zero", b"[1e-400]", [0.0]),
    ("long fraction", b"0.12345678901234567890123", 0.12345678901234567890123),
    ("20-digit string", b'{"h":"12345678901234567890"}', {"h": "12345678901234567890"}),
    ("exponent-like hex in string", b'{"id":"x--5e123456-1e400"}', {"id": "x--5e123456-1e400"}),
    ("time-like text", b'"12:34:5678901234567890"', "12:34:5678901234567890"),
    ("200-deep nesting", b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, None),
    ("keys differing in case", b'{"a":1,"A":2}', {"a": 1, "A": 2}),
    ("same key in different objects", b'{"a":{"a":1},"b":{"a":2}}', {"a": {"a": 1}, "b": {"a": 2}}),
]


@pytest.mark.parametrize(("data", "expected"), [c[1:] for c in ACCEPTED], ids=[c[0] for c in ACCEPTED])
def test_accepted(data: bytes, expected: object) -> None:
    value = parse_json(data)
    if expected is not None:
        assert value == expected
        assert type(value) is type(expected)


def test_bytearray_and_memoryview_accepted() -> None:
    assert parse_json(bytearray(b'{"a":1}')) == {"a": 1}
    assert parse_json(memoryview(b"[2]")) == [2]


def test_str_refused() -> None:
    with pytest.raises(TypeError):
        parse_json('{"a":1}')  # type: ignore[arg-type]


def test_duplicate_position_is_reported() -> None:
    data = b'{"type":"indicator","id":"x","name":"a","id":"y"}'
    with pytest.raises(JSONError) as info:
        parse_json(data)
    assert info.value.message == 'duplicate member name "id" at line 1 column 46'  # just after the key


def _envelope(n: int) -> bytes:
    rng = random.Random(7)

    def uuid4() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128), version=4)

    objs = [
        {
            "type": "indicator",
            "spec_version": "2.1",
            "id": f"indicator--{uuid4()}",
            "created": "2024-05-01T10:11:12.123Z",
            "modified": "2024-05-01T10:11:12.123Z",
            "pattern": f"[file:hashes.'SHA-256' = '{uuid4().hex}{uuid4().hex}']",
            "pattern_type": "stix",
            "valid_from": "2024-05-01T10:11:12Z",
            "confidence": 85,
            "x_score": 3.25,
            "description": "seen 12 times in 2023, ports 443, 8443 and 1e3 others",
        }
        for _ in range(n)
    ]
    return json.dumps({"objects": objs}, indent=1).encode()


def test_screen_skips_the_walk_for_ordinary_stix() -> None:
    """The cheap pre-screen must let ordinary content through without the
    precise walk (that is what keeps parse_json fast)."""
    data = _envelope(300)
    assert parse_json(data)["objects"][0]["confidence"] == 85
    assert _needs_walk(data) is False
    assert _needs_walk(data.replace(b"\"confidence\": 85", b"\"confidence\": 12345678901234567", 1)) is True
    assert _needs_walk(data.replace(b"3.25", b"3.25e300", 1)) is True
    assert _needs_walk(data.replace(b"seen 12", b"seen \\u0000", 1)) is True


# -- property-based: the screen never hides a bad number or a NUL -------------

_BAD_NUMBERS = ["1e400", "-1E+400", "9007199254740992", "-12345678901234567890", "1" * 40, "2.5e309"]
_GOOD_NUMBERS = ["0", "-0", "1e-400", "9007199254740991", "-9007199254740991", "1.5e308", "0.5", "123e45"]

_numbers = st.sampled_from(_BAD_NUMBERS + _GOOD_NUMBERS) | st.integers(-(2**60), 2**60).map(str)
_strings = st.text(alphabet=st.sampled_from(list("ab1e9:,[ \x00-")), max_size=12)
_ws = st.sampled_from(["", " ", "\n", "\t", "\r\n  "])


def _is_bad_number(token: str) -> bool:
    value = float(token) if any(c in token for c in ".eE") else int(token)
    if isinstance(value, int):
        return abs(value) > MAX_SAFE_INT
    return value in (float("inf"), float("-inf"))


@st.composite
def _json_text(draw: st.DrawFn, depth: int = 0) -> tuple[str, bool]:
    """Random JSON text with random whitespace; returns (text, must_reject)."""
    w1, w2 = draw(_ws), draw(_ws)
    choice = draw(st.integers(0, 3 if depth < 4 else 1))
    if choice == 0:
        token = draw(_numbers)
        return f"{w1}{token}{w2}", _is_bad_number(token)
    if choice == 1:
        s = draw(_strings)
        return w1 + orjson.dumps(s).decode() + w2, "\x00" in s
    items = draw(st.lists(_json_text(depth + 1), max_size=4))
    if choice == 2:
        return w1 + "[" + ",".join(t for t, _ in items) + "]" + w2, any(b for _, b in items)
    keys = draw(st.lists(_strings, min_size=len(items), max_size=len(items), unique=True))
    members = ",".join(f"{orjson.dumps(k).decode()}{w2}:{t}" for k, (t, _) in zip(keys, items))
    return w1 + "{" + members + "}" + w2, any(b for _, b in items) or any("\x00" in k for k in keys)


@settings(max_examples=400, deadline=None)
@given(_json_text())
def test_rejects_exactly_the_bad_documents(case: tuple[str, bool]) -> None:
    text, must_reject = case
    data = text.encode()
    if must_reject:
        with pytest.raises(JSONError):
            parse_json(data)
    else:
        assert parse_json(data) == json.loads(text)

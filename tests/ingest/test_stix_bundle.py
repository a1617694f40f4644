"""The streaming splitter: every accepted shape, chunk boundaries, broken files."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liaison.ingest.stix_bundle import BundleError, iter_objects

OBJS = [
    {"type": "indicator", "id": "indicator--1", "name": "a \"quoted\" ] } [ { name"},
    {"type": "note", "id": "note--2", "content": "back\\slash\\", "x": [1, [2, {"y": "}"}]]},
    {"type": "identity", "id": "identity--3", "name": "üñï 😀"},
]


def split(data: bytes, chunk: int = 7) -> list[object]:
    return [json.loads(raw) for raw in iter_objects(io.BytesIO(data), chunk=chunk)]


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1 << 20])
def test_bundle_envelope_and_list_at_any_chunk_size(chunk: int) -> None:
    bundle = json.dumps({"type": "bundle", "id": "bundle--x", "objects": OBJS}).encode()
    envelope = json.dumps({"more": False, "objects": OBJS}, indent=2).encode()
    listing = json.dumps(OBJS).encode()
    assert split(bundle, chunk) == OBJS
    assert split(envelope, chunk) == OBJS
    assert split(listing, chunk) == OBJS


def test_keys_after_objects_and_nested_objects_keys_are_not_confused() -> None:
    doc = {"type": "bundle", "meta": {"objects": [{"not": "this"}]}, "objects": OBJS[:1],
           "z": ["objects"]}
    assert split(json.dumps(doc).encode()) == OBJS[:1]


def test_a_lone_object_is_one_object() -> None:
    assert split(json.dumps(OBJS[0]).encode()) == [OBJS[0]]


def test_empty_objects_list() -> None:
    assert split(b'{"type":"bundle","id":"bundle--1","objects":[]}') == []


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"\xef\xbb\xbf{}", "byte order mark"),
    (b'{"objects":[{"a":1}', "ends"),
    (b'{"objects":[{"a":1} {"b":2}]}', "expected ','"),
    (b'{"objects":[{"a":"unterminated', "ends inside a string"),
    (b"42", "not a JSON object or list"),
])
def test_broken_files_say_why(data: bytes, message: str) -> None:
    with pytest.raises(BundleError, match=message):
        list(iter_objects(io.BytesIO(data), chunk=4))


def test_progress_counts_every_byte() -> None:
    data = json.dumps({"objects": OBJS}).encode()
    seen: list[int] = []
    list(iter_objects(io.BytesIO(data), chunk=5, progress=seen.append))
    assert sum(seen) == len(data)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=5), st.text(max_size=8) | st.integers(),
                                max_size=4), max_size=6),
       st.integers(min_value=1, max_value=40))
def test_round_trip_any_objects(objs: list[dict[str, object]], chunk: int) -> None:
    data = json.dumps({"type": "bundle", "objects": objs}).encode()
    assert split(data, chunk) == objs

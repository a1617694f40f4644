"""Canonical bytes (liaison.stix.canonical): same object, same bytes (STIX §3.5)."""

from __future__ import annotations

import copy
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from liaison.stix.canonical import canonical_bytes
from liaison.stix.validate import check_object

from .stix_examples import EXAMPLES


def _shuffled(value: Any, rng: random.Random) -> Any:
    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        return {k: _shuffled(v, rng) for k, v in items}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


@settings(max_examples=60, deadline=None)
@given(st.integers(0, len(EXAMPLES) - 1), st.randoms(use_true_random=False))
def test_canonical_bytes_independent_of_key_order(n: int, rng: random.Random) -> None:
    obj = EXAMPLES[n][1]
    shuffled = _shuffled(obj, rng)
    assert check_object(shuffled).body == check_object(copy.deepcopy(obj)).body == canonical_bytes(obj)


def test_canonical_bytes_form() -> None:
    obj = {"b": 1, "a": {"d": [3, {"f": 1, "e": 2}], "c": "é"}, "id": "x"}
    assert canonical_bytes(obj) == b'{"a":{"c":"\xc3\xa9","d":[3,{"e":2,"f":1}]},"b":1,"id":"x"}'
    # list order is content, not formatting
    assert canonical_bytes({"a": [1, 2]}) != canonical_bytes({"a": [2, 1]})


def test_validate_stores_exactly_canonical_bytes() -> None:
    from liaison.stix.canonical import canonical_bytes_strict

    for _, obj in EXAMPLES:
        body = check_object(copy.deepcopy(obj)).body
        assert body == canonical_bytes(obj) == canonical_bytes_strict(obj)

"""Canonical bytes of a STIX object (what the node stores and serves).

STIX 2.1 §3.5 requires every serialisation of one object version
(``id`` + ``modified``) to be identical.  The node stores each version once
as ``orjson.dumps(obj, option=OPT_SORT_KEYS)``: compact UTF-8 JSON, members
sorted by key at every level, no insignificant whitespace.  The same object
sent with any member order yields the same bytes, and TAXII responses
(TAXII §3.7 envelope) splice these bytes without re-serialising.

This is not RFC 8785 (JCS): keys are sorted by Unicode code point rather than
by UTF-16 code units, and floats use orjson's shortest round-trip form.
It is only ever compared with itself.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = ["canonical_bytes", "canonical_bytes_strict"]

_OPTIONS = orjson.OPT_SORT_KEYS
_STRICT_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER


def canonical_bytes(obj: dict[str, Any]) -> bytes:
    """Serialise ``obj`` canonically (sorted keys, compact, UTF-8)."""
    return orjson.dumps(obj, option=_OPTIONS)


def canonical_bytes_strict(obj: dict[str, Any]) -> bytes:
    """Same bytes as :func:`canonical_bytes`, but an integer beyond
    ±(2**53-1) (I-JSON, STIX §2.10) raises ``TypeError``
    (``orjson.JSONEncodeError``) instead of being written."""
    return orjson.dumps(obj, option=_STRICT_OPTIONS)

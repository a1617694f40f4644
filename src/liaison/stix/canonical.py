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

__all__ = ["canonical_bytes"]

_OPTIONS = orjson.OPT_SORT_KEYS


def canonical_bytes(obj: dict[str, Any]) -> bytes:
    """Serialise ``obj`` canonically (sorted keys, compact, UTF-8)."""
    return orjson.dumps(obj, option=_OPTIONS)

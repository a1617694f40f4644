"""STIX 2.1 identifiers and type names.

STIX 2.1 §2.9 (identifier): ``<object-type>--<UUID>`` where the UUID is an
RFC 4122 UUID (variant ``10xx``; STIX objects use version 4, SCOs version 5
in the :data:`SCO_NAMESPACE`, §2.9/§3.4; any RFC 4122/9562 version 1-8 is
accepted here).  The UUID must be written in lowercase (canonical form) and
must not be the nil UUID.

STIX 2.1 §3.1 / §2.9 (type names): 3-250 characters, lowercase ASCII
letters, digits and hyphens, starting with a letter, not ending with a
hyphen, never containing ``--`` (which separates type and UUID).
"""

from __future__ import annotations

import re
import uuid
from functools import lru_cache
from typing import Any

__all__ = ["SCO_NAMESPACE", "check_id", "check_type_name"]

#: UUIDv5 namespace for deterministic SCO ids (STIX 2.1 §2.9).
SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")

_TYPE_NAME = re.compile(r"[a-z][a-z0-9-]*[a-z0-9]", re.ASCII)
# Fast path: a well-formed id with an RFC 4122 variant and version 1-8.
_GOOD_ID = re.compile(
    r"([a-z][a-z0-9-]{1,248}[a-z0-9])--"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
    re.ASCII,
)
_ANY_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", re.ASCII)
_NIL = "00000000-0000-0000-0000-000000000000"


def check_type_name(t: Any) -> None:
    """Raise ``ValueError`` unless ``t`` is a valid STIX type name (§3.1)."""
    if type(t) is not str:
        raise ValueError(f"type must be a string, not {type(t).__name__}")
    if not 3 <= len(t) <= 250:
        raise ValueError(f"type name {t!r} must be 3-250 characters long")
    if not _TYPE_NAME.fullmatch(t):
        raise ValueError(
            f"type name {t!r} must be lowercase ASCII letters, digits and hyphens, "
            "starting with a letter and not ending with a hyphen"
        )
    if "--" in t:
        raise ValueError(f"type name {t!r} must not contain '--'")


def check_id(value: Any, expected_type: str | None = None) -> str:
    """Check a STIX identifier (§2.9) and return its object-type part.

    Raises ``ValueError`` with a clear sentence for a non-string, a missing
    ``--``, an invalid type name, a UUID that is not lowercase canonical
    8-4-4-4-12 hex, not RFC 4122 variant, not version 1-8, or nil; and when
    ``expected_type`` is given and differs from the prefix.
    """
    if type(value) is not str:
        raise ValueError(f"identifier must be a string, not {type(value).__name__}")
    if expected_type is None:
        return _checked_prefix(value)
    # With an expected type this is usually an object's own id, seen once:
    # a cache would only cost time.
    prefix = _prefix(value)
    if prefix != expected_type:
        raise ValueError(f"id prefix {prefix!r} does not match type {expected_type!r}")
    return prefix


def _prefix(value: str) -> str:
    m = _GOOD_ID.fullmatch(value)
    if m is not None and "--" not in m.group(1):
        return m.group(1)
    _explain(value)  # always raises
    raise AssertionError("unreachable")  # pragma: no cover


#: References (created_by_ref, markings, object_refs...) repeat: cache them.
_checked_prefix = lru_cache(maxsize=16384)(_prefix)


def _explain(value: str) -> None:
    """Raise the ValueError that says why ``value`` is not a STIX id."""
    prefix, sep, u = value.rpartition("--")
    if not sep:
        raise ValueError(f"identifier {value!r} is not of the form <type>--<uuid>")
    try:
        check_type_name(prefix)
    except ValueError as exc:
        raise ValueError(f"identifier {value!r}: {exc}") from None
    if not _ANY_UUID.fullmatch(u):
        raise ValueError(f"identifier {value!r}: {u!r} is not a UUID in 8-4-4-4-12 hex form")
    if u != u.lower():
        raise ValueError(f"identifier {value!r}: UUIDs must be lowercase")
    if u == _NIL:
        raise ValueError(f"identifier {value!r}: the nil UUID is not allowed")
    if u[19] not in "89ab":
        raise ValueError(
            f"identifier {value!r}: UUID is not an RFC 4122 UUID (variant nibble {u[19]!r}, expected 8, 9, a or b)"
        )
    raise ValueError(f"identifier {value!r}: UUID version {u[14]!r} is not supported (expected 1-8)")

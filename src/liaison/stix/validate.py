"""Ingest validation of one STIX 2.1 object (STIX 2.1 §2-§7, digest §2.1-§2.6).

:func:`check_object` is called once per object a client or partner sends.
It refuses what a STIX 2.1 consumer must not accept and extracts, in the same
pass, the derived fields the store indexes (:class:`StixObject`): category,
version (digest §2.3, used by TAXII §3.4.1 ``match[version]``), creator,
markings, references, and the canonical bytes (STIX §3.5) that are stored
and spliced into responses.

What is checked:

* the value is a JSON object with a valid ``type`` (§3.1) and an ``id``
  whose prefix is that type (§2.9);
* ``spec_version`` is ``"2.1"`` (required except on SCOs, §3.2);
* every top-level property name is ``id`` or ``[a-z0-9_]{3,250}`` (§3.1,
  §11.1); names inside dictionaries (``hashes``, ``extensions``...) are not;
* no top-level list is empty (§2.12); ``*_ref`` holds an identifier and
  ``*_refs`` a non-empty list of identifiers (§2.9, §3.1);
* the common properties of the category (§3.2 table; digest §2.2) and their
  types: ``created``/``modified`` (``modified >= created``), ``revoked``,
  ``confidence`` 0-100, ``labels``, ``lang``, ``external_references``,
  ``kill_chain_phases``, ``created_by_ref`` (an identity),
  ``object_marking_refs`` (marking-definitions), ``granular_markings``
  (§7.2.3: selectors that resolve, exactly one of marking_ref/lang) and
  ``extensions`` (§7.3: an extension-definition key needs ``extension_type``);
* the type-specific rules of :mod:`liaison.stix.catalogue` and the special
  cases of location, malware, extension-definition and marking-definition
  (§7.2.1: no ``modified``; TLP ids must carry the published content).

Unknown (custom) types are accepted: as an SCO when an ``extensions`` entry
has ``extension_type: "new-sco"``, as an SRO for ``"new-sro"``, otherwise as
an SDO (so they need ``created`` and ``modified``).  Unknown extensions and
custom properties are kept unchanged; nothing is ever stripped.

Speed: the checks that depend only on the property names are planned once
per shape (:mod:`liaison.stix.plan`); identifiers and timestamps are parsed
through small caches; the object is never copied and is serialised once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from .catalogue import EXTENSION_TYPES
from .ids import check_id, check_type_name
from .jsonparse import JSONError, check_serialised
from .plan import Plan, plan_for
from .properties import Problem, check_granular_markings, kind_name
from .smo import check_marking_definition
from .timestamps import parse_timestamp

__all__ = ["InvalidObject", "StixObject", "check_object"]

_GOOD_TYPES: set[str] = set()  # type names already found valid (bounded)
_dumps = orjson.dumps
_STRICT = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER  # as canonical.canonical_bytes_strict


class InvalidObject(ValueError):
    """A STIX object was refused at ingest.

    ``message`` says what is wrong (property and why); ``object_id`` and
    ``version`` identify the object for a TAXII status failure (TAXII §4.3.1)
    and are ``"unknown"`` when the object does not carry usable strings.
    """

    def __init__(self, message: str, obj: Any = None) -> None:
        super().__init__(message)
        self.message: str = message
        d = obj if type(obj) is dict else {}
        oid = d.get("id")
        self.object_id: str = oid if type(oid) is str else "unknown"
        version = d.get("modified")
        if type(version) is not str:
            version = d.get("created")
        self.version: str = version if type(version) is str else "unknown"


# Not frozen (read-only by convention): built once per object on the hot path, and a
# frozen dataclass's __init__ costs about 3x (object.__setattr__ per field).
@dataclass(slots=True)
class StixObject:
    """One validated STIX object with the fields derived from it at ingest."""

    id: str
    type: str
    category: str
    """"sdo", "sro", "sco" or "smo"."""
    spec_version: str
    """Always "2.1"."""
    version_us: int | None
    """Microseconds of ``modified`` (``created`` for marking-definitions and
    objects without ``modified``); None for SCOs with neither."""
    version_text: str | None
    """The timestamp text ``version_us`` was read from."""
    created_by_ref: str | None
    marking_refs: tuple[str, ...]
    """``object_marking_refs``."""
    granular_marking_refs: tuple[str, ...]
    """``marking_ref`` of each ``granular_markings`` entry."""
    refs: tuple[str, ...]
    """Every id in a top-level ``*_ref``/``*_refs`` property (properties in
    name order), each once."""
    revoked: bool
    body: bytes
    """Canonical bytes (STIX §3.5), see :mod:`liaison.stix.canonical`."""
    obj: dict[str, Any]


def check_object(obj: Any) -> StixObject:
    """Validate one STIX 2.1 object and derive its :class:`StixObject`.

    Raises :class:`InvalidObject` naming the property at fault and why.
    ``obj`` is not modified (except that a standard TLP marking-definition
    whose ``created`` is spelled differently is replaced by the published
    object, so every node stores identical bytes for it).
    """
    if type(obj) is not dict:
        raise InvalidObject(f"a STIX object must be a JSON object, not {kind_name(obj)}", obj)
    try:
        return _check(obj)
    except Problem as p:
        raise InvalidObject(p.message, obj) from None


def _check(obj: dict[str, Any]) -> StixObject:
    """All checks, cheapest and most basic first; raises Problem."""
    t = obj.get("type")
    if type(t) is not str:
        if t is None:
            raise Problem("missing required property 'type'")
        raise Problem(f"property 'type' must be a string, not {kind_name(t)}")
    if t not in _GOOD_TYPES:
        if t == "bundle":
            raise Problem("a bundle is a container, not a STIX object (STIX §8): send the objects it holds")
        try:
            check_type_name(t)
        except ValueError as exc:
            raise Problem(f"property 'type': {exc}") from None
        if len(_GOOD_TYPES) < 4096:
            _GOOD_TYPES.add(t)
    oid = obj.get("id")
    if oid is None:
        raise Problem("missing required property 'id'")
    try:
        check_id(oid, t)
    except ValueError as exc:
        raise Problem(f"property 'id': {exc}") from None
    plan = plan_for(obj, t)
    if plan.has_spec_version and obj["spec_version"] != "2.1":
        raise Problem(f"only STIX 2.1 objects are accepted (spec_version {obj['spec_version']!r})")
    if [] in obj.values():
        key = next(k for k, v in obj.items() if type(v) is list and not v)
        raise Problem(f"property {key!r} is an empty list (STIX §2.12: lists must not be empty)")
    refs = _check_refs(obj, plan.ref_keys) if plan.ref_keys else []
    for key, checker in plan.checks:
        checker(key, obj[key])
    created_us, modified_us = _check_created_modified(obj, plan)
    if plan.kinds or plan.times or plan.int_ranges or plan.ref_types:
        _check_values(obj, plan)
    special = _SPECIAL.get(t)
    if special is not None:
        special(obj)
    return _derive(obj, t, plan.category, refs, created_us, modified_us)


def _derive(
    obj: dict[str, Any], t: str, category: str, refs: list[str], created_us: int | None, modified_us: int | None
) -> StixObject:
    """Markings, version and canonical bytes of a checked object."""
    oid: str = obj["id"]
    marking_refs = obj.get("object_marking_refs")
    marking_refs = tuple(marking_refs) if marking_refs else ()
    granular = obj.get("granular_markings")
    granular_refs = check_granular_markings(obj, granular) if granular is not None else ()
    if t == "marking-definition":
        if oid in marking_refs or oid in granular_refs:
            raise Problem("a marking-definition must not mark itself (STIX §7.2.2)")
        obj = check_marking_definition(obj, created_us)
        version_us, version_text = created_us, obj["created"]
    elif modified_us is not None:
        version_us, version_text = modified_us, obj["modified"]
    else:
        version_us, version_text = created_us, obj.get("created")
    return StixObject(
        oid,
        t,
        category,
        "2.1",
        version_us,
        version_text,
        obj.get("created_by_ref"),
        marking_refs,
        granular_refs,
        tuple(dict.fromkeys(refs)) if len(refs) > 1 else tuple(refs),
        obj.get("revoked") is True,
        _canonical(obj),
        obj,
    )


def _canonical(obj: dict[str, Any]) -> bytes:
    """Canonical bytes.  Objects built in Python (converters) rather than
    parsed by :func:`parse_json` are held to two of its limits here at almost
    no cost: integers within ±(2**53-1) and no ``\\u0000``.  (NaN and
    infinity, which orjson writes as null, are only caught by parse_json and
    by the range checks of the properties that take numbers.)"""
    try:
        body = _dumps(obj, option=_STRICT)  # = canonical_bytes_strict(obj)
    except TypeError as exc:  # orjson.JSONEncodeError
        raise Problem(f"the object cannot be serialised as I-JSON: {exc}") from None
    if b"\\" in body and b"\\u0000" in body:
        try:
            check_serialised(obj, body)
        except JSONError as exc:
            raise Problem(exc.message) from None
    return body


def _check_refs(obj: dict[str, Any], ref_keys: tuple[str, ...]) -> list[str]:
    """``*_ref`` holds an identifier, ``*_refs`` a list of them (§2.9, §3.1)."""
    refs: list[str] = []
    for key in ref_keys:
        value = obj[key]
        if key[-1] == "f":  # *_ref
            if type(value) is not str:
                raise Problem(f"property {key!r} must be an identifier string, not {kind_name(value)}")
            try:
                check_id(value)
            except ValueError as exc:
                raise Problem(f"property {key!r}: {exc}") from None
            refs.append(value)
        else:
            if type(value) is not list:
                raise Problem(f"property {key!r} must be a non-empty list of identifiers, not {kind_name(value)}")
            for n, ref in enumerate(value):
                try:
                    check_id(ref)
                except ValueError as exc:
                    raise Problem(f"property {key!r}[{n}]: {exc}") from None
            refs.extend(value)
    return refs


def _timestamp(obj: dict[str, Any], key: str) -> int:
    try:
        return parse_timestamp(obj[key])
    except ValueError as exc:
        raise Problem(f"property {key!r}: {exc}") from None


def _check_created_modified(obj: dict[str, Any], plan: Plan) -> tuple[int | None, int | None]:
    """``created``/``modified`` are timestamps and ``modified >= created`` (§3.2)."""
    created_us = _timestamp(obj, "created") if plan.has_created else None
    if not plan.has_modified:
        return created_us, None
    modified = obj["modified"]
    if created_us is not None and modified == obj["created"]:
        return created_us, created_us
    modified_us = _timestamp(obj, "modified")
    if created_us is not None and modified_us < created_us:
        raise Problem(f"property 'modified' ({modified}) is earlier than created ({obj['created']}) (STIX §3.2)")
    return created_us, modified_us


def _check_values(obj: dict[str, Any], plan: Plan) -> None:
    """Type-specific value rules planned from :data:`catalogue.RULES`."""
    for key, expected, kind in plan.kinds:
        value = obj[key]
        if type(value) is not expected:
            raise Problem(f"property {key!r} must be a {kind}, not {kind_name(value)}")
    if plan.times:
        times: dict[str, int] = {}
        for key in plan.times:
            times[key] = _timestamp(obj, key)
        for earlier, later, strict in plan.order:
            a, b = times[earlier], times[later]
            if b < a or (strict and b == a):
                relation = "later than" if strict else "later than or equal to"
                raise Problem(f"property {later!r} ({obj[later]}) must be {relation} {earlier!r} ({obj[earlier]})")
    for key, low, high in plan.int_ranges:
        value = obj[key]
        if type(value) is not int or not low <= value <= high:
            raise Problem(f"property {key!r} must be an integer from {low} to {high}, not {value!r}")
    for key, allowed in plan.ref_types:
        value = obj[key]
        for ref in value if type(value) is list else (value,):
            if ref.partition("--")[0] not in allowed:
                raise Problem(f"property {key!r} must reference {' or '.join(sorted(allowed))} objects, not {ref!r}")


def _check_location(obj: dict[str, Any]) -> None:
    """STIX §4.10: region, country, or latitude+longitude; ranges."""
    has_lat, has_lon = "latitude" in obj, "longitude" in obj
    if has_lat != has_lon:
        raise Problem("location: 'latitude' and 'longitude' must be given together")
    if not (has_lat or "region" in obj or "country" in obj):
        raise Problem("location objects must have 'region', 'country', or 'latitude' and 'longitude'")
    if "precision" in obj and not has_lat:
        raise Problem("location: 'precision' requires 'latitude' and 'longitude'")
    for key, limit in (("latitude", 90), ("longitude", 180)):
        if key in obj:
            value = obj[key]
            if type(value) not in (int, float) or not -limit <= value <= limit:
                raise Problem(f"property {key!r} must be a number from -{limit} to {limit}, not {value!r}")


def _check_malware(obj: dict[str, Any]) -> None:
    """STIX §4.11: ``name`` is required when ``is_family`` is true."""
    if obj.get("is_family") is True and "name" not in obj:
        raise Problem("missing required property 'name' (malware with is_family true must have a name)")


def _check_extension_definition(obj: dict[str, Any]) -> None:
    """STIX §7.3: extension_types values; extension_properties only for
    toplevel-property-extension."""
    types = obj["extension_types"]
    for n, kind in enumerate(types):
        if type(kind) is not str or kind not in EXTENSION_TYPES:
            raise Problem(
                f"property 'extension_types'[{n}] is {kind!r}, expected one of {', '.join(sorted(EXTENSION_TYPES))}"
            )
    if "extension_properties" in obj and "toplevel-property-extension" not in types:
        raise Problem("property 'extension_properties' is only allowed with a 'toplevel-property-extension'")


def _check_dict_nonempty(key: str) -> Callable[[dict[str, Any]], None]:
    """A special check: ``key``, if present, is a non-empty dictionary."""

    def check(obj: dict[str, Any]) -> None:
        value = obj.get(key)
        if value is not None and (type(value) is not dict or not value):
            raise Problem(f"property {key!r} must be a non-empty dictionary")

    return check


_SPECIAL: dict[str, Callable[[dict[str, Any]], None]] = {
    "location": _check_location,
    "malware": _check_malware,
    "extension-definition": _check_extension_definition,
    "language-content": _check_dict_nonempty("contents"),
    "observed-data": _check_dict_nonempty("objects"),
}

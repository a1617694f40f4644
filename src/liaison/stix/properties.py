"""Checks of individual top-level properties (STIX 2.1 §3.1, §3.2, §7.2, §7.3).

Used by :mod:`liaison.stix.validate` and :mod:`liaison.stix.plan`:
the property-name rule (§3.1/§11.1), the value checks of the common
properties (:data:`CHECKERS`, §3.2) and granular markings (§7.2.3).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .catalogue import EXTENSION_TYPES
from .ids import check_id

__all__ = ["CHECKERS", "Checker", "Problem", "check_granular_markings", "check_property_name", "kind_name"]

Checker = Callable[[str, Any], None]

_PROPERTY_NAME = re.compile(r"[a-z0-9_]{3,250}", re.ASCII)
_INDEX = re.compile(r"\[([0-9]+)\]", re.ASCII)
_EXTENSION_DEFINITION_PREFIX = "extension-definition--"


class Problem(Exception):
    """Internal: what is wrong with the object being checked."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def kind_name(v: Any) -> str:
    """How a JSON value is called in messages ("an array", "a string"...)."""
    if type(v) is list:
        return "an array"
    if type(v) is dict:
        return "an object"
    if type(v) is str:
        return "a string"
    if type(v) is bool:
        return "a boolean"
    if v is None:
        return "null"
    return "a number"


def _boolean(key: str, value: Any) -> None:
    if type(value) is not bool:
        raise Problem(f"property {key!r} must be a boolean, not {kind_name(value)}")


def _string(key: str, value: Any) -> None:
    if type(value) is not str:
        raise Problem(f"property {key!r} must be a string, not {kind_name(value)}")


def _confidence(key: str, value: Any) -> None:
    if type(value) is not int or not 0 <= value <= 100:
        raise Problem(f"property {key!r} must be an integer from 0 to 100, not {value!r}")


def _string_list(key: str, value: Any) -> None:
    if type(value) is not list:
        raise Problem(f"property {key!r} must be a non-empty list of strings, not {kind_name(value)}")
    for item in value:
        if type(item) is not str:
            raise Problem(f"property {key!r} must be a non-empty list of strings, not contain {kind_name(item)}")


def _dict_list(key: str, value: Any, required: tuple[str, ...]) -> None:
    if type(value) is not list:
        raise Problem(f"property {key!r} must be a non-empty list of objects, not {kind_name(value)}")
    for n, entry in enumerate(value):
        if type(entry) is not dict:
            raise Problem(f"property {key!r}[{n}] must be an object, not {kind_name(entry)}")
        for name in required:
            if type(entry.get(name)) is not str:
                raise Problem(f"property {key!r}[{n}] must have a string {name!r}")


def _external_references(key: str, value: Any) -> None:
    _dict_list(key, value, ("source_name",))


def _kill_chain_phases(key: str, value: Any) -> None:
    _dict_list(key, value, ("kill_chain_name", "phase_name"))


def _created_by_ref(key: str, value: Any) -> None:
    # The id itself was checked as a *_ref; only its type matters here.
    if not value.startswith("identity--"):
        raise Problem(f"property {key!r} must reference an identity, not {value!r}")


def _object_marking_refs(key: str, value: Any) -> None:
    for n, ref in enumerate(value):
        if not ref.startswith("marking-definition--"):
            raise Problem(f"property {key!r}[{n}] must reference a marking-definition, not {ref!r}")


def _granular_markings_shape(key: str, value: Any) -> None:
    if type(value) is not list:
        raise Problem(f"property {key!r} must be a non-empty list of objects, not {kind_name(value)}")


def _extensions(key: str, value: Any) -> None:
    """STIX §7.3: a non-empty dictionary of dictionaries; an entry keyed by an
    extension-definition id must say its ``extension_type``.  Predefined SCO
    extensions (``ntfs-ext``...) and other keys are kept as they are."""
    if type(value) is not dict or not value:
        raise Problem(f"property {key!r} must be a non-empty dictionary")
    for name, ext in value.items():
        if type(ext) is not dict:
            raise Problem(f"extension {name!r} must be an object, not {kind_name(ext)}")
        if name.startswith(_EXTENSION_DEFINITION_PREFIX):
            try:
                check_id(name, "extension-definition")
            except ValueError as exc:
                raise Problem(f"extension key {name!r}: {exc}") from None
            kind = ext.get("extension_type")
            if kind is None:
                raise Problem(f"extension {name!r} must have 'extension_type' (STIX §7.3)")
            if type(kind) is not str or kind not in EXTENSION_TYPES:
                raise Problem(
                    f"extension {name!r} has extension_type {kind!r}, expected one of "
                    f"{', '.join(sorted(EXTENSION_TYPES))}"
                )


#: Value checkers of the common properties (§3.2, §7.2, §7.3), by name.
CHECKERS: dict[str, Checker] = {
    "revoked": _boolean,
    "defanged": _boolean,
    "confidence": _confidence,
    "labels": _string_list,
    "lang": _string,
    "name": _string,
    "description": _string,
    "external_references": _external_references,
    "kill_chain_phases": _kill_chain_phases,
    "created_by_ref": _created_by_ref,
    "object_marking_refs": _object_marking_refs,
    "granular_markings": _granular_markings_shape,
    "extensions": _extensions,
}


def check_property_name(key: str) -> None:
    """STIX §3.1/§11.1: ``id`` or 3-250 lowercase ASCII letters, digits, ``_``."""
    if key != "id" and not _PROPERTY_NAME.fullmatch(key):
        raise Problem(
            f"property name {key!r} must be lowercase ASCII letters, digits and underscores, 3-250 characters"
        )


def _selector_resolves(obj: dict[str, Any], selector: str) -> bool:
    """Does a granular-marking selector (§7.2.3) point to present content?"""
    current: Any = obj
    for part in selector.split("."):
        m = _INDEX.fullmatch(part)
        if m is not None:
            index = int(m.group(1))
            if type(current) is not list or index >= len(current):
                return False
            current = current[index]
        else:
            if type(current) is not dict or part not in current:
                return False
            current = current[part]
    return True


def check_granular_markings(obj: dict[str, Any], value: Any) -> tuple[str, ...]:
    """STIX §7.2.3: check ``granular_markings``; return their marking_refs.

    Each entry is an object with non-empty ``selectors`` (strings that
    resolve in ``obj``) and exactly one of ``marking_ref`` (a
    marking-definition id) or ``lang`` (a string).
    """
    refs: list[str] = []
    for n, entry in enumerate(value):
        where = f"granular_markings[{n}]"
        if type(entry) is not dict:
            raise Problem(f"{where} must be an object, not {kind_name(entry)}")
        selectors = entry.get("selectors")
        if type(selectors) is not list or not selectors:
            raise Problem(f"{where} must have a non-empty list 'selectors'")
        for selector in selectors:
            if type(selector) is not str or not selector:
                raise Problem(f"{where} selectors must be non-empty strings, not {selector!r}")
            if not _selector_resolves(obj, selector):
                raise Problem(f"{where} selector {selector!r} does not point to content in this object")
        has_ref, has_lang = "marking_ref" in entry, "lang" in entry
        if has_ref == has_lang:
            raise Problem(f"{where} must have exactly one of 'marking_ref' or 'lang'")
        if has_ref:
            ref = entry["marking_ref"]
            try:
                check_id(ref, "marking-definition")
            except ValueError as exc:
                raise Problem(f"{where} marking_ref: {exc}") from None
            refs.append(ref)
        elif type(entry["lang"]) is not str:
            raise Problem(f"{where} 'lang' must be a string")
    return tuple(refs)

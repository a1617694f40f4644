"""Shape plans: the checks of an object that depend only on its property names.

An object's *shape* is its type, category and the tuple of its property
names.  Everything the STIX 2.1 rules decide from the shape alone is worked
out once per shape and cached, because a feed sends thousands of objects of
one shape:

* every property name (§3.1, §11.1);
* presence of ``spec_version`` (§3.2: optional only on SCOs),
  ``created``/``modified`` by category (§3.2 table, digest §2.2; no
  ``modified`` on a marking-definition, §7.2.1), ``created_by_ref`` on an
  extension-definition (§7.3);
* the type-specific required properties and "one of" / "at most one of"
  groups of :mod:`liaison.stix.catalogue` (§4-§7);
* which properties are references (``*_ref``, ``*_refs``, §3.1), which
  common properties have a value checker, and which timestamps, orderings,
  ranges and reference-type rules apply.

A shape error raises :class:`~liaison.stix.properties.Problem` every time
(errors are not cached); the cache is bounded so hostile input cannot grow it
without limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .catalogue import KIND_ID, KIND_IDS, KIND_TIMESTAMP, RULES, SCO_TYPES, SDO_TYPES, SMO_TYPES, SRO_TYPES
from .properties import CHECKERS, Checker, Problem, check_property_name

__all__ = ["Plan", "category_of", "plan_for"]

_CATEGORY: dict[str, str] = {
    **{t: "sdo" for t in SDO_TYPES},
    **{t: "sro" for t in SRO_TYPES},
    **{t: "sco" for t in SCO_TYPES},
    **{t: "smo" for t in SMO_TYPES},
}
_NEEDS_CREATED_MODIFIED = frozenset({"sdo", "sro"})
_SMO_WITH_MODIFIED = frozenset({"language-content", "extension-definition"})
_PYTHON_TYPES: dict[str, type] = {"string": str, "boolean": bool, "integer": int, "list": list, "dict": dict}
_PLANS: dict[tuple[Any, ...], Plan] = {}
_PLAN_LIMIT = 4096  # shapes remembered
_PLAN_MAX_PROPERTIES = 64  # larger shapes are planned every time, never cached
_PLAN_MAX_NAME_CHARS = 2048


@dataclass(frozen=True, slots=True)
class Plan:
    """What to check on the values of objects of one shape."""

    category: str
    has_spec_version: bool
    has_created: bool
    has_modified: bool
    ref_keys: tuple[str, ...]
    """Present ``*_ref``/``*_refs`` properties, sorted by name."""
    checks: tuple[tuple[str, Checker], ...]
    """Present common properties with a value checker."""
    kinds: tuple[tuple[str, type, str], ...]
    """Required type-specific properties: (name, Python type, kind word)."""
    times: tuple[str, ...]
    """Present type-specific timestamp properties."""
    order: tuple[tuple[str, str, bool], ...]
    int_ranges: tuple[tuple[str, int, int], ...]
    ref_types: tuple[tuple[str, frozenset[str]], ...]


def category_of(t: str, obj: dict[str, Any]) -> str:
    """``sdo``/``sro``/``sco``/``smo`` of a type.

    A custom type (STIX §7.3) is an SCO when one of its ``extensions`` has
    ``extension_type: "new-sco"``, an SRO for ``"new-sro"``, and otherwise an
    SDO (``new-sdo``, or a legacy §11 custom object).
    """
    category = _CATEGORY.get(t)
    if category is not None:
        return category
    extensions = obj.get("extensions")
    if type(extensions) is dict:
        for ext in extensions.values():
            if type(ext) is dict:
                kind = ext.get("extension_type")
                if kind == "new-sco":
                    return "sco"
                if kind == "new-sro":
                    return "sro"
    return "sdo"


def plan_for(obj: dict[str, Any], t: str) -> Plan:
    """The (cached) plan for ``obj``'s shape; raises Problem for a bad shape."""
    category = _CATEGORY.get(t) or category_of(t, obj)
    key = (t, category, *obj)
    plan = _PLANS.get(key)
    if plan is None:
        plan = _make_plan(obj, t, category)
        if (
            len(_PLANS) < _PLAN_LIMIT
            and len(key) <= _PLAN_MAX_PROPERTIES
            and sum(map(len, obj)) <= _PLAN_MAX_NAME_CHARS
        ):
            _PLANS[key] = plan
    return plan


def _make_plan(obj: dict[str, Any], t: str, category: str) -> Plan:
    for key in obj:
        check_property_name(key)
    has_spec_version = "spec_version" in obj
    if not has_spec_version and category != "sco":
        raise Problem("missing required property 'spec_version' (only STIX 2.1 objects are accepted)")
    _require_common(obj, t, category)
    rules = RULES.get(t)
    kinds: list[tuple[str, type, str]] = []
    if rules is not None:
        for key, kind in rules.required:
            if key not in obj:
                raise Problem(f"missing required property {key!r} ({t} objects must have it)")
            if kind not in (KIND_ID, KIND_IDS, KIND_TIMESTAMP):
                kinds.append((key, _PYTHON_TYPES[kind], kind))
        for group in rules.one_of:
            if not any(key in obj for key in group):
                raise Problem(f"{t} objects must have at least one of {', '.join(map(repr, group))}")
        for group in rules.exclusive:
            if sum(key in obj for key in group) > 1:
                raise Problem(f"{t} objects must not have more than one of {', '.join(map(repr, group))}")
    return Plan(
        category=category,
        has_spec_version=has_spec_version,
        has_created="created" in obj,
        has_modified="modified" in obj,
        ref_keys=tuple(sorted(key for key in obj if key.endswith(("_ref", "_refs")))),
        checks=tuple((key, CHECKERS[key]) for key in obj if key in CHECKERS),
        kinds=tuple(kinds),
        times=tuple(key for key in rules.timestamps if key in obj) if rules else (),
        order=tuple(o for o in rules.order if o[0] in obj and o[1] in obj) if rules else (),
        int_ranges=tuple(r for r in rules.int_ranges if r[0] in obj) if rules else (),
        ref_types=tuple(r for r in rules.ref_types if r[0] in obj) if rules else (),
    )


def _require_common(obj: dict[str, Any], t: str, category: str) -> None:
    """Presence of the common properties by category (§3.2, §7.2.1, §7.3)."""
    if category in _NEEDS_CREATED_MODIFIED or t in _SMO_WITH_MODIFIED:
        for key in ("created", "modified"):
            if key not in obj:
                raise Problem(f"missing required property {key!r} ({t} objects must have created and modified)")
    elif t == "marking-definition":
        if "created" not in obj:
            raise Problem("missing required property 'created' (marking-definition objects must have created)")
        if "modified" in obj:
            raise Problem(
                "property 'modified' is not allowed on a marking-definition (STIX §7.2.1: they cannot be versioned)"
            )
    if t == "extension-definition" and "created_by_ref" not in obj:
        raise Problem(
            "missing required property 'created_by_ref' (extension-definition objects must name their creator)"
        )


"""Marking-definition rules (STIX 2.1 §7.2.1, digest §2.5).

* Without ``extensions``, ``definition_type`` and ``definition`` are
  required (§7.2.1); ``definition`` is an object; a ``statement`` definition
  carries a string ``statement`` (§7.2.1.3).
* ``definition_type: "tlp"`` is reserved for the four TLP 1.0 objects
  (§7.2.1.4: "other TLP instances MUST NOT be created").
* An object that reuses one of the nine standard TLP ids (TLP 1.0 and the
  TLP 2.0 extension objects) must carry exactly the published content; only
  the spelling of ``created`` may differ (e.g. ``...00Z`` vs ``...00.000Z``),
  in which case the published object is used instead, so every node stores
  and serves identical bytes for it (STIX §3.5).
* Any other object using the TLP 2.0 extension is refused: the five TLP 2.0
  markings are recognised by id, and a look-alike would be mistaken for one
  by people while the policy treats it as unknown.
"""

from __future__ import annotations

from typing import Any

from .markings import TLP1_IDS, TLP_EXTENSION_ID, standard_marking
from .properties import Problem
from .timestamps import parse_timestamp

__all__ = ["check_marking_definition"]


def check_marking_definition(obj: dict[str, Any], created_us: int | None) -> dict[str, Any]:
    """Check a marking-definition; return the object to store.

    Returns ``obj`` itself, or the published standard object when ``obj`` is
    a standard TLP marking whose ``created`` is spelled differently.
    """
    mid: str = obj["id"]
    extensions = obj.get("extensions")
    definition_type = obj.get("definition_type")
    definition = obj.get("definition")
    if extensions is None and (definition_type is None or definition is None):
        raise Problem(
            "marking-definition without 'extensions' must have 'definition_type' and 'definition' (STIX §7.2.1)"
        )
    if definition_type is not None and type(definition_type) is not str:
        raise Problem("property 'definition_type' must be a string")
    if definition is not None and (type(definition) is not dict or not definition):
        raise Problem("property 'definition' must be a non-empty object")
    if (definition_type is None) != (definition is None):
        raise Problem("properties 'definition_type' and 'definition' must be given together")
    if definition_type == "statement" and type(definition.get("statement")) is not str:
        raise Problem("a 'statement' marking-definition must have a string definition.statement (STIX §7.2.1.3)")
    if definition_type == "tlp" and mid not in TLP1_IDS:
        raise Problem(
            f"definition_type 'tlp' is reserved for the four TLP 1.0 marking definitions (STIX §7.2.1.4); "
            f"{mid} is not one of them"
        )
    standard = standard_marking(mid)
    if standard is None:
        if type(extensions) is dict and TLP_EXTENSION_ID in extensions:
            raise Problem(
                f"marking-definition {mid} uses the TLP 2.0 extension but is not one of the five "
                "published TLP 2.0 marking definitions"
            )
        return obj
    if not _same_content(obj, standard, created_us):
        raise Problem(
            f"marking-definition {mid} reuses the id of {standard['name']} with different content "
            "(standard TLP marking definitions must be exactly as published)"
        )
    return obj if obj == standard else standard


def _same_content(obj: dict[str, Any], standard: dict[str, Any], created_us: int | None) -> bool:
    if obj.keys() != standard.keys():
        return False
    for key, value in standard.items():
        if key == "created":
            if created_us != parse_timestamp(value):
                return False
        elif obj[key] != value or type(obj[key]) is not type(value):
            return False
    return True

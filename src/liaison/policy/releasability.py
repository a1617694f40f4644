"""Liaison's releasability marking: "releasable only to these organisations".

Published as a STIX 2.1 extension-definition (STIX §7.3) with a property-extension on
marking-definitions (§7.2.1): `releasable_to` lists organisation identity ids.  A
marking without that property is releasable to no one.  The node trusts the content of
such markings only when it defined them itself (or a local user imported them): a
marking defined by a partner could otherwise widen what we release.
"""

from __future__ import annotations

from typing import Any

EXTENSION_ID = "extension-definition--597dcfc8-69f7-40d5-aa83-b24ade99cb8d"
PUBLISHER_ID = "identity--e9d43059-503c-481e-9005-4f0e111108ec"
_STAMP = "2026-11-29T00:00:00.000Z"


def extension_definition() -> dict[str, Any]:
    """The extension-definition object that describes the marking (STIX §7.3)."""
    return {
        "type": "extension-definition", "spec_version": "2.1", "id": EXTENSION_ID,
        "created_by_ref": PUBLISHER_ID, "created": _STAMP, "modified": _STAMP,
        "name": "Liaison releasability",
        "description": "Marks content as releasable only to the organisations whose STIX "
                       "identity ids are listed in releasable_to; with no list, to no one.",
        "schema": "https://liaison.invalid/extensions/releasability/v1 — a property-extension "
                  "on marking-definition with one optional property, releasable_to: a "
                  "non-empty list of identity ids.",
        "version": "1.0.0",
        "extension_types": ["property-extension"],
    }


def publisher_identity() -> dict[str, Any]:
    return {"type": "identity", "spec_version": "2.1", "id": PUBLISHER_ID, "created": _STAMP,
            "modified": _STAMP, "name": "Liaison", "identity_class": "system"}


def releasability_marking(marking_id: str, name: str, orgs: list[str], created_by: str,
                          created: str) -> dict[str, Any]:
    """A releasability marking-definition (its list is omitted when empty: STIX §2)."""
    ext: dict[str, Any] = {"extension_type": "property-extension"}
    if orgs:
        ext["releasable_to"] = sorted(set(orgs))
    return {"type": "marking-definition", "spec_version": "2.1", "id": marking_id,
            "created": created, "created_by_ref": created_by, "name": name,
            "extensions": {EXTENSION_ID: ext}}


def releasable_to(obj: dict[str, Any]) -> frozenset[str] | None:
    """The organisations a releasability marking-definition lists; None if it is not one."""
    if obj.get("type") != "marking-definition":
        return None
    ext = (obj.get("extensions") or {}).get(EXTENSION_ID)
    if not isinstance(ext, dict):
        return None
    orgs = ext.get("releasable_to", [])
    if not isinstance(orgs, list) or not all(isinstance(o, str) for o in orgs):
        return frozenset()  # malformed: released to no one (fail closed)
    return frozenset(orgs)

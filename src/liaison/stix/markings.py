"""Standard marking definitions: TLP 1.0 (STIX §7.2.1.4) and TLP 2.0.

STIX 2.1 §7.2.1.4 defines the four TLP 1.0 marking-definition objects
(``definition_type: "tlp"``); no other object may use that definition type.
TLP 2.0 is not in the STIX spec: it is carried by the extension-definition
``extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d`` published in
oasis-open/cti-stix-common-objects (``tlp-2.0/``); see the reference digest
§2.5.  Both sets are recognised by id; TLP 1.0 WHITE is treated as TLP 2.0
CLEAR (node decision, reference §2.5).
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = [
    "TLP1_IDS",
    "TLP2_IDS",
    "TLP_EXTENSION_ID",
    "TLP_LEVELS",
    "standard_marking",
    "standard_marking_definitions",
    "tlp_level_of_marking",
    "tlp_rank",
]

#: TLP 1.0 marking-definition ids (STIX 2.1 §7.2.1.4) -> colour.
TLP1_IDS: dict[str, str] = {
    "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": "white",
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": "green",
    "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": "amber",
    "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": "red",
}

#: TLP 2.0 marking-definition ids (cti-stix-common-objects tlp-2.0) -> level.
TLP2_IDS: dict[str, str] = {
    "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": "clear",
    "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": "green",
    "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": "amber",
    "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": "amber+strict",
    "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": "red",
}

#: The extension-definition that carries TLP 2.0 markings.
TLP_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

#: TLP 2.0 levels from least to most restrictive.
TLP_LEVELS: tuple[str, ...] = ("clear", "green", "amber", "amber+strict", "red")

_RANK = {level: n for n, level in enumerate(TLP_LEVELS)}
_TLP1_TO_LEVEL = {"white": "clear", "green": "green", "amber": "amber", "red": "red"}
_LEVEL_OF_ID: dict[str, str] = {
    **{mid: _TLP1_TO_LEVEL[colour] for mid, colour in TLP1_IDS.items()},
    **TLP2_IDS,
}
_TLP2_NAMES = {
    "clear": "TLP:CLEAR",
    "green": "TLP:GREEN",
    "amber": "TLP:AMBER",
    "amber+strict": "TLP:AMBER+STRICT",
    "red": "TLP:RED",
}


def tlp_rank(level: str) -> int:
    """Position of a TLP 2.0 level in :data:`TLP_LEVELS` (clear = 0 ... red = 4).

    Raises ``ValueError`` for an unknown level (fail closed: callers must not
    guess a rank).
    """
    try:
        return _RANK[level]
    except (KeyError, TypeError):
        raise ValueError(f"unknown TLP level {level!r} (expected one of {', '.join(TLP_LEVELS)})") from None


def tlp_level_of_marking(marking_id: str) -> str | None:
    """TLP 2.0 level of a standard TLP marking id (1.0 or 2.0), else None.

    TLP 1.0 WHITE maps to ``"clear"``; GREEN/AMBER/RED keep their names.
    """
    return _LEVEL_OF_ID.get(marking_id)


def _tlp1(marking_id: str, colour: str) -> dict[str, Any]:
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": marking_id,
        "created": "2017-01-20T00:00:00.000Z",
        "definition_type": "tlp",
        "name": f"TLP:{colour.upper()}",
        "definition": {"tlp": colour},
    }


def _tlp2(marking_id: str, level: str) -> dict[str, Any]:
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": marking_id,
        "created": "2022-10-01T00:00:00.000Z",
        "name": _TLP2_NAMES[level],
        "extensions": {
            TLP_EXTENSION_ID: {
                "extension_type": "property-extension",
                "tlp_2_0": level,
            }
        },
    }


_STANDARD: tuple[dict[str, Any], ...] = tuple(
    [_tlp1(mid, colour) for mid, colour in TLP1_IDS.items()]
    + [_tlp2(mid, level) for mid, level in TLP2_IDS.items()]
)
_STANDARD_BY_ID: dict[str, dict[str, Any]] = {m["id"]: m for m in _STANDARD}


def standard_marking_definitions() -> list[dict[str, Any]]:
    """The nine standard TLP marking-definition objects, as published.

    TLP 1.0 WHITE, GREEN, AMBER, RED (STIX §7.2.1.4) then TLP 2.0 CLEAR,
    GREEN, AMBER, AMBER+STRICT, RED.  Fresh copies: callers may mutate them.
    """
    return copy.deepcopy(list(_STANDARD))


def standard_marking(marking_id: str) -> dict[str, Any] | None:
    """A fresh copy of the standard object for a TLP marking id, else None."""
    found = _STANDARD_BY_ID.get(marking_id)
    return copy.deepcopy(found) if found is not None else None

"""A small fictional bundle for the web UI tests: an actor, malware, indicators with
observables, relationships between them, a sighting, mixed TLP markings."""

from __future__ import annotations

import json
from typing import Any

TLP = {
    "clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
T0 = "2026-03-01T10:00:00.000Z"
T1 = "2026-03-05T10:00:00.000Z"

ACTOR = "threat-actor--6b1c3a7e-1f2d-4e5a-9b3c-2d4e5f6a7b01"
MALWARE = "malware--7c2d4b8f-2a3e-4f6b-8c4d-3e5f6a7b8c02"
IND_IP = "indicator--8d3e5c9a-3b4f-4a7c-9d5e-4f6a7b8c9d03"
IND_DOMAIN = "indicator--9e4f6dab-4c5a-4b8d-8e6f-5a7b8c9d0e04"
IND_HASH = "indicator--af5a7ebc-5d6b-4c9e-9f7a-6b8c9d0e1f05"
IPV4 = "ipv4-addr--b06b8fcd-6e7c-5dae-8a8b-7c9d0e1f2a06"
DOMAIN = "domain-name--c17c9ade-7f8d-5ebf-9b9c-8d0e1f2a3b07"
REL_USES = "relationship--d28daebf-8a9e-4fc0-8cad-9e1f2a3b4c08"
REL_IND1 = "relationship--e39ebfc0-9baf-40d1-9dbe-af2a3b4c5d09"
REL_IND2 = "relationship--f4afc0d1-acb0-41e2-8ecf-b03b4c5d6e10"
SIGHTING = "sighting--05b0d1e2-bdc1-42f3-9fd0-c14c5d6e7f11"
IDENTITY = "identity--16c1e2f3-ced2-4304-a0e1-d25d6e7f8a12"

IP_VALUE = "198.51.100.23"
DOMAIN_VALUE = "border-relay.example"
HASH_VALUE = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def _base(kind: str, oid: str, tlp: str | None, **props: Any) -> dict[str, Any]:
    obj = {"type": kind, "spec_version": "2.1", "id": oid, "created": T0, "modified": T0}
    if tlp:
        obj["object_marking_refs"] = [TLP[tlp]]
    obj.update(props)
    return obj


def objects() -> list[dict[str, Any]]:
    return [
        _base("identity", IDENTITY, "green", name="Border Guard Service (fictional)",
              identity_class="organization"),
        _base("threat-actor", ACTOR, "amber", name="Sand Viper",
              description="A fictional group probing border-crossing systems.\n\n"
                          "Active since 2025.", threat_actor_types=["crime-syndicate"],
              aliases=["SV-1"], labels=["border"]),
        _base("malware", MALWARE, "amber", name="GateKeeper loader", is_family=True,
              malware_types=["remote-access-trojan"]),
        _base("indicator", IND_IP, "green", name="Relay address",
              pattern=f"[ipv4-addr:value = '{IP_VALUE}']", pattern_type="stix",
              valid_from=T0, indicator_types=["malicious-activity"]),
        _base("indicator", IND_DOMAIN, "red", name="Relay domain",
              pattern=f"[domain-name:value = '{DOMAIN_VALUE}']", pattern_type="stix",
              valid_from=T0),
        _base("indicator", IND_HASH, "clear", name="Loader hash",
              pattern=f"[file:hashes.'SHA-256' = '{HASH_VALUE}']", pattern_type="stix",
              valid_from=T0),
        {"type": "ipv4-addr", "spec_version": "2.1", "id": IPV4, "value": IP_VALUE,
         "object_marking_refs": [TLP["green"]]},
        {"type": "domain-name", "spec_version": "2.1", "id": DOMAIN, "value": DOMAIN_VALUE},
        _base("relationship", REL_USES, "amber", relationship_type="uses",
              source_ref=ACTOR, target_ref=MALWARE),
        _base("relationship", REL_IND1, "green", relationship_type="indicates",
              source_ref=IND_IP, target_ref=MALWARE),
        _base("relationship", REL_IND2, "amber", relationship_type="indicates",
              source_ref=IND_HASH, target_ref=MALWARE),
        _base("sighting", SIGHTING, "amber", sighting_of_ref=IND_IP, count=3,
              where_sighted_refs=[IDENTITY]),
        # a second version of the actor: what changed is shown on its page
        _base("threat-actor", ACTOR, "amber", name="Sand Viper",
              description="A fictional group probing border-crossing systems.\n\n"
                          "Active since 2025.", threat_actor_types=["crime-syndicate"],
              aliases=["SV-1", "Dune Adder"], labels=["border", "priority"], modified=T1),
    ]


def bundle() -> bytes:
    return json.dumps({"type": "bundle", "id": "bundle--2b1d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f",
                       "objects": objects()}, indent=1).encode()

"""Valid STIX 2.1 examples of every standard type, made with python-stix2."""

from __future__ import annotations

import copy
import json
import uuid
import warnings
from typing import Any

import pytest
import stix2
from stix2 import v21

from liaison.stix.validate import InvalidObject, check_object

from liaison.stix.markings import TLP2_IDS

TS = "2024-03-01T10:00:00.000Z"
IDENTITY = v21.Identity(name="ACME CERT", identity_class="organization", created=TS, modified=TS)
EXT_ID = "extension-definition--d83fce45-ef58-4c6c-a3f4-1fbc32e98c6e"
TLP2_GREEN = next(mid for mid, level in TLP2_IDS.items() if level == "green")


def _serialize(obj: Any) -> dict[str, Any]:
    return json.loads(obj.serialize())


def _build() -> list[tuple[str, dict[str, Any]]]:
    ipv4 = v21.IPv4Address(value="198.51.100.3")
    ipv4_b = v21.IPv4Address(value="203.0.113.9")
    domain = v21.DomainName(value="bad.example.com")
    email = v21.EmailAddress(value="eve@example.com")
    file_ = v21.File(name="evil.exe", hashes={"SHA-256": "a" * 64}, extensions={"ntfs-ext": {"sid": "S-1-5-21"}})
    indicator = v21.Indicator(
        name="C2 address",
        pattern="[ipv4-addr:value = '198.51.100.3']",
        pattern_type="stix",
        valid_from="2024-01-01T00:00:00Z",
        valid_until="2025-01-01T00:00:00Z",
        labels=["malicious-activity"],
        created_by_ref=IDENTITY.id,
        object_marking_refs=[stix2.TLP_AMBER.id],
        external_references=[{"source_name": "acme", "url": "https://example.com/r/1"}],
        kill_chain_phases=[{"kill_chain_name": "mitre-attack", "phase_name": "command-and-control"}],
        granular_markings=[{"selectors": ["description"], "marking_ref": TLP2_GREEN}],
        description="seen in campaign X",
        confidence=80,
    )
    malware = v21.Malware(name="Evil", is_family=True, first_seen=TS, last_seen="2024-04-01T00:00:00Z")
    observed = v21.ObservedData(
        first_observed=TS, last_observed=TS, number_observed=3, object_refs=[ipv4.id, domain.id]
    )
    examples: list[Any] = [
        v21.AttackPattern(name="Spearphishing"),
        v21.Campaign(name="Op X", first_seen=TS, last_seen=TS),
        v21.CourseOfAction(name="Block"),
        v21.Grouping(context="suspicious-activity", object_refs=[indicator.id, malware.id]),
        IDENTITY,
        v21.Incident(name="Breach 7"),
        indicator,
        v21.Infrastructure(name="C2 cluster", first_seen=TS),
        v21.IntrusionSet(name="APT-Z"),
        v21.Location(region="northern-europe"),
        v21.Location(latitude=48.8566, longitude=2.3522, precision=1000.0),
        v21.Location(country="FR"),
        malware,
        v21.Malware(is_family=False),
        v21.MalwareAnalysis(product="sandbox", result="malicious"),
        v21.MalwareAnalysis(product="sandbox", analysis_sco_refs=[file_.id]),
        v21.Note(content="see also", object_refs=[indicator.id]),
        observed,
        v21.Opinion(opinion="agree", object_refs=[indicator.id]),
        v21.Report(name="Weekly", published=TS, object_refs=[indicator.id, malware.id]),
        v21.ThreatActor(name="Eve", threat_actor_types=["criminal"]),
        v21.Tool(name="nmap"),
        v21.Vulnerability(name="CVE-2024-0001"),
        v21.Relationship(source_ref=indicator.id, relationship_type="indicates", target_ref=malware.id),
        v21.Sighting(
            sighting_of_ref=indicator.id,
            observed_data_refs=[observed.id],
            where_sighted_refs=[IDENTITY.id],
            count=2,
        ),
        v21.Artifact(payload_bin="aGVsbG8=", mime_type="text/plain"),
        v21.AutonomousSystem(number=64496),
        v21.Directory(path="C:\\Windows", ctime=TS),
        domain,
        email,
        v21.EmailMessage(is_multipart=False, from_ref=email.id, subject="hi", date=TS),
        file_,
        ipv4,
        v21.IPv6Address(value="2001:db8::1"),
        v21.MACAddress(value="00:00:5e:00:53:af"),
        v21.Mutex(name="Global\\evil"),
        v21.NetworkTraffic(protocols=["tcp"], src_ref=ipv4.id, dst_ref=ipv4_b.id, dst_port=443, start=TS),
        v21.Process(pid=4242, command_line="evil.exe -x"),
        v21.Software(name="Word", vendor="Microsoft", version="16"),
        v21.URL(value="https://bad.example.com/x"),
        v21.UserAccount(user_id="1001", account_login="eve", account_created=TS),
        v21.WindowsRegistryKey(key="HKEY_LOCAL_MACHINE\\Software\\Evil", modified_time=TS),
        v21.X509Certificate(serial_number="01:02", validity_not_before=TS),
        v21.LanguageContent(object_ref=indicator.id, contents={"fr": {"name": "adresse C2"}}),
        v21.ExtensionDefinition(
            created_by_ref=IDENTITY.id,
            name="acme-ext",
            schema="https://example.com/schema.json",
            version="1.0.0",
            extension_types=["property-extension"],
        ),
        v21.MarkingDefinition(definition_type="statement", definition={"statement": "Copyright ACME"}),
        stix2.TLP_GREEN,
    ]
    return [(f"{o['type']}#{n}", _serialize(o)) for n, o in enumerate(examples)]


#: (label, dict) for every example (do not mutate: use example()/example_params()).
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # stix2 deprecation noise
    EXAMPLES = _build()


def example(type_name: str) -> dict[str, Any]:
    """A fresh copy of the first example of ``type_name``."""
    for _, obj in EXAMPLES:
        if obj["type"] == type_name:
            return copy.deepcopy(obj)
    raise KeyError(type_name)


def example_params() -> list[Any]:
    return [pytest.param(copy.deepcopy(obj), id=label) for label, obj in EXAMPLES]


def new_id(t: str) -> str:
    return f"{t}--{uuid.uuid4()}"


def rejected(obj: Any, *words: str) -> InvalidObject:
    """Assert check_object refuses ``obj`` with a message holding ``words``."""
    with pytest.raises(InvalidObject) as info:
        check_object(obj)
    for word in words:
        assert word in info.value.message, info.value.message
    return info.value


def sdo(t: str = "indicator", **props: Any) -> dict[str, Any]:
    obj = example(t)
    obj.update(props)
    return obj

"""Per-type tables of the STIX 2.1 object catalogue (reference digest §2.4).

Categories (STIX 2.1 §4 SDOs, §5 SROs, §6 SCOs, §7 SMOs) and, per standard
type, the type-specific rules :mod:`liaison.stix.validate` enforces:
required properties with their JSON kind, timestamp-valued properties,
ordering constraints between timestamps, "at least one of" and "at most one
of" groups, integer ranges and the allowed target types of some references.
Sources: the property tables of the STIX 2.1 OS (§4.1-§4.19, §5.1-§5.2,
§6.1-§6.18, §7.1-§7.3), cross-checked with python-stix2 3.0.2.

Deliberately liberal where the spec text and its errata disagree (grouping
``name`` optional; malware ``is_family`` required, as in the OS).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "EXTENSION_TYPES",
    "PREDEFINED_SCO_EXTENSIONS",
    "RULES",
    "SCO_TYPES",
    "SDO_TYPES",
    "SMO_TYPES",
    "SRO_TYPES",
    "TypeRules",
]

#: STIX 2.1 §4: STIX Domain Objects.
SDO_TYPES: frozenset[str] = frozenset(
    {
        "attack-pattern", "campaign", "course-of-action", "grouping", "identity",
        "incident", "indicator", "infrastructure", "intrusion-set", "location",
        "malware", "malware-analysis", "note", "observed-data", "opinion",
        "report", "threat-actor", "tool", "vulnerability",
    }
)  # fmt: skip
#: STIX 2.1 §5: STIX Relationship Objects.
SRO_TYPES: frozenset[str] = frozenset({"relationship", "sighting"})
#: STIX 2.1 §6: STIX Cyber-observable Objects.
SCO_TYPES: frozenset[str] = frozenset(
    {
        "artifact", "autonomous-system", "directory", "domain-name", "email-addr",
        "email-message", "file", "ipv4-addr", "ipv6-addr", "mac-addr", "mutex",
        "network-traffic", "process", "software", "url", "user-account",
        "windows-registry-key", "x509-certificate",
    }
)  # fmt: skip
#: STIX 2.1 §7: STIX Meta Objects.
SMO_TYPES: frozenset[str] = frozenset({"marking-definition", "language-content", "extension-definition"})

#: STIX 2.1 §7.3: values of ``extension_type`` / ``extension_types``.
EXTENSION_TYPES: frozenset[str] = frozenset(
    {"new-sdo", "new-sco", "new-sro", "property-extension", "toplevel-property-extension"}
)

#: STIX 2.1 §6: predefined SCO extensions, keyed by name, no ``extension_type``.
PREDEFINED_SCO_EXTENSIONS: frozenset[str] = frozenset(
    {
        "archive-ext", "ntfs-ext", "pdf-ext", "raster-image-ext", "windows-pebinary-ext",
        "http-request-ext", "icmp-ext", "socket-ext", "tcp-ext", "windows-process-ext",
        "windows-service-ext", "unix-account-ext",
    }
)  # fmt: skip

#: JSON kinds used in ``TypeRules.required``.
KIND_STRING = "string"
KIND_BOOLEAN = "boolean"
KIND_INTEGER = "integer"
KIND_LIST = "list"
KIND_DICT = "dict"
KIND_TIMESTAMP = "timestamp"
KIND_ID = "identifier"
KIND_IDS = "list of identifiers"


@dataclass(frozen=True, slots=True)
class TypeRules:
    """Type-specific rules for one standard STIX type."""

    required: tuple[tuple[str, str], ...] = ()
    """(property, kind) pairs that must be present."""
    timestamps: tuple[str, ...] = ()
    """Timestamp-valued properties besides created/modified."""
    order: tuple[tuple[str, str, bool], ...] = ()
    """(earlier, later, strict): ``later`` must be >= (or > if strict) ``earlier``."""
    one_of: tuple[tuple[str, ...], ...] = ()
    """Groups of which at least one property must be present."""
    exclusive: tuple[tuple[str, ...], ...] = ()
    """Groups of which at most one property may be present."""
    int_ranges: tuple[tuple[str, int, int], ...] = ()
    """(property, min, max) for integer properties."""
    ref_types: tuple[tuple[str, frozenset[str]], ...] = ()
    """(reference property, allowed object types of its target(s))."""


_NAME = (("name", KIND_STRING),)
_SEEN = ("first_seen", "last_seen")
_SEEN_ORDER = (("first_seen", "last_seen", False),)
_OBJECT_REFS = ("object_refs", KIND_IDS)
_FILE_TIMES = ("ctime", "mtime", "atime")

RULES: dict[str, TypeRules] = {
    # §4 SDOs
    "attack-pattern": TypeRules(required=_NAME),
    "campaign": TypeRules(required=_NAME, timestamps=_SEEN, order=_SEEN_ORDER),
    "course-of-action": TypeRules(required=_NAME),
    "grouping": TypeRules(required=(("context", KIND_STRING), _OBJECT_REFS)),
    "identity": TypeRules(required=_NAME),
    "incident": TypeRules(required=_NAME),
    "indicator": TypeRules(
        required=(("pattern", KIND_STRING), ("pattern_type", KIND_STRING), ("valid_from", KIND_TIMESTAMP)),
        timestamps=("valid_from", "valid_until"),
        order=(("valid_from", "valid_until", True),),
    ),
    "infrastructure": TypeRules(required=_NAME, timestamps=_SEEN, order=_SEEN_ORDER),
    "intrusion-set": TypeRules(required=_NAME, timestamps=_SEEN, order=_SEEN_ORDER),
    "location": TypeRules(),  # region | country | latitude+longitude: see validate
    "malware": TypeRules(
        required=(("is_family", KIND_BOOLEAN),), timestamps=_SEEN, order=_SEEN_ORDER
    ),  # name when is_family: see validate
    "malware-analysis": TypeRules(
        required=(("product", KIND_STRING),),
        timestamps=("submitted", "analysis_started", "analysis_ended"),
        one_of=(("result", "analysis_sco_refs"),),
    ),
    "note": TypeRules(required=(("content", KIND_STRING), _OBJECT_REFS)),
    "observed-data": TypeRules(
        required=(
            ("first_observed", KIND_TIMESTAMP),
            ("last_observed", KIND_TIMESTAMP),
            ("number_observed", KIND_INTEGER),
        ),
        timestamps=("first_observed", "last_observed"),
        order=(("first_observed", "last_observed", False),),
        one_of=(("object_refs", "objects"),),
        exclusive=(("object_refs", "objects"),),
        int_ranges=(("number_observed", 1, 999_999_999),),
    ),
    "opinion": TypeRules(required=(("opinion", KIND_STRING), _OBJECT_REFS)),
    "report": TypeRules(
        required=(("name", KIND_STRING), ("published", KIND_TIMESTAMP), _OBJECT_REFS),
        timestamps=("published",),
    ),
    "threat-actor": TypeRules(required=_NAME, timestamps=_SEEN, order=_SEEN_ORDER),
    "tool": TypeRules(required=_NAME),
    "vulnerability": TypeRules(required=_NAME),
    # §5 SROs
    "relationship": TypeRules(
        required=(("relationship_type", KIND_STRING), ("source_ref", KIND_ID), ("target_ref", KIND_ID)),
        timestamps=("start_time", "stop_time"),
        order=(("start_time", "stop_time", True),),
    ),
    "sighting": TypeRules(
        required=(("sighting_of_ref", KIND_ID),),
        timestamps=_SEEN,
        order=_SEEN_ORDER,
        int_ranges=(("count", 0, 999_999_999),),
        ref_types=(
            ("observed_data_refs", frozenset({"observed-data"})),
            ("where_sighted_refs", frozenset({"identity", "location"})),
        ),
    ),
    # §6 SCOs
    "artifact": TypeRules(exclusive=(("payload_bin", "url"),)),
    "autonomous-system": TypeRules(required=(("number", KIND_INTEGER),)),
    "directory": TypeRules(required=(("path", KIND_STRING),), timestamps=_FILE_TIMES),
    "domain-name": TypeRules(required=(("value", KIND_STRING),)),
    "email-addr": TypeRules(required=(("value", KIND_STRING),)),
    "email-message": TypeRules(required=(("is_multipart", KIND_BOOLEAN),), timestamps=("date",)),
    "file": TypeRules(timestamps=_FILE_TIMES, one_of=(("hashes", "name"),)),
    "ipv4-addr": TypeRules(required=(("value", KIND_STRING),)),
    "ipv6-addr": TypeRules(required=(("value", KIND_STRING),)),
    "mac-addr": TypeRules(required=(("value", KIND_STRING),)),
    "mutex": TypeRules(required=(("name", KIND_STRING),)),
    "network-traffic": TypeRules(
        required=(("protocols", KIND_LIST),),
        timestamps=("start", "end"),
        order=(("start", "end", False),),
        one_of=(("src_ref", "dst_ref"),),
    ),
    "process": TypeRules(timestamps=("created_time",)),
    "software": TypeRules(required=(("name", KIND_STRING),)),
    "url": TypeRules(required=(("value", KIND_STRING),)),
    "user-account": TypeRules(
        timestamps=(
            "account_created",
            "account_expires",
            "credential_last_changed",
            "account_first_login",
            "account_last_login",
        )
    ),
    "windows-registry-key": TypeRules(timestamps=("modified_time",)),
    "x509-certificate": TypeRules(timestamps=("validity_not_before", "validity_not_after")),
    # §7 SMOs
    "language-content": TypeRules(
        required=(("object_ref", KIND_ID), ("contents", KIND_DICT)), timestamps=("object_modified",)
    ),
    "extension-definition": TypeRules(
        required=(
            ("name", KIND_STRING),
            ("schema", KIND_STRING),
            ("version", KIND_STRING),
            ("extension_types", KIND_LIST),
        )
    ),
    "marking-definition": TypeRules(),  # see validate
}

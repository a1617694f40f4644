"""The model layer: STIX 2.1 objects as the node stores them.

Strict JSON parsing (:mod:`.jsonparse`), timestamps (:mod:`.timestamps`),
identifiers (:mod:`.ids`), standard TLP markings (:mod:`.markings`),
canonical bytes (:mod:`.canonical`) and ingest validation
(:mod:`.validate`; per-type tables in :mod:`.catalogue`, shape plans in
:mod:`.plan`, property checks in :mod:`.properties`, marking-definition rules
in :mod:`.smo`).
Imports nothing from the rest of liaison: only the standard library,
``jiter`` and ``orjson``.
"""

from .canonical import canonical_bytes
from .ids import SCO_NAMESPACE, check_id, check_type_name
from .jsonparse import MAX_SAFE_INT, JSONError, parse_json
from .timestamps import (
    format_taxii_timestamp,
    now_us,
    parse_stix_timestamp,
    parse_taxii_timestamp,
    parse_timestamp,
)
from .validate import InvalidObject, StixObject, check_object

__all__ = [
    "MAX_SAFE_INT",
    "SCO_NAMESPACE",
    "InvalidObject",
    "JSONError",
    "StixObject",
    "canonical_bytes",
    "check_id",
    "check_object",
    "check_type_name",
    "format_taxii_timestamp",
    "now_us",
    "parse_json",
    "parse_stix_timestamp",
    "parse_taxii_timestamp",
    "parse_timestamp",
]

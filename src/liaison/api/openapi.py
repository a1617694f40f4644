"""The OpenAPI 3.1 description of the node's own endpoints (everything but TAXII).

TAXII 2.1 is described by its OASIS specification (docs/taxii.md); this document covers
Liaison's additions under `/liaison/`.  It is served at `GET /liaison/openapi.json`
(no credentials needed: it describes the interface, not the node's content) and kept
in the repository as docs/openapi.json — regenerate that file with
`python -m liaison.api.openapi > docs/openapi.json` (a test holds the two together).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from liaison import __version__

PATH = "/liaison/openapi.json"
_JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _ok(schema: dict[str, Any], description: str, media: str = _JSON) -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": schema}}}


_ERRORS = {code: {"$ref": f"#/components/responses/{name}"} for code, name in (
    ("400", "BadRequest"), ("401", "Unauthenticated"), ("403", "Forbidden"),
    ("404", "NotFound"), ("503", "Unavailable"))}


def _op(summary: str, description: str, ok: dict[str, Any], *, params: Sequence[Any] = (),
        tag: str, body: dict[str, Any] | None = None, codes: tuple[str, ...] = ("400", "401",
                                                                                 "503"),
        public: bool = False) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "description": description, "tags": [tag],
                          "parameters": list(params),
                          "responses": {"200": ok, **{c: _ERRORS[c] for c in codes}}}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {_JSON: {"schema": body}}}
    if public:
        op["security"] = []
    return op


def _q(name: str, description: str, schema: dict[str, Any] | None = None, *,
       required: bool = False, many: bool = False) -> dict[str, Any]:
    s = schema or {"type": "string"}
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": {"type": "array", "items": s} if many else s,
            **({"explode": True} if many else {})}


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string"}}


_OID = _path("oid", "A STIX identifier (type--UUID).")
_SINCE = _q("since", "Only entries at or after this date (2026-12-31) or UTC timestamp.")
_KIND = _q("kind", "What the values are, instead of guessing from their form: ipv4, ipv6, "
           "domain, url, email, mac, asn, hash (any algorithm), hash:<algorithm>, "
           "file-name, directory, mutex, windows-registry-key, user-account, x509-serial, "
           "cpe.")
_LIMIT = {"type": "integer", "minimum": 1}
_VERSIONS = _q("versions", "`last` (default): the latest version of each object; `all`: "
               "every version.", {"type": "string", "enum": ["last", "all"]})

_SCHEMAS: dict[str, Any] = {
    "Error": {"type": "object", "required": ["title", "description", "http_status"],
              "properties": {"title": {"type": "string"}, "description": {"type": "string"},
                             "http_status": {"type": "string"}}},
    "Hit": {
        "type": "object",
        "description": "One visible object version an answer names (never its body).",
        "required": ["id", "type", "version", "collection", "markings", "tlp", "origin",
                     "first_seen", "last_seen"],
        "properties": {
            "id": {"type": "string"}, "type": {"type": "string"},
            "name": {"type": ["string", "null"],
                     "description": "name, else the identifying value (SCOs)"},
            "version": {"type": "string", "description": "modified (or created)"},
            "collection": {"type": "string"}, "collection_alias": {"type": ["string", "null"]},
            "markings": {"type": "array", "items": {"type": "string"},
                         "description": "object_marking_refs"},
            "tlp": {"type": "string", "enum": ["clear", "green", "amber", "amber+strict", "red"]},
            "tlp_from": {"type": "string", "enum": ["markings", "collection default"]},
            "origin": {"type": "string", "description": "`local` (this node), a partner's "
                       "name; to a partner caller `local`, `you` or `partner`"},
            "first_seen": {"type": "string", "format": "date-time",
                           "description": "when the first version the caller may see was "
                           "added to the collection"},
            "last_seen": {"type": "string", "format": "date-time",
                          "description": "when this version was added"},
            "revoked": {"type": "boolean"}}},
    "Match": {"type": "object", "properties": {
        "kind": {"type": "string"}, "value": {"type": "string"},
        "via": {"type": "string", "enum": ["object", "pattern", "url-host"]}}},
    "LookupAnswer": {"type": "object", "required": ["value", "normalised", "kind", "seen",
                                                    "hits", "more"], "properties": {
        "value": {"type": "string", "description": "as asked"},
        "normalised": {"type": "string"}, "kind": {"type": "string"},
        "seen": {"type": "boolean", "description": "false: no visible object mentions it"},
        "hits": {"type": "array", "items": {"allOf": [_ref("Hit"), {
            "type": "object", "properties": {"matched": _ref("Match")}}]}},
        "more": {"type": "boolean"},
        "first_seen": {"type": "string", "format": "date-time"},
        "last_seen": {"type": "string", "format": "date-time"}}},
    "LookupResult": {"type": "object", "required": ["values"], "properties": {
        "values": {"type": "array", "items": _ref("LookupAnswer")}}},
    "SearchResult": {"type": "object", "required": ["query", "total", "total_capped",
                                                    "results", "more"], "properties": {
        "query": {"type": "string"},
        "total": {"type": "integer", "description": "visible matches (stops at 10,000)"},
        "total_capped": {"type": "boolean"},
        "results": {"type": "array", "items": _ref("Hit")},
        "more": {"type": "boolean"},
        "next": {"type": "string", "description": "cursor of the next page"},
        "facets": {"type": "object", "properties": {
            "type": {"type": "object", "additionalProperties": {"type": "integer"}},
            "collection": {"type": "object", "additionalProperties": {"type": "integer"}},
            "tlp": {"type": "object", "additionalProperties": {"type": "integer"}}}}}},
    "Correlation": {"type": "object", "properties": {
        "object": _ref("Hit"),
        "collections": {"type": "array", "items": {"type": "string"}},
        "observables": {"type": "array", "items": {"allOf": [_ref("Match"), {
            "type": "object", "properties": {"shared_with": {"type": "integer"},
                                             "more": {"type": "boolean"}}}]}},
        "shared": {"type": "array", "items": {"allOf": [_ref("Hit"), {
            "type": "object", "properties": {"shared": {"type": "array",
                                                        "items": _ref("Match")}}}]}},
        "shared_more": {"type": "boolean"},
        "relationships": {"type": "array", "items": {"allOf": [_ref("Hit"), {
            "type": "object", "properties": {
                "relationship_type": {"type": "string"},
                "direction": {"type": "string", "enum": ["outgoing", "incoming"]},
                "other": {"type": "object", "properties": {
                    "id": {"type": "string"}, "type": {"type": "string"},
                    "name": {"type": ["string", "null"]}}}}}]}},
        "relationships_more": {"type": "boolean"}}},
    "Explanation": {"type": "object", "properties": {
        "object": {"type": "string"}, "partner": {"type": "string"},
        "explanations": {"type": "array", "items": {"type": "object", "properties": {
            "collection": {"type": "string"},
            "result": {"type": "string", "enum": ["RELEASED", "WITHHELD"]},
            "rules": {"type": "array", "items": {"type": "object", "properties": {
                "rule": {"type": "string"}, "passed": {"type": "boolean"},
                "detail": {"type": "string"}}}}}}}}},
    "AuditEntry": {"type": "object", "properties": {
        "seq": {"type": "integer"}, "at": {"type": "integer",
                                           "description": "microseconds since the epoch"},
        "request_id": {"type": "string"}, "actor_id": {"type": "string"},
        "actor_name": {"type": "string"}, "org": {"type": "string"},
        "action": {"type": "string"}, "target": {"type": "string"},
        "result": {"type": "string"}, "details": {"type": "object"},
        "prev_hash": {"type": "string"}, "hash": {"type": "string"}}},
    "AuditLog": {"type": "object", "properties": {
        "entries": {"type": "array", "items": _ref("AuditEntry")},
        "more": {"type": "boolean"}, "next_after": {"type": ["integer", "null"]}}},
    "Verification": {"type": "object", "properties": {
        "ok": {"type": "boolean"}, "entries": {"type": "integer"},
        "head_seq": {"type": "integer"},
        "break": {"type": ["object", "null"], "properties": {
            "seq": {"type": "integer"}, "reason": {"type": "string"}}},
        "checkpoints": {"type": "array", "items": {"type": "string"}}}},
    "Received": {"type": "object", "properties": {
        "object": {"type": "string"},
        "received": {"type": "array", "items": {"type": "object", "properties": {
            "partner": {"type": "string"}, "org": {"type": "string"},
            "version": {"type": "string"}, "at": {"type": "string"},
            "agreements": {"type": "array", "items": {"type": "string"}},
            "channel": {"type": "string"}, "kind": {"type": "string"},
            "collection": {"type": "string"}, "request_id": {"type": "string"},
            "seq": {"type": "integer"}}}}}},
    "Checkpoint": {"type": "object", "properties": {
        "format": {"type": "string"}, "node_id": {"type": "string"}, "seq": {"type": "integer"},
        "hash": {"type": "string"}, "at": {"type": "integer"},
        "public_key": {"type": "string"}, "signature": {"type": "string"}}},
}

_ADMIN = ("400", "401", "403", "503")


def _paths() -> dict[str, Any]:
    lookup_params = [_KIND, _q("limit", "Most objects per value (default 20, at most 500).",
                               _LIMIT), _VERSIONS]
    return {
        "/liaison/lookup/": {
            "get": _op("Look up one or more values",
                       "For each value (re-fanged, recognised and normalised: addresses and "
                       "CIDR blocks, domains, URLs, e-mail addresses, hashes, …) the visible "
                       "objects that mention it, newest first; an address also meets the "
                       "blocks that contain it, a block what lies inside it.  Unknown values "
                       "come back with `seen` false.",
                       _ok(_ref("LookupResult"), "one answer per value, in order"),
                       params=[_q("value", "A value to look up (repeat for several).",
                                  required=True, many=True), *lookup_params], tag="search"),
            "post": _op("Look up a batch of values",
                        "As GET, with up to 10,000 values in a JSON body.",
                        _ok(_ref("LookupResult"), "one answer per value, in order"),
                        tag="search", codes=("400", "401", "503"), body={
                            "type": "object", "required": ["values"], "properties": {
                                "values": {"type": "array", "maxItems": 10000,
                                           "items": {"type": "string"}},
                                "kind": {"type": "string"}, "limit": _LIMIT,
                                "versions": {"type": "string", "enum": ["last", "all"]}}})},
        "/liaison/search/": {"get": _op(
            "Full-text search",
            "Ranked search over names, aliases, descriptions, labels, patterns, external ids "
            "and observable values of the objects the caller may see.  Query language: "
            "words (all must match), \"quoted phrases\", prefix*, a OR b, -excluded, "
            "filters type:, tlp:, from:, collection:, after:, before:, added>=… "
            "(docs/search.md).  The newest 10,000 visible matches are ranked and counted "
            "(total_capped says there are more; pages stop there too).",
            _ok(_ref("SearchResult"), "one page of results"),
            params=[_q("q", "The query.", required=True),
                    _q("limit", "Results per page (default 20, at most 200).", _LIMIT),
                    _q("next", "The cursor of the previous page (`next`)."),
                    _q("facets", "Also count by type, collection and TLP.",
                       {"type": "boolean"}),
                    _q("sort", "`relevance` (default) or `newest`.",
                       {"type": "string", "enum": ["relevance", "newest"]}), _VERSIONS],
            tag="search")},
        "/liaison/objects/{oid}/correlations/": {"get": _op(
            "Correlate an object",
            "The visible objects that share an observable value with the object, and the "
            "relationships and sightings around it, computed from the index at query time.",
            _ok(_ref("Correlation"), "the correlations"),
            params=[_OID, _q("collection", "Only this collection (id or alias)."),
                    _q("limit", "Most objects per list (default 50, at most 500).", _LIMIT)],
            tag="search", codes=("400", "401", "404", "503"))},
        "/liaison/policy/explain/{oid}/": {"get": _op(
            "Explain a release decision",
            "Why an object is or is not released to a partner, per collection (admins).",
            _ok(_ref("Explanation"), "the decision in words"),
            params=[_OID, _q("partner", "The partner's name.", required=True),
                    _q("collection", "Only this collection (id or alias).")],
            tag="policy", codes=_ADMIN)},
        "/liaison/audit/log/": {"get": _op(
            "Read the audit log", "Entries matching every filter, oldest first (admins).",
            _ok(_ref("AuditLog"), "a page of entries"),
            params=[_SINCE, _q("actor", "Actor name or id."),
                    _q("action", "An action, or a prefix with * (release, auth.*)."),
                    _q("after", "Entries after this sequence number.", {"type": "integer"}),
                    _q("limit", "Entries per page (default 100, at most 1000).", _LIMIT)],
            tag="audit", codes=_ADMIN)},
        "/liaison/audit/verify/": {"get": _op(
            "Verify the audit chain", "Walk the whole chain against its recorded head.",
            _ok(_ref("Verification"), "the verification"), tag="audit", codes=_ADMIN)},
        "/liaison/audit/who-received/{oid}/": {"get": _op(
            "Who received an object", "Every release of any version of the object.",
            _ok(_ref("Received"), "the releases"), params=[_OID], tag="audit",
            codes=_ADMIN)},
        "/liaison/audit/checkpoint/": {"get": _op(
            "A signed checkpoint", "The head of the chain, signed with the node's key.",
            _ok(_ref("Checkpoint"), "the checkpoint"), tag="audit", codes=_ADMIN)},
        "/liaison/audit/pubkey/": {"get": _op(
            "The checkpoint key", "The public key that verifies this node's checkpoints.",
            _ok({"type": "object", "properties": {"public_key": {"type": "string"}}},
                "the key"), tag="audit", codes=_ADMIN)},
        "/liaison/audit/export/": {"get": _op(
            "Export the audit log", "Every entry (with its hashes) as JSON lines, streamed.",
            _ok(_ref("AuditEntry"), "one entry per line", "application/x-ndjson"),
            params=[_SINCE], tag="audit", codes=_ADMIN)},
        PATH: {"get": _op("This document", "The OpenAPI description of these endpoints.",
                          _ok({"type": "object"}, "OpenAPI 3.1"), tag="meta", codes=(),
                          public=True)},
    }


def document() -> dict[str, Any]:
    """The OpenAPI document (deterministic: the same bytes for the same version)."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "Liaison node API", "version": __version__,
                 "description": "Liaison's own JSON endpoints (TAXII 2.1 is served under "
                 "/taxii2/ and the API root /api/, as the OASIS specification says).  Same "
                 "credentials as TAXII: HTTP Basic (name, token) or a Bearer token.  Every "
                 "answer carries X-Request-ID; errors are {title, description, "
                 "http_status}.  Lookup, search and correlation answer within the caller's "
                 "rights: grants for local users, active agreements for partners."},
        "servers": [{"url": "/"}],
        "security": [{"basic": []}, {"bearer": []}],
        "tags": [{"name": "search", "description": "Observable lookup, full-text search "
                  "and correlation (docs/search.md)."},
                 {"name": "policy", "description": "Release decisions (docs/policy.md)."},
                 {"name": "audit", "description": "The tamper-evident audit log."},
                 {"name": "meta", "description": "This description."}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {"basic": {"type": "http", "scheme": "basic"},
                                "bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": _SCHEMAS,
            "responses": {name: {"description": text, "content": {
                _JSON: {"schema": _ref("Error")}}} for name, text in (
                ("BadRequest", ("A parameter or body is not usable (the description says "
                 "which).")),
                ("Unauthenticated", "No or unacceptable credentials (WWW-Authenticate)."),
                ("Forbidden", "Authenticated but not allowed (administrators only)."),
                ("NotFound", "Unknown, or not visible to the caller (indistinguishable)."),
                ("Unavailable", "The database is busy or down; try again."))}},
    }


def document_bytes() -> bytes:
    return orjson.dumps(document(), option=orjson.OPT_INDENT_2) + b"\n"


def openapi_route() -> Route:
    body = document_bytes()

    async def serve(request: Request) -> Response:
        """The OpenAPI document of the node's own endpoints."""
        return Response(body, media_type=_JSON)

    return Route(PATH, serve, methods=["GET"])


if __name__ == "__main__":  # pragma: no cover - `python -m liaison.api.openapi`
    sys.stdout.buffer.write(document_bytes())

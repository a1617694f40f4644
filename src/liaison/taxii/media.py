"""TAXII 2.1 media types and content negotiation (§1.6.8, §3.1).

Node decisions (reference §1.2): a bare `application/taxii+json` is TAXII 2.1 and is
served, never refused; `*/*`, `application/*` and a missing Accept are served too (the
HTTP meaning of "anything"); any other type, or another TAXII version, gets 406 on
Accept and 415 on Content-Type.
"""

from __future__ import annotations

from liaison.errors import NotAcceptable, UnsupportedMediaType

TAXII_21 = "application/taxii+json;version=2.1"
STIX_21 = "application/stix+json;version=2.1"


def _parse_range(item: str) -> tuple[str, dict[str, str]]:
    kind, *params = [p.strip() for p in item.split(";")]
    values: dict[str, str] = {}
    for param in params:
        name, _, value = param.partition("=")
        values[name.strip().lower()] = value.strip().strip('"')
    return kind.lower(), values


def _is_taxii21(kind: str, params: dict[str, str]) -> bool:
    return kind == "application/taxii+json" and params.get("version", "2.1") == "2.1"


def check_accept(header: str | None) -> None:
    """Raise 406 unless the Accept header admits TAXII 2.1 (§3.1)."""
    if header is None or not header.strip():
        return
    for item in header.split(","):
        if not item.strip():
            continue
        kind, params = _parse_range(item)
        if params.get("q", "1").strip() in {"0", "0.0", "0.00", "0.000"}:
            continue
        if _is_taxii21(kind, params) or kind in {"*/*", "application/*"}:
            return
    raise NotAcceptable(
        f"this server speaks {TAXII_21}; the Accept header {header!r} does not admit it"
    )


def check_content_type(header: str | None) -> None:
    """Raise 415 unless a POST body is declared as a TAXII 2.1 envelope (§3.1, §5.5)."""
    if header:
        kind, params = _parse_range(header)
        if _is_taxii21(kind, params):
            return
    raise UnsupportedMediaType(
        f"the body must be sent as Content-Type: {TAXII_21}, not {header or 'nothing'!r}"
    )

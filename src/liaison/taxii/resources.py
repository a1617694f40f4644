"""TAXII 2.1 resources as bytes (§3.6.1, §3.7, §4.1.1, §4.2.1, §5.2.1, §5.3.1, §5.8.1).

Envelopes splice the stored canonical bytes of each object; nothing is parsed and
re-serialised on a read.  Empty lists are never emitted (§2): an empty result is `{}`.
"""

from __future__ import annotations

import operator

import orjson

from liaison.exchange import CollectionView, Listing
from liaison.stix.timestamps import format_taxii_timestamp
from liaison.taxii.media import STIX_21, TAXII_21

_BODY = operator.itemgetter(3)
"""An `ObjectRow`'s body (a named tuple: item 3)."""


def _head(listing: Listing) -> bytearray:
    out = bytearray(b'{"more":')
    out += b"true" if listing.more else b"false"
    if listing.next is not None:
        out += b',"next":' + orjson.dumps(listing.next)
    return out


def envelope(listing: Listing) -> bytes:
    """An envelope (§3.7) around the stored bytes of each row."""
    if not listing.rows:
        return b"{}"
    out = _head(listing)
    out += b',"objects":['
    out += b",".join(map(_BODY, listing.rows))
    out += b"]}"
    return bytes(out)


def manifest(listing: Listing) -> bytes:
    """A manifest (§5.3.1): one record per object version."""
    if not listing.rows:
        return b"{}"
    records = [
        {"id": r.id, "date_added": format_taxii_timestamp(r.date_added), "version": r.version,
         "media_type": STIX_21}
        for r in listing.rows
    ]
    out = _head(listing)
    out += b',"objects":' + orjson.dumps(records) + b"}"
    return bytes(out)


def versions(listing: Listing) -> bytes:
    """A versions resource (§5.8.1), in ascending date_added order."""
    if not listing.rows:
        return b"{}"
    out = _head(listing)
    out += b',"versions":' + orjson.dumps([r.version for r in listing.rows]) + b"}"
    return bytes(out)


def date_headers(listing: Listing) -> dict[str, str]:
    """X-TAXII-Date-Added-First/Last (§3.2) of a non-empty page."""
    if not listing.rows:
        return {}
    return {
        "X-TAXII-Date-Added-First": format_taxii_timestamp(listing.rows[0].date_added),
        "X-TAXII-Date-Added-Last": format_taxii_timestamp(listing.rows[-1].date_added),
    }


def collection(view: CollectionView) -> dict[str, object]:
    c = view.collection
    doc: dict[str, object] = {"id": c.id, "title": c.title}
    if c.description:
        doc["description"] = c.description
    if c.alias:
        doc["alias"] = c.alias
    doc["can_read"] = view.can_read
    doc["can_write"] = view.can_write
    doc["media_types"] = [STIX_21]
    return doc


def collections(views: list[CollectionView]) -> bytes:
    if not views:
        return b"{}"
    return orjson.dumps({"collections": [collection(v) for v in views]})


def api_root(title: str, description: str, max_content_length: int) -> bytes:
    return orjson.dumps({"title": title, "description": description, "versions": [TAXII_21],
                         "max_content_length": max_content_length})


def discovery(title: str, description: str, root_url: str) -> bytes:
    return orjson.dumps({"title": title, "description": description, "default": root_url,
                         "api_roots": [root_url]})


def error(status: int, title: str, description: str) -> bytes:
    """An error message (§3.6.1); http_status is a string equal to the status code."""
    return orjson.dumps({"title": title, "http_status": str(status), "description": description})

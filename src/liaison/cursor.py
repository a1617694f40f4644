"""Stateless `next` cursors (TAXII 2.1 §3.4, §3.5 and Appendix B).

A cursor is `base64url(payload).base64url(hmac)`.  The payload names the collection,
the principal, a fingerprint of the query (every filter but `limit` and `next`, which
clients may change between pages) and the `date_added` of the last item served.  The
HMAC key lives in the database, so any server process honours any other's cursors.
A cursor never grants anything by itself: the next page is computed afresh with the
caller's current rights, so revocation takes effect on the very next request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import orjson

from liaison.errors import BadRequest

_VERSION = 1


def fingerprint(*parts: object) -> str:
    """A short digest of the query a cursor is bound to."""
    raw = orjson.dumps([list(p) if isinstance(p, tuple) else p for p in parts])
    return hashlib.sha256(raw).hexdigest()[:32]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Cursors:
    """Mints and checks cursors with one node-wide key."""

    def __init__(self, key: bytes, ttl_seconds: int) -> None:
        self._key = key
        self._ttl = ttl_seconds

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:20]

    def derive(self, purpose: str) -> bytes:
        """A node-wide key for another purpose (web sessions), derived one-way from the
        cursor key in the database: every server process derives the same one."""
        return hmac.new(self._key, b"liaison-key/" + purpose.encode(), hashlib.sha256).digest()

    def mint(self, *, collection: str, principal: str, query: str, position: int) -> str:
        payload = orjson.dumps(
            [_VERSION, collection, principal, query, position, int(time.time()) + self._ttl]
        )
        return f"{_b64(payload)}.{_b64(self._sign(payload))}"

    def open(self, token: str, *, collection: str, principal: str, query: str) -> int:
        """The position the cursor continues from; 400 if it is not valid here."""
        bad = BadRequest(
            "the 'next' value is not a cursor this node issued for this query — "
            "repeat the request without 'next' to start over"
        )
        try:
            head, _, sig = token.partition(".")
            payload = _unb64(head)
            if not hmac.compare_digest(_unb64(sig), self._sign(payload)):
                raise bad
            version, c, p, q, position, expires = orjson.loads(payload)
        except BadRequest:
            raise
        except (ValueError, TypeError, orjson.JSONDecodeError):
            raise bad from None
        if version != _VERSION or c != collection or p != principal or q != query:
            raise bad
        if not isinstance(position, int) or not isinstance(expires, int):
            raise bad
        if expires < time.time():
            raise BadRequest("the 'next' cursor has expired — repeat the request without 'next'")
        return position

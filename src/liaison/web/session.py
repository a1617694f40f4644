"""Signed, stateless web sessions (DESIGN principle 5: no server-side session state).

A session cookie is `base64url(payload).base64url(hmac)`; the payload names the
principal (id and name), when the session was issued, when it expires and a random
nonce (the seed of its CSRF token, see `csrf`).  The HMAC key is derived from the
node's key in the database (`Exchange.session_key`), so every server process honours
every other's sessions.  A cookie only says who signed in: each request re-checks that
the principal still exists and is not revoked (`Exchange.resume`), so revoking a user
ends its sessions at once.  A visitor who has not signed in gets an *anonymous*
session (empty principal) so that the sign-in form, too, carries a CSRF token.

Cookie attributes (ASVS V3): HttpOnly, SameSite=Strict, Path=/, Secure when the node
is reached over https; no Max-Age for anonymous sessions.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import orjson

COOKIE = "liaison_session"
VERSION = 1
SESSION_SECONDS = 8 * 3600
"""A signed-in session lasts at most this long (then the user signs in again)."""
ANONYMOUS_SECONDS = 2 * 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Session:
    """What a valid cookie says (the principal is still to be re-checked)."""

    principal_id: str
    name: str
    issued_at: int
    expires_at: int
    nonce: str

    @property
    def signed_in(self) -> bool:
        return bool(self.principal_id)


class Sessions:
    """Issues and opens session cookies with one key."""

    def __init__(self, key: bytes, seconds: int = SESSION_SECONDS,
                 anonymous_seconds: int = ANONYMOUS_SECONDS) -> None:
        self._key = key
        self.seconds = seconds
        self.anonymous_seconds = anonymous_seconds

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self._key, b"session|" + payload, hashlib.sha256).digest()

    def issue(self, principal_id: str, name: str, now: int) -> tuple[str, Session]:
        """A fresh session (new nonce) for a principal, or anonymous with empty ids;
        `now` in seconds since the epoch."""
        ttl = self.seconds if principal_id else self.anonymous_seconds
        session = Session(principal_id, name, now, now + ttl, secrets.token_urlsafe(16))
        payload = orjson.dumps([VERSION, session.principal_id, session.name,
                                session.issued_at, session.expires_at, session.nonce])
        return f"{_b64(payload)}.{_b64(self._sign(payload))}", session

    def open(self, cookie: str | None, now: int) -> Session | None:
        """The session a cookie carries, or None if it is absent, forged, malformed or
        expired."""
        if not cookie or cookie.count(".") != 1 or len(cookie) > 4096:
            return None
        head, sig = cookie.split(".")
        try:
            payload = _unb64(head)
            if not hmac.compare_digest(_unb64(sig), self._sign(payload)):
                return None
            version, pid, name, issued, expires, nonce = orjson.loads(payload)
        except (ValueError, TypeError, orjson.JSONDecodeError):
            return None
        if (version != VERSION or not isinstance(pid, str) or not isinstance(name, str)
                or not isinstance(issued, int) or not isinstance(expires, int)
                or not isinstance(nonce, str)):
            return None
        if expires <= now or issued > now + 300:
            return None
        return Session(pid, name, issued, expires, nonce)


def cookie_attributes(secure: bool, max_age: int | None) -> dict[str, object]:
    """Keyword arguments for `Response.set_cookie`."""
    return {"httponly": True, "samesite": "strict", "secure": secure, "path": "/",
            "max_age": max_age}

"""CSRF protection (OWASP "synchronizer token", stateless variant).

Every form carries a hidden `csrf_token` derived by HMAC from the session it is shown
in (its nonce and principal), with the session key.  Every POST must carry the token
of the session cookie it arrives with — in the form field, or in the `X-CSRF-Token`
header for script calls — or it is refused before anything runs.  A new session (sign
in, sign out) gets a new nonce, so tokens from before do not carry over.  SameSite=
Strict cookies and an Origin check are further layers, not the defence itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from liaison.web.session import Session

FIELD = "csrf_token"
HEADER = "x-csrf-token"


def token_for(key: bytes, session: Session) -> str:
    """The CSRF token of a session."""
    mac = hmac.new(key, f"csrf|{session.nonce}|{session.principal_id}".encode(),
                   hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:24]).decode("ascii")


def check(key: bytes, session: Session | None, presented: str | None) -> bool:
    """True when `presented` is the token of `session` (constant-time comparison)."""
    if session is None or not presented:
        return False
    return hmac.compare_digest(token_for(key, session).encode(), presented.encode())


def same_origin(origin: str | None, host_url: str) -> bool:
    """False only when the browser names another origin (an absent header passes:
    the token is the defence; this is a second layer)."""
    if not origin:
        return True
    return origin.rstrip("/") == host_url.rstrip("/")

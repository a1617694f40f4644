"""Credentials: random bearer tokens, stored only as a hash.

Tokens carry 256 bits of randomness, so a fast hash (SHA-256) is as safe as a slow one
against guessing and keeps every request to one indexed lookup; the plain token is
shown once, when it is created.
"""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "lsn_"


def new_token() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()

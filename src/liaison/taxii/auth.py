"""Who is calling: HTTP credentials to a principal, for every HTTP face.

TAXII 2.1 §1.6.9 and §8.2.2: HTTP Basic (the token as password, what taxii2-client
sends) or a Bearer token.  Every refusal is recorded in the audit through the exchange;
on success the principal becomes the audit actor of the request.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from contextlib import contextmanager

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from liaison.audit.context import Actor, acting, set_actor
from liaison.errors import Unauthenticated
from liaison.exchange import Exchange
from liaison.storage.base import Principal


def credentials(request: Request) -> tuple[str | None, str]:
    """(name, token) from the Authorization header; 401 when absent or malformed."""
    header = request.headers.get("authorization")
    if not header:
        raise Unauthenticated("this node requires credentials: HTTP Basic (name and token) "
                              "or a Bearer token")
    scheme, _, value = header.partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer" and value.strip():
        return None, value.strip()
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise Unauthenticated("the Basic credentials are not valid base64 UTF-8") from None
        name, sep, token = decoded.partition(":")
        if sep:
            return name, token
    raise Unauthenticated("unsupported Authorization header: use Basic or Bearer")


@contextmanager
def anonymous(request: Request) -> Iterator[str]:
    """Run a request as an anonymous caller until it authenticates; yields its id."""
    client = request.client.host if request.client else "unknown"
    with acting(Actor(f"anonymous@{client}", f"anonymous@{client}", kind="anonymous")) as rid:
        yield rid


def login(exchange: Exchange, name: str | None, token: str) -> Principal:
    """The principal holding the credentials, made the audit actor of the calling
    context (blocking: runs in a worker thread); refusals are recorded."""
    who = exchange.authenticate(token, name)
    set_actor(exchange.actor(who))
    return who


async def checked_credentials(request: Request, exchange: Exchange) -> tuple[str | None, str]:
    """`credentials`, with a refusal recorded in the audit log before the 401."""
    try:
        return credentials(request)
    except Unauthenticated as exc:
        await run_in_threadpool(exchange.refused_credentials, exc.message)
        raise


async def authenticate(request: Request, exchange: Exchange) -> Principal:
    """The calling principal, made the audit actor of the request; refusals recorded."""
    return await sign_in(exchange, await checked_credentials(request, exchange))


async def sign_in(exchange: Exchange, creds: tuple[str | None, str]) -> Principal:
    """The principal holding checked credentials, made the audit actor of the request."""
    name, token = creds

    def work() -> tuple[Principal, Actor]:
        who = exchange.authenticate(token, name)
        return who, exchange.actor(who)

    who, actor = await run_in_threadpool(work)
    set_actor(actor)
    return who

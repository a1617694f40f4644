"""Who is acting, for the audit: set by each face, read by the domain.

The TAXII and web faces set the principal and the request id at the start of every
request (inside the worker thread that runs it); the CLI sets the operating-system
user.  The domain builds its audit drafts from this, so no operation signature has to
carry them and no face can forget them: an unset context records "system".
"""

from __future__ import annotations

import getpass
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from liaison.audit.chain import AuditDraft

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Actor:
    id: str
    name: str
    org: str = ""
    kind: str = "system"


SYSTEM = Actor("system", "system")
_actor: ContextVar[Actor] = ContextVar("liaison_actor", default=SYSTEM)
_request: ContextVar[str] = ContextVar("liaison_request", default="")


def cli_actor() -> Actor:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return Actor(f"cli:{user}", f"cli:{user}", kind="cli")


@contextmanager
def acting(actor: Actor, request_id: str | None = None) -> Iterator[str]:
    """Run the block as `actor` within request `request_id` (a new one if None)."""
    rid = request_id or str(uuid.uuid4())
    a, r = _actor.set(actor), _request.set(rid)
    try:
        yield rid
    finally:
        _actor.reset(a)
        _request.reset(r)


def bound(actor: Actor, request_id: str, fn: Callable[..., T]) -> Callable[..., T]:
    """`fn` wrapped to run as `actor` (for work handed to a thread pool)."""

    def run(*args: Any, **kwargs: Any) -> T:
        with acting(actor, request_id):
            return fn(*args, **kwargs)

    return run


def current() -> Actor:
    return _actor.get()


def set_actor(actor: Actor) -> None:
    """Replace the actor of the running request (after authentication)."""
    _actor.set(actor)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` with control characters written as \\uXXXX: a value that came from a
    request (a claimed user name) cannot split a log line, drive a terminal, or carry
    a NUL that PostgreSQL text refuses (reference test 21, ASVS 16.4.1).  Details are
    JSON, escaped when encoded."""
    return _CONTROL.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def draft(action: str, target: str, *, result: str = "ok", **details: Any) -> AuditDraft:
    """An audit draft for the current actor and request."""
    a = _actor.get()
    return AuditDraft(action, printable(target), printable(a.id), printable(a.name),
                      printable(a.org), result, _request.get(), details)

"""One exception tree for the whole node.

Each class knows the HTTP status a TAXII face answers with (TAXII 2.1 §3.6) and the
exit code the CLI ends with, so no face has to translate errors by hand.  The message
is a sentence a person can act on; it never carries a traceback or a secret.
"""

from __future__ import annotations


class LiaisonError(Exception):
    """Base of every error the node reports to a person or a client."""

    http_status: int = 500
    exit_code: int = 1
    title: str = "Internal error"

    def __init__(self, message: str, *, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if title is not None:
            self.title = title


class BadRequest(LiaisonError):
    """A malformed request: bad query parameter, bad JSON, bad cursor (TAXII §3.4)."""

    http_status = 400
    exit_code = 2
    title = "Bad request"


class Unauthenticated(LiaisonError):
    """No or unacceptable credentials (TAXII §1.6.9): 401 with WWW-Authenticate."""

    http_status = 401
    exit_code = 3
    title = "Authentication required"


class Forbidden(LiaisonError):
    """Authenticated, the resource is visible, but the action is not allowed."""

    http_status = 403
    exit_code = 3
    title = "Forbidden"


class NotFound(LiaisonError):
    """Unknown — or not visible to this principal; the two are indistinguishable."""

    http_status = 404
    exit_code = 4
    title = "Not found"


class NotAcceptable(LiaisonError):
    """The Accept header names no media type this endpoint serves (TAXII §3.1)."""

    http_status = 406
    exit_code = 2
    title = "Not acceptable"


class Conflict(LiaisonError):
    """The thing already exists (a second `init`, a duplicate name or alias)."""

    http_status = 409
    exit_code = 5
    title = "Conflict"


class PayloadTooLarge(LiaisonError):
    """The body exceeds the API root's max_content_length (TAXII §4.2.1, §5.5)."""

    http_status = 413
    exit_code = 2
    title = "Payload too large"


class UnsupportedMediaType(LiaisonError):
    """The Content-Type of a POST is not a TAXII 2.1 media type (TAXII §3.1)."""

    http_status = 415
    exit_code = 2
    title = "Unsupported media type"


class Unprocessable(LiaisonError):
    """Well-formed JSON that is not a usable envelope (TAXII §5.5)."""

    http_status = 422
    exit_code = 2
    title = "Unprocessable content"


class ConfigError(LiaisonError):
    """The node home, its settings or its database are missing or wrong."""

    http_status = 500
    exit_code = 6
    title = "Configuration error"


class Unavailable(LiaisonError):
    """The store cannot serve the request right now (busy, down, needs an upgrade)."""

    http_status = 503
    exit_code = 7
    title = "Service unavailable"


class LeaseLost(Conflict):
    """A sync run lost its lease to another process: its step is rolled back, it stops."""

    title = "Sync lease lost"

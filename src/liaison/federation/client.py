"""The HTTP client the sync engine calls partners with: untrusted servers, bounded.

httpx with an injectable transport (DESIGN "Habits": tests join two nodes in one
process or script a hostile partner with `httpx.MockTransport`).  Every call has:

- timeouts: connect/read/write/pool per socket operation, and a deadline for the
  whole call (a partner that trickles a body byte by byte is cut off);
- retries with capped exponential backoff and jitter on connection errors, timeouts,
  429 and 5xx, honouring `Retry-After` (up to a cap: beyond it the run stops and
  the next run tries again); never on 401/403/404 or other 4xx;
- a bound on the bytes of every response, checked while streaming (and on
  Content-Length up front);
- no redirect to another origin (scheme, host, port): the call fails with the
  Location named; a same-origin redirect of a GET is followed, at most 3 times;
- strict JSON parsing (`stix.jsonparse`, I-JSON) of every body.

Credentials: a partner token of the form `user:password` is sent as HTTP Basic (the
TAXII §8.5.1 MUST, e.g. for medallion); any other token as `Authorization: Bearer`.
Media types: TAXII 2.1 `Accept` (and `Content-Type` on POST), reference §1.2.
"""

from __future__ import annotations

import base64
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from liaison import __version__
from liaison.stix.jsonparse import JSONError, parse_json

TAXII_21 = "application/taxii+json;version=2.1"
USER_AGENT = f"liaison/{__version__} (federation)"
MAX_REDIRECTS = 3


@dataclass(frozen=True, slots=True)
class Limits:
    """How long, how much and how often the client tries (see `settings` sync_*)."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    call_deadline: float = 120.0
    max_response_bytes: int = 64 * 1024 * 1024
    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    retry_after_cap: float = 120.0


class PartnerError(Exception):
    """A call to a partner failed; `message` is a sentence recorded in the sync state."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Reply:
    """A successful answer: status, headers and the parsed JSON body (None if empty)."""

    status: int
    headers: Mapping[str, str]
    doc: Any
    url: str


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return (parts.scheme, (parts.hostname or "").lower(), port)


def _auth_header(token: str) -> str:
    if ":" in token:
        return "Basic " + base64.b64encode(token.encode("utf-8")).decode("ascii")
    return f"Bearer {token}"


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP-date); None if absent."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _reason(status: int, body: bytes) -> str:
    """The partner's own words for an error, if its body is a TAXII error (§3.6.1)."""
    try:
        doc = parse_json(body) if body else None
    except JSONError:
        doc = None
    if isinstance(doc, dict):
        words = [str(doc[k]) for k in ("title", "description") if isinstance(doc.get(k), str)]
        if words:
            return ": " + " — ".join(words)[:300]
    return ""


class PartnerClient:
    """Calls one partner node.  Not thread-safe: one client per sync run."""

    def __init__(self, base_url: str, token: str, *,
                 transport: httpx.BaseTransport | None = None, limits: Limits = Limits(),
                 sleep: Callable[[float], None] = time.sleep,
                 jitter: Callable[[], float] = random.random,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.base_url = base_url
        self.limits = limits
        self._origin = origin(base_url)
        self._sleep = sleep
        self._jitter = jitter
        self._clock = clock
        timeout = httpx.Timeout(limits.read_timeout, connect=limits.connect_timeout)
        self._http = httpx.Client(transport=transport, timeout=timeout, follow_redirects=False,
                                  headers={"Authorization": _auth_header(token),
                                           "User-Agent": USER_AGENT, "Accept": TAXII_21})
        self.calls = 0
        self.slept: list[float] = []

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PartnerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def same_origin(self, url: str) -> bool:
        return origin(url) == self._origin

    # -- calls ------------------------------------------------------------------
    def get(self, url: str, params: Sequence[tuple[str, str]] = ()) -> Reply:
        return self._with_retries("GET", url, params, None)

    def post(self, url: str, body: bytes) -> Reply:
        return self._with_retries("POST", url, (), body)

    def backoff(self, attempt: int) -> float:
        """Capped exponential backoff with jitter: half fixed, half random."""
        ceiling = min(self.limits.backoff_cap, self.limits.backoff_base * 2 ** (attempt - 1))
        return ceiling * (0.5 + 0.5 * self._jitter())

    def _with_retries(self, method: str, url: str, params: Sequence[tuple[str, str]],
                      body: bytes | None) -> Reply:
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._follow(method, url, params, body)
            except PartnerError as exc:
                if not exc.retryable or attempt >= self.limits.max_attempts:
                    if exc.retryable:
                        raise PartnerError(f"{exc.message} (gave up after {attempt} attempts)",
                                           status=exc.status) from None
                    raise
                delay = exc.retry_after if exc.retry_after is not None else self.backoff(attempt)
                if delay > self.limits.retry_after_cap:
                    raise PartnerError(
                        f"{exc.message}; the partner asks to retry after {delay:.0f} s, longer "
                        f"than {self.limits.retry_after_cap:.0f} s: the next run will try again",
                        status=exc.status) from None
                self.slept.append(delay)
                self._sleep(delay)

    def _follow(self, method: str, url: str, params: Sequence[tuple[str, str]],
                body: bytes | None) -> Reply:
        for _ in range(MAX_REDIRECTS + 1):
            if not self.same_origin(url):
                raise PartnerError(f"refused to call {url}: it is not on the partner's "
                                   f"origin {self.base_url}")
            status, headers, data, final = self._once(method, url, params, body)
            if 300 <= status < 400:
                location = headers.get("location")
                target = urljoin(final, location) if location else None
                if target is None or method != "GET" or not self.same_origin(target):
                    raise PartnerError(f"the partner answered {method} {url} with a redirect "
                                       f"({status}) to {location or 'nowhere'}: not followed",
                                       status=status)
                url, params = target, ()
                continue
            return self._judge(method, url, status, headers, data)
        raise PartnerError(f"more than {MAX_REDIRECTS} redirects from {url}: not followed")

    def _once(self, method: str, url: str, params: Sequence[tuple[str, str]],
              body: bytes | None) -> tuple[int, Mapping[str, str], bytes, str]:
        """One request; the body is read within the byte bound and the call deadline."""
        limit = self.limits.max_response_bytes
        deadline = self._clock() + self.limits.call_deadline
        headers = {"Content-Type": TAXII_21} if body is not None else None
        self.calls += 1
        try:
            with self._http.stream(method, url, params=list(params), content=body,
                                   headers=headers) as resp:
                declared = resp.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise PartnerError(f"the partner's answer to {method} {url} declares "
                                       f"{declared} bytes, more than the {limit} allowed")
                data = bytearray()
                for chunk in resp.iter_bytes():
                    data += chunk
                    if len(data) > limit:
                        raise PartnerError(f"the partner's answer to {method} {url} is larger "
                                           f"than the {limit} bytes allowed: cut off")
                    if self._clock() > deadline:
                        raise PartnerError(f"the partner's answer to {method} {url} took "
                                           f"longer than {self.limits.call_deadline:.0f} s",
                                           retryable=True)
                return resp.status_code, resp.headers, bytes(data), str(resp.url)
        except httpx.TimeoutException as exc:
            raise PartnerError(f"{method} {url} timed out ({type(exc).__name__})",
                               retryable=True) from None
        except httpx.TransportError as exc:
            raise PartnerError(f"{method} {url} failed: {type(exc).__name__}: {exc}",
                               retryable=True) from None

    def _judge(self, method: str, url: str, status: int, headers: Mapping[str, str],
               data: bytes) -> Reply:
        if 200 <= status < 300:
            try:
                doc = parse_json(data) if data.strip() else None
            except JSONError as exc:
                raise PartnerError(f"the partner's answer to {method} {url} is not valid "
                                   f"JSON: {exc.message}", status=status) from None
            return Reply(status, headers, doc, url)
        why = _reason(status, data)
        if status == 429 or status >= 500:
            raise PartnerError(f"{method} {url} answered {status}{why}", status=status,
                               retryable=True, retry_after=_retry_after(headers.get("retry-after")))
        hint = {401: " (check the token we call this partner with: 'liaison partner set "
                     "NAME --token …')",
                403: " (the partner's agreement does not let us do this)",
                404: " (check the partner URL and the remote collection id)"}.get(status, "")
        raise PartnerError(f"{method} {url} answered {status}{why}{hint}", status=status)

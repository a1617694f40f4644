"""Pull: GET the partner's collection page by page and store what arrives.

TAXII 2.1 §3.4/§3.5/§5.4 (reference §1.5, §1.6): `match[version]=all` so every version
arrives, `added_after` from the checkpoint, then `next` (or, when a page says `more`
without `next`, `added_after=<X-TAXII-Date-Added-Last>` as §3.5 says).

Correct under failure: each page is stored through the one door
(`Exchange.receive`: validation, the receiving policy with the partner as writer,
provenance) and the checkpoint — the page's `X-TAXII-Date-Added-Last`, the partner's
`date_added` of its last object — is written in the same transaction.  A run resumes
from `added_after = checkpoint − 1 µs`, so objects that share the checkpoint's
`date_added` on a server with ties are fetched again rather than skipped; copies of
versions already held are no-ops.

Correct under a bad partner: every answer is checked before anything is stored.
A malformed envelope, `more: true` with no objects, a page reached through `next`
that brings nothing new, `date_added` headers that go backwards (or are missing on a
non-empty page) stop the run with a recorded error; the page limit bounds a run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from liaison.exchange import Exchange
from liaison.federation.client import PartnerClient, PartnerError
from liaison.federation.remote import Remote
from liaison.federation.state import Job, Ledger, RunResult
from liaison.stix.timestamps import format_taxii_timestamp, now_us, parse_timestamp
from liaison.storage.base import SyncFailure


@dataclass(frozen=True, slots=True)
class Envelope:
    objects: list[dict[str, Any]]
    more: bool
    next: str | None
    first: int | None
    last: int | None


def _header_time(headers: Any, name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return parse_timestamp(raw.strip())
    except ValueError:
        raise PartnerError(f"the partner's {name} header {raw[:60]!r} is not a timestamp") from None


def envelope(doc: Any, headers: Any) -> Envelope:
    """Check an envelope (TAXII §3.7) and its date headers (§3.2) from an untrusted server."""
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise PartnerError("the partner's answer is not a TAXII envelope (not a JSON object)")
    objects = doc.get("objects", [])
    if not isinstance(objects, list) or not all(isinstance(o, dict) for o in objects):
        raise PartnerError("the partner's envelope has an 'objects' that is not a list of objects")
    more = doc.get("more", False)
    nxt = doc.get("next")
    if not isinstance(more, bool) or (nxt is not None and not isinstance(nxt, str)):
        raise PartnerError("the partner's envelope has a malformed 'more' or 'next'")
    first = _header_time(headers, "x-taxii-date-added-first")
    last = _header_time(headers, "x-taxii-date-added-last")
    if objects:
        last = last if last is not None else first
        first = first if first is not None else last
        if last is None or first is None:
            raise PartnerError("the partner sent objects without X-TAXII-Date-Added-First/"
                               "Last headers (TAXII §3.2): no checkpoint can be kept")
        if last < first:
            raise PartnerError("the partner's X-TAXII-Date-Added-Last is before its -First")
    return Envelope(objects, more, nxt or None, first, last)


def _versions(objects: list[dict[str, Any]]) -> frozenset[tuple[Any, Any]]:
    return frozenset((o.get("id"), o.get("modified", o.get("created"))) for o in objects)


def pull(exchange: Exchange, ledger: Ledger, client: PartnerClient, remote: Remote, job: Job,
         *, page_size: int, max_pages: int,
         on_page: Callable[[RunResult], None] | None = None,
         result: RunResult | None = None) -> RunResult:
    """One pull run (the caller holds the lease); partner errors propagate as
    `PartnerError` after the pages already stored were committed."""
    key = job.key
    result = result if result is not None else RunResult(job)
    state = ledger.state(key)
    ledger.start(key)
    after = state.checkpoint - 1 if state.checkpoint is not None else None
    url = remote.objects_url(job.remote)
    cursor: str | None = None
    floor, strict = after, True
    tied: frozenset[tuple[Any, Any]] = frozenset()
    for _ in range(max_pages):
        access = exchange.partner_access(job.partner.id, job.agreement.id, job.cid)
        if access is None or not access.can_write:
            raise PartnerError(f"agreement {job.agreement.id} no longer lets {job.partner.name} "
                               f"send to '{job.collection}': pulling stopped")
        ledger.renew(key)
        params = [("match[version]", "all"), ("limit", str(page_size))]
        if after is not None:
            params.append(("added_after", format_taxii_timestamp(after)))
        if cursor is not None:
            params.append(("next", cursor))
        reply = client.get(url, params)
        page = envelope(reply.doc, reply.headers)
        if page.more and not page.objects:
            raise PartnerError("the partner answered more: true with no objects")
        if page.objects:
            assert page.first is not None and page.last is not None
            if floor is not None and (page.first < floor or (strict and page.first == floor)):
                raise PartnerError(
                    f"the partner's date_added went backwards ({format_taxii_timestamp(page.first)}"
                    f" after {format_taxii_timestamp(floor)}): its checkpoint cannot be trusted")
            versions = _versions(page.objects)
            if page.last == floor:  # no progress in time: it must at least bring new versions
                if versions <= tied:
                    raise PartnerError("the partner's next cursor did not advance: the same "
                                       "objects came back")
                tied |= versions
            else:
                tied = versions
        result.pages += 1
        report = exchange.receive(access, job.agreement.id, page.objects, now_us(),
                                  advance=_advance(ledger, job, page, state.checkpoint))
        result.moved += report.stored
        result.failed += len(report.failures)
        if on_page is not None:
            on_page(result)
        if not page.more:
            result.caught_up = True
            return result
        floor, strict = page.last, False
        if page.next is not None:
            cursor = page.next
        else:  # §3.5: no next → same query with added_after = X-TAXII-Date-Added-Last
            cursor, after, strict = None, page.last, True
    return result


def _advance(ledger: Ledger, job: Job, page: Envelope, known: int | None) -> Callable[..., Any]:
    def make(report: Any) -> Any:
        failures = tuple(SyncFailure(f.id, f.version, f.message or "refused")
                         for f in report.failures)
        return ledger.step(job.key, checkpoint=page.last, moved=report.stored,
                           failures=failures, caught_up=not page.more,
                           run_from=page.first if known is None else None)
    return make


"""Push: POST to the partner's collection what our policy releases to it.

TAXII 2.1 §5.5 (Add Objects: 202 + status) and §4.3 (Get Status, polled until
`complete`).  What goes out is read through the one door (`Exchange.outbound`, recorded by
`Exchange.record_push` just before it is sent): the
partner's visibility under this agreement, compiled into the query like any partner
read, leaving out what came from the partner itself.  Batches are cut to the
partner's `max_content_length` (§4.2.1).

The push watermark is our `date_added` of the last object the partner *answered
for*: it moves over the longest prefix of a batch whose objects the partner's status
lists as successes, or as failures — which are recorded with the partner's message
(`liaison partner status` shows them).  An object still pending, or missing from the
status, stops the watermark there; the next run sends it again (a duplicate is a
success on a Liaison partner, TAXII reference §1.9).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from liaison.exchange import Exchange
from liaison.federation.client import PartnerClient, PartnerError
from liaison.federation.remote import Remote
from liaison.federation.state import Job, Ledger, RunResult
from liaison.stix.timestamps import parse_timestamp
from liaison.storage.base import ObjectRow, SyncFailure

STATUS_WAIT = 120.0
"""Longest time we poll a pending status resource before the run stops."""
_ENVELOPE_OVERHEAD = len(b'{"objects":[]}')


def _version_key(stix_id: Any, version: Any) -> tuple[Any, Any]:
    """Compare versions as instants when they parse (servers format them differently)."""
    try:
        return (stix_id, parse_timestamp(version))
    except ValueError:
        return (stix_id, version)


def _details(doc: dict[str, Any], name: str) -> dict[Any, str]:
    """Status details (§4.3.1) by (id, version) and, as a fallback, by id alone."""
    items = doc.get(name, [])
    if not isinstance(items, list):
        raise PartnerError(f"the partner's status has a malformed '{name}' list")
    out: dict[Any, str] = {}
    for d in items:
        if isinstance(d, dict) and isinstance(d.get("id"), str):
            message = d.get("message")
            text = message if isinstance(message, str) else ""
            out[_version_key(d["id"], d.get("version"))] = text
            out.setdefault(d["id"], text)
    return out


def _final_status(client: PartnerClient, remote: Remote, doc: Any,
                  sleep: Callable[[float], None]) -> dict[str, Any]:
    """The status resource once `complete`, or as it stands after STATUS_WAIT."""
    deadline = time.monotonic() + STATUS_WAIT
    attempt = 0
    while True:
        if not isinstance(doc, dict) or not isinstance(doc.get("id"), str):
            raise PartnerError("the partner's answer to our POST is not a TAXII status")
        if doc.get("status") == "complete" or time.monotonic() > deadline:
            return doc
        attempt += 1
        sleep(min(5.0, 0.25 * 2 ** attempt))
        doc = client.get(remote.status_url(doc["id"])).doc


def batch(rows: list[ObjectRow], max_bytes: int) -> tuple[list[ObjectRow], list[ObjectRow]]:
    """Rows that fit one envelope of at most `max_bytes` (in order), and those too big
    to send at all (only ever the first row, alone)."""
    out: list[ObjectRow] = []
    size = _ENVELOPE_OVERHEAD
    for row in rows:
        assert row.body is not None
        grow = len(row.body) + (1 if out else 0)
        if size + grow > max_bytes:
            if not out:
                return [], [row]
            break
        out.append(row)
        size += grow
    return out, []


def push(exchange: Exchange, ledger: Ledger, client: PartnerClient, remote: Remote, job: Job,
         *, page_size: int, max_pages: int, max_bytes: int,
         sleep: Callable[[float], None] = time.sleep,
         on_page: Callable[[RunResult], None] | None = None,
         result: RunResult | None = None) -> RunResult:
    """One push run (the caller holds the lease)."""
    key = job.key
    result = result if result is not None else RunResult(job)
    watermark = ledger.state(key).checkpoint
    known = watermark is not None
    ledger.start(key)
    url = remote.objects_url(job.remote)
    limit = remote.max_content_length(max_bytes)
    for _ in range(max_pages):
        access = exchange.partner_access(job.partner.id, job.agreement.id, job.cid)
        if access is None or not access.can_read:
            raise PartnerError(f"agreement {job.agreement.id} no longer lets {job.partner.name} "
                               f"read '{job.collection}': pushing stopped")
        ledger.renew(key)
        page = exchange.outbound(access, watermark, page_size)
        if not page.rows:
            ledger.commit(ledger.step(key, caught_up=True))
            result.caught_up = True
            return result
        rows, too_big = batch(page.rows, limit)
        result.pages += 1
        if too_big:
            row = too_big[0]
            failure = SyncFailure(row.id, row.version, f"larger than the partner's "
                                  f"max_content_length ({limit} bytes): not sent")
            ledger.commit(ledger.step(key, checkpoint=row.date_added, failures=(failure,)))
            watermark, result.failed = row.date_added, result.failed + 1
            continue
        body = b'{"objects":[' + b",".join(r.body for r in rows if r.body) + b"]}"
        exchange.record_push(access, rows)  # recorded before it leaves (fail closed)
        status = _final_status(client, remote, client.post(url, body).doc, sleep)
        successes, failures = _details(status, "successes"), _details(status, "failures")
        answered = _answered(rows, successes, failures)
        if answered:
            last = answered[-1][0]
            ledger.commit(ledger.step(
                key, checkpoint=last.date_added,
                moved=sum(1 for _, ok, _m in answered if ok),
                failures=tuple(SyncFailure(r.id, r.version, m or "refused by the partner")
                               for r, ok, m in answered if not ok),
                resolved=tuple((r.id, r.version) for r, ok, _m in answered if ok),
                run_from=None if known else rows[0].date_added))
            known, watermark = True, last.date_added
            result.moved += sum(1 for _, ok, _m in answered if ok)
            result.failed += sum(1 for _, ok, _m in answered if not ok)
        if on_page is not None:
            on_page(result)
        if len(answered) < len(rows):
            raise PartnerError(f"the partner's status {status.get('id')} left "
                               f"{len(rows) - len(answered)} object(s) unanswered "
                               f"({status.get('status')}): they are sent again next run")
        if not page.more and len(rows) == len(page.rows):
            ledger.commit(ledger.step(key, caught_up=True))
            result.caught_up = True
            return result
    return result


def _answered(rows: list[ObjectRow], successes: dict[Any, str],
              failures: dict[Any, str]) -> list[tuple[ObjectRow, bool, str]]:
    """The longest prefix of `rows` the status answered for: (row, success, message).

    A version is matched by (id, version); an object whose id occurs once in the batch
    also by id alone (an SCO without `modified` gets its version from each server)."""
    once = {i for i, n in Counter(r.id for r in rows).items() if n == 1}
    out = []
    for row in rows:
        k = _version_key(row.id, row.version)
        if k in successes or (k not in failures and row.id in once and row.id in successes):
            out.append((row, True, ""))
        elif k in failures or (row.id in once and row.id in failures):
            out.append((row, False, failures.get(k, failures.get(row.id, ""))))
        else:
            break
    return out

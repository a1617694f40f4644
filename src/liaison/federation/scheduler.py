"""What to sync and when: one pass over every agreement, or passes at an interval.

A pass builds the jobs (`state.directions`: pull where the partner may write to us,
push where it may read from us) for partners that have a URL and a token, and runs
each under its lease: with several processes on one database (PostgreSQL, or
several `liaison serve` on one SQLite file) only one of them works on a given
(agreement, collection, direction) at a time; the others skip it for this pass.

Errors never escape a job: a partner error is recorded in the sync state (and shown
by `liaison partner status`), a lost lease ends the job, and the next job runs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from liaison.errors import LeaseLost, LiaisonError
from liaison.exchange import Exchange
from liaison.federation.client import Limits, PartnerClient, PartnerError
from liaison.federation.pull import pull
from liaison.federation.push import push
from liaison.federation.remote import Remote
from liaison.federation.state import Job, Ledger, RunResult, directions
from liaison.settings import Settings
from liaison.stix.timestamps import now_us

log = logging.getLogger("liaison.federation")


@dataclass(frozen=True, slots=True)
class Options:
    page_size: int = 1000
    max_pages: int = 1000
    max_bytes: int = 64 * 1024 * 1024
    lease_seconds: int = 300
    limits: Limits = Limits()

    @classmethod
    def from_settings(cls, conf: Settings) -> Options:
        return cls(conf.sync_page_size, conf.sync_max_pages, conf.sync_max_response_bytes,
                   conf.sync_lease_seconds,
                   Limits(read_timeout=float(conf.sync_timeout_seconds),
                          max_response_bytes=conf.sync_max_response_bytes))


def jobs(exchange: Exchange, partner_name: str | None = None) -> list[Job]:
    """Every (agreement, collection, direction) to sync now, for partners we can call."""
    partners = ([exchange.partners.get(partner_name)] if partner_name
                else exchange.partners.list())
    names = {c.cid: c.alias or c.id for c in exchange.store.list_collections()}
    now = now_us()
    out = []
    for p in partners:
        if not (p.url and p.remote_token):
            continue
        for a in exchange.store.agreements(p.id):
            if not a.active(now):
                continue
            for cid, remote in zip(a.cids, a.remote_collections, strict=False):
                if remote:
                    out.extend(Job(p, a, cid, names.get(cid, str(cid)), remote, d)
                               for d in directions(a))
    return out


class Syncer:
    """Runs sync passes for one node."""

    def __init__(self, exchange: Exchange, options: Options = Options(), *,
                 transport: httpx.BaseTransport | None = None, owner: str | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 on_page: Callable[[RunResult], None] | None = None) -> None:
        self.exchange = exchange
        self.options = options
        self.transport = transport
        self.sleep = sleep
        self.on_page = on_page
        self.ledger = Ledger(exchange.store, owner, options.lease_seconds)

    def run_once(self, partner_name: str | None = None) -> list[RunResult]:
        results: list[RunResult] = []
        by_partner: dict[str, list[Job]] = {}
        for job in jobs(self.exchange, partner_name):
            by_partner.setdefault(job.partner.id, []).append(job)
        for group in by_partner.values():
            p = group[0].partner
            assert p.url and p.remote_token
            with PartnerClient(p.url, p.remote_token, transport=self.transport,
                               limits=self.options.limits, sleep=self.sleep) as client:
                remote = Remote(client, p.url)
                results.extend(self._run(job, client, remote) for job in group)
        return results

    def _run(self, job: Job, client: PartnerClient, remote: Remote) -> RunResult:
        key = job.key
        try:
            if not self.ledger.acquire(key):
                return RunResult(job, skipped="another process is syncing it")
        except LiaisonError as exc:
            return RunResult(job, error=exc.message)
        result = RunResult(job)
        try:
            o = self.options
            if job.direction == "pull":
                result = pull(self.exchange, self.ledger, client, remote, job,
                              page_size=o.page_size, max_pages=o.max_pages, on_page=self.on_page,
                              result=result)
            else:
                result = push(self.exchange, self.ledger, client, remote, job,
                              page_size=o.page_size, max_pages=o.max_pages,
                              max_bytes=o.limits.max_response_bytes, sleep=self.sleep,
                              on_page=self.on_page, result=result)
        except PartnerError as exc:
            result.error = exc.message
            self._record(job, exc.message)
        except LeaseLost as exc:
            result.error = exc.message
        except LiaisonError as exc:
            result.error = exc.message
            self._record(job, exc.message)
        finally:
            try:
                self.ledger.release(key)
            except LiaisonError as exc:
                log.warning("could not release the sync lease of %s: %s", job.describe(),
                            exc.message)
        if result.error:
            log.warning("sync %s stopped: %s", job.describe(), result.error)
        return result

    def _record(self, job: Job, message: str) -> None:
        try:
            self.ledger.fail(job.key, message)
        except LiaisonError as exc:
            log.warning("could not record the sync error of %s: %s", job.describe(), exc.message)

    def run_forever(self, stop: threading.Event, interval: float) -> None:
        """Passes every `interval` seconds until `stop` is set; never raises."""
        while not stop.is_set():
            try:
                self.run_once()
            except LiaisonError as exc:
                log.warning("sync pass failed: %s", exc.message)
            except Exception as exc:  # the scheduler outlives any one pass
                log.error("sync pass failed unexpectedly: %s: %s", type(exc).__name__, exc)
            stop.wait(interval)


def start_background(exchange: Exchange, conf: Settings) -> tuple[threading.Thread,
                                                                  threading.Event]:
    """The scheduler of `liaison serve`: a daemon thread, stopped by setting the event."""
    stop = threading.Event()
    syncer = Syncer(exchange, Options.from_settings(conf), sleep=stop.wait)
    thread = threading.Thread(target=syncer.run_forever,
                              args=(stop, float(conf.sync_interval_seconds)),
                              name="liaison-sync", daemon=True)
    thread.start()
    return thread, stop

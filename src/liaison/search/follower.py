"""The search index follows the objects table (DESIGN principle 4, computed once).

Ingest stores objects and nothing else; the index rows of every version stored after
the index watermark are computed here from the stored bytes and written, with the new
watermark, in one transaction (`Store.index_advance`).  So:

- ingest does not pay for indexing on its own path, and indexing runs in batches of
  many envelopes, whose index pages are written once per batch rather than once per
  envelope (on SQLite most of the cost of an index row is its page in the commit);
- the index is never wrong, only behind: readers call `catch_up` before they answer
  (`lookup.Finder`), so an answer covers everything committed before it was asked;
- a crash loses nothing: the watermark moves only with the rows it covers, and
  indexing resumes from it (also after the setting `search_index` was off for a while);
- several processes (PostgreSQL workers) may race: the watermark is compared and set
  under the row lock, and a loser starts again from where the winner stopped.

`Follower` is the background thread `liaison serve` runs; it keeps the lag to a
fraction of a second under a steady feed.
"""

from __future__ import annotations

import logging
import threading

import orjson

from liaison.search import observables as ob
from liaison.search.index import entry as index_entry
from liaison.storage.base import Store

log = logging.getLogger("liaison.search")

BATCH = 5000
"""Versions indexed per transaction."""


def catch_up(store: Store, batch: int = BATCH, stop: threading.Event | None = None) -> int:
    """Index every version stored after the watermark; returns how many were indexed."""
    done = 0
    while stop is None or not stop.is_set():
        mark = store.index_watermark()
        rows = store.index_pending(mark, batch)
        if not rows:
            return done
        entries = []
        for date_added, type_, body in rows:
            category = "sco" if type_ in ob.INDEXED_SCO_TYPES else "other"
            observed, fields = index_entry(orjson.loads(body), category)
            entries.append((date_added, observed, fields))
        if store.index_advance(mark, entries, rows[-1][0]):
            done += len(rows)
    return done


class Follower:
    """A daemon thread that keeps the index caught up while the node serves."""

    def __init__(self, store: Store, interval: float = 0.2) -> None:
        self.store = store
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="liaison-index", daemon=True)

    def start(self) -> Follower:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                busy = catch_up(self.store, stop=self._stop) > 0
            except Exception:  # noqa: BLE001 - keep following; readers catch up themselves
                log.exception("indexing failed; retrying")
                busy = False
            if not busy:
                self._stop.wait(self.interval)

"""Checkpoints of SQLite's write-ahead log, made off the request path.

In WAL mode every commit appends the pages it changed to the `-wal` file, and a
*checkpoint* copies them back into the database file (then fsyncs it).  SQLite's
automatic checkpoint runs inside the COMMIT that crosses the threshold, so the request
that happens to commit pays for copying every page of the commits before it: at a
million stored objects that was a quarter of the ingest time (30 µs of 120 per object,
BENCHMARKS.md, "What bounds each figure").

`Checkpointer` is one thread per store, with its own connection: each commit pokes it,
and it copies the log in PASSIVE mode (which never blocks a writer or a reader: it
copies what no reader still needs and stops), at most once per `interval` seconds so
that pages rewritten by consecutive commits are copied once.  The copying runs inside
SQLite, without the GIL, on the other core while the next request validates and
inserts.  Durability is unchanged: a commit is durable once its frames are in the
fsynced log, whoever copies them later.

The log restarts from its beginning when a write transaction begins after a checkpoint
has copied every frame, so it stays a few commits long; the writers' own automatic
checkpoint (at `WAL_CAP_PAGES`) remains as the bound if this thread falls behind or
stops.  Used by `storage.sqlite.SQLiteStore`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable

log = logging.getLogger("liaison.storage")

INTERVAL_S = 0.2
"""Least time between two checkpoints (more coalescing of pages dirtied again)."""


class Checkpointer:
    """A background thread that checkpoints the WAL of one database after commits."""

    def __init__(self, connect: Callable[[], sqlite3.Connection],
                 interval: float = INTERVAL_S) -> None:
        self._connect = connect
        self.interval = interval
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self.checkpoints = 0
        """Checkpoints made (for tests and diagnostics)."""
        self._thread = threading.Thread(target=self._run, name="liaison-wal-checkpoint",
                                        daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """A commit happened: checkpoint soon (cheap; never blocks)."""
        self._wake.set()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the checkpoint in progress, if any, and end the thread."""
        self._stopped.set()
        self._wake.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        try:
            conn = self._connect()
        except sqlite3.Error as exc:
            log.warning("WAL checkpoints stay in the committing requests: %s", exc)
            return
        try:
            while True:
                self._wake.wait()
                if self._stopped.is_set():
                    return
                self._wake.clear()
                started = time.monotonic()
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.checkpoints += 1
                if self._stopped.wait(self.interval - (time.monotonic() - started)):
                    return
        except sqlite3.Error as exc:  # e.g. the database file was removed under us
            log.warning("WAL checkpoints stay in the committing requests: %s", exc)
        finally:
            conn.close()

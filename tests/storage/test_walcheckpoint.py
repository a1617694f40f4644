"""The SQLite store copies its write-ahead log into the database file on a background
thread (`storage.walcheckpoint`), not inside the request whose commit crosses SQLite's
automatic threshold."""

from __future__ import annotations

import gc
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from liaison.node import Node, init_node
from liaison.storage.sqlite import WAL_CAP_PAGES, SQLiteStore
from liaison.storage.walcheckpoint import Checkpointer


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    home = tmp_path / "n"
    init_node(home, "Org")
    node = Node.open(home)
    assert isinstance(node.store, SQLiteStore)
    yield node.store
    node.close()


def _in_database_file(store: SQLiteStore, key: str, tmp_path: Path) -> str | None:
    """The value of a meta key as the database file alone holds it (no -wal beside it:
    what a checkpoint has copied)."""
    alone = tmp_path / "alone.db"
    shutil.copyfile(store.path, alone)
    conn = sqlite3.connect(alone)
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    except sqlite3.DatabaseError:  # copied in the middle of a checkpoint: look again
        return None
    finally:
        conn.close()
        alone.unlink()
    return None if row is None else str(row[0])


def _checkpointers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "liaison-wal-checkpoint"]


def test_a_small_commit_reaches_the_database_file_without_a_writer_checkpointing(
        store: SQLiteStore, tmp_path: Path) -> None:
    """A few small commits stay far below the writers' own threshold (`WAL_CAP_PAGES`),
    so only the background thread can have copied them into the database file."""
    assert store._one("PRAGMA wal_autocheckpoint") == (WAL_CAP_PAGES,)
    store.set_meta("probe", "one")
    deadline = time.monotonic() + 10
    while _in_database_file(store, "probe", tmp_path) != "one":
        assert time.monotonic() < deadline, "the commit was never checkpointed"
        time.sleep(0.05)
    assert store._checkpointer is not None and store._checkpointer.checkpoints >= 1


def test_commits_wait_for_no_checkpoint_and_lose_nothing(store: SQLiteStore) -> None:
    """Writers from several threads while checkpoints run: every commit is there."""
    def write(n: int) -> None:
        for i in range(40):
            store.set_meta(f"k{n}-{i}", str(i))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(store.get_meta(f"k{n}-{i}") == str(i) for n in range(4) for i in range(40))


def test_a_reading_store_starts_no_thread_and_close_stops_it(tmp_path: Path) -> None:
    home = tmp_path / "n"
    init_node(home, "Org")
    before = len(_checkpointers())
    node = Node.open(home)
    node.store.get_meta("cursor_key")
    assert len(_checkpointers()) == before  # reads only: no thread
    node.store.set_meta("probe", "x")
    assert len(_checkpointers()) == before + 1
    node.close()
    assert len(_checkpointers()) == before


def test_a_checkpointer_that_cannot_connect_stops_and_leaves_writes_alone(
        caplog: pytest.LogCaptureFixture) -> None:
    def refuse() -> sqlite3.Connection:
        raise sqlite3.OperationalError("unable to open database file")

    cp = Checkpointer(refuse)
    cp._thread.join(5)
    assert not cp.alive
    cp.poke()  # a commit after that: nothing happens, nothing raises
    cp.stop()
    assert "WAL checkpoints stay in the committing requests" in caplog.text


def test_a_store_dropped_without_close_ends_its_thread(tmp_path: Path) -> None:
    home = tmp_path / "n"
    init_node(home, "Org")
    node = Node.open(home)
    node.store.set_meta("probe", "x")
    assert isinstance(node.store, SQLiteStore) and node.store._checkpointer is not None
    thread = node.store._checkpointer._thread
    del node
    gc.collect()
    thread.join(5)
    assert not thread.is_alive()

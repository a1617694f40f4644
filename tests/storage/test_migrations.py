"""Schema migrations on both engines: recorded in the database, `liaison db upgrade`
applies them, `--plan` only shows them, and `liaison serve` refuses an outdated schema.

An "outdated" database is made by shipping one more migration than the database has
(a probe migration added to `migrations.available` for the test), which is exactly
what a node sees after installing a newer Liaison.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from liaison.errors import ConfigError
from liaison.node import Node, init_node, upgrade
from liaison.settings import database_url, load
from liaison.storage import migrations, open_store
from liaison.storage.base import Store
from tests.conftest import database_for

PROBE = migrations.Migration(9999, "test_probe", "CREATE TABLE probe_table (x INTEGER);")


def run_cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
            *args: str) -> tuple[int, str, str]:
    """`liaison ARGS` in this process, through the real entry point; (exit, out, err)."""
    from liaison.cli.main import main

    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["liaison", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def table_exists(url: str, name: str) -> bool:
    """Ask the database itself, not the store under test."""
    if url.startswith("sqlite:"):
        with sqlite3.connect(url.removeprefix("sqlite:")) as conn:
            return conn.execute("SELECT 1 FROM sqlite_master WHERE name = ?",
                                (name,)).fetchone() is not None
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT to_regclass(%s)", (name,)).fetchone() != (None,)


@pytest.fixture
def home(engine: str, tmp_path: Path) -> Path:
    home = tmp_path / "node"
    init_node(home, "Org", database=database_for(engine, tmp_path))
    return home


@pytest.fixture
def url(home: Path) -> str:
    return database_url(load(home))


@pytest.fixture
def newer_release(monkeypatch: pytest.MonkeyPatch, home: Path) -> Iterator[None]:
    """After the node was made, this installation ships one migration more."""
    shipped = migrations.available
    monkeypatch.setattr(migrations, "available", lambda engine: [*shipped(engine), PROBE])
    yield


@pytest.fixture(autouse=True)
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """`liaison serve` must never get as far as listening in these tests."""
    import uvicorn

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("liaison serve started on a database that needs an upgrade")

    monkeypatch.setattr(uvicorn, "run", refuse)


def test_init_records_every_shipped_migration(engine: str, url: str) -> None:
    store = open_store(url)
    try:
        assert store.applied_migrations() == {m.version for m in migrations.available(engine)}
        assert migrations.pending(engine, store.applied_migrations()) == []
    finally:
        store.close()


def test_plan_on_an_up_to_date_database(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str], home: Path) -> None:
    code, out, _ = run_cli(monkeypatch, capsys, "db", "upgrade", "--plan", "--home", str(home))
    assert code == 0 and out.strip() == "The database is up to date."


def test_serve_refuses_an_outdated_database_and_names_the_command(
        newer_release: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], home: Path) -> None:
    code, out, err = run_cli(monkeypatch, capsys, "serve", "--home", str(home))
    assert code == ConfigError.exit_code
    assert f"run 'liaison db upgrade --home {home}' first" in err
    assert "Traceback" not in err + out
    with pytest.raises(ConfigError, match="liaison db upgrade"):
        Node.open(home)


def test_plan_lists_pending_migrations_and_changes_nothing(
        newer_release: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], engine: str, home: Path, url: str) -> None:
    before = _applied(url)
    code, out, _ = run_cli(monkeypatch, capsys, "db", "upgrade", "--plan", "--home", str(home))
    assert code == 0 and out.strip() == "would apply 9999 test_probe"
    assert _applied(url) == before and not table_exists(url, "probe_table")
    code, again, _ = run_cli(monkeypatch, capsys, "db", "upgrade", "--plan", "--home", str(home))
    assert again == out


def test_upgrade_applies_records_and_then_serve_starts(
        newer_release: None, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], home: Path, url: str) -> None:
    code, out, _ = run_cli(monkeypatch, capsys, "db", "upgrade", "--home", str(home))
    assert code == 0 and out.strip() == "Applied 1 migration(s)."
    assert 9999 in _applied(url) and table_exists(url, "probe_table")
    code, out, _ = run_cli(monkeypatch, capsys, "db", "upgrade", "--home", str(home))
    assert out.strip() == "The database is up to date."
    Node.open(home).close()  # the schema check passes now


def test_plan_on_an_empty_database_creates_no_table(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], engine: str,
        home: Path, url: str) -> None:
    store = open_store(url)
    store.reset()
    store.close()
    assert not table_exists(url, "schema_migrations")
    code, out, _ = run_cli(monkeypatch, capsys, "db", "upgrade", "--plan", "--home", str(home))
    assert code == 0
    assert out.splitlines() == [f"would apply {m.version:04d} {m.name}"
                                for m in migrations.available(engine)]
    assert not table_exists(url, "schema_migrations")


def test_concurrent_upgrades_apply_each_migration_once(engine: str, home: Path,
                                                       url: str) -> None:
    """Two processes running `db upgrade` at once (here: two stores in two threads)."""
    first = open_store(url)
    first.reset()
    stores: list[Store] = [first, open_store(url)]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run(store: Store) -> None:
        try:
            start.wait()
            upgrade(store)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert stores[0].applied_migrations() == {m.version for m in migrations.available(engine)}
    finally:
        for s in stores:
            s.close()


def _applied(url: str) -> set[int]:
    store = open_store(url)
    try:
        return store.applied_migrations()
    finally:
        store.close()


def test_a_real_serve_process_refuses_and_plan_names_the_missing_migration(
        engine: str, home: Path, url: str) -> None:
    """The same through the installed `liaison` program: a database one migration
    behind (its last record removed, as if made by the previous release)."""
    from tests.e2e.server import run_liaison

    last = migrations.available(engine)[-1]
    if url.startswith("sqlite:"):
        with sqlite3.connect(url.removeprefix("sqlite:")) as conn:
            conn.execute("DELETE FROM schema_migrations WHERE version = ?", (last.version,))
    else:
        with psycopg.connect(url) as conn:
            conn.execute("DELETE FROM schema_migrations WHERE version = %s", (last.version,))
    served = run_liaison("serve", "--home", str(home), "--port", "1", timeout=60)
    assert served.returncode == ConfigError.exit_code
    assert served.stderr.strip() == (
        f"error: the database needs 1 schema upgrade(s) — run 'liaison db upgrade --home "
        f"{home}' first")
    plan = run_liaison("db", "upgrade", "--plan", "--home", str(home), check=True)
    assert plan.stdout.strip() == f"would apply {last.version:04d} {last.name}"


def test_an_unreachable_postgresql_is_a_sentence_without_the_password() -> None:
    with pytest.raises(ConfigError) as caught:
        open_store("postgresql://liaison:s3cret@127.0.0.1:1/nodb")
    message = caught.value.message
    assert message.startswith("cannot connect to PostgreSQL at 127.0.0.1:1/nodb: ")
    assert "s3cret" not in message

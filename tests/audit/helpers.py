"""Shared pieces of the audit tests: the CLI in-process, raw SQL on the audit tables,
STIX objects, and reading the chain back."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

from click.testing import CliRunner

from liaison.audit.chain import AuditEntry
from liaison.audit.context import cli_actor
from liaison.storage.base import Store
from liaison.taxii.media import TAXII_21
from tests.conftest import NodeFixture

API = "/api/"
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
CLI_ACTOR = cli_actor().name


def sid(kind: str, seed: str) -> str:
    """A deterministic, valid STIX id (a version 4 UUID) for a fixture name."""
    return f"{kind}--{uuid.UUID(int=uuid.uuid5(uuid.NAMESPACE_URL, seed).int, version=4)}"


def indicator(name: str, marking: str | None = GREEN, *,
              modified: str = "2026-01-01T00:00:00.000Z") -> dict[str, Any]:
    o: dict[str, Any] = {
        "type": "indicator", "spec_version": "2.1",
        "id": sid("indicator", name),
        "created": "2026-01-01T00:00:00.000Z", "modified": modified, "name": name,
        "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z"}
    if marking:
        o["object_marking_refs"] = [marking]
    return o


# -- the chain -------------------------------------------------------------------------

def entries(store: Store, after: int = 0) -> list[AuditEntry]:
    """Every entry after sequence number `after`, in order."""
    out: list[AuditEntry] = []
    while True:
        page = store.audit_entries(after, 1000)
        out += page
        if len(page) < 1000:
            return out
        after = page[-1].seq


def head(store: Store) -> int:
    return store.audit_head()[0]


def one_new(store: Store, before: int) -> AuditEntry:
    """The single entry written since `before` (the head seq before the operation)."""
    new = entries(store, before)
    assert len(new) == 1, [(e.action, e.target, e.details) for e in new]
    return new[0]


# -- raw SQL on a node's own database --------------------------------------------------

class _Rollback(Exception):
    pass


class Tx:
    """A write transaction of the store's own engine; SQL is written with `?` marks."""

    def __init__(self, store: Store, handle: Any) -> None:
        self.mark = getattr(store, "_mark")
        self.handle = handle

    def __call__(self, query: str, params: tuple[Any, ...] = ()) -> list[Any]:
        cur = self.handle.execute(query.replace("?", self.mark), params)
        try:
            return list(cur.fetchall())
        except Exception:  # noqa: BLE001 - a statement without rows (psycopg raises)
            return []


@contextmanager
def sql(store: Store, *, keep: bool = True) -> Iterator[Tx]:
    """A transaction on the store's database, committed (`keep`) or rolled back.  The
    node's own reads made inside the block see its changes (the store joins it)."""
    try:
        with store._write() as handle:  # type: ignore[attr-defined]
            yield Tx(store, handle)
            if not keep:
                raise _Rollback
    except _Rollback:
        pass


# -- the CLI, in this process ----------------------------------------------------------

@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


def cli(*args: str, home: Path | None = None) -> CliResult:
    """Run `liaison ARGS [--home HOME]` through `liaison.cli.main.main` (the console
    script's entry point, so the CLI actor and the error handling are the real ones)."""
    from liaison.cli.main import main

    argv = ["liaison", *args, *(["--home", str(home)] if home is not None else [])]
    code = 0
    with CliRunner().isolation() as (out, err, _mixed), mock.patch.object(sys, "argv", argv):
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        sys.stdout.flush()
        sys.stderr.flush()
        result = CliResult(code, out.getvalue().decode(), err.getvalue().decode())
    assert "Traceback" not in result.out + result.err, result
    return result


# -- TAXII -------------------------------------------------------------------------------

def post(fx: NodeFixture, cid: str, objects: list[dict[str, Any]],
         headers: dict[str, str] | None = None) -> Any:
    return fx.client.post(f"{API}collections/{cid}/objects/",
                          content=json.dumps({"objects": objects}),
                          headers={**(headers or fx.headers()), "Content-Type": TAXII_21})


def version_of(obj: dict[str, Any]) -> str:
    return str(obj.get("modified") or obj.get("created"))

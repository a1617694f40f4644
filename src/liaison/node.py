"""Composition root: settings → store → exchange.  No logic of its own beyond set-up.

`init_node` creates a node home (settings file, database, the organisation's STIX
identity, the cursor key and the first admin); `Node.open` wires an existing one.
"""

from __future__ import annotations

import secrets
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import orjson

from liaison import settings as settings_mod
from liaison.audit.checkpoint import create_key
from liaison.audit.context import draft
from liaison.cursor import Cursors
from liaison.errors import ConfigError, Conflict
from liaison.exchange import Exchange
from liaison.lookup import INDEX_STATE
from liaison.settings import Settings
from liaison.stix.timestamps import format_taxii_timestamp, now_us
from liaison.storage import migrations, open_store
from liaison.storage.base import Principal, Store
from liaison.tokens import hash_token, new_token

AUDIT_STATE = "audit_state"
"""Meta key: 'on' or 'off', as last switched (absent on a node never switched: on)."""


@dataclass
class Node:
    settings: Settings
    store: Store
    exchange: Exchange

    @classmethod
    def open(cls, home: Path, *, check_schema: bool = True, **overrides: object) -> Node:
        conf = settings_mod.load(home).with_overrides(**overrides)
        store = open_store(settings_mod.database_url(conf), pool_size=conf.db_pool_size)
        try:
            if check_schema:
                todo = migrations.pending(store.engine, store.applied_migrations())
                if todo:
                    raise ConfigError(
                        f"the database needs {len(todo)} schema upgrade(s) — run "
                        f"'liaison db upgrade --home {home}' first"
                    )
            key = store.get_meta("cursor_key")
            if key is None:
                raise ConfigError(f"the database of {home} has no cursor key; was it initialised?")
        except BaseException:
            store.close()
            raise
        _apply_switches(store, conf)
        cursors = Cursors(bytes.fromhex(key), conf.cursor_ttl_seconds)
        exchange = Exchange(store, cursors, default_limit=conf.default_page_size,
                            max_limit=conf.max_page_size)
        return cls(conf, store, exchange)

    def org_identity(self) -> dict[str, object]:
        raw = self.store.get_meta("org_identity")
        return orjson.loads(raw) if raw else {}

    def close(self) -> None:
        self.store.close()


def _apply_switches(store: Store, conf: Settings) -> None:
    """The settings `audit` and `search_index` (both on unless measuring their cost).

    Switching the audit log off or on is itself appended to the chain first, so the
    log says where its gap is; switching the index off marks it stale until
    'liaison db reindex' has indexed what was stored meanwhile.
    """
    state = "on" if conf.audit else "off"
    if (store.get_meta(AUDIT_STATE) or "on") != state:
        with store.unit(draft("node.audit_switch", "audit", audit=state)):
            store.set_meta(AUDIT_STATE, state)
    store.audit_enabled = conf.audit
    if not conf.search_index and store.get_meta(INDEX_STATE) != "stale":
        store.set_meta(INDEX_STATE, "stale")
    store.index_enabled = conf.search_index


@dataclass(frozen=True)
class InitResult:
    home: Path
    org_identity: dict[str, object]
    admin_name: str
    admin_token: str


def upgrade(store: Store) -> list[migrations.Migration]:
    """Apply every pending migration; return what ran."""
    todo = migrations.pending(store.engine, store.applied_migrations())
    for m in todo:
        store.apply_migration(m, now_us())
    return todo


def init_node(home: Path, org: str, *, force: bool = False, database: str | None = None,
              admin_name: str = "admin") -> InitResult:
    """Create a node at `home`; refuse to overwrite an existing one unless `force`."""
    settings_file = home / settings_mod.SETTINGS_FILE
    if settings_file.exists() and not force:
        raise Conflict(
            f"a Liaison node already exists at {home} — use it, choose another --home, "
            "or pass --force to destroy it and start over"
        )
    if force and home.exists():
        for name in (settings_mod.SETTINGS_FILE, "liaison.db", "liaison.db-wal", "liaison.db-shm"):
            (home / name).unlink(missing_ok=True)
        shutil.rmtree(home / "keys", ignore_errors=True)
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    values: dict[str, object] = {}
    if database:
        values["database"] = database
    settings_mod.write(home, values)
    try:
        return _init_database(home, org, force=force, admin_name=admin_name)
    except BaseException:
        settings_file.unlink(missing_ok=True)  # no half-made node that blocks a retry
        raise


def _init_database(home: Path, org: str, *, force: bool, admin_name: str) -> InitResult:
    conf = settings_mod.load(home)
    store = open_store(settings_mod.database_url(conf), create=True)
    try:
        if force:
            store.reset()
        upgrade(store)
        if store.get_meta("cursor_key") is not None:
            raise Conflict("that database already holds a Liaison node — pass --force to reset it")
        now = now_us()
        stamp = format_taxii_timestamp(now)[:-4] + "Z"  # STIX millisecond precision
        identity = {
            "type": "identity", "spec_version": "2.1", "id": f"identity--{uuid.uuid4()}",
            "created": stamp, "modified": stamp, "name": org,
            "identity_class": "organization",
        }
        store.set_meta("cursor_key", secrets.token_hex(32))
        store.set_meta("org_identity", orjson.dumps(identity).decode())
        store.set_meta("node_id", str(uuid.uuid4()))
        token = new_token()
        admin = Principal(str(uuid.uuid4()), admin_name, "user", "admin", now)
        create_key(home)
        entry = draft("node.init", identity["id"], org=org, admin=admin_name,
                      engine=store.engine)
        entry.org = entry.org or str(identity["id"])  # the operator acts for this node's org
        with store.unit(entry):
            store.add_principal(admin, hash_token(token))
    finally:
        store.close()
    return InitResult(home, identity, admin_name, token)

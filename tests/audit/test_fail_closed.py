"""Fail closed: when the audit cannot be written, nothing is written or released.

Reliability reference test 20 / goal U3 (NIST AU-5): the audit sink is made to fail
with a trigger that refuses every insert into `audit_log` (SQLite `RAISE(ABORT)`, a
PostgreSQL trigger function that raises).  From the first affected request on, a POST
stores nothing (503, no status), a partner read and a push release nothing, a delete
deletes nothing, an administrative change is not applied — and once the trigger is
gone the same operations work again and the chain runs on without a gap.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from liaison.audit.service import Audit
from liaison.errors import Unavailable
from liaison.storage.base import Store
from tests.audit.helpers import API, cli, head, indicator, post, sql
from tests.conftest import NodeFixture, basic, database_for
from tests.federation.helpers import ScriptedPartner, make_local
from tests.federation.helpers import indicator as fed_indicator

PARTNER_ORG = "identity--7b0e6a36-1f0c-4d7e-9a51-3f6c1f1f2a10"
_TRIGGER = {
    "sqlite": ["CREATE TRIGGER audit_down BEFORE INSERT ON audit_log "
               "BEGIN SELECT RAISE(ABORT, 'audit down'); END"],
    "postgres": ["CREATE FUNCTION audit_down() RETURNS trigger LANGUAGE plpgsql AS "
                 "$f$ BEGIN RAISE EXCEPTION 'audit down'; END $f$",
                 "CREATE TRIGGER audit_down BEFORE INSERT ON audit_log "
                 "FOR EACH ROW EXECUTE FUNCTION audit_down()"],
}
_UNDO = {
    "sqlite": ["DROP TRIGGER audit_down"],
    "postgres": ["DROP TRIGGER audit_down ON audit_log", "DROP FUNCTION audit_down()"],
}


@contextmanager
def audit_down(store: Store) -> Iterator[None]:
    """Every audit insert fails while the block runs (and the schema is whole after)."""
    with sql(store) as tx:
        for statement in _TRIGGER[store.engine]:
            tx(statement)
    try:
        yield
    finally:
        with sql(store) as tx:
            for statement in _UNDO[store.engine]:
                tx(statement)


def _ids(resp: object) -> set[str]:
    doc = resp.json()  # type: ignore[attr-defined]
    return {o["id"] for o in doc.get("objects", [])}


def test_taxii_writes_reads_and_deletes_fail_closed(node_fx: NodeFixture,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    store = node_fx.node.store
    cid = node_fx.add_collection("Main", "main")
    partners = node_fx.node.exchange.partners
    token = partners.add("kabul", PARTNER_ORG).token
    partners.add_agreement("kabul", ["main"], "pull", "amber")
    first = [indicator("fc-1"), indicator("fc-2")]
    assert post(node_fx, cid, first).status_code == 202
    objects_url = f"{API}collections/{cid}/objects/"
    before_ids = _ids(node_fx.client.get(objects_url, headers=node_fx.headers()))
    seq = head(store)

    with audit_down(store):
        # a write: refused, nothing stored, no status to be found later
        with caplog.at_level(logging.ERROR, logger="liaison.audit"):
            resp = post(node_fx, cid, [indicator("fc-3")])
        assert resp.status_code == 503, resp.text
        assert "audit" in resp.json()["description"] and "fc-3" not in resp.text
        assert any(r.name == "liaison.audit" and "audit down" in r.getMessage()
                   for r in caplog.records)  # the operator is told (AU-5 alert)
        assert _ids(node_fx.client.get(objects_url, headers=node_fx.headers())) == before_ids
        # a partner read: an error, never a 200 with data
        read = node_fx.client.get(objects_url, headers=basic("kabul", token))
        assert read.status_code == 503 and "objects" not in read.json()
        assert all(o["id"] not in read.text for o in first)
        for kind in ("manifest/", f"objects/{first[0]['id']}/",
                     f"objects/{first[0]['id']}/versions/"):
            r = node_fx.client.get(f"{API}collections/{cid}/{kind}", headers=basic("kabul", token))
            assert r.status_code == 503 and first[0]["id"] not in r.text.replace(kind, ""), kind
        # a delete: nothing deleted
        gone = node_fx.client.delete(f"{objects_url}{first[0]['id']}/", headers=node_fx.headers())
        assert gone.status_code == 503
        assert _ids(node_fx.client.get(objects_url, headers=node_fx.headers())) == before_ids
        # refusals cannot be recorded either: refused harder, never let through
        assert node_fx.client.get(objects_url, headers=basic("kabul", "lsn_bad")).status_code == 503
        assert node_fx.client.get(objects_url).status_code == 503
        assert head(store) == seq
        # a local admin's read records nothing, so it still works
        assert node_fx.client.get(objects_url, headers=node_fx.headers()).status_code == 200

    again = post(node_fx, cid, [indicator("fc-3")])
    assert again.status_code == 202 and again.json()["success_count"] == 1
    read = node_fx.client.get(objects_url, headers=basic("kabul", token))
    assert read.status_code == 200 and {o["id"] for o in first} <= _ids(read)
    assert head(store) == seq + 2
    report = Audit(store, node_fx.home).verify()
    assert report.ok and report.entries == seq + 2


def test_administrative_changes_fail_closed(node_fx: NodeFixture) -> None:
    store = node_fx.node.store
    node_fx.add_collection("Main", "main")
    exchange = node_fx.node.exchange
    seq = head(store)
    with audit_down(store):
        result = cli("user", "add", "ana", home=node_fx.home)
        assert result.code == Unavailable.exit_code and "audit" in result.err
        assert store.principal_by_name("ana") is None and "lsn_" not in result.out
        result = cli("partner", "add", "kabul", "--org-identity", PARTNER_ORG, home=node_fx.home)
        assert result.code == Unavailable.exit_code
        assert store.partner("kabul") is None and store.principal_by_name("kabul") is None
        with pytest.raises(Unavailable):
            exchange.admin.add_collection("Other", "other")
        assert store.collection("other") is None
        assert cli("collection", "add", "Other", home=node_fx.home).code == Unavailable.exit_code
        assert [c.alias for c in store.list_collections()] == ["main"]
        assert head(store) == seq
    assert cli("user", "add", "ana", home=node_fx.home).code == 0
    assert store.principal_by_name("ana") is not None and head(store) == seq + 1


def test_an_import_fails_closed(node_fx: NodeFixture, tmp_path: Path) -> None:
    store = node_fx.node.store
    cid = node_fx.add_collection("Main", "main")
    bundle = tmp_path / "b.json"
    bundle.write_text(json.dumps({"type": "bundle", "id": "bundle--" + "1" * 8 + "-1111-4111-"
                                  "8111-111111111111", "objects": [indicator("imp")]}))
    with audit_down(store):
        result = cli("import", str(bundle), "--collection", "main", home=node_fx.home)
        assert result.code == Unavailable.exit_code
    resp = node_fx.client.get(f"{API}collections/{cid}/objects/",
                              params={"match[id]": indicator("imp")["id"]},
                              headers=node_fx.headers())
    assert resp.status_code == 200 and resp.json() == {}


def test_a_push_releases_nothing_when_the_audit_fails(engine: str, tmp_path: Path) -> None:
    local = make_local(tmp_path, "pull", database_for(engine, tmp_path))
    try:
        local.import_objects([fed_indicator(None, i) for i in range(4)])
        partner = ScriptedPartner()
        with audit_down(local.node.store):
            results = local.syncer(partner.transport()).run_once()
            push = next(r for r in results if r.job.direction == "push")
            assert push.error and not push.caught_up
            assert partner.posted == []
        results = local.syncer(partner.transport()).run_once()
        assert next(r for r in results if r.job.direction == "push").caught_up
        assert len([o for o in partner.posted if o["type"] == "indicator"]) == 4
    finally:
        local.node.close()

"""Every operation class of the audit issue (item 1) leaves exactly ONE entry, with the
right content, through its real face: the CLI (`liaison.cli.main`, in this process) for
administration and imports, TAXII (the ASGI app) for writes, deletes, releases and
refusals, and the sync engine for pulls.  Reliability reference test 18 / goal U1.

For HTTP the entry's request id is the response's X-Request-ID; for the CLI it is a
fresh id per command.  Operations that fail (an unknown grant, a duplicate name) leave
no entry: there is nothing to record for a change that was not made.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from liaison.audit.chain import AuditEntry
from liaison.audit.service import Audit
from liaison.node import Node
from tests.audit.helpers import (
    API,
    CLI_ACTOR,
    GREEN,
    RED,
    cli,
    entries,
    head,
    indicator,
    one_new,
    post,
    sid,
    version_of,
)
from tests.conftest import NodeFixture, basic, database_for
from tests.federation.helpers import ScriptedPartner, make_local
from tests.federation.helpers import indicator as fed_indicator

PARTNER_ORG = sid("identity", "partner-org")


def _check(e: AuditEntry, action: str, target: str, *, actor: str, actor_org: str,
           result: str = "ok", request_id: str | None = None, **details: Any) -> None:
    assert (e.action, e.target, e.actor_name, e.org, e.result) == \
        (action, target, actor, actor_org, result), e
    if request_id is not None:
        assert e.request_id == request_id
    else:
        uuid.UUID(e.request_id)  # a CLI command runs as one request with its own id
    for key, value in details.items():
        assert e.details.get(key) == value, (key, e.details)


def _our_org(fx: NodeFixture) -> str:
    return str(fx.node.org_identity()["id"])


class Ops:
    """Runs CLI commands against the node of a fixture, one entry expected each."""

    def __init__(self, fx: NodeFixture) -> None:
        self.fx = fx
        self.org = _our_org(fx)
        self.request_ids: set[str] = set()

    def run(self, *args: str, code: int = 0) -> str:
        result = cli(*args, home=self.fx.home)
        assert result.code == code, result
        return result.out

    def one(self, *args: str, action: str, target: str | None, **details: Any,
            ) -> tuple[AuditEntry, str]:
        before = head(self.fx.node.store)
        out = self.run(*args)
        e = one_new(self.fx.node.store, before)
        _check(e, action, e.target if target is None else target, actor=CLI_ACTOR,
               actor_org=self.org, **details)
        assert e.request_id not in self.request_ids
        self.request_ids.add(e.request_id)
        return e, out

    def none(self, *args: str, code: int) -> None:
        before = head(self.fx.node.store)
        self.run(*args, code=code)
        assert entries(self.fx.node.store, before) == []


def test_cli_init_records_node_init_once(engine: str, tmp_path: Path) -> None:
    home = tmp_path / "fresh"
    args = ["init", "--org", "Fresh Org", "--json"]
    db = database_for(engine, tmp_path)
    result = cli(*args, *(["--db", db] if db else []), home=home)
    assert result.code == 0, result
    identity = result.json()["org_identity"]["id"]
    node = Node.open(home)
    try:
        [e] = entries(node.store)
        _check(e, "node.init", identity, actor=CLI_ACTOR, actor_org=identity)
        assert e.details == {"org": "Fresh Org", "admin": "admin", "engine": engine}
        assert e.seq == 1 and Audit(node.store, home).verify().ok
    finally:
        node.close()


def test_each_administrative_change_by_cli_is_one_entry(node_fx: NodeFixture) -> None:
    ops = Ops(node_fx)
    e, out = ops.one("user", "add", "ana", "--role", "analyst", "--json",
                     action="user.add", target="ana", role="analyst")
    assert e.details["principal_id"] == json.loads(out)["id"]
    assert "token" not in json.dumps(e.details)  # secrets never reach the log
    _, out = ops.one("collection", "add", "Border", "--alias", "border", "--json",
                     action="collection.add", target=None, title="Border", alias="border")
    cid = json.loads(out)["id"]
    assert node_fx.node.store.audit_entries(0, 1000)[-1].target == cid
    ops.one("grant", "border", "ana", "--read", "--write", action="grant.set", target=cid,
            principal="ana", read=True, write=True)
    ops.one("revoke-grant", "border", "ana", action="grant.remove", target=cid,
            principal="ana")
    ops.none("revoke-grant", "border", "ana", code=4)  # no grant left: nothing changed
    ops.one("user", "revoke", "ana", action="user.revoke", target="ana")
    ops.none("user", "add", "ana", code=5)  # the name is taken

    e, out = ops.one("partner", "add", "kabul", "--org-identity", PARTNER_ORG, "--url",
                     "https://kabul.example/taxii2/", "--token", "s3cret", "--json",
                     action="partner.add", target="kabul", org_identity=PARTNER_ORG,
                     url="https://kabul.example/taxii2/")
    assert e.details["partner_id"] == json.loads(out)["id"]
    assert "s3cret" not in json.dumps(e.as_dict()) and "lsn_" not in json.dumps(e.as_dict())
    e, _ = ops.one("partner", "set", "kabul", "--token", "n3w", action="partner.remote",
                   target="kabul", url=None, token_changed=True)
    assert "n3w" not in json.dumps(e.as_dict())
    e, out = ops.one("agreement", "add", "kabul", "--collection", "border", "--direction",
                     "pull", "--max-tlp", "amber", action="agreement.add", target=None,
                     partner="kabul", direction="pull", collections=["border"])
    agreement = out.strip()
    assert e.target == agreement
    ops.one("agreement", "revoke", agreement, action="agreement.revoke", target=agreement)
    ops.none("agreement", "revoke", agreement, code=4)  # already revoked
    e, out = ops.one("marking", "add-releasability", "to-kabul", "--to", PARTNER_ORG,
                     action="marking.add", target=None, name="to-kabul",
                     releasable_to=[PARTNER_ORG])
    assert e.target == out.strip()
    ops.one("agreement", "add", "kabul", "--collection", "border", "--direction", "both",
            "--max-tlp", "green", action="agreement.add", target=None)
    # Removing a partner revokes its agreements and its principal: one operation, one entry.
    ops.one("partner", "remove", "kabul", action="partner.remove", target="kabul")
    assert Audit(node_fx.node.store, node_fx.home).verify().ok


def test_api_adds_partner_with_one_entry_not_two(node_fx: NodeFixture) -> None:
    """The partner's principal is made inside `partner.add`: it is not a second entry."""
    store = node_fx.node.store
    before = head(store)
    new = node_fx.node.exchange.partners.add("herat", PARTNER_ORG)
    e = one_new(store, before)
    _check(e, "partner.add", "herat", actor="system", actor_org="", request_id="",
           partner_id=new.partner.id)


def test_import_by_cli_is_one_objects_add_entry(node_fx: NodeFixture, tmp_path: Path) -> None:
    ops = Ops(node_fx)
    cid = node_fx.add_collection("Main", "main")
    objs = [indicator(f"imp-{i}") for i in range(5)] + [{"type": "indicator", "id": "bad"}]
    bundle = tmp_path / "b.json"
    bundle.write_text(json.dumps({"type": "bundle", "id": f"bundle--{uuid.uuid4()}",
                                  "objects": objs}))
    e, _ = ops.one("import", str(bundle), "--collection", "main", action="objects.add",
                   target=cid, rejected=1, duplicates=0, partner=None, via=None)
    assert e.details["stored"] == [[o["id"], version_of(o)] for o in objs[:5]]
    ops.one("import", str(bundle), "--collection", "main", action="objects.add",
            target=cid, stored=[], duplicates=5, rejected=1)


def test_taxii_writes_and_deletes_are_one_entry_each(node_fx: NodeFixture) -> None:
    cid = node_fx.add_collection("Main", "main")
    token = node_fx.add_user("ana", "analyst")
    node_fx.node.exchange.admin.grant(cid, "ana", read=True, write=True)
    ana = node_fx.node.store.principal_by_name("ana")
    assert ana is not None
    store, org = node_fx.node.store, _our_org(node_fx)
    objs = [indicator("w-1"), indicator("w-2", RED)]

    def write(objects: list[dict[str, Any]]) -> AuditEntry:
        before = head(store)
        resp = post(node_fx, cid, objects, basic("ana", token))
        assert resp.status_code == 202
        e = one_new(store, before)
        _check(e, "objects.add", cid, actor="ana", actor_org=org,
               request_id=resp.headers["X-Request-ID"])
        assert e.actor_id == ana.id
        return e

    e = write(objs)
    assert e.details["stored"] == [[o["id"], version_of(o)] for o in objs]
    assert (e.details["duplicates"], e.details["rejected"]) == (0, 0)
    assert write(objs).details == {**e.details, "stored": [], "duplicates": 2}
    newer = indicator("w-1", modified="2026-02-01T00:00:00.000Z")
    assert write([newer, {"type": "indicator", "id": "x"}]).details["stored"] == \
        [[newer["id"], version_of(newer)]]

    before = head(store)
    resp = node_fx.client.delete(f"{API}collections/{cid}/objects/{objs[0]['id']}/",
                                 headers=basic("ana", token))
    assert resp.status_code == 200, resp.text
    _check(one_new(store, before), "objects.delete", cid, actor="ana", actor_org=org,
           request_id=resp.headers["X-Request-ID"], object=objs[0]["id"], versions_removed=2)
    before = head(store)  # deleting what is not there changes nothing: no entry
    again = node_fx.client.delete(f"{API}collections/{cid}/objects/{objs[0]['id']}/",
                                  headers=basic("ana", token))
    assert again.status_code == 404 and entries(store, before) == []


def test_a_partner_read_is_one_release_entry_and_a_local_read_none(node_fx: NodeFixture,
                                                                  ) -> None:
    cid = node_fx.add_collection("Main", "main")
    partners = node_fx.node.exchange.partners
    token = partners.add("kabul", PARTNER_ORG).token
    agreement = partners.add_agreement("kabul", ["main"], "pull", "amber")
    objs = [indicator(f"r-{i}") for i in range(3)] + [indicator("r-red", RED)]
    assert post(node_fx, cid, objs).status_code == 202
    store = node_fx.node.store
    before = head(store)
    resp = node_fx.client.get(f"{API}collections/{cid}/objects/", headers=basic("kabul", token))
    got = [(o["id"], version_of(o)) for o in resp.json()["objects"]]
    assert {o["id"] for o in objs[:3]} <= {i for i, _v in got} and objs[3]["id"] not in str(got)
    e = one_new(store, before)
    partner = partners.get("kabul")
    _check(e, "release", cid, actor="kabul", actor_org=PARTNER_ORG,
           request_id=resp.headers["X-Request-ID"], partner="kabul", partner_id=partner.id,
           org=PARTNER_ORG, channel="taxii", kind="objects", agreements=[agreement.id])
    assert e.actor_id == partner.principal_id
    assert [tuple(v) for v in e.details["versions"]] == got
    before = head(store)  # an empty answer releases nothing
    empty = node_fx.client.get(f"{API}collections/{cid}/objects/",
                               params={"match[id]": objs[3]["id"]},
                               headers=basic("kabul", token))
    assert empty.status_code == 200 and entries(store, before) == []
    for who in ("admin",):  # local users read by their grants: no release
        assert node_fx.client.get(f"{API}collections/{cid}/objects/",
                                  headers=node_fx.headers(who)).status_code == 200
    assert entries(store, before) == []


def _refused(node_fx: NodeFixture, method: str, path: str, headers: dict[str, str],
             status: int, action: str, **details: Any) -> AuditEntry:
    store = node_fx.node.store
    before = head(store)
    resp = node_fx.client.request(method, path, headers=headers,
                                  content=b'{"objects":[{}]}' if method == "POST" else None)
    assert resp.status_code == status, resp.text
    e = one_new(store, before)
    assert (e.action, e.result) == (action, "denied"), e
    assert e.request_id == resp.headers["X-Request-ID"]
    for key, value in details.items():
        assert e.details.get(key) == value or value in str(e.details.get(key)), e.details
    return e


@pytest.mark.parametrize("path", [f"{API}collections/", "/liaison/audit/log/"])
def test_each_authentication_failure_is_one_denied_entry(node_fx: NodeFixture,
                                                         path: str) -> None:
    node_fx.add_user("gone", "analyst")
    gone = node_fx.tokens["gone"]
    node_fx.node.exchange.admin.revoke_user("gone")
    cases: list[tuple[dict[str, str], str, str]] = [
        ({}, "-", "requires credentials"),
        ({"Authorization": "Bearer lsn_not-a-token"}, "-", "unknown token"),
        (basic("gone", gone), "gone", "revoked principal"),
        (basic("admin", "lsn_wrong-token"), "admin", "unknown token"),
        (basic("someone", node_fx.admin_token), "someone", "name does not match"),
        ({"Authorization": "Basic %%%"}, "-", "base64"),
        ({"Authorization": "Digest x"}, "-", "unsupported"),
    ]
    for headers, target, reason in cases:
        e = _refused(node_fx, "GET", path, {"Accept": "application/taxii+json;version=2.1",
                                            **headers}, 401, "auth.fail", reason=reason)
        assert e.target == target and e.actor_name == "anonymous@testclient", e


def test_each_authorisation_failure_is_one_denied_entry(node_fx: NodeFixture) -> None:
    cid = node_fx.add_collection("Main", "main")
    hidden = node_fx.add_collection("Hidden", "hidden")
    node_fx.add_user("rita", "reader")
    node_fx.add_user("ana", "analyst")
    admin = node_fx.node.exchange.admin
    admin.grant(cid, "rita", read=True, write=False)
    admin.grant(cid, "ana", read=False, write=True)
    partners = node_fx.node.exchange.partners
    node_fx.tokens["kabul"] = partners.add("kabul", PARTNER_ORG).token
    partners.add_agreement("kabul", ["main"], "both", "amber")
    org = _our_org(node_fx)
    post_headers = {**node_fx.headers("rita"), "Content-Type": "application/taxii+json;version=2.1"}
    e = _refused(node_fx, "POST", f"{API}collections/{cid}/objects/", post_headers, 403,
                 "access.denied", reason="may not add")
    assert (e.target, e.actor_name, e.org) == (cid, "rita", org)
    e = _refused(node_fx, "GET", f"{API}collections/{hidden}/", node_fx.headers("rita"), 404,
                 "access.denied", reason="no right")
    assert (e.target, e.actor_name) == (hidden, "rita")
    _refused(node_fx, "GET", f"{API}collections/hidden/objects/", node_fx.headers("kabul"),
             404, "access.denied")
    e = _refused(node_fx, "GET", f"{API}collections/{cid}/objects/", node_fx.headers("ana"),
                 403, "access.denied", reason="may not read")
    assert e.actor_name == "ana"
    e = _refused(node_fx, "DELETE", f"{API}collections/{cid}/objects/{sid('indicator', 'x')}/",
                 node_fx.headers("kabul"), 403, "access.denied", reason="never delete")
    assert (e.actor_name, e.org) == ("kabul", PARTNER_ORG)
    for who in ("ana", "kabul"):
        e = _refused(node_fx, "GET", "/liaison/audit/verify/", node_fx.headers(who), 403,
                     "access.denied", reason="administrators")
        assert (e.actor_name, e.target) == (who, "/liaison/audit/verify/")
    store = node_fx.node.store  # an unknown collection is not a refusal: nothing to hide
    before = head(store)
    assert node_fx.client.get(f"{API}collections/nowhere/",
                              headers=node_fx.headers("rita")).status_code == 404
    assert entries(store, before) == []


def test_a_pull_from_a_partner_is_one_objects_add_entry_per_page(engine: str,
                                                                 tmp_path: Path) -> None:
    local = make_local(tmp_path, database=database_for(engine, tmp_path))
    try:
        store = local.node.store
        objs = [fed_indicator(local.partner_org, i) for i in range(25)]
        before = head(store)
        results = local.syncer(ScriptedPartner(objs).transport(), page_size=10).run_once()
        assert next(r for r in results if r.job.direction == "pull").moved == 25
        new = entries(store, before)
        assert [e.action for e in new] == ["objects.add"] * 3
        for e in new:
            assert e.details["partner"] == "remote" and e.details["via"] == local.agreement.id
            assert e.target == local.collection.id
        stored = [tuple(v) for e in new for v in e.details["stored"]]
        assert stored == [(o["id"], o["modified"]) for o in objs]
    finally:
        local.node.close()


def test_every_entry_of_a_mixed_session_verifies(node_fx: NodeFixture) -> None:
    cid = node_fx.add_collection("Main", "main")
    assert post(node_fx, cid, [indicator("m-1", GREEN)]).status_code == 202
    node_fx.client.get(f"{API}collections/")
    report = Audit(node_fx.node.store, node_fx.home).verify()
    assert report.ok and report.entries == head(node_fx.node.store) >= 4

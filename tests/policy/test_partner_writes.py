"""Writes from partners (DESIGN "The release decision", last paragraph; reliability-security
§(b) tests 11–13, 16): a partner writes through a push agreement, its identity comes
from its credentials (never from `created_by_ref`), only the creator versions an object
(STIX 2.1 §3.5), partners never delete, and a status is seen only by its poster.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from liaison.taxii.media import TAXII_21
from tests.conftest import NodeFixture, basic
from tests.policy.world import ORG, T2, T3, indicator, sid, statement

GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
AMBER = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"
API = "/api/"


@dataclass
class Scene:
    fx: NodeFixture
    main: str
    tokens: dict[str, str]
    our_org: str

    def h(self, who: str) -> dict[str, str]:
        return self.fx.headers() if who == "admin" else basic(who, self.tokens[who])

    def post(self, who: str, objects: list[dict[str, Any]], coll: str | None = None) -> Any:
        return self.fx.client.post(f"{API}collections/{coll or self.main}/objects/",
                                   content=orjson.dumps({"objects": objects}),
                                   headers={**self.h(who), "Content-Type": TAXII_21})

    def get(self, who: str, path: str, **params: str) -> Any:
        return self.fx.client.get(f"{API}collections/{self.main}/{path}",
                                  params=params or None, headers=self.h(who))

    def ids(self, who: str, **params: str) -> list[str]:
        resp = self.get(who, "objects/", **params)
        assert resp.status_code == 200, resp.text
        return [o["id"] for o in resp.json().get("objects", [])]

    def versions(self, oid: str) -> list[str]:
        resp = self.get("admin", f"objects/{oid}/versions/")
        return resp.json().get("versions", []) if resp.status_code == 200 else []


@pytest.fixture
def scene(node_fx: NodeFixture) -> Scene:
    """Partners: `src` (push+pull AMBER), `other` (push AMBER), `reader` (pull AMBER, no
    re-share), `resharer` (pull AMBER, re-share), `puller` (pull only), `stranger` (no
    agreement), `gone` (push, then removed)."""
    main = node_fx.add_collection("Main", "main")
    node_fx.add_collection("Elsewhere", "elsewhere")
    p = node_fx.node.exchange.partners
    tokens = {}
    for name, direction, reshare in (("src", "both", False), ("other", "push", False),
                                     ("reader", "pull", False), ("resharer", "pull", True),
                                     ("puller", "pull", False), ("stranger", None, False),
                                     ("gone", "push", False)):
        tokens[name] = p.add(name, ORG.get(name) or sid("identity", f"org-{name}")).token
        if direction:
            p.add_agreement(name, ["main"], direction, "amber", reshare=reshare)
    p.remove("gone")
    return Scene(node_fx, main, tokens, str(node_fx.node.org_identity()["id"]))


def org(name: str) -> str:
    return ORG.get(name) or sid("identity", f"org-{name}")


def status_of(resp: Any) -> dict[str, Any]:
    assert resp.status_code == 202, resp.text
    return resp.json()  # type: ignore[no-any-return]


def failures(status: dict[str, Any]) -> dict[str, str]:
    return {f["id"]: f["message"] for f in status.get("failures", [])}


def test_partner_objects_are_stored_with_the_partner_as_origin(scene: Scene) -> None:
    green = indicator("pw-green", [GREEN], created_by=org("src"))
    amber = indicator("pw-amber", [AMBER])  # no created_by_ref: the credentials say who
    st = status_of(scene.post("src", [green, amber]))
    assert st["success_count"] == 2 and st["failure_count"] == 0
    partner = scene.fx.node.exchange.partners.get("src")
    origins = scene.fx.node.store.origins([green["id"], amber["id"]])
    assert origins == {green["id"]: {partner.id}, amber["id"]: {partner.id}}
    # the re-share rule honours that origin on later partner reads
    assert set(scene.ids("src")) >= {green["id"], amber["id"]}  # its own material
    assert not {green["id"], amber["id"]} & set(scene.ids("reader"))  # no re-share
    got = set(scene.ids("resharer"))  # re-share, but only up to GREEN
    assert green["id"] in got and amber["id"] not in got
    assert set(scene.ids("admin")) >= {green["id"], amber["id"]}


@pytest.mark.parametrize("claimed", ["ours", "third", "other-partner"])
def test_created_by_ref_naming_someone_else_is_refused(scene: Scene, claimed: str) -> None:
    creator = {"ours": scene.our_org, "third": org("third"), "other-partner": org("other")}
    fine = indicator(f"fine-{claimed}", [GREEN], created_by=org("src"))
    spoof = indicator(f"spoof-{claimed}", [GREEN], created_by=creator[claimed])
    st = status_of(scene.post("src", [spoof, fine]))
    assert st["total_count"] == 2 and st["success_count"] == 1 and st["failure_count"] == 1
    assert [s["id"] for s in st["successes"]] == [fine["id"]]
    reason = failures(st)[spoof["id"]]
    assert "created_by_ref" in reason and creator[claimed] in reason
    assert scene.versions(spoof["id"]) == []  # not stored, in no form
    assert spoof["id"] not in scene.ids("admin", **{"match[version]": "all"})


def test_only_the_creator_versions_an_object(scene: Scene) -> None:
    ours = indicator("ours", [GREEN])
    mark = statement("our-statement", "ours")
    status_of(scene.post("admin", [ours, mark]))
    theirs = indicator("theirs", [GREEN])
    status_of(scene.post("other", [theirs]))
    before = {oid: scene.versions(oid) for oid in (ours["id"], theirs["id"], mark["id"])}
    forged_mark = {**mark, "created": T2, "definition": {"statement": "forged"}}
    attempts = [indicator("ours", [GREEN], modified=T2),
                indicator("theirs", [GREEN], modified=T2, created_by=org("src")),
                forged_mark]
    st = status_of(scene.post("src", attempts))
    assert st["success_count"] == 0 and st["failure_count"] == 3
    for oid, reason in failures(st).items():
        assert "only its creator may add versions" in reason, (oid, reason)
    assert {oid: scene.versions(oid) for oid in before} == before  # nothing changed
    assert scene.get("admin", f"objects/{mark['id']}/").json()["objects"] == [mark]


def test_a_partner_may_version_its_own_object(scene: Scene) -> None:
    v1 = indicator("mine", [GREEN], created_by=org("src"))
    v2 = indicator("mine", [AMBER], modified=T2, created_by=org("src"))
    status_of(scene.post("src", [v1]))
    st = status_of(scene.post("src", [v2]))
    assert st["success_count"] == 1 and st["failure_count"] == 0
    resp = scene.get("src", f"objects/{v1['id']}/versions/")
    assert resp.status_code == 200 and resp.json()["versions"] == [v1["modified"], T2]
    assert scene.get("src", f"objects/{v1['id']}/").json()["objects"] == [v2]
    # the new latest is AMBER: the re-sharing partner now sees nothing of it by default
    assert v1["id"] not in scene.ids("resharer")
    assert scene.ids("resharer", **{"match[id]": v1["id"], "match[version]": "all"}) == [v1["id"]]


def test_a_local_edit_does_not_launder_partner_material(scene: Scene) -> None:
    """Reference test 11: material received without re-share rights stays the partner's
    even after our admin adds a version or re-marks it (here: AMBER, then GREEN)."""
    got = indicator("received", [AMBER], created_by=org("src"))
    status_of(scene.post("src", [got]))
    edited = {**got, "modified": T2, "description": "edited here"}
    remarked = {**got, "modified": T3, "object_marking_refs": [GREEN]}
    status_of(scene.post("admin", [edited]))
    assert got["id"] not in scene.ids("reader")  # AMBER foreign, no re-share
    status_of(scene.post("admin", [remarked]))
    assert got["id"] not in scene.ids("reader")  # still no re-share for `reader`
    assert got["id"] in scene.ids("resharer")  # GREEN may be re-shared where agreed
    assert got["id"] in scene.ids("src")


@pytest.mark.parametrize("who,status", [("puller", 403), ("reader", 403), ("stranger", 404),
                                        ("gone", 401)])
def test_no_push_agreement_no_write(scene: Scene, who: str, status: int) -> None:
    obj = indicator(f"unwanted-{who}", [GREEN], created_by=org(who))
    resp = scene.post(who, [obj])
    assert resp.status_code == status, resp.text
    assert resp.json()["http_status"] == str(status)
    assert scene.versions(obj["id"]) == []
    # and not into a collection its agreements do not cover either
    if who != "gone":
        other = scene.post("src", [obj], "elsewhere")
        assert other.status_code == 404 and scene.versions(obj["id"]) == []


@pytest.mark.parametrize("who,status", [("src", 403), ("other", 403), ("puller", 403),
                                        ("stranger", 404), ("gone", 401)])
def test_partners_never_delete(scene: Scene, who: str, status: int) -> None:
    ours = indicator("keep-ours", [GREEN])
    theirs = indicator(f"keep-{who}", [GREEN], created_by=org("src"))
    status_of(scene.post("admin", [ours]))
    status_of(scene.post("src", [theirs]))
    for obj in (ours, theirs):
        for params in ({}, {"match[version]": obj["modified"]}):
            resp = scene.fx.client.delete(f"{API}collections/{scene.main}/objects/{obj['id']}/",
                                          params=params or None, headers=scene.h(who))
            assert resp.status_code == status, resp.text
        assert scene.versions(obj["id"]) == [obj["modified"]]


def test_a_status_is_seen_only_by_its_poster(scene: Scene) -> None:
    st = status_of(scene.post("src", [indicator("status-probe", [GREEN])]))
    sid_ = st["id"]

    def get(who: str, status_id: str) -> Any:
        return scene.fx.client.get(f"{API}status/{status_id}/", headers=scene.h(who))

    assert get("src", sid_).status_code == 200 and get("src", sid_).json() == st
    assert get("admin", sid_).status_code == 200
    scene.tokens["analyst"] = scene.fx.add_user("analyst", "analyst")
    ghost = str(uuid.uuid4())
    for who in ("other", "reader", "analyst"):
        resp, twin = get(who, sid_), get(who, ghost)
        assert resp.status_code == 404 and twin.status_code == 404
        assert resp.content == twin.content.replace(ghost.encode(), sid_.encode())
    assert get("gone", sid_).status_code == 401

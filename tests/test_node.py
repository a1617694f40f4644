"""`Node.open` and the two measuring switches, the settings `audit` and `search_index`
(`liaison.node._apply_switches`), on both engines.

Off, each costs nothing (that is what they are for: bench/ compares a node with and
without them), but neither may fail open: switching the audit log off is written into
the chain first, and a search index that was off answers 503 until it is rebuilt
instead of answering "not seen" for what it missed.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from starlette.testclient import TestClient

from liaison.errors import ConfigError
from liaison.node import Node, init_node
from liaison.settings import load, write
from liaison.taxii.app import create_app
from tests.conftest import basic, database_for

T = "2024-01-01T00:00:00.000Z"
TAXII = "application/taxii+json;version=2.1"


def _indicator(n: int) -> dict[str, object]:
    return {"type": "indicator", "spec_version": "2.1",
            "id": f"indicator--bbbbbbbb-0000-4000-8000-{n:012d}", "created": T, "modified": T,
            "name": f"switch test {n}", "pattern": f"[ipv4-addr:value = '10.9.8.{n}']",
            "pattern_type": "stix", "valid_from": T}



@pytest.fixture
def made(engine: str, tmp_path: Path) -> tuple[Path, str]:
    home = tmp_path / "node"
    result = init_node(home, "Switch Org", database=database_for(engine, tmp_path))
    node = Node.open(home)
    node.exchange.admin.add_collection("Main", "main")
    node.close()
    return home, result.admin_token


def _post(client: TestClient, token: str, objects: list[dict[str, object]]) -> None:
    resp = client.post("/api/collections/main/objects/",
                       content=orjson.dumps({"objects": objects}),
                       headers={**basic("admin", token), "Content-Type": TAXII, "Accept": TAXII})
    assert resp.status_code == 202 and resp.json()["success_count"] == len(objects), resp.text


def _lookup(client: TestClient, token: str, value: str):
    return client.get("/liaison/lookup/", params={"value": value},
                      headers=basic("admin", token))


def test_audit_off_appends_nothing_but_the_switch_itself(
        made: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    home, token = made
    node = Node.open(home)
    before = node.store.audit_count()
    node.close()

    monkeypatch.setenv("LIAISON_AUDIT", "off")
    node = Node.open(home)
    switched = node.store.audit_count()
    assert switched == before + 1
    assert node.store.audit_entries(after_seq=before)[0].action == "node.audit_switch"
    with TestClient(create_app(node)) as client:
        _post(client, token, [_indicator(1)])
        assert client.get("/api/collections/main/objects/",
                          headers={**basic("admin", token), "Accept": TAXII}).status_code == 200
    assert node.store.audit_count() == switched  # the write went unrecorded, as asked
    node.close()

    monkeypatch.delenv("LIAISON_AUDIT")
    node = Node.open(home)
    entries = node.store.audit_entries(after_seq=switched)
    assert [e.action for e in entries] == ["node.audit_switch"]
    assert entries[0].details["audit"] == "on"
    with TestClient(create_app(node)) as client:
        _post(client, token, [_indicator(2)])
    assert node.store.audit_count() == switched + 2  # recording again
    node.close()


def test_search_index_off_refuses_lookups_until_reindexed(
        made: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    home, token = made
    monkeypatch.setenv("LIAISON_SEARCH_INDEX", "false")
    node = Node.open(home)
    with TestClient(create_app(node)) as client:
        _post(client, token, [_indicator(1)])
        off = _lookup(client, token, "10.9.8.1")
        assert off.status_code == 503 and "switched off" in off.json()["description"]
        search = client.get("/liaison/search/", params={"q": "switch"},
                            headers=basic("admin", token))
        assert search.status_code == 503
    node.close()

    monkeypatch.delenv("LIAISON_SEARCH_INDEX")
    node = Node.open(home)
    with TestClient(create_app(node)) as client:
        stale = _lookup(client, token, "10.9.8.1")
        assert stale.status_code == 503 and "liaison db reindex" in stale.json()["description"]
        assert node.exchange.finder.reindex() >= 1
        found = _lookup(client, token, "10.9.8.1")
        assert found.status_code == 200, found.text
        assert found.json()["values"][0]["seen"] is True
    node.close()


def test_switch_values_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "node"
    write(home.mkdir() or home, {"audit": False})
    assert (home / "liaison.toml").read_text().count("audit = false") == 1
    assert load(home).audit is False
    monkeypatch.setenv("LIAISON_SEARCH_INDEX", "maybe")
    with pytest.raises(ConfigError, match="search_index.*true or false"):
        load(home)

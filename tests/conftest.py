"""Shared fixtures: a fresh node per test, its ASGI client, and principals.

`engine` is parametrised over the storage engines: every test that uses a node runs
against each engine (PostgreSQL joins the list when its engine exists).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from liaison.node import Node, init_node
from liaison.taxii.app import create_app
from liaison.taxii.media import TAXII_21

ENGINES = ["sqlite"]


def basic(name: str, token: str) -> dict[str, str]:
    raw = base64.b64encode(f"{name}:{token}".encode()).decode()
    return {"Authorization": f"Basic {raw}", "Accept": TAXII_21}


@dataclass
class NodeFixture:
    home: Path
    node: Node
    admin_token: str
    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, name: str = "admin") -> dict[str, str]:
        token = self.admin_token if name == "admin" else self.tokens[name]
        return basic(name, token)

    def add_user(self, name: str, role: str = "analyst") -> str:
        cred = self.node.exchange.admin.add_user(name, role)
        self.tokens[name] = cred.token
        return cred.token

    def add_collection(self, title: str, alias: str | None = None) -> str:
        return self.node.exchange.admin.add_collection(title, alias).id


def database_for(engine: str, tmp_path: Path) -> str | None:
    if engine == "sqlite":
        return None
    raise AssertionError(f"unknown engine {engine}")


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def node_fx(engine: str, tmp_path: Path) -> Iterator[NodeFixture]:
    home = tmp_path / "node"
    result = init_node(home, "Test Org", database=database_for(engine, tmp_path))
    node = Node.open(home)
    with TestClient(create_app(node), base_url="http://testserver") as client:
        yield NodeFixture(home, node, result.admin_token, client)
    node.close()

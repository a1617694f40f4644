"""Two real nodes (`liaison serve` processes, tests/e2e/server.py) that share a
collection under a bilateral agreement, and what each should receive from the other."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from liaison.node import Node
from tests.e2e.server import RunningNode, liaison_exe, liaison_nodes
from tests.federation.helpers import RED, indicator

AMBER_STRICT = "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003"
TAXII = "application/taxii+json;version=2.1"


@dataclass
class Side:
    node: RunningNode
    org: str
    collection: str
    outbound: str = ""
    """The token this node calls the other one with (made by the other node)."""
    agreement: str = ""

    def open(self) -> Node:
        """The node's store, in this process (its database may come from the env)."""
        return Node.open(self.node.home, database=self.node.env.get("LIAISON_DATABASE"))

    def add(self, objects: list[dict[str, Any]]) -> None:
        n = self.open()
        try:
            c = n.exchange.admin.collection("shared")
            report = n.exchange.import_objects(c, [json.dumps(o).encode() for o in objects])
            assert not report.failures, report.failures
        finally:
            n.close()

    def sample(self, tag: int, count: int = 10) -> tuple[list[dict[str, Any]],
                                                         list[dict[str, Any]]]:
        """(released, withheld) objects created by this side's organisation."""
        released = [indicator(self.org, tag * 1000 + i) for i in range(count)]
        withheld = [indicator(self.org, tag * 1000 + 900, marking=RED),
                    indicator(self.org, tag * 1000 + 901, marking=AMBER_STRICT)]
        return released, withheld

    def versions(self, *, as_partner: tuple[str, str] | None = None) -> list[tuple[str, str]]:
        """Every (id, version) of 'shared' read over TAXII (all versions, all pages), as
        the admin or as a partner; marking definitions left out."""
        auth = as_partner or self.node.auth()
        url = self.node.collection_url(self.collection) + "objects/"
        out: list[tuple[str, str]] = []
        params: dict[str, str] = {"match[version]": "all", "limit": "1000"}
        with httpx.Client(timeout=30, auth=auth, headers={"Accept": TAXII}) as http:
            for _ in range(1000):
                resp = http.get(url, params=params)
                assert resp.status_code == 200, resp.text
                env = resp.json()
                out += [(o["id"], o.get("modified", o.get("created")))
                        for o in env.get("objects", []) if o["type"] != "marking-definition"]
                if not env.get("more"):
                    return out
                params["next"] = env["next"]
        raise AssertionError("the pager did not end")

    def sync(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return self.node.cli("sync", "--once", *args, check=False, timeout=timeout)

    def sync_process(self, *args: str, stdout: Any = subprocess.DEVNULL,
                     ) -> subprocess.Popen[bytes]:
        return subprocess.Popen([str(liaison_exe()), "sync", "--once", "--home",
                                 str(self.node.home), *args], env=self.node.env,
                                stdout=stdout, stderr=subprocess.DEVNULL)

    def state(self, direction: str) -> Any:
        n = self.open()
        try:
            return next((s for s in n.store.sync_states(self.agreement)
                         if s.key.direction == direction), None)
        finally:
            n.close()


def crash_and_revive(node: RunningNode, down_while: Any = None) -> None:
    """SIGKILL the server (the partner goes down hard), run `down_while()`, then start
    it again on the same home and port."""
    from tests.e2e.server import STARTUP_TIMEOUT, start_server

    node.process.kill()
    node.process.wait(10)
    if down_while is not None:
        down_while()
    started = start_server(node.home, node.init, node.env, node.serve_args, node.port,
                     STARTUP_TIMEOUT)
    node.process, node.stdout_path, node.stderr_path = (
        started.process, started.stdout_path, started.stderr_path)


def _setup(a: Side, b: Side, directions: tuple[str, str]) -> None:
    for me, other in ((a, b), (b, a)):
        made = me.node.cli_json("partner", "add", other.node.home.name, "--org-identity",
                                other.org)
        other.outbound = made["inbound_token"]
    for (me, other), direction in zip(((a, b), (b, a)), directions, strict=True):
        me.node.cli("partner", "set", other.node.home.name, "--url", other.node.discovery_url,
                    "--token", me.outbound)
        me.agreement = me.node.cli_json(
            "agreement", "add", other.node.home.name, "--collection", "shared",
            "--remote-collection", other.collection, "--direction", direction,
            "--max-tlp", "amber")["id"]


@contextmanager
def pair(root: Path, *, directions: tuple[str, str] = ("both", "both"),
         env: dict[str, str] | None = None,
         env_by_node: dict[str, dict[str, str]] | None = None,
         serve_args: tuple[str, ...] = ("--no-sync",)) -> Iterator[tuple[Side, Side]]:
    """North and south, each with an agreement about the other (`directions`: north's,
    south's; e.g. ("push", "pull"): south may send to north, north may read south —
    so north pulls and nobody pushes)."""
    with liaison_nodes(root, ["north", "south"], env=env, env_by_node=env_by_node,
                       serve_args=serve_args) as nodes:
        sides = []
        for name in ("north", "south"):
            n = nodes[name]
            sides.append(Side(n, n.init["org_identity"]["id"],
                              n.add_collection("Shared", "shared")))
        north, south = sides
        _setup(north, south, directions)
        yield north, south


def partner_auth(owner: Side, caller: Side) -> tuple[str, str]:
    """The credentials `caller`'s node uses at `owner` (its partner principal there)."""
    return (caller.node.home.name, caller.outbound)


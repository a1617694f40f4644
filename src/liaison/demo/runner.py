"""The two-node demo: Astana's and Kabul's defence ministries share on border security.

Two real nodes (`liaison serve` processes on 127.0.0.1, separate homes and ports), a
bilateral agreement on each side (up to TLP:AMBER on "border-security", nothing
else), fictional sample intelligence at mixed markings (`sample.json`), one sync
pass on each node over HTTP, then an account of what flowed and what was withheld,
with the reasons the policy gives (`Exchange.explain`).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import httpx

from liaison.errors import ConfigError
from liaison.exchange import Exchange
from liaison.federation.scheduler import Syncer
from liaison.node import Node, init_node
from liaison.policy.model import tlp_name
from liaison.stix.markings import tlp_level_of_marking, tlp_rank

HOST = "127.0.0.1"
COLLECTION = "border-security"
NAMES = ("astana", "kabul")


def sample() -> dict[str, Any]:
    return json.loads(resources.files("liaison.demo").joinpath("sample.json").read_text("utf-8"))


def objects_for(doc: dict[str, Any], name: str, self_id: str) -> list[dict[str, Any]]:
    """A node's sample objects with the placeholders filled in."""
    text = json.dumps(doc["nodes"][name]["objects"])
    text = text.replace("@SELF@", self_id).replace("@THIRD@", doc["third_party"]["id"])
    return list(json.loads(text))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class DemoNode:
    name: str
    home: Path
    admin_token: str
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    node: Node | None = None
    inbound: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/taxii2/"

    @property
    def exchange(self) -> Exchange:
        assert self.node is not None
        return self.node.exchange

    def serve(self) -> None:
        self.port = _free_port()
        log = (self.home / "serve.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "liaison", "serve", "--home", str(self.home), "--host", HOST,
             "--port", str(self.port), "--no-sync", "--log-level", "warning"],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ConfigError(f"the {self.name} node did not start; see {self.home}/serve.log")
            try:
                httpx.get(self.url, timeout=1.0)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise ConfigError(f"the {self.name} node did not answer on {self.url} within 30 s")

    def stop(self) -> None:
        if self.node is not None:
            self.node.close()
            self.node = None
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start(root: Path) -> dict[str, DemoNode]:
    """Create both nodes, serve them, and set up partners, agreements and the samples."""
    doc = sample()
    nodes: dict[str, DemoNode] = {}
    for name in NAMES:
        made = init_node(root / name, doc["nodes"][name]["org"])
        nodes[name] = DemoNode(name, root / name, made.admin_token)
    for n in nodes.values():
        n.serve()
        n.node = Node.open(n.home)
        n.exchange.admin.add_collection("Border security", COLLECTION,
                                        "Shared with the partner ministry (demo)")
    a, k = nodes["astana"], nodes["kabul"]
    a.inbound["kabul"] = _add_partner(a, k).token
    k.inbound["astana"] = _add_partner(k, a).token
    for me, other in ((a, k), (k, a)):
        me.exchange.partners.set_remote(other.name, other.url, other.inbound[me.name])
        remote = other.exchange.admin.collection(COLLECTION).id
        me.exchange.partners.add_agreement(other.name, [COLLECTION], "both", "amber",
                                           remote_collections=[remote])
        own = me.node.org_identity() if me.node else {}
        raw = [json.dumps(o).encode() for o in [own, *objects_for(doc, me.name, str(own["id"]))]]
        report = me.exchange.import_objects(me.exchange.admin.collection(COLLECTION), raw)
        if report.failures:
            raise ConfigError(f"the {me.name} sample data did not load: {report.failures[0]}")
    return nodes


def _add_partner(me: DemoNode, other: DemoNode) -> Any:
    assert other.node is not None
    return me.exchange.partners.add(other.name, str(other.node.org_identity()["id"]))


def sync(nodes: dict[str, DemoNode]) -> list[str]:
    """One pass on each node; the lines it reports."""
    return [r.describe() for n in nodes.values() for r in Syncer(n.exchange).run_once()]


def _tlp(obj: dict[str, Any]) -> str:
    ranks = [tlp_rank(lv) for lv in map(tlp_level_of_marking, obj.get("object_marking_refs", []))
             if lv is not None]
    return tlp_name(max(ranks)) if ranks else "unmarked (collection default TLP:AMBER)"


def _label(obj: dict[str, Any], names: dict[str, str]) -> str:
    if obj["type"] == "relationship":
        return (f"{names.get(obj['source_ref'], '?')} {obj['relationship_type']} "
                f"{names.get(obj['target_ref'], '?')}")
    return str(obj.get("name", obj["id"]))


def account(nodes: dict[str, DemoNode]) -> list[dict[str, Any]]:
    """For each direction: the sender's sample objects that arrived and those withheld
    (with the failing rules of the sender's policy explanation)."""
    doc = sample()
    flows = []
    for sender, receiver in (("astana", "kabul"), ("kabul", "astana")):
        s, r = nodes[sender], nodes[receiver]
        own = str(s.node.org_identity()["id"]) if s.node else ""
        received = {json.loads(b)["id"] for b in
                    r.exchange.export(r.exchange.admin.collection(COLLECTION))}
        flowed, withheld = [], []
        objects = objects_for(doc, sender, own)
        names = {o["id"]: str(o.get("name", o["type"])) for o in objects}
        for obj in objects:
            item = {"id": obj["id"], "type": obj["type"], "label": _label(obj, names),
                    "tlp": _tlp(obj)}
            if obj["id"] in received:
                flowed.append(item)
                continue
            why = s.exchange.explain(obj["id"], receiver, COLLECTION)
            item["reasons"] = [f"{rule.rule}: {rule.detail}" for e in why
                               for rule in e.decision.reasons if not rule.passed]
            item["released"] = any(e.decision.released for e in why)
            withheld.append(item)
        flows.append({"from": sender, "to": receiver, "flowed": flowed, "withheld": withheld})
    return flows


def render(flows: list[dict[str, Any]], sync_lines: list[str]) -> str:
    out = ["Sync:"] + [f"  {line}" for line in sync_lines]
    for f in flows:
        out.append(f"\n{f['from'].capitalize()} → {f['to'].capitalize()} "
                   f"(agreement: up to TLP:AMBER on '{COLLECTION}')")
        out.append(f"  flowed ({len(f['flowed'])}):")
        out += [f"    {i['type']:<19} {i['label'][:60]:<60} {i['tlp']}" for i in f["flowed"]]
        out.append(f"  withheld ({len(f['withheld'])}):")
        for i in f["withheld"]:
            out.append(f"    {i['type']:<19} {i['label'][:60]:<60} {i['tlp']}")
            out += [f"        why: {reason}" for reason in i["reasons"] or
                    ["released by the policy but not yet synced"]]
    return "\n".join(out)

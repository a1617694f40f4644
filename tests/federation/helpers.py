"""Shared pieces of the federation tests: a local node, STIX objects, scripted partners."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from liaison.federation.client import Limits
from liaison.federation.scheduler import Options, Syncer
from liaison.node import Node, init_node
from liaison.policy.model import Agreement, Partner
from liaison.stix.timestamps import format_taxii_timestamp
from liaison.storage.base import Collection, SyncKey, SyncState

PARTNER_URL = "http://partner.test/api/"
REMOTE = "c1d0a7b6-2a57-4a0e-9a4f-6f1d2b7e9a01"
OBJECTS_PATH = f"/api/collections/{REMOTE}/objects/"
TAXII = "application/taxii+json;version=2.1"
GREEN = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
RED = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
BASE_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


def indicator(creator: str | None, n: int, *, marking: str | None = GREEN,
              modified: str = "2026-01-01T00:00:00.000Z", oid: str | None = None,
              ) -> dict[str, Any]:
    o: dict[str, Any] = {
        "type": "indicator", "spec_version": "2.1",
        "id": oid or f"indicator--{uuid.uuid4()}",
        "created": "2026-01-01T00:00:00.000Z", "modified": modified,
        "name": f"indicator {n}", "pattern": f"[ipv4-addr:value = '198.51.100.{n % 250}']",
        "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z"}
    if creator:
        o["created_by_ref"] = creator
    if marking:
        o["object_marking_refs"] = [marking]
    return o


@dataclass
class Local:
    """A node of our own (SQLite) with a partner `remote` at PARTNER_URL."""

    node: Node
    collection: Collection
    partner: Partner
    agreement: Agreement
    partner_org: str

    @property
    def exchange(self) -> Any:
        return self.node.exchange

    def syncer(self, transport: httpx.BaseTransport, *, page_size: int = 10,
               max_pages: int = 50, slept: list[float] | None = None,
               **limits: Any) -> Syncer:
        sleeps = slept if slept is not None else []
        opts = Options(page_size=page_size, max_pages=max_pages,
                       limits=Limits(**{"max_attempts": 4, **limits}))
        return Syncer(self.exchange, opts, transport=transport, sleep=sleeps.append)

    def state(self, direction: str = "pull") -> SyncState:
        key = SyncKey(self.agreement.id, self.collection.cid, direction)
        found = [s for s in self.node.store.sync_states(self.agreement.id) if s.key == key]
        return found[0] if found else SyncState(key)

    def failures(self, direction: str = "pull") -> list[Any]:
        return self.node.store.sync_failures(
            SyncKey(self.agreement.id, self.collection.cid, direction), 100)

    def ids(self) -> list[str]:
        """The id of every stored version but the marking definitions, in date_added order."""
        return [i for i, _v in self.versions()]

    def versions(self) -> list[tuple[str, str]]:
        return [(o["id"], o.get("modified", o.get("created", ""))) for o in
                map(json.loads, self._bodies()) if o["type"] != "marking-definition"]

    def _bodies(self) -> Iterator[bytes]:
        from liaison.storage.base import ObjectQuery, VersionFilter

        after = None
        while True:
            page = self.node.store.query(ObjectQuery(
                cid=self.collection.cid, versions=VersionFilter.everything(), after=after,
                limit=500))
            for r in page.rows:
                assert r.body is not None
                yield r.body
            if not page.more:
                return
            after = page.rows[-1].date_added

    def import_objects(self, objects: list[dict[str, Any]]) -> None:
        report = self.exchange.import_objects(self.collection,
                                              [json.dumps(o).encode() for o in objects])
        assert not report.failures, report.failures


def make_local(tmp: Path, direction: str = "push", database: str | None = None) -> Local:
    """Direction "push" (the partner writes to us): our node only pulls.  `database`
    as `liaison init --db` (None: SQLite in the home)."""
    init_node(tmp / "local", "Local Org", database=database)
    node = Node.open(tmp / "local")
    ex = node.exchange
    c = ex.admin.add_collection("Shared", "shared")
    org = f"identity--{uuid.uuid4()}"
    p = ex.partners.add("remote", org, PARTNER_URL, "remote-token").partner
    a = ex.partners.add_agreement("remote", ["shared"], direction, "amber",
                                  remote_collections=[REMOTE])
    return Local(node, c, p, a, org)


def envelope_response(objects: list[dict[str, Any]], dates: list[int], *, more: bool = False,
                      next_: str | None = None, headers: dict[str, str] | None = None,
                      ) -> httpx.Response:
    doc: dict[str, Any] = {}
    if objects:
        doc["objects"] = objects
    if more:
        doc["more"] = True
    if next_:
        doc["next"] = next_
    h = {"Content-Type": TAXII}
    if dates:
        h["X-TAXII-Date-Added-First"] = format_taxii_timestamp(dates[0])
        h["X-TAXII-Date-Added-Last"] = format_taxii_timestamp(dates[-1])
    h.update(headers or {})
    return httpx.Response(200, headers=h, content=json.dumps(doc).encode())


@dataclass
class ScriptedPartner:
    """A well-behaved TAXII collection by default (pages by `next`), any answer scriptable.

    `objects` are served in order, object i with date_added BASE_US + i.  `override`
    may answer a request itself (return a Response) or return None to fall through.
    """

    objects: list[dict[str, Any]] = field(default_factory=list)
    override: Callable[[httpx.Request, int], httpx.Response | None] | None = None
    requests: list[httpx.Request] = field(default_factory=list)
    posted: list[dict[str, Any]] = field(default_factory=list)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.override is not None:
            answer = self.override(request, len(self.requests))
            if answer is not None:
                return answer
        if request.url.path == "/api/" and request.method == "GET":
            return httpx.Response(200, headers={"Content-Type": TAXII}, json={
                "title": "scripted", "versions": [TAXII], "max_content_length": 1_000_000})
        if request.url.path != OBJECTS_PATH:
            return httpx.Response(404, json={"title": "Not found"})
        if request.method == "POST":
            return self.accept(request)
        return self.page(request)

    def page(self, request: httpx.Request) -> httpx.Response:
        from liaison.stix.timestamps import parse_timestamp

        q = request.url.params
        limit = int(q.get("limit", "10"))
        start = 0
        if "next" in q:
            start = int(q["next"])
        elif "added_after" in q:
            after = parse_timestamp(q["added_after"])
            start = max(0, after - BASE_US + 1)
        chunk = self.objects[start : start + limit]
        dates = [BASE_US + start + i for i in range(len(chunk))]
        more = start + limit < len(self.objects)
        return envelope_response(chunk, dates, more=more,
                                 next_=str(start + limit) if more else None)

    def accept(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.posted.extend(body["objects"])
        successes = [{"id": o["id"], "version": o.get("modified", o.get("created"))}
                     for o in body["objects"]]
        return httpx.Response(202, headers={"Content-Type": TAXII}, json={
            "id": str(uuid.uuid4()), "status": "complete", "total_count": len(successes),
            "success_count": len(successes), "successes": successes, "failure_count": 0,
            "pending_count": 0})

"""Interop: the puller against medallion, the OASIS reference TAXII 2.1 server, as the
partner (reference §3.1).  medallion runs as its own process on 127.0.0.1 with its
memory backend; its `next` cursors are server-side sessions, its page size is capped
at 5, and two objects share a `date_added` across a page boundary."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from liaison.federation.scheduler import Options, Syncer
from liaison.stix.timestamps import format_taxii_timestamp
from tests.e2e.server import free_port
from tests.federation.helpers import BASE_US, Local, indicator, make_local

API_ROOT = "api1"
COLLECTION = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"
TAXII = "application/taxii+json;version=2.1"
STARTUP = 20.0


def _dataset(org: str) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    objects: list[dict[str, Any]] = []
    manifest: list[dict[str, Any]] = []
    for i in range(17):
        objects.append(indicator(org if i % 2 else None, i))
    twice = objects[3]["id"]
    objects.append(indicator(org, 3, oid=twice, modified="2026-02-01T00:00:00.000Z"))
    for n, o in enumerate(objects):
        # objects 9 and 10 share a date_added (a tie across the page boundary at 10)
        stamp = BASE_US + (9 if n == 10 else n) * 1_000_000
        manifest.append({"id": o["id"], "date_added": format_taxii_timestamp(stamp),
                         "version": o["modified"],
                         "media_type": "application/stix+json;version=2.1"})
    data = {
        "/discovery": {"title": "medallion partner", "default": f"/{API_ROOT}/",
                       "api_roots": [f"/{API_ROOT}/"]},
        API_ROOT: {
            "information": {"title": "api1", "versions": [TAXII], "max_content_length": 9765625},
            "status": [],
            "collections": [{"id": COLLECTION, "title": "shared", "can_read": True,
                             "can_write": True,
                             "media_types": ["application/stix+json;version=2.1"],
                             "objects": objects, "manifest": manifest}]}}
    return data, [(o["id"], o["modified"]) for o in objects]


@pytest.fixture
def medallion(tmp_path: Path) -> Iterator[tuple[str, Local, list[tuple[str, str]]]]:
    local = make_local(tmp_path)
    data, versions = _dataset(local.partner_org)
    (tmp_path / "data.json").write_text(json.dumps(data))
    config = {"backend": {"module": "medallion.backends.memory_backend",
                          "module_class": "MemoryBackend",
                          "filename": str(tmp_path / "data.json")},
              "users": {"liaison": "s3cret"}, "taxii": {"max_page_size": 5}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    port = free_port()
    log = (tmp_path / "medallion.log").open("wb")
    exe = Path(sys.executable).parent / "medallion"
    proc = subprocess.Popen([str(exe), "--host", "127.0.0.1", "--port", str(port),
                             str(tmp_path / "config.json")], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}/taxii2/"
    try:
        deadline = time.monotonic() + STARTUP
        while True:
            assert proc.poll() is None, (tmp_path / "medallion.log").read_text()
            try:
                if httpx.get(url, auth=("liaison", "s3cret"), headers={"Accept": TAXII},
                             timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "medallion did not start"
            time.sleep(0.1)
        local.exchange.partners.set_remote("remote", url, "liaison:s3cret")
        yield url, local, versions
    finally:
        proc.terminate()
        proc.wait(10)
        local.node.close()


def _replace_remote(local: Local) -> None:
    """Point the agreement at medallion's collection id."""
    local.exchange.partners.revoke_agreement(local.agreement.id)
    local.agreement = local.exchange.partners.add_agreement(
        "remote", ["shared"], "push", "amber", remote_collections=[COLLECTION])


def test_pulling_every_version_from_medallion(
        medallion: tuple[str, Local, list[tuple[str, str]]]) -> None:
    started = time.monotonic()
    _url, local, versions = medallion
    _replace_remote(local)
    syncer = Syncer(local.exchange, Options(page_size=5))
    [r] = syncer.run_once()
    assert r.error is None and r.caught_up, r
    assert r.pages >= 4  # 18 versions at 5 per page, through medallion's next sessions
    assert sorted(local.versions()) == sorted(versions)
    assert r.moved == len(versions)
    # Resuming (added_after = checkpoint − 1 µs) is a no-op that stays caught up.
    [again] = syncer.run_once()
    assert again.error is None and again.caught_up and again.moved == 0
    assert sorted(local.versions()) == sorted(versions)
    [(_v, _d, origin, via)] = local.node.store.provenance(local.collection.cid, versions[0][0])
    assert (origin, via) == (local.partner.id, local.agreement.id)
    assert time.monotonic() - started < 60


def test_pushing_to_medallion_follows_its_status(
        medallion: tuple[str, Local, list[tuple[str, str]]]) -> None:
    url, local, versions = medallion
    local.exchange.partners.revoke_agreement(local.agreement.id)
    local.agreement = local.exchange.partners.add_agreement(
        "remote", ["shared"], "pull", "amber", remote_collections=[COLLECTION])
    ours = [indicator(None, 200 + i) for i in range(7)]
    local.import_objects(ours)
    [r] = Syncer(local.exchange, Options(page_size=4)).run_once()
    assert r.error is None and r.caught_up, r
    ids: set[str] = set()
    params = {"match[version]": "all", "limit": "5"}
    for _ in range(100):  # medallion pages by 5
        env = httpx.get(f"{url.removesuffix('taxii2/')}{API_ROOT}/collections/{COLLECTION}/"
                        "objects/", params=params, auth=("liaison", "s3cret"),
                        headers={"Accept": TAXII}, timeout=10).json()
        ids |= {o["id"] for o in env.get("objects", [])}
        if not env.get("more"):
            break
        params["next"] = env["next"]
    assert {o["id"] for o in ours} <= ids
    # A second pass sends nothing: the watermark covers what medallion answered for.
    [again] = Syncer(local.exchange, Options(page_size=4)).run_once()
    assert again.caught_up and again.pages == 0

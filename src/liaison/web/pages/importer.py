"""Import: upload a file into a collection, with progress and a per-object summary.

    GET  /ui/import/      the form (collections this user may write to, formats)
    POST /ui/import/      the upload (multipart, with the CSRF token)

The file is checked whole first (a broken file stores nothing, as with `liaison
import`), then posted through `Exchange.add_envelope` in batches — the same door,
rights and validation as a TAXII POST by this user, one status resource per batch.
The answer is the summary page; `Accept: application/x-ndjson` (the page's script)
streams progress events instead, ending with the same summary; `?format=json` gives
the summary as JSON.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any, BinaryIO

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response, StreamingResponse

from liaison.audit.context import Actor, acting, current
from liaison.errors import BadRequest, Forbidden
from liaison.ingest.stix_bundle import BundleError, check_file, iter_objects
from liaison.web.app import Ctx, View
from liaison.web.backend import Backend, cname
from liaison.storage.base import Principal

BATCH = 500
MAX_RESULTS = 5000
NDJSON = "application/x-ndjson"


def formats() -> list[dict[str, str]]:
    """The formats the node can import: STIX always, others as `liaison.ingest` grows
    them (a module-level `IMPORTERS` registry: name → label)."""
    out = [{"name": "stix", "label": "STIX 2.1 bundle or TAXII envelope (JSON)"}]
    registry = getattr(importlib.import_module("liaison.ingest"), "IMPORTERS", None)
    if isinstance(registry, dict):
        out.extend({"name": str(k), "label": str(getattr(v, "label", k))}
                   for k, v in registry.items() if k != "stix")
    return out


def form(ctx: Ctx) -> View:
    """The upload form."""
    targets = [{"name": cname(v), "title": v.collection.title}
               for v in ctx.backend.collections(ctx.who) if v.can_write]
    return View("import.html", {"collections": targets, "formats": formats(),
                                "selected": ctx.arg("collection"),
                                "max_bytes": ctx.backend.settings.max_content_length},
                "Import")


def _check(f: BinaryIO) -> int:
    """Walk the file without storing anything; 400 at the first thing wrong."""
    try:
        count = check_file(f)
    except BundleError as exc:
        raise BadRequest(f"the file is not a STIX bundle or TAXII envelope: "
                         f"{exc.message}") from None
    f.seek(0)
    return count


def _batches(f: BinaryIO) -> Iterator[list[bytes]]:
    batch: list[bytes] = []
    for raw in iter_objects(f):
        batch.append(raw)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def run(b: Backend, who: Principal, ref: str, f: BinaryIO, total: int,
        meta: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Store the file batch by batch; yield progress, then the summary."""
    summary: dict[str, Any] = {**meta, "total": total, "stored": 0, "duplicates": 0,
                               "rejected": 0, "results": [], "truncated": False}
    done = 0
    yield {"phase": "checked", "total": total}
    for batch in _batches(f):
        body = b'{"objects":[' + b",".join(batch) + b"]}"
        status = orjson.loads(b.exchange.add_envelope(who, ref, body))
        for s in status.get("successes", []):
            dup = bool(s.get("message"))
            summary["duplicates" if dup else "stored"] += 1
            _keep(summary, s, "duplicate" if dup else "stored")
        for s in status.get("failures", []):
            summary["rejected"] += 1
            _keep(summary, s, "rejected")
        done += len(batch)
        yield {"phase": "stored", "done": done, "total": total}
    yield {"phase": "done", "summary": summary}


def _keep(summary: dict[str, Any], s: dict[str, Any], outcome: str) -> None:
    if len(summary["results"]) < MAX_RESULTS:
        summary["results"].append({"id": s.get("id"), "version": s.get("version"),
                                   "outcome": outcome, "message": s.get("message")})
    else:
        summary["truncated"] = True


def _in_context(actor: Actor, rid: str, events: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    """Progress lines for a streamed answer, each step run as the signed-in user."""
    while True:
        with acting(actor, rid):
            try:
                event = next(events)
            except StopIteration:
                return
            except Exception as exc:  # noqa: BLE001 - reported to the page, not swallowed
                message = getattr(exc, "message", None) or "the import failed; see the log"
                yield orjson.dumps({"phase": "error", "message": message}) + b"\n"
                return
        yield orjson.dumps(event) + b"\n"


async def upload(ctx: Ctx) -> Response | View:
    """Check and import the uploaded file."""
    b, who = ctx.backend, ctx.who
    f = ctx.file("file")
    ref = ctx.arg("collection")
    fmt = ctx.arg("importer", "stix")
    if f is None or not f.filename:
        raise BadRequest("choose a file to import")
    if fmt != "stix":
        raise BadRequest(f"this node cannot import the format {fmt!r} yet")
    view = await run_in_threadpool(b.collection, who, ref)
    if not view.can_write:
        raise Forbidden("you may not add objects to this collection")
    total = await run_in_threadpool(_check, f.file)
    meta = {"collection": cname(view), "file": f.filename, "format": fmt}
    events = run(b, who, cname(view), f.file, total, meta)
    if NDJSON in ctx.request.headers.get("accept", ""):
        return StreamingResponse(_in_context(current(), ctx.request_id, events),
                                 media_type=NDJSON)
    summary: dict[str, Any] = {}

    def drain() -> None:
        for event in events:
            if event["phase"] == "done":
                summary.update(event["summary"])

    await run_in_threadpool(drain)
    return View("import_done.html", summary, "Import finished")

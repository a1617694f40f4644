"""The audit log (admins): entries with filters, verification of the chain, checkpoints.

    GET  /ui/audit/?actor=&action=&since=&after=   entries (newest first on the page)
    GET  /ui/audit/verify                          walk the chain: intact, or where it broke
    POST /ui/audit/verify                          the same, also against checkpoint files
    GET  /ui/audit/checkpoint                      download a signed checkpoint of the head
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from liaison.audit.chain import AuditEntry
from liaison.audit.service import parse_since
from liaison.errors import BadRequest, LiaisonError
from liaison.web.app import Ctx, View
from liaison.web.backend import ts

PAGE = 50


def entry_row(e: AuditEntry) -> dict[str, Any]:
    """An audit entry as the pages show it (the full details stay in the model)."""
    text = orjson.dumps(e.details).decode()
    return {"seq": e.seq, "at": ts(e.at), "actor": e.actor_name, "actor_id": e.actor_id,
            "org": e.org, "action": e.action, "target": e.target, "result": e.result,
            "request_id": e.request_id, "details": e.details,
            "summary": text if len(text) <= 160 else text[:157] + "…", "hash": e.hash}


def _after(ctx: Ctx) -> int | None:
    raw = ctx.arg("after")
    if not raw:
        return None
    if not raw.isdigit():
        raise BadRequest(f"'after' must be an entry number, not {raw!r}")
    return int(raw)


def log(ctx: Ctx) -> View:
    """The audit log, filtered by actor, action and time; pages of 50."""
    b = ctx.backend
    filters = {"actor": ctx.arg("actor"), "action": ctx.arg("action"),
               "since": ctx.arg("since")}
    since = parse_since(filters["since"] or None, "since")
    filtered = any(filters.values())
    head = b.audit_head()
    after = _after(ctx)
    if after is None:
        after = 0 if filtered else max(0, head - PAGE)
    entries = b.audit.log(since=since, actor=filters["actor"] or None,
                          action=filters["action"] or None, after_seq=after, limit=PAGE + 1)
    more = len(entries) > PAGE
    entries = entries[:PAGE]
    older = None
    if not filtered and entries and entries[0].seq > 1:
        older = max(0, entries[0].seq - 1 - PAGE)
    model = {"filters": filters, "head": head, "after": after,
             "entries": [entry_row(e) for e in reversed(entries)],
             "newer_after": entries[-1].seq if more else None, "older_after": older}
    return View("audit.html", model, "Audit log")


def verify(ctx: Ctx) -> View:
    """Walk the whole chain (and hold it against uploaded checkpoints, on POST)."""
    b = ctx.backend
    checkpoints: list[bytes] = []
    names: list[str] = []
    if ctx.form is not None:
        for item in ctx.form.getlist("checkpoint"):
            if hasattr(item, "file") and getattr(item, "filename", ""):
                checkpoints.append(item.file.read(1 << 20))
                names.append(str(item.filename))
    pubkey = ctx.arg("pubkey") or None
    try:
        report = b.audit.verify(checkpoints, pubkey).as_dict()
    except LiaisonError as exc:  # a checkpoint that is not one, or a forged one
        report = {"ok": False, "entries": 0, "head_seq": 0, "checkpoints": [],
                  "break": {"seq": 0, "reason": exc.message}}
    report["checkpoint_files"] = names
    return View("audit_verify.html", report, "Audit verification")


def checkpoint(ctx: Ctx) -> Response:
    """A signed checkpoint of the chain's head, as a file to keep or hand over."""
    cp = ctx.backend.audit.checkpoint()
    body = orjson.dumps(cp.as_dict(), option=orjson.OPT_INDENT_2) + b"\n"
    return Response(body, media_type="application/json", headers={
        "Content-Disposition": f'attachment; filename="audit-checkpoint-{cp.seq}.json"'})

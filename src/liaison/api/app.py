"""Liaison's own JSON endpoints under `/liaison/`: additions that do not bend TAXII.

Same credentials as TAXII (HTTP Basic with the token, or Bearer); answers are
`application/json`; errors carry `{title, description, http_status}` like TAXII's.
All of them are for node administrators; a refusal is an `access.denied` audit entry,
failed credentials an `auth.fail` entry, and every answer carries `X-Request-ID`.

    GET /liaison/policy/explain/{id}/?partner=&collection=
    GET /liaison/audit/log/?since=&actor=&action=&after=&limit=   entries, oldest first
    GET /liaison/audit/verify/                                     the chain walked
    GET /liaison/audit/who-received/{id}/                          releases of an object
    GET /liaison/audit/checkpoint/                                 a signed checkpoint
    GET /liaison/audit/pubkey/                                     the checkpoint key
    GET /liaison/audit/export/?since=                              JSON lines, streamed
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from liaison.audit.service import Audit, parse_since
from liaison.errors import BadRequest, LiaisonError
from liaison.exchange import Exchange
from liaison.storage.base import Principal
from liaison.taxii.auth import anonymous, authenticate

JSON = "application/json"
NDJSON = "application/x-ndjson"
LOG_LIMIT, LOG_MAX = 100, 1000

Handler = Callable[[Request, Principal], Awaitable[Response]]


def json_response(data: object, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=JSON)


def error_json(exc: LiaisonError) -> Response:
    resp = json_response({"title": exc.title, "description": exc.message,
                          "http_status": str(exc.http_status)}, exc.http_status)
    if exc.http_status == 401:
        resp.headers["WWW-Authenticate"] = 'Basic realm="Liaison", Bearer realm="Liaison"'
    return resp


def _count(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise BadRequest(f"'{name}' must be a whole number, not {raw!r}")
    return max(low, min(int(raw), high))


class NodeApi:
    def __init__(self, exchange: Exchange, home: Path) -> None:
        self.exchange = exchange
        self.audit = Audit(exchange.store, home)

    async def _admin(self, request: Request, who: Principal) -> None:
        await run_in_threadpool(self.exchange.require_admin, who, request.url.path)

    async def explain(self, request: Request, who: Principal) -> Response:
        """Why an object is or is not released to a partner (admins only)."""
        await self._admin(request, who)
        partner = request.query_params.get("partner", "")
        collection = request.query_params.get("collection") or None
        results = await run_in_threadpool(self.exchange.explain,
                                          request.path_params["oid"], partner, collection)
        return json_response({"object": request.path_params["oid"], "partner": partner,
                              "explanations": [r.as_dict() for r in results]})

    # -- the audit (the JSON twins of 'liaison audit …') ------------------------------
    async def audit_log(self, request: Request, who: Principal) -> Response:
        """Audit entries matching every filter, oldest first; page on with `after`."""
        await self._admin(request, who)
        q = request.query_params
        since = parse_since(q.get("since"), "since")
        after = _count(request, "after", 0, 0, 2**62)
        limit = _count(request, "limit", LOG_LIMIT, 1, LOG_MAX)
        entries = await run_in_threadpool(
            lambda: self.audit.log(since=since, actor=q.get("actor") or None,
                                   action=q.get("action") or None, after_seq=after,
                                   limit=limit + 1))
        page = entries[:limit]
        more = len(entries) > limit
        return json_response({"entries": [e.as_dict() for e in page], "more": more,
                              "next_after": page[-1].seq if more else None})

    async def audit_verify(self, request: Request, who: Principal) -> Response:
        """Walk the whole chain against its recorded head (`ok` false at a break)."""
        await self._admin(request, who)
        report = await run_in_threadpool(self.audit.verify)
        return json_response(report.as_dict())

    async def who_received(self, request: Request, who: Principal) -> Response:
        """Every release of any version of an object: partner, version, when, how."""
        await self._admin(request, who)
        oid = request.path_params["oid"]
        rows = await run_in_threadpool(self.audit.who_received, oid)
        return json_response({"object": oid, "received": rows})

    async def checkpoint(self, request: Request, who: Principal) -> Response:
        """The current head of the chain, signed with the node's audit key."""
        await self._admin(request, who)
        cp = await run_in_threadpool(self.audit.checkpoint)
        return json_response(cp.as_dict())

    async def pubkey(self, request: Request, who: Principal) -> Response:
        """The public key that verifies this node's checkpoints."""
        await self._admin(request, who)
        key = await run_in_threadpool(self.audit.pubkey)
        return json_response({"public_key": key})

    async def export(self, request: Request, who: Principal) -> Response:
        """Entries as JSON lines (one entry with its hashes per line), streamed."""
        await self._admin(request, who)
        since = parse_since(request.query_params.get("since"), "since")

        def lines() -> Iterator[bytes]:
            for e in self.audit.export(since):
                yield orjson.dumps(e.as_dict()) + b"\n"

        return StreamingResponse(lines(), media_type=NDJSON)


def _endpoint(exchange: Exchange, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        with anonymous(request) as rid:
            try:
                who = await authenticate(request, exchange)
                response = await handler(request, who)
            except LiaisonError as exc:
                response = error_json(exc)
            response.headers["X-Request-ID"] = rid
            return response

    endpoint.__doc__ = handler.__doc__
    return endpoint


def routes(exchange: Exchange, home: Path) -> list[Route]:
    api = NodeApi(exchange, home)
    table: list[tuple[str, Handler]] = [
        ("/liaison/policy/explain/{oid}/", api.explain),
        ("/liaison/audit/log/", api.audit_log),
        ("/liaison/audit/verify/", api.audit_verify),
        ("/liaison/audit/who-received/{oid}/", api.who_received),
        ("/liaison/audit/checkpoint/", api.checkpoint),
        ("/liaison/audit/pubkey/", api.pubkey),
        ("/liaison/audit/export/", api.export),
    ]
    from liaison.api.openapi import openapi_route
    from liaison.api.search import search_routes

    return ([Route(path, _endpoint(exchange, h), methods=["GET"]) for path, h in table]
            + search_routes(exchange, _endpoint, json_response) + [openapi_route()])

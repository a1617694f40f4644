"""Liaison's own JSON endpoints under `/liaison/`: additions that do not bend TAXII.

Same credentials as TAXII (HTTP Basic with the token, or Bearer); answers are
`application/json`; errors carry `{title, description, http_status}` like TAXII's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from liaison.audit.context import Actor, acting, set_actor
from liaison.errors import Forbidden, LiaisonError
from liaison.exchange import Exchange
from liaison.storage.base import Principal
from liaison.taxii.app import credentials

JSON = "application/json"

Handler = Callable[[Request, Principal], Awaitable[Response]]


def json_response(data: object, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type=JSON)


def error_json(exc: LiaisonError) -> Response:
    resp = json_response({"title": exc.title, "description": exc.message,
                          "http_status": str(exc.http_status)}, exc.http_status)
    if exc.http_status == 401:
        resp.headers["WWW-Authenticate"] = 'Basic realm="Liaison", Bearer realm="Liaison"'
    return resp


def require_admin(who: Principal) -> None:
    if not who.is_admin:
        raise Forbidden("this endpoint is for node administrators")


class NodeApi:
    def __init__(self, exchange: Exchange) -> None:
        self.exchange = exchange

    async def explain(self, request: Request, who: Principal) -> Response:
        """Why an object is or is not released to a partner (admins only)."""
        require_admin(who)
        partner = request.query_params.get("partner", "")
        collection = request.query_params.get("collection") or None
        results = await run_in_threadpool(self.exchange.explain,
                                          request.path_params["oid"], partner, collection)
        return json_response({"object": request.path_params["oid"], "partner": partner,
                              "explanations": [r.as_dict() for r in results]})


def _endpoint(exchange: Exchange, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        client = request.client.host if request.client else "unknown"
        with acting(Actor(f"anonymous@{client}", f"anonymous@{client}", kind="anonymous")) as rid:
            try:
                name, token = credentials(request)

                def login() -> tuple[Principal, Actor]:
                    who = exchange.authenticate(token, name)
                    return who, exchange.actor(who)

                who, actor = await run_in_threadpool(login)
                set_actor(actor)
                response = await handler(request, who)
            except LiaisonError as exc:
                response = error_json(exc)
            response.headers["X-Request-ID"] = rid
            return response

    endpoint.__doc__ = handler.__doc__
    return endpoint


def routes(exchange: Exchange) -> list[Route]:
    api = NodeApi(exchange)
    return [
        Route("/liaison/policy/explain/{oid}/", _endpoint(exchange, api.explain), methods=["GET"]),
    ]

"""HTTP faces of lookup, search and correlation (the JSON twins of `liaison lookup`, …).

Same credentials and error bodies as the other `/liaison/` endpoints (`api.app`); any
principal may call them — local users within their grants, partners within what their
agreements release (`liaison.lookup`).  Described in docs/openapi.json.

    GET  /liaison/lookup/?value=V[&value=…][&kind=][&limit=][&versions=all]
    POST /liaison/lookup/            {"values": [...], "kind"?, "limit"?, "versions"?}
    GET  /liaison/search/?q=…[&limit=][&next=][&facets=true][&sort=newest][&versions=all]
    GET  /liaison/objects/{id}/correlations/[?collection=][&limit=]
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from liaison.errors import BadRequest, PayloadTooLarge
from liaison.exchange import Exchange
from liaison.lookup import MAX_VALUES
from liaison.search.probes import KINDS
from liaison.storage.base import Principal

MAX_BODY = 16 * 1024 * 1024
"""A batch lookup body (10,000 values of up to ~1 kB each, with room to spare)."""

Handler = Callable[[Request, Principal], Awaitable[Response]]


def _number(raw: object, name: str) -> int | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool) or not (isinstance(raw, int) or (isinstance(raw, str)
                                                              and raw.isdigit())):
        raise BadRequest(f"'{name}' must be a whole number, not {raw!r}")
    return int(raw)


def _kind(raw: object) -> str | None:
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str) or (raw not in KINDS and not raw.startswith("hash:")):
        raise BadRequest(f"unknown kind {raw!r} — use one of {', '.join(KINDS)} or "
                         "hash:<algorithm>")
    return raw


def _all_versions(raw: object) -> bool:
    if raw in (None, "", "last"):
        return False
    if raw == "all":
        return True
    raise BadRequest(f"'versions' is 'last' (the default) or 'all', not {raw!r}")


def _flag(raw: str | None, name: str) -> bool:
    if raw in (None, "", "false", "0"):
        return False
    if raw in ("true", "1"):
        return True
    raise BadRequest(f"'{name}' is true or false, not {raw!r}")


class SearchApi:
    def __init__(self, exchange: Exchange, json_response: Callable[[object], Response]) -> None:
        self.finder = exchange.finder
        self.json = json_response

    async def lookup(self, request: Request, who: Principal) -> Response:
        """The visible objects that mention each value (GET: `value` parameters; POST: a
        JSON body with `values`).  Unknown values come back with `seen` false."""
        if request.method == "POST":
            values, options = await self._body(request)
        else:
            values = [v for v in request.query_params.getlist("value") if v != ""]
            options = dict(request.query_params)
        if not values:
            raise BadRequest("give at least one value to look up ('value' parameter, or "
                             "'values' in a POSTed JSON body)")
        kind, limit = _kind(options.get("kind")), _number(options.get("limit"), "limit")
        every = _all_versions(options.get("versions"))
        answers = await run_in_threadpool(
            lambda: self.finder.lookup(who, values, kind=kind, limit=limit, all_versions=every))
        return self.json({"values": answers})

    async def _body(self, request: Request) -> tuple[list[str], dict[str, Any]]:
        declared = request.headers.get("content-length") or "0"
        if declared.isdigit() and int(declared) > MAX_BODY:
            raise PayloadTooLarge(f"a lookup body is at most {MAX_BODY} bytes")
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > MAX_BODY:
                raise PayloadTooLarge(f"a lookup body is at most {MAX_BODY} bytes")
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"the request body is not valid JSON: {exc}") from None
        values = doc.get("values") if isinstance(doc, dict) else None
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise BadRequest('the body must be {"values": ["…", …]} (a list of strings)')
        if len(values) > MAX_VALUES:
            raise BadRequest(f"at most {MAX_VALUES} values per request — send batches")
        return [v for v in values if v != ""], doc

    async def search(self, request: Request, who: Principal) -> Response:
        """One page of a full-text search (see docs/search.md for the query language)."""
        q = request.query_params
        text = q.get("q", "")
        limit = _number(q.get("limit"), "limit")
        sort = q.get("sort") or "relevance"
        if sort not in ("relevance", "newest"):
            raise BadRequest(f"'sort' is 'relevance' or 'newest', not {sort!r}")
        facets, every = _flag(q.get("facets"), "facets"), _all_versions(q.get("versions"))
        page = await run_in_threadpool(
            lambda: self.finder.search(who, text, limit=limit, next=q.get("next") or None,
                                       facets=facets, newest=sort == "newest",
                                       all_versions=every))
        return self.json(page)

    async def correlations(self, request: Request, who: Principal) -> Response:
        """Objects sharing an observable value with this one, and the relationships and
        sightings around it."""
        q = request.query_params
        limit = _number(q.get("limit"), "limit")
        answer = await run_in_threadpool(
            lambda: self.finder.correlate(who, request.path_params["oid"],
                                          collection=q.get("collection") or None,
                                          limit=limit))
        return self.json(answer)


def search_routes(exchange: Exchange, endpoint: Callable[[Exchange, Handler], Any],
                  json_response: Callable[[object], Response]) -> list[Route]:
    """The routes, each wrapped by `api.app`'s authenticating `endpoint`."""
    api = SearchApi(exchange, json_response)
    return [
        Route("/liaison/lookup/", endpoint(exchange, api.lookup), methods=["GET", "POST"]),
        Route("/liaison/search/", endpoint(exchange, api.search), methods=["GET"]),
        Route("/liaison/objects/{oid}/correlations/", endpoint(exchange, api.correlations),
              methods=["GET"]),
    ]

"""The TAXII 2.1 face: `create_app(node)` builds the ASGI application.

Endpoints (reference §1.1, TAXII 2.1 §4 and §5): discovery, API root, status,
collections, collection, manifest, objects GET/POST, object GET/DELETE, versions.
Each handler authenticates (§1.6.9), negotiates media types (§3.1), parses filters
(§3.4) and makes exactly one call through the exchange, off the event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from liaison.errors import LiaisonError, NotFound, PayloadTooLarge
from liaison.exchange import Exchange, Filters
from liaison.node import Node
from liaison.storage.base import Principal
from liaison.taxii import resources
from liaison.taxii.auth import (
    anonymous,
    authenticate,
    checked_credentials,
    login,
    sign_in,
)
from liaison.taxii.media import TAXII_21, check_accept, check_content_type
from liaison.taxii.params import parse_filters

log = logging.getLogger("liaison.taxii")

CHALLENGE = 'Basic realm="Liaison TAXII", charset="UTF-8", Bearer realm="Liaison TAXII"'
_OBJECTS = frozenset({"match[id]", "match[type]", "match[version]", "match[spec_version]"})
_OBJECT = frozenset({"match[version]", "match[spec_version]"})
_VERSIONS = frozenset({"match[spec_version]"})


def taxii(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(body, status_code=status, headers=headers, media_type=TAXII_21)


def error_response(exc: LiaisonError) -> Response:
    headers = {"WWW-Authenticate": CHALLENGE} if exc.http_status == 401 else None
    return taxii(resources.error(exc.http_status, exc.title, exc.message), exc.http_status,
                 headers)


class TaxiiApi:
    """The handlers, bound to one node."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.exchange = node.exchange
        self.root = node.settings.api_root
        self.max_body = node.settings.max_content_length

    def _check_root(self, request: Request) -> None:
        if request.path_params.get("root") != self.root:
            raise NotFound("no such API root")

    async def _body(self, request: Request) -> bytes:
        """Read the body, refusing it as soon as it passes max_content_length (§4.2.1)."""
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_body:
            raise PayloadTooLarge(f"the body is larger than max_content_length "
                                  f"({self.max_body} bytes)")
        chunks = bytearray()
        async for chunk in request.stream():
            chunks += chunk
            if len(chunks) > self.max_body:
                raise PayloadTooLarge(f"the body is larger than max_content_length "
                                      f"({self.max_body} bytes)")
        return bytes(chunks)

    # -- §4.1 - §4.3 ---------------------------------------------------------------
    async def discovery(self, request: Request, who: Principal) -> Response:
        """Server Discovery (§4.1): relative API root URLs unless a public https base."""
        conf = self.node.settings
        base = conf.public_base_url.rstrip("/") if conf.public_base_url.startswith("https://") else ""
        org = self.node.org_identity().get("name", "")
        title = conf.title or f"Liaison node of {org}"
        return taxii(resources.discovery(title, "STIX 2.1 intelligence shared under agreements",
                                         f"{base}/{self.root}/"))

    async def api_root(self, request: Request, who: Principal) -> Response:
        """Get API Root Information (§4.2)."""
        self._check_root(request)
        org = self.node.org_identity().get("name", "")
        return taxii(resources.api_root(f"{org} intelligence", "The node's TAXII 2.1 API root",
                                        self.max_body))

    async def status(self, request: Request, who: Principal) -> Response:
        """Get Status (§4.3): only the principal that posted (or an admin) sees it."""
        self._check_root(request)
        body = await run_in_threadpool(self.exchange.status, who, request.path_params["sid"])
        return taxii(body)

    # -- §5.1 - §5.2 ---------------------------------------------------------------
    async def collections(self, request: Request, who: Principal) -> Response:
        """Get Collections (§5.1): the collections this principal may use, stable order."""
        self._check_root(request)
        views = await run_in_threadpool(self.exchange.collections, who)
        return taxii(resources.collections(views))

    async def collection(self, request: Request, who: Principal) -> Response:
        """Get a Collection (§5.2)."""
        self._check_root(request)
        view = await run_in_threadpool(self.exchange.collection, who, request.path_params["cid"])
        return taxii(orjson.dumps(resources.collection(view)))

    # -- §5.3 - §5.8 ---------------------------------------------------------------
    def _filters(self, request: Request, allowed: frozenset[str]) -> Filters:
        return parse_filters(request.query_params.multi_items(), allowed=allowed)

    async def _listing(self, request: Request, who: Caller, kind: str,
                       allowed: frozenset[str], render: Callable[[Any], bytes],
                       object_id: str | None = None) -> Response:
        """A read in one trip to a worker thread: sign-in, query and rendering together
        (the hot path of every TAXII client; bad filters are refused before it)."""
        cid = request.path_params["cid"]

        def work() -> Response:
            principal = login(self.exchange, *who.credentials)
            self._check_root(request)
            filters = self._filters(request, allowed)
            listing = self.exchange.read(principal, cid, filters, kind=kind,
                                         object_id=object_id)
            return taxii(render(listing), headers=resources.date_headers(listing))

        return await run_in_threadpool(work)

    async def manifest(self, request: Request, who: Caller) -> Response:
        """Get Object Manifests (§5.3): one record per version, filters on the source."""
        return await self._listing(request, who, "manifest", _OBJECTS, resources.manifest)

    async def objects(self, request: Request, who: Caller) -> Response:
        """Get Objects (§5.4) and Add Objects (§5.5, answered 202 with a status)."""
        if request.method == "POST":
            principal = await who.principal()
            self._check_root(request)
            check_content_type(request.headers.get("content-type"))
            body = await self._body(request)
            status = await run_in_threadpool(self.exchange.add_envelope, principal,
                                             request.path_params["cid"], body)
            return taxii(status, 202)
        return await self._listing(request, who, "objects", _OBJECTS, resources.envelope)

    async def object(self, request: Request, who: Caller) -> Response:
        """Get an Object (§5.6) and Delete an Object (§5.7)."""
        oid = request.path_params["oid"]
        if request.method == "DELETE":
            principal = await who.principal()
            self._check_root(request)
            f = self._filters(request, _OBJECT)
            has_version = "match[version]" in request.query_params
            await run_in_threadpool(self.exchange.delete_object, principal,
                                    request.path_params["cid"],
                                    oid, f.versions if has_version else None, f.spec_versions)
            return Response(status_code=200, media_type=TAXII_21)
        return await self._listing(request, who, "objects", _OBJECT, resources.envelope, oid)

    async def versions(self, request: Request, who: Caller) -> Response:
        """Get Object Versions (§5.8)."""
        return await self._listing(request, who, "versions", _VERSIONS, resources.versions,
                                   request.path_params["oid"])


class Caller:
    """Checked credentials not yet signed in: the read handlers sign in inside their
    worker thread (one trip instead of two), the others through `principal()`."""

    __slots__ = ("credentials", "exchange")

    def __init__(self, credentials: tuple[str | None, str], exchange: Exchange) -> None:
        self.credentials = credentials
        self.exchange = exchange

    async def principal(self) -> Principal:
        return await sign_in(self.exchange, self.credentials)


Handler = Callable[[Request, Any], Awaitable[Response]]


def _endpoint(api: TaxiiApi, handler: Handler, deferred: bool = False,
              ) -> Callable[[Request], Awaitable[Response]]:
    """Authenticate (`deferred`: only check the credentials' form, the handler signs
    in), negotiate the media type, run the handler; errors become TAXII error bodies."""
    async def endpoint(request: Request) -> Response:
        with anonymous(request) as rid:
            try:
                who: Any
                if deferred:
                    who = Caller(await checked_credentials(request, api.exchange), api.exchange)
                else:
                    who = await authenticate(request, api.exchange)
                check_accept(request.headers.get("accept"))
                response = await handler(request, who)
            except LiaisonError as exc:
                response = error_response(exc)
            response.headers["X-Request-ID"] = rid
            return response

    endpoint.__doc__ = handler.__doc__
    return endpoint


async def _http_error(request: Request, exc: Exception) -> Response:
    """Routing errors as TAXII error messages (§3.6.1); a 405 keeps its `Allow` header
    (RFC 9110 §15.5.6: a 405 MUST list the methods the resource supports)."""
    assert isinstance(exc, HTTPException)
    titles = {404: "Not found", 405: "Method not allowed"}
    allow = (exc.headers or {}).get("Allow")
    if exc.status_code == 404:
        message = "no such TAXII endpoint (TAXII URLs end with '/')"
    elif exc.status_code == 405 and allow:
        message = f"{request.method} is not supported here; this endpoint accepts {allow}"
    else:
        message = str(exc.detail)
    return taxii(resources.error(exc.status_code, titles.get(exc.status_code, "Error"), message),
                 exc.status_code, dict(exc.headers) if exc.headers else None)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return taxii(resources.error(500, "Internal error",
                                 "the node could not complete the request; see its log"), 500)


def routes(api: TaxiiApi) -> list[Route]:
    r = "/{root}/collections/{cid}"
    table: list[tuple[str, Handler, list[str]]] = [
        ("/taxii2/", api.discovery, ["GET"]),
        ("/{root}/", api.api_root, ["GET"]),
        ("/{root}/status/{sid}/", api.status, ["GET"]),
        ("/{root}/collections/", api.collections, ["GET"]),
        (f"{r}/", api.collection, ["GET"]),
    ]
    deferred: list[tuple[str, Handler, list[str]]] = [
        (f"{r}/manifest/", api.manifest, ["GET"]),
        (f"{r}/objects/", api.objects, ["GET", "POST"]),
        (f"{r}/objects/{{oid}}/", api.object, ["GET", "DELETE"]),
        (f"{r}/objects/{{oid}}/versions/", api.versions, ["GET"]),
    ]
    return ([Route(path, _endpoint(api, h), methods=m) for path, h, m in table]
            + [Route(path, _endpoint(api, h, deferred=True), methods=m)
               for path, h, m in deferred])


def create_app(node: Node) -> Starlette:
    """The node's ASGI application: the web UI (first: its /ui/ paths would otherwise
    match TAXII's /{root}/ patterns), the TAXII 2.1 API and Liaison's JSON endpoints."""
    from liaison.api.app import routes as node_routes
    from liaison.web.app import web_routes

    api = TaxiiApi(node)
    home = Route("/", lambda request: RedirectResponse("/ui/", status_code=307))
    app = Starlette(routes=[home, *web_routes(node), *routes(api),
                            *node_routes(node.exchange, node.settings.home)],
                    exception_handlers={HTTPException: _http_error, Exception: _server_error})
    app.router.redirect_slashes = False
    app.state.node = node
    return app

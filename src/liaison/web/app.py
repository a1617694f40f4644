"""The web UI: routes, sign-in, sessions, CSRF, and the HTML/JSON twin of every page.

`web_routes(node)` returns the routes `taxii.app.create_app` mounts at `/ui/`.  Each
page is a function (in `liaison.web.pages`) that builds a plain dict — the page's
*view model* — through `Backend` (the exchange).  The same function answers both
faces of a page: HTML rendered from its template, or the dict itself as JSON when the
request asks for it (`?format=json`, or `Accept: application/json`).  So a page and
its JSON twin cannot drift apart.

Who is asking: a signed session cookie (`session`), re-checked against the exchange
on every request, or — for scripts fetching JSON twins — the same `Authorization`
header TAXII takes (Basic or Bearer).  Partner principals are refused either way.
Every POST needs the session's CSRF token (`csrf`) unless it carries a Bearer token.
The audit actor and request id are set per request exactly as the TAXII face does.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import orjson
from jinja2 import Environment
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from liaison.audit.context import set_actor
from liaison.errors import BadRequest, Forbidden, LiaisonError, PayloadTooLarge, Unauthenticated
from liaison.node import Node
from liaison.storage.base import Principal
from liaison.taxii.auth import anonymous, authenticate
from liaison.web import csrf, render
from liaison.web.backend import Backend
from liaison.web.session import COOKIE, Session, Sessions, cookie_attributes

BASE = render.BASE
JSON = "application/json"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
MAX_FORM_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class View:
    """What a page function returns: a template and its model (the JSON twin)."""

    template: str
    model: dict[str, Any]
    title: str
    status: int = 200


@dataclass(frozen=True, slots=True)
class Redirect:
    url: str


@dataclass(slots=True)
class Ctx:
    """One request as a page function sees it."""

    backend: Backend
    who: Principal
    request: Request
    form: FormData | None = None
    wants_json: bool = False
    request_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def arg(self, name: str, default: str = "") -> str:
        """A query parameter (GET) or form field (POST), stripped."""
        if self.form is not None and name in self.form:
            value = self.form.get(name)
            return value.strip() if isinstance(value, str) else default
        return (self.request.query_params.get(name) or default).strip()

    def args(self, name: str) -> list[str]:
        source = self.form.getlist(name) if self.form is not None else \
            self.request.query_params.getlist(name)
        return [v.strip() for v in source if isinstance(v, str) and v.strip()]

    def file(self, name: str) -> UploadFile | None:
        value = self.form.get(name) if self.form is not None else None
        return value if isinstance(value, UploadFile) else None

    def param(self, name: str) -> str:
        return str(self.request.path_params[name])


PageFn = Callable[[Ctx], "View | Redirect | Response"]
RawFn = Callable[[Ctx], Awaitable[Response]]


def wants_json(request: Request) -> bool:
    if request.query_params.get("format") == "json":
        return True
    accept = request.headers.get("accept", "")
    first = accept.split(",")[0].split(";")[0].strip().lower()
    return first == JSON


def json_response(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS), status_code=status,
                    media_type=JSON)


def safe_next(value: str | None) -> str:
    """Only local UI paths are followed after sign-in (no open redirects)."""
    if value and value.startswith(BASE + "/") and not value.startswith("//") \
            and "\\" not in value and "\n" not in value:
        return value
    return BASE + "/"


class Web:
    """The web face of one node."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.backend = Backend(node)
        self.exchange = node.exchange
        key = self.exchange.session_key()
        self.csrf_key = key
        self.sessions = Sessions(key)
        self.templates: Environment = render.environment()
        self.https = node.settings.public_base_url.startswith("https://")
        self.max_upload = node.settings.max_content_length

    # -- sessions ------------------------------------------------------------------------
    def _secure(self, request: Request) -> bool:
        return self.https or request.url.scheme == "https"

    def issue(self, request: Request, principal: Principal | None,
              ) -> tuple[Session, dict[str, Any]]:
        """A fresh session (new nonce) and the `set_cookie` arguments that carry it."""
        now = int(time.time())
        if principal is None:
            cookie, session = self.sessions.issue("", "", now)
            max_age = None
        else:
            cookie, session = self.sessions.issue(principal.id, principal.name, now)
            max_age = self.sessions.seconds
        return session, {"key": COOKIE, "value": cookie,
                         **cookie_attributes(self._secure(request), max_age)}

    def set_session(self, response: Response, request: Request, principal: Principal | None,
                    ) -> Session:
        """Issue a fresh session on `response`."""
        session, cookie = self.issue(request, principal)
        response.set_cookie(**cookie)
        return session

    def session_of(self, request: Request) -> Session | None:
        return self.sessions.open(request.cookies.get(COOKIE), int(time.time()))

    # -- rendering -------------------------------------------------------------------------
    def chrome(self, request: Request, who: Principal | None, session: Session | None,
               ) -> dict[str, Any]:
        """What every template gets besides its model."""
        query = request.url.query
        twin = request.url.path + "?" + (query + "&" if query else "") + "format=json"
        return {"me": None if who is None else {"name": who.name, "role": who.role,
                                                 "is_admin": who.is_admin},
                "csrf": csrf.token_for(self.csrf_key, session) if session else "",
                "org": self.backend.org_name(), "path": request.url.path, "json_url": twin}

    def html(self, template: str, title: str, model: dict[str, Any], chrome: dict[str, Any],
             status: int = 200) -> HTMLResponse:
        body = self.templates.get_template(template).render(m=model, title=title, **chrome)
        return HTMLResponse(body, status_code=status)

    def error(self, request: Request, exc: LiaisonError, who: Principal | None,
              session: Session | None) -> Response:
        if wants_json(request):
            resp = json_response({"title": exc.title, "description": exc.message,
                                  "http_status": str(exc.http_status)}, exc.http_status)
            if exc.http_status == 401:
                resp.headers["WWW-Authenticate"] = 'Bearer realm="Liaison"'
            return resp
        model = {"status": exc.http_status, "title": exc.title, "message": exc.message}
        return self.html("error.html", exc.title, model, self.chrome(request, who, session),
                         exc.http_status)

    # -- the request pipeline --------------------------------------------------------------
    async def _principal(self, request: Request, session: Session | None,
                         ) -> tuple[Principal | None, bool, bool]:
        """(principal, via an Authorization header, the session cookie must be cleared)."""
        if "authorization" in request.headers:  # a script fetching JSON twins
            who = await authenticate(request, self.exchange)
            if who.kind != "user":
                await run_in_threadpool(self.exchange.refused, request.url.path,
                                        "partner credentials on the web UI")
                raise Forbidden("partner credentials are for the TAXII API, not the web UI")
            return who, True, False
        if session is None or not session.signed_in:
            return None, False, session is not None and session.signed_in
        try:
            who = await run_in_threadpool(self.exchange.resume, session.principal_id,
                                          session.name)
        except Unauthenticated:
            return None, False, True
        return who, False, False

    async def read_form(self, request: Request, limit: int = MAX_FORM_BYTES) -> FormData:
        declared = request.headers.get("content-length")
        if declared is None or not declared.isdigit():
            raise BadRequest("a form post needs a Content-Length")
        if int(declared) > limit:
            raise PayloadTooLarge(f"the upload is larger than this node accepts ({limit} bytes)")
        return await request.form(max_files=8, max_fields=500, max_part_size=MAX_FORM_BYTES)

    async def require_csrf(self, request: Request, session: Session | None,
                           form: FormData | None) -> None:
        """Refuse (and record) a POST without the CSRF token of its session, or from
        another origin."""
        presented = request.headers.get(csrf.HEADER)
        if presented is None and form is not None:
            value = form.get(csrf.FIELD)
            presented = value if isinstance(value, str) else None
        host = f"{request.url.scheme}://{request.url.netloc}"
        if csrf.same_origin(request.headers.get("origin"), host) and \
                csrf.check(self.csrf_key, session, presented):
            return
        await run_in_threadpool(self.exchange.refused, request.url.path,
                                "a form post without its CSRF token (or from another origin)")
        raise Forbidden("the form was refused: its security token is missing or out of date "
                        "— reload the page and try again")

    def page(self, fn: PageFn | RawFn, *, admin: bool = False, raw: bool = False,
             upload: bool = False) -> Callable[[Request], Awaitable[Response]]:
        """An endpoint that authenticates, checks CSRF on POST, runs `fn` as the signed-in
        principal, and answers HTML or JSON."""

        async def endpoint(request: Request) -> Response:
            with anonymous(request) as rid:
                session = self.session_of(request)
                who: Principal | None = None
                clear = False
                try:
                    who, by_header, clear = await self._principal(request, session)
                    if who is None:
                        if wants_json(request) or request.method != "GET":
                            raise Unauthenticated("sign in first (or send an Authorization "
                                                  "header with your token)")
                        target = quote(request.url.path + ("?" + request.url.query
                                                           if request.url.query else ""))
                        response: Response = RedirectResponse(
                            f"{BASE}/login?next={target}", status_code=303)
                    else:
                        set_actor(await run_in_threadpool(self.exchange.actor, who))
                        response = await self._run(request, fn, who, session, by_header, rid,
                                                   admin=admin, raw=raw, upload=upload)
                except LiaisonError as exc:
                    response = self.error(request, exc, who, session)
                if clear:
                    self.set_session(response, request, None)
                harden(response, rid)
                return response

        endpoint.__doc__ = fn.__doc__
        return endpoint

    async def _run(self, request: Request, fn: Any, who: Principal, session: Session | None,
                   by_header: bool, rid: str, *, admin: bool, raw: bool, upload: bool,
                   ) -> Response:
        if admin and not who.is_admin:  # refused and recorded (`access.denied`)
            await run_in_threadpool(self.exchange.require_admin, who, request.url.path)
        form = None
        if request.method == "POST":
            form = await self.read_form(request, self.max_upload if upload else MAX_FORM_BYTES)
            bearer = by_header and request.headers["authorization"].lower().startswith("bearer ")
            if not bearer:
                await self.require_csrf(request, session, form)
        ctx = Ctx(self.backend, who, request, form, wants_json(request), rid)
        result = await fn(ctx) if raw else await run_in_threadpool(fn, ctx)
        if isinstance(result, Response):
            return result
        if isinstance(result, Redirect):
            return RedirectResponse(result.url, status_code=303)
        if ctx.wants_json:
            return json_response(result.model, result.status)
        return self.html(result.template, result.title, result.model,
                         self.chrome(request, who, session), result.status)


def harden(response: Response, request_id: str) -> None:
    """Headers every UI answer carries (ASVS V14.4)."""
    h = response.headers
    h["X-Request-ID"] = request_id
    h.setdefault("Content-Security-Policy", CSP)
    h["X-Content-Type-Options"] = "nosniff"
    h["X-Frame-Options"] = "DENY"
    h["Referrer-Policy"] = "same-origin"
    h.setdefault("Cache-Control", "no-store")


def web_routes(node: Node) -> list[BaseRoute]:
    """The UI's routes, for `create_app` (the node's single ASGI application)."""
    from liaison.web.pages import routes as page_routes

    web = Web(node)
    static = StaticFiles(packages=[("liaison.web", "static")])
    return [Route(BASE, lambda r: RedirectResponse(BASE + "/", status_code=307)),
            Mount(BASE + "/static", app=static, name="static"),
            *page_routes(web)]

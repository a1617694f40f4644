"""Sign in and sign out.

Local users sign in with their name and token (the one `liaison user add` printed);
the exchange checks them (`Exchange.sign_in`, audited either way) and refuses partner
principals.  Success replaces the visitor's anonymous session by a signed-in one
(a new nonce, so no session fixation); signing out replaces it by a new anonymous one.
Both forms carry the CSRF token of the session they were shown in.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from liaison.taxii.auth import anonymous
from liaison.errors import LiaisonError
from liaison.web.app import BASE, harden, safe_next, wants_json

if TYPE_CHECKING:
    from liaison.web.app import Web


def _form_page(web: Web, request: Request, *, error: str | None, name: str,
               status: int = 200) -> Response:
    """The sign-in form, with an anonymous session (for its CSRF token) if needed."""
    session = web.session_of(request)
    cookie = None
    if session is None or session.signed_in:
        session, cookie = web.issue(request, None)
    model = {"error": error, "name": name, "next": safe_next(request.query_params.get("next"))}
    response = web.html("login.html", "Sign in", model, web.chrome(request, None, session),
                        status)
    if cookie is not None:
        response.set_cookie(**cookie)
    return response


async def login(web: Web, request: Request) -> Response:
    """GET: the sign-in form.  POST: check name and token, start a session."""
    with anonymous(request) as rid:
        if request.method == "GET":
            signed_in = web.session_of(request)
            if signed_in is not None and signed_in.signed_in:  # the pages re-check it
                response = RedirectResponse(safe_next(request.query_params.get("next")),
                                            status_code=303)
            else:
                response = _form_page(web, request, error=None, name="")
            harden(response, rid)
            return response
        session = web.session_of(request)
        name = ""
        try:
            form = await web.read_form(request)
            name = str(form.get("name") or "").strip()
            token = str(form.get("token") or "").strip()
            await web.require_csrf(request, session, form)
            who = await run_in_threadpool(web.exchange.sign_in, name, token)
        except LiaisonError as exc:
            if wants_json(request):
                response = web.error(request, exc, None, session)
            else:
                message = (exc.message if exc.http_status != 401 or "partner" in exc.message
                           else "That name and token do not match an active user of this node.")
                response = _form_page(web, request, error=message, name=name,
                                      status=exc.http_status)
            harden(response, rid)
            return response
        target = safe_next(str(form.get("next") or ""))
        response = RedirectResponse(target, status_code=303)
        web.set_session(response, request, who)
        harden(response, rid)
        return response


async def logout(web: Web, request: Request) -> Response:
    """POST: end the session (the cookie is replaced by an anonymous one)."""
    with anonymous(request) as rid:
        session = web.session_of(request)
        try:
            form = await web.read_form(request)
            await web.require_csrf(request, session, form)
        except LiaisonError as exc:
            response = web.error(request, exc, None, session)
            harden(response, rid)
            return response
        response = RedirectResponse(f"{BASE}/login", status_code=303)
        web.set_session(response, request, None)
        harden(response, rid)
        return response

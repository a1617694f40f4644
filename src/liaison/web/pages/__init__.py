"""The pages of the web UI, one module each, and their routes.

Every page answers HTML, or its JSON twin with `?format=json` (or
`Accept: application/json`); see `liaison.web.app`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from liaison.errors import NotFound
from liaison.web.pages import audit, auth, browse, dashboard, detail, importer, lookup, partners

if TYPE_CHECKING:
    from liaison.web.app import Ctx, View, Web


def not_found(ctx: Ctx) -> View:
    """Any other path under /ui/: a page that says so."""
    raise NotFound(f"there is no page at {ctx.request.url.path}")


def routes(web: Web) -> list[BaseRoute]:
    """The UI's pages under /ui/ (the static files are mounted by `web_routes`)."""
    p = web.page
    b = "/ui"

    async def login(request: Request) -> Response:
        return await auth.login(web, request)

    async def logout(request: Request) -> Response:
        return await auth.logout(web, request)

    return [
        Route(f"{b}/", p(dashboard.dashboard)),
        Route(f"{b}/login", login, methods=["GET", "POST"]),
        Route(f"{b}/logout", logout, methods=["POST"]),
        Route(f"{b}/collections/", p(browse.collections)),
        Route(f"{b}/collections/{{collection}}/", p(browse.browse)),
        Route(f"{b}/collections/{{collection}}/objects/{{oid}}/", p(detail.detail)),
        Route(f"{b}/objects/{{oid}}/", p(detail.find)),
        Route(f"{b}/lookup/", p(lookup.lookup), methods=["GET", "POST"]),
        Route(f"{b}/import/", p(importer.form)),
        Route(f"{b}/import/", p(importer.upload, raw=True, upload=True), methods=["POST"]),
        Route(f"{b}/partners/", p(partners.page, admin=True)),
        Route(f"{b}/partners/", p(partners.add_partner, admin=True), methods=["POST"]),
        Route(f"{b}/partners/{{name}}/remove", p(partners.remove_partner, admin=True),
              methods=["POST"]),
        Route(f"{b}/partners/{{name}}/sync", p(partners.sync_now, admin=True),
              methods=["POST"]),
        Route(f"{b}/agreements/", p(partners.add_agreement, admin=True), methods=["POST"]),
        Route(f"{b}/agreements/{{aid}}/revoke", p(partners.revoke_agreement, admin=True),
              methods=["POST"]),
        Route(f"{b}/audit/", p(audit.log, admin=True)),
        Route(f"{b}/audit/verify", p(audit.verify, admin=True), methods=["GET", "POST"]),
        Route(f"{b}/audit/checkpoint", p(audit.checkpoint, admin=True)),
        Route(f"{b}/{{rest:path}}", p(not_found), methods=["GET", "POST"]),
    ]

"""What every page of the UI shares: the templates, the layout's context, and error pages.

    render(request, "jobs.html", {"active": "jobs", ...})   a page in the shared layout
    router = APIRouter(route_class=PageRoute)                  a PlimsollError becomes an HTML page

The layout shows who is signed in (or that authentication is off) and carries the session's CSRF
token, which forms send as `csrf_token` and scripts as the `X-CSRF-Token` header (core/auth/api.py).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.types import Scope

from plimsoll._version import __version__
from plimsoll.core.auth.api import CHANGE_PASSWORD_PATH, session_of, user_of
from plimsoll.core.errors import PlimsollError
from plimsoll.core.ids import short_id
from plimsoll.server.ui import formatting

PACKAGE_DIR = Path(__file__).resolve().parent
STATIC_DIR = PACKAGE_DIR / "static"
TEMPLATES_DIR = PACKAGE_DIR / "templates"

templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.filters.update(
    timestamp=formatting.timestamp,
    short_timestamp=formatting.short_timestamp,
    iso_timestamp=formatting.iso_timestamp,
    duration=formatting.duration,
    expiry=formatting.expiry,
    number=formatting.number,
    count=formatting.count,
    filesize=formatting.filesize,
    short_id=short_id,
)
templates.env.globals.update(version=__version__)

ERROR_TITLES = {
    400: "Bad request",
    401: "Sign in needed",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    429: "Too many tries",
    503: "Unavailable",
}


def layout_context(request: Request) -> dict[str, Any]:
    """What the layout shows on every page: the navigation, who is signed in, the CSRF token."""
    session = session_of(request)
    return {
        "nav": request.app.state.nav,
        "me": user_of(request),
        "auth_on": bool(request.app.state.platform.settings.auth),
        "csrf_token": session.csrf_token if session is not None else "",
    }


def allowed(request: Request, method: str, route: str, project: str) -> bool:
    """Whether the signed-in user may make the request `method route` (a route as the permission
    table spells it, e.g. `/models/{name}/aliases/{alias}/rollback`) in `project`: what a page
    asks before it shows a button, so that the buttons follow the same rows as the guard. With
    authentication off everyone may. Only for rows whose project is the page's; the guard still
    decides every request."""
    entry = request.app.state.permissions.entry_for(method, route)
    if entry is None or not entry.rule.scope.has_project or entry.rule.role is None:
        raise AssertionError(f"{method} {route} has no project-scoped permission row")
    if not request.app.state.platform.settings.auth:
        return True
    user = user_of(request)
    if user is None:
        return False
    held = request.app.state.platform.auth.role_of(user, project)
    return held is not None and held >= entry.rule.role


def render(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    """A page in the shared layout, with the navigation of this app's capabilities."""
    response = templates.TemplateResponse(
        request, name, {**layout_context(request), **context}, status_code=status_code
    )
    if session_of(request) is not None:
        # A signed-in page holds the user's data and a CSRF token: never kept by a shared cache
        # or shown again from history after sign-out.
        response.headers["Cache-Control"] = "no-store"
    return response


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    title = ERROR_TITLES.get(status, "Something went wrong")
    context = {"status": status, "title": title, "message": message, "active": ""}
    return render(request, "error.html", context, status_code=status)


def refused_page(scope: Scope, error: PlimsollError) -> Response:
    """The guard's answer to a browser refused a page: the UI's error page (a user who must first
    choose a password is sent to do so)."""
    request = Request(scope)
    if error.details.get("reason") == "password_change_required":
        return RedirectResponse(CHANGE_PASSWORD_PATH, status_code=303)
    return error_page(request, error.status, error.message)


class PageRoute(APIRoute):
    """Turns a PlimsollError from a page into an HTML error page (the JSON API keeps its JSON)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handler(request)
            except PlimsollError as exc:
                return error_page(request, exc.status, exc.message)

        return page

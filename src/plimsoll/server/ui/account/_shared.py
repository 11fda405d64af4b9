"""What the account and admin pages share: the auth service, notices after a redirect, forms
that come back with the service's message next to the field, and pages that show a secret once."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from plimsoll.core.auth.entities import Role
from plimsoll.core.auth.service import AuthService
from plimsoll.core.errors import InvalidParameter
from plimsoll.server.ui.pages import render

ROLES = [role.value for role in Role]

# What a page says after the form that led to it (`?notice=<key>`). Only these fixed sentences are
# ever shown: the query string is the visitor's to write, so its text is never reflected.
NOTICES = {
    "profile-saved": "Profile saved.",
    "password-changed": "Password changed. Your other sessions were ended.",
    "session-ended": "Session ended.",
    "sessions-ended": "Every session of this user was ended.",
    "token-revoked": "Token revoked.",
    "user-disabled": "User disabled: their sessions ended and their tokens are refused.",
    "user-enabled": "User enabled.",
    "site-admin-granted": "They are now a site admin.",
    "site-admin-removed": "They are no longer a site admin.",
    "role-granted": "Role granted.",
    "role-removed": "Role removed.",
}


def auth_of(request: Request) -> AuthService:
    service: AuthService = request.app.state.platform.auth
    return service


def notice_of(request: Request) -> str | None:
    return NOTICES.get(request.query_params.get("notice", ""))


def done(path: str, notice: str) -> RedirectResponse:
    """Post/Redirect/Get: back to `path`, which says `notice` (a key of NOTICES)."""
    if notice not in NOTICES:
        raise AssertionError(f"unknown notice {notice!r}")
    return RedirectResponse(f"{path}?notice={notice}", status_code=303)


def form_errors(error: InvalidParameter, fields: set[str], fallback: str) -> dict[str, str]:
    """The service's message under the form field it names (or under `fallback` when the field is
    not one of this form's), without the `field: ` prefix the message repeats."""
    message = str(error.message)
    prefix = f"{error.field}: "
    text = message[len(prefix) :] if message.startswith(prefix) else message
    return {error.field if error.field in fields else fallback: text}


def secret_page(request: Request, name: str, context: dict[str, Any]) -> HTMLResponse:
    """A page that shows a secret (a token, a temporary password) this once: never cached, and
    rendered directly (no redirect to a URL that could show it again)."""
    response = render(request, name, context)
    response.headers["Cache-Control"] = "no-store"
    return response

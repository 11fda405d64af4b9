"""One's own account: `/account` (profile, roles per project, open sessions, API tokens) and
`/account/password`. Everything acts on the signed-in user only (the permission rows' `account`
scope; a token bound to a project never gets here). With authentication off there is no account:
the pages explain single-user mode, and the forms are refused."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from plimsoll.core.auth.api import session_of, user_of
from plimsoll.core.auth.entities import User
from plimsoll.core.errors import Conflict, InvalidParameter
from plimsoll.core.ids import now_ms
from plimsoll.server.ui.account._shared import ROLES, auth_of, done, form_errors, notice_of, secret_page
from plimsoll.server.ui.pages import PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

FormText = Annotated[str, Form()]
PROFILE_FIELDS = {"email", "display_name"}
TOKEN_FIELDS = {"label", "expires_in_days", "project", "role"}
PASSWORD_FIELDS = {"current_password", "new_password", "confirm"}


def _me(request: Request) -> User:
    user = user_of(request)
    if user is None:
        raise Conflict(
            "authentication is off: everyone acts as the local user and there is no account to "
            "change (start the server with --auth to have users)"
        )
    return user


def _account_page(
    request: Request,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    me = user_of(request)
    context: dict[str, Any] = {
        "active": "",
        "notice": notice_of(request),
        "errors": errors or {},
        "form": form or {},
    }
    if me is not None:
        auth = auth_of(request)
        session = session_of(request)
        context.update(
            roles=auth.role_sources(me.name),
            sessions=auth.sign_in.sessions(me.name),
            current_session=None if session is None else session.session.id,
            tokens=auth.list_tokens(me.name),
            # a token can be bound to a project the user holds a role in (any, for a site admin)
            projects=request.app.state.platform.projects.list() if me.is_admin else sorted(auth.roles_of(me)),
            role_names=ROLES,
            max_days=auth.max_token_days(),
            now=now_ms(),
        )
    return render(request, "account.html", context, status_code=status)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request) -> HTMLResponse:
    return _account_page(request)


@router.post("/account/profile", response_model=None)
def save_profile(request: Request, email: FormText = "", display_name: FormText = "") -> Response:
    me = _me(request)
    try:
        auth_of(request).update_profile(
            me.name, email=email.strip() or None, display_name=display_name.strip() or None, actor=me.name
        )
    except InvalidParameter as error:
        form = {"email": email, "display_name": display_name}
        return _account_page(
            request, errors=form_errors(error, PROFILE_FIELDS, "email"), form=form, status=400
        )
    return done("/account", "profile-saved")


@router.post("/account/sessions/{session_id}/end", response_model=None)
def end_session(request: Request, session_id: str) -> Response:
    me = _me(request)
    auth_of(request).sign_in.end_session(me.name, session_id, actor=me.name)
    return done("/account", "session-ended")


@router.post("/account/tokens", response_model=None)
def create_token(
    request: Request,
    label: FormText = "",
    expires_in_days: FormText = "",
    project: FormText = "",
    role: FormText = "",
) -> Response:
    me = _me(request)
    auth = auth_of(request)
    try:
        new = auth.create_token(
            me.name,
            label=label.strip(),
            expires_at=auth.expiry_in_days(expires_in_days),
            actor=me.name,
            project=project or None,
            # a role only means something for a token bound to a project
            role=(role or None) if project else None,
        )
    except InvalidParameter as error:
        form = {"label": label, "expires_in_days": expires_in_days, "project": project, "role": role}
        errors = form_errors(error, TOKEN_FIELDS, "expires_in_days")
        return _account_page(request, errors=errors, form=form, status=400)
    context = {
        "active": "",
        "new": new,
        "owner": me.name,
        "back_url": "/account",
        "back_label": "Back to your account",
    }
    return secret_page(request, "account_token.html", context)


@router.post("/account/tokens/{token_id}/revoke", response_model=None)
def revoke_token(request: Request, token_id: str) -> Response:
    me = _me(request)
    auth_of(request).revoke_token(token_id, actor=me.name, owner=me.name)
    return done("/account", "token-revoked")


# -- password ------------------------------------------------------------------------------------


def _safe_next(target: str) -> str:
    """Where to go after: a path on this server only (`//host` and `/\\host` would leave it)."""
    if target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def _password_page(
    request: Request, *, next_url: str, errors: dict[str, str] | None = None, status: int = 200
) -> HTMLResponse:
    context = {"active": "", "next_url": _safe_next(next_url), "errors": errors or {}}
    return render(request, "account_password.html", context, status_code=status)


@router.get("/account/password", response_class=HTMLResponse)
def password_page(request: Request, next: str = "/") -> HTMLResponse:
    return _password_page(request, next_url=next)


@router.post("/account/password", response_model=None)
def change_password(
    request: Request,
    current_password: FormText = "",
    new_password: FormText = "",
    confirm: FormText = "",
    next: FormText = "/",
) -> Response:
    me = _me(request)
    session = session_of(request)
    try:
        if confirm != new_password:  # a typing slip caught before the service is asked
            raise InvalidParameter("confirm", "does not match the new password")
        auth_of(request).sign_in.change_password(
            me, current_password, new_password, session_id=None if session is None else session.session.id
        )
    except InvalidParameter as error:
        errors = form_errors(error, PASSWORD_FIELDS, "new_password")
        return _password_page(request, next_url=next, errors=errors, status=400)
    return RedirectResponse(_safe_next(next), status_code=303)

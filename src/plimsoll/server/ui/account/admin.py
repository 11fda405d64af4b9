"""The site admin's pages, `/admin/...`: users (create, disable and enable, reset a password, make a
site admin, end sessions), every API token, and service accounts with their bound tokens; and a
project's members, `/projects/{project}/members`, which that project's admins manage. Secrets (a
new token, a temporary password) are rendered once, never put behind a redirect."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from plimsoll.core.auth.api import user_of
from plimsoll.core.auth.entities import Role, User
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.core.http import actor_of
from plimsoll.core.ids import now_ms
from plimsoll.server.ui.account._shared import ROLES, auth_of, done, form_errors, notice_of, secret_page
from plimsoll.server.ui.pages import PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

FormText = Annotated[str, Form()]
TOKEN_STATES = ("active", "expired", "revoked")
USER_FIELDS = {"name", "email", "display_name"}
BOUND_TOKEN_FIELDS = {"name", "project", "role", "expires_in_days", "label"}
MEMBER_FIELDS = {"user", "role"}


def _projects(request: Request) -> list[str]:
    projects: list[str] = request.app.state.platform.projects.list()
    return projects


def _user_url(name: str) -> str:
    return f"/admin/users/{name}"


# -- users ---------------------------------------------------------------------------------------


def _users_page(
    request: Request,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = {
        "active": "users",
        "users": auth_of(request).list_users(),
        "notice": notice_of(request),
        "errors": errors or {},
        "form": form or {},
    }
    return render(request, "admin_users.html", context, status_code=status)


@router.get("/admin/users", response_class=HTMLResponse)
def users_page(request: Request) -> HTMLResponse:
    return _users_page(request)


@router.post("/admin/users", response_model=None)
def create_user(
    request: Request,
    name: FormText = "",
    email: FormText = "",
    display_name: FormText = "",
    is_admin: FormText = "",
) -> Response:
    auth = auth_of(request)
    actor = actor_of(request)
    try:
        user = auth.create_user(
            name.strip(),
            is_admin=is_admin == "1",
            email=email.strip() or None,
            display_name=display_name.strip() or None,
            actor=actor,
        )
    except (InvalidParameter, Conflict) as error:
        form = {"name": name, "email": email, "display_name": display_name, "is_admin": is_admin}
        errors = (
            form_errors(error, USER_FIELDS, "name")
            if isinstance(error, InvalidParameter)
            else {"name": error.message}
        )
        return _users_page(request, errors=errors, form=form, status=error.status)
    password = auth.sign_in.reset_password(user.name, actor=actor)
    return _password_shown(request, user, password, created=True)


def _password_shown(request: Request, user: User, password: str, *, created: bool) -> HTMLResponse:
    context = {"active": "users", "user": user, "password": password, "created": created}
    return secret_page(request, "admin_password.html", context)


def _user_page(
    request: Request,
    name: str,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    auth = auth_of(request)
    user = auth.get_user(name)
    me = user_of(request)
    context: dict[str, Any] = {
        "active": "service-accounts" if user.is_service else "users",
        "user": user,
        "is_me": me is not None and me.name == user.name,
        "roles": auth.role_sources(user.name),
        "sessions": [] if user.is_service else auth.sign_in.sessions(user.name),
        "tokens": auth.list_tokens(user.name),
        "projects": _projects(request),
        "role_names": ROLES,
        "max_days": auth.max_token_days(),
        "now": now_ms(),
        "notice": notice_of(request),
        "errors": errors or {},
        "form": form or {},
    }
    return render(request, "admin_user.html", context, status_code=status)


@router.get("/admin/users/{name}", response_class=HTMLResponse)
def user_page(request: Request, name: str) -> HTMLResponse:
    return _user_page(request, name)


@router.post("/admin/users/{name}/disable", response_model=None)
def disable_user(request: Request, name: str) -> Response:
    auth_of(request).disable_user(name, actor=actor_of(request))
    return done(_user_url(name), "user-disabled")


@router.post("/admin/users/{name}/enable", response_model=None)
def enable_user(request: Request, name: str) -> Response:
    auth_of(request).enable_user(name, actor=actor_of(request))
    return done(_user_url(name), "user-enabled")


@router.post("/admin/users/{name}/reset-password", response_model=None)
def reset_password(request: Request, name: str) -> Response:
    auth = auth_of(request)
    user = auth.get_user(name)
    password = auth.sign_in.reset_password(name, actor=actor_of(request))
    return _password_shown(request, user, password, created=False)


@router.post("/admin/users/{name}/site-admin", response_model=None)
def set_site_admin(request: Request, name: str, is_admin: FormText = "") -> Response:
    if is_admin not in {"0", "1"}:
        raise InvalidParameter(
            "is_admin", f"must be 1 (make a site admin) or 0 (no longer one), got {is_admin!r}"
        )
    made = is_admin == "1"
    auth_of(request).set_site_admin(name, made, actor=actor_of(request))
    return done(_user_url(name), "site-admin-granted" if made else "site-admin-removed")


@router.post("/admin/users/{name}/sessions/end", response_model=None)
def end_sessions(request: Request, name: str) -> Response:
    auth = auth_of(request)
    auth.get_user(name)  # an unknown user is a 404, not "no sessions ended"
    auth.sign_in.end_sessions_of(name, actor=actor_of(request), reason="ended_by_admin")
    return done(_user_url(name), "sessions-ended")


# -- tokens --------------------------------------------------------------------------------------


@router.get("/admin/tokens", response_class=HTMLResponse)
def tokens_page(request: Request, state: str = "") -> HTMLResponse:
    if state and state not in TOKEN_STATES:
        raise InvalidParameter("state", f"must be one of {', '.join(TOKEN_STATES)}, got {state!r}")
    now = now_ms()
    tokens = auth_of(request).list_tokens(None)
    shown = [token for token in tokens if not state or token.state(now) == state]
    context = {
        "active": "tokens",
        "tokens": shown,
        "total": len(tokens),
        "state": state,
        "states": TOKEN_STATES,
        "now": now,
        "notice": notice_of(request),
    }
    return render(request, "admin_tokens.html", context)


@router.post("/admin/tokens/{token_id}/revoke", response_model=None)
def revoke_token(request: Request, token_id: str) -> Response:
    auth_of(request).revoke_token(token_id, actor=actor_of(request))
    return done("/admin/tokens", "token-revoked")


# -- service accounts ----------------------------------------------------------------------------


def _service_accounts_page(
    request: Request,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    auth = auth_of(request)
    accounts = [user for user in auth.list_users() if user.is_service]
    now = now_ms()
    tokens = auth.list_tokens(None)
    context = {
        "active": "service-accounts",
        "accounts": accounts,
        "roles": {account.name: auth.role_sources(account.name) for account in accounts},
        "active_tokens": {
            account.name: sum(1 for t in tokens if t.user == account.name and t.state(now) == "active")
            for account in accounts
        },
        "projects": _projects(request),
        "role_names": ROLES,
        "max_days": auth.max_token_days(),
        "notice": notice_of(request),
        "errors": errors or {},
        "form": form or {},
    }
    return render(request, "admin_service_accounts.html", context, status_code=status)


@router.get("/admin/service-accounts", response_class=HTMLResponse)
def service_accounts_page(request: Request) -> HTMLResponse:
    return _service_accounts_page(request)


@router.post("/admin/service-accounts", response_model=None)
def create_service_account(
    request: Request,
    name: FormText = "",
    project: FormText = "",
    role: FormText = "",
    expires_in_days: FormText = "",
    label: FormText = "",
) -> Response:
    auth = auth_of(request)
    try:
        new = auth.create_service_account(
            name.strip(),
            project=project,
            role=role,
            expires_at=auth.expiry_in_days(expires_in_days),
            label=label.strip(),
            actor=actor_of(request),
        )
    except (InvalidParameter, Conflict) as error:
        form = {
            "name": name,
            "project": project,
            "role": role,
            "expires_in_days": expires_in_days,
            "label": label,
        }
        if isinstance(error, InvalidParameter):
            errors = form_errors(error, BOUND_TOKEN_FIELDS, "name")
        else:
            errors = {"name": error.message}
        return _service_accounts_page(request, errors=errors, form=form, status=error.status)
    return _token_shown(request, new.token.user, new)


@router.post("/admin/service-accounts/{name}/tokens", response_model=None)
def create_bound_token(
    request: Request,
    name: str,
    project: FormText = "",
    role: FormText = "",
    expires_in_days: FormText = "",
    label: FormText = "",
) -> Response:
    auth = auth_of(request)
    if not auth.get_user(name).is_service:
        raise NotFound(f"service account {name!r} not found")
    try:
        new = auth.create_token(
            name,
            project=project,
            role=role,
            expires_at=auth.expiry_in_days(expires_in_days),
            label=label.strip(),
            actor=actor_of(request),
        )
    except InvalidParameter as error:
        form = {"project": project, "role": role, "expires_in_days": expires_in_days, "label": label}
        return _user_page(
            request,
            name,
            errors=form_errors(error, BOUND_TOKEN_FIELDS, "expires_in_days"),
            form=form,
            status=400,
        )
    return _token_shown(request, name, new)


def _token_shown(request: Request, owner: str, new: Any) -> HTMLResponse:
    context = {
        "active": "service-accounts",
        "new": new,
        "owner": owner,
        "back_url": _user_url(owner),
        "back_label": f"Back to {owner}",
    }
    return secret_page(request, "account_token.html", context)


# -- a project's members -------------------------------------------------------------------------


def _members_page(
    request: Request,
    project: str,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    auth = auth_of(request)
    members = auth.members(project)
    me = user_of(request)
    manages = me is None or auth.role_of(me, project) is Role.ADMIN
    context: dict[str, Any] = {
        "active": "",
        "project": project,
        "members": sorted(members.items()),
        "manages": manages,
        "users": [user for user in auth.list_users() if not user.disabled] if manages else [],
        "role_names": ROLES,
        "notice": notice_of(request),
        "errors": errors or {},
        "form": form or {},
    }
    return render(request, "members.html", context, status_code=status)


def _members_url(project: str) -> str:
    return f"/projects/{project}/members"


@router.get("/projects/{project}/members", response_class=HTMLResponse)
def members_page(request: Request, project: str) -> HTMLResponse:
    return _members_page(request, project)


@router.post("/projects/{project}/members", response_model=None)
def grant_role(request: Request, project: str, user: FormText = "", role: FormText = "") -> Response:
    try:
        auth_of(request).grant(project, user, role, actor=actor_of(request))
    except InvalidParameter as error:
        form = {"user": user, "role": role}
        return _members_page(
            request, project, errors=form_errors(error, MEMBER_FIELDS, "role"), form=form, status=400
        )
    return done(_members_url(project), "role-granted")


@router.post("/projects/{project}/members/{user}/remove", response_model=None)
def remove_member(request: Request, project: str, user: str) -> Response:
    auth_of(request).revoke_role(project, user, actor=actor_of(request))
    return done(_members_url(project), "role-removed")

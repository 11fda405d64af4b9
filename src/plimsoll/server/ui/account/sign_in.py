"""Signing in and out: `/sign-in` (a password form, and the single sign-on button when an OpenID
provider is configured), `/sign-in/sso` and its callback, `/sign-out`.

The sign-in form is posted before there is a session, so the guard's CSRF check (the session's
token) cannot apply: the form carries its own, a random value also set as a short-lived cookie
that another site can neither read nor set, and the post must come from this origin. Without it
another site could sign a visitor in as the attacker (login CSRF) and collect what they then log.

`next` (where to go after) is only ever a path on this server: anything else becomes `/`.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Annotated, Any, cast
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from plimsoll.core.auth.api import CHANGE_PASSWORD_PATH, SESSION_COOKIE, same_origin, session_of
from plimsoll.core.auth.entities import NewSession
from plimsoll.core.auth.service import AuthService
from plimsoll.core.errors import OidcRefused, OidcUnavailable, TooManyRequests, Unauthenticated
from plimsoll.server.ui.pages import PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)
log = logging.getLogger("plimsoll.auth.sso")

FORM_COOKIE = "plimsoll_sign_in_form"
FORM_COOKIE_SECONDS = 3600
SSO_CALLBACK_PATH = "/sign-in/sso/callback"
NOTICES = {
    "signed-out": "You are signed out.",
    "expired": "Your session ended; sign in again.",
}


def _auth(request: Request) -> AuthService:
    return cast(AuthService, request.app.state.platform.auth)


def safe_next(value: str | None) -> str:
    """`value` if it is a path on this server, else `/`: never an address elsewhere (`//host`,
    `/\\host` and `https://…` all lead off the site)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return "/"
    if any(ch in value for ch in "\r\n\t") or len(value) > 2048:
        return "/"
    return value


def _secure(request: Request) -> bool:
    configured = request.app.state.platform.settings.cookie_secure
    return bool(configured) if configured is not None else request.url.scheme == "https"


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _signed_in(request: Request, new: NewSession, next_path: str) -> RedirectResponse:
    """Into the session: its cookie, the form cookie dropped, and on to where the user was going
    (or to choose a password, when theirs was a temporary one)."""
    user = new.credential.user
    target = (
        f"{CHANGE_PASSWORD_PATH}?{urlencode({'next': next_path})}" if user.must_change_password else next_path
    )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        new.secret,
        max_age=_auth(request).sign_in.policy.max_ms // 1000,
        path="/",
        secure=_secure(request),
        httponly=True,
        samesite="lax",
    )
    response.delete_cookie(FORM_COOKIE, path="/sign-in")
    return response


def _count(request: Request, method: str, result: str) -> None:
    request.app.state.metrics.sign_ins.labels(method, result).inc()


def _form(
    request: Request,
    *,
    next_path: str,
    name: str = "",
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    auth = _auth(request)
    settings = request.app.state.platform.settings
    form_token = request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(24)
    context: dict[str, Any] = {
        "active": "",
        "next": next_path,
        "name": name,
        "error": error,
        "notice": notice,
        "form_token": form_token,
        "password_sign_in": settings.password_sign_in,
        "sso_label": auth.sso.label if auth.sso is not None else None,
        "needs_bootstrap": settings.auth and auth.needs_bootstrap(),
    }
    response = render(request, "sign_in.html", context, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(
        FORM_COOKIE,
        form_token,
        max_age=FORM_COOKIE_SECONDS,
        path="/sign-in",
        secure=_secure(request),
        httponly=True,
        samesite="strict",
    )
    return response


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, next: str = "/", notice: str = "") -> Response:
    next_path = safe_next(next)
    settings = request.app.state.platform.settings
    if not settings.auth:
        return render(request, "sign_in_off.html", {"active": ""})
    secret = request.cookies.get(SESSION_COOKIE)
    if secret:
        try:
            _auth(request).sign_in.identify(secret)
        except Unauthenticated:
            pass
        else:
            return RedirectResponse(next_path, status_code=303)  # signed in already
    return _form(request, next_path=next_path, notice=NOTICES.get(notice))


@router.post("/sign-in", response_class=HTMLResponse)
def sign_in(
    request: Request,
    # No length limits here: a form that broke one would get FastAPI's JSON error, not this page;
    # the service answers what is too long as it answers any wrong name or password.
    name: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    form_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    next_path = safe_next(next)
    settings = request.app.state.platform.settings
    if not settings.auth:
        return RedirectResponse(next_path, status_code=303)
    if not settings.password_sign_in:
        return _form(
            request, next_path=next_path, error="Password sign-in is off on this server.", status_code=403
        )
    expected = request.cookies.get(FORM_COOKIE, "")
    if not same_origin(request.scope) or not expected or not hmac.compare_digest(expected, form_token):
        return _form(
            request,
            next_path=next_path,
            name=name,
            error="This sign-in form had expired or came from another site; try again.",
            status_code=400,
        )
    try:
        new = _auth(request).sign_in.with_password(
            name, password, address=_address(request), user_agent=request.headers.get("user-agent")
        )
    except TooManyRequests as brake:
        _count(request, "password", "throttled")
        response = _form(request, next_path=next_path, name=name, error=brake.message, status_code=429)
        response.headers["Retry-After"] = str(brake.details.get("retry_after", 1))
        return response
    except Unauthenticated as refusal:
        _count(request, "password", "failed")
        return _form(
            request, next_path=next_path, name=name, error=_sentence(refusal.message), status_code=401
        )
    _count(request, "password", "ok")
    return _signed_in(request, new, next_path)


def _sentence(message: str) -> str:
    # A message may start with the provider's address ("http://idp refused ..."): kept as it is.
    first = message[:1] if message.startswith(("http://", "https://")) else message[:1].upper()
    return first + message[1:] + ("" if message.endswith(".") else ".")


def _callback_url(request: Request) -> str:
    public = request.app.state.platform.settings.public_url
    base = public.rstrip("/") if public else str(request.base_url).rstrip("/")
    return base + SSO_CALLBACK_PATH


@router.get("/sign-in/sso")
async def sso_start(request: Request, next: str = "/") -> Response:
    next_path = safe_next(next)
    sso = _auth(request).sso
    if sso is None or not request.app.state.platform.settings.auth:
        return RedirectResponse("/sign-in", status_code=303)
    try:
        url = await run_in_threadpool(sso.begin, _callback_url(request), next_path=next_path)
    except OidcUnavailable as down:
        _count(request, "sso", "unavailable")
        return await run_in_threadpool(
            _form, request, next_path=next_path, error=down.message, status_code=503
        )
    except OidcRefused as refusal:  # the provider's discovery document failed a check
        _count(request, "sso", "refused")
        log.warning("single sign-on cannot start: %s", refusal.message)
        return await run_in_threadpool(
            _form, request, next_path=next_path, error=_sentence(refusal.message), status_code=502
        )
    return RedirectResponse(url, status_code=303)


@router.get(SSO_CALLBACK_PATH)
def sso_callback(request: Request) -> Response:
    sso = _auth(request).sso
    if sso is None or not request.app.state.platform.settings.auth:
        return RedirectResponse("/sign-in", status_code=303)
    params = {key: value for key, value in request.query_params.items()}
    try:
        new, next_path = sso.finish(
            params,
            _callback_url(request),
            address=_address(request),
            user_agent=request.headers.get("user-agent"),
        )
    except OidcUnavailable as down:
        _count(request, "sso", "unavailable")
        return _form(request, next_path="/", error=down.message, status_code=503)
    except OidcRefused as refusal:
        _count(request, "sso", "refused")
        return _form(request, next_path="/", error=_sentence(refusal.message), status_code=401)
    _count(request, "sso", "ok")
    return _signed_in(request, new, safe_next(next_path))


@router.post("/sign-out")
def sign_out(request: Request) -> Response:
    session = session_of(request)
    if session is not None:
        _auth(request).sign_in.sign_out(session.session.id, actor=session.user.name)
    response = RedirectResponse("/sign-in?notice=signed-out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response

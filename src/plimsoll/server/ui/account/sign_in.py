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
from typing import Annotated, Any, Literal, cast
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from plimsoll.core.auth.api import (
    CHANGE_PASSWORD_PATH,
    SESSION_COOKIE,
    cookie_name,
    is_secure,
    same_origin,
    session_of,
)
from plimsoll.core.auth.entities import NewSession
from plimsoll.core.auth.service import AuthService
from plimsoll.core.auth.sessions import SSO_REQUEST_TTL_MS
from plimsoll.core.errors import OidcRefused, OidcUnavailable, TooManyRequests, Unauthenticated
from plimsoll.server.ui.pages import PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)
log = logging.getLogger("plimsoll.auth.sso")

FORM_COOKIE = "plimsoll_sign_in_form"
FORM_COOKIE_SECONDS = 3600
# Ties a single sign-on to the browser that began it; Lax, since the provider's redirect back is
# a navigation from another site.
SSO_COOKIE = "plimsoll_sso"
SSO_COOKIE_PATH = "/sign-in/sso"
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
    return is_secure(request.scope, request.app.state.platform.settings.cookie_secure)


def _cookie(request: Request, base: str) -> str:
    return cookie_name(base, _secure(request))


def _read(request: Request, base: str) -> str:
    return request.cookies.get(_cookie(request, base), "")


def _set(
    response: Response,
    request: Request,
    base: str,
    value: str,
    *,
    max_age: int,
    path: str,
    samesite: Literal["lax", "strict"],
) -> None:
    secure = _secure(request)
    response.set_cookie(
        cookie_name(base, secure),
        value,
        max_age=max_age,
        path="/" if secure else path,  # a __Host- cookie must be Path=/
        secure=secure,
        httponly=True,
        samesite=samesite,
    )


def _drop(response: Response, request: Request, base: str, *, path: str) -> None:
    secure = _secure(request)
    response.delete_cookie(cookie_name(base, secure), path="/" if secure else path, secure=secure)


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
    max_age = _auth(request).sign_in.policy.max_ms // 1000
    _set(response, request, SESSION_COOKIE, new.secret, max_age=max_age, path="/", samesite="lax")
    _drop(response, request, FORM_COOKIE, path="/sign-in")
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
    form_token = _read(request, FORM_COOKIE) or secrets.token_urlsafe(24)
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
    _set(
        response,
        request,
        FORM_COOKIE,
        form_token,
        max_age=FORM_COOKIE_SECONDS,
        path="/sign-in",
        samesite="strict",
    )
    return response


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, next: str = "/", notice: str = "") -> Response:
    next_path = safe_next(next)
    settings = request.app.state.platform.settings
    if not settings.auth:
        return render(request, "sign_in_off.html", {"active": ""})
    secret = _read(request, SESSION_COOKIE)
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
    expected = _read(request, FORM_COOKIE)
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
        browser = secrets.token_urlsafe(32)
        url = await run_in_threadpool(sso.begin, _callback_url(request), next_path=next_path, browser=browser)
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
    response = RedirectResponse(url, status_code=303)
    _set(
        response,
        request,
        SSO_COOKIE,
        browser,
        max_age=SSO_REQUEST_TTL_MS // 1000,
        path=SSO_COOKIE_PATH,
        samesite="lax",
    )
    return response


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
            browser=_read(request, SSO_COOKIE),
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
    response = _signed_in(request, new, safe_next(next_path))
    _drop(response, request, SSO_COOKIE, path=SSO_COOKIE_PATH)
    return response


@router.post("/sign-out")
def sign_out(request: Request) -> Response:
    session = session_of(request)
    if session is not None:
        _auth(request).sign_in.sign_out(session.session.id, actor=session.user.name)
    response = RedirectResponse("/sign-in?notice=signed-out", status_code=303)
    _drop(response, request, SESSION_COOKIE, path="/")
    return response

"""Authentication and authorisation over HTTP: the guard in front of every route, and the routes
that manage users, tokens and roles.

`install(app, platform)` (called by `server.app.create_app`) adds:

- `app.state.auth`: the `AuthService`.
- `AuthGuard`, a pure ASGI middleware (not `BaseHTTPMiddleware`, which costs a task per request).
  With `settings.auth` off it only marks the caller as the local user. With it on, per request:
  match the route the way the router will (first full match over the app's routes, flattened by
  `flatten_routes`; this also yields the path parameters; no match: 404/405 from the guard, so
  nothing it cannot see is served), look up its row in the permission table gathered from
  every capability's descriptor (no row: 403), read the
  `Authorization: Bearer <token>` header (or, for the web UI, the `plimsoll_session` cookie of a
  signed-in browser), then, on a worker thread (the event loop never waits on the database),
  authenticate the token or session and check the row. Nothing of the body is read before the token is known good: a request with
  no valid token costs what a small one does however large its body. Only a rule that finds its
  project in the JSON body needs the body, and only when the answer depends on it: a site admin
  holds every role (no need), and a user who holds the role in no project is refused (no need);
  otherwise the body is read (up to the JSON limit) and parsed and checked on a worker thread
  with a parser that lets the event loop run meanwhile, then handed on to the route unchanged.
  On success `request.state.actor` (what `core.http.actor_of` returns), `request.state.user` and
  `request.state.credential` (`credential_of`) are set; on failure the answer is
  `{"error": {...}}` with 401 or 403. A 401 is counted by its reason (`on_refusal`, which the
  server turns into `/metrics`) and logged without the token. Public routes (health, metrics, API
  docs) skip all of it, with the actor `anonymous`.
- the routes below, each protected by its row in the table like any other.

A session cookie is accepted for unsafe methods (POST, PUT, PATCH, DELETE) only from a
same-origin page (`Sec-Fetch-Site: same-origin`, or an `Origin` equal to the `Host`) AND with the
session's CSRF token, in the `X-CSRF-Token` header (the UI's scripts) or the `csrf_token` field of
a form: another site can neither read the token nor make a signed-in browser write (CSRF), even
where `SameSite` is not enforced (older browsers, a sibling sub-domain). API clients send the
`Authorization` header instead, which no other site can make a browser send.

A browser that asks for a page (GET, `Accept: text/html`, outside `/api/`) without a valid session
is sent to the sign-in page, which brings it back after (`?next=`); a page it may not see gets the
UI's own error page (`page_refusal`), not JSON.
"""

from __future__ import annotations

import hmac
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Annotated, Any, cast
from urllib.parse import parse_qs, urlencode, urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel
from pydantic_core import from_json
from starlette._utils import get_route_path  # the router's own helper: same path, same match
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor
from starlette.datastructures import QueryParams
from starlette.requests import cookie_parser
from starlette.routing import BaseRoute, Match, Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from plimsoll.core.auth import permissions
from plimsoll.core.auth.check import authorize
from plimsoll.core.auth.entities import LOCAL_ACTOR, Credential, Role, SessionCredential, User, refused
from plimsoll.core.auth.permissions import Entry, PermissionTable, RequestFacts
from plimsoll.core.auth.service import (
    MALFORMED,
    MAX_TOKEN_LABEL_LENGTH,
    MAX_USER_NAME_LENGTH,
    MISSING,
    AuthService,
)
from plimsoll.core.errors import (
    MethodNotAllowed,
    NotFound,
    PermissionDenied,
    PlimsollError,
    Unauthenticated,
)
from plimsoll.core.http import (
    actor_of,
    body_error,
    current_actor,
    error_headers,
    json_response,
    read_body,
    replay_body,
    service_of,
)
from plimsoll.core.wire import Documented, EpochMs, Flag, Id, name_rules, one_of, text_rules

log = logging.getLogger("plimsoll.auth")

# Answers a browser that was refused a page: (scope, error) -> the response (an HTML error page).
PageRefusal = Callable[[Scope, PlimsollError], Response]

SESSION_COOKIE = "plimsoll_session"
CSRF_HEADER = b"x-csrf-token"
CSRF_FIELD = "csrf_token"
SIGN_IN_PATH = "/sign-in"
CHANGE_PASSWORD_PATH = "/account/password"
# What a user who must change their password may still reach (their sign-in was a temporary one).
_BEFORE_PASSWORD_CHANGE = frozenset({CHANGE_PASSWORD_PATH, "/sign-out"})
ANONYMOUS_ACTOR = "anonymous"
# The largest form body the guard reads to find a CSRF token in.
MAX_FORM_BYTES = 1024 * 1024
# The largest JSON body the guard buffers to find a project in (the server's own JSON limit).
MAX_GUARDED_BODY_BYTES = 64 * 1024 * 1024
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def install_guard(
    app: FastAPI,
    *,
    table: PermissionTable,
    auth: AuthService,
    projects: Any,
    enabled: bool,
    on_refusal: Callable[[str], None] | None = None,
    page_refusal: PageRefusal | None = None,
    cookie_secure: bool | None = None,
) -> None:
    """Put the guard in front of every route of `app` (call it after the last route is added).
    `on_refusal(reason)` is called for every request refused as unauthenticated;
    `page_refusal(scope, error)` answers a browser refused a page (None: the JSON error)."""
    app.add_middleware(
        AuthGuard,
        routes=app.router.routes,
        table=table,
        auth=auth,
        projects=projects,
        enabled=enabled,
        on_refusal=on_refusal,
        page_refusal=page_refusal,
        cookie_secure=cookie_secure,
    )


def credential_of(request: Request) -> Credential | None:
    """The token the request authenticated with; None with authentication off or a session."""
    credential = getattr(request.state, "credential", None)
    return credential if isinstance(credential, Credential) else None


def session_of(request: Request) -> SessionCredential | None:
    """The signed-in browser session the request came with; None otherwise."""
    session = getattr(request.state, "session", None)
    return session if isinstance(session, SessionCredential) else None


def user_of(request: Request) -> User | None:
    """The authenticated user; None with authentication off (everyone is the local user)."""
    user = getattr(request.state, "user", None)
    return user if isinstance(user, User) else None


def is_secure(scope: Scope, configured: bool | None) -> bool:
    """Whether this request's cookies are HTTPS-only: as configured (`PLIMSOLL_COOKIE_SECURE`, for
    a server behind a proxy that ends TLS), else whether it came over TLS."""
    return configured if configured is not None else scope.get("scheme") == "https"


def cookie_name(base: str, secure: bool) -> str:
    """A cookie's name: over TLS with the `__Host-` prefix, which browsers accept only when set by
    this very host (Secure, `Path=/`, no `Domain`), so that a page of a sibling sub-domain cannot
    plant its own session cookie in the browser (cookie tossing)."""
    return f"__Host-{base}" if secure else base


def wants_page(scope: Scope) -> bool:
    """Whether a browser is asking for a page (and so should be sent to sign in, not given JSON)."""
    if scope.get("method") not in {"GET", "HEAD"} or get_route_path(scope).startswith("/api/"):
        return False
    accept = _header(scope, b"accept") or ""
    return "text/html" in accept


# -- the guard -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RouteEntry:
    """One route as the router sees it after includes: its full template, regex and methods."""

    key: str  # the template, as the permission table spells it
    regex: re.Pattern[str]
    convertors: dict[str, Convertor[Any]]
    methods: frozenset[str] | None  # None: any method (a Mount)
    mount: bool

    def rule_key(self, method: str) -> tuple[str, str]:
        """The permission table's key: a Mount is keyed by GET and its prefix; HEAD checks as GET."""
        return ("GET" if self.mount or method == "HEAD" else method, self.key)


def flatten_routes(routes: list[BaseRoute]) -> list[RouteEntry]:
    """Every route of an app in the order the router tries them, included routers expanded.

    FastAPI (0.165+) keeps `include_router` results as nested, lazily built groups, so `app.routes`
    is not a flat list; `fastapi.routing.iter_route_contexts` flattens it with full paths. Matching
    against this list mirrors the router's "first full match wins" and yields the path parameters.
    """
    entries = []
    for context in iter_route_contexts(routes):
        regex = getattr(context, "path_regex", None)
        path = context.path
        if regex is None or path is None:
            continue
        methods = context.methods
        entries.append(
            RouteEntry(
                key=path,
                regex=regex,
                convertors=dict(getattr(context, "param_convertors", {}) or {}),
                methods=None if methods is None else frozenset(methods),
                mount=isinstance(context.original_route, Mount),
            )
        )
    return entries


def match_route(entries: list[RouteEntry], scope: Scope) -> tuple[Match, RouteEntry | None, dict[str, Any]]:
    """The route the router will pick for `scope` (FULL), one that matches the path but not the
    method (PARTIAL), or none; with the path parameters, converted as the router converts them."""
    route_path = get_route_path(scope)
    method = scope.get("method")
    partial: RouteEntry | None = None
    for entry in entries:
        found = entry.regex.match(route_path)
        if found is None:
            continue
        if entry.methods is None or method in entry.methods or scope["type"] != "http":
            params = {
                name: entry.convertors[name].convert(value) if name in entry.convertors else value
                for name, value in found.groupdict().items()
            }
            return Match.FULL, entry, params
        if partial is None:
            partial = entry
    return (Match.PARTIAL, partial, {}) if partial is not None else (Match.NONE, None, {})


def allowed_methods(entries: list[RouteEntry], route_path: str) -> list[str]:
    """The methods a path is served with: those of the routes spelled exactly as the path, if any
    (`/runs/ingest` is a resource of its own, not the run with id "ingest"), else those of every
    route whose template matches it (a path's methods may be spread over several routes)."""
    literal = {m for e in entries if e.key == route_path and not e.mount for m in e.methods or ()}
    if literal:
        return sorted(literal)
    return sorted({m for e in entries if e.regex.match(route_path) for m in e.methods or ()})


def method_not_allowed(entries: list[RouteEntry], scope: Scope) -> MethodNotAllowed:
    """The 405 for `scope`, naming in `details.allow` (and so in the `Allow` header) the methods
    the path is served with."""
    route_path = get_route_path(scope)
    allowed = allowed_methods(entries, route_path)
    return MethodNotAllowed(
        f"{scope.get('method')} is not allowed on {route_path}; allowed: {', '.join(allowed)}",
        details={"allow": allowed},
    )


class AuthGuard:
    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: list[BaseRoute],
        table: PermissionTable,
        auth: AuthService,
        projects: Any,
        enabled: bool,
        on_refusal: Callable[[str], None] | None = None,
        page_refusal: PageRefusal | None = None,
        cookie_secure: bool | None = None,
    ) -> None:
        self.app = app
        self.cookie_secure = cookie_secure
        self.routes = routes
        self.table = table
        self.auth = auth
        self.projects = projects
        self.enabled = enabled
        self.on_refusal = on_refusal
        self.page_refusal = page_refusal
        self._entries: list[RouteEntry] | None = None

    @property
    def entries(self) -> list[RouteEntry]:
        # Built on the first request, when every route has been added; the list is then fixed.
        if self._entries is None:
            self._entries = flatten_routes(self.routes)
        return self._entries

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        if not self.enabled:
            if scope.get("method") not in _SAFE_METHODS and cross_site(scope):
                # With auth off anyone who reaches the server may write, but a web page the
                # user merely visits must not make their browser do it (a drive-by form post).
                await _refuse(scope, receive, send, _csrf_refusal("this request came from another site"))
                return
            state["actor"] = LOCAL_ACTOR
            await self.app(scope, receive, send)
            return
        try:
            receive = await self._check(scope, receive, state)
        except PlimsollError as error:
            if isinstance(error, Unauthenticated):
                self._refused(scope, error)
            if scope["type"] == "http" and wants_page(scope):
                if isinstance(error, Unauthenticated):
                    await _to_sign_in(scope, receive, send)
                    return
                if self.page_refusal is not None:
                    await self.page_refusal(scope, error)(scope, receive, send)
                    return
            await _refuse(scope, receive, send, error)
            return
        await self.app(scope, receive, send)

    async def _check(self, scope: Scope, receive: Receive, state: dict[str, Any]) -> Receive:
        """Authenticate and authorise; return the `receive` the app should read the body from."""
        method = str(scope.get("method", "WEBSOCKET"))
        match, entry, path_params = match_route(self.entries, scope)
        if entry is None or match is not Match.FULL:
            # Fail closed: what this index cannot see, no handler behind it may serve.
            path = get_route_path(scope)
            if entry is not None:
                raise method_not_allowed(self.entries, scope)
            raise NotFound(f"no route matches {method} {path}")
        key = entry.rule_key(method)
        row = self.table.entry_for(*key)
        if row is not None and row.rule.scope is permissions.PUBLIC:
            state["actor"] = ANONYMOUS_ACTOR
            return receive
        presented = _presented(scope, cookie_name(SESSION_COOKIE, is_secure(scope, self.cookie_secure)))
        query = QueryParams(scope.get("query_string", b"").decode("latin-1"))
        facts = RequestFacts(path_params=path_params, query=query)
        if presented.kind == "session":
            session = await run_in_threadpool(self.auth.sign_in.identify, presented.secret)
            user = session.user
            # Known from here on, even if refused: the UI's error page shows who is signed in.
            state.update(actor=user.name, user=user, credential=None, session=session)
            if method not in _SAFE_METHODS:
                receive = await _check_csrf(scope, receive, session)
            if user.must_change_password and get_route_path(scope) not in _BEFORE_PASSWORD_CHANGE:
                raise PermissionDenied(
                    f"user {user.name!r} signed in with a temporary password and must choose their own "
                    f"first ({CHANGE_PASSWORD_PATH})",
                    details={"user": user.name, "reason": "password_change_required"},
                )
            settled = await run_in_threadpool(self._decide, user, key, row, facts)
        else:
            token, settled = await run_in_threadpool(
                self._token_decision, presented.secret, key, row, facts, state
            )
            user = token.user
        if not settled:
            assert row is not None
            raw = await read_body(receive, MAX_GUARDED_BODY_BYTES)
            receive = replay_body(raw, receive)
            await run_in_threadpool(self._decide_with_body, user, row, facts, raw)
        return receive

    def _token_decision(
        self, secret: str, key: tuple[str, str], row: Entry | None, facts: RequestFacts, state: dict[str, Any]
    ) -> tuple[Credential, bool]:
        """Authenticate a token and check what can be checked without the body, in one hop to a
        worker thread: this is the API's (and the SDK's) path, taken by every request."""
        credential = self.auth.identify(secret)
        user = credential.user
        state.update(actor=user.name, user=user, credential=credential, session=None)
        return credential, self._decide(user, key, row, facts)

    def _decide(self, user: User, key: tuple[str, str], row: Entry | None, facts: RequestFacts) -> bool:
        """Check what can be checked without the body: settled (True), or the body decides."""
        if row is None:
            raise PermissionDenied(
                f"route {key[0]} {key[1]} has no permission rule, so it is refused "
                "(every route needs a row in its capability's permissions)",
                details={"method": key[0], "route": key[1]},
            )
        if not row.rule.scope.needs_body:
            authorize(self.auth, self.projects, user, row, facts)
            return True
        if user.is_admin:
            return True  # whatever projects the body names, the answer is yes
        if row.rule.role is not None:
            self.auth.require_somewhere(user, row.rule.role)  # else no body can help
        return False

    def _decide_with_body(self, user: User, row: Entry, facts: RequestFacts, raw: bytes) -> None:
        try:
            # pydantic's parser, as the routes use it (it lets other threads run while it parses)
            body = from_json(raw) if raw else None
        except (ValueError, RecursionError) as error:
            raise body_error(error) from None
        authorize(self.auth, self.projects, user, row, replace(facts, body=body))

    def _refused(self, scope: Scope, error: PlimsollError) -> None:
        reason = str(error.details.get("reason", "unknown"))
        if self.on_refusal is not None:
            self.on_refusal(reason)
        client = scope.get("client")
        token_id = error.details.get("token_id")
        # The secret is never logged: a refused token is named by its id when it is known.
        log.log(
            logging.INFO if reason == MISSING else logging.WARNING,
            "authentication refused (%s): %s %s from %s%s",
            reason,
            scope.get("method", "WEBSOCKET"),
            get_route_path(scope)[:200],
            client[0] if client else "?",
            f", token {token_id}" if token_id else "",
        )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return cast(bytes, value).decode("latin-1")
    return None


@dataclass(frozen=True)
class Presented:
    kind: str  # "token" (the Authorization header) or "session" (the web UI's cookie)
    secret: str


def _presented(scope: Scope, session_cookie: str) -> Presented:
    authorization = _header(scope, b"authorization")
    if authorization is not None:
        scheme, _, secret = authorization.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise refused(MALFORMED, "the Authorization header must be 'Bearer <token>'")
        return Presented("token", secret.strip())
    cookie = _header(scope, b"cookie")
    from_cookie = cookie_parser(cookie).get(session_cookie) if cookie else None
    if from_cookie:
        return Presented("session", from_cookie)
    raise refused(
        MISSING,
        "authentication required: sign in, or send 'Authorization: Bearer <token>' "
        "(set PLIMSOLL_TOKEN for the SDK and CLI)",
    )


def _csrf_refusal(why: str) -> PermissionDenied:
    return PermissionDenied(
        f"{why}: reload the page and try again (a signed-in browser's changes must come from the "
        "Plimsoll web UI itself; API clients send 'Authorization: Bearer <token>')",
        details={"reason": "csrf"},
    )


async def _check_csrf(scope: Scope, receive: Receive, session: SessionCredential) -> Receive:
    """Refuse a state-changing request of a signed-in browser that does not come from the UI's
    own pages with its session's CSRF token; the `receive` to read the body from afterwards."""
    if not same_origin(scope):
        raise _csrf_refusal("this request came from another site")
    presented = _header(scope, CSRF_HEADER)
    if presented is None and _is_form(scope):
        raw = await read_body(receive, MAX_FORM_BYTES)
        receive = replay_body(raw, receive)
        presented = next(iter(parse_qs(raw.decode("latin-1")).get(CSRF_FIELD, [])), None)
    if presented is None:
        raise _csrf_refusal("this form has no CSRF token")
    try:
        matches = hmac.compare_digest(presented.encode(), session.csrf_token.encode())
    except UnicodeError:  # a lone surrogate, say: no token of ours
        matches = False
    if not matches:
        raise _csrf_refusal("this form's CSRF token is not the one of your session")
    return receive


def _is_form(scope: Scope) -> bool:
    content_type = (_header(scope, b"content-type") or "").split(";", 1)[0].strip().lower()
    return content_type == "application/x-www-form-urlencoded"


async def _to_sign_in(scope: Scope, receive: Receive, send: Send) -> None:
    """Send a browser to the sign-in page, to come back here after (a stale cookie is dropped)."""
    path = get_route_path(scope)
    query = scope.get("query_string", b"").decode("latin-1")
    back = path + (f"?{query}" if query else "")
    response = Response(status_code=303, headers={"Location": f"{SIGN_IN_PATH}?{urlencode({'next': back})}"})
    for name in (SESSION_COOKIE, cookie_name(SESSION_COOKIE, True)):
        if name in (_header(scope, b"cookie") or ""):
            response.delete_cookie(name, path="/", secure=name.startswith("__Host-"))
    await response(scope, receive, send)


def cross_site(scope: Scope) -> bool:
    """Whether a browser says the request comes from a page of another site (SDKs and scripts
    send neither header, and are not browsers)."""
    fetch_site = _header(scope, b"sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in {"cross-site", "same-site"}
    origin = _header(scope, b"origin")
    return origin is not None and urlsplit(origin).netloc != _header(scope, b"host")


def same_origin(scope: Scope) -> bool:
    """Whether a browser says the request comes from a page of this very server."""
    if _header(scope, b"sec-fetch-site") == "same-origin":
        return True
    origin, host = _header(scope, b"origin"), _header(scope, b"host")
    return bool(origin and host and urlsplit(origin).netloc == host)


async def _refuse(scope: Scope, receive: Receive, send: Send, error: PlimsollError) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008, "reason": error.message[:120]})
        return
    response = json_response(error.to_dict(), error.status)
    response.headers.update(error_headers(error))
    if isinstance(error, Unauthenticated):
        response.headers["WWW-Authenticate"] = 'Bearer realm="plimsoll"'
    await response(scope, receive, send)


# -- routes --------------------------------------------------------------------------------------

router = APIRouter(prefix="/api/v1", tags=["auth"])

Actor = Annotated[str, Depends(current_actor)]


Auth = Annotated[AuthService, Depends(service_of("auth"))]


class UserCreateBody(BaseModel):
    # `local` is the actor of changes made with auth off: no user may take that name
    name: Annotated[str, name_rules(MAX_USER_NAME_LENGTH), Documented(**{"not": {"const": LOCAL_ACTOR}})]
    is_admin: Flag = False


class TokenCreateBody(BaseModel):
    label: Annotated[str, text_rules(MAX_TOKEN_LABEL_LENGTH)] = ""
    expires_at: Annotated[EpochMs | None, Documented(description="epoch milliseconds, in the future")] = None
    project: Annotated[
        str | None, name_rules(128), Documented(description="bind the token to this project (with `role`)")
    ] = None
    role: Annotated[str | None, one_of(Role), Documented(description="the most it may do there")] = None


class ServiceAccountBody(BaseModel):
    name: Annotated[str, name_rules(MAX_USER_NAME_LENGTH), Documented(**{"not": {"const": LOCAL_ACTOR}})]
    project: Annotated[str, name_rules(128)]
    role: Annotated[str, one_of(Role)]
    label: Annotated[str, text_rules(MAX_TOKEN_LABEL_LENGTH)] = ""
    expires_at: Annotated[EpochMs | None, Documented(description="epoch milliseconds, in the future")] = None


class RoleBody(BaseModel):
    role: Annotated[str, one_of(Role)]


@router.get("/whoami")
def whoami(request: Request, auth: Auth) -> Response:
    user = getattr(request.state, "user", None)
    if not isinstance(user, User):
        return json_response({"user": actor_of(request), "is_admin": True, "auth": False, "roles": {}})
    roles = {project: role.value for project, role in auth.roles_of(user).items()}
    return json_response(
        {
            "user": user.name,
            "is_admin": user.is_admin,
            "auth": True,
            "roles": roles,
            "kind": user.kind.value,
            "bound": user.bound_roles is not None,  # a token bound to one project: `roles` is all it may do
            "via": "session" if session_of(request) is not None else "token",
        }
    )


@router.get("/users")
def list_users(auth: Auth) -> Response:
    return json_response({"users": [user.to_dict() for user in auth.list_users()]})


@router.post("/users", status_code=201)
def create_user(body: UserCreateBody, auth: Auth, actor: Actor) -> Response:
    return json_response(auth.create_user(body.name, is_admin=body.is_admin, actor=actor).to_dict(), 201)


@router.post("/users/{name}/disable")
def disable_user(name: str, auth: Auth, actor: Actor) -> Response:
    return json_response(auth.disable_user(name, actor=actor).to_dict())


@router.post("/users/{name}/enable")
def enable_user(name: str, auth: Auth, actor: Actor) -> Response:
    return json_response(auth.enable_user(name, actor=actor).to_dict())


@router.get("/users/{name}/tokens")
def list_tokens(name: str, auth: Auth) -> Response:
    return json_response({"tokens": [token.to_dict() for token in auth.list_tokens(name)]})


@router.post("/users/{name}/tokens", status_code=201)
def create_token(name: str, body: TokenCreateBody, request: Request, auth: Auth, actor: Actor) -> Response:
    new = auth.create_token(
        name,
        label=body.label,
        expires_at=body.expires_at,
        actor=actor,
        via=credential_of(request),
        project=body.project,
        role=body.role,
        from_session=session_of(request) is not None,
    )
    return json_response(new.to_dict(), 201)


@router.post("/service-accounts", status_code=201)
def create_service_account(body: ServiceAccountBody, auth: Auth, actor: Actor) -> Response:
    new = auth.create_service_account(
        body.name,
        project=body.project,
        role=body.role,
        actor=actor,
        label=body.label,
        expires_at=body.expires_at,
    )
    return json_response(new.to_dict(), 201)


@router.get("/users/{name}/sessions")
def list_sessions(name: str, auth: Auth) -> Response:
    return json_response({"sessions": [session.to_dict() for session in auth.sign_in.sessions(name)]})


@router.delete("/users/{name}/sessions/{session_id}")
def end_session(name: str, session_id: Id, auth: Auth, actor: Actor) -> Response:
    return json_response(auth.sign_in.end_session(name, session_id, actor=actor).to_dict())


@router.get("/tokens", responses={404: {"description": "The user named by `user` does not exist"}})
def list_all_tokens(auth: Auth, user: str | None = None) -> Response:
    return json_response({"tokens": [token.to_dict() for token in auth.list_tokens(user)]})


@router.delete("/tokens/{token_id}")
def revoke_token(token_id: Id, auth: Auth, actor: Actor) -> Response:
    return json_response(auth.revoke_token(token_id, actor=actor).to_dict())


@router.get("/projects/{project}/roles")
def list_roles(project: str, auth: Auth) -> Response:
    members = auth.members(project)
    return json_response({"project": project, "roles": {user: role.value for user, role in members.items()}})


@router.put("/projects/{project}/roles/{user}")
def grant_role(project: str, user: str, body: RoleBody, auth: Auth, actor: Actor) -> Response:
    role = auth.grant(project, user, Role.parse(body.role), actor=actor)
    return json_response({"project": project, "user": user, "role": role.value})


@router.delete("/projects/{project}/roles/{user}")
def revoke_role(project: str, user: str, auth: Auth, actor: Actor) -> Response:
    auth.revoke_role(project, user, actor=actor)
    return json_response({"project": project, "user": user, "role": None})

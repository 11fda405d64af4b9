"""The HTTP application: one FastAPI app over one Platform, every capability's routes mounted."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from fastapi.routing import APIRoute
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette._utils import get_route_path  # the router's own helper: same path, same match
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plimsoll._version import __version__
from plimsoll.capabilities import PLATFORM
from plimsoll.core.auth.api import RouteEntry, flatten_routes, install_guard, method_not_allowed
from plimsoll.core.auth.permissions import ANYONE, SOME_PROJECT, Permission, PermissionTable
from plimsoll.core.auth.service import FAILURE_REASONS
from plimsoll.core.auth.sessions import SESSION_REASONS
from plimsoll.core.capability import load
from plimsoll.core.errors import PlimsollError
from plimsoll.core.http import fast_lane_of, json_response
from plimsoll.core.wire import EVENT_PATTERNS, EVENT_TYPES
from plimsoll.platform import Platform
from plimsoll.server.audit_metrics import AuditMetrics
from plimsoll.server.errors import error_body, error_response
from plimsoll.server.headers import SecurityHeaders
from plimsoll.server.hosts import AllowedHosts, HostCheck
from plimsoll.server.lane import FastLane, LaneRoute
from plimsoll.server.openapi import install as install_openapi
from plimsoll.server.storable import StorableBody, StorableUrl
from plimsoll.server.ui import install as install_ui
from plimsoll.server.ui.pages import refused_page

MAX_JSON_BODY_BYTES = 64 * 1024 * 1024
REFUSAL_REASONS = FAILURE_REASONS + SESSION_REASONS
MAX_ARTIFACT_BYTES = 50 * 1024 * 1024 * 1024


# The server's own routes: operations, the API's description, and the UI's shared parts.
SERVER_PERMISSIONS = (
    Permission("GET", "/healthz", ANYONE),
    Permission("GET", "/readyz", ANYONE),
    Permission("GET", "/metrics", ANYONE),
    Permission("GET", "/openapi.json", ANYONE),
    Permission("GET", "/docs", ANYONE),
    Permission("GET", "/docs/oauth2-redirect", ANYONE),
    Permission("GET", "/redoc", ANYONE),
    Permission("GET", "/", SOME_PROJECT),
    # the same files for everyone, holding no data: the sign-in page and a user who has no role yet
    # (or must first change a temporary password) need their stylesheets too
    Permission("GET", "/static", ANYONE),
)


def create_app(platform: Platform, *, background: bool = False) -> FastAPI:
    """The HTTP application of `platform`: every capability's routes, pages, permission rows and
    fast-lane routes, taken from its descriptor. With `background`, the app's lifespan also runs
    the platform's background work (a job worker) beside the requests, as `plimsoll server` does;
    `plimsoll worker` runs the same work in a process of its own."""
    platform.startup()
    app = FastAPI(
        lifespan=partial(_background, platform) if background else None,
        title="Plimsoll",
        version=__version__,
        description="Self-hosted MLOps platform: tracking, data, registry, gates, serving, monitoring.",
    )
    app.state.platform = platform
    metrics = _Metrics()
    metrics.registry.register(AuditMetrics(platform.audit))
    app.state.metrics = metrics

    _install_error_handlers(app)
    # First: the router tries routes in order, and health checks come every few seconds.
    _install_ops_routes(app, platform, metrics)
    lanes: dict[tuple[str, str], LaneRoute] = {}
    rows = [(permission, None) for permission in SERVER_PERMISSIONS]
    # The product's capabilities before the platform's own parts: the router tries routes in order,
    # and the SDK's reads and writes are the hot ones.
    own = {part.name for part in PLATFORM}
    for capability in sorted(platform.capabilities, key=lambda c: c.name in own):
        service = platform.services.get(capability.name)
        if capability.router is not None:
            router = load(capability.router)
            app.include_router(router)
            lanes.update(_lane_routes(router, service))
        rows += [(permission, service) for permission in load(capability.permissions or ())]
    install_ui(app, platform.capabilities)

    app.add_middleware(FastLane, routes=lanes)
    app.add_middleware(StorableBody)  # inside the guard: nothing is parsed before the caller is known
    app.add_middleware(_BodyLimit)
    app.add_middleware(_RequestMetrics, metrics=metrics)
    app.state.permissions = table = PermissionTable(rows)
    install_guard(
        app,
        table=table,
        auth=platform.auth,
        projects=platform.projects,
        enabled=platform.settings.auth,
        on_refusal=metrics.refused,
        page_refusal=refused_page,
        cookie_secure=platform.settings.cookie_secure,
    )
    app.add_middleware(StorableUrl)  # outside the guard: its resolvers look up what the URL names
    app.add_middleware(_LiteralPaths, routes=app.router.routes)  # before the guard routes
    # Outermost: a request for a host this server does not serve is refused before any work, and
    # every answer, refusals included, carries the security headers.
    app.add_middleware(HostCheck, allowed=AllowedHosts.parse(platform.settings.allowed_hosts))
    docs = (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url)
    app.add_middleware(SecurityHeaders, docs_paths=[path for path in docs if path])
    install_openapi(app, table=table, auth=platform.settings.auth, vocabularies=_vocabularies(platform))
    return app


def _vocabularies(platform: Platform) -> dict[str, list[str]]:
    """The values of `core.wire.vocabulary` types on this platform."""
    types = sorted(str(entry["name"]) for entry in platform.catalog.list())
    nouns = sorted({name.split(".", 1)[0] + ".*" for name in types})
    return {EVENT_TYPES: types, EVENT_PATTERNS: ["*", *nouns, *types]}


@asynccontextmanager
async def _background(platform: Platform, _app: FastAPI) -> AsyncIterator[None]:
    worker = platform.start_background()
    try:
        yield
    finally:
        await run_in_threadpool(worker.stop)


def _lane_routes(router: APIRouter, service: object) -> dict[tuple[str, str], LaneRoute]:
    """The routes of `router` declared for the fast lane (`core.http.fast_lane`), bound to `service`."""
    found: dict[tuple[str, str], LaneRoute] = {}
    for route in router.routes:
        spec = fast_lane_of(getattr(route, "endpoint", None))
        if isinstance(route, APIRoute) and spec is not None:
            for method in route.methods or ():
                found[(method, route.path)] = LaneRoute(
                    route.path, spec.model, partial(spec.handler, service)
                )
    return found


def _install_error_handlers(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> Response:
        if isinstance(exc, StarletteHTTPException) and exc.status_code == 405:
            # The router's own 405 lists the methods of one route; a path may have several.
            exc = method_not_allowed(flatten_routes(app.router.routes), request.scope)
        return error_response(exc)

    for kind in (PlimsollError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(kind, handle)


def _install_ops_routes(app: FastAPI, platform: Platform, metrics: _Metrics) -> None:
    @app.get("/healthz", tags=["ops"])
    async def healthz() -> Response:  # async: nothing to wait on, so no thread-pool hop
        return json_response({"status": "ok", "version": __version__})

    @app.get("/readyz", tags=["ops"], responses={503: {"description": "The database is not reachable"}})
    def readyz() -> Response:
        try:
            platform.db.ping()
        except Exception as exc:  # readiness reports any failure as "not ready"
            return json_response(
                error_body("UNAVAILABLE", f"database not reachable: {type(exc).__name__}"), 503
            )
        return json_response({"status": "ready"})

    @app.get(
        "/metrics",
        tags=["ops"],
        response_class=Response,
        responses={200: {"content": {_media_type(CONTENT_TYPE_LATEST): {"schema": {"type": "string"}}}}},
    )
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip()


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "plimsoll_http_requests_total",
            "HTTP requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "plimsoll_http_request_duration_seconds",
            "HTTP request latency",
            ["method", "route"],
            registry=self.registry,
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10),
        )
        self.auth_failures = Counter(
            "plimsoll_auth_failures_total",
            "Requests refused as unauthenticated, by reason (no token, malformed, unknown, expired, "
            "revoked, user disabled; a session unknown, ended, expired or idle too long)",
            ["reason"],
            registry=self.registry,
        )
        for reason in REFUSAL_REASONS:  # every series exists from the start, at 0
            self.auth_failures.labels(reason)
        self.sign_ins = Counter(
            "plimsoll_sign_ins_total",
            "Web UI sign-ins by method (password, sso) and result (ok; failed: wrong name or "
            "password; throttled: refused while failures brake the account or address; refused: "
            "a single sign-on answer failed a check; unavailable: the provider did not answer)",
            ["method", "result"],
            registry=self.registry,
        )
        for result in ("ok", "failed", "throttled"):
            self.sign_ins.labels("password", result)
        for result in ("ok", "refused", "unavailable"):
            self.sign_ins.labels("sso", result)

    def refused(self, reason: str) -> None:
        self.auth_failures.labels(reason if reason in REFUSAL_REASONS else "other").inc()


class _RequestMetrics:
    """Pure ASGI (not BaseHTTPMiddleware): it adds microseconds, not a task per request."""

    def __init__(self, app: ASGIApp, metrics: _Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            method = scope.get("method", "")
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - started)


class _LiteralPaths:
    """A path spelled exactly as a route's (`/runs/ingest`) is that route's resource: another method
    on it is a 405 naming the route's methods, not a request for the run with id "ingest" that the
    template `/runs/{run_id}` would otherwise take. Static segments win, as in most routers, and the
    OpenAPI document (one resource per path) stays true."""

    def __init__(self, app: ASGIApp, routes: list[BaseRoute]) -> None:
        self.app = app
        self.routes = routes
        self._entries: list[RouteEntry] | None = None
        self._literal: dict[str, frozenset[str]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if self._entries is None:  # on the first request, when every route is added
                self._entries = flatten_routes(self.routes)
                for entry in self._entries:
                    if "{" not in entry.key and not entry.mount and entry.methods is not None:
                        self._literal[entry.key] = self._literal.get(entry.key, frozenset()) | entry.methods
            methods = self._literal.get(get_route_path(scope))
            if methods is not None and scope["method"] not in methods:
                await error_response(method_not_allowed(self._entries, scope))(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _BodyLimit:
    """Refuse oversized bodies (413 naming the limit): at once when Content-Length says so, and
    while reading when the body is chunked."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        # File contents (run artifacts, a dataset's files) are streamed to disk, not parsed.
        is_file = "/artifacts/" in path or path.startswith("/api/v1/datasets/blobs/")
        limit = MAX_ARTIFACT_BYTES if is_file else MAX_JSON_BODY_BYTES
        message = f"body: over the limit of {limit} bytes"
        length = dict(scope.get("headers", [])).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            body = error_body("PAYLOAD_TOO_LARGE", message, {"field": "body", "limit": limit})
            await json_response(body, 413)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            received = await receive()
            seen += len(received.get("body", b""))
            if seen > limit:
                raise StarletteHTTPException(413, message)
            return received

        await self.app(scope, counted, send)

"""The HTTP application: one FastAPI app over one Platform, every capability's routes mounted."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from plimsoll import __version__
from plimsoll.core.auth.api import install as install_auth
from plimsoll.core.errors import PlimsollError
from plimsoll.core.http import json_response
from plimsoll.platform import Platform
from plimsoll.server.ui import install as install_ui
from plimsoll.tracking import api as tracking_api

log = logging.getLogger("plimsoll.server")

MAX_JSON_BODY_BYTES = 64 * 1024 * 1024
MAX_ARTIFACT_BYTES = 50 * 1024 * 1024 * 1024


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def create_app(platform: Platform) -> FastAPI:
    platform.startup()
    platform.tracking.prune_batch_ids()
    app = FastAPI(
        title="Plimsoll",
        version=__version__,
        description="Self-hosted MLOps platform: tracking, data, registry, gates, serving, monitoring.",
    )
    app.state.platform = platform
    app.state.tracking = platform.tracking
    metrics = _Metrics()
    app.state.metrics = metrics

    _install_error_handlers(app)
    app.include_router(tracking_api.router)
    _install_ops_routes(app, platform, metrics)
    install_ui(app)

    app.add_middleware(_BodyLimit)
    app.add_middleware(_RequestMetrics, metrics=metrics)
    install_auth(app, platform)
    return app


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PlimsollError)
    async def plimsoll_error(_request: Request, exc: PlimsollError) -> Response:
        return json_response(exc.to_dict(), exc.status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> Response:
        problems = []
        for error in exc.errors():
            location = ".".join(
                str(part) for part in error.get("loc", ()) if part not in {"body", "query", "path"}
            )
            problems.append({"field": location, "message": str(error.get("msg", ""))})
        first = problems[0] if problems else {"field": "", "message": "invalid request"}
        message = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        return json_response(
            error_body("INVALID_PARAMETER", message, {"field": first["field"], "problems": problems}), 400
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> Response:
        codes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "PAYLOAD_TOO_LARGE"}
        code = codes.get(exc.status_code, "HTTP_ERROR")
        return json_response(error_body(code, str(exc.detail)), exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> Response:
        incident = uuid.uuid4().hex[:12]
        log.exception("unhandled error %s", incident, exc_info=exc)
        message = f"internal error (reference {incident}); the server log has the details"
        return json_response(error_body("INTERNAL", message, {"reference": incident}), 500)


def _install_ops_routes(app: FastAPI, platform: Platform, metrics: _Metrics) -> None:
    @app.get("/healthz", tags=["ops"])
    def healthz() -> Response:
        return json_response({"status": "ok", "version": __version__})

    @app.get("/readyz", tags=["ops"])
    def readyz() -> Response:
        from sqlalchemy import text

        try:
            with platform.db.read() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # readiness reports any failure as "not ready"
            return json_response(
                error_body("UNAVAILABLE", f"database not reachable: {type(exc).__name__}"), 503
            )
        return json_response({"status": "ready"})

    @app.get("/metrics", tags=["ops"])
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


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


class _BodyLimit:
    """Refuse oversized bodies (413 naming the limit): at once when Content-Length says so, and
    while reading when the body is chunked."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = MAX_ARTIFACT_BYTES if "/artifacts/" in scope.get("path", "") else MAX_JSON_BODY_BYTES
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

"""Security headers: what a browser is told about every answer.

- Every answer: `X-Content-Type-Options: nosniff`, so a browser never runs or renders a download
  (an artifact, a JSON error that echoes input) as something its Content-Type does not say.
- Every HTML page: a Content-Security-Policy, `X-Frame-Options: DENY` and
  `Referrer-Policy: same-origin`. The web UI loads nothing from another host (it works air-gapped)
  and has no inline script or style, so its policy allows scripts, styles, images and requests from
  this server only: markup that got into a page by mistake (XSS) cannot run, and no other site may
  frame a page to trick a click (clickjacking).
- FastAPI's API documentation pages (`/docs`, `/redoc`) load Swagger UI and ReDoc from their CDN
  and start them with an inline script: their policy allows that CDN and exactly the inline scripts
  those pages hold (by hash), nothing else. (Air-gapped, those two pages stay blank; `/openapi.json`
  is the API's description either way.)
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable

from starlette._utils import get_route_path  # the router's own helper: same path, same match
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UI_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
_CDN = "https://cdn.jsdelivr.net"


def docs_policy(script_hashes: Iterable[str]) -> str:
    """The policy of FastAPI's documentation pages: their CDN, and their own inline scripts only."""
    hashes = " ".join(f"'sha256-{digest}'" for digest in script_hashes)
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src 'self' {_CDN} {hashes}".rstrip(),
            # Swagger UI and ReDoc set styles from script; ReDoc uses Google's fonts.
            f"style-src 'self' 'unsafe-inline' {_CDN} https://fonts.googleapis.com",
            "font-src 'self' https://fonts.gstatic.com",
            "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly",
            "worker-src 'self' blob:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        )
    )


_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def inline_script_hashes(html: bytes) -> list[str]:
    """The CSP hashes (base64 sha256) of a page's inline `<script>` blocks."""
    return [base64.b64encode(hashlib.sha256(body).digest()).decode() for body in _INLINE_SCRIPT.findall(html)]


class SecurityHeaders:
    """Pure ASGI. `docs_paths`: FastAPI's own documentation pages, whose inline scripts are hashed
    as served (their content is FastAPI's, fixed; no request data reaches it)."""

    def __init__(self, app: ASGIApp, *, docs_paths: Iterable[str]) -> None:
        self.app = app
        self.docs_paths = frozenset(path for path in docs_paths if path)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if get_route_path(scope) in self.docs_paths:
            await self._docs(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                _add_headers(message, UI_POLICY)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Hold the start of the answer until its (small) body is complete: the policy hashes it.
        start: Message | None = None
        chunks: list[bytes] = []

        async def send_hashed(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            body = b"".join(chunks)
            await send(_add_headers(start, docs_policy(inline_script_hashes(body))))
            await send({"type": "http.response.body", "body": body, "more_body": False})

        await self.app(scope, receive, send_hashed)


def _add_headers(message: Message, html_policy: str) -> Message:
    headers = MutableHeaders(scope=message)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    if headers.get("content-type", "").lower().startswith("text/html"):
        headers["Content-Security-Policy"] = html_policy
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "same-origin"
    return message

"""The fast lane: the SDK's hottest route served without FastAPI's request machinery.

A synchronous `log_metric` is a loopback round trip of under a millisecond, and FastAPI's path
through a request (matching every route in turn, solving dependencies, its stack of exception
middleware) was a third of it. The lane takes exactly the requests of its routes, parses the body
with the route's own model and calls the route's own function, so the rules stay in one place; every
other request passes through untouched, and so does a lane route's request that is not declared
JSON, because FastAPI still declares the route. Middleware outside the lane (authentication, metrics, the body limit) sees every request."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette._utils import get_route_path  # the router's own helper: same path, same match
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from plimsoll.core.auth.entities import LOCAL_ACTOR
from plimsoll.core.http import is_json_request, json_response, read_body
from plimsoll.server.errors import error_response

# The body limit middleware outside the lane enforces the real limit (and tests lower it at run
# time), so the lane itself reads without one.
_UNBOUNDED = sys.maxsize
# A body up to this size is parsed on the event loop (a few milliseconds at most; the hop to a
# thread would cost more than it saves); a larger one on a worker thread, with pydantic's parser,
# which lets the loop run meanwhile.
PARSE_ON_LOOP_MAX_BYTES = 256 * 1024


@dataclass(frozen=True)
class LaneRoute:
    path: str  # the route's template: what request metrics label it with
    model: type[BaseModel]
    handler: Callable[[Any, str], Awaitable[Any]]  # (parsed body, actor) -> JSON content


class FastLane:
    def __init__(self, app: ASGIApp, routes: dict[tuple[str, str], LaneRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get((scope["method"], get_route_path(scope))) if scope["type"] == "http" else None
        if route is None or not is_json_request(scope):
            # Not ours, or not JSON: FastAPI answers exactly as it would without the lane (a body
            # that is not declared JSON is refused there, which also keeps a web page from posting
            # a "simple" cross-site request here).
            await self.app(scope, receive, send)
            return
        scope["route"] = route
        actor = str(scope.get("state", {}).get("actor") or LOCAL_ACTOR)
        try:
            raw = await read_body(receive, _UNBOUNDED)
            try:
                if len(raw) <= PARSE_ON_LOOP_MAX_BYTES:
                    body = route.model.model_validate_json(raw)
                else:
                    body = await run_in_threadpool(route.model.model_validate_json, raw)
            except ValidationError as exc:
                raise RequestValidationError(exc.errors()) from None
            response = json_response(await route.handler(body, actor))
        except Exception as exc:  # mapped to the same JSON errors as the app's handlers
            response = error_response(exc)
        await response(scope, receive, send)

"""The fast lane: the SDK's hottest route served without FastAPI's request machinery.

A synchronous `log_metric` is a loopback round trip of under a millisecond, and FastAPI's path
through a request (matching every route in turn, solving dependencies, its stack of exception
middleware) was a third of it. The lane takes exactly the requests of its routes, parses the body
with the route's own model and calls the route's own function, so the rules stay in one place; every
other request passes through untouched, and so does a lane route's request when the lane is absent
or the path is spelled differently (behind a root path), because FastAPI still declares the route.
Middleware outside the lane (authentication, metrics, the body limit) sees every request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from plimsoll.core.http import LOCAL_ACTOR, json_response, read_body
from plimsoll.server.errors import error_response

# The body limit middleware outside the lane enforces the real limit; this only bounds the buffer.
_LANE_BODY_LIMIT = 1 << 40


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
        route = (
            self.routes.get((scope.get("method", ""), scope.get("path", "")))
            if scope["type"] == "http"
            else None
        )
        if route is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = route
        actor = str(scope.get("state", {}).get("actor") or LOCAL_ACTOR)
        try:
            body = route.model.model_validate_json(await read_body(receive, _LANE_BODY_LIMIT))
            response = json_response(await route.handler(body, actor))
        except Exception as exc:  # mapped to the same JSON errors as the app's handlers
            response = error_response(exc)
        await response(scope, receive, send)

"""Helpers every capability's `api.py` shares: who is calling, and JSON out."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Request
from fastapi.responses import Response
from pydantic import BeforeValidator
from starlette.types import Message, Receive, Scope

from plimsoll.core.auth.entities import LOCAL_ACTOR
from plimsoll.core.errors import (
    InvalidParameter,
    MethodNotAllowed,
    PayloadTooLarge,
    PlimsollError,
    TooManyRequests,
)
from plimsoll.core.validation import find_unstorable

F = TypeVar("F", bound=Callable[..., Any])


def actor_of(request: Request) -> str:
    """The authenticated user name; with authentication off, the single local user."""
    return str(getattr(request.state, "actor", None) or LOCAL_ACTOR)


async def current_actor(request: Request) -> str:
    """`actor_of` as a route dependency. Async on purpose: FastAPI runs a plain `def` dependency in
    its thread pool, and that hop cost more than the whole of a small write."""
    return actor_of(request)


def json_response(content: Any, status_code: int = 200) -> Response:
    return Response(
        orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY),
        status_code=status_code,
        media_type="application/json",
    )


def error_headers(error: PlimsollError) -> dict[str, str]:
    """The headers an error's answer carries besides its body: a 405's `Allow`, a 429's
    `Retry-After` (RFC 9110)."""
    if isinstance(error, MethodNotAllowed) and isinstance(error.details.get("allow"), list):
        return {"Allow": ", ".join(str(method) for method in error.details["allow"])}
    if isinstance(error, TooManyRequests) and isinstance(error.details.get("retry_after"), int):
        return {"Retry-After": str(error.details["retry_after"])}
    return {}


async def read_body(receive: Receive, limit: int) -> bytes:
    """A request's whole body, read from the ASGI `receive`; over `limit` bytes is refused."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise InvalidParameter("body", "the client disconnected before sending it all")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge("body", f"is over the limit of {limit} bytes", details={"limit": limit})
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def is_json_request(scope: Scope) -> bool:
    """The Content-Type test FastAPI applies before it parses a body as JSON (`application/json`,
    any `+json`)."""
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media_type = bytes(value).split(b";", 1)[0].strip().lower()
            subtype = media_type.partition(b"/")[2]
            return subtype == b"json" or subtype.endswith(b"+json")
    return False


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands a body already read (by `read_body`) to the app, then defers to the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def parse_json_body(raw: bytes) -> Any:
    """A request's JSON body, parsed as the routes parse it (the standard library's `json`), and
    refused, naming the field, when a string in it is one no database stores (a lone surrogate,
    which `json` accepts as an escape or as CESU-8 bytes, or NUL)."""
    try:
        body = json.loads(raw)
    except ValueError as error:
        raise body_error(error) from None
    except RecursionError:
        raise body_error(RecursionError()) from None
    check_storable_body(body)
    return body


def check_storable_body(body: Any) -> None:
    try:
        found = find_unstorable(body)
    except RecursionError:
        raise body_error(RecursionError()) from None
    if found is not None:
        raise InvalidParameter(found[0], found[1])


def body_error(cause: BaseException | None) -> InvalidParameter:
    """Why a body did not parse as JSON, said plainly (the parsers' own words are not for users)."""
    if isinstance(cause, RecursionError):
        return InvalidParameter("body", "is nested too deeply to parse")
    if isinstance(cause, UnicodeDecodeError):
        return InvalidParameter("body", "is not UTF-8 text")
    if isinstance(cause, ValueError) and "integer string conversion" in str(cause):
        limit = sys.get_int_max_str_digits()
        return InvalidParameter(
            "body",
            f"holds an integer of more than {limit} digits; integers are 64-bit",
            details={"limit": limit},
        )
    if isinstance(cause, json.JSONDecodeError):
        return InvalidParameter("body", f"is not valid JSON: {cause.msg} at position {cause.pos}")
    return InvalidParameter("body", "is not valid JSON")


_ASCII_INT = re.compile(r"-?[0-9]{1,19}")


def _query_int(value: Any) -> Any:
    if isinstance(value, str) and _ASCII_INT.fullmatch(value) is None:
        raise ValueError("must be a whole number written in ASCII digits (at most 19 of them)")
    return value


# An integer query parameter, read strictly: pydantic would also take ' 3', '3.0' and '3_000'.
QueryInt = Annotated[int, BeforeValidator(_query_int)]


def service_of(name: str) -> Callable[[Request], Awaitable[Any]]:
    """A route dependency that hands the route the service of capability `name`. Async on purpose,
    like `current_actor`: no thread-pool hop."""

    async def dependency(request: Request) -> Any:
        return request.app.state.platform.service(name)

    dependency.__name__ = f"{name}_service"
    return dependency


@dataclass(frozen=True)
class FastLaneSpec:
    """How the server's fast lane (server/lane.py) serves a route without FastAPI's request
    machinery: the body parsed with `model`, then `handler(service, body, actor)` awaited, its
    result sent as JSON. The route stays declared for OpenAPI, the permission table, and apps
    built without the lane."""

    model: type[Any]
    handler: Callable[[Any, Any, str], Awaitable[Any]]


FAST_LANE_ATTRIBUTE = "__plimsoll_fast_lane__"


def fast_lane(model: type[Any], handler: Callable[[Any, Any, str], Awaitable[Any]]) -> Callable[[F], F]:
    """Declare on a route's function that the fast lane may serve it (put it under `@router.post`)."""

    def mark(endpoint: F) -> F:
        setattr(endpoint, FAST_LANE_ATTRIBUTE, FastLaneSpec(model, handler))
        return endpoint

    return mark


def fast_lane_of(endpoint: Any) -> FastLaneSpec | None:
    spec = getattr(endpoint, FAST_LANE_ATTRIBUTE, None)
    return spec if isinstance(spec, FastLaneSpec) else None

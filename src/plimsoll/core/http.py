"""Helpers every capability's `api.py` shares: who is calling, and JSON out."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response
from starlette.types import Receive

from plimsoll.core.errors import InvalidParameter, PayloadTooLarge

LOCAL_ACTOR = "local"


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

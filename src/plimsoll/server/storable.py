"""Text that no database can store is refused at the door, for every route: a 400 naming the
field, never a 500 from the driver (and, on SQLite, never a dropped connection).

What no store takes is a lone UTF-16 surrogate (JSON's `json` module accepts one as an escape,
`"\\ud800"`, or as CESU-8 bytes) and NUL (PostgreSQL's text refuses it; refused everywhere so that
both stores agree). `core.validation.check_storable` is the same rule for the services, so the
embedded SDK, which reaches them without HTTP, is refused the same way.

- `StorableUrl` runs before the auth guard, whose resolvers look up what the URL names: a NUL in
  the path or in a query parameter. (A percent-escape that is not UTF-8, a surrogate's among them,
  is decoded by the server as U+FFFD and is harmless.)
- `StorableBody` runs after it, so nothing is parsed for a caller who may not call the route. A JSON
  body is scanned for what could hold such a string (a `\\u0000` or `\\uD800`-`\\uDFFF` escape,
  bytes that are not UTF-8); only a body that could is parsed, to find the field and name it.
  Every other body passes on as it came, unparsed.
"""

from __future__ import annotations

import json
import re
import sys
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.http import check_storable_body, is_json_request, read_body, replay_body
from plimsoll.core.validation import printable, unstorable
from plimsoll.server.errors import error_response

_SUSPECT_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")
# Bodies larger than this are scanned on a worker thread: the event loop keeps answering.
_SCAN_ON_LOOP_BYTES = 1 << 20
# The body limit outside enforces the real limit, as it does for the fast lane.
_UNBOUNDED = sys.maxsize


class StorableUrl:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = url_refusal(scope) if scope["type"] in {"http", "websocket"} else None
        if refusal is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1007, "reason": refusal.message[:120]})
        else:
            await error_response(refusal)(scope, receive, send)


def url_refusal(scope: Scope) -> InvalidParameter | None:
    path = str(scope.get("path", ""))
    if "\x00" in path:
        segment = next(part for part in path.split("/") if "\x00" in part)
        return InvalidParameter("path", f"the segment '{printable(segment)}' {unstorable(segment)}")
    query = bytes(scope.get("query_string", b""))
    if b"%00" not in query and b"\x00" not in query:
        return None
    # Parsed as Starlette parses it, so that the parameter named is the one the route reads.
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        problem = unstorable(name) or unstorable(value)
        if problem is not None:
            return InvalidParameter(printable(name) or "query", problem)
    return None


class StorableBody:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_json_request(scope):
            await self.app(scope, receive, send)
            return
        try:
            raw = await read_body(receive, _UNBOUNDED)
            if len(raw) > _SCAN_ON_LOOP_BYTES:
                await run_in_threadpool(check_body, raw)
            else:
                check_body(raw)
        except Exception as exc:  # the same JSON errors as the app's handlers (413 included)
            await error_response(exc)(scope, receive, send)
            return
        await self.app(scope, replay_body(raw, receive), send)


def check_body(raw: bytes) -> None:
    """InvalidParameter naming the first string of a JSON body that no database stores."""
    if not could_hold_unstorable(raw):
        return
    try:
        body = json.loads(raw)  # the routes' parser: it accepts what is checked for here
    except (ValueError, RecursionError):
        return  # not JSON at all: the route refuses it as such
    check_storable_body(body)


def could_hold_unstorable(raw: bytes) -> bool:
    if b"\\u" in raw and _SUSPECT_ESCAPE.search(raw) is not None:
        return True
    if raw.isascii():
        return False
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False

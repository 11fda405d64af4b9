"""The host names the server answers to: the defence against DNS rebinding.

A web page the user visits can point a name of its own (`evil.example`) at 127.0.0.1 once the page
has loaded; the browser then sends the page's requests to the local server as same-origin requests,
with `Host: evil.example`. Without authentication (the local default) that would drive the whole API.
So every request must name, in its `Host` header, one of the names the server was started for:
the loopback names always (no page can rebind them: they are never the page's own name), and the
names given with `plimsoll server --allowed-hosts` or PLIMSOLL_ALLOWED_HOSTS. `*` accepts any name;
`*.example.com` any name under example.com. Any port is accepted. Other requests get 421
MISDIRECTED_REQUEST before anything else looks at them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast

from starlette.types import ASGIApp, Receive, Scope, Send

from plimsoll.core.errors import InvalidParameter, MisdirectedRequest
from plimsoll.core.http import json_response

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
ANY_HOST = "*"
FIELD = "allowed_hosts"
_ECHO_LIMIT = 200  # how much of a refused Host header the answer repeats


@dataclass(frozen=True)
class AllowedHosts:
    names: frozenset[str]
    suffixes: tuple[str, ...]  # from `*.example.com`: ".example.com"
    any: bool = False

    @classmethod
    def parse(cls, entries: Iterable[str] | None) -> AllowedHosts:
        """The loopback names plus `entries`; InvalidParameter naming the first bad entry."""
        names = set(LOOPBACK_NAMES)
        suffixes: list[str] = []
        any_host = False
        for raw in entries or ():
            entry = _entry(raw)
            if entry == ANY_HOST:
                any_host = True
            elif entry.startswith("*."):
                suffixes.append(entry[1:])
            else:
                names.add(entry)
        return cls(frozenset(names), tuple(suffixes), any_host)

    def allows(self, host_header: str | None) -> bool:
        if self.any:
            return True
        name = host_name(host_header) if host_header is not None else None
        if name is None:
            return False
        return name in self.names or any(name.endswith(suffix) for suffix in self.suffixes)


def is_loopback(bind_host: str) -> bool:
    """Whether a listening address is reachable from this machine only."""
    if bind_host.strip().lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(bind_host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(header: str) -> str | None:
    """The name in a `Host` header, lower case, without its port or a trailing dot; None when the
    header is not `name`, `name:port`, `[v6]` or `[v6]:port`."""
    text = header.strip().lower()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        name, rest = text[: end + 1], text[end + 1 :]
    else:
        name, colon, port = text.partition(":")
        rest = colon + port
    if rest and not (rest.startswith(":") and rest[1:].isascii() and rest[1:].isdigit()):
        return None
    name = name.rstrip(".")
    return name or None


def _entry(raw: str) -> str:
    entry = raw.strip().lower().rstrip(".")
    if not entry:
        raise InvalidParameter(FIELD, "an empty host name; separate names with commas")
    if entry == ANY_HOST:
        return entry
    if entry.startswith("[") or entry.count(":") >= 2:  # an IPv6 address, bracketed or not
        bare = entry.strip("[]")
        try:
            ipaddress.IPv6Address(bare)
        except ValueError:
            raise InvalidParameter(FIELD, f"{raw!r} is not an IPv6 address (nor a host name)") from None
        return f"[{bare}]"
    if ":" in entry:
        raise InvalidParameter(FIELD, f"{raw!r}: name hosts without a port (every port is accepted)")
    if "*" in entry[2:] or ("*" in entry and not entry.startswith("*.")):
        raise InvalidParameter(FIELD, f"{raw!r}: a wildcard is '*' alone or a leading '*.'")
    if any(char in entry for char in "/ @?#"):
        raise InvalidParameter(FIELD, f"{raw!r} is not a host name")
    return entry


class HostCheck:
    """Pure ASGI: refuses a request whose `Host` the server was not started for (421)."""

    def __init__(self, app: ASGIApp, *, allowed: AllowedHosts) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"} or self.allowed.any:
            await self.app(scope, receive, send)
            return
        host = _host_header(scope)
        if self.allowed.allows(host):
            await self.app(scope, receive, send)
            return
        shown = (host or "")[:_ECHO_LIMIT]
        error = MisdirectedRequest(
            f"this server does not answer to the host name {shown!r} (a guard against DNS "
            "rebinding); if that is a name of this server, start it with `plimsoll server "
            "--allowed-hosts NAME` (or PLIMSOLL_ALLOWED_HOSTS=NAME)"
            if host
            else "the request has no Host header; this server answers only to the names it was started for",
            details={"host": shown},
        )
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": "host not allowed"})
            return
        await json_response(error.to_dict(), error.status)(scope, receive, send)


def _host_header(scope: Scope) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"host":
            return cast(bytes, value).decode("latin-1")
    return None

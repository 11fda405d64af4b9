"""Where a webhook may be sent: URL rules, and the address check that keeps deliveries off private
networks (SSRF).

A subscriber chooses the URL, and the server makes the request from inside its own network: a URL
naming `localhost`, a metadata endpoint (169.254.169.254) or a database on 10.x would let a
subscriber reach what the server reaches. So, unless `PLIMSOLL_WEBHOOKS_ALLOW_PRIVATE=1`:

- at creation, a URL whose host is a literal IP of such a range, or `localhost`, is refused;
- at each delivery attempt the host is resolved once (`resolve`), every address in the answer
  must be globally routable, and the request then connects to the address checked, never to the
  name again: a DNS answer that changes between the check and the connection (DNS rebinding)
  cannot redirect it.

The same rules hold for every scheme a format is delivered over: `http`/`https` for the formats
POSTed, `smtp`/`smtps` for email (docs/webhooks.md).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from plimsoll.core.errors import InvalidParameter

MAX_URL_LENGTH = 2048
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
HTTP_SCHEMES = ("http", "https")
SMTP_SCHEMES = ("smtp", "smtps")  # smtps: TLS from the first byte; smtp: STARTTLS when offered
DEFAULT_PORTS = {"http": 80, "https": 443, "smtp": 25, "smtps": 465}


class TargetRefused(Exception):
    """The target is on a network deliveries may not reach: not worth retrying."""


class ResolutionFailed(Exception):
    """The name did not resolve (perhaps for now): worth retrying."""


@dataclass(frozen=True)
class Target:
    """A URL taken apart for a request pinned to one address."""

    scheme: str
    host: str  # as in the URL (no brackets): the Host header and the TLS server name
    port: int
    path: str  # path and query, never empty

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def parse_url(url: object, schemes: Sequence[str] = HTTP_SCHEMES) -> Target:
    """InvalidParameter naming `url` unless it is a URL of one of `schemes` with a host, and no
    credentials."""
    if not isinstance(url, str) or not url:
        raise InvalidParameter("url", f"must be {_schemes_hint(schemes)} URL")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidParameter("url", f"is {len(url)} characters long; the limit is {MAX_URL_LENGTH}")
    if any(ord(char) <= 32 or ord(char) == 127 for char in url):
        raise InvalidParameter("url", "must not contain spaces or control characters")
    try:
        parts: SplitResult = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidParameter("url", f"is not a valid URL: {exc}") from None
    if parts.scheme not in schemes:
        raise InvalidParameter("url", f"must use {' or '.join(schemes)}, not {parts.scheme or 'no scheme'!r}")
    if not parts.hostname:
        raise InvalidParameter("url", "has no host")
    if parts.username is not None or parts.password is not None:
        raise InvalidParameter(
            "url", "must not carry credentials (user:password@); the signature authenticates"
        )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme], path)


def check_url(url: object, *, allow_private: bool, schemes: Sequence[str] = HTTP_SCHEMES) -> str:
    """The URL of a new subscription: well formed and, unless private networks are allowed, not
    naming a private address or `localhost` outright (names are checked again at each delivery)."""
    target = parse_url(url, schemes)
    if not allow_private:
        host = target.host.lower().rstrip(".")
        if host == "localhost" or host.endswith(".localhost"):
            raise InvalidParameter("url", f"names {host!r}, a loopback host; {_SETTING_HINT}")
        literal = _literal_ip(host)
        if literal is not None and not is_public(literal):
            raise InvalidParameter("url", f"names {literal}, {_describe(literal)}; {_SETTING_HINT}")
    assert isinstance(url, str)
    return url


def resolve(target: Target, *, allow_private: bool) -> str:
    """The one address to connect to: the host resolved once (`socket.getaddrinfo`), every address
    of the answer checked. TargetRefused for a private one (unless allowed), ResolutionFailed when
    the name does not resolve."""
    try:
        answers = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ResolutionFailed(f"{target.host} did not resolve: {exc}") from None
    addresses = [ipaddress.ip_address(str(answer[4][0]).split("%", 1)[0]) for answer in answers]
    if not addresses:
        raise ResolutionFailed(f"{target.host} resolved to no address")
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise TargetRefused(
                    f"{target.host} resolves to {address}, {_describe(address)}; {_SETTING_HINT}"
                )
    return str(addresses[0])


def is_public(address: IPAddress) -> bool:
    """Globally routable: none of private, loopback, link-local, reserved, multicast, unspecified.
    An IPv6 address that carries an IPv4 one (mapped, 6to4, Teredo, NAT64) must pass for both: a
    gateway may deliver it to the IPv4 address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = [address.ipv4_mapped, address.sixtofour, address.teredo[1] if address.teredo else None]
        if address in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if any(inner is not None and not is_public(inner) for inner in embedded):
            return False
        if address.ipv4_mapped is not None:
            return True  # judged by the IPv4 address above (its own flags say "reserved")
    flags = (
        address.is_private,
        address.is_loopback,
        address.is_link_local,
        address.is_reserved,
        address.is_multicast,
        address.is_unspecified,
    )
    return not any(flags) and address.is_global


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SETTING_HINT = "deliveries to private networks need PLIMSOLL_WEBHOOKS_ALLOW_PRIVATE=1"


def _schemes_hint(schemes: Sequence[str]) -> str:
    listed = " or ".join(f"{scheme}://" for scheme in schemes)
    return f"an {listed}"


def _describe(address: IPAddress) -> str:
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_unspecified:
        return "the unspecified address"
    return "a private or reserved address"


def _literal_ip(host: str) -> IPAddress | None:
    """The address a host names literally, including the short and numeric IPv4 forms the
    resolver accepts (`127.1`, `2130706433`)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if host.replace(".", "").replace("x", "").isalnum() and host[:1].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def ca_bundle() -> str | None:
    """The certificates TLS connections to receivers trust: certifi's bundle when installed (as
    the SDK's HTTP client uses), else the system's (None)."""
    try:
        import certifi
    except ImportError:
        return None
    return str(certifi.where())

"""What the webhook tests share (imported by name; no conftest): a real HTTP receiver on loopback,
a real SMTP server on loopback, a platform with webhooks wired for quick retries, and a wait with
a generous bound."""

from __future__ import annotations

import datetime
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from plimsoll.capabilities import ALL
from plimsoll.core.capability import Capability
from plimsoll.platform import Platform


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """An HTTP server on 127.0.0.1 in a thread. It answers each POST with the next of `statuses`,
    then with `then`; `on_request` runs before it answers. Stop it with `stop()`."""

    def __init__(self, statuses: Iterable[int] = (), then: int = 200, tls: Path | None = None) -> None:
        self.requests: list[Received] = []
        self.server_names: list[str | None] = []  # the TLS server name (SNI) of each handshake
        self.statuses = deque(statuses)
        self.then = then
        self.on_request: Callable[[Received], None] | None = None
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                received = Received(self.path, dict(self.headers.items()), body)
                with receiver._lock:
                    receiver.requests.append(received)
                    status = receiver.statuses.popleft() if receiver.statuses else receiver.then
                if receiver.on_request is not None:
                    receiver.on_request(received)
                answer = b"ok" if status < 300 else b"the receiver is unhappy " + b"x" * 2000
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the tests read `requests`."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls)
            context.sni_callback = lambda _socket, name, _context: self.server_names.append(name)
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()

    def url(self, host: str = "127.0.0.1", path: str = "/hook") -> str:
        return f"http://{host}:{self.port}{path}"

    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


def quick_webhooks(max_attempts: int = 3) -> list[Capability]:
    """Every capability, with the delivery job retrying after tens of milliseconds."""
    quick: list[Capability] = []
    for capability in ALL:
        if capability.name == "webhooks":
            (kind,) = capability.jobs
            fast = replace(kind, max_attempts=max_attempts, backoff_base_s=0.02, backoff_max_s=0.05)
            capability = replace(capability, jobs=(fast,))
        quick.append(capability)
    return quick


def make_platform(
    database_url: str, tmp_path: Path, *, allow_private: bool, max_attempts: int = 3, **settings: Any
) -> Platform:
    return Platform(
        capabilities=quick_webhooks(max_attempts),
        store_url=database_url,
        blobs_url=str(tmp_path / "blobs"),
        webhooks_allow_private=allow_private,
        **settings,
    ).startup()


@dataclass(frozen=True)
class Mail:
    """A message as the SMTP server took it."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    tls: bool  # the session was encrypted (STARTTLS or TLS from the first byte)
    login: str | None  # the user name it signed in with


class MailServer:
    """aiosmtpd's SMTP server on 127.0.0.1 in a thread; `messages` holds what it took. With `tls`
    (a PEM file of key and certificate) it offers STARTTLS; with `logins` (user -> password) it
    requires signing in, which it offers only over TLS. Stop it with `stop()`."""

    def __init__(self, *, tls: Path | None = None, logins: dict[str, str] | None = None) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.messages: list[Mail] = []
        self.login_attempts: list[str] = []
        server = self

        class Handler:
            async def handle_DATA(self, _server: Any, session: Any, envelope: Any) -> str:
                login = session.auth_data.login.decode() if session.authenticated else None
                mail = Mail(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.content,
                    session.ssl is not None,
                    login,
                )
                server.messages.append(mail)
                return "250 OK"

        def authenticate(_server: Any, _session: Any, _envelope: Any, _mechanism: str, data: Any) -> Any:
            if not isinstance(data, LoginPassword) or logins is None:
                return AuthResult(success=False, handled=False)
            user, password = data.login.decode(), data.password.decode()
            server.login_attempts.append(user)
            return AuthResult(success=logins.get(user) == password, auth_data=data)

        options: dict[str, Any] = {}
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(tls)
            options["tls_context"] = context
        if logins is not None:
            options.update(authenticator=authenticate, auth_required=True)
        self.port = free_port()  # aiosmtpd's port=0 fails its own readiness check
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **options)
        self.controller.start()

    def url(self, host: str = "127.0.0.1", *, to: str = "oncall@example.org", scheme: str = "smtp") -> str:
        return f"{scheme}://{host}:{self.port}?to={to}&from=plimsoll@example.org"

    def stop(self) -> None:
        self.controller.stop()


def free_port() -> int:
    """A TCP port nothing listens on at the moment of asking."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], bool], *, timeout_s: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s} s")
        time.sleep(0.02)


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, Any]) -> list[str]:
    """Resolve the names in `answers` (a callable giving the IP now) like a DNS server would;
    every other name for real. The list returned grows by one name per lookup of those names."""
    real = socket.getaddrinfo
    lookups: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in answers:
            return real(host, port, *args, **kwargs)
        lookups.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host](), int(port)))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lookups


def self_signed_certificate(folder: Path, host: str) -> Path:
    """A PEM file with a key and a self-signed certificate for `host`: no client trusts it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = folder / "receiver.pem"
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_bytes(key_pem + certificate.public_bytes(serialization.Encoding.PEM))
    return path

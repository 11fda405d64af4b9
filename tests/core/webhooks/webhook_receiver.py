"""What the webhook tests share (imported by name; no conftest): a real HTTP receiver on loopback,
a platform with webhooks wired for quick retries, and a wait with a generous bound."""

from __future__ import annotations

import datetime
import ssl
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

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
    database_url: str, tmp_path: Path, *, allow_private: bool, max_attempts: int = 3
) -> Platform:
    return Platform(
        capabilities=quick_webhooks(max_attempts),
        store_url=database_url,
        blobs_url=str(tmp_path / "blobs"),
        webhooks_allow_private=allow_private,
    ).startup()


def wait_for(condition: Callable[[], bool], *, timeout_s: float = 30.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s} s")
        time.sleep(0.02)


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

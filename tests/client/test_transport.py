"""How the SDK's HTTP requests are addressed: through a proxy named by the environment, and to a
server that lives under a path prefix (behind a reverse proxy)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import httpx
import pytest

from plimsoll.client import Client
from plimsoll.server.testing import LiveServer


class _Forwarder:
    """Forwards every request to `upstream`, dropping a scheme and host (a forward proxy's
    absolute-form target) and a path prefix (a reverse proxy's); records what it was asked."""

    def __init__(self, upstream: str, *, prefix: str = "") -> None:
        self.targets: list[str] = []
        forwarder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                forwarder.targets.append(self.path)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                path = parts.path.removeprefix(prefix) + (f"?{parts.query}" if parts.query else "")
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in {"host", "content-length"}
                }
                answer = httpx.request(
                    self.command, upstream + path, content=body, headers=headers, trust_env=False
                )
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("content-type", "application/json"))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def forwarder_for(sqlite_live_server: LiveServer) -> Iterator[type[_Forwarder]]:
    made: list[_Forwarder] = []

    class Bound(_Forwarder):
        def __init__(self, *, prefix: str = "") -> None:
            super().__init__(sqlite_live_server.url, prefix=prefix)
            made.append(self)

    yield Bound
    for forwarder in made:
        forwarder.close()


def _round_trips(client: Client) -> None:
    run = client.start_run("addressed", capture=False)
    run.log_metric("m", 1.0, step=0, synchronous=True)
    run.end()
    assert client.get_run(run.id).metrics == {"m": 1.0}


def test_a_proxy_from_the_environment_carries_the_requests(
    forwarder_for: type[_Forwarder], sqlite_live_server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = forwarder_for()
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
    for name in ("NO_PROXY", "no_proxy", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    # 127.0.0.2 is loopback too, but not by a name the SDK exempts from proxies.
    server = f"http://127.0.0.2:{urlsplit(sqlite_live_server.url).port}"
    with Client(server) as client:
        _round_trips(client)
    assert proxy.targets and all(target.startswith(server + "/api/v1/") for target in proxy.targets)


def test_a_server_under_a_path_prefix(forwarder_for: type[_Forwarder]) -> None:
    reverse = forwarder_for(prefix="/tools/plimsoll")
    with Client(f"http://127.0.0.1:{reverse.port}/tools/plimsoll") as client:
        _round_trips(client)
    assert reverse.targets and all(target.startswith("/tools/plimsoll/api/v1/") for target in reverse.targets)

"""How the SDK's HTTP requests are addressed: through a proxy named by the environment, and to a
server that lives under a path prefix (behind a reverse proxy)."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from plimsoll.client import Client
from plimsoll.core.errors import BlobCorrupted
from plimsoll.server.testing import LiveServer
from plimsoll.tracking.api import DIGEST_HEADER


class _Forwarder:
    """Forwards every request to `upstream`, dropping a scheme and host (a forward proxy's
    absolute-form target) and a path prefix (a reverse proxy's); records what it was asked."""

    def __init__(
        self,
        upstream: str,
        *,
        prefix: str = "",
        keep: tuple[str, ...] = (),
        rewrite: Callable[[bytes], bytes] = lambda body: body,
    ) -> None:
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
                content = rewrite(answer.content)
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("content-type", "application/json"))
                for name in keep:
                    if name in answer.headers:
                        self.send_header(name, answer.headers[name])
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

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
        def __init__(
            self,
            *,
            prefix: str = "",
            keep: tuple[str, ...] = (DIGEST_HEADER,),
            rewrite: Callable[[bytes], bytes] = lambda body: body,
        ) -> None:
            super().__init__(sqlite_live_server.url, prefix=prefix, keep=keep, rewrite=rewrite)
            made.append(self)

    yield Bound
    for forwarder in made:
        forwarder.close()


def _round_trips(client: Client) -> None:
    run = client.start_run("addressed", capture=False)
    run.log_metric("m", 1.0, step=0, synchronous=True)
    run.log_text("through the proxy", "note.txt")
    run.end()
    assert client.get_run(run.id).metrics == {"m": 1.0}
    with tempfile.TemporaryDirectory() as scratch:
        target = client.download_artifact(run.id, "note.txt", Path(scratch) / "note.txt")
        assert target.read_text() == "through the proxy"


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


def _artifact_through(proxy: _Forwarder, tmp_path: Path) -> tuple[Client, str]:
    client = Client(f"http://127.0.0.1:{proxy.port}")
    with client.start_run("downloads", capture=False) as run:
        run.log_text("the real content", "report.txt")
    return client, run.id


def test_a_download_without_a_digest_header_is_refused(
    forwarder_for: type[_Forwarder], tmp_path: Path
) -> None:
    """Without the digest, a truncated or altered body could not be told from the real one."""
    client, run_id = _artifact_through(forwarder_for(keep=()), tmp_path)
    with client, pytest.raises(BlobCorrupted, match="X-Plimsoll-Digest") as caught:
        client.download_artifact(run_id, "report.txt", tmp_path / "out" / "report.txt")
    assert "nothing was written" in caught.value.message
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_a_download_changed_on_the_way_is_refused(forwarder_for: type[_Forwarder], tmp_path: Path) -> None:
    client, run_id = _artifact_through(
        forwarder_for(rewrite=lambda body: body.replace(b"real", b"fake")), tmp_path
    )
    with client, pytest.raises(BlobCorrupted, match="arrived corrupted"):
        client.download_artifact(run_id, "report.txt", tmp_path / "out" / "report.txt")
    assert list((tmp_path / "out").iterdir()) == []

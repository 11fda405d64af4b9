"""Two `plimsoll server` processes on one PostgreSQL database, as replicas behind a balancer: an
event written through A (which runs no background work) reaches a consumer running in B (the
webhook deliveries) and a receiver on loopback within 2 s."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from plimsoll.client import Client
from plimsoll.core.db import Database
from plimsoll.platform import schema_of

pytestmark = pytest.mark.slow

DELIVERED_WITHIN_S = 2.0  # a liveness bound from the issue, not a speed measurement


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Receiver:
    def __init__(self) -> None:
        self.bodies: list[tuple[float, dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.bodies.append((time.monotonic(), json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def empty_postgres(postgres_url: str) -> str:
    db = Database(postgres_url)
    try:
        names = ", ".join(f'"{table.name}"' for table in schema_of().sorted_tables())
        with db.engine.begin() as conn:
            conn.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            conn.execute(
                sa.text("INSERT INTO projects (name, description, created_at) VALUES ('default', '', 0)")
            )
    finally:
        db.dispose()
    return postgres_url


@pytest.fixture
def replicas(empty_postgres: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    env = {**os.environ, "PLIMSOLL_WEBHOOKS_ALLOW_PRIVATE": "1"}
    env.pop("PLIMSOLL_URL", None)
    processes: list[subprocess.Popen[bytes]] = []
    urls = []
    try:
        for name, extra in (("a", ["--no-background"]), ("b", [])):
            port = _free_port()
            command = [sys.executable, "-m", "plimsoll", "server", "--host", "127.0.0.1", "--port", str(port)]
            command += ["--store", empty_postgres, "--blobs", str(tmp_path / "blobs"), *extra]
            log = (tmp_path / f"server-{name}.log").open("wb")
            processes.append(
                subprocess.Popen(command, env=env, stdout=log, stderr=log, start_new_session=True)
            )
            log.close()
            urls.append(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 60
        for name, url, process in zip("ab", urls, processes, strict=True):
            while True:
                # The log of the replica that stopped, not always a's: it says why.
                assert process.poll() is None, (tmp_path / f"server-{name}.log").read_text()
                try:
                    if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "a server did not start"
                time.sleep(0.1)
        yield urls[0], urls[1]
    finally:
        for process in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=15)


def test_an_event_written_through_a_reaches_a_consumer_in_b(replicas: tuple[str, str]) -> None:
    a, b = replicas
    receiver = _Receiver()
    try:
        with Client(a) as through_a:
            through_a.create_webhook("replicas", receiver.url, ["experiment.created"])
            written = time.monotonic()
            through_a.create_experiment("written-through-a")
        deadline = written + 30
        while not receiver.bodies and time.monotonic() < deadline:
            time.sleep(0.02)
        assert receiver.bodies, "the event was never delivered"
        arrived, body = receiver.bodies[0]
        assert body["type"] == "experiment.created" and body["payload"]["name"] == "written-through-a"
        assert arrived - written < DELIVERED_WITHIN_S, f"delivered after {arrived - written:.2f} s"
        # A ran no consumer: the delivery was B's.
        with Client(b) as through_b:
            (subscription,) = through_b.list_webhooks()
            (delivery,) = through_b.webhook_deliveries(subscription.id)
            assert delivery.event_type == "experiment.created"
    finally:
        receiver.stop()

"""Nothing is lost: concurrent writers, lost acknowledgements, a server killed mid-ingest."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from plimsoll.client import Client
from plimsoll.core.config import Settings
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

WORKER = Path(__file__).with_name("log_worker.py")
WORKERS = 8
RUNS, POINTS = 3, 200


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLIMSOLL_")}
    env.update(extra)
    return env


def _run_workers(env: dict[str, str]) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(i), str(RUNS), str(POINTS)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for i in range(WORKERS)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err.decode()[-3000:]
        assert b"database is locked" not in err
        assert out.strip() == b"ok"


def _check_everything_arrived(client: Client) -> None:
    runs = client.search_runs("concurrency", max_results=1000)
    assert len(runs) == WORKERS * RUNS
    assert all(r.status == "FINISHED" and r.tags["done"] == "yes" for r in runs)
    for run in runs[:: max(1, len(runs) // 6)]:
        history = client.get_metric_history(run.id, "loss")
        assert history.steps == list(range(POINTS))


@pytest.mark.slow
def test_eight_processes_embedded_on_one_sqlite_file(tmp_path: Path) -> None:
    home = tmp_path / ".plimsoll"
    Platform(home=home).startup().close()
    _run_workers(_env(PLIMSOLL_HOME=str(home)))
    with Client(settings=Settings(home=home)) as client:
        _check_everything_arrived(client)


@pytest.mark.slow
def test_eight_processes_through_the_server(live_server: LiveServer) -> None:
    _run_workers(_env(PLIMSOLL_URL=live_server.url))
    with Client(live_server.url) as client:
        _check_everything_arrived(client)
    # The SDK retries 5xx answers silently: prove the server never had to give one.
    exposition = httpx.get(live_server.url + "/metrics").text
    assert 'status="5' not in exposition


# -- a proxy that loses answers ------------------------------------------------------------------


class _FlakyProxy:
    """Forwards to the real server; for the first `lose` ingest requests it lets the server apply
    the batch and then drops the connection (a lost acknowledgement); for the first `fail` requests
    of any kind it answers 503 without forwarding."""

    def __init__(self, upstream: str, *, lose: int = 0, fail: int = 0) -> None:
        self.upstream = upstream
        self.lose, self.fail = lose, fail
        self.seen_ingest = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if proxy.fail > 0:
                    proxy.fail -= 1
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {
                    k: v for k, v in self.headers.items() if k.lower() not in {"host", "content-length"}
                }
                answer = httpx.request(
                    self.command, proxy.upstream + self.path, content=body, headers=headers
                )
                if self.path.endswith("/runs/ingest"):
                    proxy.seen_ingest += 1
                    if proxy.lose > 0:
                        proxy.lose -= 1
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                self.send_response(answer.status_code)
                for key, value in answer.headers.items():
                    if key.lower() not in {
                        "content-length",
                        "transfer-encoding",
                        "connection",
                        "content-encoding",
                    }:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_lost_acknowledgement_is_retried_without_duplicates(sqlite_live_server: LiveServer) -> None:
    proxy = _FlakyProxy(sqlite_live_server.url, lose=3, fail=2)
    try:
        with Client(proxy.url, flush_interval=0.01) as client:
            with client.start_run("e", capture=False) as run:
                for step in range(30):
                    run.log_metric("m", float(step), step=step, synchronous=True)
            assert proxy.seen_ingest > 30  # the lost ones were sent again
            history = client.get_metric_history(run.id, "m")
            assert history.steps == list(range(30))  # ... and stored once
    finally:
        proxy.close()


# -- kill -9 -------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_server(home: Path, port: int) -> subprocess.Popen[bytes]:
    with (home.parent / "server.log").open("ab") as log:  # the child keeps its own descriptor
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "plimsoll",
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--home",
                str(home),
            ],
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


@pytest.mark.slow
def test_kill_9_during_ingest_loses_nothing_acknowledged(tmp_path: Path) -> None:
    home, port = tmp_path / "server", _free_port()
    url = f"http://127.0.0.1:{port}"
    server = _start_server(home, port)
    acked = tmp_path / "acked.txt"
    writer = subprocess.Popen(
        [sys.executable, str(WORKER), "0", "1", "400", "--sync-log", str(acked)],
        env=_env(PLIMSOLL_URL=url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while (
            not acked.exists() or len(acked.read_text().splitlines()) < 100
        ) and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(server.pid, signal.SIGKILL)  # mid-ingest, no chance to flush anything
        server.wait()
        before_restart = len(acked.read_text().splitlines())
        time.sleep(0.5)
        server = _start_server(home, port)  # the writer has been retrying meanwhile
        _, err = writer.communicate(timeout=120)
        assert writer.returncode == 0, err.decode()[-3000:]
    finally:
        writer.kill()
        server.kill()
        server.wait()
    server = _start_server(home, port)
    try:
        lines = [line.split() for line in acked.read_text().splitlines()]
        run_id = lines[0][0]
        with Client(url) as client:
            stored = set(client.get_metric_history(run_id, "acked").steps)
        acknowledged = {int(step) for _, step in lines}
        assert before_restart >= 100
        assert acknowledged <= stored
        assert acknowledged == set(range(400))
    finally:
        server.kill()
        server.wait()


def test_an_outage_longer_than_the_retry_window_keeps_writes_buffered(
    sqlite_live_server: LiveServer,
) -> None:
    proxy = _FlakyProxy(sqlite_live_server.url)
    try:
        with Client(proxy.url, flush_interval=0.01, retry_for=0.3) as client:
            run = client.start_run("e", capture=False)
            run.flush()
            proxy.fail = 10**6  # the server "goes away": every request now gets 503
            for step in range(50):
                run.log_metric("m", float(step), step=step)
            run.end(wait=False)
            time.sleep(1.5)  # several retry windows pass; nothing may be dropped meanwhile
            proxy.fail = 0  # ... and it comes back
            client.flush(timeout=60)
            assert client.get_run(run.id).status == "FINISHED"
            assert client.get_metric_history(run.id, "m").steps == list(range(50))
    finally:
        proxy.close()


def test_runs_left_open_end_at_exit_failed_after_a_crash(tmp_path: Path) -> None:
    home = tmp_path / ".plimsoll"
    script = tmp_path / "script.py"
    script.write_text(
        "import sys, plimsoll as pl\n"
        "ok = pl.start_run('exit', name='clean', capture=False)\n"
        "ok.log_metric('m', 1.0)\n"
        "ok.end()\n"
        "left = pl.start_run('exit', name='left-open', capture=False)\n"
        "left.log_metric('m', 2.0)\n"
        "if sys.argv[1] == 'crash':\n"
        "    raise SystemError('boom')\n"
    )
    for mode in ("clean", "crash"):
        done = subprocess.run(
            [sys.executable, str(script), mode],
            env=_env(PLIMSOLL_HOME=str(home)),
            capture_output=True,
            timeout=120,
        )
        assert (done.returncode != 0) == (mode == "crash"), done.stderr.decode()[-2000:]
    with Client(settings=Settings(home=home)) as client:
        left = [r for r in client.search_runs("exit") if r.name == "left-open"]
    assert sorted(r.status for r in left) == ["FAILED", "FINISHED"]
    assert all(r.metrics == {"m": 2.0} for r in left)

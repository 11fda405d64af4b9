"""Writes a process could not deliver are never silently lost: a process that ends (or is killed)
while the server is away leaves them in its spool, and the next process that logs to that server,
or `plimsoll sync`, sends them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from plimsoll.cli.main import app
from plimsoll.client import Client
from plimsoll.core.config import Settings
from plimsoll.core.errors import InvalidParameter
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

WORKER = Path(__file__).with_name("spool_worker.py")
POINTS = 50


class _Server:
    """A real server that can go away and come back on the same port."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.live: LiveServer | None = LiveServer(platform)
        self.port = self.live.port
        self.url = self.live.url

    def stop(self) -> None:
        assert self.live is not None
        self.live.stop()
        self.live = None

    def start(self) -> None:
        self.live = LiveServer(self.platform, port=self.port)


@pytest.fixture
def server(platform: Platform) -> Iterator[_Server]:
    made = _Server(platform)
    try:
        yield made
    finally:
        if made.live is not None:
            made.live.stop()


def _env(spool: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLIMSOLL_")}
    env.update(PLIMSOLL_SPOOL_DIR=str(spool), PLIMSOLL_EXIT_TIMEOUT="1", **extra)
    return env


def cli(*args: str) -> Any:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert "Traceback" not in result.output, result.output
    return result


def _spool_files(spool: Path) -> list[Path]:
    return sorted(spool.glob("*/*.jsonl"))


def _log_while_the_server_is_away(
    server: _Server, spool: Path, folder: Path, mode: str
) -> subprocess.Popen[str]:
    """Start the worker, take the server away once its run has started, and let it log."""
    worker = subprocess.Popen(
        [sys.executable, str(WORKER), server.url, str(folder), mode],
        env=_env(spool),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert worker.stdout is not None
    assert worker.stdout.readline().strip() == "ready", worker.stderr.read() if worker.stderr else ""
    server.stop()
    (folder / "go").touch()
    assert worker.stdout.readline().strip() == "logged"
    return worker


def _check_delivered(server: _Server, run_id: str) -> None:
    with Client(server.url) as reader:
        run = reader.get_run(run_id)
        assert run.status == "FINISHED"
        assert run.params == {"lr": "0.1"} and run.tags["phase"] == "offline"
        history = reader.get_metric_history(run_id, "loss")
        assert history.steps == list(range(POINTS))  # each point once
        assert [a.path for a in reader.list_artifacts(run_id)] == ["weights.bin"]


def _next_process_logs(server: _Server, spool: Path) -> None:
    script = "import plimsoll as pl\nwith pl.start_run('next', capture=False) as run:\n    run.log_metric('m', 1.0)\n"
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=_env(spool, PLIMSOLL_URL=server.url),
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]


def test_a_process_that_ends_while_the_server_is_away_leaves_its_writes_to_the_next(
    server: _Server, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    worker = _log_while_the_server_is_away(server, spool, tmp_path, "exit")
    _, err = worker.communicate(timeout=120)
    assert worker.returncode == 0, err[-3000:]
    assert "plimsoll sync" in err  # it said where its writes went
    [data] = _spool_files(spool)
    assert data.stat().st_mode & 0o777 == 0o600 and data.parent.stat().st_mode & 0o777 == 0o700
    assert all(f.stat().st_mode & 0o777 == 0o600 for f in data.with_suffix(".files").iterdir())
    server.start()
    _next_process_logs(server, spool)
    _check_delivered(server, (tmp_path / "run_id").read_text())
    assert _spool_files(spool) == []


def test_the_spool_settings() -> None:
    given = Settings.from_env({"PLIMSOLL_SPOOL_DIR": "/srv/spool", "PLIMSOLL_EXIT_TIMEOUT": "2.5"})
    assert given.resolved_spool_dir == Path("/srv/spool") and given.exit_timeout == 2.5
    assert Settings.from_env({}).resolved_spool_dir == Path.home() / ".plimsoll" / "spool"
    with pytest.raises(InvalidParameter, match="PLIMSOLL_EXIT_TIMEOUT"):
        Settings.from_env({"PLIMSOLL_EXIT_TIMEOUT": "soon"})


def _spooled_writes_of(spool: Path, run_id: str) -> list[dict[str, object]]:
    writes = []
    for data in _spool_files(spool):
        try:
            lines = data.read_bytes().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            writes += [w for w in orjson.loads(line)["writes"] if w["run_id"] == run_id]
    return writes


def test_a_process_killed_during_an_outage_leaves_its_writes_to_the_next(
    server: _Server, tmp_path: Path
) -> None:
    spool = tmp_path / "spool"
    worker = _log_while_the_server_is_away(server, spool, tmp_path, "hang")
    run_id = (tmp_path / "run_id").read_text()
    try:
        # While it retries, the process keeps what it holds in its spool: wait until the end of
        # the run is there, then kill it without a chance to do anything more.
        deadline = time.monotonic() + 60
        while not any("end" in w for w in _spooled_writes_of(spool, run_id)):
            assert time.monotonic() < deadline, "the spool never held the run's end"
            time.sleep(0.1)
        os.kill(worker.pid, signal.SIGKILL)
    finally:
        worker.kill()
        worker.communicate()
    server.start()
    _next_process_logs(server, spool)
    _check_delivered(server, run_id)
    assert _spool_files(spool) == []


def test_plimsoll_sync_sends_the_spool_by_hand(
    server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = tmp_path / "spool"
    worker = _log_while_the_server_is_away(server, spool, tmp_path, "exit")
    worker.communicate(timeout=120)
    server.start()
    monkeypatch.setenv("PLIMSOLL_SPOOL_DIR", str(spool))
    result = cli("sync", "--url", server.url, "--json")
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert report["destination"] == server.url and report["files"] == 1
    assert report["metrics"] == POINTS and report["artifacts"] == 1 and report["failures"] == []
    _check_delivered(server, (tmp_path / "run_id").read_text())
    assert _spool_files(spool) == []
    again = cli("sync", "--url", server.url)  # nothing left: says so
    assert again.exit_code == 0 and "sent 0 batches from 0 spool files" in again.stdout


def test_plimsoll_sync_names_what_the_server_refused(
    server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spool = tmp_path / "spool"
    worker = _log_while_the_server_is_away(server, spool, tmp_path, "exit")
    worker.communicate(timeout=120)
    run_id = (tmp_path / "run_id").read_text()
    server.platform.tracking.delete_run(run_id, actor="someone")  # meanwhile: no more writes to it
    server.start()
    monkeypatch.setenv("PLIMSOLL_SPOOL_DIR", str(spool))
    result = cli("sync", "--url", server.url, "--json")
    assert result.exit_code == 4  # a conflict
    failures = orjson.loads(result.stdout)["failures"]
    assert failures and {f["run_id"] for f in failures} == {run_id}
    assert {f["what"] for f in failures} >= {"metrics", "params", "tags"}
    assert _spool_files(spool) == []  # reported, not kept to fail again

"""What the job tests share besides fixtures (imported by name; conftest modules are not)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from plimsoll.core.jobs import JobService

HERE = Path(__file__).resolve().parent
WORKER_SCRIPT = HERE / "worker_process.py"
T0 = 1_800_000_000_000  # a fixed "now" in ms, on a whole hour


class ManualClock:
    def __init__(self, start_ms: int = T0) -> None:
        self.now = start_ms

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)


def wait_for(condition: Callable[[], bool], *, timeout_s: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s} s")
        time.sleep(0.02)


class WorkerProcesses:
    """Worker processes, each in a session of its own so that teardown kills all it started."""

    def __init__(self, url: str, logs: Path) -> None:
        self.url = url
        self.logs = logs
        self.processes: list[subprocess.Popen[str]] = []

    def start(self, count: int, *, lease_s: float) -> list[subprocess.Popen[str]]:
        started = []
        for _ in range(count):
            log = (self.logs / f"worker-{len(self.processes)}.log").open("w")
            process = subprocess.Popen(
                [sys.executable, str(WORKER_SCRIPT), self.url, str(lease_s)],
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                start_new_session=True,
            )
            log.close()
            self.processes.append(process)
            started.append(process)
        for process in started:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line.startswith("ready"), f"worker {process.pid} did not start: {line!r}"
        return started

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=15)
            # Whatever is left in its session (the worker, a job's child process) goes.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
            if process.stdout is not None:
                process.stdout.close()


def job_states(jobs: JobService) -> Counter[str]:
    with jobs.db.read() as conn:
        rows = conn.execute(sa.text("SELECT state, count(*) FROM jobs GROUP BY state"))
        return Counter({state: count for state, count in rows})


def runs_by_job(folder: Path, prefix: str = "") -> dict[str, list[str]]:
    """Files the handlers left, by job id: one per run."""
    runs: dict[str, list[str]] = {}
    for path in folder.iterdir():
        if path.name.startswith(prefix) and path.is_file():
            job_id = path.name.removeprefix(prefix).split(".")[0]
            runs.setdefault(job_id, []).append(path.name)
    return runs


def most_at_once(folder: Path) -> int:
    """The largest number of runs whose [start, end] intervals (written by `hold_briefly`) overlap."""
    events: list[tuple[float, int]] = []
    for path in folder.iterdir():
        started, ended = (float(value) for value in path.read_text().split())
        events += [(started, 1), (ended, -1)]
    running = peak = 0
    for _, change in sorted(events, key=lambda event: (event[0], event[1])):  # ends before starts
        running += change
        peak = max(peak, running)
    return peak

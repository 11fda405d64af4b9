"""Several worker processes on one PostgreSQL database: no job lost or run twice, a killed
worker's job re-run elsewhere after its lease expires, a cron tick fired once among replicas."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from worker_process import build_registry

from conftest import HERE, wait_for
from plimsoll.core.db import Database
from plimsoll.core.jobs import JobService, JobState

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

WORKER_SCRIPT = HERE / "worker_process.py"


@pytest.fixture
def pg_jobs(postgres_url: str) -> Iterator[JobService]:
    db = Database(postgres_url)
    with db.write() as conn:
        conn.execute(sa.text("DELETE FROM jobs"))
        conn.execute(sa.text("DELETE FROM job_schedules"))
    try:
        yield JobService(db, build_registry())
    finally:
        db.dispose()


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


@pytest.fixture
def workers(postgres_url: str, tmp_path: Path) -> Iterator[WorkerProcesses]:
    logs = tmp_path / "logs"
    logs.mkdir()
    processes = WorkerProcesses(postgres_url, logs)
    try:
        yield processes
    finally:
        processes.stop_all()


def _states(jobs: JobService) -> Counter[str]:
    with jobs.db.read() as conn:
        rows = conn.execute(sa.text("SELECT state, count(*) FROM jobs GROUP BY state"))
        return Counter({state: count for state, count in rows})


def _runs_by_job(folder: Path, prefix: str = "") -> dict[str, list[str]]:
    """Files the handlers left, by job id: one per run."""
    runs: dict[str, list[str]] = {}
    for path in folder.iterdir():
        if path.name.startswith(prefix) and path.is_file():
            job_id = path.name.removeprefix(prefix).split(".")[0]
            runs.setdefault(job_id, []).append(path.name)
    return runs


def test_three_workers_run_a_thousand_jobs_once_each(
    pg_jobs: JobService, workers: WorkerProcesses, tmp_path: Path
) -> None:
    record = tmp_path / "runs"
    record.mkdir()
    workers.start(3, lease_s=30)
    ids = [pg_jobs.enqueue("record", {"dir": str(record), "n": n}).id for n in range(1000)]
    wait_for(lambda: _states(pg_jobs) == {"succeeded": 1000}, timeout_s=120, what="1000 jobs succeeded")

    runs = _runs_by_job(record)
    assert set(runs) == set(ids), "a job was lost"
    twice = {job_id: names for job_id, names in runs.items() if len(names) != 1}
    assert twice == {}, "a job ran more than once"
    with pg_jobs.db.read() as conn:
        attempts = conn.execute(sa.text("SELECT DISTINCT attempts FROM jobs")).scalars().all()
    assert attempts == [1]
    pids = {name.split(".")[2] for names in runs.values() for name in names}
    assert len(pids) >= 2, "the work was not shared"


def test_job_of_a_killed_worker_is_rerun_after_its_lease(
    pg_jobs: JobService, workers: WorkerProcesses, tmp_path: Path
) -> None:
    record = tmp_path / "runs"
    record.mkdir()
    first, second = workers.start(2, lease_s=2)
    job = pg_jobs.enqueue("block", {"dir": str(record)})
    wait_for(lambda: bool(_runs_by_job(record, "started.")), what="the job started")
    [started] = next(iter(_runs_by_job(record, "started.").values()))
    holder = next(p for p in (first, second) if started.endswith(f".{p.pid}"))
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=15)
    (record / "release").write_text("")

    wait_for(lambda: pg_jobs.get(job.id).state == JobState.SUCCEEDED, timeout_s=60, what="re-run")
    done = pg_jobs.get(job.id)
    assert done.attempts == 2
    assert "stopped heartbeating" in (done.last_error or "")
    [survivor] = [p for p in (first, second) if p is not holder]
    assert done.result == {"pid": survivor.pid}
    assert sorted(_runs_by_job(record, "done.")[job.id]) == [f"done.{job.id}.2.{survivor.pid}"]


def test_cron_fires_once_per_tick_among_three_workers(
    pg_jobs: JobService, workers: WorkerProcesses, tmp_path: Path
) -> None:
    record = tmp_path / "runs"
    record.mkdir()
    workers.start(3, lease_s=30)
    begun = time.time()
    pg_jobs.upsert_schedule("every-second", "* * * * * */1", "tick", {"dir": str(record)})
    wait_for(lambda: sum(_states(pg_jobs).values()) >= 5, timeout_s=60, what="five ticks")
    pg_jobs.delete_schedule("every-second")
    elapsed = time.time() - begun
    wait_for(lambda: set(_states(pg_jobs)) == {"succeeded"}, timeout_s=60, what="ticks done")

    with pg_jobs.db.read() as conn:
        rows = conn.execute(sa.text("SELECT id, dedupe_key FROM jobs")).all()
    ticks = sorted(int(key.rsplit(":", 1)[1]) for _, key in rows)
    assert len(ticks) == len(set(ticks)), "a tick fired twice"
    assert all(tick % 1000 == 0 for tick in ticks)
    assert len(ticks) <= elapsed + 2, "more jobs than ticks"
    runs = _runs_by_job(record)
    assert {job_id: len(names) for job_id, names in runs.items()} == {job_id: 1 for job_id, _ in rows}

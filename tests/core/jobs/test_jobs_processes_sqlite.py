"""Several worker processes on one SQLite file: BEGIN IMMEDIATE makes their claims take turns,
so no job is lost or run twice, and a per-key limit holds."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from jobs_support import WorkerProcesses, job_states, most_at_once, runs_by_job, wait_for
from worker_process import build_registry

from plimsoll.core.db import Database
from plimsoll.core.jobs import JobService
from plimsoll.platform import schema_of

pytestmark = pytest.mark.slow


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    db = Database(url)
    db.migrate(schema_of())
    db.dispose()
    return url


@pytest.fixture
def file_jobs(sqlite_url: str) -> Iterator[JobService]:
    db = Database(sqlite_url)
    try:
        yield JobService(db, build_registry())
    finally:
        db.dispose()


@pytest.fixture
def workers(sqlite_url: str, tmp_path: Path) -> Iterator[WorkerProcesses]:
    logs = tmp_path / "logs"
    logs.mkdir()
    processes = WorkerProcesses(sqlite_url, logs)
    try:
        yield processes
    finally:
        processes.stop_all()


def test_three_workers_on_one_sqlite_file(
    file_jobs: JobService, workers: WorkerProcesses, tmp_path: Path
) -> None:
    record = tmp_path / "runs"
    record.mkdir()
    workers.start(3, lease_s=30)
    ids = [file_jobs.enqueue("record", {"dir": str(record), "n": n}).id for n in range(300)]
    wait_for(lambda: job_states(file_jobs) == {"succeeded": 300}, timeout_s=120, what="300 jobs succeeded")
    runs = runs_by_job(record)
    assert set(runs) == set(ids)
    assert all(len(names) == 1 for names in runs.values())


def test_per_key_limit_on_one_sqlite_file(
    file_jobs: JobService, workers: WorkerProcesses, tmp_path: Path
) -> None:
    record = tmp_path / "runs"
    record.mkdir()
    workers.start(3, lease_s=30)
    for _ in range(20):
        file_jobs.enqueue("hold", {"dir": str(record)}, concurrency_key="gpu-0", concurrency_limit=2)
    wait_for(lambda: job_states(file_jobs) == {"succeeded": 20}, timeout_s=120, what="20 keyed jobs done")
    assert most_at_once(record) <= 2

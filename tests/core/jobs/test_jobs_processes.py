"""Several worker processes on one PostgreSQL database: no job lost or run twice, a killed
worker's job re-run elsewhere after its lease expires, a cron tick fired once among replicas."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from jobs_support import WorkerProcesses, job_states, most_at_once, runs_by_job, wait_for
from worker_process import build_registry

from plimsoll.core.db import Database
from plimsoll.core.jobs import JobService, JobState

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


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


@pytest.fixture
def workers(postgres_url: str, tmp_path: Path) -> Iterator[WorkerProcesses]:
    logs = tmp_path / "logs"
    logs.mkdir()
    processes = WorkerProcesses(postgres_url, logs)
    try:
        yield processes
    finally:
        processes.stop_all()


def test_three_workers_run_a_thousand_jobs_once_each(
    pg_jobs: JobService, workers: WorkerProcesses, tmp_path: Path
) -> None:
    record = tmp_path / "runs"
    record.mkdir()
    workers.start(3, lease_s=30)
    ids = [pg_jobs.enqueue("record", {"dir": str(record), "n": n}).id for n in range(1000)]
    wait_for(lambda: job_states(pg_jobs) == {"succeeded": 1000}, timeout_s=120, what="1000 jobs succeeded")

    runs = runs_by_job(record)
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
    wait_for(lambda: bool(runs_by_job(record, "started.")), what="the job started")
    [started] = next(iter(runs_by_job(record, "started.").values()))
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
    assert sorted(runs_by_job(record, "done.")[job.id]) == [f"done.{job.id}.2.{survivor.pid}"]


def test_cron_fires_once_per_tick_among_three_workers(
    pg_jobs: JobService, workers: WorkerProcesses, tmp_path: Path
) -> None:
    record = tmp_path / "runs"
    record.mkdir()
    workers.start(3, lease_s=30)
    begun = time.time()
    pg_jobs.upsert_schedule("every-second", "* * * * * */1", "tick", {"dir": str(record)})
    wait_for(lambda: sum(job_states(pg_jobs).values()) >= 5, timeout_s=60, what="five ticks")
    pg_jobs.delete_schedule("every-second")
    elapsed = time.time() - begun
    wait_for(lambda: set(job_states(pg_jobs)) == {"succeeded"}, timeout_s=60, what="ticks done")

    with pg_jobs.db.read() as conn:
        rows = conn.execute(sa.text("SELECT id, dedupe_key FROM jobs")).all()
    ticks = sorted(int(key.rsplit(":", 1)[1]) for _, key in rows)
    assert len(ticks) == len(set(ticks)), "a tick fired twice"
    assert all(tick % 1000 == 0 for tick in ticks)
    assert len(ticks) <= elapsed + 2, "more jobs than ticks"
    runs = runs_by_job(record)
    assert {job_id: len(names) for job_id, names in runs.items()} == {job_id: 1 for job_id, _ in rows}


def test_per_key_limit_holds_across_workers(
    pg_jobs: JobService, workers: WorkerProcesses, tmp_path: Path
) -> None:
    record = tmp_path / "runs"
    record.mkdir()
    workers.start(3, lease_s=30)
    for _ in range(30):
        pg_jobs.enqueue("hold", {"dir": str(record)}, concurrency_key="gpu-0", concurrency_limit=2)
    wait_for(lambda: job_states(pg_jobs) == {"succeeded": 30}, timeout_s=120, what="30 keyed jobs done")
    assert len(list(record.iterdir())) == 30
    assert most_at_once(record) <= 2

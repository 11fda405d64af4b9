"""An in-process Worker on both backends: handlers run, fail, time out, are cancelled, stop."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from jobs_support import wait_for

from plimsoll.core.jobs import HandlerRegistry, JobContext, JobService, JobState, Worker


@pytest.fixture
def worker(live_jobs: JobService) -> Iterator[Worker]:
    worker = Worker(live_jobs, threads=3, poll_interval_s=0.05, lease_s=5).start()
    try:
        yield worker
    finally:
        worker.stop(timeout_s=5)


def _state(jobs: JobService, job_id: str) -> JobState:
    return jobs.get(job_id).state


def test_worker_runs_jobs(live_jobs: JobService, worker: Worker) -> None:
    ids = [live_jobs.enqueue("echo", {"n": n}).id for n in range(20)]
    wait_for(lambda: all(_state(live_jobs, i) == JobState.SUCCEEDED for i in ids), what="20 jobs done")
    assert [live_jobs.get(i).result for i in ids] == [{"n": n} for n in range(20)]
    assert all(live_jobs.get(i).attempts == 1 for i in ids)


def test_local_enqueue_wakes_an_idle_worker(live_jobs: JobService) -> None:
    # A poll interval far longer than the bound below: only the wake-up can get the job done.
    with Worker(live_jobs, threads=1, poll_interval_s=300, lease_s=5):
        job = live_jobs.enqueue("echo", 1)
        wait_for(lambda: _state(live_jobs, job.id) == JobState.SUCCEEDED, timeout_s=30, what="woken")


def test_failing_handler_is_retried_then_dead(live_jobs: JobService, worker: Worker) -> None:
    job = live_jobs.enqueue("fail", None)  # max_attempts 2
    wait_for(lambda: _state(live_jobs, job.id) == JobState.DEAD, what="dead letter")
    dead = live_jobs.get(job.id)
    assert dead.attempts == 2
    assert "ValueError: this handler always fails" in (dead.last_error or "")


def test_handler_past_its_timeout_is_failed_and_told(live_jobs: JobService, worker: Worker) -> None:
    job = live_jobs.enqueue("wait_cancel", None, timeout_s=0.3)  # max_attempts 2
    wait_for(lambda: _state(live_jobs, job.id) == JobState.DEAD, what="timed out twice")
    dead = live_jobs.get(job.id)
    assert dead.attempts == 2 and "timed out after 0.3 s" in (dead.last_error or "")
    wait_for(lambda: not worker.running_job_ids(), what="handlers stopped")


def test_cancel_running_job_stops_its_handler(live_jobs: JobService, worker: Worker) -> None:
    job = live_jobs.enqueue("wait_cancel", None)
    wait_for(lambda: _state(live_jobs, job.id) == JobState.RUNNING, what="running")
    live_jobs.cancel(job.id)
    wait_for(lambda: _state(live_jobs, job.id) == JobState.CANCELLED, what="cancelled")
    wait_for(lambda: not worker.running_job_ids(), what="handler stopped")
    assert live_jobs.get(job.id).attempts == 1


def test_heartbeat_and_progress_from_the_handler(live_jobs: JobService) -> None:
    release = threading.Event()
    seen: list[Any] = []

    def stepper(payload: Any, context: JobContext) -> str:
        context.progress({"step": 1})
        context.heartbeat()
        seen.append(context.cancelled)
        release.wait(30)
        return "done"

    live_jobs.registry.register("stepper", stepper)
    with Worker(live_jobs, threads=1, poll_interval_s=0.05, lease_s=0.6):  # renewals every 0.2 s
        job = live_jobs.enqueue("stepper", None)
        wait_for(lambda: live_jobs.get(job.id).progress == {"step": 1}, what="progress saved")
        first = live_jobs.get(job.id).lease_expires_at or 0
        wait_for(lambda: (live_jobs.get(job.id).lease_expires_at or 0) > first, what="lease renewed")
        release.set()
        wait_for(lambda: _state(live_jobs, job.id) == JobState.SUCCEEDED, what="done")
    assert seen == [False]


def test_stop_releases_jobs_still_running(live_jobs: JobService) -> None:
    worker = Worker(live_jobs, threads=1, poll_interval_s=0.05, lease_s=5).start()
    try:
        job = live_jobs.enqueue("sleepy", {"sleep_s": 3})
        wait_for(lambda: _state(live_jobs, job.id) == JobState.RUNNING, what="running")
    finally:
        worker.stop(timeout_s=0.2)
    released = live_jobs.get(job.id)
    assert (released.state, released.attempts, released.lease_owner) == (JobState.QUEUED, 0, None)


def test_stop_waits_for_handlers_that_finish_in_time(live_jobs: JobService) -> None:
    started = threading.Event()

    def brief(payload: Any, context: JobContext) -> str:
        started.set()
        time.sleep(0.3)
        return "done"

    # A claimed job whose handler has not started when the worker stops is released, not run:
    # wait for the handler itself, not only for the claim (the job's RUNNING state).
    live_jobs.registry.register("brief", brief)
    worker = Worker(live_jobs, threads=1, poll_interval_s=0.05, lease_s=5).start()
    try:
        job = live_jobs.enqueue("brief", None)
        assert started.wait(30)
    finally:
        worker.stop(timeout_s=30)
    assert _state(live_jobs, job.id) == JobState.SUCCEEDED


def test_cpu_bound_job_runs_in_a_child_process(live_jobs: JobService, worker: Worker) -> None:
    job = live_jobs.enqueue("cpu", None)
    wait_for(lambda: _state(live_jobs, job.id) == JobState.SUCCEEDED, what="cpu job done")
    done = live_jobs.get(job.id)
    assert done.result["pid"] != os.getpid()
    assert done.result["total"] == sum(i * i for i in range(200_000))


def test_cpu_bound_job_is_killed_at_its_timeout(live_jobs: JobService) -> None:
    live_jobs.registry.register(
        "cpu_sleepy", "job_handlers:ignore_cancel", cpu_bound=True, max_attempts=1, timeout_s=1.0
    )
    with Worker(live_jobs, threads=1, poll_interval_s=0.05, lease_s=5) as worker:
        job = live_jobs.enqueue("cpu_sleepy", {"sleep_s": 60})
        wait_for(lambda: _state(live_jobs, job.id) == JobState.DEAD, what="timed out")
        # The child ignores cancellation: only killing it frees the slot this soon.
        wait_for(lambda: not worker.running_job_ids(), timeout_s=20, what="child killed, slot free")


def test_cpu_bound_needs_a_dotted_path(registry: HandlerRegistry) -> None:
    from plimsoll.core.errors import InvalidParameter

    with pytest.raises(InvalidParameter, match="dotted path"):
        registry.register("bad", lambda payload, context: None, cpu_bound=True)

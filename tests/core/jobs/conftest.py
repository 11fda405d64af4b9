"""Helpers for the job tests: a clock moved by hand, a registry of test handlers, and a way to
wait for a condition with a generous bound (liveness only, never a timing assertion)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from jobs_support import ManualClock

from plimsoll.core.db import Database
from plimsoll.core.jobs import HandlerRegistry, JobService

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))  # job_handlers, by dotted path, here and in child processes


def echo(payload: object, context: object) -> object:
    return payload


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def registry() -> HandlerRegistry:
    registry = HandlerRegistry()
    registry.register("echo", echo, max_attempts=3, backoff_base_s=1.0, backoff_max_s=60.0)
    registry.register("fail", "job_handlers:fail_always", max_attempts=2, backoff_base_s=0.01)
    registry.register(
        "wait_cancel", "job_handlers:sleep_until_cancelled", max_attempts=2, backoff_base_s=0.01
    )
    registry.register("sleepy", "job_handlers:ignore_cancel", max_attempts=1)
    registry.register("one_at_a_time", echo, concurrency=1)
    registry.register("cpu", "job_handlers:report_pid", cpu_bound=True)
    return registry


@pytest.fixture
def jobs(db: Database, registry: HandlerRegistry, clock: ManualClock) -> JobService:
    """A service on a hand-moved clock, for the rules."""
    return JobService(db, registry, clock=clock, seed=7)


@pytest.fixture
def live_jobs(db: Database, registry: HandlerRegistry) -> Iterator[JobService]:
    """A service on the real clock, for workers."""
    yield JobService(db, registry)

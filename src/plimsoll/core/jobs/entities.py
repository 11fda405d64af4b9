"""What the job engine hands out: frozen values, no I/O.

A job's life:

    queued ──claim──▶ running ──ok──▶ succeeded
      ▲  ▲              │ │
      │  └─error/timeout┘ └─cancel requested, handler stopped──▶ cancelled
      │   (attempts left: queued again with run_after = now + backoff;
      │    none left: dead)
      └──────── retry(job_id) from dead / cancelled ─────────────────────

"Failed, will retry" is not a state of its own: it is `queued` with `run_after` in the future and
`last_error` set. Times are milliseconds since the epoch (UTC), as everywhere in Plimsoll.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    DEAD = "dead"  # every attempt failed: kept, visible, re-queued only by `retry`
    CANCELLED = "cancelled"


FINISHED_STATES = frozenset({JobState.SUCCEEDED, JobState.DEAD, JobState.CANCELLED})


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    payload: Any
    state: JobState
    attempts: int  # attempts started since it was enqueued (or last re-queued by `retry`)
    max_attempts: int
    run_after: int  # not claimed before this time
    timeout_ms: int
    concurrency_key: str | None
    concurrency_limit: int | None  # at most this many running jobs share `concurrency_key`
    dedupe_key: str | None
    lease_owner: str | None  # the worker running it
    lease_expires_at: int | None
    heartbeat_at: int | None
    cancel_requested: bool
    progress: Any
    result: Any
    last_error: str | None
    created_at: int
    started_at: int | None
    finished_at: int | None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    def to_dict(self) -> dict[str, Any]:
        """Every field, JSON-ready: the state as its value, times in ms since the epoch."""
        body = {name: getattr(self, name) for name in _JOB_FIELDS}
        body["state"] = self.state.value
        return body

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Job:
        """The inverse of `to_dict` (what the HTTP client rebuilds a job from)."""
        values = {name: body[name] for name in _JOB_FIELDS}
        values["state"] = JobState(values["state"])
        return cls(**values)


_JOB_FIELDS = tuple(f.name for f in fields(Job))


@dataclass(frozen=True)
class JobPage:
    jobs: list[Job]
    next_page_token: str | None  # None on the last page


@dataclass(frozen=True)
class Claim:
    """A job a worker holds: `lease_token` fences every later write about this attempt, so a
    worker that lost its lease (paused, partitioned) can no longer complete or fail the job."""

    job: Job
    lease_token: str


@dataclass(frozen=True)
class Schedule:
    name: str
    cron: str  # 5 fields, or 6 with seconds last (croniter)
    kind: str
    payload: Any
    enabled: bool
    next_tick_at: int  # the next tick to fire, in ms
    last_tick_at: int | None  # the last tick fired
    created_at: int
    updated_at: int

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _SCHEDULE_FIELDS}

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Schedule:
        return cls(**{name: body[name] for name in _SCHEDULE_FIELDS})


_SCHEDULE_FIELDS = tuple(f.name for f in fields(Schedule))

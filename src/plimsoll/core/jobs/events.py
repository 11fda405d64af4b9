"""The events the job engine publishes."""

from __future__ import annotations

from pydantic import BaseModel

from plimsoll.core.outbox import EventType

JOB_DEAD = "job.dead_lettered"


class JobDeadLettered(BaseModel):
    job_id: str
    kind: str
    attempts: int
    max_attempts: int
    error: str  # the last attempt's error (cut as the job keeps it)
    dead_at: int  # ms since the epoch


EVENTS = (
    EventType(
        JOB_DEAD,
        "A background job failed its last attempt (or its worker died during it) and is dead: kept "
        "and visible, run again only by `plimsoll jobs retry` (docs/jobs.md).",
        JobDeadLettered,
    ),
)

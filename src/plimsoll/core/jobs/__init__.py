"""Durable background jobs in the metadata database (SQLite or PostgreSQL).

    registry = HandlerRegistry()
    registry.register("reindex", "plimsoll.search.jobs:reindex", max_attempts=3, timeout_s=600)
    jobs = JobService(db, registry)
    job = jobs.enqueue("reindex", {"project": "default"}, dedupe_key="reindex:default")
    with Worker(jobs, threads=2):
        ...

Modules: entities (values), store (tables and SQL), service (rules and the API), scheduling and
cron (cron schedules), registry (handlers by kind), worker, context (what a handler gets), child
(CPU-bound handlers in a child process).
"""

from typing import TYPE_CHECKING

from plimsoll.core.lazy import lazy_exports

if TYPE_CHECKING:
    from plimsoll.core.jobs.context import JobCancelled, JobContext
    from plimsoll.core.jobs.entities import Claim, Job, JobPage, JobState, Schedule
    from plimsoll.core.jobs.registry import HandlerRegistry, HandlerSpec
    from plimsoll.core.jobs.service import JobService
    from plimsoll.core.jobs.worker import Worker

__getattr__ = lazy_exports(
    __name__,
    {
        "Claim": "plimsoll.core.jobs.entities",
        "HandlerRegistry": "plimsoll.core.jobs.registry",
        "HandlerSpec": "plimsoll.core.jobs.registry",
        "Job": "plimsoll.core.jobs.entities",
        "JobCancelled": "plimsoll.core.jobs.context",
        "JobContext": "plimsoll.core.jobs.context",
        "JobPage": "plimsoll.core.jobs.entities",
        "JobService": "plimsoll.core.jobs.service",
        "JobState": "plimsoll.core.jobs.entities",
        "Schedule": "plimsoll.core.jobs.entities",
        "Worker": "plimsoll.core.jobs.worker",
    },
)

__all__ = [
    "Claim",
    "HandlerRegistry",
    "HandlerSpec",
    "Job",
    "JobCancelled",
    "JobContext",
    "JobPage",
    "JobService",
    "JobState",
    "Schedule",
    "Worker",
]

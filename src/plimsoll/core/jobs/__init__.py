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

from plimsoll.core.jobs.context import JobCancelled, JobContext
from plimsoll.core.jobs.entities import Claim, Job, JobPage, JobState, Schedule
from plimsoll.core.jobs.registry import HandlerRegistry, HandlerSpec
from plimsoll.core.jobs.service import JobService
from plimsoll.core.jobs.worker import Worker

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

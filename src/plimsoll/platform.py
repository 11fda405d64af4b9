"""The composition root: one object owns the database, the blob store, the event bus and every
capability's service. The server, the embedded SDK, the CLI and the tests all build one of these.

    platform = Platform(store_url="sqlite:///p.db").startup()      # every capability
    platform.tracking.get_run(run_id)                               # a capability's service by name
    platform.service("tracking")                                    # the same
    Platform(capabilities=[*ALL, toy.CAPABILITY])                  # one more, e.g. in a test
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from plimsoll.capabilities import ALL, RESERVED_EVENTS
from plimsoll.core.audit.keys import Keyring
from plimsoll.core.audit.service import AuditService
from plimsoll.core.auth.service import AuthService
from plimsoll.core.auth.sessions import HOUR_MS, MINUTE_MS, SessionPolicy, SignInService
from plimsoll.core.blobs import BlobStore
from plimsoll.core.capability import Capability, Parts, check_unique, load
from plimsoll.core.config import Settings
from plimsoll.core.db import Database
from plimsoll.core.jobs import HandlerRegistry, JobService, Worker
from plimsoll.core.outbox import Backoff, ConsumerRunner, EventCatalog, EventType, Outbox
from plimsoll.core.projects.service import ProjectService
from plimsoll.core.schema import Schema
from plimsoll.maintenance import GC_JOB, GC_SCHEDULE, gc_job


def schema_of(capabilities: Sequence[Capability] = ALL) -> Schema:
    """Every table the capabilities declare, and every migration branch they bring."""
    tables = [table for capability in capabilities if capability.tables for table in load(capability.tables)]
    branches: list[Path] = [capability.migrations for capability in capabilities if capability.migrations]
    return Schema.of(tables, branches)


def event_catalog(capabilities: Sequence[Capability] = ALL) -> EventCatalog:
    """Every event type the capabilities publish, and the names reserved for those to come."""
    catalog = EventCatalog()
    for capability in capabilities:
        if capability.events is not None:
            catalog.register(*load(capability.events))
    for name in RESERVED_EVENTS:
        if name not in catalog:
            catalog.register(EventType(name, "Reserved for a capability not built yet.", {"type": "object"}))
    return catalog


class Platform:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        capabilities: Sequence[Capability] = ALL,
        **overrides: object,
    ) -> None:
        check_unique(capabilities)
        self.capabilities = tuple(capabilities)
        self.settings = (settings or Settings.from_env()).with_overrides(**overrides)
        self.schema = schema_of(self.capabilities)
        self.db = Database(self.settings.resolved_store_url, file_mode=self.settings.file_mode)
        self.blobs = BlobStore.from_url(self.settings.resolved_blobs_url, file_mode=self.settings.file_mode)
        self.catalog = event_catalog(self.capabilities)
        self.outbox = Outbox(self.db, self.catalog)
        # Before anything writes: every audit event is signed with the key it holds.
        self.audit = AuditService(
            self.db, self.outbox, Keyring.load_or_create(self.settings.resolved_audit_key_file)
        )
        self.projects = ProjectService(self.db, self.outbox)
        sign_in = SignInService(
            self.db,
            self.outbox,
            SessionPolicy(
                idle_ms=int(self.settings.session_idle_minutes * MINUTE_MS),
                max_ms=int(self.settings.session_max_hours * HOUR_MS),
            ),
        )
        oidc = self.settings.oidc
        if oidc is not None:
            from plimsoll.core.auth.sso import SingleSignOn  # Authlib, only where single sign-on is on
        self.auth = AuthService(
            self.db,
            self.outbox,
            token_max_days=self.settings.token_max_days,
            sign_in=sign_in,
            sso=None if oidc is None else SingleSignOn(self.db, self.outbox, sign_in, oidc),
        )
        self.jobs = JobService(self.db, HandlerRegistry(), outbox=self.outbox)
        self.services: dict[str, Any] = {
            "audit": self.audit,
            "projects": self.projects,
            "auth": self.auth,
            "jobs": self.jobs,
            "events": self.outbox,
        }
        for capability in self.capabilities:
            if capability.service is not None:
                parts = Parts(
                    self.settings, self.db, self.blobs, self.outbox, self.projects, dict(self.services)
                )
                self.services[capability.name] = load(capability.service)(parts)
        self._register_job_kinds()
        self._started = False
        self._lock = threading.Lock()
        self._background: list[Background] = []

    def service(self, name: str) -> Any:
        """The service of capability `name` (a NotFound-style KeyError names what exists)."""
        try:
            return self.services[name]
        except KeyError:
            raise KeyError(f"no capability {name!r}; these have services: {sorted(self.services)}") from None

    def __getattr__(self, name: str) -> Any:
        # platform.tracking and the like: a capability's service by its name.
        services = self.__dict__.get("services", {})
        if name in services:
            return services[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def _register_job_kinds(self) -> None:
        # The platform's own: garbage collection, daily (docs: plimsoll/maintenance.py).
        self.jobs.registry.register(
            GC_JOB, partial(gc_job, self), max_attempts=3, timeout_s=6 * 3600, concurrency=1
        )
        for capability in self.capabilities:
            service = self.services.get(capability.name)
            for job in capability.jobs:
                handler: Any = job.handler if job.cpu_bound else partial(load(job.handler), service)
                self.jobs.registry.register(
                    job.kind,
                    handler,
                    max_attempts=job.max_attempts,
                    timeout_s=job.timeout_s,
                    concurrency=job.concurrency,
                    cpu_bound=job.cpu_bound,
                    backoff_base_s=job.backoff_base_s,
                    backoff_max_s=job.backoff_max_s,
                )

    def startup(self) -> Platform:
        """Idempotent: migrate the database to head and put the capabilities' schedules in place."""
        with self._lock:
            if not self._started:
                self.db.migrate(self.schema)
                self.audit.adopt_if_unsigned()
                self._schedule_jobs()
                self._started = True
        return self

    def _schedule_jobs(self) -> None:
        existing = {schedule.name: schedule for schedule in self.jobs.list_schedules()}
        if GC_JOB not in existing:
            self.jobs.upsert_schedule(GC_JOB, GC_SCHEDULE, GC_JOB)
        for capability in self.capabilities:
            for job in capability.jobs:
                if job.schedule is None:
                    continue
                held = existing.get(job.kind)
                if held is None or (held.cron, held.kind) != (job.schedule, job.kind):
                    self.jobs.upsert_schedule(job.kind, job.schedule, job.kind)

    def start_background(self, *, threads: int = 2) -> Background:
        """Start this process's share of the background work: a worker that runs the jobs of every
        registered kind (and fires their schedules), and the event consumers the capabilities
        declare. Stop it with `.stop()`."""
        runner = ConsumerRunner(self.outbox)
        for capability in self.capabilities:
            service = self.services.get(capability.name)
            for consumer in capability.consumers:
                handler = getattr(service, consumer.handler)
                prepare = getattr(service, consumer.before_batch) if consumer.before_batch else None
                backoff = consumer.backoff or Backoff()
                if consumer.mode == "work":
                    runner.add_work(
                        consumer.name, handler, types=consumer.types, before_batch=prepare, backoff=backoff
                    )
                else:
                    runner.add_broadcast(
                        consumer.name, handler, types=consumer.types, before_batch=prepare, backoff=backoff
                    )
        worker = Worker(self.jobs, threads=threads).start()
        try:
            background = Background(worker, runner.start())
        except BaseException:
            worker.stop(timeout_s=10)
            raise
        self._background.append(background)
        return background

    def close(self) -> None:
        for background in self._background:
            background.stop()
        self._background.clear()
        if self.auth.sso is not None:
            self.auth.sso.client.close()
        self.outbox.close()
        self.db.dispose()


class Background:
    """The background work one process runs; stopped gracefully, within `timeout_s`."""

    def __init__(self, worker: Worker, consumers: ConsumerRunner) -> None:
        self.worker = worker
        self.consumers = consumers
        self._stopped = False

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop both; stopping again does nothing."""
        if self._stopped:
            return
        self._stopped = True
        self.consumers.stop(timeout=timeout_s)
        self.worker.stop(timeout_s=timeout_s)

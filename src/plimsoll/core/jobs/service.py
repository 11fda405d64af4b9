"""The job engine's rules; what the CLI, the web UI and the API call (and the Worker, for claims).

Claim: one write transaction reaps expired leases, picks due queued jobs of the worker's kinds
(store.py: SKIP LOCKED on PostgreSQL, BEGIN IMMEDIATE on SQLite), checks each per-key limit and
marks the job running with a lease: owner, a fresh `lease_token`, an expiry and `attempts + 1`.

Lease and heartbeat: the worker renews the leases it holds every few seconds; the renewal also
tells it which jobs someone asked to cancel. A job whose lease expired (its worker died or hung)
is reaped by the next claim: its attempt is spent, and it is queued again, or dead when no
attempt is left. Every write about an attempt is fenced by the lease token, so a worker that lost
its lease can never record an outcome over the next attempt's.

Retry: a failed attempt (error or timeout) queues the job again after an exponential backoff
with jitter (base·2^(n-1), at most the kind's maximum, then between half and all of it, so that
jobs failing together do not retry together); after `max_attempts` the job is dead: kept and
visible, re-queued only by `retry(job_id)`, never dropped.

Dead letters: a job that dies is published as a `job.dead_lettered` event in the transaction that
marks it dead (when the service is given the platform's outbox), so that a human hears of it.

Time: every process stamps rows with its own clock (injectable, for tests), so replicas need
clocks kept in step (NTP); a lease (30 s by default) must be much longer than their skew.
"""

from __future__ import annotations

import builtins
import random
import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from plimsoll.core.db import Connection, Database
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.core.ids import is_id, new_id, now_ms
from plimsoll.core.jobs import rules, scheduling, store
from plimsoll.core.jobs.entities import Claim, Job, JobPage, JobState, Schedule
from plimsoll.core.jobs.events import JOB_DEAD
from plimsoll.core.jobs.registry import HandlerRegistry
from plimsoll.core.outbox import NewEvent, Outbox


class JobService:
    def __init__(
        self,
        db: Database,
        registry: HandlerRegistry,
        *,
        clock: Callable[[], int] = now_ms,
        seed: int | None = None,
        outbox: Outbox | None = None,
    ) -> None:
        self.db = db
        self.registry = registry
        self.outbox = outbox  # where a dead job is published (job.dead_lettered)
        self.clock = clock  # ms since the epoch; tests move time by hand
        self._random = random.Random(seed)
        self._listeners: list[Callable[[], None]] = []
        self._listeners_lock = threading.Lock()

    # --- what users call ------------------------------------------------------------------

    def enqueue(
        self,
        kind: str,
        payload: Any = None,
        *,
        delay_s: float = 0.0,
        max_attempts: int | None = None,
        timeout_s: float | None = None,
        concurrency_key: str | None = None,
        concurrency_limit: int | None = None,
        dedupe_key: str | None = None,
    ) -> Job:
        """Queue a job. With a `dedupe_key` already used by a job still stored, nothing new is
        queued and that job is returned: enqueuing one logical job twice makes one job."""
        options = {
            "delay_s": delay_s,
            "max_attempts": max_attempts,
            "timeout_s": timeout_s,
            "concurrency_key": concurrency_key,
            "concurrency_limit": concurrency_limit,
            "dedupe_key": dedupe_key,
        }
        with self.db.write() as conn:
            job_id = self.enqueue_in(conn, kind, payload, **options)
            job = store.get_job(conn, job_id)
        assert job is not None
        self._notify()
        return job

    def enqueue_in(self, conn: Connection, kind: str, payload: Any = None, **options: Any) -> str:
        """`enqueue` (with its keyword options) inside the caller's write transaction, so that a job
        and the change that needs it commit together or not at all; the job's id. Local workers
        are not woken (the job is not committed yet): they find it at their next poll."""
        values = rules.new_job_values(self.registry.get(kind), payload, self.clock(), **options)
        return store.insert_job(conn, values)

    def get(self, job_id: str) -> Job:
        with self.db.read() as conn:
            job = store.get_job(conn, rules.check_job_id(job_id))
        if job is None:
            raise NotFound(f"job {job_id!r} not found")
        return job

    def list(
        self,
        *,
        states: Sequence[JobState | str] = (),
        kinds: Sequence[str] = (),
        page_size: int = 100,
        page_token: str | None = None,
    ) -> JobPage:
        """Newest first; pass `next_page_token` back for the next page."""
        state_values = [rules.parse_state(state) for state in states]
        if not 1 <= page_size <= rules.MAX_PAGE_SIZE:
            raise InvalidParameter(
                "page_size", f"must be between 1 and {rules.MAX_PAGE_SIZE}, got {page_size}"
            )
        if page_token is not None and not is_id(page_token):
            raise InvalidParameter("page_token", "is not a page token from a previous list; omit it to start")
        with self.db.read() as conn:
            found = store.list_jobs(
                conn, states=state_values, kinds=list(kinds), before_id=page_token, limit=page_size + 1
            )
        more = len(found) > page_size
        page = found[:page_size]
        return JobPage(jobs=page, next_page_token=page[-1].id if more else None)

    def cancel(self, job_id: str) -> Job:
        """A queued job is cancelled at once; a running one is asked to stop (its handler sees
        `context.cancelled` within a heartbeat) and ends cancelled."""
        now = self.clock()
        with self.db.write() as conn:
            job = self._locked(conn, job_id)
            if job.state == JobState.QUEUED:
                store.update_job(
                    conn,
                    job.id,
                    {"state": JobState.CANCELLED.value, "cancel_requested": True, "finished_at": now},
                )
            elif job.state == JobState.RUNNING:
                store.update_job(conn, job.id, {"cancel_requested": True})
            elif job.state != JobState.CANCELLED:
                raise Conflict(f"job {job_id!r} already ended {job.state.value}; there is nothing to cancel")
            updated = store.get_job(conn, job.id)
        assert updated is not None
        return updated

    def retry(self, job_id: str) -> Job:
        """Queue a dead or cancelled job again with a fresh set of attempts, or run a job waiting
        out a retry backoff now."""
        now = self.clock()
        with self.db.write() as conn:
            job = self._locked(conn, job_id)
            if job.state in {JobState.DEAD, JobState.CANCELLED}:
                values = {"state": JobState.QUEUED.value, "attempts": 0, "run_after": now}
                store.update_job(conn, job.id, {**values, "cancel_requested": False, "finished_at": None})
            elif job.state == JobState.QUEUED and job.last_error is not None:
                store.update_job(conn, job.id, {"run_after": now})
            else:
                raise Conflict(
                    f"job {job_id!r} is {job.state.value}; only dead, cancelled or failed jobs are retried"
                )
            updated = store.get_job(conn, job.id)
        assert updated is not None
        self._notify()
        return updated

    def prune(self, older_than: timedelta) -> int:
        """Delete succeeded, cancelled and dead jobs that finished before `older_than` ago."""
        if older_than < timedelta(0):
            raise InvalidParameter("older_than", f"must not be negative, got {older_than}")
        cutoff = self.clock() - int(older_than.total_seconds() * 1000)
        finished = [JobState.SUCCEEDED.value, JobState.CANCELLED.value, JobState.DEAD.value]
        with self.db.write() as conn:
            return store.delete_finished(conn, finished, cutoff)

    def upsert_schedule(
        self, name: str, cron: str, kind: str, payload: Any = None, *, enabled: bool = True
    ) -> Schedule:
        return scheduling.upsert(self, name, cron, kind, payload, enabled=enabled)

    def get_schedule(self, name: str) -> Schedule:
        return scheduling.get(self, name)

    def list_schedules(self) -> builtins.list[Schedule]:
        with self.db.read() as conn:
            return store.list_schedules(conn)

    def delete_schedule(self, name: str) -> None:
        with self.db.write() as conn:
            if not store.delete_schedule(conn, name):
                raise NotFound(f"schedule {name!r} not found")

    def fire_due_schedules(self) -> builtins.list[str]:
        """Enqueue one job per due schedule (the latest due tick); ids of the jobs enqueued.
        Workers call this every poll; any number of them may call it at once."""
        fired = scheduling.fire_due(self)
        if fired:
            self._notify()
        return fired

    def wake_workers(self) -> None:
        """Wake this process's workers now: for a caller that committed jobs queued with
        `enqueue_in`, which cannot wake them itself before its commit."""
        self._notify()

    def add_enqueue_listener(self, listener: Callable[[], None]) -> None:
        """`listener()` runs after each local enqueue commits: an in-process worker wakes at once."""
        with self._listeners_lock:
            self._listeners.append(listener)

    def remove_enqueue_listener(self, listener: Callable[[], None]) -> None:
        with self._listeners_lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    # --- what workers call ----------------------------------------------------------------

    def claim(self, owner: str, kinds: Sequence[str], limit: int, lease_s: float) -> builtins.list[Claim]:
        now = self.clock()
        lease_ms = int(lease_s * 1000)
        claims: builtins.list[Claim] = []
        with self.db.read() as conn:
            if limit < 1 or not store.work_is_due(conn, kinds, now):
                return claims
        with self.db.write() as conn:
            self._reap(conn, now)
            running_by_key: dict[str, int] = {}
            # Twice the slots: a candidate whose key fills up within this batch leaves room.
            for row in store.claim_candidates(conn, list(kinds), now, limit * 2):
                key = row.concurrency_key
                if key is not None:
                    if key not in running_by_key:
                        if not store.lock_concurrency_key(conn, key):
                            continue  # another replica is claiming this key right now
                        running_by_key[key] = store.running_with_key(conn, key)
                    if running_by_key[key] >= row.concurrency_limit:
                        continue
                    running_by_key[key] += 1
                token = new_id()
                job = store.mark_claimed(conn, row.id, owner=owner, token=token, now=now, lease_ms=lease_ms)
                claims.append(Claim(job=job, lease_token=token))
                if len(claims) == limit:
                    break
        return claims

    def renew(self, lease_tokens: Sequence[str], lease_s: float) -> dict[str, bool]:
        """Extend leases; {token: cancel_requested} for those still held."""
        if not lease_tokens:
            return {}
        with self.db.write() as conn:
            return store.renew_leases(conn, lease_tokens, now=self.clock(), lease_ms=int(lease_s * 1000))

    def save_progress(self, lease_token: str, progress: Any) -> None:
        with self.db.write() as conn:
            store.save_progress(conn, lease_token, progress)

    def complete(self, lease_token: str, result: Any) -> JobState | None:
        """Record a handler's return; the job's new state, or None if the lease was lost. A job
        asked to cancel ends cancelled even if its handler finished: cancel means "do not count
        this as done"."""
        encoded = rules.encode_result(result)
        with self.db.write() as conn:
            job = store.held_job(conn, lease_token)
            if job is None:
                return None
            state = JobState.CANCELLED if job.cancel_requested else JobState.SUCCEEDED
            values = {"state": state.value, "finished_at": self.clock(), "result": encoded}
            store.end_attempt(conn, lease_token, values)
        return state

    def fail(self, lease_token: str, error: str) -> JobState | None:
        """Record a failed attempt: queued again after a backoff, or dead without attempts left."""
        now = self.clock()
        with self.db.write() as conn:
            job = store.held_job(conn, lease_token)
            if job is None:
                return None
            values: dict[str, Any] = {"last_error": error[: rules.MAX_ERROR_LENGTH]}
            if job.cancel_requested:
                values.update(state=JobState.CANCELLED.value, finished_at=now)
            elif job.attempts >= job.max_attempts:
                values.update(state=JobState.DEAD.value, finished_at=now)
            else:
                values.update(state=JobState.QUEUED.value, run_after=now + self._backoff_ms(job))
            if store.end_attempt(conn, lease_token, values) and values["state"] == JobState.DEAD.value:
                self._publish_dead(conn, job, values["last_error"], now)
        return JobState(values["state"])

    def release(self, lease_token: str) -> bool:
        """Give a job back unfinished (its worker is stopping): queued at once, the attempt not
        counted, since the job did nothing wrong."""
        with self.db.write() as conn:
            job = store.held_job(conn, lease_token)
            if job is None:
                return False
            values = {"state": JobState.QUEUED.value, "attempts": job.attempts - 1, "run_after": self.clock()}
            return store.end_attempt(conn, lease_token, values)

    # --- rules ----------------------------------------------------------------------------

    def _reap(self, conn: Any, now: int) -> None:
        for job in store.expired_leases(conn, now):
            error = f"lease expired: worker {job.lease_owner} stopped heartbeating"
            values: dict[str, Any] = {"last_error": error}
            if job.cancel_requested:
                values.update(state=JobState.CANCELLED.value, finished_at=now)
            elif job.attempts >= job.max_attempts:
                values.update(state=JobState.DEAD.value, finished_at=now)
            else:
                values.update(state=JobState.QUEUED.value, run_after=now)
            store.update_job(conn, job.id, values, release_lease=True)
            if values["state"] == JobState.DEAD.value:
                self._publish_dead(conn, job, error, now)

    def _publish_dead(self, conn: Any, job: Job, error: str, now: int) -> None:
        """`job.dead_lettered`, in the transaction that marks the job dead (when the platform's
        outbox, and a catalog that knows the type, are there)."""
        if self.outbox is None or JOB_DEAD not in self.outbox.catalog:
            return
        payload = {
            "job_id": job.id,
            "kind": job.kind,
            "attempts": job.attempts,
            "max_attempts": job.max_attempts,
            "error": error,
            "dead_at": now,
        }
        self.outbox.append(conn, [NewEvent(JOB_DEAD, f"job:{job.id}", payload, "system")])

    def _backoff_ms(self, job: Job) -> int:
        spec = self.registry.get(job.kind)
        ceiling = min(spec.backoff_max_s, spec.backoff_base_s * 2 ** (job.attempts - 1))
        return int(ceiling * self._random.uniform(0.5, 1.0) * 1000)

    def _locked(self, conn: Any, job_id: str) -> Job:
        job = store.get_job(conn, rules.check_job_id(job_id), for_update=True)
        if job is None:
            raise NotFound(f"job {job_id!r} not found")
        return job

    def _notify(self) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

"""A worker: a few threads in a process that claim jobs and run their handlers.

    dispatcher  fires due schedules, claims as many jobs as there are idle slots, hands them to
                the slots; then sleeps a poll interval, or less when woken (a local enqueue, a
                slot coming free)
    slots       run one handler each (CPU-bound kinds in a child process, see child.py) and
                record the outcome, fenced by the lease token
    heartbeat   renews the leases held, passes cancel requests and progress on, and ends attempts
                past their timeout (the handler is told through `context.cancelled`; a child
                process is killed)

Any number of workers, in any number of processes and hosts, may share one database. `stop()` is
graceful within a bound: no new claims, running handlers get `timeout_s` to finish, and the jobs
still running then are released (queued again, the attempt not counted).
"""

from __future__ import annotations

import logging
import os
import queue
import socket
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import ParamSpec, TypeVar

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.ids import new_id
from plimsoll.core.jobs import rules
from plimsoll.core.jobs.child import run_in_child
from plimsoll.core.jobs.context import JobContext
from plimsoll.core.jobs.entities import Claim
from plimsoll.core.jobs.service import JobService

log = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

_WATCH_TICK_S = 0.1  # how often timeouts and kills are checked, between lease renewals
_DISPATCHER_JOIN_S = 5.0


@dataclass
class _Running:
    context: JobContext
    deadline: float  # time.monotonic() past which the attempt has timed out


class Worker:
    def __init__(
        self,
        service: JobService,
        *,
        name: str | None = None,
        threads: int = 4,
        kinds: Sequence[str] | None = None,
        poll_interval_s: float = 1.0,
        lease_s: float = 30.0,
        heartbeat_interval_s: float | None = None,
        fire_schedules: bool = True,
    ) -> None:
        if threads < 1:
            raise InvalidParameter("threads", f"must be at least 1, got {threads}")
        self.service = service
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{new_id()[-6:]}"
        self.threads = threads
        self.kinds = list(kinds) if kinds is not None else service.registry.kinds()
        self.poll_interval_s = poll_interval_s
        self.lease_s = lease_s
        # A third of the lease: two renewals may fail (a slow database) before the lease is lost.
        self.heartbeat_interval_s = heartbeat_interval_s or lease_s / 3
        self.fire_schedules = fire_schedules
        self._claims: queue.Queue[Claim | None] = queue.Queue()
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()
        self._busy = 0  # claims handed to slots and not finished
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._heartbeat_stop = threading.Event()
        self._heartbeat_kick = threading.Event()  # set when a claim starts: watch it from now on
        self._threads: list[threading.Thread] = []

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> Worker:
        if self._threads:
            raise RuntimeError("worker already started")
        self.service.add_enqueue_listener(self.wake)
        self._spawn("dispatcher", self._dispatch_loop)
        self._spawn("heartbeat", self._heartbeat_loop)
        for slot in range(self.threads):
            self._spawn(f"slot-{slot}", self._slot_loop)
        return self

    def stop(self, timeout_s: float = 30.0) -> None:
        """Stop claiming; let running handlers finish for up to `timeout_s`; release the rest."""
        if self._stopping.is_set():
            return
        deadline = time.monotonic() + timeout_s
        self._stopping.set()
        self._wake.set()
        self.service.remove_enqueue_listener(self.wake)
        for thread in self._threads[:1]:
            # The dispatcher runs no handler, only short database calls: wait for it (a few
            # seconds past the bound at worst) so that it claims nothing after the release below.
            thread.join(max(_DISPATCHER_JOIN_S, deadline - time.monotonic()))
        while self.running_job_ids() and time.monotonic() < deadline:
            time.sleep(0.02)
        with self._lock:
            leftover = list(self._running.items())
        for token, running in leftover:
            running.context.abandon("worker stopping")
            self._quietly(self.service.release, token)
        for _ in range(self.threads):
            self._claims.put(None)
        self._heartbeat_stop.set()
        self._heartbeat_kick.set()
        for thread in self._threads[1:]:
            # A handler that ignores `cancelled` keeps its (daemon) thread; its job is released.
            thread.join(max(0.1, deadline - time.monotonic()))

    def wake(self) -> None:
        """Look for work now rather than at the next poll."""
        self._wake.set()

    def running_job_ids(self) -> list[str]:
        with self._lock:
            return [running.context.job_id for running in self._running.values()]

    def __enter__(self) -> Worker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _spawn(self, role: str, target: Callable[[], None]) -> None:
        # Daemon threads: a handler that never returns must not keep the process from exiting.
        thread = threading.Thread(target=target, name=f"plimsoll-worker-{role}", daemon=True)
        thread.start()
        self._threads.append(thread)

    # --- dispatcher -------------------------------------------------------------------------

    def _dispatch_loop(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            if self.fire_schedules:
                self._quietly(self.service.fire_due_schedules)
            with self._lock:
                idle = 0 if self._stopping.is_set() else self.threads - self._busy
            claims = (
                self._quietly(self.service.claim, self.name, self.kinds, idle, self.lease_s) if idle else None
            )
            for claim in claims or []:
                timeout_s = claim.job.timeout_ms / 1000
                context = JobContext(claim.job, claim.lease_token, self._renew_one)
                with self._lock:
                    self._busy += 1
                    self._running[claim.lease_token] = _Running(context, time.monotonic() + timeout_s)
                self._claims.put(claim)
            if claims:
                self._heartbeat_kick.set()
            if claims and len(claims) == idle:
                continue  # there may be more; claim again as soon as a slot frees
            self._wake.wait(self.poll_interval_s)

    # --- slots ------------------------------------------------------------------------------

    def _slot_loop(self) -> None:
        while True:
            claim = self._claims.get()
            if claim is None:
                return
            try:
                self._run(claim)
            except Exception:
                # A slot must outlive any surprise; the job's lease expiry re-runs it if needed.
                log.exception("job worker %s: running job %s failed", self.name, claim.job.id)
            finally:
                with self._lock:
                    self._busy -= 1
                    self._running.pop(claim.lease_token, None)
                self._wake.set()

    def _run(self, claim: Claim) -> None:
        with self._lock:
            running = self._running.get(claim.lease_token)
        if running is None or self._stopping.is_set():
            if running is not None:
                self._quietly(self.service.release, claim.lease_token)
            return
        context = running.context
        spec = self.service.registry.get(claim.job.kind)
        try:
            if spec.cpu_bound:
                assert isinstance(spec.handler, str)  # registry checks this
                result = run_in_child(spec.handler, claim.job.payload, context)
            else:
                result = spec.resolve()(claim.job.payload, context)
        except Exception as exc:
            if not context.abandoned.is_set():
                # The last lines of a traceback say most: keep the end if it is cut.
                error = "".join(traceback.format_exception(exc))[-rules.MAX_ERROR_LENGTH :]
                self._quietly(self.service.fail, claim.lease_token, error)
        else:
            if not context.abandoned.is_set():
                self._quietly(self.service.complete, claim.lease_token, result)

    # --- heartbeat --------------------------------------------------------------------------

    def _heartbeat_loop(self) -> None:
        next_renewal = time.monotonic() + self.heartbeat_interval_s
        while not self._heartbeat_stop.is_set():
            with self._lock:
                watching = bool(self._running)
            if watching:
                self._heartbeat_stop.wait(_WATCH_TICK_S)
            else:
                # Nothing held: no deadline to watch and no lease to renew until a claim starts,
                # so an idle server's heartbeat does not wake ten times a second.
                self._heartbeat_kick.wait(max(0.0, next_renewal - time.monotonic()))
                self._heartbeat_kick.clear()
            if self._heartbeat_stop.is_set():
                return
            self._end_overdue()
            if time.monotonic() >= next_renewal:
                next_renewal = time.monotonic() + self.heartbeat_interval_s
                self._quietly(self._renew_all)

    def _renew_all(self) -> None:
        with self._lock:
            held = dict(self._running)
        self._apply_renewal(held, self.service.renew(list(held), self.lease_s))

    def _renew_one(self, context: JobContext) -> None:
        with self._lock:
            running = self._running.get(context.lease_token)
        if running is not None:
            held = {context.lease_token: running}
            self._apply_renewal(held, self.service.renew(list(held), self.lease_s))

    def _apply_renewal(self, held: dict[str, _Running], answer: dict[str, bool]) -> None:
        for token, running in held.items():
            context = running.context
            if token not in answer:
                # Reaped after a missed renewal, or already ended: nothing more of it is recorded.
                context.abandon("lease lost")
                continue
            if answer[token]:
                context.cancel("cancel requested")
            recorded, progress = context.take_progress()
            if recorded:
                self._quietly(self.service.save_progress, token, progress)

    def _end_overdue(self) -> None:
        now = time.monotonic()
        with self._lock:
            overdue = [(token, r) for token, r in self._running.items() if r.deadline < now]
        for token, running in overdue:
            if running.context.abandoned.is_set():
                continue
            timeout_s = running.context.job.timeout_ms / 1000
            running.context.abandon(f"timed out after {timeout_s:g} s")
            self._quietly(self.service.fail, token, f"timed out after {timeout_s:g} s")

    def _quietly(self, call: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
        """Run a database call from a worker thread; a failure (database briefly gone) is logged,
        and the lease expiry puts the job right if it mattered."""
        try:
            return call(*args, **kwargs)
        except Exception:
            log.exception("job worker %s: %s failed", self.name, getattr(call, "__name__", call))
            return None

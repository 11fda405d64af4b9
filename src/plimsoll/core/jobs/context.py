"""What a handler gets besides its payload: `handler(payload, context)`.

Stopping is cooperative: a thread cannot be killed safely, so a handler that runs long should
look at `context.cancelled` (or call `context.raise_if_cancelled()`) between steps. It turns true
when someone cancels the job, the job runs past its timeout, its worker lost the lease, or the
worker is stopping. The worker renews the lease on its own while the handler runs; `heartbeat()`
renews it at once and refreshes `cancelled` (for a handler that wants to know right now).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from plimsoll.core.jobs.entities import Job


class JobCancelled(Exception):
    """Raised by `raise_if_cancelled()`. The attempt then ends as the cause decided: cancelled
    (cancel requested), failed (timed out), or given back (worker stopping, lease lost)."""


_NOTHING = object()


class JobContext:
    def __init__(self, job: Job, lease_token: str, renew_now: Callable[[JobContext], None]) -> None:
        self.job = job
        self.lease_token = lease_token
        self._renew_now = renew_now
        self._lock = threading.Lock()
        self._cancel_reason: str | None = None
        self._pending_progress: Any = _NOTHING
        # Set when the worker has given up on this attempt (timed out, lease lost, worker
        # stopping): its outcome is no longer recorded, and a child process is killed.
        self.abandoned = threading.Event()

    @property
    def job_id(self) -> str:
        return self.job.id

    @property
    def attempt(self) -> int:
        return self.job.attempts

    @property
    def cancelled(self) -> bool:
        return self._cancel_reason is not None

    @property
    def cancel_reason(self) -> str | None:
        return self._cancel_reason

    def raise_if_cancelled(self) -> None:
        if self._cancel_reason is not None:
            raise JobCancelled(self._cancel_reason)

    def heartbeat(self) -> None:
        self._renew_now(self)

    def progress(self, value: Any) -> None:
        """Record progress (JSON), shown on the job; written with the next lease renewal, so a
        tight loop may call this as often as it likes."""
        with self._lock:
            self._pending_progress = value

    # --- the worker's side ----------------------------------------------------------------

    def cancel(self, reason: str) -> None:
        if self._cancel_reason is None:
            self._cancel_reason = reason

    def abandon(self, reason: str) -> None:
        self.cancel(reason)
        self.abandoned.set()

    def take_progress(self) -> tuple[bool, Any]:
        """(True, value) if progress was recorded since the last call."""
        with self._lock:
            value, self._pending_progress = self._pending_progress, _NOTHING
        return (value is not _NOTHING, None if value is _NOTHING else value)

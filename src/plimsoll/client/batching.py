"""The write buffer between a run's `log_*` calls and the server.

Calls return at once; a background thread sends what has piled up as one batch (every
`flush_interval` seconds, sooner when much is waiting). `flush` sends on the caller's own thread
when the sender is idle: a synchronous write or a waiting `end` then costs one round trip, not
that plus two thread wake-ups. Every batch carries a client-made id, so a batch retried after a
lost answer is acknowledged, not applied twice. A batch the server rejects is re-sent run by run,
so one bad run cannot sink its neighbours; the error is raised at that run's next call, `flush` or
`end`. At interpreter exit whatever is buffered is sent.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from blake3 import blake3

from plimsoll.core.errors import Conflict, PlimsollError, Unavailable
from plimsoll.core.ids import new_id
from plimsoll.tracking.entities import (
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_PER_BATCH,
    MAX_RUNS_PER_BATCH,
    MAX_TAGS_PER_BATCH,
    MetricColumns,
    RunCreate,
    RunEnd,
    RunWrites,
    refuse_param_changes,
)

if TYPE_CHECKING:
    from plimsoll.client.transport import Transport

log = logging.getLogger("plimsoll.client")

# Half the server's limits: room to spare, and batches small enough to keep the pipeline moving.
MAX_BATCH_RUNS = MAX_RUNS_PER_BATCH // 2
MAX_BATCH_METRICS = MAX_METRICS_PER_BATCH // 2
MAX_BATCH_PARAMS = MAX_PARAMS_PER_BATCH // 2
MAX_BATCH_TAGS = MAX_TAGS_PER_BATCH // 2
MAX_BUFFERED_METRICS = 2_000_000
EXIT_FLUSH_TIMEOUT_S = 120.0


@dataclass
class _Pending:
    """Writes for one run, not yet sent, in the order they must be applied."""

    run_id: str
    first_seq: int
    create: RunCreate | None = None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: MetricColumns = field(default_factory=MetricColumns)
    artifacts: list[tuple[str, bytes]] = field(default_factory=list)
    end: RunEnd | None = None

    def take(self, budget: dict[str, int]) -> tuple[RunWrites, list[tuple[str, bytes]], bool]:
        """Remove up to `budget` writes; return them, the artifacts to upload after them, and
        whether this run has nothing left."""
        params = dict(list(self.params.items())[: budget["params"]])
        tags = dict(list(self.tags.items())[: budget["tags"]])
        if len(self.metrics) <= budget["metrics"]:
            metrics, self.metrics = self.metrics, MetricColumns()
        else:
            metrics, self.metrics = self.metrics.split(budget["metrics"])
        for key in params:
            del self.params[key]
        for key in tags:
            del self.tags[key]
        budget["params"] -= len(params)
        budget["tags"] -= len(tags)
        budget["metrics"] -= len(metrics)
        exhausted = not (self.params or self.tags or self.metrics)
        writes = RunWrites(
            run_id=self.run_id,
            create=self.create,
            params=params,
            tags=tags,
            metrics=metrics,
            end=self.end if exhausted else None,
        )
        self.create = None
        artifacts, self.artifacts = (self.artifacts, []) if exhausted else ([], self.artifacts)
        return writes, artifacts, exhausted


@dataclass
class _Batch:
    id: str
    writes: list[RunWrites] = field(default_factory=list)
    uploads: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)


def _parts(writes: RunWrites) -> list[RunWrites]:
    parts = [
        RunWrites(writes.run_id, create=writes.create, metrics=writes.metrics),
        RunWrites(writes.run_id, tags=writes.tags),
        RunWrites(writes.run_id, params=writes.params),
        RunWrites(writes.run_id, end=writes.end),
    ]
    return [p for p in parts if p.create or p.metrics or p.tags or p.params or p.end]


def _derived_id(batch_id: str, *path: int) -> str:
    """A stable id for a piece of a batch, so that re-sending the piece stays idempotent."""
    return blake3(f"{batch_id}/{'/'.join(map(str, path))}".encode()).hexdigest()[:32]


class Batcher:
    def __init__(self, transport: Transport, *, flush_interval: float = 0.25) -> None:
        self.transport = transport
        self.flush_interval = flush_interval
        self._cond = threading.Condition()
        # Held from taking a batch until it is settled: one batch on the wire at a time, so that a
        # run's writes land in the order they were made, whichever thread sends them.
        self._send_lock = threading.Lock()
        self._sending_caller: int | None = None  # the thread sending in `flush`, if one is
        self._pending: dict[str, _Pending] = {}
        self._ended: set[str] = set()
        self._seq = 0
        self._done_seq = 0
        self._buffered_metrics = 0
        self._errors: dict[str, PlimsollError] = {}
        self._flush_wanted = False
        self._closed = False
        self._oldest = 0.0
        self._thread: threading.Thread | None = None
        self._retry: _Batch | None = None
        self._outages = 0
        _live_batchers.add(self)

    def _reset_after_fork(self) -> None:
        """A forked child must not send its parent's buffered writes a second time."""
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._sending_caller = None
        self._pending.clear()
        self._retry = None
        self._thread = None
        self._done_seq = self._seq
        self._buffered_metrics = 0

    # -- producer side ---------------------------------------------------------------------------

    def submit(
        self,
        run_id: str,
        *,
        create: RunCreate | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        metrics: MetricColumns | None = None,
        artifacts: list[tuple[str, bytes]] | None = None,
        end: RunEnd | None = None,
    ) -> int:
        with self._cond:
            if end is None:
                # A run's earlier failure is raised at its next write, but never stops it from
                # ending: `flush` after the end reports the error.
                self._raise_error(run_id)
            if self._closed:
                raise Unavailable("this client is closed; start a new one to log more")
            if run_id in self._ended:
                raise Conflict(f"run {run_id!r} has ended; nothing more can be logged to it")
            while self._buffered_metrics > MAX_BUFFERED_METRICS:
                # Back-pressure: never grow without bound while the server is slow or away.
                self._flush_wanted = True
                self._cond.notify_all()
                self._cond.wait(0.5)
            pending = self._pending.get(run_id)
            if pending is None:
                pending = self._pending[run_id] = _Pending(run_id, first_seq=self._seq + 1)
                if len(self._pending) == 1:
                    self._oldest = time.monotonic()
            refuse_param_changes(run_id, params or {}, pending.params)
            if create is not None:
                pending.create = create
            pending.params.update(params or {})
            pending.tags.update(tags or {})
            if metrics:
                pending.metrics.extend(metrics)
                self._buffered_metrics += len(metrics)
            pending.artifacts.extend(artifacts or [])
            if end is not None:
                pending.end = end
                self._ended.add(run_id)
            self._seq += 1
            self._ensure_thread()
            if self._buffered_metrics >= MAX_BATCH_METRICS:
                self._cond.notify_all()
            return self._seq

    def flush(self, run_id: str | None = None, *, timeout: float | None = None) -> None:
        """Wait until everything submitted so far is acknowledged (or failed); raise the error of
        `run_id` (or of any run) if there was one."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = self._seq
            if self._sending_caller == threading.get_ident():
                # Re-entered from a signal handler (a SIGTERM handler ending its run, say) while
                # this very thread is mid-send: waiting here would wait on ourselves. The sender
                # thread takes these writes once the interrupted send is over.
                self._flush_wanted = True
                self._ensure_thread()
                self._cond.notify_all()
                return
        if timeout is None:
            # With a deadline the sender thread does the work: the transport's own retries could
            # otherwise hold this thread past it.
            self._send_here(target)
        with self._cond:
            if self._done_seq < target:
                self._flush_wanted = True
                self._ensure_thread()
                self._cond.notify_all()
            while self._done_seq < target:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise Unavailable(
                        f"{self._buffered_metrics} metric points and other writes are still buffered "
                        f"after {timeout:.0f} s; the server has not acknowledged them"
                    )
                self._cond.wait(remaining if remaining is not None else 1.0)
            if run_id is not None:
                self._raise_error(run_id)
            elif self._errors:
                self._raise_error(next(iter(self._errors)))

    def close(self, timeout: float | None = EXIT_FLUSH_TIMEOUT_S) -> None:
        try:
            self.flush(timeout=timeout)
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()
            if self._thread is not None:
                self._thread.join(timeout=5)

    def _raise_error(self, run_id: str) -> None:
        error = self._errors.pop(run_id, None)
        if error is not None:
            raise error

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="plimsoll-batcher", daemon=True)
            self._thread.start()

    # -- sender side -----------------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._cond:
                while self._retry is None and not self._ready():
                    if self._closed:
                        return
                    self._cond.wait(self._wait_time())
            with self._send_lock:
                sent = self._send_next()
            if sent is False:
                with self._cond:
                    if self._closed:
                        return
                    self._cond.wait(min(30.0, 0.5 * 2 ** min(self._outages, 6)))

    def _send_here(self, target: int) -> None:
        """Send on the calling thread until the writes up to `target` are done, unless the sender
        thread is busy or a batch is waiting to be retried (then the caller waits for the sender).
        Writes made later by other threads are left to the sender thread."""
        if not self._send_lock.acquire(blocking=False):
            return
        self._sending_caller = threading.get_ident()
        try:
            while True:
                with self._cond:
                    if self._retry is not None or self._closed or self._done_seq >= target:
                        return
                if not self._send_next():
                    return
        finally:
            self._sending_caller = None
            self._send_lock.release()

    def _send_next(self) -> bool | None:
        """With the send lock held: send the batch to retry, else the oldest pending writes.
        True once acknowledged; None if there was nothing to send; False if the server stayed
        unreachable. A batch not acknowledged (the server away, or the send interrupted by Ctrl-C
        on a synchronous write) is kept to be sent again under the same ids."""
        with self._cond:
            batch, self._retry = self._retry, None
            if batch is None and self._pending:
                batch = self._take()
        if batch is None:
            return None
        sent: bool | None = None  # stays None if the send is interrupted
        try:
            sent = self._send(batch)
        finally:
            with self._cond:
                if sent:
                    self._buffered_metrics -= sum(len(writes.metrics) for writes in batch.writes)
                    self._settle()
                else:
                    self._retry = batch
                    self._outages += sent is False
                    self._cond.notify_all()
        if not sent:
            log.warning(
                "Plimsoll: server unreachable; %d metric points and other writes stay buffered "
                "and will be sent when it answers",
                self._buffered_metrics,
            )
        return sent

    def _settle(self) -> None:
        """Everything submitted before the oldest write still waiting is now done."""
        waiting = [p.first_seq for p in self._pending.values()]
        self._done_seq = min(waiting) - 1 if waiting else self._seq
        self._outages = 0
        if self._pending:
            self._oldest = time.monotonic()
        else:
            self._flush_wanted = False
        self._cond.notify_all()

    def _ready(self) -> bool:
        if not self._pending:
            return False
        return (
            self._flush_wanted
            or self._closed
            or self._buffered_metrics >= MAX_BATCH_METRICS
            or time.monotonic() - self._oldest >= self.flush_interval
        )

    def _wait_time(self) -> float:
        if not self._pending:
            return 1.0
        return max(0.001, self.flush_interval - (time.monotonic() - self._oldest))

    def _take(self) -> _Batch:
        budget = {"params": MAX_BATCH_PARAMS, "tags": MAX_BATCH_TAGS, "metrics": MAX_BATCH_METRICS}
        batch = _Batch(new_id())
        for run_id in list(self._pending):
            if len(batch.writes) >= MAX_BATCH_RUNS or min(budget.values()) <= 0:
                break
            pending = self._pending[run_id]
            writes, artifacts, exhausted = pending.take(budget)
            batch.writes.append(writes)
            if artifacts:
                batch.uploads[run_id] = artifacts
            if exhausted:
                del self._pending[run_id]
        return batch

    def _send(self, batch: _Batch) -> bool:
        """Send a batch; False if the server stayed unreachable (the batch is kept, and sent again
        later under the same ids, so whatever part of it did land is not applied twice)."""
        try:
            try:
                self.transport.ingest(batch.writes, batch.id)
            except Unavailable:
                raise
            except PlimsollError:
                self._send_isolated(batch)
        except Unavailable:
            return False
        except Exception as exc:  # never let the sender thread die and strand buffered writes
            log.exception("unexpected error while sending a batch")
            self._fail([w.run_id for w in batch.writes], PlimsollError(f"{type(exc).__name__}: {exc}"))
        for run_id, artifacts in batch.uploads.items():
            for path, content in artifacts:
                try:
                    self.transport.log_artifact(run_id, path, content)
                except PlimsollError as exc:
                    self._fail([run_id], exc)
                except Exception as exc:
                    self._fail([run_id], PlimsollError(f"artifact {path}: {type(exc).__name__}: {exc}"))
        return True

    def _send_isolated(self, batch: _Batch) -> None:
        """The server refused the batch as a whole (batches are atomic). Send each run alone, and a
        refused run in parts (create and metrics, tags, params, end), so that only the part at
        fault is lost and the rest, the run's end included, still lands."""
        for index, writes in enumerate(batch.writes):
            try:
                self.transport.ingest([writes], _derived_id(batch.id, index))
                continue
            except Unavailable:
                raise
            except PlimsollError:
                pass
            for part_index, part in enumerate(_parts(writes)):
                try:
                    self.transport.ingest([part], _derived_id(batch.id, index, part_index))
                except Unavailable:
                    raise
                except PlimsollError as exc:
                    self._fail([writes.run_id], exc)

    def _fail(self, run_ids: list[str], error: PlimsollError) -> None:
        with self._cond:
            for run_id in run_ids:
                self._errors.setdefault(run_id, error)
        log.error("Plimsoll: writes for %d run(s) were not saved: %s", len(run_ids), error.message)


_live_batchers: weakref.WeakSet[Batcher] = weakref.WeakSet()


def _reset_all_after_fork() -> None:
    for batcher in list(_live_batchers):
        batcher._reset_after_fork()


os.register_at_fork(after_in_child=_reset_all_after_fork)


@atexit.register
def _flush_at_exit() -> None:
    for batcher in list(_live_batchers):
        try:
            batcher.close()
        except PlimsollError as exc:
            log.error("Plimsoll: buffered writes could not be saved at exit: %s", exc.message)

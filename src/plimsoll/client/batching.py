"""The write buffer between a run's `log_*` calls and the server.

Calls return at once; a background thread sends what has piled up as one batch (every
`flush_interval` seconds, sooner when much is waiting, at once on `flush`). Every batch carries a
client-made id, so a batch retried after a lost answer is acknowledged, not applied twice. A batch
the server rejects is re-sent run by run, so one bad run cannot sink its neighbours; the error is
raised at that run's next call, `flush` or `end`. At interpreter exit whatever is buffered is sent.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from plimsoll.core.errors import Conflict, PlimsollError, Unavailable
from plimsoll.core.ids import new_id
from plimsoll.tracking.entities import Metric, RunCreate, RunEnd, RunWrites

if TYPE_CHECKING:
    from plimsoll.client.transport import Transport

log = logging.getLogger("plimsoll.client")

MAX_BATCH_RUNS = 500
MAX_BATCH_METRICS = 50_000
MAX_BATCH_PARAMS = 1000
MAX_BATCH_TAGS = 1000
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
    metrics: list[Metric] = field(default_factory=list)
    artifacts: list[tuple[str, bytes]] = field(default_factory=list)
    end: RunEnd | None = None

    def take(self, budget: dict[str, int]) -> tuple[RunWrites, list[tuple[str, bytes]], bool]:
        """Remove up to `budget` writes; return them, the artifacts to upload after them, and
        whether this run has nothing left."""
        params = dict(list(self.params.items())[: budget["params"]])
        tags = dict(list(self.tags.items())[: budget["tags"]])
        metrics = self.metrics[: budget["metrics"]]
        for key in params:
            del self.params[key]
        for key in tags:
            del self.tags[key]
        del self.metrics[: len(metrics)]
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


class Batcher:
    def __init__(self, transport: Transport, *, flush_interval: float = 0.25) -> None:
        self.transport = transport
        self.flush_interval = flush_interval
        self._cond = threading.Condition()
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
        _live_batchers.add(self)

    # -- producer side ---------------------------------------------------------------------------

    def submit(
        self,
        run_id: str,
        *,
        create: RunCreate | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        metrics: list[Metric] | None = None,
        artifacts: list[tuple[str, bytes]] | None = None,
        end: RunEnd | None = None,
    ) -> int:
        with self._cond:
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
            for key, value in (params or {}).items():
                held = pending.params.get(key)
                if held is not None and held != value:
                    raise Conflict(
                        f"param {key!r} of run {run_id} is already {held!r}; params are immutable, "
                        f"so it cannot become {value!r}",
                        details={"field": f"params.{key}"},
                    )
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
            if self._thread is None:
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
                while not self._ready():
                    if self._closed:
                        return
                    self._cond.wait(self._wait_time())
                batch, uploads = self._take()
            self._send(batch, uploads)
            with self._cond:
                sent = sum(len(writes.metrics) for writes in batch)
                self._buffered_metrics -= sent
                self._done_seq = (
                    min(p.first_seq for p in self._pending.values()) - 1 if self._pending else self._seq
                )
                if not self._pending:
                    self._flush_wanted = False
                else:
                    self._oldest = time.monotonic()
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

    def _take(self) -> tuple[list[RunWrites], dict[str, list[tuple[str, bytes]]]]:
        budget = {"params": MAX_BATCH_PARAMS, "tags": MAX_BATCH_TAGS, "metrics": MAX_BATCH_METRICS}
        batch: list[RunWrites] = []
        uploads: dict[str, list[tuple[str, bytes]]] = {}
        for run_id in list(self._pending):
            if len(batch) >= MAX_BATCH_RUNS or min(budget.values()) <= 0:
                break
            pending = self._pending[run_id]
            writes, artifacts, exhausted = pending.take(budget)
            batch.append(writes)
            if artifacts:
                uploads[run_id] = artifacts
            if exhausted:
                del self._pending[run_id]
        return batch, uploads

    def _send(self, batch: list[RunWrites], uploads: dict[str, list[tuple[str, bytes]]]) -> None:
        try:
            self.transport.ingest(batch, new_id())
        except PlimsollError as exc:
            if len(batch) == 1 or isinstance(exc, Unavailable):
                self._fail([writes.run_id for writes in batch], exc)
                if isinstance(exc, Unavailable):
                    return
            else:
                for writes in batch:  # isolate the run the server refused
                    try:
                        self.transport.ingest([writes], new_id())
                    except PlimsollError as single:
                        self._fail([writes.run_id], single)
        except Exception as exc:  # never let the sender thread die and strand buffered writes
            log.exception("unexpected error while sending a batch")
            self._fail([writes.run_id for writes in batch], PlimsollError(f"{type(exc).__name__}: {exc}"))
        for run_id, artifacts in uploads.items():
            for path, content in artifacts:
                try:
                    self.transport.log_artifact(run_id, path, content)
                except PlimsollError as exc:
                    self._fail([run_id], exc)

    def _fail(self, run_ids: list[str], error: PlimsollError) -> None:
        with self._cond:
            for run_id in run_ids:
                self._errors.setdefault(run_id, error)
        log.error("Plimsoll: writes for %d run(s) were not saved: %s", len(run_ids), error.message)


_live_batchers: weakref.WeakSet[Batcher] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for batcher in list(_live_batchers):
        try:
            batcher.close()
        except PlimsollError as exc:
            log.error("Plimsoll: buffered writes could not be saved at exit: %s", exc.message)

"""The write buffer between a run's `log_*` calls and the server.

Calls return at once; a background thread sends what has piled up as one batch (every
`flush_interval` seconds, sooner when much is waiting). `flush` sends on the caller's own thread
when the sender is idle: a synchronous write or a waiting `end` then costs one round trip, not
that plus two thread wake-ups.

Nothing is lost and nothing is stored twice:

- Every batch carries a client-made id, and the server stores each metric point once however often
  it arrives, so a batch sent again (after a lost answer, an outage, a crash) changes nothing.
- A batch is kept, in order, until the server acknowledges it; while the server is unreachable it
  is retried with backoff, and written to the spool (`plimsoll.client.spool`), so that a process
  killed meanwhile leaves it for the next one.
- A batch the server refuses is re-sent run by run, and a refused run part by part (and key by key
  when the server names one), so that one bad value cannot sink its neighbours; what is refused is
  reported, naming the run and the keys, at that run's next call, `flush` or `end`.
- Artifacts are uploaded after their run's earlier writes, and retried like them.
- At exit, buffered writes are sent, waiting while the server keeps acknowledging them; if it stops
  answering for `exit_timeout` seconds, what is left goes to the spool.
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blake3 import blake3

from plimsoll.client.spool import Spool, SpoolFile
from plimsoll.client.wire import Batch, Upload
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
# How long one attempt at a batch keeps retrying before the batcher counts an outage (and spools).
ATTEMPT_WINDOW_S = 5.0
SPOOL_EVERY_S = 2.0
SERVER_ERROR_ROUNDS = 4  # rounds of retries a piece gets while the server answers it with 5xx  # how often the spool is rewritten while it exists
ADOPTED = sys.maxsize  # `first_seq` of another process's batches: no flush of ours waits for them


@dataclass
class _Pending:
    """Writes for one run, not yet sent, in the order they must be applied."""

    run_id: str
    first_seq: int
    create: RunCreate | None = None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: MetricColumns = field(default_factory=MetricColumns)
    artifacts: list[Upload] = field(default_factory=list)
    end: RunEnd | None = None

    def take(self, budget: dict[str, int]) -> tuple[RunWrites, list[Upload], bool]:
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


@dataclass(frozen=True)
class Failure:
    """Writes the server refused (or that could not be sent): which run, what, which keys, why."""

    run_id: str
    what: str
    keys: list[str]
    error: PlimsollError

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "what": self.what, "keys": self.keys, **self.error.to_dict()}


@dataclass
class SpoolReport:
    """What sending other processes' spooled writes did (`Client.send_spooled`, `plimsoll sync`)."""

    destination: str
    files: int = 0
    batches: int = 0
    runs: int = 0
    metrics: int = 0
    artifacts: int = 0
    failures: list[Failure] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "destination": self.destination,
            "files": self.files,
            "batches": self.batches,
            "runs": self.runs,
            "metrics": self.metrics,
            "artifacts": self.artifacts,
            "failures": [failure.to_dict() for failure in self.failures],
        }


def _piece(writes: RunWrites, **only: Any) -> RunWrites:
    return RunWrites(writes.run_id, **only)


def _parts(writes: RunWrites) -> list[tuple[RunWrites, str, list[str]]]:
    """A refused run's writes in parts that the server judges apart: (part, what, keys)."""
    parts = [
        (_piece(writes, create=writes.create, metrics=writes.metrics), "metrics", _keys(writes.metrics)),
        (_piece(writes, tags=writes.tags), "tags", list(writes.tags)),
        (_piece(writes, params=writes.params), "params", list(writes.params)),
        (_piece(writes, end=writes.end), "end", []),
    ]
    return [
        (p, what, keys) for p, what, keys in parts if p.create or p.metrics or p.tags or p.params or p.end
    ]


def _by_key(part: RunWrites, what: str) -> list[tuple[RunWrites, str, list[str]]]:
    """A refused part one key at a time (a run's creation first), so that only the key at fault
    is lost."""
    if what == "metrics":
        pieces: list[tuple[RunWrites, str, list[str]]] = []
        if part.create:
            pieces.append((_piece(part, create=part.create), "run creation", []))
        for key in _keys(part.metrics):
            columns = MetricColumns()
            for point in part.metrics:
                if point.key == key:
                    columns.append(*point)
            pieces.append((_piece(part, metrics=columns), "metrics", [key]))
        return pieces
    values = part.tags if what == "tags" else part.params
    return [(_piece(part, **{what: {key: value}}), what, [key]) for key, value in values.items()]


def _keys(columns: MetricColumns) -> list[str]:
    return list(dict.fromkeys(columns.keys))


def _names_one_key(error: BaseException) -> bool:
    """Whether splitting by key can help: the error names a field, or is not the server's."""
    return not isinstance(error, PlimsollError) or bool(error.details.get("field"))


def _derived_id(batch_id: str, *path: int) -> str:
    """A stable id for a piece of a batch, so that re-sending the piece stays idempotent."""
    return blake3(f"{batch_id}/{'/'.join(map(str, path))}".encode()).hexdigest()[:32]


class Batcher:
    def __init__(
        self,
        transport: Transport,
        *,
        flush_interval: float = 0.25,
        spool_dir: Path | None = None,
        exit_timeout: float = 10.0,
        attempt_window: float = ATTEMPT_WINDOW_S,
    ) -> None:
        self.transport = transport
        self.flush_interval = flush_interval
        self.exit_timeout = exit_timeout
        self.attempt_window = attempt_window
        self._cond = threading.Condition()
        # Held from taking a batch until it is settled: one batch on the wire at a time, so that a
        # run's writes land in the order they were made, whichever thread sends them.
        self._send_lock = threading.Lock()
        self._sending_caller: int | None = None  # the thread sending in `flush`, if one is
        self._pending: dict[str, _Pending] = {}
        self._queue: deque[Batch] = deque()  # taken, not yet acknowledged, in order
        self._ended: set[str] = set()
        self._seq = 0
        self._done_seq = 0
        self._buffered_metrics = 0
        self._errors: dict[str, PlimsollError] = {}
        self._flush_wanted = False
        self._closed = False
        self._oldest = 0.0
        self._last_ack = time.monotonic()
        self._thread: threading.Thread | None = None
        self._outages = 0
        self._busy = False  # a batch is on the wire (it stays first in the queue meanwhile)
        self._spool_dir = spool_dir
        self._spool = None if spool_dir is None else Spool(spool_dir, transport.destination)
        self._spool_lock = threading.Lock()
        self._adopt_lock = threading.Lock()
        self._last_saved = 0.0
        self._adopt_wanted = self._spool is not None
        self._claimed: list[SpoolFile] = []
        self._report: SpoolReport | None = None
        _live_batchers.add(self)

    def _reset_after_fork(self) -> None:
        """A forked child must not send its parent's buffered writes a second time."""
        self._cond = threading.Condition()
        self._send_lock = threading.Lock()
        self._spool_lock = threading.Lock()
        self._adopt_lock = threading.Lock()
        self._sending_caller = None
        self._pending.clear()
        self._queue.clear()
        self._thread = None
        self._busy = False
        self._done_seq = self._seq
        self._buffered_metrics = 0
        self._claimed = []
        if self._spool is not None:
            self._spool.forget_after_fork()
            self._spool = Spool(self._spool.dir.parent, self.transport.destination)

    # -- producer side ---------------------------------------------------------------------------

    def submit(
        self,
        run_id: str,
        *,
        create: RunCreate | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
        metrics: MetricColumns | None = None,
        artifacts: list[tuple[str, bytes | Path]] | None = None,
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
            if artifacts:
                pending.artifacts.extend(Upload(run_id, path, source) for path, source in artifacts)
            if end is not None:
                pending.end = end
                self._ended.add(run_id)
            self._seq += 1
            self._ensure_thread()
            if self._buffered_metrics >= MAX_BATCH_METRICS or artifacts:
                self._cond.notify_all()
            return self._seq

    def reopen(self, run_id: str) -> None:
        """Accept writes to `run_id` again: the server has resumed it (`Client.resume_run`)."""
        with self._cond:
            self._ended.discard(run_id)

    def flush(
        self, run_id: str | None = None, *, timeout: float | None = None, stall: float | None = None
    ) -> None:
        """Wait until everything submitted so far is acknowledged (or failed); raise the error of
        `run_id` (or of any run) if there was one. Unavailable after `timeout` seconds, or after
        `stall` seconds in which the server acknowledged nothing."""
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
        if timeout is None and stall is None:
            # With a bound the sender thread does the work: the transport's own retries could
            # otherwise hold this thread past it.
            self._send_here(target)
        with self._cond:
            if self._done_seq < target:
                self._flush_wanted = True
                self._ensure_thread()
                self._cond.notify_all()
            started = time.monotonic()
            while self._done_seq < target:
                self._check_bounds(deadline, None if stall is None else max(started, self._last_ack) + stall)
                self._cond.wait(0.25 if deadline is not None or stall is not None else 1.0)
            if run_id is not None:
                self._raise_error(run_id)
            elif self._errors:
                self._raise_error(next(iter(self._errors)))

    def _check_bounds(self, deadline: float | None, stalled_at: float | None) -> None:
        now = time.monotonic()
        if (deadline is not None and now >= deadline) or (stalled_at is not None and now >= stalled_at):
            raise Unavailable(
                f"{self._buffered_metrics} metric points and other writes are still waiting; the "
                f"server at {self.transport.destination} has not acknowledged them"
            )

    def close(self, timeout: float | None = None) -> Path | None:
        """Send what is buffered, waiting while the server acknowledges it (at most `timeout`
        seconds, or `exit_timeout` without an acknowledgement); spool the rest. The spool file
        written, if one was."""
        spooled = None
        try:
            self.flush(timeout=timeout, stall=self.exit_timeout)
            self._drain(timeout=timeout, stall=self.exit_timeout)  # other processes' batches too
        except Unavailable:
            spooled = self._save_spool(force=True)
            if spooled is None:
                raise
            log.warning(
                "Plimsoll: the server at %s did not acknowledge every write; what is left is kept "
                "in %s and will be sent by the next process that logs there, or by `plimsoll sync`",
                self.transport.destination,
                spooled,
            )
        finally:
            with self._cond:
                self._closed = True
                self._cond.notify_all()
            if self._thread is not None:
                self._thread.join(timeout=5)
        return spooled

    def _drain(self, *, timeout: float | None, stall: float) -> None:
        with self._cond:
            deadline = None if timeout is None else time.monotonic() + timeout
            started = time.monotonic()
            while self._queue or self._pending:
                self._flush_wanted = True
                self._ensure_thread()
                self._cond.notify_all()
                self._check_bounds(deadline, max(started, self._last_ack) + stall)
                self._cond.wait(0.25)

    def _raise_error(self, run_id: str) -> None:
        error = self._errors.pop(run_id, None)
        if error is not None:
            raise error

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="plimsoll-batcher", daemon=True)
            self._thread.start()

    # -- other processes' spooled writes ---------------------------------------------------------

    def send_spooled(
        self, *, stall: float | None = None, progress: Callable[[int, int], None] | None = None
    ) -> SpoolReport:
        """Take over every spool file for this destination that no live process holds and send
        it, reporting progress as (batches done, batches in all). Unavailable if the server
        acknowledges nothing for `stall` seconds (the batches stay spooled, in this process's file)."""
        report = SpoolReport(self.transport.destination)
        self._report = report
        self._adopt_wanted = True
        self._adopt()
        with self._cond:
            self._ensure_thread()
            self._cond.notify_all()
            started = time.monotonic()
            while left := sum(batch.adopted for batch in self._queue):
                if progress is not None:
                    progress(report.batches - left, report.batches)
                self._check_bounds(None, None if stall is None else max(started, self._last_ack) + stall)
                self._cond.wait(0.25)
        if progress is not None:
            progress(report.batches, report.batches)
        return report

    def _adopt(self) -> None:
        with self._adopt_lock:
            if not self._adopt_wanted or self._spool is None:
                return
            self._adopt_wanted = False
            self._adopt_now(self._spool)

    def _adopt_now(self, spool: Spool) -> None:
        try:
            batches, claimed = spool.claim_others()
        except OSError as exc:
            log.error("Plimsoll: the spool in %s cannot be read: %s", spool.dir, exc)
            return
        if not claimed:
            return
        for batch in batches:
            batch.first_seq = ADOPTED
        if self._report is not None:
            report = self._report
            report.files += len(claimed)
            report.batches += len(batches)
            report.runs += len({w.run_id for batch in batches for w in batch.writes})
            report.metrics += sum(batch.metrics for batch in batches)
            report.artifacts += sum(len(batch.uploads) for batch in batches)
        log.warning(
            "Plimsoll: sending %d batches that earlier processes left in the spool for %s",
            len(batches),
            self.transport.destination,
        )
        with self._cond:
            self._queue.extend(batches)
            self._claimed.extend(claimed)
            self._cond.notify_all()
        self._save_spool(force=True)  # they are ours now: the files they came from go

    def _save_spool(self, *, force: bool) -> Path | None:
        """Write every unacknowledged batch (all buffered writes included) to this process's
        spool file, or remove it once there is none. Its path, if it holds anything."""
        if self._spool is None:
            return None
        with self._spool_lock:
            if not force and time.monotonic() - self._last_saved < SPOOL_EVERY_S:
                return self._spool.data if self._spool.exists else None
            with self._cond:
                while self._pending:
                    self._queue.append(self._take())
                batches = list(self._queue)
            if not batches:
                self._spool.remove()
                self._release_claimed()
                return None
            try:
                self._spool.keep_uploads(batches)
                with self._cond:  # the sender marks progress under the same lock
                    records = [batch.to_json(_spool_name) for batch in batches]
                path = self._spool.write(records)
            except OSError as exc:
                log.error("Plimsoll: could not write the spool in %s: %s", self._spool.dir, exc)
                return None
            self._last_saved = time.monotonic()
            self._release_claimed()
            return path

    def _release_claimed(self) -> None:
        for claimed in self._claimed:
            claimed.remove()
        self._claimed = []

    # -- sender side -----------------------------------------------------------------------------

    def _loop(self) -> None:
        self._adopt()
        while True:
            with self._cond:
                while not self._has_work():
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
        thread is busy or the server is away (then the caller waits for the sender). Writes made
        later by other threads are left to the sender thread."""
        if not self._send_lock.acquire(blocking=False):
            return
        self._sending_caller = threading.get_ident()
        try:
            while True:
                with self._cond:
                    if self._outages or self._closed or self._done_seq >= target:
                        return
                if not self._send_next():
                    return
        finally:
            self._sending_caller = None
            self._send_lock.release()

    def _send_next(self) -> bool | None:
        """With the send lock held: send the oldest unacknowledged batch, taking one from the
        pending writes if there is none. True once acknowledged; None if there was nothing to
        send; False if the server stayed unreachable. A batch not acknowledged (the server away,
        or the send interrupted by Ctrl-C on a synchronous write) stays first in line."""
        with self._cond:
            if not self._queue and self._pending:
                self._queue.append(self._take())
            batch = self._queue[0] if self._queue else None
            self._busy = batch is not None
        if batch is None:
            return None
        sent: bool | None = None  # stays None if the send is interrupted
        try:
            sent = self._send(batch)
        finally:
            with self._cond:
                self._busy = False
                if sent:
                    self._queue.popleft()
                    if not batch.adopted:
                        self._buffered_metrics -= batch.metrics
                    self._settle()
                else:
                    self._outages += sent is False
                    self._cond.notify_all()
        if sent is False:
            log.warning(
                "Plimsoll: server at %s unreachable; %d metric points and other writes are kept "
                "and will be sent when it answers",
                self.transport.destination,
                self._buffered_metrics,
            )
            self._save_spool(force=False)
        elif sent and self._spool is not None and self._spool.exists:
            self._save_spool(force=not self._queue and not self._pending)
        return sent

    def _settle(self) -> None:
        """Everything submitted before the oldest write still waiting is now done."""
        waiting = [b.first_seq for b in self._queue] + [p.first_seq for p in self._pending.values()]
        self._done_seq = min(waiting) - 1 if waiting else self._seq
        self._outages = 0
        self._last_ack = time.monotonic()
        if self._pending:
            self._oldest = time.monotonic()
        elif not self._queue:
            self._flush_wanted = False
        self._cond.notify_all()

    def _has_work(self) -> bool:
        """A batch waits that no thread is sending, or pending writes are due."""
        return (bool(self._queue) and not self._busy) or self._ready()

    def _ready(self) -> bool:
        if not self._pending:
            return False
        return (
            self._flush_wanted
            or self._closed
            or self._buffered_metrics >= MAX_BATCH_METRICS
            or any(p.artifacts for p in self._pending.values())
            or time.monotonic() - self._oldest >= self.flush_interval
        )

    def _wait_time(self) -> float:
        if not self._pending:
            return 1.0
        return max(0.001, self.flush_interval - (time.monotonic() - self._oldest))

    def _take(self) -> Batch:
        budget = {"params": MAX_BATCH_PARAMS, "tags": MAX_BATCH_TAGS, "metrics": MAX_BATCH_METRICS}
        batch = Batch(new_id(), first_seq=min(p.first_seq for p in self._pending.values()))
        for run_id in list(self._pending):
            if len(batch.writes) >= MAX_BATCH_RUNS or min(budget.values()) <= 0:
                break
            pending = self._pending[run_id]
            writes, artifacts, exhausted = pending.take(budget)
            batch.writes.append(writes)
            batch.uploads.extend(artifacts)
            if exhausted:
                del self._pending[run_id]
        return batch

    def _send(self, batch: Batch) -> bool:
        """Send what is left of a batch; False if the server stayed unreachable (the batch is
        kept, and sent again later under the same ids, so what did land is not applied twice)."""
        try:
            if not batch.ingested:
                if not batch.refused:
                    try:
                        self.transport.ingest(batch.writes, batch.id, retry_for=self.attempt_window)
                    except Unavailable:
                        raise
                    except Exception:  # refused as a whole (or unsendable): find the part at fault
                        batch.refused = True
                if batch.refused:
                    self._send_isolated(batch)
                batch.ingested = True
            self._upload(batch)
        except Unavailable:
            return False
        return True

    def _send_isolated(self, batch: Batch) -> None:
        """The server refused the batch as a whole (batches are atomic). Send each run alone; a
        refused run in parts (create and metrics, tags, params, end), and a refused part key by
        key where the server named the key, so that only what is at fault is lost and the rest,
        the run's end included, still lands."""
        for index, writes in enumerate(batch.writes):
            self._send_piece(batch, (index,), writes, "writes", [], split=lambda w, _what: _parts(w))

    def _send_piece(
        self,
        batch: Batch,
        path: tuple[int, ...],
        piece: RunWrites,
        what: str,
        keys: list[str],
        split: Callable[[RunWrites, str], list[tuple[RunWrites, str, list[str]]]] | None,
    ) -> None:
        piece_id = _derived_id(batch.id, *path)
        if piece_id in batch.done:
            return
        try:
            self.transport.ingest([piece], piece_id, retry_for=self.attempt_window)
        except Unavailable:
            raise
        except Exception as exc:
            self._back_off_on_server_error(batch, piece_id, exc)
            smaller = split(piece, what) if split is not None else []
            if len(path) == 1 or (len(smaller) > 1 and _names_one_key(exc)):
                for index, (part, part_what, part_keys) in enumerate(smaller):
                    next_split = _by_key if len(path) == 1 and len(part_keys) > 1 else None
                    self._send_piece(batch, (*path, index), part, part_what, part_keys, next_split)
            else:
                self._fail(batch, piece.run_id, what, keys, exc)
        with self._cond:
            batch.done.add(piece_id)

    def _upload(self, batch: Batch) -> None:
        for upload in batch.uploads:
            if upload.done:
                continue
            try:
                self.transport.log_artifact(
                    upload.run_id, upload.path, upload.source, retry_for=self.attempt_window
                )
            except Unavailable:
                raise
            except Exception as exc:
                self._back_off_on_server_error(batch, f"upload:{upload.run_id}/{upload.path}", exc)
                self._fail(batch, upload.run_id, "artifact", [upload.path], exc)
            with self._cond:
                upload.done = True

    def _back_off_on_server_error(self, batch: Batch, piece_id: str, exc: BaseException) -> None:
        """A server error (5xx) on a piece is the server's trouble more often than the data's (a
        database busy or restarting): the batch waits and tries the piece again, as in an outage, a
        few rounds before the piece is given up as refused."""
        if not isinstance(exc, PlimsollError) or exc.status < 500:
            return
        rounds = batch.server_errors.get(piece_id, 0) + 1
        if rounds >= SERVER_ERROR_ROUNDS:
            return
        with self._cond:
            batch.server_errors[piece_id] = rounds
        raise Unavailable(
            f"the server failed on a write ({exc.message}); it is kept and tried again"
        ) from exc

    def _fail(self, batch: Batch, run_id: str, what: str, keys: list[str], exc: BaseException) -> None:
        if not isinstance(exc, PlimsollError):
            log.error("Plimsoll: unexpected error while sending", exc_info=exc)
        cause = exc if isinstance(exc, PlimsollError) else PlimsollError(f"{type(exc).__name__}: {exc}")
        named = f" {', '.join(map(repr, keys))}" if keys else ""
        error = type(cause).from_wire(
            f"run {run_id}: {what}{named} not saved: {cause.message}",
            {**cause.details, "run_id": run_id, "keys": keys},
        )
        log.error("Plimsoll: %s", error.message)
        with self._cond:
            if batch.adopted:
                if self._report is not None:
                    self._report.failures.append(Failure(run_id, what, keys, error))
            else:
                self._errors.setdefault(run_id, error)


def _spool_name(upload: Upload) -> str:
    assert upload.spool_name is not None  # given by Spool.keep_uploads
    return upload.spool_name


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

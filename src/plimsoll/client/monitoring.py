"""`client.monitoring`: logging what a model saw and said, and reading it back.

    ids = client.log_predictions("churn@production", features, predictions, scores=proba)
    client.log_labels(ids, truth)                      # any time later
    client.log_outcomes(ids, {"revenue": revenue})
    client.monitoring.score("churn@production", "customers@7")   # a batch model (client.scoring)

A call returns at once: its rows join a buffer that a background thread sends in large batches
(every `flush_interval` seconds, sooner when `flush_rows` are waiting), as Arrow IPC. Small calls
cost little: a served model's few rows a call (features a list of dicts) wait as Python values
and are built into one table with thousands of others, and small tables are copied into one, so
that neither time nor memory goes on a table per call. Memory is
bounded by `max_buffered_rows`: at the bound a call waits for room (`when_full="block"`, the
default, up to `block_timeout` seconds, then raises) or its rows are counted in `dropped` and
not logged (`when_full="drop"`), never dropped unseen. A batch the server cannot take now is
retried with backoff under the same batch id (stored once however often it arrives); one it
refuses is counted in `refused` and its error raised by the next call or `flush`.
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Union

from plimsoll.core.errors import InvalidParameter, Unavailable
from plimsoll.core.ids import new_id, now_ms
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.monitoring.entities import (
    DEFAULT_SCORING_BATCH,
    ID_COLUMN,
    KINDS,
    MAX_BATCH_BYTES,
    MAX_ROWS_PER_BATCH,
    Segment,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    import pyarrow as pa

    from plimsoll.client.client import Client
    from plimsoll.client.scoring import Progress
    from plimsoll.client.transport import Transport
    from plimsoll.monitoring.entities import Scoring
    from plimsoll.monitoring.tables import GatheredRows, RowLayout

log = logging.getLogger("plimsoll.client")

WHEN_FULL = ("block", "drop")
MAX_RETRY_DELAY_S = 30.0
# A predictions call of at most this many rows, features a list of dicts, waits as Python values
# (`tables.RowLayout`); a table below SMALL_TABLE_ROWS rows is copied into one with the others every
# COMPACT_TABLES tables. Either way, at GATHER_ROWS rows what was gathered becomes one table.
GATHER_CALL_ROWS = 256
SMALL_TABLE_ROWS = 1_000
COMPACT_TABLES = 64
GATHER_ROWS = 4_096
MAX_CACHED = 1_024  # model references parsed and row layouts kept, each


class _Key(NamedTuple):  # a tuple: made and hashed on every call, at C speed
    kind: str
    project: str
    model: str | None
    deployment: str
    role: str


@dataclass
class _Batch:
    key: _Key
    table: pa.Table
    id: str


class _SmallTables:
    """Small tables of one schema, copied into one every COMPACT_TABLES (and when they reach
    GATHER_ROWS rows): a table holds ~30 KB of buffers and bookkeeping however few its rows, so a
    buffer of one-row tables would hold gigabytes long before `max_buffered_rows`."""

    def __init__(self, table: pa.Table) -> None:
        self.tables = [table]
        self.num_rows = table.num_rows
        self.schema = table.schema

    def takes(self, table: pa.Table) -> bool:
        return self.num_rows < GATHER_ROWS and bool(table.schema.equals(self.schema))

    def add(self, table: pa.Table) -> None:
        self.tables.append(table)
        self.num_rows += table.num_rows
        if len(self.tables) >= COMPACT_TABLES or self.num_rows >= GATHER_ROWS:
            self.tables = [self.table()]

    def table(self) -> pa.Table:
        import pyarrow as pa

        if len(self.tables) == 1:
            return self.tables[0]
        return pa.concat_tables(self.tables).combine_chunks()


_Part = Union["pa.Table", _SmallTables, "GatheredRows"]


class Monitoring:
    def __init__(
        self,
        transport: Transport,
        *,
        max_buffered_rows: int = 2_000_000,
        flush_rows: int = 100_000,
        flush_interval: float = 1.0,
        when_full: str = "block",
        block_timeout: float = 60.0,
        client: Client | None = None,
    ) -> None:
        if when_full not in WHEN_FULL:
            raise InvalidParameter("when_full", f"must be one of {', '.join(WHEN_FULL)}; got {when_full!r}")
        self._transport = transport
        self._client = client  # what batch scoring loads models and registers datasets through
        self.max_buffered_rows = max_buffered_rows
        self.flush_rows = min(flush_rows, max_buffered_rows)
        self.flush_interval = flush_interval
        self.when_full = when_full
        self.block_timeout = block_timeout
        self._lock = threading.Condition()
        self._pending: dict[_Key, list[_Part]] = {}
        self._pending_rows = 0
        self._ready: deque[_Batch] = deque()  # taken from pending, with their ids: sent in order
        self._buffered = 0  # rows pending or ready
        self._refs: dict[str, tuple[str, int | None, str | None]] = {}
        self._layouts: dict[_Key, RowLayout] = {}
        self._sending = False
        self._dropped = 0
        self._refused = 0
        self._errors: list[Exception] = []
        self._thread: threading.Thread | None = None
        self._closed = False
        self._last_send = time.monotonic()

    def __repr__(self) -> str:
        return f"<plimsoll monitoring of {self._transport.destination}: {self._buffered} rows buffered>"

    # -- logging ----------------------------------------------------------------------------------

    def log_predictions(
        self,
        model: str,
        features: Any,
        predictions: Any,
        *,
        scores: Any = None,
        ids: Any = None,
        timestamps: Any = None,
        deployment: str = "",
        role: str = "",
        project: str = DEFAULT_PROJECT,
    ) -> pa.Array:
        """Log what `model` (NAME/VERSION, or NAME@ALIAS: the version it holds now, looked up by
        this call) was given and answered, one row per prediction; answers the rows' ids (made
        when `ids` is None), which `log_labels` and `log_outcomes` name later."""
        import pyarrow as pa

        from plimsoll.monitoring.tables import RowLayout, prediction_table

        name, version, alias = self._model_ref(model)
        if version is None:  # the rows record the version that answered, not the one at sending
            version = self._transport.registry_version(project, name, None, alias).version
        key = _Key("predictions", project, f"{name}/{version}", deployment, role)
        small = type(features) is list and 0 < len(features) <= GATHER_CALL_ROWS
        if small and ids is None and timestamps is None:
            layout = self._layouts.get(key)
            values = None if layout is None else layout.values(features, predictions, scores)
            if layout is not None and values is not None:
                prefix = new_id()
                made = [f"{prefix}-{row}" for row in range(len(features))]
                self._gather(key, layout, made, now_ms(), values)
                return pa.array(made, pa.string())
        table = prediction_table(
            features, predictions, scores=scores, ids=ids, timestamps=timestamps, now_ms=now_ms()
        )
        if small and ids is None and timestamps is None:  # later calls like it gather their rows
            found = RowLayout.of(table)
            if found is not None:
                if len(self._layouts) >= MAX_CACHED:
                    self._layouts.clear()
                self._layouts[key] = found
        self._add(key, table)
        return table.column(ID_COLUMN).combine_chunks()

    def log_labels(
        self,
        ids: Any,
        labels: Any,
        *,
        model: str | None = None,
        timestamps: Any = None,
        project: str = DEFAULT_PROJECT,
    ) -> None:
        """The truth for predictions logged earlier, by their ids (of `model`, a NAME, if given)."""
        from plimsoll.monitoring.tables import label_table

        self._add(
            _Key("labels", project, model, "", ""),
            label_table(ids, labels, timestamps=timestamps, now_ms=now_ms()),
        )

    def log_outcomes(
        self,
        ids: Any,
        outcomes: Any,
        *,
        model: str | None = None,
        timestamps: Any = None,
        project: str = DEFAULT_PROJECT,
    ) -> None:
        """Business outcomes of predictions logged earlier (`{"revenue": [...], "converted": [...]}`)."""
        from plimsoll.monitoring.tables import outcome_table

        table = outcome_table(ids, outcomes, timestamps=timestamps, now_ms=now_ms())
        self._add(_Key("outcomes", project, model, "", ""), table)

    @property
    def dropped(self) -> int:
        """Rows not logged because the buffer was full (`when_full="drop"`)."""
        return self._dropped

    @property
    def refused(self) -> int:
        """Rows the server refused (their error is raised by the next call or `flush`)."""
        return self._refused

    @property
    def buffered(self) -> int:
        return self._buffered

    def flush(self, timeout: float | None = None) -> None:
        """Send everything buffered; raise the first refusal since the last call. TimeoutError
        after `timeout` seconds if the server has not taken it all."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._take_all()
            self._ensure_thread()
            self._lock.notify_all()
            while self._buffered and not self._closed_early():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"{self._buffered} logged rows are not sent yet after {timeout:g} s")
                self._lock.wait(0.05 if left is None else min(left, 0.05))
            self._raise_error()

    def close(self, timeout: float = 30.0) -> None:
        """Send what is buffered, waiting up to `timeout` seconds; what is still unsent then is
        counted in `dropped` (and logged). A refusal not yet raised is raised."""
        try:
            if self._buffered:
                self.flush(timeout)
        except TimeoutError:
            pass  # counted below
        finally:
            with self._lock:
                self._closed = True
                # What the server never took by now is not sent: counted and said, not lost unseen.
                if self._buffered:
                    self._dropped += self._buffered
                    log.warning("monitoring: %d rows not sent before close were dropped", self._buffered)
                self._pending.clear()
                self._pending_rows = 0
                self._ready.clear()
                self._buffered = 0
                self._lock.notify_all()

    # -- batch scoring ----------------------------------------------------------------------------

    def score(
        self,
        model: str,
        dataset: str,
        *,
        output: str | None = None,
        id_column: str | None = None,
        features: Sequence[str] | None = None,
        timestamp: datetime | int | None = None,
        batch_size: int = DEFAULT_SCORING_BATCH,
        project: str = DEFAULT_PROJECT,
        progress: Progress | None = None,
    ) -> Scoring:
        """Predict every row of dataset version `dataset` with `model` (NAME@ALIAS: the version it
        holds now, resolved once), write the predictions as a version of dataset `output`
        (default `<dataset>-scored-by-<model>`: id, prediction, score, model), log them as the
        model's predictions (a scoring run again logs nothing twice), and link the output in the
        lineage graph. `id_column` gives the ids (else `NAME@VERSION-ROW`), `features` the
        columns the model takes (default its signature's), `timestamp` when the predictions count
        as made (default now). `progress(phase, done, total)` follows it (`client.scoring`)."""
        from plimsoll.client.scoring import score

        if self._client is None:
            raise InvalidParameter(
                "client", "this Monitoring was made from a transport alone: score through client.monitoring"
            )
        return score(
            self._client,
            model,
            dataset,
            output=output,
            id_column=id_column,
            features=features,
            timestamp=timestamp,
            batch_size=batch_size,
            project=project,
            progress=progress,
        )

    # -- reading ----------------------------------------------------------------------------------

    def segments(self, kind: str = "predictions", **where: Any) -> builtins.list[Segment]:
        """The Parquet segments holding logged rows of `kind`: `model=` (NAME or NAME/VERSION),
        `deployment=`, `role=`, `since=` / `until=` (epoch ms), `project=`."""
        return self._transport.monitoring_segments(_kind(kind), {"project": DEFAULT_PROJECT, **where})

    def read(self, kind: str = "predictions", **where: Any) -> pa.Table:
        """The logged rows of `kind`, oldest first, as an Arrow table (`segments`' filters)."""
        return self._transport.monitoring_read(_kind(kind), {"project": DEFAULT_PROJECT, **where})

    # -- inside -----------------------------------------------------------------------------------

    def _model_ref(self, model: str) -> tuple[str, int | None, str | None]:
        from plimsoll.model_registry.entities import parse_model_ref

        found = self._refs.get(model)
        if found is None:
            found = parse_model_ref("model", model)
            if len(self._refs) >= MAX_CACHED:
                self._refs.clear()
            self._refs[model] = found
        return found

    def _add(self, key: _Key, table: pa.Table) -> None:
        rows = table.num_rows
        with self._lock:
            if not self._admit(rows):
                return
            parts = self._pending.setdefault(key, [])
            if rows < SMALL_TABLE_ROWS:
                last = parts[-1] if parts else None
                if isinstance(last, _SmallTables) and last.takes(table):
                    last.add(table)
                else:
                    parts.append(_SmallTables(table))
            else:
                parts.append(table)
            self._added(rows)

    def _gather(self, key: _Key, layout: RowLayout, ids: builtins.list[str], at: int, values: Any) -> None:
        from plimsoll.monitoring.tables import GatheredRows

        rows = len(ids)
        with self._lock:
            if not self._admit(rows):
                return
            parts = self._pending.setdefault(key, [])
            last = parts[-1] if parts else None
            if not (isinstance(last, GatheredRows) and last.layout is layout and last.num_rows < GATHER_ROWS):
                last = GatheredRows(layout)
                parts.append(last)
            last.add(ids, at, values)
            self._added(rows)
            if last.num_rows >= GATHER_ROWS:
                # Rows of a layout build by design; were it not so, _take_all would try again and
                # count them as refused, saying why.
                with contextlib.suppress(Exception):
                    parts[-1] = last.table()

    def _admit(self, rows: int) -> bool:
        """Whether `rows` more may join the buffer (waiting for room if need be). Called locked."""
        self._raise_error()
        if self._closed:
            raise InvalidParameter("client", "is closed: its monitoring logs nothing more")
        return self._buffered + rows <= self.max_buffered_rows or self._room_for(rows)

    def _added(self, rows: int) -> None:
        self._buffered += rows
        self._pending_rows += rows
        self._ensure_thread()
        if self._pending_rows >= self.flush_rows:
            self._lock.notify_all()

    def _room_for(self, rows: int) -> bool:
        """Wait for the sender to make room (block), or count the rows as dropped. Called locked."""
        if self.when_full == "drop" or rows > self.max_buffered_rows:
            self._dropped += rows
            log.warning("monitoring buffer full: %d rows dropped (%d in all)", rows, self._dropped)
            return False
        deadline = time.monotonic() + self.block_timeout
        self._take_all()
        self._lock.notify_all()
        while self._buffered + rows > self.max_buffered_rows:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Unavailable(
                    f"the monitoring buffer holds {self._buffered} rows (its bound is "
                    f"{self.max_buffered_rows}) and the server has not taken them for {self.block_timeout:g} s"
                )
            self._lock.wait(min(left, 0.1))
        return True

    def _take_all(self) -> None:
        """Move what is pending into batches, each with its id from now on. Called locked."""
        import pyarrow as pa

        for key, parts in self._pending.items():
            tables = []
            for part in parts:
                try:
                    tables.append(part if isinstance(part, pa.Table) else part.table())
                except Exception as exc:  # a fault of this process: said, counted, never silent
                    self._not_sent(key, part.num_rows, exc)
            for table in _joined(tables):
                for piece in batch_parts(table):
                    self._ready.append(_Batch(key, piece, new_id()))
        self._pending.clear()
        self._pending_rows = 0

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="plimsoll-monitoring", daemon=True)
            self._thread.start()

    def _stopped(self) -> bool:
        return self._closed

    def _closed_early(self) -> bool:
        return self._closed and not (self._thread and self._thread.is_alive())

    def _loop(self) -> None:
        delay = 0.0
        while True:
            with self._lock:
                while not self._ready or self._closed:
                    if self._closed:
                        return
                    waited = time.monotonic() - self._last_send
                    if self._pending and (
                        self._pending_rows >= self.flush_rows or waited >= self.flush_interval
                    ):
                        self._take_all()
                        break
                    self._lock.wait(max(0.01, self.flush_interval - waited) if self._pending else None)
                batch = self._ready[0]
            if delay:
                time.sleep(delay)
            if self._stopped():
                return
            delay = self._send(batch, delay)

    def _send(self, batch: _Batch, delay: float) -> float:
        """Send one batch; the delay before the next attempt (0 once it went through)."""
        key = batch.key
        where = {
            "project": key.project,
            "model": key.model,
            "deployment": key.deployment,
            "role": key.role,
            "batch": batch.id,
        }
        try:
            self._transport.monitoring_log(key.kind, batch.table, where)
        except Unavailable as exc:
            log.warning(
                "monitoring: the server did not take %d rows (%s); retrying", batch.table.num_rows, exc
            )
            return min(MAX_RETRY_DELAY_S, max(0.25, delay * 2))
        except Exception as exc:  # a refusal, or a fault of this process: either way, said
            with self._lock:
                self._refused += batch.table.num_rows
                self._errors.append(exc)
                self._done(batch)
            log.error("monitoring: %d %s rows refused: %s", batch.table.num_rows, key.kind, exc)
            return 0.0
        with self._lock:
            self._done(batch)
        return 0.0

    def _not_sent(self, key: _Key, rows: int, exc: Exception) -> None:
        """Pending rows that could not be made into a batch: counted as refused, their error raised
        by the next call or `flush`. Called locked."""
        self._errors.append(exc)
        self._refused += rows
        self._buffered -= rows
        log.error("monitoring: %d %s rows not sent: %s", rows, key.kind, exc)

    def _done(self, batch: _Batch) -> None:
        if self._closed:  # close counted it already
            return
        self._ready.popleft()
        self._buffered -= batch.table.num_rows
        self._last_send = time.monotonic()
        self._lock.notify_all()

    def _raise_error(self) -> None:
        if self._errors:
            first, self._errors = self._errors[0], []
            raise first


def _joined(tables: builtins.list[pa.Table]) -> builtins.list[pa.Table]:
    """`tables` as one (types widened where they differ: an int column and a float one); when
    they cannot be, each run of tables of one schema as one (the server checks each)."""
    import pyarrow as pa

    if len(tables) <= 1:
        return tables
    try:
        return [pa.concat_tables(tables, promote_options="permissive")]
    except pa.ArrowException:
        runs: builtins.list[builtins.list[pa.Table]] = []
        for table in tables:
            if runs and runs[-1][0].schema.equals(table.schema):
                runs[-1].append(table)
            else:
                runs.append([table])
        return [pa.concat_tables(run) if len(run) > 1 else run[0] for run in runs]


def batch_parts(table: pa.Table) -> builtins.list[pa.Table]:
    """`table` in pieces the server takes: at most MAX_ROWS_PER_BATCH rows and about half the
    request limit each."""
    if table.num_rows == 0:
        return []
    per_row = max(1, table.nbytes // table.num_rows)
    rows = max(1, min(MAX_ROWS_PER_BATCH, (MAX_BATCH_BYTES // 2) // per_row))
    return [table.slice(start, rows) for start in range(0, table.num_rows, rows)]


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise InvalidParameter("kind", f"must be one of {', '.join(KINDS)}; got {kind!r}")
    return kind

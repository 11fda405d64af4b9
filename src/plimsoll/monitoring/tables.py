"""Logged rows as Arrow tables: built from what a caller has (the SDK), checked (the server),
split by UTC day and written as Parquet (the service). No I/O but bytes in and out.

The SDK builds a table with `prediction_table`, `label_table` or `outcome_table` and sends it as
an Arrow IPC stream; the server reads it back (`from_ipc`) and checks it (`check_table`) whoever
built it, so a client in another language only has to send the same columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.ids import new_id
from plimsoll.core.validation import printable
from plimsoll.monitoring.entities import (
    DAY_MS,
    ID_COLUMN,
    LABEL_COLUMN,
    MAX_COLUMNS,
    MAX_ID_LENGTH,
    MAX_ROWS_PER_BATCH,
    PREDICTION_COLUMN,
    REQUIRED_COLUMNS,
    SCORE_COLUMN,
    TS_COLUMN,
    check_column_name,
)

MAX_TS = 2**53  # epoch ms a JSON number carries exactly (year 285,616)
PARQUET_COMPRESSION = "zstd"


# -- built by the SDK ------------------------------------------------------------------------------


def prediction_table(
    features: Any,
    predictions: Any,
    *,
    scores: Any = None,
    ids: Any = None,
    timestamps: Any = None,
    now_ms: int,
) -> pa.Table:
    """A predictions table: `features` a pandas or polars DataFrame, an Arrow table, a list of
    dicts (one per row) or a dict of columns; `predictions` one per row; `scores` the positive
    class's probability (one number a row) or every class's (a row of numbers); `ids` one per row
    (made when None: `<batch>-<row>`); `timestamps` epoch ms or datetimes (now when None)."""
    table = as_table("features", features)
    rows = table.num_rows
    columns = {
        ID_COLUMN: _ids(ids, rows),
        TS_COLUMN: _timestamps(timestamps, rows, now_ms),
        PREDICTION_COLUMN: _column("predictions", predictions, rows),
    }
    if scores is not None:
        columns[SCORE_COLUMN] = _scores(scores, rows)
    for name in table.column_names:
        check_column_name(f"features.{printable(name)[:80]}", name, kind="predictions")
    return pa.table({**columns, **{name: table.column(name) for name in table.column_names}})


def label_table(ids: Any, labels: Any, *, timestamps: Any = None, now_ms: int) -> pa.Table:
    id_array = _column("ids", ids, None)
    rows = len(id_array)
    return pa.table(
        {
            ID_COLUMN: id_array,
            TS_COLUMN: _timestamps(timestamps, rows, now_ms),
            LABEL_COLUMN: _column("labels", labels, rows),
        }
    )


def outcome_table(ids: Any, outcomes: Any, *, timestamps: Any = None, now_ms: int) -> pa.Table:
    """Outcomes by name: a dict of columns, a DataFrame or an Arrow table, one row per id."""
    id_array = _column("ids", ids, None)
    rows = len(id_array)
    table = as_table("outcomes", outcomes)
    if table.num_rows != rows:
        raise InvalidParameter("outcomes", f"has {table.num_rows} rows for {rows} ids")
    if table.num_columns == 0:
        raise InvalidParameter("outcomes", "names no outcome: give at least one, e.g. {'revenue': [...]}")
    for name in table.column_names:
        check_column_name(f"outcomes.{printable(name)[:80]}", name, kind="outcomes")
    base = {ID_COLUMN: id_array, TS_COLUMN: _timestamps(timestamps, rows, now_ms)}
    return pa.table({**base, **{name: table.column(name) for name in table.column_names}})


def as_table(field_name: str, data: Any) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pa.RecordBatch):
        return pa.Table.from_batches([data])
    if hasattr(data, "to_arrow") and not hasattr(data, "iloc"):  # polars
        return data.to_arrow()
    if hasattr(data, "iloc"):  # pandas
        return pa.Table.from_pandas(data, preserve_index=False)
    if isinstance(data, Mapping):
        return pa.table({str(k): _column(f"{field_name}.{k}", v, None) for k, v in data.items()})
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        if any(not isinstance(row, Mapping) for row in data):
            raise InvalidParameter(
                field_name, "must be a DataFrame, an Arrow table, a dict of columns or a list of dicts"
            )
        return pa.Table.from_pylist(list(data))
    raise InvalidParameter(
        field_name,
        f"must be a DataFrame, an Arrow table, a dict of columns or a list of dicts; got {type(data).__name__}",
    )


def _column(field_name: str, values: Any, rows: int | None) -> pa.Array | pa.ChunkedArray:
    try:
        if isinstance(values, pa.Array | pa.ChunkedArray):
            array = values
        elif hasattr(values, "to_numpy") and hasattr(values, "dtype"):  # a pandas or polars Series
            array = pa.array(values.to_numpy())
        else:
            array = pa.array(np.asarray(values) if not isinstance(values, list) else values)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise InvalidParameter(field_name, f"cannot be read as one column: {exc}") from None
    if rows is not None and len(array) != rows:
        raise InvalidParameter(field_name, f"has {len(array)} values for {rows} rows")
    return array


def _ids(ids: Any, rows: int) -> pa.Array:
    if ids is not None:
        return pc.cast(_column("ids", ids, rows), pa.string())
    numbers = pc.cast(pa.array(np.arange(rows, dtype=np.int64)), pa.string())
    return pc.binary_join_element_wise(new_id(), numbers, "-")


def _timestamps(timestamps: Any, rows: int, now_ms: int) -> pa.Array:
    if timestamps is None:
        return pa.array(np.full(rows, now_ms, dtype=np.int64))
    return _epoch_ms("timestamps", _column("timestamps", timestamps, rows))


def _scores(scores: Any, rows: int) -> pa.Array | pa.ChunkedArray:
    array = np.asarray(scores, dtype=np.float64) if not isinstance(scores, pa.Array) else scores
    if isinstance(array, np.ndarray) and array.ndim == 2:
        if len(array) != rows:
            raise InvalidParameter("scores", f"has {len(array)} rows for {rows} predictions")
        return pa.FixedSizeListArray.from_arrays(pa.array(array.ravel()), array.shape[1])
    return pc.cast(_column("scores", array, rows), pa.float64())


def _epoch_ms(field_name: str, array: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    if pa.types.is_timestamp(array.type) or pa.types.is_date(array.type):
        return pc.cast(pc.cast(array, pa.timestamp("ms", tz="UTC")), pa.int64())
    if pa.types.is_integer(array.type):
        return pc.cast(array, pa.int64())
    raise InvalidParameter(field_name, f"must be epoch milliseconds or datetimes; got {array.type}")


# -- checked by the server --------------------------------------------------------------------------


def check_table(kind: str, table: pa.Table) -> pa.Table:
    """`table` as a `kind` table must be: its required columns, ids of at most MAX_ID_LENGTH
    characters and none missing or repeated, times in epoch ms; at most MAX_ROWS_PER_BATCH rows
    and MAX_COLUMNS columns. Answers it with ids as strings and times as int64."""
    if table.num_rows == 0:
        raise InvalidParameter("rows", "the batch is empty: there is nothing to log")
    if table.num_rows > MAX_ROWS_PER_BATCH:
        raise InvalidParameter("rows", f"{table.num_rows} in one batch; the limit is {MAX_ROWS_PER_BATCH}")
    if table.num_columns > MAX_COLUMNS:
        raise InvalidParameter("columns", f"{table.num_columns} in one batch; the limit is {MAX_COLUMNS}")
    if len(set(table.column_names)) != table.num_columns:
        repeated = sorted({n for n in table.column_names if table.column_names.count(n) > 1})
        raise InvalidParameter("columns", f"named twice: {', '.join(printable(n)[:80] for n in repeated)}")
    for name in REQUIRED_COLUMNS[kind]:
        if name not in table.column_names:
            raise InvalidParameter("columns", f"a {kind} batch needs the column {name}")
    for name in table.column_names:
        check_column_name(f"columns.{printable(name)[:80]}", name, kind=kind)
    ids = table.column(ID_COLUMN)
    if not (pa.types.is_string(ids.type) or pa.types.is_large_string(ids.type)):
        raise InvalidParameter(ID_COLUMN, f"must be text; got {ids.type}")
    ids = pc.cast(ids, pa.string())
    if ids.null_count:
        raise InvalidParameter(ID_COLUMN, f"{ids.null_count} rows have no id")
    longest = pc.max(pc.utf8_length(ids)).as_py()
    if longest is not None and longest > MAX_ID_LENGTH:
        raise InvalidParameter(ID_COLUMN, f"an id is {longest} characters long; the limit is {MAX_ID_LENGTH}")
    if kind == "predictions" and pc.count_distinct(ids).as_py() != table.num_rows:
        counts = pc.value_counts(ids)
        repeated = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
        raise InvalidParameter(
            ID_COLUMN, f"repeats {printable(repeated[0].as_py())[:80]!r}: a prediction's id is its own"
        )
    times = _epoch_ms(TS_COLUMN, table.column(TS_COLUMN))
    if times.null_count:
        raise InvalidParameter(TS_COLUMN, f"{times.null_count} rows have no time")
    low, high = pc.min_max(times).values()
    if low.as_py() < 0 or high.as_py() >= MAX_TS:
        raise InvalidParameter(
            TS_COLUMN, f"must be epoch milliseconds from 0 to {MAX_TS}; got {low} to {high}"
        )
    if kind == "predictions" and SCORE_COLUMN in table.column_names:
        _check_scores(table.column(SCORE_COLUMN))
    table = table.set_column(table.column_names.index(ID_COLUMN), ID_COLUMN, ids)
    return table.set_column(table.column_names.index(TS_COLUMN), TS_COLUMN, times)


def _check_scores(scores: pa.ChunkedArray) -> None:
    kind = scores.type
    numeric = pa.types.is_floating(kind) or pa.types.is_integer(kind)
    listed = (pa.types.is_list(kind) or pa.types.is_fixed_size_list(kind)) and (
        pa.types.is_floating(kind.value_type) or pa.types.is_integer(kind.value_type)
    )
    if not (numeric or listed):
        raise InvalidParameter(SCORE_COLUMN, f"must be numbers (or a list of numbers a row); got {kind}")


# -- stored by the service ----------------------------------------------------------------------------


def split_by_day(table: pa.Table) -> list[tuple[int, pa.Table]]:
    """The rows of each UTC day (days since the epoch), in day order, each in its original order."""
    days = pc.divide(table.column(TS_COLUMN), pa.scalar(DAY_MS, pa.int64()))
    low, high = pc.min_max(days).values()
    if low.as_py() == high.as_py():
        return [(low.as_py(), table)]
    found = []
    for day in pc.unique(days).to_pylist():
        found.append((day, table.filter(pc.equal(days, day))))
    return sorted(found, key=lambda item: item[0])


def to_parquet(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    try:
        pq.write_table(table, sink, compression=PARQUET_COMPRESSION)
    except pa.ArrowException as exc:  # a type Parquet has no place for (a union, say)
        raise InvalidParameter("columns", f"cannot be stored as Parquet: {exc}") from None
    content: bytes = sink.getvalue().to_pybytes()
    return content


def to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    content: bytes = sink.getvalue().to_pybytes()
    return content


def from_ipc(body: bytes) -> pa.Table:
    try:
        return pa.ipc.open_stream(pa.py_buffer(body)).read_all()
    except (pa.ArrowException, OSError) as exc:
        raise InvalidParameter("body", f"is not an Arrow IPC stream: {exc}") from None


# -- sent as JSON ---------------------------------------------------------------------------------

JSON_FIELDS: dict[str, tuple[str, ...]] = {
    "predictions": ("features", "predictions", "scores", "ids", "timestamps"),
    "labels": ("ids", "labels", "timestamps"),
    "outcomes": ("ids", "outcomes", "timestamps"),
}


def json_table(kind: str, document: Any, *, now_ms: int) -> pa.Table:
    """A `kind` table from the JSON a client without Arrow sends: the arguments of the SDK's call
    by name (`features` a list of objects or an object of columns; times in epoch ms)."""
    if not isinstance(document, dict):
        raise InvalidParameter("body", f"must be a JSON object with {', '.join(JSON_FIELDS[kind])}")
    for key in document:
        if key not in JSON_FIELDS[kind]:
            raise InvalidParameter(
                f"body.{printable(key)[:80]}",
                f"is not known here; a {kind} body holds {', '.join(JSON_FIELDS[kind])}",
            )
    for key in JSON_FIELDS[kind][:2]:
        if key not in document:
            raise InvalidParameter(f"body.{key}", "is required")
    try:
        return _from_json(kind, document, now_ms)
    except (pa.ArrowException, ValueError, TypeError) as exc:  # columns that do not line up
        raise InvalidParameter("body", f"cannot be read as a {kind} table: {exc}") from None


def _from_json(kind: str, document: dict[str, Any], now_ms: int) -> pa.Table:
    if kind == "predictions":
        return prediction_table(
            document["features"],
            document["predictions"],
            scores=document.get("scores"),
            ids=document.get("ids"),
            timestamps=document.get("timestamps"),
            now_ms=now_ms,
        )
    if kind == "labels":
        return label_table(
            document["ids"], document["labels"], timestamps=document.get("timestamps"), now_ms=now_ms
        )
    return outcome_table(
        document["ids"], document["outcomes"], timestamps=document.get("timestamps"), now_ms=now_ms
    )

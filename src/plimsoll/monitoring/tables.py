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
PARQUET_DICTIONARY_BYTES = 64 * 1024


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
        return _from_pandas(field_name, data)
    if isinstance(data, Mapping):
        return pa.table({str(k): _column(f"{field_name}.{k}", v, None) for k, v in data.items()})
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        if any(not isinstance(row, Mapping) for row in data):
            raise InvalidParameter(
                field_name, "must be a DataFrame, an Arrow table, a dict of columns or a list of dicts"
            )
        return _from_rows(field_name, data)
    raise InvalidParameter(
        field_name,
        f"must be a DataFrame, an Arrow table, a dict of columns or a list of dicts; got {type(data).__name__}",
    )


def _from_pandas(field_name: str, frame: Any) -> pa.Table:
    """A DataFrame's columns, each converted as `pa.Table.from_pandas` converts it (`pa.array(...,
    from_pandas=True)`), without the index and without the pandas metadata from_pandas also builds,
    half its time for a call of 1,000 rows. Columns not named by distinct text (and a frame of no
    columns) go through from_pandas itself, on one thread: a pool of threads started for each call
    costs more than the conversion."""
    names = list(frame.columns)
    try:
        if not names or len(set(names)) != len(names) or any(type(name) is not str for name in names):
            return pa.Table.from_pandas(frame, preserve_index=False, nthreads=1)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise InvalidParameter(field_name, f"cannot be read as a table: {exc}") from None
    arrays = []
    for name, series in frame.items():
        try:
            arrays.append(pa.array(series, from_pandas=True))
        except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
            raise InvalidParameter(
                f"{field_name}.{printable(name)[:80]}", f"cannot be read as one column: {exc}"
            ) from None
    return pa.Table.from_arrays(arrays, names=names)


def _from_rows(field_name: str, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """A table of one column per key any row has (in the order first seen; null where a row lacks
    it), each column's error naming it."""
    names = list(dict.fromkeys(key for row in rows for key in row))
    columns = {}
    for name in names:
        try:
            columns[str(name)] = pa.array([row.get(name) for row in rows])
        except (pa.ArrowException, ValueError, TypeError, OverflowError) as exc:
            raise InvalidParameter(
                f"{field_name}.{printable(name)[:80]}", f"cannot be read as one column: {exc}"
            ) from None
    return pa.table(columns)


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
    return pc.binary_join_element_wise(new_id(), _row_numbers(rows), "-")


_ROW_NUMBERS: list[pa.Array] = []  # "0" to "65535", made once: most calls slice it
ROW_NUMBERS_KEPT = 65_536


def _row_numbers(rows: int) -> pa.Array:
    """The row numbers 0 to rows - 1 as text."""
    if rows > ROW_NUMBERS_KEPT:
        return pc.cast(pa.array(np.arange(rows, dtype=np.int64)), pa.string())
    if not _ROW_NUMBERS:
        _ROW_NUMBERS.append(pc.cast(pa.array(np.arange(ROW_NUMBERS_KEPT, dtype=np.int64)), pa.string()))
    return _ROW_NUMBERS[0].slice(0, rows)


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


# -- small calls, gathered by the SDK -----------------------------------------------------------------

# Ints a double holds exactly, and the range kept as Python values: a call with a larger one gets
# a table of its own, whose building checks it.
EXACT_INT = 2**53
_NONE = type(None)


def _python_types(kind: pa.DataType) -> frozenset[type] | None:
    """The Python types a column of `kind` takes as it is (None: no such types are kept)."""
    if pa.types.is_floating(kind):
        return frozenset({float, int, _NONE})
    if kind == pa.int64():
        return frozenset({int, _NONE})
    if pa.types.is_boolean(kind):
        return frozenset({bool, _NONE})
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return frozenset({str, _NONE})
    return None


def _listed(values: Any, rows: int) -> list[Any] | None:
    """`values` (a list, a tuple or a 1-d numpy array) as a list of `rows` Python values."""
    if type(values) is list:
        found = values
    elif type(values) is tuple:
        found = list(values)
    elif isinstance(values, np.ndarray) and values.ndim == 1:
        found = values.tolist()
    else:
        return None
    return found if len(found) == rows else None


def _fits(values: Sequence[Any], kinds: frozenset[type]) -> bool:
    for value in values:
        kind = type(value)
        if kind not in kinds or (kind is int and not -EXACT_INT <= value <= EXACT_INT):
            return False
    return True


class RowLayout:
    """How the rows of small `log_predictions` calls (features a list of dicts, ids and times
    made by the SDK) wait as Python values, to be built into one table with many other calls'
    (`GatheredRows`): building a table costs ~5 µs a column however few its rows. The layout is
    the schema one such call's own table had (`prediction_table`, which checked it), and a later
    call's rows join only when every value has a Python type that the schema takes as it is, so
    that building them together cannot fail nor change a type."""

    def __init__(
        self, schema: pa.Schema, prediction: frozenset[type], columns: tuple[frozenset[type], ...]
    ) -> None:
        self.schema = schema
        self.scores = SCORE_COLUMN in schema.names
        self.features = tuple(schema.names[3 + self.scores :])
        self._prediction = prediction
        self._columns = columns
        self._signatures: dict[tuple[type, ...], tuple[int, ...]] = {}  # row types that fit: int positions

    @classmethod
    def of(cls, table: pa.Table) -> RowLayout | None:
        """The layout of `table`, a `prediction_table` built from a list of dicts; None when a
        column's type is not one Python values map to as they are (nulls only, lists, times)."""
        schema = table.schema
        if schema.names[:3] != [ID_COLUMN, TS_COLUMN, PREDICTION_COLUMN]:
            return None
        scores = SCORE_COLUMN in schema.names
        if scores and not (schema.names[3] == SCORE_COLUMN and pa.types.is_float64(schema.field(3).type)):
            return None  # every class's scores, a list a row
        prediction = _python_types(schema.field(2).type)
        columns = [_python_types(field.type) for field in list(schema)[3 + scores :]]
        if prediction is None or any(kinds is None for kinds in columns):
            return None
        return cls(schema, prediction, tuple(kinds for kinds in columns if kinds is not None))

    def values(
        self, features: Sequence[Any], predictions: Any, scores: Any
    ) -> tuple[list[tuple[Any, ...]], list[Any], list[Any] | None] | None:
        """The call's feature rows (tuples in the layout's order), predictions and scores as
        Python values when every one fits; None when the call needs a table of its own."""
        rows = len(features)
        listed = _listed(predictions, rows)
        if listed is None or not _fits(listed, self._prediction):
            return None
        score_list = None
        if self.scores:
            score_list = None if scores is None else _listed(scores, rows)
            if score_list is None or not _fits(score_list, _FLOATS):
                return None
        elif scores is not None:
            return None
        names = self.features
        found = []
        for row in features:
            if type(row) is not dict or tuple(row) != names:
                return None
            values = tuple(row.values())
            signature = tuple(map(type, values))
            ints = self._signatures.get(signature)
            if ints is None:
                if not all(kind in kinds for kind, kinds in zip(signature, self._columns, strict=True)):
                    return None
                ints = tuple(i for i, kind in enumerate(signature) if kind is int)
                if len(self._signatures) < MAX_SIGNATURES:
                    self._signatures[signature] = ints
            if ints and not all(-EXACT_INT <= values[i] <= EXACT_INT for i in ints):
                return None
            found.append(values)
        return found, listed, score_list


_FLOATS = frozenset({float, int})
MAX_SIGNATURES = 256  # the row type patterns a layout remembers as fitting


class GatheredRows:
    """Rows of small calls with one `RowLayout`, as Python values, until `table()` builds them."""

    def __init__(self, layout: RowLayout) -> None:
        self.layout = layout
        self.num_rows = 0
        self._ids: list[str] = []
        self._times: list[int] = []
        self._predictions: list[Any] = []
        self._scores: list[Any] = []
        self._rows: list[tuple[Any, ...]] = []

    def add(
        self,
        ids: list[str],
        now_ms: int,
        values: tuple[list[tuple[Any, ...]], list[Any], list[Any] | None],
    ) -> None:
        rows, predictions, scores = values
        self._ids.extend(ids)
        self._times.extend([now_ms] * len(ids))
        self._predictions.extend(predictions)
        if scores is not None:
            self._scores.extend(scores)
        self._rows.extend(rows)
        self.num_rows += len(ids)

    def table(self) -> pa.Table:
        columns: list[Sequence[Any]] = [self._ids, self._times, self._predictions]
        if self.layout.scores:
            columns.append(self._scores)
        if self._rows:
            columns.extend(zip(*self._rows, strict=True))
        else:
            columns.extend([] for _ in self.layout.features)
        schema = self.layout.schema
        arrays = [pa.array(values, type=field.type) for values, field in zip(columns, schema, strict=True)]
        return pa.Table.from_arrays(arrays, schema=schema)


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
    if kind == "predictions" and len(pc.unique(ids)) != table.num_rows:  # 3-7x count_distinct's speed
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
    """`table` as Parquet. Ids are never dictionary-encoded (each is its own) and a column's
    dictionary stops at PARQUET_DICTIONARY_BYTES: a column of few values (a category, a 0/1
    prediction, a call's time) is encoded by it, one of distinct numbers soon falls back to plain
    values instead of hashing a whole row group first (2-3x the writing time, larger files)."""
    sink = pa.BufferOutputStream()
    try:
        pq.write_table(
            table,
            sink,
            compression=PARQUET_COMPRESSION,
            use_dictionary=[name for name in table.column_names if name != ID_COLUMN],
            dictionary_pagesize_limit=PARQUET_DICTIONARY_BYTES,
        )
    except pa.ArrowException as exc:  # a type Parquet has no place for (a union, say)
        raise InvalidParameter("columns", f"cannot be stored as Parquet: {exc}") from None
    content: bytes = sink.getvalue().to_pybytes()
    return content


def to_ipc(table: pa.Table) -> bytes:
    """`table` as an Arrow IPC stream, written once into a buffer of its exact size (measured by a
    first pass that copies nothing): a growing buffer copies a batch of tens of MB several times."""
    size = pa.MockOutputStream()
    with pa.ipc.new_stream(size, table.schema) as writer:
        writer.write_table(table)
    buffer = pa.allocate_buffer(size.size())
    with pa.ipc.new_stream(pa.FixedSizeBufferWriter(buffer), table.schema) as writer:
        writer.write_table(table)
    content: bytes = buffer.to_pybytes()
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

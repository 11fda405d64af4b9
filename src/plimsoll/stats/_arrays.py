"""Turn the column and table types users hold into the two shapes the engine computes on.

A column becomes either ``NumericValues`` (float64 values that may hold NaN and ±inf, plus a count of
nulls) or ``CategoryCounts`` (distinct labels as strings with their counts, plus a count of nulls).
Accepted: numpy arrays, pandas Series, polars Series, pyarrow Array/ChunkedArray, Python sequences.
Dates, datetimes and durations are numeric, in nanoseconds (since the epoch for dates and datetimes,
UTC for zone-aware ones), whatever unit they arrive in: ``datetime64[s]`` and ``datetime64[ns]``
holding the same instants give the same values. Times of day become nanoseconds since midnight.
A table is a pandas or polars DataFrame, a pyarrow Table, or a mapping of name to column.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from plimsoll.stats._errors import StatsShapeMismatch, StatsUnreadableValues

_NUMERIC_INFERRED = {"integer", "floating", "mixed-integer-float", "decimal"}
_TEXT_INFERRED = {"string", "bytes", "boolean", "categorical"}
_TEMPORAL_INFERRED = {"datetime", "datetime64", "date", "timedelta", "timedelta64", "time"}


@dataclass(frozen=True)
class NumericValues:
    values: NDArray[np.float64]
    null_count: int


@dataclass(frozen=True)
class CategoryCounts:
    categories: list[str]
    counts: NDArray[np.int64]
    null_count: int


@dataclass(frozen=True)
class AllNull:
    """A column with no non-null value, so nothing says whether it is numeric or categorical."""

    null_count: int


ColumnValues = NumericValues | CategoryCounts | AllNull


def column_values(data: Any, column: str) -> ColumnValues:
    """Convert one column; ``column`` is only used to name it in errors."""
    if isinstance(data, pa.ChunkedArray | pa.Array):
        return _from_arrow(data, column)
    if isinstance(data, pd.Series | pd.api.extensions.ExtensionArray | pd.Index):
        return _from_pandas(pd.Series(data, copy=False), column)
    if type(data).__module__.startswith("polars"):
        return _from_arrow(data.to_arrow(), column)
    if isinstance(data, np.ndarray):
        return _from_numpy(data, column)
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        return _from_pandas(pd.Series(list(data), dtype=object), column)
    raise StatsUnreadableValues(
        f"column {column!r}: expected a numpy array, pandas/polars Series, pyarrow array or a sequence, "
        f"got {type(data).__name__}",
        field=f"columns.{column}",
    )


def table_columns(table: Any) -> Iterator[tuple[str, Any]]:
    """Yield ``(name, column)`` for each column of a table-like object."""
    if isinstance(table, pd.DataFrame):
        if not table.columns.is_unique:
            raise StatsShapeMismatch("table: column names must be unique", field="table")
        for name in table.columns:
            yield str(name), table[name]
    elif isinstance(table, pa.Table):
        for name in table.column_names:
            yield name, table.column(name)
    elif type(table).__module__.startswith("polars") and hasattr(table, "get_columns"):
        for series in table.get_columns():
            yield series.name, series
    elif isinstance(table, Mapping):
        for name, values in table.items():
            yield str(name), values
    else:
        raise StatsUnreadableValues(
            "table: expected a pandas or polars DataFrame, a pyarrow Table or a mapping of name to column, "
            f"got {type(table).__name__}",
            field="table",
        )


def _from_numpy(array: NDArray[Any], column: str) -> ColumnValues:
    if array.ndim != 1:
        raise StatsShapeMismatch(
            f"column {column!r}: expected one dimension, got shape {array.shape}", field=f"columns.{column}"
        )
    kind = array.dtype.kind
    if kind == "f":
        return NumericValues(array.astype(np.float64, copy=False), 0)
    if kind in "iu":
        return NumericValues(array.astype(np.float64), 0)
    if kind == "M" or kind == "m":
        # One unit for every input, so [s] and [ns] columns of the same instants compare equal.
        in_ns = array.astype("datetime64[ns]" if kind == "M" else "timedelta64[ns]")
        present = ~np.isnat(in_ns)
        values = in_ns.view(np.int64)[present].astype(np.float64)
        return NumericValues(values, int(array.size - present.sum()))
    if kind in "bUS":
        return _from_arrow(pa.array(array), column)
    return _from_pandas(pd.Series(array, dtype=object), column)


def _from_pandas(series: pd.Series, column: str) -> ColumnValues:
    dtype = series.dtype
    if isinstance(dtype, np.dtype) and dtype.kind != "O":
        return _from_numpy(series.to_numpy(), column)
    if isinstance(dtype, pd.CategoricalDtype):
        return _from_arrow(pa.array(series.astype(object).where(series.notna(), None)), column)
    if not (isinstance(dtype, np.dtype) and dtype.kind == "O"):
        # Extension dtypes (nullable ints, Arrow-backed strings) know their own Arrow form.
        return _from_arrow(pa.array(series), column)
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    if inferred == "string":
        return _counted_strings(series)
    null_count = int(series.isna().sum())
    if inferred == "empty":
        return AllNull(null_count)
    if inferred in _NUMERIC_INFERRED:
        values = pd.to_numeric(series[series.notna()]).to_numpy(dtype=np.float64)
        return NumericValues(values, null_count)
    if inferred in _TEMPORAL_INFERRED:
        present = series.where(series.notna(), None)
        try:
            converted = pa.array(present.tolist())
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError):
            # numpy's datetime64 scalars as Python objects: Arrow reads them only through pandas.
            converted = _temporal_via_pandas(present)
        if converted is not None and pa.types.is_temporal(converted.type):
            return _from_arrow(converted, column)
    if inferred in _TEXT_INFERRED:
        present = series[series.notna()] if null_count else series
        if inferred == "bytes":  # labelled as Arrow's binary columns are: hex, whatever the encoding
            present = present.map(_bytes_label)
        # Strings count as they are (those Arrow refused); converting them to str first costs more.
        counts = (present if inferred == "string" else present.astype(str)).value_counts(sort=False)
        return CategoryCounts(
            [str(label) for label in counts.index], counts.to_numpy(dtype=np.int64), null_count
        )
    kinds = sorted({type(value).__name__ for value in series[series.notna()].head(1000)})
    raise StatsUnreadableValues(
        f"column {column!r}: mixes value types {kinds} (pandas infers {inferred!r}); "
        "a column must be all numbers or all labels, so cast it first",
        field=f"columns.{column}",
    )


def _temporal_via_pandas(series: pd.Series) -> pa.Array | None:
    for convert in (pd.to_datetime, pd.to_timedelta):
        try:
            return pa.array(convert(series))
        except (ValueError, TypeError, OverflowError, pa.ArrowInvalid, pa.ArrowTypeError):
            continue
    return None


def _counted_strings(series: pd.Series) -> CategoryCounts:
    """Label counts of Python strings, nulls (None, NaN, pd.NA) counted apart.

    pandas' hash table reads the string objects where they are: ~40 ms per million, half of what
    converting them to Arrow and counting there costs (the Arrow copy re-encodes every string).
    """
    codes, labels = pd.factorize(series, use_na_sentinel=True)
    tally = np.bincount(codes + 1, minlength=len(labels) + 1).astype(np.int64)
    return CategoryCounts([str(label) for label in labels], tally[1:], int(tally[0]))


def _from_arrow(array: pa.Array | pa.ChunkedArray, column: str) -> ColumnValues:
    arrow_type = array.type
    null_count = int(array.null_count)
    if null_count == len(array):
        return AllNull(null_count)
    if pa.types.is_dictionary(arrow_type):
        return _from_arrow(array.cast(arrow_type.value_type), column)
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        present = array.drop_null() if null_count else array
        values = np.asarray(present.cast(pa.float64()).to_numpy(), dtype=np.float64)
        return NumericValues(values, null_count)
    if pa.types.is_temporal(arrow_type):
        present = array.drop_null() if null_count else array
        values = np.asarray(_temporal_ns(present, column).to_numpy(), dtype=np.float64)
        return NumericValues(values, null_count)
    if pa.types.is_null(arrow_type):
        return AllNull(null_count)
    if (
        pa.types.is_boolean(arrow_type)
        or pa.types.is_string(arrow_type)
        or pa.types.is_large_string(arrow_type)
    ):
        counted = pc.value_counts(array)
        labels = counted.field("values")
        counts = np.asarray(counted.field("counts").to_numpy(), dtype=np.int64)
        keep = np.asarray(labels.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        names = labels.cast(pa.string()).to_pylist()
        if pa.types.is_boolean(arrow_type):
            names = [None if name is None else name.capitalize() for name in names]
        return CategoryCounts(
            [str(name) for name, kept in zip(names, keep, strict=True) if kept], counts[keep], null_count
        )
    if pa.types.is_binary(arrow_type) or pa.types.is_large_binary(arrow_type):
        return _from_pandas(pd.Series(array.to_pylist(), dtype=object).map(_bytes_label), column)
    raise StatsUnreadableValues(
        f"column {column!r}: values of Arrow type {arrow_type} are neither numbers nor labels; "
        "cast it to a number or string type first",
        field=f"columns.{column}",
    )


def _temporal_ns(array: pa.Array | pa.ChunkedArray, column: str) -> pa.Array | pa.ChunkedArray:
    """Integers in nanoseconds: dates and timestamps since the epoch, durations and times as they are."""
    arrow_type = array.type
    if pa.types.is_date(arrow_type):
        array = array.cast(pa.timestamp("s")).cast(pa.timestamp("ns"))
    elif pa.types.is_timestamp(arrow_type):
        array = array.cast(pa.timestamp("ns", tz=arrow_type.tz))
    elif pa.types.is_duration(arrow_type):
        array = array.cast(pa.duration("ns"))
    elif pa.types.is_time(arrow_type):
        array = array.cast(pa.time64("ns"))
    else:
        raise StatsUnreadableValues(
            f"column {column!r}: Arrow type {arrow_type} is temporal but neither a date, time, timestamp "
            "nor duration; cast it to one of those or to a number first",
            field=f"columns.{column}",
        )
    try:
        return array.cast(pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
        raise StatsUnreadableValues(
            f"column {column!r}: cannot read {arrow_type} as nanoseconds ({error})", field=f"columns.{column}"
        ) from None


def _bytes_label(value: Any) -> Any:
    return value.hex() if isinstance(value, bytes) else value

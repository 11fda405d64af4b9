"""Signatures on real data: inferred from an input example (a DataFrame, an array, records), the
example's JSON form, and the check made before every predict, which names the column that does
not fit. numpy and pandas are imported on first use (`import plimsoll` stays light)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.validation import printable
from plimsoll.model_registry.entities import (
    MAX_EXAMPLE_BYTES,
    MAX_EXAMPLE_ROWS,
    Column,
    Signature,
    check_example,
)

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def as_frame(data: Any, field_name: str = "input") -> pd.DataFrame:
    """A DataFrame from what a caller may hand a model: a DataFrame, a 2-D (or 1-D: one row)
    array, a dict of columns, a list of records (dicts) or of rows, or the JSON form
    `{"columns": [...], "data": [...]}`. An array's columns are named "0", "1", ..."""
    import numpy as np
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, pd.Series):
        return data.to_frame().T if data.name is None else data.to_frame()
    if isinstance(data, dict) and set(data) == {"columns", "data"}:
        return pd.DataFrame(data["data"], columns=data["columns"])
    if isinstance(data, dict):
        return pd.DataFrame(data)
    if isinstance(data, list) and data and all(isinstance(row, dict) for row in data):
        return pd.DataFrame.from_records(data)
    if isinstance(data, np.ndarray | list | tuple):
        array = np.asarray(data)
        if array.ndim == 1:
            array = array.reshape(1, -1)
        if array.ndim != 2:
            raise InvalidParameter(field_name, f"must be a table (2 dimensions); got {array.ndim} dimensions")
        return pd.DataFrame(array, columns=[str(i) for i in range(array.shape[1])])
    raise InvalidParameter(
        field_name,
        f"must be a DataFrame, an array, a dict of columns or a list of records; got {type(data).__name__}",
    )


def column_type(frame: pd.DataFrame, name: str, field_name: str) -> str:
    """The signature type of one column of a frame."""
    import pandas as pd
    from pandas.api import types

    series = frame[name]
    dtype = series.dtype
    if types.is_bool_dtype(dtype):
        return "bool"
    if types.is_integer_dtype(dtype):
        return "int64" if dtype.itemsize >= 8 or types.is_unsigned_integer_dtype(dtype) else "int32"
    if types.is_float_dtype(dtype):
        return "float32" if dtype.itemsize <= 4 else "float64"
    if types.is_datetime64_any_dtype(dtype):
        return "datetime"
    values = series.dropna()
    if isinstance(dtype, pd.CategoricalDtype):
        values = pd.Series(dtype.categories)
    textual = types.is_string_dtype(dtype) or types.is_object_dtype(dtype)
    if (textual or isinstance(dtype, pd.CategoricalDtype)) and all(isinstance(v, str) for v in values):
        return "string"
    raise InvalidParameter(
        f"{field_name}.{name}",
        f"column {name!r} has values of type {dtype} that a signature cannot describe (numbers, "
        "booleans, strings and datetimes can be)",
    )


def infer_signature(example: Any, *, layout: str | None = None) -> Signature:
    """The inputs of a signature, from an input example: every column with its type. An array
    (or a list of rows) gives the "array" layout, anything with column names the "frame" one."""
    import numpy as np

    frame = as_frame(example, "input_example")
    if layout is None:
        layout = (
            "array" if isinstance(example, np.ndarray | list | tuple) and not _records(example) else "frame"
        )
    columns = tuple(Column(str(name), column_type(frame, name, "input_example")) for name in frame.columns)
    return Signature(columns, (), layout)


def _records(example: Any) -> bool:
    return isinstance(example, list) and bool(example) and all(isinstance(row, dict) for row in example)


def output_columns(prediction: Any) -> tuple[Column, ...]:
    """The outputs of a signature, from what the model predicted on its example."""
    import numpy as np
    import pandas as pd

    if isinstance(prediction, pd.DataFrame):
        return tuple(Column(str(c), column_type(prediction, c, "prediction")) for c in prediction.columns)
    array = np.asarray(prediction)
    if array.ndim <= 1:
        frame = pd.DataFrame({"prediction": array.reshape(-1)})
        return (Column("prediction", column_type(frame, "prediction", "prediction")),)
    frame = pd.DataFrame(array.reshape(array.shape[0], -1))
    frame.columns = [str(c) for c in frame.columns]
    return tuple(Column(c, column_type(frame, c, "prediction")) for c in frame.columns)


def example_json(example: Any, signature: Signature) -> dict[str, Any]:
    """An input example's JSON form, its first rows (bounded in rows and bytes), checked against
    the signature (a column that does not fit is named)."""
    import orjson

    frame = as_frame(example, "input_example").head(MAX_EXAMPLE_ROWS)
    frame.columns = [str(c) for c in frame.columns]
    rows = [[_json_value(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    value = check_example("input_example", {"columns": list(frame.columns), "data": rows}, signature)
    size = len(orjson.dumps(value))
    if size > MAX_EXAMPLE_BYTES:
        raise InvalidParameter(
            "input_example",
            f"is {size} bytes as JSON; the limit is {MAX_EXAMPLE_BYTES}: give a few rows, not the data set",
        )
    return value


def _json_value(value: Any) -> Any:
    import numpy as np
    import pandas as pd

    if value is None or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


_NUMPY_TYPES = {
    "bool": "bool",
    "int32": "int32",
    "int64": "int64",
    "float32": "float32",
    "float64": "float64",
}


def enforce(data: Any, signature: Signature, ref: str) -> pd.DataFrame | np.ndarray:
    """`data` as the model takes it (a frame with the signature's columns in its order, or one
    2-D array), each column converted to its type; InvalidParameter naming the first column that
    is missing, unknown, or of a type that does not convert safely."""
    import numpy as np
    import pandas as pd

    frame = as_frame(data)
    if signature.layout == "array" and isinstance(data, np.ndarray | list | tuple) and not _records(data):
        width = len(signature.inputs)
        if frame.shape[1] != width:
            raise InvalidParameter(
                "input",
                f"has {frame.shape[1]} columns; {ref} takes {width} (its signature: {signature!r})",
            )
    frame.columns = [str(c) for c in frame.columns]
    expected = [c.name for c in signature.inputs]
    for name in frame.columns:
        if name not in expected:
            raise InvalidParameter(
                f"input.{name}",
                f"column {name!r} is not in the signature of {ref}, whose columns are: "
                + ", ".join(repr(n) for n in expected[:10])
                + (" ..." if len(expected) > 10 else ""),
            )
    converted: dict[str, Any] = {}
    for column in signature.inputs:
        if column.name not in frame.columns:
            raise InvalidParameter(
                f"input.{column.name}", f"column {column.name!r} ({column.type}) is missing; {ref} needs it"
            )
        converted[column.name] = _converted(frame[column.name], column, ref)
    ordered = pd.DataFrame(converted, index=frame.index)
    if signature.layout == "array":
        kinds = {c.type for c in signature.inputs}
        dtype = _NUMPY_TYPES.get(kinds.pop()) if len(kinds) == 1 else None
        return ordered.to_numpy(dtype=dtype)
    return ordered


def _converted(series: pd.Series, column: Column, ref: str) -> pd.Series:
    import numpy as np
    import pandas as pd
    from pandas.api import types

    dtype = series.dtype
    wanted = column.type

    def refuse(got: str) -> InvalidParameter:
        sample = series.dropna()
        shown = f", such as {printable(sample.iloc[0])!r}" if len(sample) else ""
        return InvalidParameter(
            f"input.{column.name}",
            f"column {column.name!r} must be {wanted} (the signature of {ref}); got {got}{shown}",
        )

    if wanted in ("float32", "float64"):
        if types.is_bool_dtype(dtype) or not types.is_numeric_dtype(dtype):
            raise refuse(str(dtype))
        return series.astype(wanted)
    if wanted in ("int32", "int64"):
        if types.is_bool_dtype(dtype) or not types.is_integer_dtype(dtype):
            raise refuse(str(dtype))
        if wanted == "int32" and len(series) and (series.max() > 2**31 - 1 or series.min() < -(2**31)):
            raise refuse("values beyond the range of int32")
        return series.astype(wanted)
    if wanted == "bool":
        if not types.is_bool_dtype(dtype):
            raise refuse(str(dtype))
        return series.astype(bool)
    if wanted == "datetime":
        if types.is_datetime64_any_dtype(dtype):
            return series
        try:
            return pd.to_datetime(series)
        except (ValueError, TypeError):
            raise refuse(f"{dtype} values that are not dates") from None
    values = series.dropna()
    if not all(isinstance(v, str) for v in values):
        bad = next(v for v in values if not isinstance(v, str))
        raise refuse(f"{type(bad).__name__ if not isinstance(bad, np.generic) else bad.dtype} values")
    return series

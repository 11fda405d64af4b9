"""What a model server reads and writes, without I/O: request bodies in the formats clients
already send, parsed into a DataFrame, and the answers in the same formats.

    MLflow scoring (`POST /invocations`, JSON):
        {"dataframe_split": {"columns": [...], "data": [[...], ...]}}
        {"dataframe_records": [{"col": value, ...}, ...]}
        {"instances": [[...], ...] | [{...}, ...]}        rows (or records)
        {"inputs": [[...], ...] | {"col": [...], ...}}     rows, or columns by name
    Open Inference Protocol v2 (`POST /v2/models/{name}/infer`, KServe and Triton):
        {"id": "...", "inputs": [{"name", "shape", "datatype", "data"}, ...]}
        one input per column (shape [n] or [n, 1]), or one tensor of shape [n, k]
    Arrow IPC stream (`Content-Type: application/vnd.apache.arrow.stream`), for large batches.

Rows given by position (a list of lists, one tensor) have columns "0", "1", ...: the server
names them after the signature's inputs when the model takes named columns. Every refusal is an
`InvalidParameter` naming the field (`dataframe_split.columns`, `inputs[2].datatype`): the
server answers 422, or 400 when the body cannot be read at all (not JSON, not Arrow: field
`body`), or 413 past a limit (`PayloadTooLarge`, the limit in its details).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from plimsoll.core.errors import InvalidParameter, PayloadTooLarge

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

ARROW_STREAM = "application/vnd.apache.arrow.stream"
MLFLOW_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
DEFAULT_MAX_ROWS = 100_000
DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
MALFORMED = "body"  # the field of a body that is not JSON (HTTP 400, not 422)
MAX_SHOWN = 80  # characters of a bad value quoted in a message

# OIP v2 datatypes and the numpy types their data becomes.
OIP_TYPES: dict[str, str] = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
    "BYTES": "object",
}


@dataclass(frozen=True)
class Limits:
    """How much one request may carry: rows, and bytes of body."""

    max_rows: int = DEFAULT_MAX_ROWS
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES

    def check_body(self, size: int) -> None:
        if size > self.max_body_bytes:
            raise PayloadTooLarge(
                "body",
                f"is {size} bytes; this server takes at most {self.max_body_bytes} bytes a request: "
                "send the rows in smaller batches",
                details={"limit": self.max_body_bytes},
            )

    def check_rows(self, field: str, rows: int) -> None:
        if rows > self.max_rows:
            raise PayloadTooLarge(
                field,
                f"has {rows} rows; this server takes at most {self.max_rows} rows a request: "
                "send them in smaller batches",
                details={"limit": self.max_rows},
            )


class Parsed:
    """A request's rows and what came with them: `positional` when its columns are "0", "1", ...
    (rows given as lists), `request_id` the client's own id (OIP's `id`), `outputs` the outputs
    asked for (OIP's `outputs[].name`; empty: all).

    `frame` is made on first use: a JSON request also keeps its values as parsed (`raw`: rows
    of lists with their column names, records, or columns by name), from which `matrix` takes a
    numeric model's rows without a DataFrame."""

    __slots__ = ("_frame", "_rows", "outputs", "positional", "raw", "request_id")

    def __init__(
        self,
        frame: pd.DataFrame | None = None,
        positional: bool = False,
        request_id: str | None = None,
        outputs: tuple[str, ...] = (),
        *,
        raw: tuple[str, Any, Any] | None = None,
        rows: int = 0,
    ) -> None:
        if frame is None and raw is None:
            raise ValueError("a Parsed request needs a frame or its raw values")
        self._frame = frame
        self.positional = positional
        self.request_id = request_id
        self.outputs = outputs
        self.raw = raw
        self._rows = len(frame) if frame is not None else rows

    @property
    def frame(self) -> pd.DataFrame:
        if self._frame is None:
            assert self.raw is not None
            self._frame = _raw_frame(*self.raw)
        return self._frame

    @property
    def rows(self) -> int:
        return self._rows


def _raw_frame(kind: str, columns: Any, values: Any) -> pd.DataFrame:
    import pandas as pd

    if kind == "rows":
        names = columns if columns is not None else [str(i) for i in range(len(values[0]))]
        return _frame(pd.DataFrame(values, columns=names), "dataframe_split.data")
    if kind == "records":
        return _frame(pd.DataFrame.from_records(values), columns)
    return _frame(pd.DataFrame(values), columns)


def loads(body: bytes) -> Any:
    """A JSON body; InvalidParameter on field `body` (HTTP 400) when it is not JSON."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidParameter(MALFORMED, f"is not valid JSON ({exc})") from None


# -- MLflow ----------------------------------------------------------------------------------------


def parse_mlflow(value: Any, limits: Limits) -> Parsed:
    """An MLflow scoring request (one of `dataframe_split`, `dataframe_records`, `instances`,
    `inputs`; `params` allowed and ignored)."""
    if not isinstance(value, dict):
        raise InvalidParameter(
            "request", f"must be a JSON object with one of {', '.join(MLFLOW_FORMATS)}; got {_kind(value)}"
        )
    given = [key for key in MLFLOW_FORMATS if key in value]
    unknown = sorted(set(value) - set(MLFLOW_FORMATS) - {"params"})
    if unknown:
        raise InvalidParameter(
            unknown[0], f"is not a field of a scoring request; give one of {', '.join(MLFLOW_FORMATS)}"
        )
    if len(given) != 1:
        raise InvalidParameter(
            "request",
            f"must hold exactly one of {', '.join(MLFLOW_FORMATS)}; got "
            + (", ".join(given) if given else "none"),
        )
    key = given[0]
    if key == "dataframe_split":
        return _split(value[key], limits)
    if key == "dataframe_records":
        return _records(key, value[key], limits)
    return _rows_or_columns(key, value[key], limits)


def _split(value: Any, limits: Limits) -> Parsed:
    if not isinstance(value, dict):
        raise InvalidParameter(
            "dataframe_split", f"must be an object with columns and data; got {_kind(value)}"
        )
    unknown = sorted(set(value) - {"columns", "data", "index"})
    if unknown:
        raise InvalidParameter(f"dataframe_split.{unknown[0]}", "is not a field of dataframe_split")
    columns, data = value.get("columns"), value.get("data")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns) or not columns:
        raise InvalidParameter("dataframe_split.columns", "must be a non-empty list of column names")
    if len(set(columns)) != len(columns):
        raise InvalidParameter("dataframe_split.columns", "names a column twice")
    if not isinstance(data, list) or not data:
        raise InvalidParameter("dataframe_split.data", f"must be a non-empty list of rows; got {_kind(data)}")
    limits.check_rows("dataframe_split.data", len(data))
    width = len(columns)
    for number, row in enumerate(data):
        if not isinstance(row, list) or len(row) != width:
            raise InvalidParameter(
                f"dataframe_split.data[{number}]",
                f"must be a list of {width} values (one per column); got {_kind(row)}",
            )
    return Parsed(raw=("rows", columns, data), rows=len(data))


def _records(field: str, value: Any, limits: Limits) -> Parsed:
    if not isinstance(value, list) or not value:
        raise InvalidParameter(field, f"must be a non-empty list of records (objects); got {_kind(value)}")
    limits.check_rows(field, len(value))
    for number, row in enumerate(value):
        if not isinstance(row, dict):
            raise InvalidParameter(
                f"{field}[{number}]", f"must be an object of column values; got {_kind(row)}"
            )
    return Parsed(raw=("records", field, value), rows=len(value))


def _rows_or_columns(field: str, value: Any, limits: Limits) -> Parsed:
    import pandas as pd

    if isinstance(value, dict):  # columns by name
        if not value:
            raise InvalidParameter(field, "has no columns")
        lengths = set()
        for name, column in value.items():
            if not isinstance(column, list):
                raise InvalidParameter(f"{field}.{name}", f"must be a list of values; got {_kind(column)}")
            lengths.add(len(column))
        if len(lengths) != 1:
            raise InvalidParameter(field, f"columns of different lengths: {sorted(lengths)}")
        rows = lengths.pop()
        limits.check_rows(field, rows)
        if not rows:
            raise InvalidParameter(field, "has no rows")
        return Parsed(raw=("columns", field, value), rows=rows)
    if not isinstance(value, list) or not value:
        raise InvalidParameter(
            field, f"must be a non-empty list of rows, or an object of columns; got {_kind(value)}"
        )
    if all(isinstance(row, dict) for row in value):
        return _records(field, value, limits)
    limits.check_rows(field, len(value))
    first = value[0]
    if isinstance(first, list):
        width = len(first)
        for number, row in enumerate(value):
            if not isinstance(row, list) or len(row) != width:
                raise InvalidParameter(
                    f"{field}[{number}]",
                    f"must be a list of {width} values, as the first row; got {_kind(row)}",
                )
            for position, item in enumerate(row):
                if isinstance(item, list | dict):
                    raise InvalidParameter(
                        f"{field}[{number}][{position}]", "must be a single value (rows are flat lists)"
                    )
        return Parsed(positional=True, raw=("rows", None, value), rows=len(value))
    else:  # one value a row: a single column
        for number, item in enumerate(value):
            if isinstance(item, list | dict):
                raise InvalidParameter(
                    f"{field}[{number}]", f"must be a row like the others; got {_kind(item)}"
                )
        frame = pd.DataFrame({"0": value})
    return Parsed(_frame(frame, field), positional=True)


# -- Open Inference Protocol v2 --------------------------------------------------------------------


def parse_oip(value: Any, limits: Limits) -> Parsed:
    """An OIP v2 inference request: one input a column (named as the signature's columns), or a
    single tensor of shape [rows, columns]."""
    import pandas as pd

    if not isinstance(value, dict):
        raise InvalidParameter("request", f"must be a JSON object with inputs; got {_kind(value)}")
    unknown = sorted(set(value) - {"id", "parameters", "inputs", "outputs"})
    if unknown:
        raise InvalidParameter(unknown[0], "is not a field of an inference request")
    request_id = value.get("id")
    if request_id is not None and (not isinstance(request_id, str) or len(request_id) > 200):
        raise InvalidParameter("id", "must be a string of at most 200 characters")
    outputs = _oip_outputs(value.get("outputs"))
    inputs = value.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidParameter("inputs", f"must be a non-empty list of tensors; got {_kind(inputs)}")
    tensors: list[tuple[str, np.ndarray]] = []
    for number, tensor in enumerate(inputs):
        tensors.append(_tensor(f"inputs[{number}]", tensor, limits))
    names = [name for name, _ in tensors]
    if len(set(names)) != len(names):
        raise InvalidParameter("inputs", "names a tensor twice")
    if len(tensors) == 1 and tensors[0][1].ndim == 2 and tensors[0][1].shape[1] != 1:
        array = tensors[0][1]
        frame = pd.DataFrame(array, columns=[str(i) for i in range(array.shape[1])])
        return Parsed(_frame(frame, "inputs[0].data"), True, request_id, outputs)
    rows = {array.shape[0] for _, array in tensors}
    if len(rows) != 1:
        raise InvalidParameter("inputs", f"tensors of different numbers of rows: {sorted(rows)}")
    columns: dict[str, Any] = {}
    for number, (name, array) in enumerate(tensors):
        if array.ndim == 2 and array.shape[1] != 1:
            raise InvalidParameter(
                f"inputs[{number}].shape",
                f"is {list(array.shape)}: give one column a tensor ([rows] or [rows, 1]), or one tensor of "
                "[rows, columns] alone",
            )
        columns[name] = array.reshape(-1)
    return Parsed(_frame(pd.DataFrame(columns), "inputs"), False, request_id, outputs)


def _oip_outputs(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidParameter("outputs", f"must be a list of {{name}} objects; got {_kind(value)}")
    names = []
    for number, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InvalidParameter(f"outputs[{number}].name", "must be a string")
        names.append(item["name"])
    return tuple(names)


def _tensor(field: str, tensor: Any, limits: Limits) -> tuple[str, np.ndarray]:
    import numpy as np

    if not isinstance(tensor, dict):
        raise InvalidParameter(
            field, f"must be an object with name, shape, datatype and data; got {_kind(tensor)}"
        )
    unknown = sorted(set(tensor) - {"name", "shape", "datatype", "data", "parameters"})
    if unknown:
        raise InvalidParameter(f"{field}.{unknown[0]}", "is not a field of a tensor")
    name, shape, datatype, data = (tensor.get(k) for k in ("name", "shape", "datatype", "data"))
    if not isinstance(name, str) or not name:
        raise InvalidParameter(f"{field}.name", "must be a non-empty string")
    if (
        not isinstance(shape, list)
        or not 1 <= len(shape) <= 2
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise InvalidParameter(f"{field}.shape", f"must be [rows] or [rows, columns]; got {_shown(shape)}")
    if datatype not in OIP_TYPES:
        raise InvalidParameter(
            f"{field}.datatype", f"must be one of {', '.join(OIP_TYPES)}; got {_shown(datatype)}"
        )
    if not isinstance(data, list):
        raise InvalidParameter(f"{field}.data", f"must be a list of values; got {_kind(data)}")
    limits.check_rows(f"{field}.shape", shape[0])
    flat = _flatten(f"{field}.data", data)
    size = math.prod(shape)
    if len(flat) != size:
        raise InvalidParameter(f"{field}.data", f"holds {len(flat)} values; its shape {shape} needs {size}")
    dtype = OIP_TYPES[datatype]
    for position, item in enumerate(flat):
        if not _fits(item, datatype):
            raise InvalidParameter(
                f"{field}.data[{position}]", f"is {_shown(item)}, not a value of datatype {datatype}"
            )
    try:
        array = np.asarray(flat, dtype=dtype)
    except (OverflowError, ValueError) as exc:
        raise InvalidParameter(f"{field}.data", f"does not fit datatype {datatype}: {exc}") from None
    return name, array.reshape(shape if len(shape) == 2 else (shape[0],))


def _flatten(field: str, data: list[Any]) -> list[Any]:
    if not data or not isinstance(data[0], list):
        return data
    flat: list[Any] = []
    for number, row in enumerate(data):
        if not isinstance(row, list) or any(isinstance(item, list) for item in row):
            raise InvalidParameter(f"{field}[{number}]", "must be a flat row (at most 2 dimensions)")
        flat.extend(row)
    return flat


def _fits(item: Any, datatype: str) -> bool:
    if item is None:
        return datatype.startswith("FP") or datatype == "BYTES"  # a missing value, judged later
    if datatype == "BOOL":
        return isinstance(item, bool)
    if datatype == "BYTES":
        return isinstance(item, str)
    if isinstance(item, bool):
        return False
    if datatype.startswith("FP"):
        return isinstance(item, int | float)
    return isinstance(item, int)


# -- Arrow -----------------------------------------------------------------------------------------


def parse_arrow(body: bytes, limits: Limits) -> Parsed:
    """An Arrow IPC stream of one table: its columns by name."""
    import pyarrow as pa

    try:
        with pa.ipc.open_stream(pa.py_buffer(body)) as reader:
            table = reader.read_all()
    except (pa.ArrowInvalid, pa.ArrowException, OSError) as exc:
        raise InvalidParameter(MALFORMED, f"is not an Arrow IPC stream ({exc})") from None
    if not table.num_columns or not table.num_rows:
        raise InvalidParameter("request", "has no rows: an Arrow stream of one non-empty table")
    limits.check_rows("body", table.num_rows)
    return Parsed(_frame(table.to_pandas(), "request"))


def _frame(frame: pd.DataFrame, field: str) -> pd.DataFrame:
    if not len(frame):
        raise InvalidParameter(field, "has no rows")
    frame.columns = [str(c) for c in frame.columns]
    return frame


# -- checks before predicting ----------------------------------------------------------------------


def named(parsed: Parsed, names: Sequence[str], layout: str, field: str) -> pd.DataFrame:
    """The request's frame with the columns a model takes by name: rows given by position are
    named after the signature's inputs, when their width fits."""
    if not parsed.positional or layout == "array":
        return parsed.frame
    frame = parsed.frame
    if frame.shape[1] != len(names):
        raise InvalidParameter(
            field,
            f"rows have {frame.shape[1]} values; the model takes {len(names)} columns in this order: "
            + ", ".join(names[:10])
            + (" ..." if len(names) > 10 else ""),
        )
    return frame.set_axis(list(names), axis=1)


NUMBER = frozenset({int, float})
EXACT_INT = 2.0**53  # integers up to this are exact as float64
INT32 = 2.0**31


def matrix(parsed: Parsed, names: Sequence[str], types: Sequence[str], layout: str) -> np.ndarray | None:
    """A numeric model's rows as one float64 array (rows x the signature's columns, in its
    order), from a JSON request's values as parsed, when every value is a number its column
    takes: finite, an integer (not a bool, not 1.0) within range where it takes integers, the
    columns exactly the signature's. None otherwise, and for requests without such values (OIP,
    Arrow): the slow path then answers, or refuses naming the field, as it always did."""
    import numpy as np

    raw = parsed.raw
    if raw is None:
        return None
    kind, columns, values = raw
    width = len(names)
    source: list[int] | None = None  # the request's column of each signature column
    if kind == "rows":
        if columns is None:  # rows by position: named after the signature (or "0", "1", ...)
            if len(values[0]) != width or (
                layout == "array" and any(n != str(i) for i, n in enumerate(names))
            ):
                return None
        elif columns != names:
            if len(columns) != width or set(columns) != set(names):
                return None
            at = {name: i for i, name in enumerate(columns)}
            source = [at[name] for name in names]
        rows = values
    elif kind == "records":
        wanted = set(names)
        if not all(row.keys() == wanted for row in values):
            return None
        rows = [[row[name] for name in names] for row in values]
    else:  # columns by name
        if values.keys() != set(names):
            return None
        rows = None
        by_column = [values[name] for name in names]
    from itertools import chain

    kinds = set(map(type, chain.from_iterable(rows if rows is not None else by_column)))
    if not kinds <= NUMBER:
        return None
    try:
        array = np.array(rows if rows is not None else by_column, dtype=np.float64)
    except (OverflowError, ValueError, TypeError):
        return None
    if rows is None:
        array = array.T
    if array.ndim != 2 or array.shape[1] != width:
        return None
    if source is not None:
        array = array[:, source]
    if not float(np.abs(array).max()) < 2.0**63:  # NaN and infinities fail too
        return None
    if float in kinds:
        integers = [i for i, t in enumerate(types) if t.startswith("int")]
        for i in integers:
            j = i if source is None else source[i]
            column = (
                by_column[i]
                if rows is None
                else [row[j] for row in values]
                if kind == "rows"
                else [row[i] for row in rows]
            )
            if set(map(type, column)) != {int}:
                return None
    for i, kind_of in enumerate(types):
        if kind_of.startswith("int"):
            limit = INT32 if kind_of == "int32" else EXACT_INT
            column = array[:, i]
            if not (column.max() < limit and column.min() >= -limit):
                return None
    return array


def refuse_missing(frame: pd.DataFrame, columns: Sequence[str], ref: str) -> None:
    """Refuse null and NaN (and infinities) in the columns the model takes, naming the first column
    holding one and its first row."""
    import numpy as np

    for name in columns:
        if name not in frame.columns:
            continue  # the signature check names it
        series = frame[name]
        bad = series.isna()
        if series.dtype.kind == "f":
            bad = bad | np.isinf(series.to_numpy())
        if bad.any():
            row = int(np.flatnonzero(np.asarray(bad))[0])
            value = series.iloc[row]
            shown = repr(float(value)) if series.dtype.kind == "f" else "null"
            raise InvalidParameter(
                f"input.{name}",
                f"column {name!r} holds {shown} (row {row}); {ref} takes no missing or infinite values",
                details={"row": row},
            )


# -- answers ---------------------------------------------------------------------------------------


def mlflow_answer(predictions: Any, ids: Sequence[str], scores: Any = None) -> bytes:
    """`{"predictions": [...], "prediction_ids": [...]}` (and `scores`: the positive class's
    probability, or every class's)."""
    body: dict[str, Any] = {"predictions": predictions, "prediction_ids": ids}
    if scores is not None:
        body["scores"] = scores
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


def oip_answer(
    model: str,
    version: int,
    request_id: str | None,
    predictions: Any,
    ids: Sequence[str],
    scores: Any = None,
    wanted: Sequence[str] = (),
) -> bytes:
    """An OIP v2 inference response: output `predict` (and `predict_proba`), the prediction ids
    in `parameters.prediction_ids`."""
    import numpy as np

    outputs = []
    for name, values in (("predict", predictions), ("predict_proba", scores)):
        if values is None or (wanted and name not in wanted):
            continue
        array = np.asarray(values)
        outputs.append(
            {
                "name": name,
                "shape": list(array.shape),
                "datatype": oip_datatype(array),
                "data": array.reshape(-1).tolist(),
            }
        )
    body = {
        "model_name": model,
        "model_version": str(version),
        "id": request_id or (ids[0].rsplit("-", 1)[0] if ids else ""),
        "parameters": {"prediction_ids": list(ids)},
        "outputs": outputs,
    }
    return orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY)


def oip_datatype(array: np.ndarray) -> str:
    kind = array.dtype.kind
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return f"{'U' if kind == 'u' else ''}INT{array.dtype.itemsize * 8}"
    if kind == "f":
        return f"FP{array.dtype.itemsize * 8}"
    return "BYTES"


def model_metadata(model: str, versions: Sequence[int], inputs: Sequence[Mapping[str, str]]) -> bytes:
    """`GET /v2/models/{name}`: the model, the versions served, its inputs."""
    to_oip = {
        "bool": "BOOL",
        "int32": "INT32",
        "int64": "INT64",
        "float32": "FP32",
        "float64": "FP64",
        "string": "BYTES",
        "datetime": "BYTES",
    }
    return orjson.dumps(
        {
            "name": model,
            "versions": [str(v) for v in versions],
            "platform": "plimsoll",
            "inputs": [
                {"name": c["name"], "datatype": to_oip.get(c["type"], "BYTES"), "shape": [-1]} for c in inputs
            ],
            "outputs": [{"name": "predict", "datatype": "BYTES", "shape": [-1]}],
        }
    )


def as_list(values: Any) -> list[Any]:
    """A model's answers as JSON values (numpy scalars made plain)."""
    import numpy as np

    array = np.asarray(values)
    if array.ndim > 1 and array.shape[1] == 1:
        array = array.reshape(-1)
    return array.tolist()  # type: ignore[no-any-return]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN] + "..."

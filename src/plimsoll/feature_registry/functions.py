"""Where a definition meets the code: a function's source read and hashed, and a registered
definition applied to a frame the same way in training and at serving.

The SDK runs only the caller's own function, after checking that its source hashes to what the
registered version says: the source stored with a version is for reading and audit, and nothing
ever executes it. A transformation is vectorised: it receives a pandas DataFrame of its declared
input columns (and nothing else, so a column it forgot to declare fails everywhere alike) and
returns one value per row (a Series, an array or a list), which is checked against the declared
dtype and cast to it, so training and serving see the same type.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from plimsoll.core.errors import Conflict, InvalidParameter
from plimsoll.core.validation import printable
from plimsoll.feature_registry.entities import FeatureVersion, source_hash

COLUMNS_NAMED = 20  # of a frame's columns, in a message that lists them
# What a feature's values are once computed, by declared dtype.
PANDAS_DTYPES = {"float64": "float64", "int64": "int64", "bool": "bool", "string": "string"}


@dataclass(frozen=True)
class Source:
    text: str
    hash: str
    function: str  # module:qualname


def source_of(fn: Any, field: str = "fn") -> Source:
    """The function's source as Python keeps it (a module's file, a notebook cell), its hash and
    its name. A lambda is refused: its source is the line around it, which changes with the call
    that holds it."""
    if not (inspect.isfunction(fn) or inspect.ismethod(fn)):
        raise InvalidParameter(
            field,
            f"must be a function defined with def (vectorised: DataFrame in, one value per row out), "
            f"got {type(fn).__name__}",
        )
    name = f"{fn.__module__}:{fn.__qualname__}"
    if fn.__name__ == "<lambda>":
        raise InvalidParameter(
            field,
            f"{name} is a lambda: its source cannot be told apart from the line around it, so its "
            "hash would change with the code calling it; define the transformation with def",
        )
    try:
        text = inspect.getsource(fn)
    except (OSError, TypeError) as exc:
        raise InvalidParameter(
            field,
            f"the source of {name} cannot be read ({exc}): define the function in a module or a "
            "notebook cell, where Python keeps its source",
        ) from None
    return Source(text, source_hash(text), name)


def check_same_source(version: FeatureVersion, fn: Callable[..., Any], field: str = "features") -> None:
    """Conflict unless `fn`'s source hashes to the one registered for `version`: changed code is a
    new version to register, never computed under the old one's name."""
    local = source_of(fn, field)
    if local.hash != version.source_hash:
        raise Conflict(
            f"feature {version.ref}: the function {local.function} is not the registered definition "
            f"(its source hashes to {local.hash}; {version.ref} was registered with "
            f"{version.source_hash}). Register the changed function to make a new version "
            f"(features.register), or run the code {version.ref} was registered from.",
            details={
                "feature": version.ref,
                "registered_hash": version.source_hash,
                "local_hash": local.hash,
            },
        )


def as_frame(data: Any, field: str) -> Any:
    """`data` as a pandas DataFrame: a pandas or polars DataFrame, a pyarrow Table, or a mapping of
    column name to values."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if type(data).__module__.startswith(("pyarrow", "polars")) and hasattr(data, "to_pandas"):
        return data.to_pandas()
    if isinstance(data, Mapping):
        try:
            return pd.DataFrame(dict(data))
        except ValueError as exc:
            raise InvalidParameter(field, f"is not a table: {exc}") from None
    raise InvalidParameter(
        field,
        "must be a pandas or polars DataFrame, a pyarrow Table or a mapping of column to values, "
        f"got {type(data).__name__}",
    )


def check_inputs_present(version: FeatureVersion, frame: Any, field: str) -> None:
    missing = [c for c in version.inputs if c not in frame.columns]
    if missing:
        raise InvalidParameter(
            field,
            f"has no column {printable(missing[0])!r}, an input of feature {version.ref} "
            f"(inputs {list(version.inputs)}); it has {_columns(frame)}",
            details={"feature": version.ref, "missing": missing},
        )


def apply(version: FeatureVersion, fn: Callable[..., Any], frame: Any, field: str = "frame") -> Any:
    """The feature's values on `frame`: `fn` called on the declared input columns, its answer one
    value per row, of the declared dtype (a pandas Series named after the feature, on the frame's
    index). The caller has checked `fn` against the version (`check_same_source`)."""
    import pandas as pd

    check_inputs_present(version, frame, field)
    inputs = frame[list(version.inputs)]
    try:
        values = fn(inputs)
    except KeyError as exc:
        column = exc.args[0] if exc.args else None
        if isinstance(column, str) and column in frame.columns:
            raise InvalidParameter(
                "inputs",
                f"feature {version.ref} read column {printable(column)!r}, which is not among its "
                f"declared inputs {list(version.inputs)}: register it with that column in inputs",
                details={"feature": version.ref, "column": column},
            ) from None
        exc.add_note(f"while computing feature {version.ref} with {version.function}")
        raise
    except Exception as exc:  # the caller's own code: its error, with where it happened
        exc.add_note(f"while computing feature {version.ref} with {version.function}")
        raise
    if isinstance(values, pd.DataFrame):
        if values.shape[1] != 1:
            raise InvalidParameter(
                "dtype",
                f"feature {version.ref}'s function returned a frame of {values.shape[1]} columns; "
                "it must return one value per row (a Series, an array or a list)",
            )
        values = values.iloc[:, 0]
    if isinstance(values, pd.Series):
        if len(values) != len(frame):
            raise _length(version, len(values), len(frame))
        if not values.index.equals(frame.index):
            # The frame's rows in another order (a sort inside the function) are put back by
            # label; an index of its own (reset inside the function) is taken row by row.
            same_rows = values.index.is_unique and frame.index.is_unique
            if same_rows and values.index.sort_values().equals(frame.index.sort_values()):
                values = values.reindex(frame.index)
            else:
                values = values.reset_index(drop=True).set_axis(frame.index)
    else:
        # A scalar would be broadcast, a mapping matched by key: neither is one value per row.
        if not pd.api.types.is_list_like(values) or isinstance(values, Mapping):
            raise InvalidParameter(
                "dtype",
                f"feature {version.ref}'s function returned a {type(values).__name__}; it must "
                "return one value per row (a Series, an array or a list)",
            )
        try:
            values = pd.Series(values, index=frame.index)
        except (TypeError, ValueError):
            length = len(values) if hasattr(values, "__len__") else None
            if length is not None and length != len(frame):
                raise _length(version, length, len(frame)) from None
            raise InvalidParameter(
                "dtype",
                f"feature {version.ref}'s function returned {type(values).__name__}; it must "
                "return one value per row (a Series, an array or a list)",
            ) from None
    return cast(values.rename(version.name), version, f"feature {version.ref}'s function returned")


def _length(version: FeatureVersion, got: int, rows: int) -> InvalidParameter:
    return InvalidParameter(
        "dtype",
        f"feature {version.ref}'s function returned {got} values for {rows} rows; it must return "
        "one value per row",
    )


def cast(values: Any, version: FeatureVersion, what: str) -> Any:
    """`values` (a Series) as the declared dtype, or InvalidParameter naming `dtype`, the feature,
    what was found, and `what` they are ("feature x@1's function returned", "column x of serving")."""
    import numpy as np
    import pandas as pd

    dtype, kind = version.dtype, values.dtype
    if len(values) == 0:  # a serving batch may be empty: nothing to check, the type still holds
        return values.astype(PANDAS_DTYPES[dtype])
    types = pd.api.types
    inferred = types.infer_dtype(values, skipna=True)
    missing = int(values.isna().sum())

    def refuse(why: str) -> InvalidParameter:
        return InvalidParameter(
            "dtype",
            f"{what} {kind} values ({inferred}); feature {version.ref} is declared {dtype}: {why}",
            details={"feature": version.ref, "declared": dtype, "found": str(kind)},
        )

    if dtype == "float64":
        if types.is_bool_dtype(kind) or not types.is_numeric_dtype(kind):
            raise refuse("return numbers")
        return values.astype(PANDAS_DTYPES[dtype])
    if dtype == "int64":
        if missing:
            raise refuse(f"{missing} values are missing, and an int64 feature has none (declare float64)")
        if types.is_integer_dtype(kind):
            return values.astype("int64")
        if types.is_float_dtype(kind) and bool(np.all(np.isfinite(values)) and np.all(values % 1 == 0)):
            return values.astype("int64")
        raise refuse("return whole numbers")
    if dtype == "bool":
        if missing:
            raise refuse(f"{missing} values are missing, and a bool feature has none")
        if types.is_bool_dtype(kind) or inferred == "boolean":
            return values.astype("bool")
        raise refuse("return True or False")
    if inferred in ("string", "empty") or (
        isinstance(kind, pd.CategoricalDtype) and types.infer_dtype(kind.categories) == "string"
    ):
        return values.astype("string")
    raise refuse("return text")


def _columns(frame: Any) -> str:
    names = [printable(c) for c in frame.columns[:COLUMNS_NAMED]]
    more = len(frame.columns) - COLUMNS_NAMED
    return f"{names}" + (f" and {more} more" if more > 0 else "")

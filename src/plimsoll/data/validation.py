"""Data validation with pandera, the DataFrame schemas the field already writes: a schema in Python
(`pandera.DataFrameSchema`) or in pandera's own YAML travels as YAML text, and the checks run
where the version's files are (the service), file by file, every failure counted.

A schema's custom checks travel by name: pandera's registered check methods
(`pandera.extensions.register_check_method`) run wherever they are registered (always in the
embedded store; on a server, once its process imports them); an unregistered one is refused
naming it, never skipped.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from plimsoll.core.errors import InvalidParameter
from plimsoll.data.entities import CheckFailure

MAX_SCHEMA_LENGTH = 256 * 1024  # characters of YAML
EXAMPLES_PER_CHECK = 5  # failing values kept as evidence, per column and check
EXAMPLE_LENGTH = 200  # characters of one failing value, as text


@dataclass(frozen=True)
class Outcome:
    passed: bool
    rows: int
    failures: tuple[CheckFailure, ...]


def schema_text(schema: Any) -> str:
    """YAML text for a pandera `DataFrameSchema`, YAML text itself, or a path to a .yaml file."""
    if isinstance(schema, os.PathLike) or (
        isinstance(schema, str) and "\n" not in schema and schema.endswith((".yaml", ".yml"))
    ):
        path = Path(schema)
        if not path.is_file():
            raise InvalidParameter("schema", f"{str(path)!r} is not a file")
        schema = path.read_text(encoding="utf-8")
    if isinstance(schema, str):
        load_schema(schema)  # refused here, naming the problem, rather than by the server
        return schema
    to_yaml = getattr(schema, "to_yaml", None)
    if to_yaml is None:
        raise InvalidParameter(
            "schema",
            f"must be a pandera DataFrameSchema, its YAML, or a .yaml file; got {type(schema).__name__}",
        )
    try:
        return str(to_yaml())
    except Exception as exc:  # pandera names what it cannot write (a lambda check, a custom dtype)
        raise InvalidParameter(
            "schema",
            f"cannot be written as YAML ({exc}); give custom checks a name with "
            "pandera.extensions.register_check_method",
        ) from None


def load_schema(text: str) -> Any:
    """The pandera schema `text` holds; anything else is refused naming the problem."""
    if len(text) > MAX_SCHEMA_LENGTH:
        raise InvalidParameter("schema", f"is {len(text):,} characters; the limit is {MAX_SCHEMA_LENGTH:,}")
    from pandera.pandas import DataFrameSchema

    try:
        schema = DataFrameSchema.from_yaml(text)
    except Exception as exc:  # YAML syntax, an unknown check or dtype: pandera says which
        raise InvalidParameter("schema", f"is not a pandera schema in YAML: {_first_line(exc)}") from None
    return schema


def run_checks(schema: Any, frames: Iterable[tuple[str, Any]]) -> Outcome:
    """Every check of `schema` on each (path, pandas DataFrame), all failures collected (lazily:
    one failing check does not hide the next), counted per column and check."""
    from pandera.errors import SchemaError, SchemaErrors

    counts: dict[tuple[str | None, str], int] = {}
    examples: dict[tuple[str | None, str], list[str]] = {}
    rows = 0
    for path, frame in frames:
        rows += len(frame)
        try:
            schema.validate(frame, lazy=True)
        except SchemaErrors as errors:
            for case in errors.failure_cases.to_dict("records"):
                column = None if _missing(case.get("column")) else str(case["column"])
                key = (column, str(case.get("check")))
                counts[key] = counts.get(key, 0) + 1
                kept = examples.setdefault(key, [])
                if len(kept) < EXAMPLES_PER_CHECK:
                    kept.append(_example(path, case))
        except SchemaError as error:  # pandera raises one error for some table-wide problems
            key = (None, _first_line(error))
            counts[key] = counts.get(key, 0) + 1
            examples.setdefault(key, [path])
    failures = tuple(
        CheckFailure(column, check, count, tuple(examples[(column, check)]))
        for (column, check), count in sorted(counts.items(), key=lambda item: (item[0][0] or "", item[0][1]))
    )
    return Outcome(not failures, rows, failures)


def _example(path: str, case: dict[str, Any]) -> str:
    value = case.get("failure_case")
    index = case.get("index")
    shown = repr(value) if not _missing(value) else "null"
    where = "" if _missing(index) else f" (row {index})"
    return f"{path}: {shown}{where}"[:EXAMPLE_LENGTH]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:300] if text else type(error).__name__

"""SQL constructs the run search needs that differ by backend: code-point text order, a column
kept out of SQLite's index choice, and case-sensitive LIKE."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal


class CodePointOrder(ColumnElement[str]):
    """A text expression that compares by code point: `x COLLATE "C"` on PostgreSQL, `x` on SQLite."""

    inherit_cache = True
    _traverse_internals = [("element", InternalTraversal.dp_clauseelement)]  # noqa: RUF012
    type = Text()

    def __init__(self, element: ColumnElement[Any]) -> None:
        self.element = element


@compiles(CodePointOrder)
def _compile_code_point_default(element: CodePointOrder, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.element, **kw)


@compiles(CodePointOrder, "postgresql")
def _compile_code_point_postgres(element: CodePointOrder, compiler: SQLCompiler, **kw: Any) -> str:
    return f'({compiler.process(element.element, **kw)} COLLATE "C")'


class NotAnIndexKey(ColumnElement[str]):
    """`+x` on SQLite, which keeps its planner from driving a search by this term; `x` elsewhere."""

    inherit_cache = True
    _traverse_internals = [("element", InternalTraversal.dp_clauseelement)]  # noqa: RUF012
    type = Text()

    def __init__(self, element: ColumnElement[Any]) -> None:
        self.element = element


@compiles(NotAnIndexKey)
def _compile_not_an_index_key_default(element: NotAnIndexKey, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.element, **kw)


@compiles(NotAnIndexKey, "sqlite")
def _compile_not_an_index_key_sqlite(element: NotAnIndexKey, compiler: SQLCompiler, **kw: Any) -> str:
    return f"+{compiler.process(element.element, **kw)}"


class CaseSensitiveLike(ColumnElement[bool]):
    """`x LIKE :p ESCAPE '\\'`, except on SQLite, whose LIKE ignores ASCII case: `x GLOB :g` there."""

    inherit_cache = True
    _traverse_internals = [  # noqa: RUF012 - SQLAlchemy's declared shape
        ("like_clause", InternalTraversal.dp_clauseelement),
        ("glob_clause", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], pattern: str) -> None:
        self.like_clause = column.like(pattern, escape="\\")
        self.glob_clause = column.op("GLOB", is_comparison=True)(_like_to_glob(pattern))


@compiles(CaseSensitiveLike)
def _compile_like_default(element: CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.like_clause, **kw)


@compiles(CaseSensitiveLike, "sqlite")
def _compile_like_sqlite(element: CaseSensitiveLike, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.glob_clause, **kw)


def _like_to_glob(pattern: str) -> str:
    r"""Translate a LIKE pattern (`%`, `_`, `\` escapes) to the equivalent SQLite GLOB pattern."""
    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            char = next(chars, "\\")
            out.append(f"[{char}]" if char in "*?[" else char)
        elif char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        else:
            out.append(f"[{char}]" if char in "*?[" else char)
    return "".join(out)

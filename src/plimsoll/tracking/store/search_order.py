"""Run search order: sort keys from `order_by` text, the joins they need, and keyset pagination
(the rows strictly after the last one of the previous page)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, FromClause, and_, case, null, or_

from plimsoll.core.errors import InvalidParameter
from plimsoll.tracking.search_language import DEFAULT_ORDER_BY, Operand, parse_order_item
from plimsoll.tracking.store.schema import latest_metrics, params, runs, tags
from plimsoll.tracking.store.search_sql import CodePointOrder

MAX_ORDER_BY = 10


# --- ordering ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SortKey:
    """One ORDER BY term: `expression` is selected as `label`; missing values (NULL) sort last.

    A param/metric/tag key reads a column of an aliased table that `sort_source` LEFT JOINs to runs
    (`joins` holds it, on the first key of an order_by item only).
    """

    expression: ColumnElement[Any]
    descending: bool
    label: str
    kind: Literal["number", "text"]
    joins: tuple[tuple[FromClause, ColumnElement[bool]], ...] = ()

    def ordering(self) -> ColumnElement[Any]:
        return (self.expression.desc() if self.descending else self.expression.asc()).nulls_last()


def compile_order_by(order_by: Sequence[str] | None) -> list[SortKey]:
    """Sort keys for `order_by` items such as "metrics.acc DESC"; start_time DESC when none are given.

    The runs.id tie-breaker is not among them: `build_search_query` and `after_cursor` add it.
    """
    items = list(order_by or ())
    if len(items) > MAX_ORDER_BY:
        raise InvalidParameter("order_by", f"has {len(items)} items; the limit is {MAX_ORDER_BY}")
    if not items:
        items = list(DEFAULT_ORDER_BY)
    keys: list[SortKey] = []
    for number, text in enumerate(items):
        if not isinstance(text, str) or not text.strip():
            raise InvalidParameter("order_by", "items must be non-empty strings such as 'metrics.acc DESC'")
        item = parse_order_item(text)
        expressions, joins = _sort_expressions(item.operand, f"o{number}")
        for expression, kind in expressions:
            keys.append(SortKey(expression, item.descending, f"s{len(keys)}", kind, joins))
            joins = ()
    return keys


def _sort_expressions(
    operand: Operand, alias_name: str
) -> tuple[
    list[tuple[ColumnElement[Any], Literal["number", "text"]]],
    tuple[tuple[FromClause, ColumnElement[bool]], ...],
]:
    """The sort expressions for one order_by operand and the LEFT JOIN they read from, if any."""
    if operand.entity == "attribute":
        column = runs.c[operand.key]
        if operand.key in ("start_time", "end_time"):
            return [(column, "number")], ()
        return [(CodePointOrder(column), "text")], ()
    table = {"param": params, "metric": latest_metrics, "tag": tags}[operand.entity].alias(alias_name)
    joins = ((table, and_(table.c.run_id == runs.c.id, table.c.key == operand.key)),)
    if operand.entity == "metric":
        return [(table.c.value, "number")], joins
    if operand.entity == "tag":
        return [(CodePointOrder(table.c.value), "text")], joins
    text_when_not_number = case((table.c.num_value.is_(None), table.c.value), else_=null())
    return [(table.c.num_value, "number"), (CodePointOrder(text_when_not_number), "text")], joins


def sort_source(sort_keys: Sequence[SortKey]) -> FromClause:
    """`runs` LEFT OUTER JOINed to each param/metric/tag row the sort keys read (at most one per key)."""
    source: FromClause = runs
    for key in sort_keys:
        for table, onclause in key.joins:
            source = source.outerjoin(table, onclause)
    return source


# --- keyset pagination ---------------------------------------------------------------------------


def sort_values(row_mapping: Mapping[str, Any], sort_keys: Sequence[SortKey]) -> list[Any]:
    """The sort values of a fetched row, read from the columns labelled s0..sN in the query."""
    return [row_mapping[key.label] for key in sort_keys]


def run_id_order() -> ColumnElement[str]:
    return CodePointOrder(runs.c.id)


def after_cursor(
    sort_keys: Sequence[SortKey], values: Sequence[Any], last_run_id: str
) -> ColumnElement[bool]:
    """Rows strictly after the row with these sort values and id, in ORDER BY keys..., id ASC.

    With NULLS LAST: after a value come larger (or, descending, smaller) values and then NULLs;
    after a NULL come only the NULLs that follow it by id.
    """
    if len(values) != len(sort_keys):
        raise InvalidParameter("page_token", "does not match this search's order_by")
    condition: ColumnElement[bool] = run_id_order() > last_run_id
    for key, value in reversed(list(zip(sort_keys, values, strict=True))):
        expression = key.expression
        if value is None:
            condition = and_(expression.is_(None), condition)
        else:
            beyond = expression < value if key.descending else expression > value
            condition = or_(beyond, expression.is_(None), and_(expression == value, condition))
    return condition


def check_cursor_values(sort_keys: Sequence[SortKey], values: Sequence[Any]) -> None:
    if len(values) != len(sort_keys):
        raise InvalidParameter("page_token", "does not match this search's order_by")
    for key, value in zip(sort_keys, values, strict=True):
        expected = str if key.kind == "text" else (int, float)
        if value is not None and not isinstance(value, expected):
            raise InvalidParameter("page_token", "does not match this search's order_by")

"""Run search: the filter language compiled to SQLAlchemy Core, ordering, and keyset pagination.

The language is described for users in docs/search.md; `search_language.py` turns text into a small
checked AST, and this module compiles that AST. Every literal becomes a bound parameter: no user
text is ever spliced into SQL.

    stmt, sort_keys, fingerprint = build_search_query(experiment_ids=["e1"], filter_text="...",
                                                      order_by=["metrics.acc DESC"], max_results=100,
                                                      cursor=page_token)
    rows = conn.execute(stmt).all()
    page, more = rows[:max_results], len(rows) > max_results
    next_token = encode_cursor(sort_values(page[-1]._mapping, sort_keys), page[-1].id, fingerprint)

Semantics worth knowing:
- A param/metric/tag comparison is `EXISTS (SELECT 1 FROM <table> WHERE run_id = runs.id AND key = :k
  AND <cond>)`, so `!=`, `NOT IN` and `NOT LIKE` mean "has the key and it differs"; `NOT (...)` is
  plain boolean negation and so also matches runs without the key.
- Sort keys are selected in the query, labelled s0..sN, and the next cursor is built from the last
  row's values (`sort_values`); after the user's keys comes `runs.id` ascending as the tie-breaker.
  A param/metric/tag sort key reads from a LEFT OUTER JOIN on (run_id, key), not a correlated
  subquery: the keyset predicate repeats each sort expression, and on PostgreSQL repeated
  correlated subqueries made the second page ~10x slower than the first.
- Page tokens are not signed: a forged one can only change where a page starts (all its values
  are bound parameters and type-checked against the sort keys).
- Missing keys (and NaN metrics, stored as NULL) sort last in both directions. Text sorts by code
  point on both backends (PostgreSQL uses COLLATE "C"), so pages never depend on the server locale.
- Params sort as two keys: the numeric value first (runs whose value is a number, in numeric order),
  then the text (runs whose value is not a number), then runs without the param.
"""

from __future__ import annotations

import functools
import math
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    false,
    literal_column,
    not_,
    or_,
    select,
    true,
)

from plimsoll.core.errors import InvalidParameter
from plimsoll.tracking.page_tokens import decode_cursor, search_fingerprint
from plimsoll.tracking.search_language import (
    MAX_COMPARISONS,
    MAX_DEPTH,
    MAX_FILTER_LENGTH,
    BoolOp,
    Comparison,
    Node,
    Not,
    parse_filter,
)
from plimsoll.tracking.store.schema import experiments, latest_metrics, params, runs, tags
from plimsoll.tracking.store.search_order import (
    MAX_ORDER_BY,
    SortKey,
    after_cursor,
    check_cursor_values,
    compile_order_by,
    run_id_order,
    sort_source,
    sort_values,
)
from plimsoll.tracking.store.search_sql import CaseSensitiveLike, NotAnIndexKey

__all__ = [
    "MAX_COMPARISONS",
    "MAX_DEPTH",
    "MAX_FILTER_LENGTH",
    "MAX_ORDER_BY",
    "MAX_RESULTS",
    "SortKey",
    "after_cursor",
    "build_search_query",
    "compile_filter",
    "compile_order_by",
    "sort_source",
    "sort_values",
]

MAX_RESULTS = 50_000


# --- filters -------------------------------------------------------------------------------------


def compile_filter(filter_text: str | None, driver: Comparison | None = None) -> ColumnElement[bool] | None:
    """The WHERE condition for a filter, or None when there is none. Raises InvalidParameter("filter").

    `driver` (from `choose_driver`) is compiled as `runs.id IN (<its rows, from an index>)`."""
    node = parsed_filter(filter_text)
    return None if node is None else _compile(node, driver)


def parsed_filter(filter_text: object) -> Node | None:
    if filter_text is None or filter_text == "":
        return None
    if not isinstance(filter_text, str):
        raise InvalidParameter("filter", 'must be a string such as "metrics.acc > 0.9"')
    return _parse_cached(filter_text)


@functools.lru_cache(maxsize=256)
def _parse_cached(filter_text: str) -> Node | None:
    # A search parses its filter twice (choose_driver, then the query) and dashboards repeat
    # theirs; nodes are immutable, and a text that fails to parse raises, so is never cached.
    return parse_filter(filter_text)


def _compile(node: Node, driver: Comparison | None) -> ColumnElement[bool]:
    if isinstance(node, BoolOp):
        children = [_compile(child, driver) for child in node.children]
        return and_(*children) if node.op == "AND" else or_(*children)
    if isinstance(node, Not):
        return not_(_compile(node.child, driver))
    if node == driver:
        return runs.c.id.in_(indexed_rows(node))
    return _compile_comparison(node)


def _compile_comparison(comparison: Comparison) -> ColumnElement[bool]:
    operand, op = comparison.operand, comparison.op
    values = [value.value for value in comparison.values]
    if operand.entity == "attribute":
        return value_condition(runs.c[operand.key], op, values)
    table = {"param": params, "metric": latest_metrics, "tag": tags}[operand.entity]
    # A correlated EXISTS, not `runs.id IN (SELECT ...)`: its cost follows the runs of the
    # searched experiments, where an IN-list grows with every run in the database.
    has_key: Select[Any] = select(literal_column("1")).where(
        table.c.run_id == runs.c.id, table.c.key == operand.key
    )
    if op == "IS NULL":
        return ~has_key.correlate(runs).exists()
    if op == "IS NOT NULL":
        return has_key.correlate(runs).exists()
    if operand.entity == "metric":
        condition = metric_condition(op, values)
    elif operand.entity == "param" and not isinstance(values[0], str):
        condition = value_condition(params.c.num_value, op, values)
    else:
        condition = value_condition(table.c.value, op, values)
    return has_key.where(condition).correlate(runs).exists()


def value_condition(column: ColumnElement[Any], op: str, values: list[Any]) -> ColumnElement[bool]:
    """`column <op> values` for everything but IS [NOT] NULL on keys and metric NaN handling."""
    value = values[0] if values else None
    match op:
        case "=":
            return column == value
        case "!=":
            return column != value
        case "<":
            return column < value
        case "<=":
            return column <= value
        case ">":
            return column > value
        case ">=":
            return column >= value
        case "IN":
            return column.in_(values)
        case "NOT IN":
            return column.not_in(values)
        case "LIKE":
            return CaseSensitiveLike(column, str(value))
        case "NOT LIKE":
            return not_(CaseSensitiveLike(column, str(value)))
        case "ILIKE":
            return column.ilike(value, escape="\\")
        case "NOT ILIKE":
            return column.not_ilike(value, escape="\\")
        case "IS NULL":
            return column.is_(None)
        case "IS NOT NULL":
            return column.is_not(None)
    raise AssertionError(f"unhandled operator {op}")  # pragma: no cover - the parser admits no others


def metric_condition(op: str, values: list[Any]) -> ColumnElement[bool]:
    """NaN is stored as value NULL with is_nan; it equals only NaN and differs from every number."""
    value, is_nan = latest_metrics.c.value, latest_metrics.c.is_nan.is_(True)
    if op not in ("=", "!=", "IN", "NOT IN"):
        return value_condition(value, op, values)  # a NaN row has value NULL, so never matches these
    numbers = [v for v in values if not math.isnan(v)]
    wants_nan = len(numbers) < len(values)
    if op in ("=", "IN"):
        matches = value.in_(numbers) if numbers else false()
        return or_(matches, is_nan) if wants_nan else matches
    differs = value.not_in(numbers) if numbers else true()
    return and_(differs, ~is_nan) if wants_nan else or_(differs, is_nan)


def build_search_query(
    *,
    experiment_ids: list[str] | None,
    filter_text: str | None,
    order_by: list[str] | None,
    max_results: int,
    cursor: str | None,
    include_deleted: bool = False,
    driver: Comparison | None = None,
    project: str | None = None,
) -> tuple[Select[Any], list[SortKey], str]:
    """The query for one page: `select(runs.c.id, s0..sN)` filtered, ordered, `LIMIT max_results + 1`.

    Returns it with the sort keys and the search fingerprint. The caller fetches, keeps the first
    `max_results` rows, and when there was one more builds the next page token from the last kept
    row: `encode_cursor(sort_values(row._mapping, sort_keys), row.id, fingerprint)`.
    `experiment_ids=None` searches every experiment (of `project`, when given); runs with lifecycle_stage 'deleted' are left
    out unless `include_deleted`. `driver` (from `choose_driver`) is where the search starts.
    """
    if (
        isinstance(max_results, bool)
        or not isinstance(max_results, int)
        or not 1 <= max_results <= MAX_RESULTS
    ):
        raise InvalidParameter("max_results", f"must be an integer from 1 to {MAX_RESULTS:,}")
    condition = compile_filter(filter_text, driver)
    sort_keys = compile_order_by(order_by)
    fingerprint = search_fingerprint(experiment_ids, filter_text, order_by, include_deleted, project)
    labelled = [key.expression.label(key.label) for key in sort_keys]
    stmt = select(runs.c.id, *labelled).select_from(sort_source(sort_keys))
    if experiment_ids is not None:
        experiment = runs.c.experiment_id if driver is None else NotAnIndexKey(runs.c.experiment_id)
        stmt = stmt.where(experiment.in_(list(experiment_ids)))
    if project is not None:
        stmt = stmt.where(
            runs.c.experiment_id.in_(select(experiments.c.id).where(experiments.c.project == project))
        )
    if not include_deleted:
        stmt = stmt.where(runs.c.lifecycle_stage != "deleted")
    if condition is not None:
        stmt = stmt.where(condition)
    if cursor:
        values, last_run_id = decode_cursor(cursor, fingerprint)
        check_cursor_values(sort_keys, values)
        stmt = stmt.where(after_cursor(sort_keys, values, last_run_id))
    # ORDER BY the selected labels (s0 DESC NULLS LAST, ...), then the id tie-breaker.
    ordering = [
        (c.desc() if k.descending else c.asc()).nulls_last() for c, k in zip(labelled, sort_keys, strict=True)
    ]
    stmt = stmt.order_by(*ordering, run_id_order().asc())
    return stmt.limit(max_results + 1), sort_keys, fingerprint


def indexed_rows(comparison: Comparison) -> Select[Any]:
    """`SELECT run_id` of the rows that satisfy an `_answerable_by_index` comparison."""
    operand, op = comparison.operand, comparison.op
    values = [value.value for value in comparison.values]
    if operand.entity == "metric":
        return select(latest_metrics.c.run_id).where(
            latest_metrics.c.key == operand.key, metric_condition(op, values)
        )
    table = params if operand.entity == "param" else tags
    return select(table.c.run_id).where(
        table.c.key == operand.key, value_condition(table.c.value, op, values)
    )

"""Running a run search: where it starts on SQLite (the plain experiment scan, or the rows one
indexed condition matches when that is far fewer), and one page of it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, func, select

from plimsoll.tracking.page_tokens import encode_cursor
from plimsoll.tracking.search_language import BoolOp, Comparison, Node
from plimsoll.tracking.store.schema import runs
from plimsoll.tracking.store.search import (
    build_search_query,
    indexed_rows,
    parsed_filter,
    sort_values,
)

# The plain plan walks the searched experiments' runs and probes each condition per run: its cost
# follows the experiments' size. When one AND-ed condition matches far fewer rows (counted in its
# index), the search starts from those rows instead. PostgreSQL's planner makes this choice from
# its statistics, so there the plain query is left to it; SQLite's has none for a fresh database
# and cannot judge a range on a value, hence the counts (index entries only, capped) and the
# explicit choice.

# Measured on SQLite (10,000 runs): a run reached from an index list costs about 2.5 times a run
# walked in the experiment scan; the list must be this many times smaller to be worth it.
DRIVER_ADVANTAGE = 4
# Counting stops here: a condition matching more rows than this never starts a search.
DRIVER_COUNT_CAP = 20_000


def choose_driver(
    conn: Connection, experiment_ids: Sequence[str] | None, filter_text: str | None
) -> Comparison | None:
    """The AND-ed comparison to start the search from, or None for the plain experiment scan."""
    if conn.dialect.name != "sqlite":
        return None
    best: Comparison | None = None
    best_rows = DRIVER_COUNT_CAP
    for comparison in driver_candidates(filter_text):
        count = _count(conn, indexed_rows(comparison), cap=best_rows)
        if count < best_rows:
            best, best_rows = comparison, count
    if best is None:
        return None
    scanned: Select[Any] = select(runs.c.id)
    if experiment_ids is not None:
        scanned = scanned.where(runs.c.experiment_id.in_(list(experiment_ids)))
    scan_rows = _count(conn, scanned, cap=best_rows * DRIVER_ADVANTAGE + 1)
    return best if scan_rows > best_rows * DRIVER_ADVANTAGE else None


def driver_candidates(filter_text: str | None) -> list[Comparison]:
    """The comparisons a search could start from: AND-ed terms (every match satisfies them) that
    an index answers."""
    return [c for c in _conjuncts(parsed_filter(filter_text)) if _answerable_by_index(c)]


def _count(conn: Connection, rows: Select[Any], *, cap: int) -> int:
    return int(conn.execute(select(func.count()).select_from(rows.limit(cap).subquery())).scalar_one())


def _conjuncts(node: Node | None) -> list[Comparison]:
    """The comparisons that every match must satisfy: the filter itself, or its AND terms, also
    inside parentheses (`a AND (b AND c)`)."""
    if isinstance(node, Comparison):
        return [node]
    if isinstance(node, BoolOp) and node.op == "AND":
        return [term for child in node.children for term in _conjuncts(child)]
    return []


def _answerable_by_index(comparison: Comparison) -> bool:
    """True for the comparisons the (key, value) indexes of latest_metrics, params and tags answer;
    not for attributes, LIKE, negations, NaN, or numbers compared with params.num_value."""
    op, values = comparison.op, [value.value for value in comparison.values]
    match comparison.operand.entity:
        case "metric":
            return op in ("<", "<=", ">", ">=") or (
                op in ("=", "IN") and not any(math.isnan(float(v)) for v in values)
            )
        case "param" | "tag":
            return op in ("=", "IN") and all(isinstance(v, str) for v in values)
    return False


def search_page(
    conn: Connection,
    *,
    experiment_ids: list[str] | None,
    filter_text: str | None,
    order_by: list[str] | None,
    max_results: int,
    cursor: str | None,
    include_deleted: bool,
    project: str | None = None,
) -> tuple[list[str], str | None]:
    """The run ids of one page, in order, and the token of the next page (None on the last)."""
    query, sort_keys, fingerprint = build_search_query(
        experiment_ids=experiment_ids,
        filter_text=filter_text,
        order_by=order_by,
        max_results=max_results,
        cursor=cursor,
        include_deleted=include_deleted,
        driver=choose_driver(conn, experiment_ids, filter_text),
        project=project,
    )
    rows = list(conn.execute(query))
    page = rows[:max_results]
    next_cursor = None
    if len(rows) > max_results:
        last = page[-1]
        next_cursor = encode_cursor(sort_values(dict(last._mapping), sort_keys), last.id, fingerprint)
    return [row.id for row in page], next_cursor

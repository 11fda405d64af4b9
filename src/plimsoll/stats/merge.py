"""Merge summaries of windows or shards into the summary of their concatenation.

Exact: row, null, NaN and infinity counts, min, max, histogram counts when the edges are equal, and
label counts while no input is truncated. Mean and variance are merged with Chan's pairwise formula,
exact up to float rounding (relative error ~1e-15). Histograms on different edges are re-binned onto
edges drawn from all of them (``common_edges``) by linear interpolation inside each source bin
(``rebin``), which adds to ``rebin_error`` (and so to ``rank_error`` and ``share_error``) each
input's largest count strictly inside one of its bins: zero for inputs whose values all sit on
their edges.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import replace
from operator import attrgetter
from typing import Any, TypeVar, overload

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from plimsoll.stats._errors import StatsKindMismatch, StatsNotEnoughData, StatsShapeMismatch
from plimsoll.stats.sketch import hll_registers
from plimsoll.stats.summaries import (
    DEFAULT_MAX_CATEGORIES,
    CategoricalSummary,
    ColumnSummary,
    NumericSummary,
    TableSummary,
    categorical_summary,
)

SummaryT = TypeVar("SummaryT", TableSummary, NumericSummary, CategoricalSummary)


@overload
def merge(summaries: Sequence[TableSummary], *, max_categories: int = ...) -> TableSummary: ...
@overload
def merge(summaries: Sequence[NumericSummary], *, max_categories: int = ...) -> NumericSummary: ...
@overload
def merge(summaries: Sequence[CategoricalSummary], *, max_categories: int = ...) -> CategoricalSummary: ...
def merge(
    summaries: Sequence[TableSummary] | Sequence[NumericSummary] | Sequence[CategoricalSummary],
    *,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
) -> TableSummary | NumericSummary | CategoricalSummary:
    """Merge table summaries (same columns) or column summaries (same kind)."""
    if len(summaries) == 0:
        raise StatsNotEnoughData(
            "merge: needs at least one summary, got none", field="summaries", limit="at least 1 summary"
        )
    first = summaries[0]
    for position, other in enumerate(summaries):
        if type(other) is not type(first):
            raise StatsKindMismatch(
                f"merge: summary {position} is a {type(other).__name__} but summary 0 is a "
                f"{type(first).__name__}; only summaries of the same kind merge",
                field="summaries",
            )
    if isinstance(first, TableSummary):
        return _merge_tables([s for s in summaries if isinstance(s, TableSummary)], max_categories)
    return merge_columns(list(summaries), column="value", max_categories=max_categories)  # type: ignore[arg-type]


def merge_columns(
    summaries: Sequence[ColumnSummary], *, column: str, max_categories: int = DEFAULT_MAX_CATEGORIES
) -> ColumnSummary:
    kinds = {s.kind for s in summaries}
    if len(kinds) != 1:
        raise StatsKindMismatch(
            f"column {column!r}: cannot merge summaries of different kinds {sorted(kinds)}",
            field=f"columns.{column}",
        )
    if isinstance(summaries[0], NumericSummary):
        return _merge_numeric([s for s in summaries if isinstance(s, NumericSummary)])
    return _merge_categorical([s for s in summaries if isinstance(s, CategoricalSummary)], max_categories)


def _merge_tables(tables: list[TableSummary], max_categories: int) -> TableSummary:
    names = list(tables[0].columns)
    for position, table in enumerate(tables):
        if set(table.columns) != set(names):
            missing = sorted(set(names) ^ set(table.columns))
            raise StatsShapeMismatch(
                f"merge: table summary {position} differs from summary 0 in columns {missing}",
                field="summaries",
            )
    merged = {
        name: merge_columns([t.columns[name] for t in tables], column=name, max_categories=max_categories)
        for name in names
    }
    return TableSummary(sum(t.row_count for t in tables), merged)


_COUNTS = attrgetter("row_count", "null_count", "nan_count", "posinf_count", "neginf_count", "rebin_error")
_MOMENTS = attrgetter("mean", "sum_squared_deviations", "minimum", "maximum")
# Parts whose histograms are added in one numpy call: fewer calls than one per part (a merge of
# 1,000 windows was mostly the overhead of 30,000 small additions), a bounded copy for any number.
_PARTS_PER_ADDITION = 1024


def _merge_numeric(parts: list[NumericSummary]) -> NumericSummary:
    edges = parts[0].edges
    distinct_edges = {id(part.edges): part.edges for part in parts}
    if not all(other is edges or np.array_equal(other, edges) for other in distinct_edges.values()):
        edges = common_edges(parts)
        parts = [rebin(part, edges) for part in parts]
    # Exact integer sums, one row per part: rows, nulls, NaN, +inf, -inf, re-binning error.
    tallies = np.array(list(map(_COUNTS, parts)), dtype=np.int64).reshape(len(parts), 6)
    row_count, null_count, nan_count, posinf_count, neginf_count, rebin_error = (
        int(total) for total in tallies.sum(axis=0)
    )
    counts = _added([part.counts for part in parts], row_count)
    edge_counts = _added([part.edge_counts for part in parts], row_count)
    finite = tallies[:, 0] - tallies[:, 1:5].sum(axis=1)
    present = finite > 0
    mean: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    sum_squared = 0.0
    if present.any():
        # A part without finite values has mean None (NaN here); it carries no weight and is dropped.
        moments = np.array(list(map(_MOMENTS, parts)), dtype=np.float64).reshape(len(parts), 4)[present]
        weights = finite[present].astype(np.float64)
        means, squares = moments[:, 0], moments[:, 1]
        mean = float(np.dot(weights / weights.sum(), means))  # normalised first: no overflow
        with np.errstate(over="ignore", invalid="ignore"):  # overflow gives +inf: moments_finite says so
            spread = means - mean
            sum_squared = float(squares.sum() + np.dot(weights, spread * spread))
        sum_squared = sum_squared if not np.isnan(sum_squared) else math.inf
        minimum, maximum = float(moments[:, 2].min()), float(moments[:, 3].max())
    return NumericSummary(
        row_count=row_count,
        null_count=null_count,
        nan_count=nan_count,
        posinf_count=posinf_count,
        neginf_count=neginf_count,
        minimum=minimum,
        maximum=maximum,
        mean=mean,
        sum_squared_deviations=sum_squared,
        edges=edges,
        counts=counts,
        edge_counts=edge_counts,
        rebin_error=rebin_error,
    )


def _added(histograms: list[NDArray[np.signedinteger[Any]]], most: int) -> NDArray[np.int64]:
    """The element-wise sum of equally long count arrays, none of whose sums exceeds `most`."""
    total = np.int32 if most <= np.iinfo(np.int32).max else np.int64
    added = np.zeros(len(histograms[0]), dtype=np.int64)
    for start in range(0, len(histograms), _PARTS_PER_ADDITION):
        chunk = histograms[start : start + _PARTS_PER_ADDITION]
        block = np.concatenate(chunk).reshape(len(chunk), -1)  # the quickest copy into one block
        added += np.add.reduce(block, axis=0, dtype=total)
    return added


def common_edges(parts: Sequence[NumericSummary]) -> NDArray[np.float64]:
    """Edges for merging parts that chose different ones: every edge of every part while there are
    no more than the largest part's bin count, else that many of them at equal steps of the parts'
    pooled mass (each edge weighs its part's finite values over its part's edge count).

    Keeping one part's edges instead would put the other parts' values beyond its range into one
    outer bin (windows of a drifting column cover different ranges), losing what a later
    comparison needs. On these edges each part is re-binned with an error no larger than its own
    largest inside-a-bin count, and a part whose values all sit on its edges loses nothing while
    the union fits."""
    budget = max(len(part.edges) for part in parts)
    pooled = np.concatenate([part.edges for part in parts])
    weights = np.concatenate(
        [np.full(len(part.edges), part.finite_count / max(len(part.edges), 1)) for part in parts]
    )
    order = np.argsort(pooled, kind="stable")
    pooled, weights = pooled[order], weights[order]
    distinct = np.ones(len(pooled), dtype=bool)
    distinct[1:] = pooled[1:] != pooled[:-1]
    if int(distinct.sum()) <= budget:
        return np.ascontiguousarray(pooled[distinct])
    cumulative = np.cumsum(weights)
    steps = cumulative[-1] * np.arange(1, budget + 1) / budget
    chosen = np.minimum(np.searchsorted(cumulative, steps, side="left"), len(pooled) - 1)
    return np.unique(np.concatenate(([pooled[0]], pooled[chosen])))


def rebin(summary: NumericSummary, edges: NDArray[np.float64]) -> NumericSummary:
    """``summary`` moved onto other ``edges``; ``rebin_error`` grows by its largest inside-a-bin count.

    A target edge equal to a source edge keeps that edge's exact cumulative and edge counts. A target
    edge strictly inside a source bin gets the bin's lower cumulative plus the values strictly inside
    the bin in proportion to where the edge falls (linear interpolation; the outer bins run from the
    minimum and to the maximum). Taking the lower cumulative instead would bias every cumulative count
    downwards and every binned KS statistic upwards; interpolation leaves an error of either sign,
    at most the bin's inside count (zero for discrete data, whose values all sit on edges).
    """
    if summary.edges is edges or np.array_equal(summary.edges, edges):
        return summary
    n = summary.finite_count
    source = summary.edges
    inside = summary.counts.astype(np.float64)
    inside[:-1] -= summary.edge_counts
    if n == 0 or summary.minimum is None or summary.maximum is None:
        cumulative = np.zeros(len(edges), dtype=np.int64)
    else:
        at_edge = np.cumsum(summary.counts)[:-1]
        start = np.concatenate(([0], at_edge))  # values at or below each source bin's lower edge
        low = np.concatenate(([summary.minimum], source))
        high = np.concatenate((source, [summary.maximum]))
        bin_index = np.searchsorted(source, edges, side="left")
        width = high[bin_index] - low[bin_index]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            share = np.where(width > 0, (edges - low[bin_index]) / width, edges >= high[bin_index])
        share = np.clip(np.nan_to_num(share, nan=1.0), 0.0, 1.0)
        cumulative = start[bin_index] + np.rint(inside[bin_index] * share).astype(np.int64)
        on_edge = bin_index < len(source)
        on_edge[on_edge] = source[bin_index[on_edge]] == edges[on_edge]
        cumulative[on_edge] = at_edge[bin_index[on_edge]]
    counts = np.diff(cumulative, prepend=0, append=n).astype(np.int64)
    matching = np.searchsorted(source, edges, side="left")
    same = matching < len(source)
    same[same] = source[matching[same]] == edges[same]
    edge_counts = np.zeros(len(edges), dtype=np.int64)
    edge_counts[same] = summary.edge_counts[matching[same]]
    edge_counts = np.minimum(edge_counts, counts[:-1])
    return replace(
        summary,
        edges=edges,
        counts=counts,
        edge_counts=edge_counts,
        rebin_error=int(inside.max(initial=0.0)) + summary.rebin_error,
    )


def _merge_categorical(parts: list[CategoricalSummary], max_categories: int) -> CategoricalSummary:
    # Labels of every part in one array, grouped by a hash table in C: a Python dict updated once
    # per label and part cost ~25 ms per column for 1,000 windows.
    labels = np.fromiter(itertools.chain.from_iterable(p.categories for p in parts), dtype=object)
    codes, distinct = pd.factorize(labels)
    counts = np.concatenate([p.counts for p in parts]) if parts else np.zeros(0, dtype=np.int64)
    totals = np.bincount(codes, weights=counts, minlength=len(distinct)).astype(np.int64)
    any_truncated = any(p.truncated for p in parts)
    registers: NDArray[np.uint8] | None = None
    count_error = sum(p.count_error for p in parts)
    if any_truncated:
        registers = np.zeros_like(next(p.registers for p in parts if p.registers is not None))
        for part in parts:
            own = part.registers if part.registers is not None else hll_registers(list(part.categories))
            np.maximum(registers, own, out=registers)
            if part.truncated and len(part.counts):
                # A label folded into this part's "other" had at most its smallest kept count.
                count_error += int(part.counts[-1])
    return categorical_summary(
        list(distinct),
        totals,
        sum(p.null_count for p in parts),
        max_categories=max_categories,
        count_error=count_error,
        registers=registers,
        other_count=sum(p.other_count for p in parts),
    )

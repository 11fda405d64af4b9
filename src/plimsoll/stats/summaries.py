"""Column summaries computed in one pass, mergeable across windows and shards.

``NumericSummary`` holds counts (rows, nulls, NaN, +inf, -inf), min, max, mean and the sum of squared
deviations (merged with Chan's formula), and a fine histogram. Its bin edges are fixed by the
reference: a summary made without ``reference=`` picks edges from its own data (every distinct value
when there are at most ``max_bins`` of them, else ``max_bins`` equally spaced quantiles: exact up to
65,536 finite values, beyond that those of a fixed-seed sample of 65,536 values, see ``_edges.py``); a
summary made with ``reference=`` reuses the reference's edges, so histograms of a reference and of any
number of windows line up bin for bin and merge by adding counts. No column is sorted: values are
placed among the edges in one O(n) pass (``_binning.py``), and the counts are always exact.

Bins are right-closed: bin 0 is (-inf, e0], bin i is (e[i-1], e[i]], the last is (e[-1], +inf);
``edge_counts[i]`` counts the values exactly equal to ``e[i]``, so when every value sits on an edge
(discrete data, or any column with at most ``max_bins`` distinct values) the histogram is the exact
distribution and statistics computed from it are exact.
The histogram is also the quantile sketch: ``quantile(q)`` answers with a bin edge whose true rank is
within ``rank_error`` (a fraction of the finite count) of ``q``; ``rank_error`` is the largest share of
rows in one bin, counted exactly, plus any error added by re-binning onto other edges. On the data that
chose the edges it is ``1 / max_bins`` when the edges are exact quantiles and 1.7-1.9 / ``max_bins``
(measured on 1M-value normal, log-normal, exponential and Pareto columns) when they come from the
sample; whatever it is, ``rank_error`` states it.

``CategoricalSummary`` counts labels exactly up to ``max_categories`` distinct labels; beyond that it
keeps the most frequent ``max_categories`` labels, an ``other_count`` and HyperLogLog registers for
the distinct count.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from plimsoll.stats._arrays import AllNull, CategoryCounts, NumericValues, column_values, table_columns
from plimsoll.stats._binning import histogram
from plimsoll.stats._edges import reference_edges
from plimsoll.stats._errors import StatsKindMismatch, StatsOutOfRange, StatsShapeMismatch, StatsUnknownName
from plimsoll.stats.sketch import RELATIVE_STANDARD_ERROR, hll_estimate, hll_registers

DEFAULT_MAX_BINS = 2048
DEFAULT_MAX_CATEGORIES = 1000

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
# A histogram's counts, in the narrowest signed integer that holds its largest count (see
# `compact_counts`); arithmetic on them widens first (numpy's sum and cumsum do so themselves).
CountArray = NDArray[np.signedinteger[Any]]


def compact_counts(counts: NDArray[np.integer[Any]]) -> CountArray:
    """`counts` as int8, int16, int32 or int64, the narrowest that holds its largest value.

    Merging many windows reads every window's histogram once, and that read is what it costs (a
    1,000-window merge is bound by memory speed): a window of 1,000 rows over 2,049 bins rarely
    has a bin above 127, and then takes an eighth of the bytes of int64."""
    largest, smallest = int(counts.max(initial=0)), int(counts.min(initial=0))
    for narrow in (np.int8, np.int16, np.int32):
        limits = np.iinfo(narrow)
        if limits.min <= smallest and largest <= limits.max:
            return counts.astype(narrow, copy=False)
    return counts.astype(np.int64, copy=False)


@dataclass(frozen=True, eq=False)
class NumericSummary:
    """Counts, moments and a fine histogram of one numeric column (see the module docstring)."""

    row_count: int
    null_count: int
    nan_count: int
    posinf_count: int
    neginf_count: int
    minimum: float | None
    maximum: float | None
    mean: float | None
    sum_squared_deviations: float
    edges: FloatArray
    counts: CountArray
    edge_counts: CountArray
    rebin_error: int = 0
    kind: str = field(default="numeric", init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "counts", compact_counts(self.counts))
        object.__setattr__(self, "edge_counts", compact_counts(self.edge_counts))

    @property
    def finite_count(self) -> int:
        return self.row_count - self.null_count - self.nan_count - self.posinf_count - self.neginf_count

    @property
    def missing_count(self) -> int:
        """Nulls and NaN: the values that say nothing."""
        return self.null_count + self.nan_count

    @property
    def moments_finite(self) -> bool:
        """False when the mean or the sum of squared deviations overflowed float64."""
        return self.mean is None or (math.isfinite(self.mean) and math.isfinite(self.sum_squared_deviations))

    @property
    def variance(self) -> float | None:
        """Population variance (ddof=0) of the finite values."""
        n = self.finite_count
        return None if n == 0 else self.sum_squared_deviations / n

    @property
    def std(self) -> float | None:
        variance = self.variance
        return None if variance is None else math.sqrt(variance)

    @property
    def rank_error(self) -> float:
        """Bound on |true rank - q| / n for ``quantile(q)`` and on any CDF value read at a bin edge."""
        n = self.finite_count
        if n == 0:
            return 0.0
        return (int(self.counts.max()) + self.rebin_error) / n

    @property
    def share_error(self) -> float:
        """What merging cost: the most any cumulative share read at an edge may be off because a
        part was re-binned onto these edges, in either direction; 0 when the histogram is exactly
        that of all the values (every part on the same edges)."""
        n = self.finite_count
        return 0.0 if n == 0 else self.rebin_error / n

    def quantile(self, q: float) -> float | None:
        """Approximate q-quantile of the finite values; None when there are none."""
        if not 0.0 <= q <= 1.0:
            raise StatsOutOfRange(f"quantile: q must be within [0, 1], got {q}", field="q", limit="[0, 1]")
        n = self.finite_count
        if n == 0 or self.minimum is None or self.maximum is None:
            return None
        cumulative = np.cumsum(self.counts)
        bin_index = int(np.searchsorted(cumulative, max(q * n, 1.0), side="left"))
        if bin_index >= len(self.edges):
            return self.maximum
        return float(min(max(self.edges[bin_index], self.minimum), self.maximum))

    def __repr__(self) -> str:
        return (
            f"NumericSummary(rows={self.row_count}, finite={self.finite_count}, mean={self.mean}, "
            f"std={self.std}, bins={len(self.counts)})"
        )


@dataclass(frozen=True, eq=False)
class CategoricalSummary:
    """Label counts of one categorical column (see the module docstring)."""

    row_count: int
    null_count: int
    categories: tuple[str, ...]
    counts: IntArray
    other_count: int = 0
    count_error: int = 0
    registers: NDArray[np.uint8] | None = None
    kind: str = field(default="categorical", init=False)

    @property
    def truncated(self) -> bool:
        """True once labels beyond the most frequent ``max_categories`` were folded into ``other``."""
        return self.registers is not None

    @property
    def missing_count(self) -> int:
        return self.null_count

    @property
    def present_count(self) -> int:
        return self.row_count - self.null_count

    @property
    def distinct_count(self) -> float:
        """Exact while not truncated; else a HyperLogLog estimate (see ``distinct_count_error``)."""
        if self.registers is None:
            return float(len(self.categories))
        return max(hll_estimate(self.registers), float(len(self.categories)))

    @property
    def distinct_count_error(self) -> float:
        """Relative standard error of ``distinct_count``: 0 while exact."""
        return 0.0 if self.registers is None else RELATIVE_STANDARD_ERROR

    @property
    def share_error(self) -> float:
        """What merging cost: the most any kept label's share may be low (the rest sits in
        ``other``) because parts that folded labels into ``other`` were merged; 0 when every kept
        count is exact."""
        n = self.present_count
        return 0.0 if n == 0 else self.count_error / n

    def as_dict(self) -> dict[str, int]:
        return dict(zip(self.categories, (int(c) for c in self.counts), strict=True))

    def __repr__(self) -> str:
        return (
            f"CategoricalSummary(rows={self.row_count}, nulls={self.null_count}, "
            f"categories={len(self.categories)}, truncated={self.truncated})"
        )


ColumnSummary = NumericSummary | CategoricalSummary


@dataclass(frozen=True, eq=False)
class TableSummary:
    """One summary per column, in the table's column order."""

    row_count: int
    columns: Mapping[str, ColumnSummary]

    def __getitem__(self, name: str) -> ColumnSummary:
        try:
            return self.columns[name]
        except KeyError:
            raise StatsUnknownName(
                f"column {name!r} is not in this summary; it has {sorted(self.columns)}",
                field=f"columns.{name}",
                details={"choices": sorted(self.columns)},
            ) from None

    @property
    def share_error(self) -> float:
        """The largest ``share_error`` of any column: 0 when the summary is exact."""
        return max((column.share_error for column in self.columns.values()), default=0.0)

    def __iter__(self) -> Any:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def __repr__(self) -> str:
        return f"TableSummary(rows={self.row_count}, columns={list(self.columns)})"


def summarize(
    table: Any,
    *,
    reference: TableSummary | None = None,
    max_bins: int = DEFAULT_MAX_BINS,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
) -> TableSummary:
    """Summarise every column of a table; pass ``reference=`` to bin numeric columns on its edges."""
    if isinstance(table, TableSummary):
        return table
    columns: dict[str, ColumnSummary] = {}
    row_count: int | None = None
    for name, values in table_columns(table):
        ref_column = reference.columns.get(name) if reference is not None else None
        summary = summarize_column(
            values, name=name, reference=ref_column, max_bins=max_bins, max_categories=max_categories
        )
        if row_count is not None and summary.row_count != row_count:
            raise StatsShapeMismatch(
                f"column {name!r} has {summary.row_count} rows but earlier columns have {row_count}",
                field=f"columns.{name}",
            )
        row_count = summary.row_count
        columns[name] = summary
    return TableSummary(row_count or 0, columns)


def summarize_column(
    values: Any,
    *,
    name: str = "value",
    reference: ColumnSummary | None = None,
    max_bins: int = DEFAULT_MAX_BINS,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
) -> ColumnSummary:
    """Summarise one column; ``reference`` fixes the kind and, for numbers, the bin edges."""
    _check_limits(max_bins, max_categories)
    converted = column_values(values, name)
    if isinstance(converted, AllNull):
        if isinstance(reference, CategoricalSummary):
            converted = CategoryCounts([], np.zeros(0, dtype=np.int64), converted.null_count)
        else:
            converted = NumericValues(np.zeros(0), converted.null_count)
    if reference is not None and reference.kind != _kind_of(converted):
        raise StatsKindMismatch(
            f"column {name!r}: the reference summary is {reference.kind} but these values are "
            f"{_kind_of(converted)}; cast the column to match the reference",
            field=f"columns.{name}",
        )
    if isinstance(converted, NumericValues):
        edges = reference.edges if isinstance(reference, NumericSummary) else None
        return numeric_summary(converted.values, converted.null_count, edges=edges, max_bins=max_bins)
    return categorical_summary(
        converted.categories, converted.counts, converted.null_count, max_categories=max_categories
    )


def numeric_summary(
    values: FloatArray,
    null_count: int = 0,
    *,
    edges: FloatArray | None = None,
    max_bins: int = DEFAULT_MAX_BINS,
) -> NumericSummary:
    finite_mask = np.isfinite(values)
    if finite_mask.all():
        finite = values
        nan_count = posinf_count = neginf_count = 0
    else:
        finite = values[finite_mask]
        nan_count = int(np.isnan(values).sum())
        posinf_count = int(np.count_nonzero(values == np.inf))
        neginf_count = int(np.count_nonzero(values == -np.inf))
    if edges is None:
        edges, counts, edge_counts = reference_edges(finite, max_bins)
    else:
        counts, edge_counts = histogram(finite, edges)
    if finite.size == 0:
        return NumericSummary(
            values.size + null_count, null_count, nan_count, posinf_count, neginf_count,
            None, None, None, 0.0, edges, counts, edge_counts,
        )  # fmt: skip
    minimum, maximum = float(finite.min()), float(finite.max())
    mean, sum_squared = _moments(finite, minimum, maximum)
    return NumericSummary(
        row_count=values.size + null_count,
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
    )


def _moments(finite: FloatArray, minimum: float, maximum: float) -> tuple[float, float]:
    """Mean and sum of squared deviations of finite values.

    The mean always lies within [min, max], so it is computed on values scaled by the largest magnitude
    and cannot overflow. The sum of squares can exceed float64 (|deviations| beyond ~1e154): it is then
    +inf, and ``moments_finite`` tells the drift tests not to judge the column.
    """
    scale = max(abs(minimum), abs(maximum), 1.0)
    mean = float(np.mean(finite / scale)) * scale
    with np.errstate(over="ignore", invalid="ignore"):
        deviations = finite - mean
        # einsum rather than np.dot: BLAS's dot hands a million values to helper threads, which on a
        # busy machine wait for a core (tens of ms measured) where the single-threaded sum takes 0.3 ms.
        sum_squared = float(np.einsum("i,i->", deviations, deviations))
    return mean, sum_squared if math.isfinite(sum_squared) else math.inf


def categorical_summary(
    categories: list[str],
    counts: IntArray,
    null_count: int = 0,
    *,
    max_categories: int = DEFAULT_MAX_CATEGORIES,
    count_error: int = 0,
    registers: NDArray[np.uint8] | None = None,
    other_count: int = 0,
) -> CategoricalSummary:
    """Build a summary from label counts, keeping the top ``max_categories`` (ties by label)."""
    labels = np.asarray(categories, dtype=object)
    counts = np.asarray(counts, dtype=np.int64)
    order = np.lexsort((labels, -counts)) if len(labels) else np.zeros(0, dtype=np.int64)
    labels, counts = labels[order], counts[order]
    row_count = int(counts.sum()) + other_count + null_count
    if len(labels) > max_categories:
        all_registers = hll_registers(list(labels))
        registers = all_registers if registers is None else np.maximum(registers, all_registers)
        other_count += int(counts[max_categories:].sum())
        labels, counts = labels[:max_categories], counts[:max_categories]
    return CategoricalSummary(
        row_count=row_count,
        null_count=null_count,
        categories=tuple(str(label) for label in labels),
        counts=counts,
        other_count=other_count,
        count_error=count_error,
        registers=registers,
    )


def _kind_of(converted: NumericValues | CategoryCounts) -> str:
    return "numeric" if isinstance(converted, NumericValues) else "categorical"


def _check_limits(max_bins: int, max_categories: int) -> None:
    if not 1 <= max_bins <= 1_000_000:
        raise StatsOutOfRange(
            f"max_bins must be within [1, 1000000], got {max_bins}", field="max_bins", limit="[1, 1000000]"
        )
    if not 1 <= max_categories <= 10_000_000:
        raise StatsOutOfRange(
            f"max_categories must be within [1, 10000000], got {max_categories}",
            field="max_categories",
            limit="[1, 10000000]",
        )

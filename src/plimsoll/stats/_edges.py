"""A reference column's bin edges, chosen without sorting the column.

Up to ``SAMPLE_SIZE`` finite values the column is sorted (cheap at that size) and the edges are
exact: every distinct value when there are at most ``max_bins`` of them, else the minimum and
``max_bins`` equally spaced exact quantiles.

Beyond that, the edges come from ``SAMPLE_SIZE`` values drawn with replacement by a generator with a
fixed seed, so the same column always gets the same edges:

- if the sample has at most ``max_bins`` distinct values, they are tried as edges; when every value
  of the column sits on one the histogram is exact, as above. Values that sit on none are gathered and
  their distinct values added; if the union still has at most ``max_bins`` values it becomes the edges
  (exact again), so a column with at most ``max_bins`` distinct values always gets every one of them.
- otherwise the edges are the column's true minimum and maximum and the ``max_bins - 1`` equally
  spaced quantiles of the sorted sample between them.

Either way the counts on the chosen edges are exact (one O(n) pass, ``_binning.histogram``), so
``NumericSummary.rank_error`` (largest bin count / n) states the real rank error of ``quantile``, not
an estimate. With quantile edges from a sample, each bin holds about ``SAMPLE_SIZE / max_bins`` sample
values (32 at the default 2,048 bins), so bins vary in weight: the largest holds 1.7-1.9 / ``max_bins``
of the column on 1M-value normal, log-normal, exponential and Pareto columns (sorting every value gave
1 / ``max_bins``). Columns with at most ``max_bins`` distinct values, such as every measured column of
the flight-delay data, are exact and their rank error is the largest single value's share.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from plimsoll.stats._binning import bin_counts, histogram, slots

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

SAMPLE_SIZE = 1 << 16
_SAMPLE_SEED = 20261206


def reference_edges(finite: FloatArray, max_bins: int) -> tuple[FloatArray, IntArray, IntArray]:
    """``(edges, counts, edge_counts)`` for a column of finite values (see the module docstring)."""
    if finite.size <= SAMPLE_SIZE:
        edges = _edges_from_sorted(np.sort(finite), max_bins)
        return (edges, *histogram(finite, edges))
    sample = np.sort(finite[np.random.default_rng(_SAMPLE_SEED).integers(0, finite.size, SAMPLE_SIZE)])
    distinct = _distinct_of_sorted(sample)
    if distinct.size <= max_bins:
        exact = _every_distinct_value(finite, distinct, max_bins)
        if exact is not None:
            return exact
    positions = (np.arange(1, max_bins, dtype=np.int64) * sample.size) // max_bins - 1
    edges = np.unique(np.concatenate(([finite.min()], sample[positions], [finite.max()])))
    return (edges, *histogram(finite, edges))


def _every_distinct_value(
    finite: FloatArray, candidates: FloatArray, max_bins: int
) -> tuple[FloatArray, IntArray, IntArray] | None:
    """Histogram on every distinct value when the column has at most ``max_bins`` of them, else None."""
    slot = slots(finite, candidates)
    on_edge = (slot & 1).astype(bool)
    if on_edge.all():
        return (candidates, *bin_counts(slot, candidates.size))
    # Only the values no candidate matched are sorted. They are few: had they been more than about
    # max_bins / SAMPLE_SIZE of the column (3 % at the defaults), the sample would have shown more
    # than max_bins distinct values and this path would not run.
    missed = np.unique(finite[~on_edge])
    if candidates.size + missed.size > max_bins:
        return None
    edges = np.union1d(candidates, missed)
    return (edges, *histogram(finite, edges))


def _distinct_of_sorted(ordered: FloatArray) -> FloatArray:
    is_new = np.empty(ordered.size, dtype=bool)
    is_new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=is_new[1:])
    return np.ascontiguousarray(ordered[is_new])


def _edges_from_sorted(ordered: FloatArray, max_bins: int) -> FloatArray:
    if ordered.size == 0:
        return np.zeros(0, dtype=np.float64)
    distinct = _distinct_of_sorted(ordered)
    if distinct.size <= max_bins:
        # Every distinct value is an edge, so counts per value are exact: discrete data loses nothing.
        return distinct
    positions = (np.arange(1, max_bins + 1, dtype=np.int64) * ordered.size) // max_bins - 1
    return np.unique(np.concatenate(([ordered[0]], ordered[positions])))

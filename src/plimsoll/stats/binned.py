"""Drift statistics from two numeric summaries that share bin edges.

Each side is read as *cells*: for every edge ``e[j]`` the values strictly inside bin j (between the
previous edge and ``e[j]``) and the values exactly at ``e[j]``, then the values beyond the last edge,
``2B + 1`` cells in all. CDFs are therefore known exactly at every edge and just below it; only where
values fall strictly inside a bin is the statistic approximate, and each function returns a bound:

- KS: |D - D_binned| <= largest inside-a-bin share of either side (+ re-binning error).
- Wasserstein (linear CDF inside a bin): |W - W_binned| <= sum_j width_j * (inside_ref_j + inside_cur_j).
- Energy: |E^2 - E_binned^2| <= 2 sum_j width_j d_j (2 max|h| + d_j), with d_j the inside shares.

When every value sits on an edge (at most ``max_bins`` distinct reference values and no current value
between them) the inside shares are zero and the results are exact.

On shared edges the binned KS statistic can only be *smaller* than the exact one (it is the exact CDF
gap at a subset of points), so its test is conservative. A side that was re-binned (summarised on
other edges, or merged from parts that were) has CDF values that are off by up to ``rebin_share`` in
either direction, which can push any statistic up; ``conservative_current`` moves the current CDF
towards the reference's by that much so verdicts can be taken on a statistic that re-binning did not
inflate (``evidence.py``). Every function accepts a leading
batch axis so null resampling (``calibration.py``) runs vectorised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from plimsoll.stats.merge import rebin
from plimsoll.stats.summaries import NumericSummary

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class BinnedPair:
    """Reference and current cell counts on one grid, as used by every binned statistic."""

    reference_cells: FloatArray
    current_cells: FloatArray
    widths: FloatArray
    rebin_share: float
    reference_std: float
    pooled_std: float

    @property
    def sizes(self) -> tuple[int, int]:
        return int(self.reference_cells.sum()), int(self.current_cells.sum())


def pair(reference: NumericSummary, current: NumericSummary) -> BinnedPair:
    """Put ``current`` on the reference's edges (re-binning if it was summarised on others)."""
    aligned = rebin(current, reference.edges)
    edges = reference.edges
    lows = [s.minimum for s in (reference, aligned) if s.minimum is not None]
    highs = [s.maximum for s in (reference, aligned) if s.maximum is not None]
    if len(edges):
        low, high = min([*lows, float(edges[0])]), max([*highs, float(edges[-1])])
        grid = np.concatenate(([low], edges, [high]))
    else:
        grid = np.array([min(lows, default=0.0), max(highs, default=0.0)])
    cur_n = max(aligned.finite_count, 1)
    return BinnedPair(
        reference_cells=_cells(reference),
        current_cells=_cells(aligned),
        widths=np.diff(grid),
        rebin_share=(reference.rebin_error / max(reference.finite_count, 1)) + aligned.rebin_error / cur_n,
        reference_std=reference.std or 0.0,
        pooled_std=_pooled_std(reference, aligned),
    )


def conservative_current(pair_: BinnedPair) -> FloatArray:
    """Current cells whose CDF is moved towards the reference's by up to ``rebin_share`` at every cell.

    The true current CDF lies within ``rebin_share`` of the re-binned one at each cell boundary, so this
    is the feasible CDF closest to the reference pointwise: its KS statistic is exactly the smallest
    one re-binning allows, and the other statistics (monotone in the CDF gaps) are no larger than their
    values on the true cells. Clipping a monotone curve to a band around another monotone curve keeps
    it monotone, so the cells stay non-negative.
    """
    if pair_.rebin_share <= 0:
        return pair_.current_cells
    size = float(pair_.current_cells.sum())
    reference_cdf = np.cumsum(_shares(pair_.reference_cells))
    current_cdf = np.cumsum(_shares(pair_.current_cells))
    moved = np.clip(reference_cdf, current_cdf - pair_.rebin_share, current_cdf + pair_.rebin_share)
    moved[-1] = current_cdf[-1]
    return np.asarray(np.maximum(np.diff(moved, prepend=0.0), 0.0) * size, dtype=np.float64)


def _cells(summary: NumericSummary) -> FloatArray:
    inside = summary.counts.astype(np.float64)
    inside[:-1] -= summary.edge_counts
    cells = np.empty(2 * len(summary.edges) + 1, dtype=np.float64)
    cells[0::2] = inside
    cells[1::2] = summary.edge_counts
    return cells


def _pooled_std(a: NumericSummary, b: NumericSummary) -> float:
    n = a.finite_count + b.finite_count
    parts = [(s.finite_count, s.mean, s.sum_squared_deviations) for s in (a, b) if s.mean is not None]
    if n == 0 or not parts:
        return 0.0
    # Scaled by the largest mean so that squaring the spread of means of ~1e200 cannot overflow.
    scale = max(max(abs(m) for _, m, _ in parts), 1.0)
    mean = sum(k * (m / scale) for k, m, _ in parts) / n
    total = sum(ss / scale / scale + k * (m / scale - mean) ** 2 for k, m, ss in parts)
    return math.sqrt(total / n) * scale


def _shares(cells: FloatArray) -> FloatArray:
    totals = cells.sum(axis=-1, keepdims=True)
    return np.asarray(cells / np.maximum(totals, 1.0), dtype=np.float64)


def _cdf_ends(shares: FloatArray) -> tuple[FloatArray, FloatArray]:
    """CDF at the start (just after the previous edge) and the end (just below the next) of each bin."""
    cumulative = np.cumsum(shares, axis=-1)
    at_end = cumulative[..., 0::2]
    at_start = np.zeros_like(at_end)
    at_start[..., 1:] = cumulative[..., 1:-1:2]
    return at_start, at_end


def ks(reference_cells: FloatArray, current_cells: FloatArray) -> FloatArray:
    difference = np.cumsum(_shares(reference_cells) - _shares(current_cells), axis=-1)
    return np.asarray(np.max(np.abs(difference), axis=-1), dtype=np.float64)


def ks_bound(pair_: BinnedPair) -> float:
    inside_ref = _shares(pair_.reference_cells)[0::2]
    inside_cur = _shares(pair_.current_cells)[0::2]
    return float(max(inside_ref.max(initial=0.0), inside_cur.max(initial=0.0))) + pair_.rebin_share


def _gap_ends(reference_cells: FloatArray, current_cells: FloatArray) -> tuple[FloatArray, FloatArray]:
    ref_start, ref_end = _cdf_ends(_shares(reference_cells))
    cur_start, cur_end = _cdf_ends(_shares(current_cells))
    return ref_start - cur_start, ref_end - cur_end


def wasserstein(reference_cells: FloatArray, current_cells: FloatArray, widths: FloatArray) -> FloatArray:
    start, end = _gap_ends(reference_cells, current_cells)
    same_sign = start * end >= 0
    magnitude = np.abs(start) + np.abs(end)
    crossing = np.divide(start**2 + end**2, 2 * magnitude, out=np.zeros_like(magnitude), where=magnitude > 0)
    return np.asarray(
        np.sum(widths * np.where(same_sign, magnitude / 2, crossing), axis=-1), dtype=np.float64
    )


def wasserstein_bound(pair_: BinnedPair) -> float:
    inside = _shares(pair_.reference_cells)[0::2] + _shares(pair_.current_cells)[0::2]
    return float(np.sum(pair_.widths * inside) + pair_.rebin_share * np.sum(pair_.widths))


def energy(reference_cells: FloatArray, current_cells: FloatArray, widths: FloatArray) -> FloatArray:
    start, end = _gap_ends(reference_cells, current_cells)
    squared = np.sum(widths * (start * start + start * end + end * end) / 3.0, axis=-1)
    return np.asarray(np.sqrt(2.0 * squared), dtype=np.float64)


def energy_bound(pair_: BinnedPair) -> float:
    start, end = _gap_ends(pair_.reference_cells, pair_.current_cells)
    inside = _shares(pair_.reference_cells)[0::2] + _shares(pair_.current_cells)[0::2] + pair_.rebin_share
    largest = np.maximum(np.abs(start), np.abs(end))
    squared_error = 2.0 * float(np.sum(pair_.widths * inside * (2 * largest + inside)))
    return math.sqrt(squared_error)


def coarse_groups(reference_cells: FloatArray, groups: int) -> NDArray[np.int64]:
    """Start indices of runs of whole bins holding about 1/groups of the reference each."""
    bins = reference_cells[0::2].copy()
    bins[:-1] += reference_cells[1::2]
    cumulative = np.cumsum(bins)
    total = cumulative[-1] if len(cumulative) else 0.0
    cuts = np.searchsorted(cumulative, total * np.arange(1, groups) / groups, side="left") + 1
    starts = np.unique(np.concatenate(([0], cuts[cuts < len(bins)])))
    return (2 * starts).astype(np.int64)


def group(cells: FloatArray, starts: NDArray[np.int64]) -> FloatArray:
    """Sum cells into the bins that start at ``starts`` (a bin's edge cell stays with it)."""
    return np.add.reduceat(cells, starts, axis=-1)

"""Thresholds for distance measures calibrated to the sample sizes by resampling the binned data.

Under "no drift" both samples come from one distribution, estimated by the pooled cells of the two
binned samples (the two-sample bootstrap; the reference's cells alone when no current is given). We
draw ``R`` null pairs of cell-count vectors directly from those cell shares: a multinomial of the
reference's size and one of the current's size (O(cells) per draw whatever the row count; Poissonised
above ``POISSON_ABOVE`` rows), and compute the statistic on each pair. The p-value of an observed
statistic ``s`` is the Monte Carlo one,

    p(s) = (1 + #{null draws >= s}) / (R + 1),

and the critical value at level ``a`` is the order statistic with ``s > critical  <=>  p(s) <= a``.
No distribution is fitted where the decision is taken: ``R`` is raised to ``TAIL_DRAWS / tail_level``
(at least 20 draws beyond the critical value at the smallest level the caller may test at:
``alpha / columns`` under Benjamini-Hochberg or Bonferroni), within a cost budget of ``MAX_CELL_DRAWS``
cells per side. Drawing stops early once ``TAIL_DRAWS`` draws reach the observed statistic (it cannot
be flagged then), so columns without drift cost a few dozen draws.

Why pooled and not the reference alone: the reference's bin edges are its own quantiles, so a bin that
came out wide by chance holds more than its share of the population; the current sample fills it
accordingly, and since W and energy weight gaps by bin width, the reference-only null (which gives
every bin exactly the reference's share) came out too narrow (16 % any-alarm at alpha = 10 % over
4 Wasserstein columns; 10 % pooled).

Beyond the ``TAIL_POINTS`` largest draws (p below ``TAIL_POINTS / (R + 1)``, i.e. below half the
smallest tested level whenever the budget did not cap ``R``, so such a column is rejected whatever the
exact value) p-values are extrapolated with an exponential tail fitted to those largest draws. The null
of these statistics (norms and quadratic forms of multinomial noise) has a lighter-than-exponential
tail, so the extrapolation errs towards larger p-values; it only decides a verdict when the budget
capped ``R`` (fine bins and a tiny ``alpha / columns``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
StatisticOnCells = Callable[[FloatArray, FloatArray], FloatArray]

TAIL_DRAWS = 20
"""Null draws wanted beyond the critical value at the smallest level that may be tested."""
TAIL_POINTS = 10
"""Largest draws the exponential extrapolation is fitted to."""
MAX_RESAMPLES = 100_000
MAX_CELL_DRAWS = 2**20
"""Cost budget: null draws x cells per side (2,044 resamples of 513 cells; 256 of 4,097)."""
_CHUNK_CELLS = 2**18
_FIRST_BATCH = 64
POISSON_ABOVE = 100_000
"""Sample sizes from which cell counts are drawn as independent Poisson variables (half the cost)."""


def resample_count(n_resamples: int, tail_level: float | None, cells: int) -> int:
    """``n_resamples``, raised to ``TAIL_DRAWS / tail_level`` as far as the cost budget allows."""
    if tail_level is None or not tail_level > 0:
        return n_resamples
    wanted = math.ceil(TAIL_DRAWS / tail_level)
    affordable = MAX_CELL_DRAWS // max(cells, 1)
    return int(min(max(n_resamples, min(wanted, affordable)), MAX_RESAMPLES))


@dataclass(frozen=True)
class NullTail:
    """Sorted null draws of a statistic; p-values and critical values are read off them directly."""

    values: FloatArray
    """Null draws, ascending."""
    tail_scale: float
    """Mean excess of the ``TAIL_POINTS`` largest draws over the next one (exponential tail)."""

    @property
    def resamples(self) -> int:
        return int(self.values.size)

    @property
    def _point(self) -> bool:
        return bool(self.values[-1] - self.values[0] <= 1e-12 * max(abs(self.values[-1]), 1e-300))

    def _tail_anchor(self) -> tuple[int, float]:
        k = min(TAIL_POINTS, self.resamples - 1)
        return k, float(self.values[-k - 1])

    def p_value(self, statistic: float) -> float:
        values, total = self.values, self.resamples + 1
        if self._point:
            return 1.0 if statistic <= values[-1] * (1 + 1e-9) + 1e-15 else 0.0
        # Ties within rounding count as "at least as large": observed and null values of the same
        # cells can differ in the last bits.
        at_least = self.resamples - int(np.searchsorted(values, statistic - _tie(statistic), side="left"))
        k, anchor = self._tail_anchor()
        if at_least >= k:
            return (1 + at_least) / total
        return float(k / total * math.exp(-max(statistic - anchor, 0.0) / self.tail_scale))

    def critical_value(self, alpha: float) -> float:
        """The smallest ``c`` with ``p_value(s) <= alpha`` for every ``s > c``."""
        values, total = self.values, self.resamples + 1
        if self._point:
            return float(values[-1])
        exceed = math.floor(alpha * total + 1e-9) - 1  # null draws allowed at or above the statistic
        k, anchor = self._tail_anchor()
        if exceed >= k:
            value = float(values[self.resamples - exceed - 1])
            return value + _tie(value)
        # Beyond the k-th largest draw the exponential tail decides; below it the Monte Carlo p-value
        # is at least (k + 1) / (R + 1) > alpha.
        kth = float(values[-k])
        return max(kth + _tie(kth), anchor + self.tail_scale * max(math.log(k / (alpha * total)), 0.0))


def _tie(value: float) -> float:
    return 1e-12 * abs(value) + 1e-300


def null_tail(
    statistic: StatisticOnCells,
    reference_cells: FloatArray,
    reference_size: int,
    current_size: int,
    *,
    n_resamples: int,
    rng: np.random.Generator,
    tail_level: float | None = None,
    current_cells: FloatArray | None = None,
    observed: float | None = None,
) -> NullTail:
    """Null draws of ``statistic`` for samples of the given sizes from the pooled cell shares.

    ``current_cells``, when given, is pooled with the reference (the two-sample bootstrap under "no
    drift"); without it the draws come from the reference's cells alone. With ``observed``, drawing
    stops early once ``TAIL_DRAWS`` draws reach it (Besag-Clifford sequential Monte Carlo): its p-value
    is then above 20 / (draws + 1), and at every level below that the critical value read off the draws
    lies at or above ``observed``, so the column is not flagged, as with the full draws.
    """
    pooled = reference_cells if current_cells is None else reference_cells + current_cells
    total = float(pooled.sum())
    shares = pooled / max(total, 1.0)
    occupied = np.flatnonzero(shares > 0)
    resamples = resample_count(n_resamples, tail_level, occupied.size)
    values = np.empty(resamples, dtype=np.float64)
    if occupied.size <= 1 or total <= 0:
        values[:] = statistic(pooled[None, :], pooled[None, :])[0]
        return NullTail(np.sort(values), 0.0)
    probabilities = shares[occupied] / shares[occupied].sum()
    chunk = max(1, _CHUNK_CELLS // shares.size)
    batch = min(chunk, _FIRST_BATCH)
    start = 0
    while start < resamples:
        size = min(batch, resamples - start)
        batch = min(chunk, 2 * batch)
        reference_draws = np.zeros((size, shares.size), dtype=np.float64)
        current_draws = np.zeros((size, shares.size), dtype=np.float64)
        reference_draws[:, occupied] = _counts(rng, reference_size, probabilities, size)
        current_draws[:, occupied] = _counts(rng, current_size, probabilities, size)
        values[start : start + size] = statistic(reference_draws, current_draws)
        start += size
        if observed is not None and start < resamples:
            reached = int(np.count_nonzero(values[:start] >= observed - _tie(observed)))
            if reached >= TAIL_DRAWS:
                values = values[:start]
                break
    resamples = values.size
    values.sort()
    k = min(TAIL_POINTS, resamples - 1)
    top, anchor = values[-k:], values[-k - 1]
    scale = float(np.mean(top) - anchor)
    if scale <= _tie(anchor):
        # The largest draws tie (a lattice null): spread the anchor's excess over the median instead.
        scale = max(float(anchor - np.median(values)) / max(math.log((resamples + 1) / (2 * k)), 1.0), 1e-300)
    return NullTail(values, scale)


def _counts(rng: np.random.Generator, size: int, probabilities: FloatArray, draws: int) -> NDArray[np.int64]:
    """``draws`` count vectors of a sample of ``size`` rows: multinomial, or Poissonised when large.

    Every statistic here is computed on shares (counts over their total), and a Poisson vector given
    its total is multinomial, so Poissonising only lets the total vary by about sqrt(size): at 100,000
    rows or more that moves the statistic's scale by well under 0.5 %, for half the cost of the
    conditional-binomial multinomial draw.
    """
    if size < POISSON_ABOVE:
        return rng.multinomial(size, probabilities, size=draws)
    return rng.poisson(probabilities * size, size=(draws, probabilities.size))

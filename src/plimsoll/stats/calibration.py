"""Thresholds for distance measures calibrated to the sample sizes by resampling the reference.

Under "no drift" both samples come from the reference distribution. We draw ``n_resamples`` pairs of
samples of the reference's and the current's sizes from the reference's own cells (Poissonised: each
cell count is Poisson with mean size * share, which lets all draws run as one vectorised call), compute
the statistic on each pair, and fit a gamma distribution by moments to ``statistic ** power``.
``power`` is 2 for measures that are square roots of quadratic forms (energy, Jensen-Shannon) and 1
otherwise: quadratic forms of multinomial noise are close to scaled chi-square, which a gamma matches
(Satterthwaite), and for the Wasserstein L1 norm the gamma's exponential tail is heavier than the true
near-Gaussian one, so its p-values err on the side of fewer alarms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats as scipy_stats

FloatArray = NDArray[np.float64]
StatisticOnCells = Callable[[FloatArray, FloatArray], FloatArray]


@dataclass(frozen=True)
class NullTail:
    """A gamma fitted to ``statistic ** power`` under no drift; degenerate when the null is a point."""

    shape: float
    scale: float
    power: float
    point: float | None = None

    def p_value(self, statistic: float) -> float:
        transformed = statistic**self.power
        if self.point is not None:
            return 1.0 if transformed <= self.point * (1 + 1e-9) + 1e-15 else 0.0
        return float(scipy_stats.gamma.sf(transformed, self.shape, scale=self.scale))

    def critical_value(self, alpha: float) -> float:
        if self.point is not None:
            return float(self.point ** (1.0 / self.power))
        transformed = float(scipy_stats.gamma.isf(alpha, self.shape, scale=self.scale))
        return float(transformed ** (1.0 / self.power))


def null_tail(
    statistic: StatisticOnCells,
    reference_cells: FloatArray,
    reference_size: int,
    current_size: int,
    *,
    power: float,
    n_resamples: int,
    rng: np.random.Generator,
) -> NullTail:
    shares = reference_cells / max(float(reference_cells.sum()), 1.0)
    reference_draws = rng.poisson(shares * reference_size, size=(n_resamples, shares.size)).astype(np.float64)
    current_draws = rng.poisson(shares * current_size, size=(n_resamples, shares.size)).astype(np.float64)
    values = statistic(reference_draws, current_draws) ** power
    mean = float(np.mean(values))
    variance = float(np.var(values, ddof=1))
    if variance <= 1e-300 or mean <= 0.0:
        return NullTail(0.0, 0.0, power, point=max(mean, 0.0))
    return NullTail(shape=mean * mean / variance, scale=variance / mean, power=power)

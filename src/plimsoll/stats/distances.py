"""Drift statistics on raw samples, exact and in agreement with scipy where scipy has them.

Every function takes finite 1-D float arrays (``_finite`` in ``drift.py`` prepares them) or count
vectors, and returns plain floats. Formulas follow scipy's so results agree to ~1e-12:

- ``ks_statistic`` = ``scipy.stats.ks_2samp(...).statistic``; ``ks_p_value`` = its ``method="asymp"``
  p-value, the survival function of the one-sample KS distribution at ``round(n*m/(n+m))`` (or, with
  ``finite_limit``, the limiting distribution above that size: see ``ks_p_value``).
- ``wasserstein_distance`` = ``scipy.stats.wasserstein_distance``.
- ``energy_distance`` = ``scipy.stats.energy_distance`` (``sqrt(2 * integral (F-G)^2 dx)``).
- ``jensen_shannon_distance(p, q)`` = ``scipy.spatial.distance.jensenshannon(p, q, base=2)``.
- ``chi_square(table)`` = ``scipy.stats.chi2_contingency(table, correction=False)`` after dropping
  columns that are empty in every row (they carry no information and would divide by zero).
- ``psi`` has no scipy counterpart: sum over bins of (q - p) ln(q / p) with shares floored at 1e-4.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy import stats as scipy_stats

FloatArray = NDArray[np.float64]
PSI_FLOOR = 1e-4


def ks_statistic(reference: FloatArray, current: FloatArray) -> float:
    ref_sorted, cur_sorted = np.sort(reference), np.sort(current)
    pooled = np.concatenate((ref_sorted, cur_sorted))
    ref_cdf = np.searchsorted(ref_sorted, pooled, side="right") / ref_sorted.size
    cur_cdf = np.searchsorted(cur_sorted, pooled, side="right") / cur_sorted.size
    return float(np.max(np.abs(ref_cdf - cur_cdf)))


def ks_effective_size(n: int, m: int) -> int:
    return round(n * m / (n + m))


def ks_p_value(statistic: float, n: int, m: int, *, finite_limit: int | None = None) -> float:
    """scipy's asymptotic two-sample KS p-value.

    scipy evaluates the finite-size distribution, which costs ~0.5 s per call at n*m/(n+m) = 500,000.
    With ``finite_limit`` set, sizes above it use the limiting Kolmogorov distribution instead: it is
    never below the finite-size p-value (fewer alarms, not more) and within 1 % of it above 10,000.
    """
    size = ks_effective_size(n, m)
    if finite_limit is not None and size > finite_limit:
        return float(scipy_stats.kstwobign.sf(statistic * math.sqrt(size)))
    return float(np.clip(scipy_stats.kstwo.sf(statistic, size), 0.0, 1.0))


def ks_critical_value(alpha: float, n: int, m: int, *, finite_limit: int | None = None) -> float:
    size = ks_effective_size(n, m)
    if finite_limit is not None and size > finite_limit:
        return float(scipy_stats.kstwobign.isf(alpha) / math.sqrt(size))
    return float(scipy_stats.kstwo.isf(alpha, size))


def _cdf_gaps(reference: FloatArray, current: FloatArray) -> tuple[FloatArray, FloatArray]:
    """CDF differences on each gap between consecutive pooled values, and the gap widths."""
    ref_sorted, cur_sorted = np.sort(reference), np.sort(current)
    pooled = np.sort(np.concatenate((ref_sorted, cur_sorted)))
    widths = np.diff(pooled)
    ref_cdf = np.searchsorted(ref_sorted, pooled[:-1], side="right") / ref_sorted.size
    cur_cdf = np.searchsorted(cur_sorted, pooled[:-1], side="right") / cur_sorted.size
    return ref_cdf - cur_cdf, widths


def wasserstein_distance(reference: FloatArray, current: FloatArray) -> float:
    gaps, widths = _cdf_gaps(reference, current)
    return float(np.sum(np.abs(gaps) * widths))


def energy_distance(reference: FloatArray, current: FloatArray) -> float:
    gaps, widths = _cdf_gaps(reference, current)
    return math.sqrt(2.0) * math.sqrt(float(np.sum(gaps * gaps * widths)))


def jensen_shannon_distance(p: FloatArray, q: FloatArray) -> float:
    """Base-2 Jensen-Shannon distance between two count or probability vectors, in [0, 1]."""
    return float(jensen_shannon_rows(np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)))


def jensen_shannon_rows(p: FloatArray, q: FloatArray) -> FloatArray:
    """``jensen_shannon_distance`` along the last axis (rows of count vectors)."""
    p = p / np.maximum(np.sum(p, axis=-1, keepdims=True), 1e-300)
    q = q / np.maximum(np.sum(q, axis=-1, keepdims=True), 1e-300)
    m = (p + q) / 2.0
    divergence = (np.sum(_relative_entropy(p, m), axis=-1) + np.sum(_relative_entropy(q, m), axis=-1)) / 2.0
    return np.asarray(np.sqrt(np.maximum(divergence, 0.0) / math.log(2.0)), dtype=np.float64)


def _relative_entropy(x: FloatArray, y: FloatArray) -> FloatArray:
    safe_x = np.where(x > 0, x, 1.0)
    safe_y = np.where(y > 0, y, 1.0)
    return np.where(x > 0, x * np.log(safe_x / safe_y), 0.0)


def psi(p: FloatArray, q: FloatArray) -> float:
    """Population stability index of ``q`` (current) against ``p`` (reference) counts."""
    return float(psi_rows(np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)))


def psi_rows(p: FloatArray, q: FloatArray) -> FloatArray:
    """``psi`` along the last axis (rows of count vectors)."""
    p_share = np.maximum(p / np.maximum(np.sum(p, axis=-1, keepdims=True), 1e-300), PSI_FLOOR)
    q_share = np.maximum(q / np.maximum(np.sum(q, axis=-1, keepdims=True), 1e-300), PSI_FLOOR)
    return np.asarray(np.sum((q_share - p_share) * np.log(q_share / p_share), axis=-1), dtype=np.float64)


def chi_square(table: NDArray[np.int64] | FloatArray) -> tuple[float, int]:
    """Pearson chi-square of homogeneity of a 2 x K count table and its degrees of freedom."""
    observed = np.asarray(table, dtype=np.float64)
    observed = observed[:, observed.sum(axis=0) > 0]
    observed = observed[observed.sum(axis=1) > 0, :]
    rows, columns = observed.shape
    dof = (rows - 1) * (columns - 1)
    if dof <= 0:
        return 0.0, 0
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    return float(np.sum((observed - expected) ** 2 / expected)), dof


def chi_square_p_value(statistic: float, dof: int) -> float:
    return 1.0 if dof == 0 else float(scipy_stats.chi2.sf(statistic, dof))


def chi_square_critical_value(alpha: float, dof: int) -> float:
    return 0.0 if dof == 0 else float(scipy_stats.chi2.isf(alpha, dof))

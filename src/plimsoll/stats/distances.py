"""Drift statistics on raw samples, exact and in agreement with scipy where scipy has them.

Every function takes finite 1-D float arrays (``_finite`` in ``drift.py`` prepares them) or count
vectors, and returns plain floats. Formulas follow scipy's so results agree to ~1e-12:

- ``ks_statistic`` = ``scipy.stats.ks_2samp(...).statistic``; ``ks_p_value`` = its p-value for the
  same ``method``: by default ``"auto"`` (scipy's default: the exact distribution of D when the larger
  sample has at most 10,000 values, else asymptotic), or ``"asymp"`` (the one-sample KS distribution
  at ``round(n*m/(n+m))``; with ``finite_limit``, the limiting distribution above that size).
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

# scipy's own exact routine, so exact p-values agree with ``ks_2samp`` to the last bit; it is private,
# and tests/stats/test_distances.py checks the agreement against the public ks_2samp on every upgrade.
from scipy.stats._stats_py import _attempt_exact_2kssamp as _scipy_exact

FloatArray = NDArray[np.float64]
PSI_FLOOR = 1e-4
KS_EXACT_LIMIT = 10_000  # scipy's ks_2samp(method="auto") is exact up to this size of the larger sample


def ks_statistic(reference: FloatArray, current: FloatArray) -> float:
    ref_sorted, cur_sorted = np.sort(reference), np.sort(current)
    pooled = np.concatenate((ref_sorted, cur_sorted))
    ref_cdf = np.searchsorted(ref_sorted, pooled, side="right") / ref_sorted.size
    cur_cdf = np.searchsorted(cur_sorted, pooled, side="right") / cur_sorted.size
    return float(np.max(np.abs(ref_cdf - cur_cdf)))


def ks_effective_size(n: int, m: int) -> int:
    return round(n * m / (n + m))


def ks_p_value(
    statistic: float, n: int, m: int, *, method: str = "auto", finite_limit: int | None = None
) -> float:
    """scipy's two-sample KS p-value (``ks_2samp(..., method=method).pvalue``) from D and the sizes.

    ``"auto"`` is exact when ``max(n, m) <= 10,000`` (scipy's rule) and asymptotic above; ``"exact"``
    is exact whenever scipy can compute it; both fall back to asymptotic where scipy's exact
    computation fails or the lattice is too fine, as scipy does. ``"asymp"`` evaluates the finite-size
    one-sample distribution at ``n*m/(n+m)``, which costs ~0.5 s per call at 500,000; with
    ``finite_limit`` set, sizes above it use the limiting Kolmogorov distribution instead, which is
    never below the finite-size p-value (fewer alarms, not more). Measured (tests/stats/
    test_distances.py) the two differ by at most ~0.003 in p-value above 10,000.
    """
    lattice = _exact_lattice(n, m, method)
    if lattice is not None:
        exact = _exact_tail(round(statistic * lattice), n, m)
        if exact is not None:
            return exact
    size = ks_effective_size(n, m)
    if finite_limit is not None and size > finite_limit:
        return float(scipy_stats.kstwobign.sf(statistic * math.sqrt(size)))
    return float(np.clip(scipy_stats.kstwo.sf(statistic, size), 0.0, 1.0))


def ks_critical_value(
    alpha: float, n: int, m: int, *, method: str = "auto", finite_limit: int | None = None
) -> float:
    """Value c with ``D > c`` exactly when ``ks_p_value(D, n, m, method=...) <= alpha``.

    Exact: D takes the values h / lcm(n, m), so c is found by bisection on h and sits halfway between
    the largest value with p > alpha and the next one.
    """
    lattice = _exact_lattice(n, m, method)
    if lattice is not None:
        low, high = 0, lattice  # p(low) > alpha >= p(high), unless even D = 1 is not significant
        top = _exact_tail(high, n, m)
        if top is not None and top > alpha:
            return 1.0
        while top is not None and high - low > 1:
            middle = (low + high) // 2
            p_middle = _exact_tail(middle, n, m)
            if p_middle is None:
                top = None
            elif p_middle <= alpha:
                high = middle
            else:
                low = middle
        if top is not None:
            return (high - 0.5) / lattice
    size = ks_effective_size(n, m)
    if finite_limit is not None and size > finite_limit:
        return float(scipy_stats.kstwobign.isf(alpha) / math.sqrt(size))
    return float(scipy_stats.kstwo.isf(alpha, size))


def _exact_lattice(n: int, m: int, method: str) -> int | None:
    """lcm(n, m) when the exact distribution applies (scipy's rules), else None."""
    if method not in ("auto", "exact", "asymp"):
        raise ValueError(f"method must be 'auto', 'exact' or 'asymp', got {method!r}")
    if method == "asymp" or (method == "auto" and max(n, m) > KS_EXACT_LIMIT) or min(n, m) == 0:
        return None
    g = math.gcd(n, m)
    if n // g >= np.iinfo(np.int32).max / (m // g):
        return None
    return n // g * m


def _exact_tail(h: int, n: int, m: int) -> float | None:
    """P(D >= h / lcm) under no drift, computed by scipy's own exact routine; None if it fails."""
    lattice = n // math.gcd(n, m) * m
    success, _, probability = _scipy_exact(n, m, math.gcd(n, m), h / lattice, "two-sided")
    return float(probability) if success else None


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

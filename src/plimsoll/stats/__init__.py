"""Plimsoll's statistics engine: a pure numerical library, no I/O, and no other Plimsoll imports
but the dependency-free root of the error tree, ``plimsoll.errors``.

Map of the public surface::

    summarize(table, reference=None)  -> TableSummary      one summary per column (summaries.py)
    summarize_column(values)          -> NumericSummary | CategoricalSummary
    merge([summaries])                -> same kind          exact for counts, moments, histograms
    to_bytes(summary) / from_bytes(b)                      versioned compact bytes (serialization.py)
    compare(reference, current)       -> DriftReport       per-column drift + dataset verdict
    drift_test(reference, current)    -> DriftResult       one column, raw samples or summaries
    detect_multivariate_drift(ref, cur) -> MultivariateDrift  domain classifier (multivariate.py)
    estimate_performance(ref_scores, ref_labels, cur_scores) -> PerformanceEstimate  (performance.py)
    ks_statistic, wasserstein_distance, energy_distance, jensen_shannon_distance, psi, chi_square
                                                           exact raw-sample statistics (distances.py)

Errors are ``PlimsollStatsError`` (a ``ValueError``, and the ``InvalidParameter`` of Plimsoll's
error tree) naming the column or field and the limit; its ``field`` names the parameter, or the
column as ``columns.<name>``, and ``limit`` the limit. Each problem is a subclass with its own code:
``StatsOutOfRange``, ``StatsNotEnoughData``, ``StatsShapeMismatch``, ``StatsKindMismatch``,
``StatsUnreadableValues``, ``StatsUnknownName``, ``StatsCorruptSummary``.
See docs/statistics.md for every statistic, its default, threshold and assumptions.
"""

from plimsoll.stats._errors import (
    PlimsollStatsError,
    StatsCorruptSummary,
    StatsKindMismatch,
    StatsNotEnoughData,
    StatsOutOfRange,
    StatsShapeMismatch,
    StatsUnknownName,
    StatsUnreadableValues,
)
from plimsoll.stats.compare import DriftReport, compare
from plimsoll.stats.distances import (
    chi_square,
    energy_distance,
    jensen_shannon_distance,
    ks_p_value,
    ks_statistic,
    psi,
    wasserstein_distance,
)
from plimsoll.stats.drift import DriftResult, drift_test
from plimsoll.stats.merge import merge
from plimsoll.stats.multiple_testing import effective_alpha
from plimsoll.stats.multivariate import MultivariateDrift, detect_multivariate_drift
from plimsoll.stats.performance import MetricEstimate, PerformanceEstimate, estimate_performance
from plimsoll.stats.selection import METHODS, default_method
from plimsoll.stats.serialization import FORMAT_VERSION, from_bytes, to_bytes
from plimsoll.stats.summaries import (
    CategoricalSummary,
    ColumnSummary,
    NumericSummary,
    TableSummary,
    summarize,
    summarize_column,
)

__all__ = [
    "FORMAT_VERSION",
    "METHODS",
    "CategoricalSummary",
    "ColumnSummary",
    "DriftReport",
    "DriftResult",
    "MetricEstimate",
    "MultivariateDrift",
    "NumericSummary",
    "PerformanceEstimate",
    "PlimsollStatsError",
    "StatsCorruptSummary",
    "StatsKindMismatch",
    "StatsNotEnoughData",
    "StatsOutOfRange",
    "StatsShapeMismatch",
    "StatsUnknownName",
    "StatsUnreadableValues",
    "TableSummary",
    "chi_square",
    "compare",
    "default_method",
    "detect_multivariate_drift",
    "drift_test",
    "effective_alpha",
    "energy_distance",
    "estimate_performance",
    "from_bytes",
    "jensen_shannon_distance",
    "ks_p_value",
    "ks_statistic",
    "merge",
    "psi",
    "summarize",
    "summarize_column",
    "to_bytes",
    "wasserstein_distance",
]

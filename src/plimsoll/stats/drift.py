"""One column's drift verdict, and ``drift_test`` for comparing two samples of one column.

A column drifts when its statistic exceeds ``threshold = max(critical value at the effective level,
statistic floor from min_effect)``. For a single test the effective level is ``alpha``; in
``compare`` it is set across columns by Benjamini-Hochberg or Bonferroni (``multiple_testing.py``).
So ``drifted`` holds exactly when the p-value is at most the effective level *and* the effect is at
least ``min_effect``.

When a side was re-binned onto other edges, or merged from parts that folded labels into "other",
the statistic is judged after subtracting ``slack``, what re-binning or truncation can have added to
it (``evidence.py``); the p-value is that of the reduced statistic. So a verdict from merged
summaries errs towards "no drift" and keeps false alarms at or below the level. The rest of ``error_bound`` (values strictly inside shared bins) is not
subtracted: on shared edges the binned tests are exact for the binned data, and the binned KS
statistic can only be smaller than the raw one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from plimsoll.stats._arrays import NumericValues, column_values
from plimsoll.stats._errors import PlimsollStatsError, StatsKindMismatch, StatsNotEnoughData, StatsOutOfRange
from plimsoll.stats.evidence import Evidence, RawSamples, column_evidence
from plimsoll.stats.multiple_testing import check_alpha
from plimsoll.stats.selection import resolve_method
from plimsoll.stats.summaries import (
    CategoricalSummary,
    ColumnSummary,
    NumericSummary,
    summarize_column,
)

DEFAULT_RESAMPLES = 200


@dataclass(frozen=True)
class DriftResult:
    """The verdict on one column. ``error_bound`` is 0 when the statistic is exact."""

    column: str
    method: str
    statistic: float
    p_value: float
    threshold: float
    drifted: bool
    alpha: float
    min_effect: float
    effect_size: float
    severity: float
    n_reference: int
    n_current: int
    error_bound: float
    details: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "method": self.method,
            "statistic": _json_float(self.statistic),
            "p_value": _json_float(self.p_value),
            "threshold": _json_float(self.threshold),
            "drifted": self.drifted,
            "alpha": self.alpha,
            "min_effect": self.min_effect,
            "effect_size": _json_float(self.effect_size),
            "severity": _json_float(self.severity),
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "error_bound": _json_float(self.error_bound),
            "details": {key: _json_float(value) for key, value in self.details.items()},
        }


def _json_float(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def decide(column: str, evidence: Evidence, alpha: float) -> DriftResult:
    critical = evidence.critical_value(alpha)
    threshold = max(critical, evidence.statistic_floor)
    tested = evidence.statistic - evidence.slack
    effect_threshold = evidence.to_effect(threshold)
    tested_effect = evidence.to_effect(tested) if evidence.slack else evidence.effect_size
    if effect_threshold > 0:
        severity = tested_effect / effect_threshold
    else:
        severity = 0.0 if tested_effect == 0 else math.inf
    return DriftResult(
        column=column,
        method=evidence.method,
        statistic=evidence.statistic,
        p_value=evidence.p_value,
        threshold=threshold,
        drifted=bool(tested > threshold),
        alpha=alpha,
        min_effect=evidence.min_effect,
        effect_size=evidence.effect_size,
        severity=severity,
        n_reference=evidence.n_reference,
        n_current=evidence.n_current,
        error_bound=evidence.error_bound,
        details={**evidence.details, **({evidence.slack_name: evidence.slack} if evidence.slack else {})},
    )


@dataclass(frozen=True)
class Untestable:
    """Why two column summaries cannot be compared: ``compare`` reports it, ``drift_test`` raises it."""

    reason: str
    problem: type[PlimsollStatsError]
    limit: str


def untestable(reference: ColumnSummary, current: ColumnSummary) -> Untestable | None:
    """Why two column summaries cannot be compared, or None when they can."""
    for side, summary in (("reference", reference), ("current", current)):
        usable = summary.finite_count if isinstance(summary, NumericSummary) else summary.present_count
        if usable == 0:
            what = "finite values" if isinstance(summary, NumericSummary) else "non-null labels"
            return Untestable(
                f"the {side} sample has no {what} ({summary.row_count} rows)",
                StatsNotEnoughData,
                f"at least 1 of the {what}",
            )
        if isinstance(summary, NumericSummary) and not summary.moments_finite:
            return Untestable(
                f"the {side} sample's mean or variance overflows float64 (values up to "
                f"{max(abs(summary.minimum or 0.0), abs(summary.maximum or 0.0)):.3g}); rescale the column",
                StatsOutOfRange,
                "a sum of squared deviations within float64 (|values| below about 1e154)",
            )
    return None


def drift_test(
    reference: Any,
    current: Any,
    *,
    method: str | None = None,
    alpha: float = 0.05,
    min_effect: float | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    random_state: int = 0,
    min_expected: float = 5.0,
    column: str = "value",
) -> DriftResult:
    """Test one column: raw samples (any array-like) or two summaries of it.

    With raw numeric samples, KS, Wasserstein and energy statistics are exact; from summaries they are
    approximated from the histogram and ``error_bound`` says by how much at most.
    """
    check_alpha(alpha)
    check_resamples(n_resamples)
    raw_given = not isinstance(reference, NumericSummary | CategoricalSummary)
    ref_summary = reference if not raw_given else summarize_column(reference, name=column)
    cur_summary = (
        current
        if isinstance(current, NumericSummary | CategoricalSummary)
        else summarize_column(current, name=column, reference=ref_summary)
    )
    if ref_summary.kind != cur_summary.kind:
        raise StatsKindMismatch(
            f"column {column!r}: reference is {ref_summary.kind} but current is {cur_summary.kind}",
            field=f"columns.{column}",
        )
    refusal = untestable(ref_summary, cur_summary)
    if refusal is not None:
        raise refusal.problem(
            f"column {column!r}: cannot test for drift: {refusal.reason}",
            field=f"columns.{column}",
            limit=refusal.limit,
        )
    chosen = resolve_method(column, ref_summary, method)
    raw = None
    if raw_given and isinstance(ref_summary, NumericSummary) and not isinstance(current, NumericSummary):
        raw = RawSamples(_finite(reference, column), _finite(current, column))
    evidence = column_evidence(
        chosen,
        ref_summary,
        cur_summary,
        min_effect=min_effect,
        n_resamples=n_resamples,
        rng=np.random.default_rng(random_state),
        min_expected=min_expected,
        raw=raw,
        tail_level=alpha,
    )
    return decide(column, evidence, alpha)


def _finite(values: Any, column: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    converted = column_values(values, column)
    if not isinstance(converted, NumericValues):
        raise StatsKindMismatch(f"column {column!r}: expected numeric values", field=f"columns.{column}")
    return converted.values[np.isfinite(converted.values)]


def check_resamples(n_resamples: int) -> None:
    if not 20 <= n_resamples <= 100_000:
        raise StatsOutOfRange(
            f"n_resamples must be within [20, 100000], got {n_resamples}",
            field="n_resamples",
            limit="[20, 100000]",
        )

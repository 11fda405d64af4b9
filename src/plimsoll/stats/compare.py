"""``compare``: the dataset-level drift report of a current table against a reference.

Steps: summarise both sides if given raw tables (the current on the reference's bin edges), pick a
method per column (``selection.py``, overridable), compute each column's evidence, set the effective
level across the tested columns (Benjamini-Hochberg by default), and decide each column. The report
ranks drifted columns by severity (effect size over the effect the threshold corresponds to).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from plimsoll.stats._errors import StatsKindMismatch, StatsUnknownName
from plimsoll.stats.drift import DEFAULT_RESAMPLES, DriftResult, check_resamples, decide, untestable
from plimsoll.stats.evidence import Evidence, column_evidence
from plimsoll.stats.multiple_testing import check_alpha, effective_alpha
from plimsoll.stats.selection import resolve_method
from plimsoll.stats.summaries import TableSummary, summarize


@dataclass(frozen=True)
class DriftReport:
    """Per-column verdicts and the dataset verdict: ``drifted`` is True when any column drifted."""

    columns: Mapping[str, DriftResult]
    untested: Mapping[str, str]
    alpha: float
    correction: str
    alpha_effective: float
    n_reference: int
    n_current: int
    drifted_columns: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        ranked = sorted(
            (r for r in self.columns.values() if r.drifted), key=lambda r: (-r.severity, r.column)
        )
        object.__setattr__(self, "drifted_columns", tuple(r.column for r in ranked))

    @property
    def drifted(self) -> bool:
        return bool(self.drifted_columns)

    @property
    def share_drifted(self) -> float:
        return len(self.drifted_columns) / len(self.columns) if self.columns else 0.0

    def ranked(self) -> list[DriftResult]:
        """All tested columns, most severe first."""
        return sorted(self.columns.values(), key=lambda r: (-r.severity, r.column))

    def to_dict(self) -> dict[str, Any]:
        return {
            "drifted": self.drifted,
            "drifted_columns": list(self.drifted_columns),
            "share_drifted": self.share_drifted,
            "alpha": self.alpha,
            "correction": self.correction,
            "alpha_effective": self.alpha_effective,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "columns": {name: result.to_dict() for name, result in self.columns.items()},
            "untested": dict(self.untested),
        }

    def __repr__(self) -> str:
        return (
            f"DriftReport(drifted={self.drifted}, drifted_columns={list(self.drifted_columns)}, "
            f"tested={len(self.columns)}, untested={len(self.untested)})"
        )


def compare(
    reference: Any,
    current: Any,
    *,
    alpha: float = 0.05,
    correction: str = "bh",
    columns: Sequence[str] | None = None,
    methods: Mapping[str, str] | None = None,
    min_effect: Mapping[str, float] | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    random_state: int = 0,
    min_expected: float = 5.0,
) -> DriftReport:
    """Compare ``current`` against ``reference`` (tables or ``TableSummary``), column by column.

    ``methods`` and ``min_effect`` override the defaults per column name; ``columns`` restricts the
    comparison. A current table given raw is summarised on the reference's bin edges.
    """
    check_alpha(alpha)
    check_resamples(n_resamples)
    effective_alpha([], alpha, correction)  # rejects an unknown correction before any work
    ref = reference if isinstance(reference, TableSummary) else summarize(reference)
    cur = current if isinstance(current, TableSummary) else summarize(current, reference=ref)
    names = list(columns) if columns is not None else [c for c in ref.columns if c in cur.columns]
    untested: dict[str, str] = {}
    if columns is None:
        for name in [*ref.columns, *cur.columns]:
            if (name in ref.columns) != (name in cur.columns):
                side = "current" if name in ref.columns else "reference"
                untested[name] = f"the column is missing from the {side} data"
    for overrides, label in ((methods, "methods"), (min_effect, "min_effect")):
        unknown = sorted(set(overrides or {}) - set(ref.columns))
        if unknown:
            raise StatsUnknownName(
                f"{label}: columns {unknown} are not in the reference",
                field=label,
                details={"choices": list(ref.columns)},
            )
    testable: list[tuple[int, str, Any, Any]] = []
    for position, name in enumerate(names):
        if name not in ref.columns or name not in cur.columns:
            side = "reference" if name not in ref.columns else "current"
            raise StatsUnknownName(
                f"columns: {name!r} is not in the {side} data",
                field="columns",
                details={"choices": [c for c in ref.columns if c in cur.columns]},
            )
        ref_column, cur_column = ref.columns[name], cur.columns[name]
        if ref_column.kind != cur_column.kind:
            raise StatsKindMismatch(
                f"column {name!r}: reference summary is {ref_column.kind} but current is {cur_column.kind}",
                field=f"columns.{name}",
            )
        refusal = untestable(ref_column, cur_column)
        if refusal is not None:
            untested[name] = refusal.reason
            continue
        testable.append((position, name, ref_column, cur_column))
    # The smallest level any column can be judged at: calibrated thresholds resample enough for it.
    tail_level = alpha if correction == "none" else alpha / max(len(testable), 1)
    evidence: dict[str, Evidence] = {}
    for position, name, ref_column, cur_column in testable:
        method = resolve_method(name, ref_column, (methods or {}).get(name))
        evidence[name] = column_evidence(
            method,
            ref_column,
            cur_column,
            min_effect=(min_effect or {}).get(name),
            n_resamples=n_resamples,
            rng=np.random.default_rng([random_state, position]),
            min_expected=min_expected,
            tail_level=tail_level,
        )
    level = effective_alpha([e.p_value for e in evidence.values()], alpha, correction)
    results = {name: decide(name, item, level) for name, item in evidence.items()}
    return DriftReport(
        columns=results,
        untested=untested,
        alpha=alpha,
        correction=correction,
        alpha_effective=level,
        n_reference=ref.row_count,
        n_current=cur.row_count,
    )

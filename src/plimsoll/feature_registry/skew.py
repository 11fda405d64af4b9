"""A skew check's arithmetic: each feature's training-time summary against its serving-time one,
with the statistics engine's verdicts (`stats.compare`, the training side as the reference, one
level set across the features tested together), and the shift in the feature's own terms.

The engine decides; this module adds what a reader needs to act on a verdict: by how much the mean
and quantiles moved, which labels' shares moved most and which labels one side never saw, and how
the share of missing values changed (a feature that is missing at serving time is the commonest
skew of all, and the distribution tests look only at the values present).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from plimsoll.feature_registry.entities import (
    SHIFT_LABELS,
    SHIFT_QUANTILES,
    FeatureSkew,
    FeatureVersion,
    json_float,
)

if TYPE_CHECKING:
    from plimsoll.stats import ColumnSummary, TableSummary


def compare_features(
    training: TableSummary, serving: TableSummary, versions: Sequence[FeatureVersion], *, alpha: float
) -> tuple[list[FeatureSkew], str, float]:
    """A verdict per feature (in the order of `versions`), the correction and the effective level.
    Both summaries hold a column named after each feature (the service checks it first)."""
    from plimsoll import stats

    results: dict[str, FeatureSkew] = {}
    testable: list[str] = []
    for version in versions:
        before, after = training[version.name], serving[version.name]
        if before.kind != after.kind:
            results[version.name] = FeatureSkew(
                version.name,
                version.version,
                "skewed",
                before.kind,
                method="kind",
                n_training=before.row_count,
                n_serving=after.row_count,
                reason=f"the training values are {before.kind} but the serving values are {after.kind}",
                shift=_missing(before, after),
            )
        elif before.kind != version.kind:
            results[version.name] = FeatureSkew(
                version.name,
                version.version,
                "untested",
                before.kind,
                n_training=before.row_count,
                n_serving=after.row_count,
                reason=(
                    f"the values are {before.kind} but the feature is declared {version.dtype} "
                    f"({version.kind}): the profiles are not of this feature's values"
                ),
            )
        else:
            testable.append(version.name)
    correction, level = "bh", alpha
    if testable:
        report = stats.compare(
            _table(training, testable), _table(serving, testable), alpha=alpha, columns=testable
        )
        correction, level = report.correction, report.alpha_effective
        by_name = {version.name: version for version in versions}
        for name in testable:
            version, before, after = by_name[name], training[name], serving[name]
            shift = _shift(before, after)
            if name in report.untested:
                results[name] = FeatureSkew(
                    name,
                    version.version,
                    "untested",
                    before.kind,
                    n_training=before.row_count,
                    n_serving=after.row_count,
                    reason=report.untested[name],
                    shift=shift,
                )
                continue
            verdict = report.columns[name]
            results[name] = FeatureSkew(
                name,
                version.version,
                "skewed" if verdict.drifted else "consistent",
                before.kind,
                method=verdict.method,
                statistic=json_float(verdict.statistic),
                p_value=json_float(verdict.p_value),
                threshold=json_float(verdict.threshold),
                effect_size=json_float(verdict.effect_size),
                severity=json_float(verdict.severity),
                alpha=verdict.alpha,
                n_training=verdict.n_reference,
                n_serving=verdict.n_current,
                shift=shift,
            )
    return [results[version.name] for version in versions], correction, level


def _table(summary: TableSummary, names: Sequence[str]) -> TableSummary:
    from plimsoll.stats import TableSummary

    return TableSummary(summary.row_count, {name: summary[name] for name in names})


def _shift(before: ColumnSummary, after: ColumnSummary) -> dict[str, Any]:
    from plimsoll.stats import CategoricalSummary, NumericSummary

    shift = _missing(before, after)
    if isinstance(before, NumericSummary) and isinstance(after, NumericSummary):
        shift["mean"] = _pair(before.mean, after.mean)
        shift["std"] = _pair(before.std, after.std)
        shift["quantiles"] = {f"{q:g}": _pair(before.quantile(q), after.quantile(q)) for q in SHIFT_QUANTILES}
    elif isinstance(before, CategoricalSummary) and isinstance(after, CategoricalSummary):
        shift.update(_labels(before, after))
    return shift


def _missing(before: ColumnSummary, after: ColumnSummary) -> dict[str, Any]:
    return {
        "missing": _pair(
            before.missing_count / before.row_count if before.row_count else None,
            after.missing_count / after.row_count if after.row_count else None,
        )
    }


def _pair(training: float | None, serving: float | None) -> dict[str, float | None]:
    delta = None if training is None or serving is None else serving - training
    return {"training": json_float(training), "serving": json_float(serving), "delta": json_float(delta)}


def _labels(before: Any, after: Any) -> dict[str, Any]:
    """The labels whose share moved most, and the labels one side never saw (within the labels
    each summary kept: a truncated summary folded the rarest into `other`)."""
    counts = {"training": before.as_dict(), "serving": after.as_dict()}
    present = {"training": before.present_count, "serving": after.present_count}
    shares: list[dict[str, Any]] = []
    for label in sorted(counts["training"].keys() | counts["serving"].keys()):
        pair = {
            side: (counts[side].get(label, 0) / present[side] if present[side] else None)
            for side in ("training", "serving")
        }
        shares.append({"label": label, **_pair(pair["training"], pair["serving"])})
    shares.sort(key=lambda item: (-abs(item["delta"] or 0.0), item["label"]))
    unseen = sorted(counts["serving"].keys() - counts["training"].keys())
    gone = sorted(counts["training"].keys() - counts["serving"].keys())
    return {
        "shares": shares[:SHIFT_LABELS],
        "new_labels": unseen[:SHIFT_LABELS],
        "new_label_count": len(unseen),
        "missing_labels": gone[:SHIFT_LABELS],
        "missing_label_count": len(gone),
    }

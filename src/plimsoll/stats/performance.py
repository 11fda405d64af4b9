"""Classifier performance without labels: confidence-based estimation from calibrated scores.

``estimate_performance`` calibrates the model's scores on labelled reference data (isotonic
regression, one-vs-rest for multiclass), turns each current score into a probability that the row
belongs to each class, and from those probabilities builds the *expected* confusion matrix of the
current window, hence accuracy, precision, recall, F1 (macro-averaged for multiclass) and ROC AUC.
The band around each estimate is the central ``confidence`` interval of the metric when labels are
drawn from those probabilities (Monte Carlo), i.e. how far the realised value may scatter by chance.

Assumptions: no concept drift (P(label | score) is the same in the window as in the reference;
covariate shift is fine), reference labels representative, and calibration good. The estimate is
flagged unreliable (``reliable=False`` with reasons in ``warnings``) when the cross-fitted calibration
error on the reference exceeds ``max_calibration_error``, when more than 5 % of current scores fall
outside the reference score range (calibration there is extrapolated), or when the window has fewer
than 50 rows. The band does not include calibration error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats as scipy_stats

from plimsoll.stats._errors import PlimsollStatsError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")


@dataclass(frozen=True)
class MetricEstimate:
    """``None`` where the metric is undefined for the window (e.g. precision with no predicted positive)."""

    value: float | None
    lower: float | None
    upper: float | None
    realized: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        return {"value": self.value, "lower": self.lower, "upper": self.upper, "realized": self.realized}


@dataclass(frozen=True)
class PerformanceEstimate:
    metrics: dict[str, MetricEstimate]
    n_current: int
    n_classes: int
    calibration_error: float
    reliable: bool
    warnings: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": {name: m.to_dict() for name, m in self.metrics.items()},
            "n_current": self.n_current,
            "n_classes": self.n_classes,
            "calibration_error": self.calibration_error,
            "reliable": self.reliable,
            "warnings": list(self.warnings),
        }


def estimate_performance(
    reference_scores: Any,
    reference_labels: Any,
    current_scores: Any,
    *,
    current_labels: Any = None,
    threshold: float = 0.5,
    confidence: float = 0.95,
    n_resamples: int = 500,
    max_calibration_error: float = 0.05,
    random_state: int = 0,
) -> PerformanceEstimate:
    """Estimate a classifier's metrics on unlabelled current scores (see the module docstring).

    Binary: 1-D scores for the positive class, labels 0/1, prediction ``score >= threshold``.
    Multiclass: 2-D scores (rows x classes), integer labels 0..K-1, prediction ``argmax``.
    """
    ref_scores = _scores(reference_scores, "reference_scores")
    cur_scores = _scores(current_scores, "current_scores")
    if ref_scores.ndim != cur_scores.ndim or ref_scores.shape[1:] != cur_scores.shape[1:]:
        raise PlimsollStatsError(
            f"current_scores: shape {cur_scores.shape[1:]} per row differs from the reference's "
            f"{ref_scores.shape[1:]}"
        )
    n_classes = 2 if ref_scores.ndim == 1 else ref_scores.shape[1]
    ref_labels = _labels(reference_labels, "reference_labels", len(ref_scores), n_classes)
    if not 0.0 < confidence < 1.0:
        raise PlimsollStatsError(f"confidence must be within (0, 1), got {confidence}")
    if len(cur_scores) == 0:
        raise PlimsollStatsError("current_scores: needs at least one row, got 0")
    if len(np.unique(ref_labels)) < 2:
        raise PlimsollStatsError("reference_labels: calibration needs at least two classes present")
    scores_by_class = _one_vs_rest(ref_scores, n_classes)
    current_by_class = _one_vs_rest(cur_scores, n_classes)
    probabilities = _calibrated(scores_by_class, ref_labels, current_by_class)
    if n_classes == 2:
        predicted = (cur_scores >= threshold).astype(np.int64)
    else:
        predicted = np.argmax(cur_scores, axis=1).astype(np.int64)
    rng = np.random.default_rng(random_state)
    expected = _metrics_from_probabilities(probabilities, predicted, current_by_class)
    draws = rng.random((n_resamples, len(cur_scores)))
    sampled_labels = (draws[:, :, None] > np.cumsum(probabilities, axis=1)[None, :, :]).sum(axis=2)
    sampled_labels = np.minimum(sampled_labels, n_classes - 1)
    simulated = _metrics_from_labels(sampled_labels, predicted, current_by_class, n_classes)
    realized = None
    labels = np.zeros(0, dtype=np.int64)
    if current_labels is not None:
        labels = _labels(current_labels, "current_labels", len(cur_scores), n_classes)
        realized = _metrics_from_labels(labels[None, :], predicted, current_by_class, n_classes)
    tail = (1.0 - confidence) / 2.0
    metrics = {}
    for name in METRICS:
        values = simulated[name][np.isfinite(simulated[name])]
        lower, upper = math.nan, math.nan
        if values.size:
            lower, upper = float(np.quantile(values, tail)), float(np.quantile(values, 1 - tail))
        real = None if realized is None else _defined(float(realized[name][0]))
        metrics[name] = MetricEstimate(_defined(expected[name]), _defined(lower), _defined(upper), real)
    calibration_error = _cross_fitted_calibration_error(scores_by_class, ref_labels, random_state)
    warnings = _warnings(calibration_error, max_calibration_error, ref_scores, cur_scores)
    undefined = sorted(name for name, m in metrics.items() if m.value is None or m.lower is None)
    if undefined:
        warnings.append(f"{undefined} are undefined for this window (e.g. no predicted positives)")
    if current_labels is not None:
        shifted = _calibration_shift(probabilities, labels)
        if shifted > max_calibration_error:
            warnings.append(
                f"calibration error on the labelled window is {shifted:.3f}: P(label | score) has "
                "changed since the reference (concept drift), so label-free estimates are biased"
            )
    return PerformanceEstimate(
        metrics, len(cur_scores), n_classes, calibration_error, not warnings, tuple(warnings)
    )


def _defined(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _calibration_shift(probabilities: FloatArray, labels: IntArray) -> float:
    """Expected calibration error of the reference calibration on a labelled window."""
    confidence = probabilities.max(axis=1)
    correct = (probabilities.argmax(axis=1) == labels).astype(np.float64)
    return _binned_calibration_error(confidence, correct)


def _binned_calibration_error(confidence: FloatArray, correct: FloatArray) -> float:
    bins = np.minimum((confidence * 10).astype(np.int64), 9)
    gaps = np.abs(
        np.bincount(bins, weights=confidence, minlength=10) - np.bincount(bins, weights=correct, minlength=10)
    )
    return float(gaps.sum() / max(len(confidence), 1))


def _scores(values: Any, field_name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim not in (1, 2):
        raise PlimsollStatsError(f"{field_name}: expected 1-D or 2-D scores, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise PlimsollStatsError(f"{field_name}: scores must be finite; found NaN or infinity")
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    return array


def _labels(values: Any, field_name: str, rows: int, n_classes: int) -> IntArray:
    array = np.asarray(values)
    if array.shape != (rows,):
        raise PlimsollStatsError(f"{field_name}: expected {rows} labels, got shape {array.shape}")
    as_int = array.astype(np.int64)
    if not np.array_equal(as_int, array.astype(np.float64)) or as_int.min(initial=0) < 0:
        raise PlimsollStatsError(f"{field_name}: labels must be integers within [0, {n_classes - 1}]")
    if as_int.max(initial=0) >= n_classes:
        raise PlimsollStatsError(f"{field_name}: labels must be integers within [0, {n_classes - 1}]")
    return as_int


def _one_vs_rest(scores: FloatArray, n_classes: int) -> FloatArray:
    return np.column_stack((-scores, scores)) if n_classes == 2 and scores.ndim == 1 else scores


def _calibrated(ref_scores: FloatArray, ref_labels: IntArray, cur_scores: FloatArray) -> FloatArray:
    from sklearn.isotonic import IsotonicRegression  # slow to import; only needed here

    n_classes = ref_scores.shape[1]
    columns = []
    for k in range(n_classes):
        model = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
        model.fit(ref_scores[:, k], (ref_labels == k).astype(np.float64))
        columns.append(model.predict(cur_scores[:, k]))
    probabilities = np.column_stack(columns)
    if n_classes == 2:
        positive = probabilities[:, 1]
        return np.column_stack((1.0 - positive, positive))
    totals = probabilities.sum(axis=1, keepdims=True)
    uniform = np.full_like(probabilities, 1.0 / n_classes)
    return np.where(totals > 0, probabilities / np.where(totals > 0, totals, 1.0), uniform)


def _metrics_from_probabilities(
    probabilities: FloatArray, predicted: IntArray, scores: FloatArray
) -> dict[str, float]:
    n_classes = probabilities.shape[1]
    confusion = np.zeros((n_classes, n_classes))
    for j in range(n_classes):
        confusion[:, j] = probabilities[predicted == j].sum(axis=0)
    result = _from_confusion(confusion[None, :, :])
    aucs = [_expected_auc(scores[:, k], probabilities[:, k]) for k in _auc_classes(n_classes)]
    return {**{k: float(v[0]) for k, v in result.items()}, "roc_auc": float(np.mean(aucs))}


def _metrics_from_labels(
    labels: IntArray, predicted: IntArray, scores: FloatArray, n_classes: int
) -> dict[str, FloatArray]:
    draws = labels.shape[0]
    index = (np.arange(draws)[:, None] * n_classes + labels) * n_classes + predicted[None, :]
    confusion = np.bincount(index.ravel(), minlength=draws * n_classes * n_classes).reshape(
        draws, n_classes, n_classes
    )
    result = _from_confusion(confusion.astype(np.float64))
    aucs = []
    for k in _auc_classes(n_classes):
        ranks = scipy_stats.rankdata(scores[:, k])
        positives = (labels == k).sum(axis=1).astype(np.float64)
        negatives = labels.shape[1] - positives
        rank_sum = (labels == k).astype(np.float64) @ ranks
        with np.errstate(divide="ignore", invalid="ignore"):
            aucs.append((rank_sum - positives * (positives + 1) / 2) / (positives * negatives))
    result["roc_auc"] = np.mean(np.vstack(aucs), axis=0)
    return result


def _auc_classes(n_classes: int) -> range:
    return range(1, 2) if n_classes == 2 else range(n_classes)


def _from_confusion(confusion: FloatArray) -> dict[str, FloatArray]:
    """Metrics from confusion matrices shaped (draws, true class, predicted class)."""
    total = confusion.sum(axis=(1, 2))
    diagonal = np.diagonal(confusion, axis1=1, axis2=2)
    predicted_totals = confusion.sum(axis=1)
    true_totals = confusion.sum(axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = diagonal / predicted_totals
        recall = diagonal / true_totals
        f1 = 2 * diagonal / (predicted_totals + true_totals)
        accuracy = diagonal.sum(axis=1) / total
    if confusion.shape[1] == 2:
        return {"accuracy": accuracy, "precision": precision[:, 1], "recall": recall[:, 1], "f1": f1[:, 1]}
    return {
        "accuracy": accuracy,
        "precision": np.mean(precision, axis=1),
        "recall": np.mean(recall, axis=1),
        "f1": np.mean(f1, axis=1),
    }


def _expected_auc(scores: FloatArray, probabilities: FloatArray) -> float:
    """E[positive-negative pairs ordered correctly] / E[pairs], ties counted half."""
    unique, inverse = np.unique(scores, return_inverse=True)
    positive = np.bincount(inverse, weights=probabilities, minlength=unique.size)
    negative = np.bincount(inverse, weights=1.0 - probabilities, minlength=unique.size)
    above = np.cumsum(positive[::-1])[::-1] - positive
    self_pairs = float(np.sum(probabilities * (1.0 - probabilities)))
    numerator = float(np.sum(negative * (above + 0.5 * positive))) - 0.5 * self_pairs
    denominator = float(positive.sum() * negative.sum()) - self_pairs
    return numerator / denominator if denominator > 0 else math.nan


def _cross_fitted_calibration_error(scores: FloatArray, labels: IntArray, random_state: int) -> float:
    """Expected calibration error on the reference, calibrating each half on the other half."""
    rng = np.random.default_rng(random_state)
    half = rng.random(len(labels)) < 0.5
    if half.all() or not half.any():
        return math.nan
    probabilities = np.empty((len(labels), scores.shape[1]))
    for fit_mask in (half, ~half):
        if len(np.unique(labels[fit_mask])) < 2:
            return math.nan
        probabilities[~fit_mask] = _calibrated(scores[fit_mask], labels[fit_mask], scores[~fit_mask])
    return _calibration_shift(probabilities, labels)


def _warnings(error: float, limit: float, ref_scores: FloatArray, cur_scores: FloatArray) -> list[str]:
    warnings = []
    if not math.isfinite(error) or error > limit:
        warnings.append(
            f"calibration error on the reference is {error:.3f}, above max_calibration_error={limit}"
        )
    low, high = ref_scores.min(axis=0), ref_scores.max(axis=0)
    outside = (
        np.any((cur_scores < low) | (cur_scores > high), axis=-1)
        if cur_scores.ndim == 2
        else ((cur_scores < low) | (cur_scores > high))
    )
    if outside.mean() > 0.05:
        warnings.append(f"{outside.mean():.1%} of current scores lie outside the reference score range")
    if len(cur_scores) < 50:
        warnings.append(f"the window has {len(cur_scores)} rows; fewer than 50 makes the estimate noisy")
    return warnings

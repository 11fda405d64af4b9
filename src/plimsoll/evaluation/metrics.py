"""Evaluation metrics as vectorised numpy kernels: every metric of a task for every group of rows
at once (the whole table is one group; a slice column's values, or a sensitive feature's, are
groups), and the fairness bootstrap as draws of cell counts. Pure: arrays in, arrays out.

The definitions are scikit-learn's and Fairlearn's, and the tests hold them to theirs within 1e-9
on generated data:

- counts of (true label, predicted label) per group: accuracy, precision, recall, F1, selection
  rate, true and false positive rates (a ratio whose denominator is 0 is undefined, NaN here, where
  scikit-learn warns and answers 0);
- one sort of the scores per grouping (descending score within group): ROC AUC as the trapezoid
  of the ROC curve over distinct thresholds (ties count half, as ``roc_auc_score``) and PR AUC as
  average precision (``average_precision_score``: the sum over thresholds of the recall gained
  times the precision there, no interpolation);
- sums per group (``np.bincount`` with weights): log loss with probabilities clipped to
  ``[eps, 1 - eps]`` as ``log_loss`` does, the Brier score, the expected calibration error over
  ``n_bins`` equal-width bins placed as ``sklearn.calibration.calibration_curve`` places them;
  for regression MAE, RMSE, R² and MAPE (``|error| / max(|y|, eps)``) as ``sklearn.metrics``.

The fairness bootstrap. Fairlearn's ``MetricFrame(n_boot=B)`` resamples the rows with replacement
B times and computes every group's metrics again on each resample. Selection rate and the true and
false positive rates depend on the rows only through the counts of the cells (group, true label,
predicted label); the cell counts of a resample of n rows drawn with replacement are one
multinomial draw of n over the cells' shares. Drawing those B multinomials directly is the same
bootstrap (the same distribution of every statistic built on the counts), at a cost of B x cells
instead of B x rows: 200 resamples of a million rows take microseconds, not minutes. The draws are
not Fairlearn's own (its resamples come from pandas' sampler), so the intervals agree in
distribution, not digit for digit; the point estimates agree exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

EPS = float(np.finfo(np.float64).eps)


# -- classification ----------------------------------------------------------------------------------


def confusion_counts(y: NDArray[np.int8], pred: NDArray[np.int8], codes: IntArray, groups: int) -> IntArray:
    """Counts shaped (group, true label, predicted label) of binary labels 0/1."""
    cells = (codes * 4 + y.astype(np.int64) * 2 + pred).astype(np.int64, copy=False)
    return np.bincount(cells, minlength=groups * 4).reshape(groups, 2, 2)


def rates_from_counts(counts: NDArray[np.int64] | FloatArray) -> dict[str, FloatArray]:
    """Label metrics and rates from counts shaped (..., 2, 2) [true, predicted]: any leading axes
    (groups, or resamples x groups) are kept. NaN where a denominator is 0."""
    counts = np.asarray(counts, dtype=np.float64)
    tn, fp = counts[..., 0, 0], counts[..., 0, 1]
    fn, tp = counts[..., 1, 0], counts[..., 1, 1]
    rows = tn + fp + fn + tp
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "accuracy": (tn + tp) / rows,
            "precision": tp / (tp + fp),
            "recall": tp / (tp + fn),
            "f1": 2 * tp / (2 * tp + fp + fn),
            "selection_rate": (tp + fp) / rows,
            "true_positive_rate": tp / (tp + fn),
            "false_positive_rate": fp / (fp + tn),
        }


def group_rates(counts: NDArray[np.int64]) -> dict[str, FloatArray]:
    """Selection rate and true and false positive rates from counts shaped (..., 2, 2), as
    Fairlearn's functions give them: a rate whose denominator is 0 in a group that has rows is 0
    (scikit-learn's `confusion_matrix(normalize="true")`); a group without rows is NaN."""
    rates = rates_from_counts(counts)
    present = np.isfinite(rates["selection_rate"])
    return {
        "selection_rate": rates["selection_rate"],
        "true_positive_rate": np.where(present, np.nan_to_num(rates["true_positive_rate"]), np.nan),
        "false_positive_rate": np.where(present, np.nan_to_num(rates["false_positive_rate"]), np.nan),
    }


def score_order(score: FloatArray, codes: IntArray, groups: int) -> IntArray:
    """Row indices by group, and by descending score within each group: one float sort (numpy's
    default, SIMD where the machine has it; the order of equal scores does not matter, they are
    one threshold), then a stable sort of the small integer group codes (a radix sort) when there
    are several groups."""
    order = np.argsort(score)[::-1]
    if groups > 1:
        narrow = codes.astype(np.int16 if groups < 2**15 else np.int64)
        order = order[np.argsort(narrow[order], kind="stable")]
    return np.asarray(order, dtype=np.int64)


@dataclass(frozen=True)
class Thresholds:
    """The distinct thresholds of each group, as the ends of runs of equal (group, score) in
    `score_order`: cumulative true and false positives within the group at each, and the group."""

    group: IntArray
    score: FloatArray
    tp: FloatArray
    fp: FloatArray


def thresholds(y: NDArray[np.int8], score: FloatArray, codes: IntArray, order: IntArray) -> Thresholds:
    s, g, yy = score[order], codes[order], y[order].astype(np.int64)
    last = np.ones(len(s), dtype=bool)
    last[:-1] = (s[1:] != s[:-1]) | (g[1:] != g[:-1])
    tp_cum = np.cumsum(yy)
    fp_cum = np.arange(1, len(yy) + 1) - tp_cum
    # What the groups before each row's group hold: subtracted, the counts start at 0 per group.
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    tp_before = np.r_[0, tp_cum][starts]
    fp_before = np.r_[0, fp_cum][starts]
    run = np.cumsum(np.r_[True, g[1:] != g[:-1]]) - 1  # each sorted row's group run
    ends = np.flatnonzero(last)
    return Thresholds(
        g[ends],
        s[ends],
        (tp_cum[ends] - tp_before[run[ends]]).astype(np.float64),
        (fp_cum[ends] - fp_before[run[ends]]).astype(np.float64),
    )


def ranking_metrics(found: Thresholds, positives: FloatArray, negatives: FloatArray) -> dict[str, FloatArray]:
    """ROC AUC (trapezoid over the distinct thresholds) and average precision, per group."""
    groups = len(positives)
    first = np.r_[True, found.group[1:] != found.group[:-1]]
    tp_prev = np.where(first, 0.0, np.r_[0.0, found.tp[:-1]])
    fp_prev = np.where(first, 0.0, np.r_[0.0, found.fp[:-1]])
    area = np.bincount(found.group, weights=(found.fp - fp_prev) * (found.tp + tp_prev) / 2, minlength=groups)
    gained = np.bincount(
        found.group, weights=(found.tp - tp_prev) * found.tp / (found.tp + found.fp), minlength=groups
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        roc_auc = area / (positives * negatives)
        pr_auc = np.where(positives > 0, gained / positives, np.nan)
    roc_auc = np.where((positives > 0) & (negatives > 0), roc_auc, np.nan)
    return {"roc_auc": roc_auc, "pr_auc": pr_auc}


def calibration_cells(score: FloatArray, n_bins: int) -> IntArray:
    """Each score's bin among `n_bins` equal-width bins of [0, 1], as `calibration_curve` places
    it (a score on an inner edge belongs to the bin below it)."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.asarray(np.searchsorted(edges[1:-1], score), dtype=np.int64)


def probability_metrics(
    y: NDArray[np.int8], score: FloatArray, codes: IntArray, groups: int, n_bins: int
) -> dict[str, FloatArray]:
    """Log loss, Brier score and expected calibration error per group."""
    rows = np.bincount(codes, minlength=groups).astype(np.float64)
    positive = y.astype(bool)
    clipped = np.where(positive, np.clip(score, EPS, 1 - EPS), np.clip(1 - score, EPS, 1 - EPS))
    loss = np.bincount(codes, weights=-np.log(clipped), minlength=groups)
    squared = np.bincount(codes, weights=(score - y) ** 2, minlength=groups)
    cells = codes * n_bins + calibration_cells(score, n_bins)
    outcome = np.bincount(cells, weights=y.astype(np.float64), minlength=groups * n_bins)
    predicted = np.bincount(cells, weights=score, minlength=groups * n_bins)
    gaps = np.abs(outcome - predicted).reshape(groups, n_bins).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "log_loss": loss / rows,
            "brier_score": squared / rows,
            "expected_calibration_error": gaps / rows,
        }


def classification_by_group(
    y: NDArray[np.int8],
    pred: NDArray[np.int8],
    score: FloatArray | None,
    codes: IntArray,
    groups: int,
    *,
    n_bins: int = 10,
) -> tuple[dict[str, FloatArray], IntArray, Thresholds | None]:
    """Every classification metric per group (NaN where undefined), the counts shaped (group,
    true, predicted) and the groups' thresholds (what the curves are drawn from). Without scores,
    the score metrics are left out, and the thresholds are None."""
    counts = confusion_counts(y, pred, codes, groups)
    metrics = rates_from_counts(counts)
    found = None
    if score is not None:
        positives = counts[:, 1, :].sum(axis=1).astype(np.float64)
        negatives = counts[:, 0, :].sum(axis=1).astype(np.float64)
        found = thresholds(y, score, codes, score_order(score, codes, groups))
        metrics.update(ranking_metrics(found, positives, negatives))
        metrics.update(probability_metrics(y, score, codes, groups, n_bins))
    return metrics, counts, found


# -- curves of the whole table (one group) -------------------------------------------------------


def roc_curve(found: Thresholds, positives: float, negatives: float) -> FloatArray:
    """(false positive rate, true positive rate, threshold) from (0, 0) at threshold +inf."""
    fpr = np.r_[0.0, found.fp / negatives] if negatives else np.r_[0.0, found.fp * np.nan]
    tpr = np.r_[0.0, found.tp / positives] if positives else np.r_[0.0, found.tp * np.nan]
    return np.column_stack((fpr, tpr, np.r_[np.inf, found.score]))


def pr_curve(found: Thresholds, positives: float) -> FloatArray:
    """(recall, precision, threshold) by falling threshold, from (0, 1) as scikit-learn ends it."""
    recall = found.tp / positives if positives else found.tp * np.nan
    precision = found.tp / (found.tp + found.fp)
    return np.column_stack((np.r_[0.0, recall], np.r_[1.0, precision], np.r_[np.inf, found.score]))


def downsample(points: FloatArray, limit: int) -> FloatArray:
    """At most `limit` points of a curve, evenly spaced along it, both ends kept."""
    if len(points) <= limit:
        return points
    keep = np.unique(np.round(np.linspace(0, len(points) - 1, limit)).astype(np.int64))
    return points[keep]


def calibration_table(y: NDArray[np.int8], score: FloatArray, n_bins: int) -> FloatArray:
    """Per bin: (lower edge, upper edge, rows, mean score, fraction positive); NaN means in an
    empty bin."""
    cells = calibration_cells(score, n_bins)
    rows = np.bincount(cells, minlength=n_bins).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_score = np.bincount(cells, weights=score, minlength=n_bins) / rows
        positive = np.bincount(cells, weights=y.astype(np.float64), minlength=n_bins) / rows
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return np.column_stack((edges[:-1], edges[1:], rows, mean_score, positive))


# -- regression --------------------------------------------------------------------------------------


def regression_by_group(
    y: FloatArray, pred: FloatArray, codes: IntArray, groups: int
) -> dict[str, FloatArray]:
    """MAE, RMSE, R² and MAPE per group (R² NaN for a group whose targets are all equal)."""
    rows = np.bincount(codes, minlength=groups).astype(np.float64)
    error = y - pred
    absolute = np.abs(error)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.bincount(codes, weights=y, minlength=groups) / rows
        residual = np.bincount(codes, weights=error * error, minlength=groups)
        centred = y - mean[codes]
        total = np.bincount(codes, weights=centred * centred, minlength=groups)
        return {
            "mae": np.bincount(codes, weights=absolute, minlength=groups) / rows,
            "rmse": np.sqrt(residual / rows),
            "r2": np.where(total > 0, 1.0 - residual / total, np.nan),
            "mape": np.bincount(codes, weights=absolute / np.maximum(np.abs(y), EPS), minlength=groups)
            / rows,
        }


# -- fairness ----------------------------------------------------------------------------------------


def fairness_from_rates(rates: dict[str, FloatArray]) -> dict[str, FloatArray]:
    """Fairlearn's between-groups quantities over the last axis (the groups used): demographic
    parity difference (max - min selection rate) and ratio (min / max), equalized odds difference
    (the larger of the true and false positive rates' differences, `agg="worst_case"`). NaN where
    a group's rate is undefined, as Fairlearn's would be."""

    def spread(values: FloatArray) -> FloatArray:
        # pandas' max and min, which Fairlearn's `difference` calls, skip an undefined group
        return np.asarray(np.fmax.reduce(values, axis=-1) - np.fmin.reduce(values, axis=-1))

    selection = rates["selection_rate"]
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.fmin.reduce(selection, axis=-1) / np.fmax.reduce(selection, axis=-1)
    return {
        "demographic_parity_difference": spread(selection),
        "demographic_parity_ratio": np.asarray(ratio, dtype=np.float64),
        "equalized_odds_difference": np.maximum(
            spread(rates["true_positive_rate"]), spread(rates["false_positive_rate"])
        ),
    }


def bootstrap_counts(counts: IntArray, resamples: int, seed: int) -> IntArray:
    """`resamples` bootstrap draws of the cell counts (any shape): each is a multinomial draw of
    the total over the cells' shares, which is what resampling the rows with replacement gives."""
    total = int(counts.sum())
    shares = counts.ravel().astype(np.float64) / max(total, 1)
    rng = np.random.default_rng(seed)
    drawn = rng.multinomial(total, shares, size=resamples)
    return np.asarray(drawn.reshape((resamples, *counts.shape)), dtype=np.int64)


def percentile_interval(draws: FloatArray, confidence: float) -> tuple[float, float]:
    """The central `confidence` interval of the draws (NaN draws left out, as Fairlearn's
    `nanquantile`); NaN, NaN when every draw is NaN."""
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return math.nan, math.nan
    tail = (1.0 - confidence) / 2.0
    lower, upper = np.quantile(finite, [tail, 1.0 - tail])
    return float(lower), float(upper)

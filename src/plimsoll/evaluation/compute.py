"""An evaluation computed where the data is: true labels, predictions (and scores), slice and
sensitive columns in; a `NewEvaluation` out, ready to be stored. The SDK calls it; the server
never does (it stores what was computed).

Metrics come from the kernels of `plimsoll.evaluation.metrics`. Fairness point estimates come from
Fairlearn's `MetricFrame` itself, given one row per cell (group, true label, predicted label)
weighted by the cell's count: selection rate and the true and false positive rates are weighted
means, so that is the same frame as one row per row, computed in milliseconds instead of seconds
a million rows. The bootstrap intervals come from the kernels' multinomial draws of the same
cells (metrics module docstring): the same bootstrap as `MetricFrame(n_boot=...)`, not its draws.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from blake3 import blake3
from numpy.typing import NDArray

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.validation import printable
from plimsoll.evaluation import metrics as kernels
from plimsoll.evaluation.entities import (
    CLASSIFICATION_LABEL_METRICS,
    CLASSIFICATION_METRICS,
    FAIRNESS_METRICS,
    GROUP_RATES,
    MAX_CURVE_POINTS,
    MAX_SENSITIVE,
    MAX_SLICE_COLUMNS,
    MAX_SLICE_VALUES,
    REGRESSION_METRICS,
    TASKS,
    Bootstrap,
    Curves,
    Fairness,
    Group,
    Interval,
    NewEvaluation,
    SliceValue,
    check_task,
    finite_or_none,
)

DEFAULT_MIN_GROUP_SIZE = 30
DEFAULT_RESAMPLES = 200
DEFAULT_CONFIDENCE = 0.95
DEFAULT_BINS = 10
MISSING = "(missing)"  # the group of rows whose slice or sensitive value is missing


def labels_digest(y_true: Any) -> str:
    """BLAKE3 over the true labels as text, row by row: the same data gives the same digest
    whatever its dtype, so that a comparison can tell it is the same data."""
    values = np.asarray(y_true)
    hasher = blake3(f"plimsoll-evaluation-labels 1\n{len(values)}\n".encode())
    kind = values.dtype.kind
    if kind == "f" and np.isfinite(values).all() and (values == np.round(values)).all():
        values, kind = values.astype(np.int64), "i"  # 1.0 is the label 1
    if kind in "biu":
        hasher.update(b"integers\n" + values.astype("<i8").tobytes())
    elif kind == "f":
        hasher.update(b"floats\n" + values.astype("<f8").tobytes())
    else:
        hasher.update(b"text\n" + "\n".join(str(v) for v in values.tolist()).encode())
    return hasher.hexdigest()


def evaluate_arrays(
    task: str,
    y_true: Any,
    *,
    y_pred: Any = None,
    y_score: Any = None,
    slices: Mapping[str, Any] | None = None,
    sensitive: Mapping[str, Any] | None = None,
    pos_label: Any = None,
    threshold: float = 0.5,
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = 0,
    n_bins: int = DEFAULT_BINS,
) -> NewEvaluation:
    """Every metric of `task` on the whole table and per slice; for classification, fairness per
    sensitive feature and what the charts need.

    Classification is binary: `y_true` holds two labels (`pos_label` names the positive one;
    default 1, True, or the larger of the two), `y_score` the positive class's probability
    (1-D, or scikit-learn's `predict_proba` with two columns) and `y_pred` the predicted labels
    (default: `y_score >= threshold`). Without scores, the score metrics and curves are left out.
    Regression: `y_true` and `y_pred` numbers."""
    task = check_task("task", task)
    n = _length("y_true", y_true)
    _check_settings(min_group_size, resamples, confidence, n_bins, threshold)
    slices = dict(slices or {})
    sensitive = dict(sensitive or {})
    if len(slices) > MAX_SLICE_COLUMNS:
        raise InvalidParameter("slices", f"has {len(slices)} columns; the limit is {MAX_SLICE_COLUMNS}")
    if len(sensitive) > MAX_SENSITIVE:
        raise InvalidParameter("sensitive", f"has {len(sensitive)} columns; the limit is {MAX_SENSITIVE}")
    slice_codes = {name: _groups(f"slices.{name}", values, n) for name, values in slices.items()}
    sensitive_codes = {name: _groups(f"sensitive.{name}", values, n) for name, values in sensitive.items()}
    digest = labels_digest(y_true)
    if task == "regression":
        if sensitive:
            raise InvalidParameter(
                "sensitive", "fairness is measured for classification; slice a regression instead"
            )
        truth = _numbers("y_true", y_true, n)
        if y_pred is None:
            raise InvalidParameter("y_pred", "is needed for regression: the predicted values")
        values_predicted = _numbers("y_pred", y_pred, n)
        overall = kernels.regression_by_group(truth, values_predicted, np.zeros(n, dtype=np.int64), 1)
        found = {
            name: _slice(
                kernels.regression_by_group(truth, values_predicted, codes, len(values)), codes, values
            )
            for name, (codes, values) in slice_codes.items()
        }
        metrics = _first(overall, REGRESSION_METRICS)
        notes = () if metrics["r2"] is not None else ("r2 is undefined: y_true holds one value only",)
        return NewEvaluation(task, n, digest, metrics, slices=found, notes=notes)
    y, labels = _binary_labels(y_true, pos_label)
    score = None if y_score is None else _scores(y_score, n)
    if y_pred is None:
        if score is None:
            raise InvalidParameter("y_pred", "or y_score is needed: the predictions to evaluate")
        pred = (score >= threshold).astype(np.int8)
    else:
        pred = _predicted(y_pred, n, labels)
    zeros = np.zeros(n, dtype=np.int64)
    overall, counts, found_thresholds = kernels.classification_by_group(
        y, pred, score, zeros, 1, n_bins=n_bins
    )
    names = CLASSIFICATION_METRICS if score is not None else CLASSIFICATION_LABEL_METRICS
    found = {}
    for name, (codes, values) in slice_codes.items():
        by_value, _, _ = kernels.classification_by_group(y, pred, score, codes, len(values), n_bins=n_bins)
        found[name] = _slice({k: by_value[k] for k in names}, codes, values)
    bootstrap = Bootstrap(resamples, confidence, seed)
    fairness = {
        name: _fairness(y, pred, codes, values, min_group_size, bootstrap)
        for name, (codes, values) in sensitive_codes.items()
    }
    metrics = _first(overall, names)
    return NewEvaluation(
        task,
        n,
        digest,
        metrics,
        notes=_undefined(metrics, counts[0], labels),
        slices=found,
        fairness=fairness,
        curves=_curves(y, score, found_thresholds, counts[0], labels, n_bins),
        bootstrap=bootstrap if fairness else None,
        threshold=threshold if y_pred is None else None,
    )


def _undefined(
    metrics: Mapping[str, float | None], counts: NDArray[np.int64], labels: tuple[Any, Any]
) -> tuple[str, ...]:
    """Why each undefined metric of the whole table is undefined, in words."""
    negative, positive = (printable(label) for label in labels)
    notes = []
    if counts[1].sum() == 0 or counts[0].sum() == 0:
        held = positive if counts[0].sum() == 0 else negative
        ranking = [n for n in ("roc_auc", "pr_auc") if n in metrics and metrics[n] is None]
        if ranking:
            notes.append(
                f"{' and '.join(ranking)} undefined: y_true holds a single class ({held!r}); "
                "ranking needs both"
            )
    if metrics.get("precision") is None:
        notes.append(f"precision undefined: no row was predicted {positive!r}")
    if metrics.get("recall") is None:
        notes.append(f"recall undefined: no row of y_true is {positive!r}")
    if metrics.get("f1") is None and metrics.get("recall") is not None:
        notes.append(f"f1 undefined: no row is {positive!r}, predicted or true")
    return tuple(notes)


# -- inputs ------------------------------------------------------------------------------------------


def _length(field: str, values: Any) -> int:
    try:
        n = len(values)
    except TypeError:
        raise InvalidParameter(field, f"must be a column of values, got {type(values).__name__}") from None
    if n == 0:
        raise InvalidParameter(field, "is empty: there is nothing to evaluate")
    return n


def _same_length(field: str, values: Any, n: int) -> None:
    found = _length(field, values)
    if found != n:
        raise InvalidParameter(field, f"has {found} rows, but y_true has {n}: one value per row")


def _check_settings(
    min_group_size: int, resamples: int, confidence: float, bins: int, threshold: float
) -> None:
    from plimsoll.core.validation import check_int
    from plimsoll.evaluation.entities import MAX_CALIBRATION_BINS, MAX_RESAMPLES, check_number

    check_int("min_group_size", min_group_size, minimum=1)
    check_int("resamples", resamples, minimum=1, maximum=MAX_RESAMPLES)
    check_int("n_bins", bins, minimum=1, maximum=MAX_CALIBRATION_BINS)
    level = check_number("confidence", confidence, nullable=False)
    if level is None or not 0.0 < level < 1.0:
        raise InvalidParameter("confidence", f"must be within (0, 1), got {printable(confidence)!r}")
    check_number("threshold", threshold, nullable=False)


def _numbers(field: str, values: Any, n: int) -> NDArray[np.float64]:
    _same_length(field, values, n)
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidParameter(field, "must hold numbers") from None
    if array.ndim != 1:
        raise InvalidParameter(field, f"must be one column, got shape {array.shape}")
    if not np.isfinite(array).all():
        raise InvalidParameter(field, f"holds {int((~np.isfinite(array)).sum())} missing or infinite values")
    return array


def _binary_labels(y_true: Any, pos_label: Any) -> tuple[NDArray[np.int8], tuple[Any, Any]]:
    values = np.asarray(y_true)
    if values.ndim != 1:
        raise InvalidParameter("y_true", f"must be one column, got shape {values.shape}")
    if values.dtype.kind == "f" and not np.isfinite(values).all():
        raise InvalidParameter("y_true", "holds missing values: every row needs its true label")
    if values.dtype.kind == "O" and any(v is None for v in values[: min(len(values), 1_000_000)]):
        raise InvalidParameter("y_true", "holds missing values: every row needs its true label")
    unique = np.unique(values)
    if len(unique) > 2:
        shown = [printable(v) for v in unique[:5].tolist()]
        raise InvalidParameter(
            "y_true", f"holds {len(unique)} labels ({', '.join(shown)}, ...); classification here is binary"
        )
    present = unique.tolist()
    if pos_label is None:
        # 0/1 (or False/True) labels: 1 is positive, present or not; else the larger of two labels
        zero_one = all(not isinstance(v, str) and v in (0, 1) for v in present)
        pos_label = 1 if zero_one else present[-1]
    others = [v for v in present if v != pos_label]
    if pos_label not in present and len(present) == 2:
        raise InvalidParameter(
            "pos_label", f"{printable(pos_label)!r} is not one of the labels {[printable(v) for v in unique]}"
        )
    negative = others[0] if others else (0 if pos_label != 0 else 1)
    return (values == pos_label).astype(np.int8), (negative, pos_label)


def _predicted(values: Any, n: int, labels: tuple[Any, Any]) -> NDArray[np.int8]:
    _same_length("y_pred", values, n)
    array = np.asarray(values)
    if array.ndim != 1:
        raise InvalidParameter("y_pred", f"must be one column of predicted labels, got shape {array.shape}")
    positive = array == labels[1]
    if not (positive | (array == labels[0])).all():
        strange = [printable(v) for v in np.unique(array[~positive & (array != labels[0])])[:5].tolist()]
        raise InvalidParameter(
            "y_pred", f"holds labels that are not y_true's {[printable(v) for v in labels]}: {strange}"
        )
    return np.asarray(positive, dtype=np.int8)


def _scores(values: Any, n: int) -> NDArray[np.float64]:
    _same_length("y_score", values, n)
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidParameter("y_score", "must hold numbers: the positive class's probability") from None
    if array.ndim == 2 and array.shape[1] == 2:
        array = array[:, 1]  # predict_proba's layout: column 1 is the positive class
    if array.ndim != 1:
        raise InvalidParameter(
            "y_score",
            f"must be the positive class's probability (one column, or two), got shape {array.shape}",
        )
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 1:
        raise InvalidParameter("y_score", "must hold probabilities within [0, 1], with no missing value")
    return array


def _groups(field: str, values: Any, n: int) -> tuple[NDArray[np.int64], list[str]]:
    """Each row's group (codes 0..G-1) and the groups' names, by first appearance' order sorted
    by name; a missing value is a group of its own, MISSING."""
    import pandas as pd

    _same_length(field, values, n)
    array = values if isinstance(values, pd.Series) else np.asarray(values)
    codes, uniques = pd.factorize(array, sort=True)
    names = [str(v) for v in uniques.tolist()]
    if (codes < 0).any():
        codes = np.where(codes < 0, len(names), codes)
        names.append(MISSING)
    if len(names) > MAX_SLICE_VALUES:
        raise InvalidParameter(
            field,
            f"has {len(names)} distinct values; the limit is {MAX_SLICE_VALUES}: bin the column first "
            "(pandas.cut or qcut)",
        )
    return np.asarray(codes, dtype=np.int64), names


# -- outputs -----------------------------------------------------------------------------------------


def _first(found: Mapping[str, NDArray[np.float64]], names: tuple[str, ...]) -> dict[str, float | None]:
    return {name: finite_or_none(found[name][0]) for name in names}


def _slice(
    found: Mapping[str, NDArray[np.float64]], codes: NDArray[np.int64], values: list[str]
) -> dict[str, SliceValue]:
    rows = np.bincount(codes, minlength=len(values))
    return {
        value: SliceValue(int(rows[i]), {name: finite_or_none(array[i]) for name, array in found.items()})
        for i, value in enumerate(values)
    }


def _fairness(
    y: NDArray[np.int8],
    pred: NDArray[np.int8],
    codes: NDArray[np.int64],
    values: list[str],
    min_group_size: int,
    bootstrap: Bootstrap,
) -> Fairness:
    counts = kernels.confusion_counts(y, pred, codes, len(values))
    rows = counts.sum(axis=(1, 2))
    used = rows >= min_group_size
    frame = _metric_frame(counts)
    point = fairlearn_rates(counts, frame)
    draws = kernels.group_rates(kernels.bootstrap_counts(counts, bootstrap.resamples, bootstrap.seed))
    accuracy = kernels.rates_from_counts(counts)["accuracy"]
    groups: dict[str, Group] = {}
    for index, value in enumerate(values):
        metrics = {
            name: Interval(
                finite_or_none(point[name][index]),
                *_interval(draws[name][:, index], bootstrap.confidence),
            )
            for name in GROUP_RATES
        }
        metrics["accuracy"] = Interval(finite_or_none(accuracy[index]))
        groups[value] = Group(int(rows[index]), bool(used[index]), metrics)
    note = None
    if used.sum() < 2:
        small = ", ".join(v for v, u in zip(values, used, strict=True) if not u)
        note = (
            f"fewer than two groups have at least {min_group_size} rows"
            + (f" (too small: {small})" if small else "")
            + ": the fairness quantities are undefined"
        )
        metrics_out = {name: Interval(None) for name in FAIRNESS_METRICS}
        return Fairness(groups, metrics_out, min_group_size, note)
    point_used = fairlearn_fairness(counts[used], frame if used.all() else None)
    drawn = kernels.fairness_from_rates({name: draws[name][:, used] for name in GROUP_RATES})
    metrics_out = {
        name: Interval(finite_or_none(point_used[name]), *_interval(drawn[name], bootstrap.confidence))
        for name in FAIRNESS_METRICS
    }
    too_small = [v for v, u in zip(values, used, strict=True) if not u]
    if too_small:
        note = f"groups with fewer than {min_group_size} rows are reported, not used: {', '.join(too_small)}"
    return Fairness(groups, metrics_out, min_group_size, note)


def _interval(draws: NDArray[np.float64], confidence: float) -> tuple[float | None, float | None]:
    lower, upper = kernels.percentile_interval(draws, confidence)
    return finite_or_none(lower), finite_or_none(upper)


def _cells_frame(counts: NDArray[np.int64]) -> tuple[Any, Any, Any, Any]:
    """One row per nonempty cell (group, true, predicted) and its count as a sample weight."""
    groups, truth, predicted = np.nonzero(counts)
    return truth, predicted, groups, counts[groups, truth, predicted].astype(np.float64)


def _metric_frame(counts: NDArray[np.int64]) -> Any:
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate

    truth, predicted, groups, weights = _cells_frame(counts)
    functions = {
        "selection_rate": selection_rate,
        "true_positive_rate": true_positive_rate,
        "false_positive_rate": false_positive_rate,
    }
    return MetricFrame(
        metrics=functions,
        y_true=truth,
        y_pred=predicted,
        sensitive_features=groups,
        sample_params={name: {"sample_weight": weights} for name in functions},
    )


def fairlearn_rates(counts: NDArray[np.int64], frame: Any = None) -> dict[str, NDArray[np.float64]]:
    """Each group's selection rate and true and false positive rates, by Fairlearn's MetricFrame
    over the weighted cells (`frame`, if already made; NaN for a group that has no rows)."""
    frame = (frame if frame is not None else _metric_frame(counts)).by_group
    found = {name: np.full(len(counts), math.nan) for name in GROUP_RATES}
    for name in GROUP_RATES:
        for group, value in frame[name].items():
            found[name][int(group)] = float(value)
    return found


def fairlearn_fairness(counts: NDArray[np.int64], frame: Any = None) -> dict[str, float]:
    """Demographic parity difference and ratio and equalized odds difference over the groups of
    `counts`, as Fairlearn's functions define them (between groups; worst case)."""
    frame = frame if frame is not None else _metric_frame(counts)
    difference, ratio = frame.difference(), frame.ratio()
    return {
        "demographic_parity_difference": float(difference["selection_rate"]),
        "demographic_parity_ratio": float(ratio["selection_rate"]),
        "equalized_odds_difference": float(
            max(difference["true_positive_rate"], difference["false_positive_rate"])
        ),
    }


def _curves(
    y: NDArray[np.int8],
    score: NDArray[np.float64] | None,
    found: kernels.Thresholds | None,
    counts: NDArray[np.int64],
    labels: tuple[Any, Any],
    n_bins: int,
) -> Curves:
    confusion = tuple(tuple(int(c) for c in row) for row in counts)
    names = tuple(str(label) for label in labels)
    if score is None or found is None:
        return Curves(confusion=confusion, labels=names)
    positives, negatives = float(counts[1].sum()), float(counts[0].sum())
    roc = kernels.downsample(kernels.roc_curve(found, positives, negatives), MAX_CURVE_POINTS)
    pr = kernels.downsample(kernels.pr_curve(found, positives), MAX_CURVE_POINTS)
    table = kernels.calibration_table(y, score, n_bins)
    return Curves(_points(roc), _points(pr), _points(table), confusion, names)


def _points(array: NDArray[np.float64]) -> tuple[tuple[float | None, ...], ...]:
    return tuple(tuple(finite_or_none(v) for v in row) for row in array.tolist())


__all__ = ["TASKS", "evaluate_arrays", "labels_digest"]

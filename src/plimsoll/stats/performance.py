"""Classifier performance without labels: confidence-based estimation from calibrated scores.

``estimate_performance`` calibrates the model's scores on labelled reference data (isotonic
regression with each block's rate shrunk by a Jeffreys prior, one-vs-rest for multiclass), turns each current score into a probability that the row
belongs to each class, and from those probabilities builds the *expected* confusion matrix of the
current window, hence accuracy, precision, recall, F1 (macro-averaged for multiclass) and ROC AUC.

The band around each estimate is a prediction interval for the value the metric will have once the
window's labels arrive. Two things put the realised value away from the estimate: chance (the
labels are draws from the probabilities: Monte Carlo gives that spread at the window's size), and
the calibration's own error (isotonic regression fitted on a finite reference is not the truth).
The second is measured on the reference itself: repeatedly, each fold of the reference is
estimated label-free from a calibration fitted on the other folds and compared with its realised
value; what the squared differences hold beyond the folds' own chance spread is the calibration's
error variance (``tau**2``, per metric, bias included). Each side of the band is then
``sqrt(chance_side**2 + (z * tau)**2)`` from the estimate. It stays honest under covariate shift (the
same P(label | score)); under concept drift no label-free band can be.

The label draws are simulated in chunks of at most ``CHUNK_CELLS`` row-draws, so memory stays bounded
(~100 MB) whatever the window size; the band is the same as with one big draw.

Assumptions: no concept drift (P(label | score) is the same in the window as in the reference;
covariate shift is fine), reference labels representative, and calibration good. The estimate is
flagged unreliable (``reliable=False`` with reasons in ``warnings``) when the cross-fitted calibration
error on the reference is too large, when more than 5 % of current scores fall outside the reference
score range (calibration there is extrapolated), or when the window has fewer than 50 rows.

Calibration checks (the reference one, and the concept-drift one once window labels arrive): the
binned calibration error is biased upwards by label noise (~0.1 at 100 rows even for a perfect
model), so each observed value is compared with the same error computed on label vectors drawn from
the probabilities themselves, i.e. what a perfectly calibrated model would show on these rows. A
check fails when the observed error exceeds both the ``1 - calibration_alpha`` quantile of those draws
and ``max_calibration_error`` (the smallest error worth a warning).
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy import stats as scipy_stats

from plimsoll.stats._errors import (
    StatsNotEnoughData,
    StatsOutOfRange,
    StatsShapeMismatch,
    StatsUnreadableValues,
)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
CHUNK_CELLS = 1 << 21
"""Label draws x rows simulated at once: bounds the Monte Carlo arrays to tens of MB."""
CALIBRATION_BINS = 10
REFERENCE_NULL_DRAWS = 100
"""Label draws for the reference calibration check: enough for its 95 % quantile, and the reference
can be large, so fewer than the band's ``n_resamples``."""
SPREAD_FOLDS = 5
SPREAD_REPEATS = 5
"""Cross-fitting for the calibration's error: 5 repeats of 5 folds give 25 held-out estimates, enough
to measure a variance to about a third of itself."""
SPREAD_DRAWS = 100
"""Label draws per held-out fold, for its chance spread."""
WOBBLE_RESAMPLES = 25
"""Bootstrap refits of the calibration, for its uncertainty where the window's scores lie."""
SPREAD_MAX_ROWS = 50_000
"""Reference rows the cross-fitting uses at most (a random subset beyond): its cost is per row."""


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
            "calibration_error": _defined(self.calibration_error),
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
    calibration_alpha: float = 0.05,
    random_state: int = 0,
) -> PerformanceEstimate:
    """Estimate a classifier's metrics on unlabelled current scores (see the module docstring).

    Binary: 1-D scores for the positive class, or 2 columns laid out as scikit-learn's
    ``predict_proba`` (column 1 is the positive class and is the one used); labels 0/1; prediction
    ``score >= threshold``. Multiclass: 2-D scores (rows x K >= 3 classes), integer labels 0..K-1,
    prediction ``argmax``.
    """
    ref_scores = _scores(reference_scores, "reference_scores")
    cur_scores = _scores(current_scores, "current_scores")
    if ref_scores.ndim != cur_scores.ndim or ref_scores.shape[1:] != cur_scores.shape[1:]:
        raise StatsShapeMismatch(
            f"current_scores: shape {cur_scores.shape[1:]} per row differs from the reference's "
            f"{ref_scores.shape[1:]}",
            field="current_scores",
        )
    n_classes = 2 if ref_scores.ndim == 1 else ref_scores.shape[1]
    ref_labels = _labels(reference_labels, "reference_labels", len(ref_scores), n_classes)
    for name, level in (("confidence", confidence), ("calibration_alpha", calibration_alpha)):
        if not 0.0 < level < 1.0:
            raise StatsOutOfRange(f"{name} must be within (0, 1), got {level}", field=name, limit="(0, 1)")
    if not 20 <= n_resamples <= 100_000:
        raise StatsOutOfRange(
            f"n_resamples must be within [20, 100000], got {n_resamples}",
            field="n_resamples",
            limit="[20, 100000]",
        )
    if len(cur_scores) == 0:
        raise StatsNotEnoughData(
            "current_scores: needs at least one row, got 0", field="current_scores", limit="at least 1 row"
        )
    if len(np.unique(ref_labels)) < 2:
        raise StatsNotEnoughData(
            "reference_labels: calibration needs at least two classes present",
            field="reference_labels",
            limit="at least 2 classes",
        )
    scores_by_class = _one_vs_rest(ref_scores, n_classes)
    current_by_class = _one_vs_rest(cur_scores, n_classes)
    reference = _reference_key(scores_by_class, ref_labels)
    fitted = _kept("curves", reference, (), lambda: _curves(scores_by_class, ref_labels))
    probabilities = _apply_curves(fitted, current_by_class)
    predicted = _predictions(cur_scores, n_classes, threshold)
    rng = np.random.default_rng(random_state)
    expected = _metrics_from_probabilities(probabilities, predicted, current_by_class)
    simulated, null_errors = _simulate(
        probabilities, predicted, current_by_class, n_resamples, rng, errors=current_labels is not None
    )
    realized = None
    labels = np.zeros(0, dtype=np.int64)
    if current_labels is not None:
        labels = _labels(current_labels, "current_labels", len(cur_scores), n_classes)
        ranks = _class_ranks(current_by_class, n_classes)
        realized = _metrics_from_labels(labels[None, :], predicted, ranks, n_classes)
    tail = (1.0 - confidence) / 2.0
    z = float(scipy_stats.norm.ppf(1 - tail))
    reference_predicted = _predictions(ref_scores, n_classes, threshold)
    tau = _cached_spread(
        reference, scores_by_class, ref_labels, reference_predicted, (threshold, random_state)
    )
    wobble = _calibration_wobble(
        reference, scores_by_class, ref_labels, current_by_class, predicted, random_state
    )
    tau = {name: float(np.sqrt(np.nansum([tau[name] ** 2, wobble[name] ** 2]))) for name in METRICS}
    metrics = {}
    for name in METRICS:
        values = simulated[name][np.isfinite(simulated[name])]
        centre = expected[name]
        lower, upper = math.nan, math.nan
        if values.size and math.isfinite(centre):
            lower, upper = float(np.quantile(values, tail)), float(np.quantile(values, 1 - tail))
            widening = (z * tau[name]) ** 2 if math.isfinite(tau[name]) else 0.0
            lower = max(0.0, centre - math.sqrt(max(centre - lower, 0.0) ** 2 + widening))
            upper = min(1.0, centre + math.sqrt(max(upper - centre, 0.0) ** 2 + widening))
        real = None if realized is None else _defined(float(realized[name][0]))
        metrics[name] = MetricEstimate(_defined(centre), _defined(lower), _defined(upper), real)
    options = (n_resamples, calibration_alpha, max_calibration_error, random_state)
    calibration_error, reference_limit = _kept(
        "reference_calibration",
        reference,
        options,
        lambda: _reference_calibration(scores_by_class, ref_labels, *options),
    )
    warnings = _warnings(calibration_error, reference_limit, ref_scores, cur_scores)
    undefined = sorted(name for name, m in metrics.items() if m.value is None or m.lower is None)
    if undefined:
        warnings.append(f"{undefined} are undefined for this window (e.g. no predicted positives)")
    if current_labels is not None:
        shifted = _calibration_shift(probabilities, labels)
        limit = max(float(np.quantile(null_errors, 1 - calibration_alpha)), max_calibration_error)
        if shifted > limit:
            warnings.append(
                f"calibration error on the labelled window is {shifted:.3f}, above {limit:.3f} (what "
                f"label noise alone exceeds with probability {calibration_alpha}, or "
                "max_calibration_error): P(label | score) has changed since the reference (concept "
                "drift), so label-free estimates are biased"
            )
    return PerformanceEstimate(
        metrics, len(cur_scores), n_classes, calibration_error, not warnings, tuple(warnings)
    )


def _predictions(scores: FloatArray, n_classes: int, threshold: float) -> IntArray:
    if n_classes == 2:
        return np.asarray(scores >= threshold, dtype=np.int64)
    return np.asarray(np.argmax(scores, axis=1), dtype=np.int64)


_KEPT: OrderedDict[bytes, Any] = OrderedDict()
_KEPT_ENTRIES = 64
_KEPT_LOCK = threading.Lock()
_COMPUTING: dict[bytes, threading.Lock] = {}  # a lock for each key being computed


def _reference_key(*arrays: Any) -> bytes:
    """A digest of the reference's arrays: what `_kept` files its work under (taken once a call:
    hashing a large reference costs more than some of the work it keeps)."""
    digest = hashlib.blake2b(digest_size=16)
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
        digest.update(str(np.shape(array)).encode())
    return digest.digest()


def _kept(what: str, reference: bytes, options: tuple[Any, ...], compute: Any) -> Any:
    """`compute()`, kept for the next windows judged against the same reference (a monitor asks
    window after window): keyed by `what`, the reference's digest (`_reference_key`) and the
    options. Everything kept depends on the reference alone, never on a window."""
    key = b"%b|%b|%b" % (what.encode(), reference, repr(options).encode())
    with _KEPT_LOCK:
        if key in _KEPT:
            _KEPT.move_to_end(key)
            return _KEPT[key]
        computing = _COMPUTING.setdefault(key, threading.Lock())
    # One thread computes; another asking for the same (a monitor's windows are judged a few at
    # once) waits for it rather than doing the same seconds of work beside it.
    with computing:
        with _KEPT_LOCK:
            if key in _KEPT:
                return _KEPT[key]
        found = compute()
        with _KEPT_LOCK:
            _KEPT[key] = found
            _COMPUTING.pop(key, None)
            while len(_KEPT) > _KEPT_ENTRIES:
                _KEPT.popitem(last=False)
    return found


def _cached_spread(
    reference: bytes,
    scores: FloatArray,
    labels: IntArray,
    predicted: IntArray,
    options: tuple[float, int],
) -> dict[str, float]:
    """`_calibration_spread` of a reference, kept (`_kept`); `options` are the threshold that
    made `predicted` from `scores`, and the random state."""

    def compute() -> dict[str, float]:
        return _calibration_spread(scores, labels, predicted, np.random.default_rng(options[1]))

    found: dict[str, float] = _kept("spread", reference, options, compute)
    return found


def _calibration_spread(
    scores: FloatArray, labels: IntArray, predicted: IntArray, rng: np.random.Generator
) -> dict[str, float]:
    """The calibration's error variance per metric, as a standard deviation (``tau``; see the
    module docstring): over repeated folds of the reference, the mean squared difference between
    a fold's realised metric and its label-free estimate (calibrated on the other folds), less
    the mean chance variance of the folds. NaN where no fold could be estimated."""
    rows = len(labels)
    if rows > SPREAD_MAX_ROWS:
        keep = rng.choice(rows, SPREAD_MAX_ROWS, replace=False)
        scores, labels, predicted, rows = scores[keep], labels[keep], predicted[keep], SPREAD_MAX_ROWS
    n_classes = scores.shape[1]
    squared: dict[str, list[float]] = {name: [] for name in METRICS}
    chance: dict[str, list[float]] = {name: [] for name in METRICS}
    for _ in range(SPREAD_REPEATS):
        fold_of = rng.permutation(rows) % SPREAD_FOLDS
        for fold in range(SPREAD_FOLDS):
            held, fit = fold_of == fold, fold_of != fold
            if len(np.unique(labels[fit])) < 2 or held.sum() < 2:
                continue
            probabilities = _calibrated(scores[fit], labels[fit], scores[held])
            estimate = _metrics_from_probabilities(probabilities, predicted[held], scores[held])
            ranks = _class_ranks(scores[held], n_classes)
            realised = _metrics_from_labels(labels[held][None, :], predicted[held], ranks, n_classes)
            draws, _errors = _simulate(
                probabilities, predicted[held], scores[held], SPREAD_DRAWS, rng, errors=False
            )
            for name in METRICS:
                value, truth = estimate[name], float(realised[name][0])
                spread = draws[name][np.isfinite(draws[name])]
                if math.isfinite(value) and math.isfinite(truth) and spread.size > 1:
                    squared[name].append((truth - value) ** 2)
                    chance[name].append(float(np.var(spread)))
    return {
        name: math.sqrt(max(float(np.mean(squared[name]) - np.mean(chance[name])), 0.0))
        if squared[name]
        else math.nan
        for name in METRICS
    }


def _calibration_wobble(
    reference: bytes,
    scores: FloatArray,
    labels: IntArray,
    current: FloatArray,
    predicted: IntArray,
    random_state: int,
) -> dict[str, float]:
    """How much the estimate on *this* window moves when the calibration is fitted on bootstrap
    resamples of the reference: the calibration's uncertainty where this window's scores lie (a
    shifted window may sit where the reference is thin), as a standard deviation per metric. The
    resamples' calibrations depend on the reference alone: fitted once, kept (`_kept`)."""
    found: dict[str, list[float]] = {name: [] for name in METRICS}
    for curves in _bootstrap_curves(reference, scores, labels, random_state):
        probabilities = _apply_curves(curves, current)
        for name, value in _metrics_from_probabilities(probabilities, predicted, current).items():
            if math.isfinite(value):
                found[name].append(value)
    return {name: float(np.std(values)) if len(values) > 1 else math.nan for name, values in found.items()}


Curves = list[tuple[FloatArray, FloatArray]]


def _bootstrap_curves(
    reference: bytes, scores: FloatArray, labels: IntArray, random_state: int
) -> list[Curves]:
    """The calibration refitted on `WOBBLE_RESAMPLES` bootstrap resamples of the reference, each
    as counts of the reference's rows (a resample is a multinomial draw of them): the distinct
    scores are found once, each refit is two weighted sums and a pool-adjacent-violators pass."""

    def compute() -> list[Curves]:
        rng = np.random.default_rng([random_state, 1])
        rows = len(labels)
        groups = [np.unique(scores[:, k], return_inverse=True) for k in range(scores.shape[1])]
        made = []
        for _ in range(WOBBLE_RESAMPLES):
            counts = np.bincount(rng.integers(0, rows, rows), minlength=rows).astype(np.float64)
            if len(np.unique(labels[counts > 0])) < 2:
                continue
            curves = []
            for k, (distinct, inverse) in enumerate(groups):
                weight = np.bincount(inverse, weights=counts, minlength=len(distinct)).astype(np.float64)
                hits = np.bincount(inverse, weights=counts * (labels == k), minlength=len(distinct))
                curves.append(
                    _grouped_curve(np.asarray(distinct, dtype=np.float64), weight, hits.astype(np.float64))
                )
            made.append(curves)
        return made

    found: list[Curves] = _kept("wobble", reference, (random_state, WOBBLE_RESAMPLES), compute)
    return found


def _defined(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def _calibration_shift(probabilities: FloatArray, labels: IntArray) -> float:
    """Expected calibration error of the reference calibration on a labelled window."""
    return float(_calibration_errors(probabilities, labels[None, :])[0])


def _calibration_errors(probabilities: FloatArray, labels: IntArray) -> FloatArray:
    """Binned expected calibration error of the top-class confidence, one per row of ``labels``."""
    confidence = probabilities.max(axis=1)
    bins = np.minimum((confidence * CALIBRATION_BINS).astype(np.int64), CALIBRATION_BINS - 1)
    expected = np.bincount(bins, weights=confidence, minlength=CALIBRATION_BINS)
    correct = labels == probabilities.argmax(axis=1)[None, :]
    draws = labels.shape[0]
    index = (np.arange(draws)[:, None] * CALIBRATION_BINS + bins[None, :])[correct]
    observed = np.bincount(index, minlength=draws * CALIBRATION_BINS).reshape(draws, CALIBRATION_BINS)
    gaps = np.abs(observed - expected[None, :])
    return np.asarray(gaps.sum(axis=1) / max(len(confidence), 1), dtype=np.float64)


def _draw_labels(probabilities: FloatArray, draws: int, rng: np.random.Generator) -> IntArray:
    cumulative = np.cumsum(probabilities, axis=1)
    uniform = rng.random((draws, len(probabilities)))
    if probabilities.shape[1] == 2:
        # The general rule below, for two classes: a label is 1 where the draw passes P(class 0).
        return np.asarray(uniform > cumulative[None, :, 0], dtype=np.int64)
    labels = (uniform[:, :, None] > cumulative[None, :, :]).sum(axis=2)
    return np.asarray(np.minimum(labels, probabilities.shape[1] - 1), dtype=np.int64)


def _chunks(total: int, rows: int, classes: int) -> list[int]:
    """Draw counts per chunk so that each chunk holds at most ``CHUNK_CELLS`` row-draw-classes."""
    size = max(1, CHUNK_CELLS // max(rows * classes, 1))
    return [min(size, total - start) for start in range(0, total, size)]


def _simulate(
    probabilities: FloatArray,
    predicted: IntArray,
    scores: FloatArray,
    n_resamples: int,
    rng: np.random.Generator,
    *,
    errors: bool = True,
) -> tuple[dict[str, FloatArray], FloatArray]:
    """Metrics and (if `errors`) calibration errors on ``n_resamples`` label vectors drawn from
    ``probabilities``; without them the second array is empty."""
    n_classes = probabilities.shape[1]
    ranks = _class_ranks(scores, n_classes)
    parts: dict[str, list[FloatArray]] = {name: [] for name in METRICS}
    found = [np.zeros(0)]
    for draws in _chunks(n_resamples, len(predicted), n_classes):
        labels = _draw_labels(probabilities, draws, rng)
        for name, values in _metrics_from_labels(labels, predicted, ranks, n_classes).items():
            parts[name].append(values)
        if errors:
            found.append(_calibration_errors(probabilities, labels))
    return {name: np.concatenate(values) for name, values in parts.items()}, np.concatenate(found)


def _reference_calibration(
    scores: FloatArray,
    labels: IntArray,
    n_resamples: int,
    alpha: float,
    floor: float,
    random_state: int,
) -> tuple[float, float]:
    """Cross-fitted calibration error on the reference and the limit it is judged against.

    Each random half is calibrated on the other; the limit is the larger of ``floor`` and the
    ``1 - alpha`` quantile of the same error on labels drawn from the cross-fitted probabilities.
    NaN (never a verdict of "fine") when a half holds a single class.
    """
    rng = np.random.default_rng(random_state)
    half = rng.random(len(labels)) < 0.5
    if half.all() or not half.any():
        return math.nan, floor
    probabilities = np.empty((len(labels), scores.shape[1]))
    for fit_mask in (half, ~half):
        if len(np.unique(labels[fit_mask])) < 2:
            return math.nan, floor
        probabilities[~fit_mask] = _calibrated(scores[fit_mask], labels[fit_mask], scores[~fit_mask])
    observed = _calibration_shift(probabilities, labels)
    null = np.concatenate(
        [
            _calibration_errors(probabilities, _draw_labels(probabilities, draws, rng))
            for draws in _chunks(min(n_resamples, REFERENCE_NULL_DRAWS), len(labels), scores.shape[1])
        ]
    )
    return observed, max(float(np.quantile(null, 1 - alpha)), floor)


def _scores(values: Any, field_name: str) -> FloatArray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise StatsUnreadableValues(f"{field_name}: scores must be numbers", field=field_name) from None
    if array.ndim not in (1, 2):
        raise StatsShapeMismatch(
            f"{field_name}: expected 1-D or 2-D scores, got shape {array.shape}", field=field_name
        )
    if array.ndim == 2 and array.shape[1] == 0:
        raise StatsShapeMismatch(
            f"{field_name}: expected at least one score column, got shape {array.shape}", field=field_name
        )
    if not np.all(np.isfinite(array)):
        raise StatsUnreadableValues(
            f"{field_name}: scores must be finite; found NaN or infinity", field=field_name
        )
    if array.ndim == 2 and array.shape[1] <= 2:
        # One column, or scikit-learn's binary predict_proba layout: column 1 is the positive class.
        array = array[:, -1]
    return array


def _labels(values: Any, field_name: str, rows: int, n_classes: int) -> IntArray:
    try:
        array = np.asarray(values)
    except ValueError:  # ragged nesting
        raise StatsShapeMismatch(
            f"{field_name}: expected {rows} labels in one dimension", field=field_name
        ) from None
    if array.shape != (rows,):
        raise StatsShapeMismatch(
            f"{field_name}: expected {rows} labels, got shape {array.shape}", field=field_name
        )
    message = f"{field_name}: labels must be integers within [0, {n_classes - 1}]"
    try:
        as_float = array.astype(np.float64)
    except (TypeError, ValueError):
        kinds = sorted({type(value).__name__ for value in array.tolist()[:1000]})
        raise StatsUnreadableValues(f"{message}; got values of types {kinds}", field=field_name) from None
    if not np.all(np.isfinite(as_float)) or np.any(as_float != np.round(as_float)):
        raise StatsUnreadableValues(message, field=field_name)
    if as_float.min(initial=0) < 0 or as_float.max(initial=0) >= n_classes:
        raise StatsOutOfRange(message, field=field_name, limit=f"[0, {n_classes - 1}]")
    return as_float.astype(np.int64)


def _one_vs_rest(scores: FloatArray, n_classes: int) -> FloatArray:
    return np.column_stack((-scores, scores)) if n_classes == 2 and scores.ndim == 1 else scores


def _calibrated(ref_scores: FloatArray, ref_labels: IntArray, cur_scores: FloatArray) -> FloatArray:
    return _apply_curves(_curves(ref_scores, ref_labels), cur_scores)


def _curves(ref_scores: FloatArray, ref_labels: IntArray) -> Curves:
    """One calibration curve per class (one-vs-rest), fitted on the reference."""
    return [
        _calibration_curve(ref_scores[:, k], (ref_labels == k).astype(np.float64))
        for k in range(ref_scores.shape[1])
    ]


def _apply_curves(curves: Curves, cur_scores: FloatArray) -> FloatArray:
    n_classes = len(curves)
    if n_classes == 2:  # the positive class's curve decides; the other's is its complement
        positive = np.interp(cur_scores[:, 1], *curves[1])
        return np.column_stack((1.0 - positive, positive))
    probabilities = np.column_stack([np.interp(cur_scores[:, k], *curves[k]) for k in range(n_classes)])
    totals = probabilities.sum(axis=1, keepdims=True)
    uniform = np.full_like(probabilities, 1.0 / n_classes)
    return np.where(totals > 0, probabilities / np.where(totals > 0, totals, 1.0), uniform)


def _calibration_curve(scores: FloatArray, outcomes: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Isotonic regression of ``outcomes`` (0/1) on ``scores`` with each block's rate shrunk by a
    Jeffreys prior, ``(events + 1/2) / (rows + 1)``, as knots (both ends of every block) for
    ``np.interp``: linear between blocks, flat beyond the ends, like scikit-learn's ``predict``.

    Plain isotonic regression puts probability exactly 0 or 1 on its end blocks (the extreme running
    means of the sorted labels), certainty that a few dozen rows cannot give. The ROC AUC counts every
    pair with a top-scored row, so a window piled up at that end (covariate shift towards where the
    reference is thin) gets its estimate biased upwards and its chance spread understated. The prior
    removes the part due to exact 0 and 1, not isotonic regression's overfitting there in general.
    """
    distinct, inverse = np.unique(scores, return_inverse=True)
    rows = np.bincount(inverse, minlength=len(distinct)).astype(np.float64)
    events = np.bincount(inverse, weights=outcomes, minlength=len(distinct)).astype(np.float64)
    return _grouped_curve(np.asarray(distinct, dtype=np.float64), rows, events)


def _grouped_curve(
    distinct: FloatArray, rows: FloatArray, events: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """`_calibration_curve` from the rows and events at each distinct score (ties pooled first, as
    isotonic regression does); a score with no row (a bootstrap resample's) is left out."""
    from scipy.optimize import isotonic_regression

    kept = rows > 0
    distinct, rows, events = distinct[kept], rows[kept], events[kept]
    fitted = isotonic_regression(events / rows, weights=rows).x
    starts = np.flatnonzero(np.r_[True, np.diff(fitted) != 0])
    block_rows = np.add.reduceat(rows, starts)
    rates = (np.add.reduceat(events, starts) + 0.5) / (block_rows + 1.0)
    # The prior can reorder a tiny block and its neighbour (0/1 -> 0.25 above 1/100 -> 0.015).
    rates = isotonic_regression(rates, weights=block_rows + 1.0).x
    ends = np.r_[starts[1:], len(distinct)] - 1
    knots = np.column_stack((distinct[starts], distinct[ends])).ravel()
    return knots, np.repeat(rates, 2)


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


def _class_ranks(scores: FloatArray, n_classes: int) -> dict[int, FloatArray]:
    return {k: scipy_stats.rankdata(scores[:, k]) for k in _auc_classes(n_classes)}


def _metrics_from_labels(
    labels: IntArray, predicted: IntArray, ranks: dict[int, FloatArray], n_classes: int
) -> dict[str, FloatArray]:
    if n_classes == 2:
        return _binary_metrics_from_labels(labels, predicted, ranks[1])
    draws = labels.shape[0]
    index = (np.arange(draws)[:, None] * n_classes + labels) * n_classes + predicted[None, :]
    confusion = np.bincount(index.ravel(), minlength=draws * n_classes * n_classes).reshape(
        draws, n_classes, n_classes
    )
    result = _from_confusion(confusion.astype(np.float64))
    aucs = []
    for k in _auc_classes(n_classes):
        positives = (labels == k).sum(axis=1).astype(np.float64)
        negatives = labels.shape[1] - positives
        rank_sum = (labels == k).astype(np.float64) @ ranks[k]
        with np.errstate(divide="ignore", invalid="ignore"):
            aucs.append((rank_sum - positives * (positives + 1) / 2) / (positives * negatives))
    result["roc_auc"] = np.mean(np.vstack(aucs), axis=0)
    return result


def _binary_metrics_from_labels(
    labels: IntArray, predicted: IntArray, ranks: FloatArray
) -> dict[str, FloatArray]:
    """`_metrics_from_labels` for two classes, from three products per draw instead of a confusion
    matrix counted cell by cell: true positives, positives and their rank sum (exact counts:
    float64 holds integers to 2**53)."""
    rows = labels.shape[1]
    drawn = labels.astype(np.float64)
    hits = drawn @ predicted.astype(np.float64)
    positives = drawn.sum(axis=1)
    rank_sum = drawn @ ranks
    predicted_positives = float(predicted.sum())
    negatives = rows - positives
    with np.errstate(divide="ignore", invalid="ignore"):
        found = {
            "accuracy": (rows - positives - predicted_positives + 2 * hits) / rows,
            "precision": hits / predicted_positives if predicted_positives else np.full(len(hits), np.nan),
            "recall": hits / positives,
            "f1": 2 * hits / (predicted_positives + positives),
            "roc_auc": (rank_sum - positives * (positives + 1) / 2) / (positives * negatives),
        }
    return found


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


def _warnings(error: float, limit: float, ref_scores: FloatArray, cur_scores: FloatArray) -> list[str]:
    warnings = []
    if not math.isfinite(error):
        warnings.append("calibration on the reference could not be checked: a random half has one class")
    elif error > limit:
        warnings.append(
            f"calibration error on the reference is {error:.3f}, above {limit:.3f} (what label noise "
            "alone exceeds rarely, or max_calibration_error)"
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

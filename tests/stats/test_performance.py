from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from plimsoll import stats
from plimsoll.stats import PlimsollStatsError


def _calibrated_binary(
    rng: np.random.Generator, size: int, shift: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    features = rng.normal(shift, 1.0, size)
    probability = 1 / (1 + np.exp(-2 * features))
    labels = (rng.random(size) < probability).astype(int)
    scores = np.clip(probability + rng.normal(0, 0.02, size), 0, 1)  # a slightly noisy, monotone-ish score
    return scores, labels


def test_binary_estimates_track_realised_metrics_under_covariate_shift() -> None:
    rng = np.random.default_rng(0)
    ref_scores, ref_labels = _calibrated_binary(rng, 5000)
    inside = 0
    checks = 0
    for shift in (-0.8, -0.3, 0.0, 0.4, 0.9):
        scores, labels = _calibrated_binary(rng, 2000, shift)
        estimate = stats.estimate_performance(ref_scores, ref_labels, scores, current_labels=labels)
        assert estimate.reliable, estimate.warnings
        for name, metric in estimate.metrics.items():
            assert metric.value is not None and metric.realized is not None
            assert metric.lower is not None and metric.upper is not None
            assert abs(metric.value - metric.realized) < 0.05, (shift, name)
            inside += metric.lower <= metric.realized <= metric.upper
            checks += 1
    assert inside / checks >= 0.8


def test_multiclass_estimates_track_realised_metrics() -> None:
    rng = np.random.default_rng(1)

    def draw(size: int, prior: list[float]) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.choice(3, size=size, p=prior)
        logits = rng.normal(size=(size, 3)) + 1.5 * np.eye(3)[labels]
        return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True), labels

    ref_scores, ref_labels = draw(6000, [1 / 3, 1 / 3, 1 / 3])
    scores, labels = draw(3000, [0.5, 0.3, 0.2])
    estimate = stats.estimate_performance(ref_scores, ref_labels, scores, current_labels=labels)
    assert estimate.n_classes == 3
    for name in ("accuracy", "f1", "roc_auc"):
        metric = estimate.metrics[name]
        assert metric.value is not None and metric.realized is not None
        assert abs(metric.value - metric.realized) < 0.05, name


def test_housing_roc_auc_estimate_tracks_the_realised_one(housing: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, analysis = housing
    estimated, realised = [], []
    for start in range(0, len(analysis), 1000):
        chunk = analysis.iloc[start : start + 1000]
        estimate = stats.estimate_performance(
            reference["y_pred_proba"],
            reference["clf_target"],
            chunk["y_pred_proba"],
            current_labels=chunk["clf_target"],
            threshold=0.8,  # the model's y_pred is y_pred_proba >= 0.8
        )
        auc = estimate.metrics["roc_auc"]
        assert auc.value is not None and auc.realized is not None
        estimated.append(auc.value)
        realised.append(auc.realized)
    errors = np.abs(np.array(estimated) - np.array(realised))
    assert errors.mean() < 0.04 and errors.max() < 0.08
    assert scipy_stats.pearsonr(estimated, realised).statistic > 0.7


def test_housing_label_shift_is_reported_when_labels_arrive(
    housing: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reference, analysis = housing
    chunk = analysis.iloc[2000:3000]  # 57 % positives where the reference calibration expects 33 %
    estimate = stats.estimate_performance(
        reference["y_pred_proba"],
        reference["clf_target"],
        chunk["y_pred_proba"],
        current_labels=chunk["clf_target"],
        threshold=0.8,
    )
    assert not estimate.reliable
    assert any("concept drift" in warning for warning in estimate.warnings)


def test_poor_calibration_marks_the_estimate_unreliable() -> None:
    rng = np.random.default_rng(2)
    scores = rng.random(3000)
    labels = (rng.random(3000) < 0.5).astype(int)  # scores carry no information: calibration is flat
    noisy = stats.estimate_performance(scores, labels, rng.random(30))
    assert not noisy.reliable and any("fewer than 50" in w for w in noisy.warnings)
    outside = stats.estimate_performance(scores * 0.5, labels, rng.random(500))
    assert any("outside the reference score range" in w for w in outside.warnings)


def test_bad_performance_input_is_refused_clearly() -> None:
    with pytest.raises(PlimsollStatsError, match=r"reference_labels: expected 3 labels"):
        stats.estimate_performance([0.1, 0.2, 0.3], [0, 1], [0.5])
    with pytest.raises(PlimsollStatsError, match=r"labels must be integers within \[0, 1\]"):
        stats.estimate_performance([0.1, 0.2, 0.3], [0, 1, 2], [0.5])
    with pytest.raises(PlimsollStatsError, match="NaN or infinity"):
        stats.estimate_performance([0.1, np.nan], [0, 1], [0.5])
    with pytest.raises(PlimsollStatsError, match="at least two classes"):
        stats.estimate_performance([0.1, 0.2], [1, 1], [0.5])
    with pytest.raises(PlimsollStatsError, match="needs at least one row"):
        stats.estimate_performance([0.1, 0.2], [0, 1], [])


def _perfect(rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    scores = rng.random(size)
    return scores, (rng.random(size) < scores).astype(int)


def test_calibrated_windows_do_not_report_concept_drift_beyond_the_nominal_rate() -> None:
    # The binned calibration error of 100 perfectly calibrated rows is ~0.1 from label noise alone; a
    # fixed 0.05 limit called that concept drift in 78 % of windows. Tolerance: 99.9 % binomial cut.
    rng = np.random.default_rng(5)
    ref_scores, ref_labels = _perfect(rng, 5000)
    for size, runs in ((100, 120), (300, 80)):
        fired = 0
        for _ in range(runs):
            scores, labels = _perfect(rng, size)
            estimate = stats.estimate_performance(
                ref_scores, ref_labels, scores, current_labels=labels, n_resamples=200
            )
            fired += any("concept drift" in w for w in estimate.warnings)
            assert not any("calibration error on the reference" in w for w in estimate.warnings)
        assert fired / runs <= scipy_stats.binom.ppf(0.999, runs, 0.05) / runs, (size, fired)


def test_bands_cover_realised_metrics_at_near_nominal_rate() -> None:
    # 40 windows x 5 metrics of a 95 % band: binomial sd of the pooled share is sqrt(.95 * .05 / 200)
    # = 1.5 points; 3 sd (plus the reference's own calibration error) gives the 0.90 floor.
    rng = np.random.default_rng(6)
    ref_scores, ref_labels = _calibrated_binary(rng, 8000)
    inside = checks = 0
    for _ in range(40):
        scores, labels = _calibrated_binary(rng, 500, float(rng.uniform(-0.8, 0.8)))
        estimate = stats.estimate_performance(ref_scores, ref_labels, scores, current_labels=labels)
        for metric in estimate.metrics.values():
            assert metric.lower is not None and metric.upper is not None and metric.realized is not None
            inside += metric.lower <= metric.realized <= metric.upper
            checks += 1
    assert inside / checks >= 0.90, inside / checks


def test_multiclass_bands_cover_realised_metrics_at_near_nominal_rate() -> None:
    rng = np.random.default_rng(7)

    def draw(size: int) -> tuple[np.ndarray, np.ndarray]:
        logits = rng.normal(size=(size, 3)) * 1.5
        probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        labels = (rng.random(size)[:, None] > np.cumsum(probabilities, axis=1)).sum(axis=1)
        return probabilities, np.minimum(labels, 2)

    ref_scores, ref_labels = draw(8000)
    inside = checks = 0
    for _ in range(30):
        scores, labels = draw(600)
        estimate = stats.estimate_performance(ref_scores, ref_labels, scores, current_labels=labels)
        for metric in estimate.metrics.values():
            assert metric.lower is not None and metric.upper is not None and metric.realized is not None
            inside += metric.lower <= metric.realized <= metric.upper
            checks += 1
    assert inside / checks >= 0.88, inside / checks  # 150 checks: sd 1.8 points, 3 sd + calibration


def test_two_column_binary_scores_use_the_positive_column() -> None:
    rng = np.random.default_rng(8)
    ref_scores, ref_labels = _calibrated_binary(rng, 2000)
    scores, _ = _calibrated_binary(rng, 500)
    one = stats.estimate_performance(ref_scores, ref_labels, scores)
    two = stats.estimate_performance(
        np.column_stack((1 - ref_scores, ref_scores)), ref_labels, np.column_stack((1 - scores, scores))
    )
    assert two.n_classes == 2 and two.to_dict() == one.to_dict()
    with pytest.raises(PlimsollStatsError, match="current_scores: expected at least one score column"):
        stats.estimate_performance(ref_scores, ref_labels, np.zeros((5, 0)))


def test_simulation_memory_is_bounded_and_chunks_do_not_change_the_band() -> None:
    import tracemalloc

    rng = np.random.default_rng(9)
    ref_scores, ref_labels = _calibrated_binary(rng, 2000)
    scores, _ = _calibrated_binary(rng, 40_000)
    tracemalloc.start()
    estimate = stats.estimate_performance(ref_scores, ref_labels, scores)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 100e6, peak  # one draw of 500 x 40,000 doubles alone would be 160 MB
    small, _ = _calibrated_binary(rng, 300)
    from plimsoll.stats import performance

    whole = stats.estimate_performance(ref_scores, ref_labels, small).to_dict()
    original = performance.CHUNK_CELLS
    try:
        performance.CHUNK_CELLS = 7 * 300 * 2  # chunks of 7 draws
        assert stats.estimate_performance(ref_scores, ref_labels, small).to_dict() == whole
    finally:
        performance.CHUNK_CELLS = original
    assert estimate.metrics["accuracy"].lower is not None


def test_performance_outputs_hold_no_nan_and_bad_labels_are_named() -> None:
    import json

    labels = np.zeros(200, dtype=int)
    labels[0] = 1  # one positive: a random half has a single class, so calibration cannot be checked
    scores = np.linspace(0, 1, 200)
    estimate = stats.estimate_performance(scores, labels, scores[:100])
    json.dumps(estimate.to_dict(), allow_nan=False)
    assert estimate.to_dict()["calibration_error"] is None and not estimate.reliable
    with pytest.raises(PlimsollStatsError, match="reference_labels: labels must be integers"):
        stats.estimate_performance([0.1, 0.9], ["no", "yes"], [0.5])
    with pytest.raises(PlimsollStatsError, match="current_labels: labels must be integers"):
        stats.estimate_performance([0.1, 0.9], [0, 1], [0.5], current_labels=[np.nan])


def test_two_class_draws_are_counted_as_the_confusion_matrix_counts_them() -> None:
    """The two-class shortcut (three products per draw) gives the confusion matrix's numbers,
    undefined ones included (no predicted positives; a draw with one class only)."""
    from plimsoll.stats import performance as perf

    rng = np.random.default_rng(3)
    for rows, predict_none in ((50, True), (5_000, False)):
        scores = rng.random(rows)
        by_class = np.column_stack((1 - scores, scores))
        labels = (rng.random((40, rows)) < scores).astype(np.int64)
        labels[0], labels[1] = 0, 1
        predicted = np.zeros(rows, np.int64) if predict_none else (scores >= 0.5).astype(np.int64)
        ranks = perf._class_ranks(by_class, 2)
        quick = perf._binary_metrics_from_labels(labels, predicted, ranks[1])
        index = (np.arange(40)[:, None] * 2 + labels) * 2 + predicted[None, :]
        confusion = np.bincount(index.ravel(), minlength=160).reshape(40, 2, 2).astype(np.float64)
        counted = perf._from_confusion(confusion)
        positives = labels.sum(axis=1).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            counted["roc_auc"] = (labels @ ranks[1] - positives * (positives + 1) / 2) / (
                positives * (rows - positives)
            )
        for name, values in counted.items():
            np.testing.assert_allclose(quick[name], values, rtol=1e-12, equal_nan=True, err_msg=name)


def test_reference_work_asked_by_two_windows_at_once_is_done_once() -> None:
    """A monitor judges a few windows at once against one reference: the reference-only work
    they all need is computed by one of them while the others wait for it."""
    import threading
    import time

    from plimsoll.stats import performance as perf

    calls: list[int] = []

    def compute() -> str:
        calls.append(1)
        time.sleep(0.2)
        return "kept"

    key = perf._reference_key(np.arange(10.0), np.arange(10))
    found: list[str] = []
    threads = [
        threading.Thread(target=lambda: found.append(perf._kept("test-once", key, (), compute)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == ["kept"] * 3 and len(calls) == 1

"""The evaluation kernels hold to scikit-learn's and Fairlearn's definitions within 1e-9 on
generated data (whole table, slices, ties, tiny groups), the bootstrap is seeded and covers the
point where there is something to cover, small groups are reported and not used, and bad input is
refused naming the argument."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from plimsoll.core.errors import InvalidParameter
from plimsoll.evaluation import metrics as kernels
from plimsoll.evaluation.compute import evaluate_arrays, labels_digest

TOLERANCE = 1e-9


def binary(n: int, seed: int, *, ties: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    score = np.clip(0.35 * y + 0.65 * rng.random(n), 0, 1)
    if ties:
        score = np.round(score, 2)  # many equal scores: thresholds shared across labels
    group = rng.choice(np.array(["a", "b", "c", "d"]), n, p=[0.4, 0.3, 0.25, 0.05])
    return y, score, group


def sklearn_metrics(y: np.ndarray, score: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    prob_true, prob_pred = calibration_curve(y, score, n_bins=10)
    bins = np.searchsorted(np.linspace(0, 1, 11)[1:-1], score)
    counts = np.bincount(bins, minlength=10)
    weights = counts[counts > 0] / len(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero_division in a tiny slice
        return {
            "accuracy": skm.accuracy_score(y, pred),
            "precision": skm.precision_score(y, pred, zero_division=np.nan),
            "recall": skm.recall_score(y, pred, zero_division=np.nan),
            "f1": skm.f1_score(y, pred, zero_division=np.nan),
            "roc_auc": skm.roc_auc_score(y, score),
            "pr_auc": skm.average_precision_score(y, score),
            "log_loss": skm.log_loss(y, score, labels=[0, 1]),
            "brier_score": skm.brier_score_loss(y, score, labels=[0, 1]),
            "expected_calibration_error": float(np.sum(weights * np.abs(prob_true - prob_pred))),
        }


def close(ours: float | None, theirs: float) -> bool:
    if ours is None:
        return math.isnan(theirs)
    return abs(ours - theirs) <= TOLERANCE


@pytest.mark.parametrize("ties", [False, True])
def test_classification_metrics_equal_sklearn_on_the_table_and_every_slice(ties: bool) -> None:
    y, score, group = binary(20_000, seed=3, ties=ties)
    found = evaluate_arrays("classification", y, y_score=score, slices={"group": group})
    pred = (score >= 0.5).astype(int)
    expected = sklearn_metrics(y, score, pred)
    assert set(found.metrics) == set(expected)
    for name, value in expected.items():
        assert close(found.metrics[name], value), (name, found.metrics[name], value)
    for value, sliced in found.slices["group"].items():
        mask = group == value
        assert sliced.rows == int(mask.sum())
        for name, theirs in sklearn_metrics(y[mask], score[mask], pred[mask]).items():
            assert close(sliced.metrics[name], theirs), (value, name, sliced.metrics[name], theirs)


def test_curves_are_sklearns_downsampled_with_the_calibration_and_confusion_matrix() -> None:
    y, score, _ = binary(5_000, seed=4, ties=True)
    curves = evaluate_arrays("classification", y, y_score=score).curves
    assert curves is not None
    fpr, tpr, _ = skm.roc_curve(y, score, drop_intermediate=False)
    ours = np.array([[p[0], p[1]] for p in curves.roc])
    assert len(curves.roc) <= 200 and curves.roc[0] == (0.0, 0.0, None) and curves.roc[-1][:2] == (1.0, 1.0)
    # every point kept is a point of scikit-learn's curve
    theirs = {(round(a, 12), round(b, 12)) for a, b in zip(fpr, tpr, strict=True)}
    assert all((round(a, 12), round(b, 12)) in theirs for a, b in ours)
    precision, recall, _ = skm.precision_recall_curve(y, score, drop_intermediate=False)
    theirs = {(round(r, 12), round(p, 12)) for r, p in zip(recall, precision, strict=True)}
    assert all((round(p[0], 12), round(p[1], 12)) in theirs for p in curves.pr)
    prob_true, prob_pred = calibration_curve(y, score, n_bins=10)
    filled = [b for b in curves.calibration if b[2]]
    assert np.allclose([b[4] for b in filled], prob_true, atol=TOLERANCE, rtol=0)
    assert np.allclose([b[3] for b in filled], prob_pred, atol=TOLERANCE, rtol=0)
    assert np.array_equal(np.array(curves.confusion), skm.confusion_matrix(y, (score >= 0.5).astype(int)))
    assert curves.labels == ("0", "1")


def test_given_predictions_and_labels_that_are_not_0_and_1() -> None:
    y, score, _ = binary(3_000, seed=5)
    words = np.where(y == 1, "churned", "stayed")
    pred = np.where(score > 0.6, "churned", "stayed")
    found = evaluate_arrays("classification", words, y_pred=pred, y_score=score, pos_label="churned")
    assert close(found.metrics["precision"], skm.precision_score(words, pred, pos_label="churned"))
    assert close(found.metrics["roc_auc"], skm.roc_auc_score(y, score))
    assert found.curves is not None and found.curves.labels == ("stayed", "churned")
    labels_only = evaluate_arrays("classification", y, y_pred=(score > 0.6).astype(int))
    assert set(labels_only.metrics) == {"accuracy", "precision", "recall", "f1"}


def test_regression_metrics_equal_sklearn_on_the_table_and_every_slice() -> None:
    rng = np.random.default_rng(6)
    n = 10_000
    y = rng.normal(10, 3, n)
    pred = y + rng.normal(0, 1, n)
    region = rng.choice(np.array(["n", "s", "e"]), n)
    found = evaluate_arrays("regression", y, y_pred=pred, slices={"region": region})

    def expected(truth: np.ndarray, guess: np.ndarray) -> dict[str, float]:
        return {
            "mae": skm.mean_absolute_error(truth, guess),
            "rmse": skm.root_mean_squared_error(truth, guess),
            "r2": skm.r2_score(truth, guess),
            "mape": skm.mean_absolute_percentage_error(truth, guess),
        }

    for name, value in expected(y, pred).items():
        assert close(found.metrics[name], value), name
    for value, sliced in found.slices["region"].items():
        mask = region == value
        for name, theirs in expected(y[mask], pred[mask]).items():
            assert close(sliced.metrics[name], theirs), (value, name)
    assert found.curves is None and found.fairness == {}


def test_fairness_equals_fairlearn_and_small_groups_are_reported_not_used() -> None:
    y, score, group = binary(40_000, seed=7)
    group = group.astype(object)
    group[:12] = "tiny"  # 12 rows: under the minimum
    pred = (score >= 0.5).astype(int)
    found = evaluate_arrays("classification", y, y_score=score, sensitive={"group": group}, min_group_size=30)
    fairness = found.fairness["group"]
    assert fairness.small_groups == ["tiny"] and fairness.groups["tiny"].rows == 12
    assert "tiny" in (fairness.note or "")
    frame = MetricFrame(
        metrics={"s": selection_rate, "t": true_positive_rate, "f": false_positive_rate},
        y_true=y,
        y_pred=pred,
        sensitive_features=group,
    )
    for value, group_found in fairness.groups.items():
        assert close(group_found.metrics["selection_rate"].value, frame.by_group.loc[value, "s"])
        assert close(group_found.metrics["true_positive_rate"].value, frame.by_group.loc[value, "t"])
        assert close(group_found.metrics["false_positive_rate"].value, frame.by_group.loc[value, "f"])
    used = group != "tiny"
    arguments = (y[used], pred[used])
    expected = {
        "demographic_parity_difference": demographic_parity_difference(
            *arguments, sensitive_features=group[used]
        ),
        "demographic_parity_ratio": demographic_parity_ratio(*arguments, sensitive_features=group[used]),
        "equalized_odds_difference": equalized_odds_difference(*arguments, sensitive_features=group[used]),
    }
    for name, value in expected.items():
        assert close(fairness.metrics[name].value, value), name
    # the kernels' own point estimates agree with Fairlearn's too (the bootstrap is built on them)
    counts = kernels.confusion_counts(
        y[used].astype(np.int8), pred[used].astype(np.int8), *_codes(group[used])
    )
    ours = kernels.fairness_from_rates(kernels.group_rates(counts))
    for name, value in expected.items():
        assert close(float(ours[name]), value), name


def _codes(values: np.ndarray) -> tuple[np.ndarray, int]:
    names, codes = np.unique(values, return_inverse=True)
    return codes.astype(np.int64), len(names)


def test_a_group_without_positives_has_a_true_positive_rate_of_0_as_in_fairlearn() -> None:
    y = np.array([0] * 40 + [0, 1] * 20)
    pred = np.array([0, 1] * 20 + [1, 1, 0, 0] * 10)
    group = np.array(["a"] * 40 + ["b"] * 40)
    found = evaluate_arrays("classification", y, y_pred=pred, sensitive={"g": group}, min_group_size=10)
    assert found.fairness["g"].groups["a"].metrics["true_positive_rate"].value == 0.0
    expected = equalized_odds_difference(y, pred, sensitive_features=group)
    assert close(found.fairness["g"].metrics["equalized_odds_difference"].value, expected)


def test_the_bootstrap_is_seeded_and_its_intervals_cover_a_real_disparity() -> None:
    rng = np.random.default_rng(8)
    n = 20_000
    group = rng.choice(np.array(["a", "b"]), n)
    y = rng.integers(0, 2, n)
    pred = (rng.random(n) < np.where(group == "a", 0.6, 0.4)).astype(int)  # selection rates differ
    run = {"y_pred": pred, "sensitive": {"g": group}, "resamples": 200}
    first = evaluate_arrays("classification", y, seed=11, **run).fairness["g"]
    again = evaluate_arrays("classification", y, seed=11, **run).fairness["g"]
    other = evaluate_arrays("classification", y, seed=12, **run).fairness["g"]
    assert first == again and first != other
    for name, interval in first.metrics.items():
        assert interval.lower is not None and interval.upper is not None and interval.value is not None
        assert interval.lower <= interval.value <= interval.upper, name
        assert interval.upper - interval.lower < 0.1, name
    for group_found in first.groups.values():
        rate = group_found.metrics["selection_rate"]
        assert rate.lower is not None and rate.upper is not None and rate.value is not None
        assert rate.lower <= rate.value <= rate.upper


def test_multinomial_cell_draws_match_row_resampling_in_distribution() -> None:
    """The cell counts of resampled rows are a multinomial over the cells: same mean and spread."""
    y, score, group = binary(2_000, seed=9)
    pred = (score >= 0.5).astype(np.int8)
    codes, groups = _codes(group)
    counts = kernels.confusion_counts(y.astype(np.int8), pred, codes, groups)
    drawn = kernels.rates_from_counts(kernels.bootstrap_counts(counts, 4000, 1))["selection_rate"]
    rng = np.random.default_rng(2)
    rows = []
    for _ in range(400):
        pick = rng.integers(0, len(y), len(y))
        rows.append(
            kernels.rates_from_counts(
                kernels.confusion_counts(y[pick].astype(np.int8), pred[pick], codes[pick], groups)
            )["selection_rate"]
        )
    resampled = np.array(rows)
    assert np.allclose(drawn.mean(axis=0), resampled.mean(axis=0), atol=0.01)
    assert np.allclose(drawn.std(axis=0), resampled.std(axis=0), rtol=0.2)


def test_fewer_than_two_groups_large_enough_leave_fairness_undefined_with_a_reason() -> None:
    y, score, group = binary(1_000, seed=10)
    group = np.where(group == "a", "a", "rare")
    group[100:] = "a"
    found = evaluate_arrays("classification", y, y_score=score, sensitive={"g": group}, min_group_size=500)
    fairness = found.fairness["g"]
    assert all(m.value is None for m in fairness.metrics.values())
    assert "fewer than two groups" in (fairness.note or "")


@pytest.mark.parametrize(
    ("call", "field", "message"),
    [
        (lambda: evaluate_arrays("ranking", [0, 1], y_pred=[0, 1]), "task", "must be one of"),
        (lambda: evaluate_arrays("classification", [0, 1, 1], y_pred=[0, 1]), "y_pred", "has 2 rows"),
        (lambda: evaluate_arrays("classification", [0, 1], y_score=[0.1]), "y_score", "has 1 rows"),
        (lambda: evaluate_arrays("classification", [0, 1, 2], y_pred=[0, 1, 2]), "y_true", "binary"),
        (lambda: evaluate_arrays("classification", [0, 1], y_score=[0.2, 1.5]), "y_score", "within [0, 1]"),
        (lambda: evaluate_arrays("classification", [0, 1], y_pred=[0, 7]), "y_pred", "not y_true's"),
        (lambda: evaluate_arrays("classification", [], y_pred=[]), "y_true", "empty"),
        (lambda: evaluate_arrays("regression", [1.0, 2.0]), "y_pred", "needed for regression"),
        (
            lambda: evaluate_arrays("regression", [1.0, 2.0], y_pred=[1, 2], sensitive={"g": ["a", "b"]}),
            "sensitive",
            "classification",
        ),
        (
            lambda: evaluate_arrays("classification", [0, 1], y_pred=[0, 1], slices={"s": ["a"]}),
            "slices.s",
            "has 1 rows",
        ),
        (
            lambda: evaluate_arrays(
                "classification", list(range(2)) * 101, y_pred=[0, 1] * 101, slices={"s": list(range(202))}
            ),
            "slices.s",
            "distinct values",
        ),
        (
            lambda: evaluate_arrays("classification", [0, 1], y_pred=[0, 1], confidence=1.0),
            "confidence",
            "(0, 1)",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_argument(call, field: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidParameter, match=None) as refused:
        call()
    assert refused.value.field == field
    assert message in refused.value.message


def test_a_single_class_leaves_roc_auc_undefined_and_says_so_by_none() -> None:
    found = evaluate_arrays("classification", [1, 1, 1, 1], y_score=[0.2, 0.4, 0.6, 0.9])
    assert found.metrics["roc_auc"] is None and found.metrics["accuracy"] == 0.5
    assert found.metrics["pr_auc"] == 1.0
    assert found.notes == ("roc_auc undefined: y_true holds a single class ('1'); ranking needs both",)


def test_a_table_of_negatives_only_keeps_1_as_the_positive_label() -> None:
    found = evaluate_arrays("classification", [0, 0, 0], y_score=[0.1, 0.7, 0.2])
    assert found.metrics["recall"] is None and found.metrics["roc_auc"] is None
    assert "roc_auc and pr_auc undefined: y_true holds a single class ('0')" in found.notes[0]
    assert "recall undefined: no row of y_true is '1'" in found.notes
    assert found.metrics["accuracy"] == pytest.approx(2 / 3)
    assert found.curves is not None and found.curves.labels == ("0", "1")
    words = evaluate_arrays("classification", ["no", "yes", "no"], y_pred=["no", "yes", "yes"])
    assert words.curves is not None and words.curves.labels == ("no", "yes")
    assert words.metrics["precision"] == 0.5


def test_the_labels_digest_reads_the_values_not_their_dtype() -> None:
    assert labels_digest(np.array([0, 1, 1])) == labels_digest([0, 1, 1])
    assert labels_digest([0, 1, 1]) != labels_digest([0, 1, 0])
    assert labels_digest(np.array([1.5, 2.0])) == labels_digest([1.5, 2.0])

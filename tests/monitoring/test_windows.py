"""One window's findings against a reference, on the awkward inputs live traffic brings: empty
windows, all-null, constant and single-category columns, unseen categories, a feature missing from
the batch, text where numbers belong, labels duplicated or for unknown ids; and the rules' verdicts
over windows that cannot measure a value. No database: `windows.py` and `rules.py` are pure."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from plimsoll.monitoring.rules import Rule, default_rules, signal
from plimsoll.monitoring.windows import (
    assess,
    latest_labels,
    profile_from_bytes,
    profile_reference,
    profile_to_bytes,
    realised_metrics,
)

FEATURES = ["amount", "age", "country", "flat"]


def reference_table(rows: int = 3_000, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    score = rng.random(rows)
    return pa.table(
        {
            "amount": rng.lognormal(3, 1, rows),
            "age": rng.integers(18, 90, rows).astype(np.float64),
            "country": rng.choice(["fr", "de", "it"], rows),
            "flat": np.full(rows, 7.0),  # constant
            "__prediction": (score >= 0.5).astype(np.int64),
            "__score": score,
            "label": (rng.random(rows) < score).astype(np.int64),
        }
    )


def window(rows: int, seed: int = 1, **replace: object) -> pa.Table:
    rng = np.random.default_rng(seed)
    score = rng.random(rows)
    columns: dict[str, object] = {
        "__id": [f"r{i}" for i in range(rows)],
        "__ts": np.arange(rows, dtype=np.int64),
        "__prediction": (score >= 0.5).astype(np.int64),
        "__score": score,
        "amount": rng.lognormal(3, 1, rows),
        "age": rng.integers(18, 90, rows).astype(np.float64),
        "country": rng.choice(["fr", "de", "it"], rows),
        "flat": np.full(rows, 7.0),
    }
    columns.update(replace)
    return pa.table({k: v for k, v in columns.items() if v is not None})


@pytest.fixture(scope="module")
def profile():  # type: ignore[no-untyped-def]
    made = profile_reference(reference_table(), FEATURES, target="label", task="classification")
    return profile_from_bytes(profile_to_bytes(made))  # as stored, read back


def test_a_window_like_the_reference_is_quiet_and_its_profile_survives_storage(profile) -> None:  # type: ignore[no-untyped-def]
    found = assess(window(2_000), profile, task="classification", alpha=0.05)
    assert found.rows == 2_000 and found.values["drift.detected"] == 0.0
    assert found.values["quality.invalid_share"] == 0.0 and found.values["quality.unseen_share"] == 0.0
    assert profile.classes == ("0", "1") and profile.metrics["accuracy"] > 0.6
    band = found.performance["estimated"]["metrics"]["accuracy"]
    assert band["lower"] <= band["value"] <= band["upper"]
    assert found.summary is not None and set(found.summary.columns) >= set(FEATURES)


def test_an_empty_window_measures_rows_only(profile) -> None:  # type: ignore[no-untyped-def]
    found = assess(window(0), profile, task="classification", alpha=0.05)
    assert found.values == {"rows": 0.0} and found.summary is None
    (no_data,) = [r for r in default_rules("classification", "accuracy") if r.name == "no_data"]
    assert signal(no_data, found.values["rows"], 0)["active"]


def test_all_null_constant_unseen_and_out_of_range_columns_are_named_with_examples(profile) -> None:  # type: ignore[no-untyped-def]
    rows = 500
    ages = np.full(rows, 40.0)
    ages[:10] = 150.0  # outside the reference's range
    found = assess(
        window(rows, amount=pa.nulls(rows, pa.float64()), age=ages, country=["fr"] * 490 + ["jp"] * 10),
        profile,
        task="classification",
        alpha=0.05,
    )
    quality = found.quality
    assert quality["columns"]["amount"]["missing"] == rows and quality["invalid_share"] == 1.0
    assert quality["columns"]["age"]["out_of_range"] == 10
    assert (
        quality["columns"]["country"]["unseen"] == 10 and quality["columns"]["country"]["unseen_labels"] == 1
    )
    assert any(key.startswith("country: unseen jp") for key in quality["examples"])
    assert quality["examples"]["age: outside [18, 89]"] == [f"r{i}" for i in range(5)]
    # The constant column stays constant: no drift, and a single category is tested like any other.
    assert found.drift["features"]["flat"]["drifted"] is False
    # The all-null column cannot be tested, and the window says why rather than calling it drifted.
    assert "no finite values" in found.drift["untested"]["amount"] and "amount" not in found.drift["features"]


def test_a_feature_missing_from_the_batch_and_text_where_numbers_belong(profile) -> None:  # type: ignore[no-untyped-def]
    ages = [str(a) for a in range(18, 68)] * 4
    ages[:3] = ["old", "n/a", "forty"]
    found = assess(window(200, flat=None, age=ages), profile, task="classification", alpha=0.05)
    assert found.quality["missing_columns"] == ["flat"] and found.values["quality.invalid_share"] == 1.0
    assert found.quality["columns"]["age"]["wrong_type"] == 3
    assert found.drift["untested"]["flat"] == "the column is missing from the window"
    assert found.drift["features"]["age"]["statistic"] is not None  # the rest of the column, as numbers


def test_labels_join_by_id_the_last_one_wins_and_duplicates_are_counted(profile) -> None:  # type: ignore[no-untyped-def]
    traffic = window(300)
    ids = traffic.column("__id").to_pylist()
    wrong = [1 - p for p in traffic.column("__prediction").to_pylist()]
    right = traffic.column("__prediction").to_pylist()
    labels = pa.table(
        {
            "__id": ids + ids,
            "__ts": np.r_[np.full(300, 10), np.full(300, 20)].astype(np.int64),
            "__label": wrong + right,  # corrected later: the later label wins
        }
    )
    found = assess(traffic, profile, task="classification", alpha=0.05, labels=labels)
    assert found.performance["duplicated_labels"] == 300 and found.values["labels.coverage"] == 1.0
    assert found.values["performance.accuracy"] == 1.0
    assert latest_labels(labels).num_rows == 300


def test_regression_windows_measure_errors_and_their_growth() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=2_000)
    reference = pa.table({"x": x, "__prediction": 2 * x, "y": 2 * x + rng.normal(0, 0.1, 2_000)})
    profile = profile_reference(reference, ["x"], target="y", task="regression")
    traffic = pa.table(
        {
            "__id": [str(i) for i in range(500)],
            "__ts": np.zeros(500, dtype=np.int64),
            "x": x[:500],
            "__prediction": 2 * x[:500],
        }
    )
    labels = pa.table(
        {
            "__id": [str(i) for i in range(500)],
            "__ts": np.ones(500, dtype=np.int64),
            "__label": 2 * x[:500] + 1.0,
        }
    )
    found = assess(traffic, profile, task="regression", alpha=0.05, labels=labels)
    assert found.values["performance.mae"] == pytest.approx(1.0)
    assert found.values["performance.mae.drop"] == pytest.approx(1.0 - profile.metrics["mae"])
    assert "estimated" not in found.performance  # the label-free estimate is a classifier's


def test_a_rule_keeps_its_verdict_through_a_window_that_cannot_measure_it() -> None:
    rule = Rule("performance_drop", "performance.accuracy.drop", ">", 0.05, for_windows=2)
    first = signal(rule, 0.2, 0)
    second = signal(rule, None, first["consecutive"])  # labels not back yet
    third = signal(rule, 0.3, second["consecutive"])
    assert (first["active"], first["consecutive"]) == (True, 1)
    assert (second["active"], second["consecutive"], second["value"]) == (True, 1, None)
    assert (third["active"], third["consecutive"]) == (True, 2)
    assert signal(rule, None, 0)["active"] is False  # nothing breached, nothing starts
    assert signal(rule, 0.0, 2)["consecutive"] == 0


@pytest.mark.parametrize("classes", [("0", "1"), ("no", "yes"), ("a", "b", "c", "d")])
def test_realised_metrics_agree_with_scikit_learn(classes: tuple[str, ...]) -> None:
    """The confusion-matrix arithmetic gives scikit-learn's numbers (zero_division=0; macro over
    the labels either side holds), nulls skipped, whatever type the labels were logged as."""
    from sklearn import metrics

    rng = np.random.default_rng(len(classes))
    rows = 5_000
    truth = rng.choice(list(classes), rows).astype(object)
    predicted = np.where(rng.random(rows) < 0.7, truth, rng.choice(list(classes), rows)).astype(object)
    if len(classes) > 2:
        predicted[predicted == classes[-1]] = classes[0]  # a class never predicted: its precision is 0
    truth[rng.random(rows) < 0.05] = None
    predicted[rng.random(rows) < 0.05] = None
    scores = rng.random(rows)
    found = realised_metrics("classification", pa.array(truth), pa.array(predicted), scores, classes)
    keep = np.array([a is not None and b is not None for a, b in zip(truth, predicted, strict=True)])
    y, p = truth[keep].astype(str), predicted[keep].astype(str)
    options: dict[str, object] = (
        {"pos_label": classes[-1], "average": "binary"} if len(classes) == 2 else {"average": "macro"}
    )
    expected = {
        "accuracy": metrics.accuracy_score(y, p),
        "precision": metrics.precision_score(y, p, zero_division=0, **options),  # type: ignore[arg-type]
        "recall": metrics.recall_score(y, p, zero_division=0, **options),  # type: ignore[arg-type]
        "f1": metrics.f1_score(y, p, zero_division=0, **options),  # type: ignore[arg-type]
    }
    if len(classes) == 2:
        expected["roc_auc"] = metrics.roc_auc_score(y == classes[-1], scores[keep])
    assert found == pytest.approx(expected, rel=1e-12)
    if classes == ("0", "1"):
        as_integers = pa.array([None if v is None else int(v) for v in truth], pa.int64())
        predicted_integers = pa.array([None if v is None else int(v) for v in predicted], pa.int8())
        again = realised_metrics("classification", as_integers, predicted_integers, scores, classes)
        assert again == pytest.approx(expected, rel=1e-12)


def test_a_binary_window_predicting_a_class_the_reference_never_had_is_still_measured() -> None:
    found = realised_metrics(
        "classification", pa.array(["0", "1", "1", "0"]), pa.array(["0", "1", "2", "2"]), None, ("0", "1")
    )
    assert found == pytest.approx({"accuracy": 0.5, "precision": 1.0, "recall": 0.5, "f1": 2 / 3})

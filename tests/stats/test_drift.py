from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from plimsoll import stats
from plimsoll.stats import PlimsollStatsError


def test_a_clear_shift_drifts_and_identical_samples_do_not() -> None:
    rng = np.random.default_rng(0)
    reference = rng.normal(size=3000)
    for method in ("ks", "wasserstein", "energy", "psi", "js", "chi_square"):
        shifted = stats.drift_test(reference, rng.normal(0.5, 1, 2000), method=method)
        same = stats.drift_test(reference, reference.copy(), method=method)
        assert shifted.drifted and shifted.p_value < 1e-6, method
        assert not same.drifted and same.statistic == pytest.approx(0.0, abs=1e-12), method
        assert shifted.threshold > 0 and shifted.n_reference == 3000 and shifted.n_current == 2000


def test_raw_samples_give_exact_statistics_and_summaries_give_bounded_ones() -> None:
    rng = np.random.default_rng(1)
    reference, current = rng.normal(size=4000), rng.normal(0.1, 1, size=3000)
    exact = stats.drift_test(reference, current, method="ks")
    assert exact.error_bound == 0.0
    assert exact.statistic == pytest.approx(stats.ks_statistic(reference, current), abs=1e-15)
    ref = stats.summarize_column(reference)
    approx = stats.drift_test(ref, stats.summarize_column(current, reference=ref), method="ks")
    assert 0 < approx.error_bound < 0.01
    assert abs(approx.statistic - exact.statistic) <= approx.error_bound


def test_threshold_combines_critical_value_and_min_effect() -> None:
    rng = np.random.default_rng(2)
    reference, current = rng.normal(size=200_000), rng.normal(0.02, 1, size=200_000)
    significant_but_small = stats.drift_test(reference, current, method="ks")
    assert significant_but_small.p_value < 1e-6
    assert not significant_but_small.drifted and significant_but_small.threshold == 0.02
    strict = stats.drift_test(reference, current, method="ks", min_effect=0.0)
    assert strict.drifted and strict.threshold < 0.01
    small_samples = stats.drift_test(reference[:100], current[:100], method="ks")
    assert small_samples.threshold > 0.15  # the critical value dominates for small samples


def test_default_methods_follow_the_column_kind() -> None:
    frame = pd.DataFrame({"flag": [0, 1] * 50, "x": np.linspace(0, 1, 100), "c": ["a", "b"] * 50})
    report = stats.compare(frame, frame)
    assert {name: r.method for name, r in report.columns.items()} == {
        "flag": "chi_square",
        "x": "ks",
        "c": "chi_square",
    }
    custom = stats.compare(frame, frame, methods={"x": "psi"}, min_effect={"x": 0.2})
    assert custom.columns["x"].method == "psi" and custom.columns["x"].min_effect == 0.2


def test_bad_input_is_either_defined_or_a_clear_error() -> None:
    reference = pd.DataFrame(
        {
            "constant": [1.0] * 50,
            "single": ["only"] * 50,
            "gone": np.arange(50.0),
            "label": ["a", "b"] * 25,
            "inf": np.r_[np.arange(48.0), np.inf, -np.inf],
        }
    )
    current = pd.DataFrame(
        {
            "constant": [1.0] * 40,
            "single": ["only"] * 40,
            "gone": [None] * 40,
            "label": ["a", "c"] * 20,
            "inf": np.r_[np.arange(38.0), np.inf, np.inf],
        }
    )
    report = stats.compare(reference, current)
    assert not report.columns["constant"].drifted and report.columns["constant"].statistic == 0.0
    assert not report.columns["single"].drifted and report.columns["single"].p_value == 1.0
    assert "no finite values" in report.untested["gone"]
    assert report.columns["label"].drifted  # "c" was never seen in the reference
    assert report.columns["inf"].n_current == 38
    payload = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert payload["untested"] == {"gone": "the current sample has no finite values (40 rows)"}
    constant_moved = stats.compare(reference[["constant"]], pd.DataFrame({"constant": [2.0] * 40}))
    assert constant_moved.drifted


def test_errors_name_the_column_and_the_limit() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "c": ["a", "b", "c"]})
    with pytest.raises(PlimsollStatsError, match=r"column 'c'.*method 'ks' needs a numeric column"):
        stats.compare(frame, frame, methods={"c": "ks"})
    with pytest.raises(PlimsollStatsError, match=r"unknown drift method 'magic'"):
        stats.compare(frame, frame, methods={"x": "magic"})
    with pytest.raises(PlimsollStatsError, match=r"alpha must be within \(0, 1\), got 1.5"):
        stats.compare(frame, frame, alpha=1.5)
    with pytest.raises(PlimsollStatsError, match="correction must be one of"):
        stats.compare(frame, frame, correction="holm")
    with pytest.raises(PlimsollStatsError, match=r"columns \['y'\] are not in the reference"):
        stats.compare(frame, frame, min_effect={"y": 0.1})
    with pytest.raises(
        PlimsollStatsError, match=r"column 'x'.*reference summary is numeric but current is categorical"
    ):
        stats.compare(stats.summarize(frame), stats.summarize(frame.assign(x=["a", "b", "c"])))
    with pytest.raises(PlimsollStatsError, match=r"column 'value'.*no finite values"):
        stats.drift_test(np.array([1.0, 2.0]), np.array([np.nan]))
    with pytest.raises(PlimsollStatsError, match=r"n_resamples must be within \[20, 100000\]"):
        stats.drift_test(np.arange(5.0), np.arange(5.0), n_resamples=1)


def test_multiple_testing_levels() -> None:
    assert stats.effective_alpha([0.001, 0.02, 0.04, 0.5], 0.05, "bonferroni") == 0.0125
    assert stats.effective_alpha([0.001, 0.02, 0.04, 0.5], 0.05, "none") == 0.05
    # BH: 0.001 <= 0.0125, 0.02 <= 0.025, 0.04 > 0.0375, 0.5 > 0.05 -> two rejections.
    assert stats.effective_alpha([0.001, 0.02, 0.04, 0.5], 0.05, "bh") == 0.025
    assert stats.effective_alpha([0.3, 0.5], 0.05, "bh") == 0.025


def test_report_ranks_drifted_columns_and_serialises() -> None:
    rng = np.random.default_rng(4)
    reference = pd.DataFrame(
        {"a": rng.normal(size=2000), "b": rng.normal(size=2000), "c": rng.normal(size=2000)}
    )
    current = pd.DataFrame(
        {"a": rng.normal(0.3, 1, 2000), "b": rng.normal(1.0, 1, 2000), "c": rng.normal(size=2000)}
    )
    report = stats.compare(reference, current)
    assert report.drifted and report.drifted_columns == ("b", "a")
    assert report.share_drifted == pytest.approx(2 / 3)
    assert [r.column for r in report.ranked()][:2] == ["b", "a"]
    assert "drifted_columns=['b', 'a']" in repr(report)
    json.dumps(report.to_dict(), allow_nan=False)

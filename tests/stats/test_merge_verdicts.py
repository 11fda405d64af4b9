"""Merging the summaries of a table's parts and summarising the whole give the same verdicts, on
real data (docs/statistics.md, "Merge"): exactly when the parts share the reference's edges, and
within the stated bound (`share_error`, judged with its slack) when each part chose its own edges
or folded labels into "other"."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from plimsoll import stats
from plimsoll.stats import CategoricalSummary, DriftReport, DriftResult, NumericSummary
from plimsoll.stats.label_tables import nearest_row


def _parts(frame: pd.DataFrame, count: int, seed: int) -> list[pd.DataFrame]:
    """`count` windows of uneven length, in the table's own order (as monitor windows come)."""
    cuts = np.sort(np.random.default_rng(seed).choice(np.arange(1, len(frame)), count - 1, replace=False))
    return [frame.iloc[start:end] for start, end in zip([0, *cuts], [*cuts, len(frame)], strict=True)]


def _verdicts(report: DriftReport) -> dict[str, bool]:
    return {name: result.drifted for name, result in report.columns.items()}


def _slack(result: DriftResult) -> float:
    return result.details.get("rebin_slack", 0.0) + result.details.get("truncation_slack", 0.0)


def _assert_same_verdicts_within_bounds(whole: DriftReport, merged: DriftReport) -> None:
    assert _verdicts(merged) == _verdicts(whole)
    assert merged.drifted == whole.drifted and merged.untested == whole.untested
    for name, exact in whole.columns.items():
        approximate = merged.columns[name]
        if approximate.method == "ks":  # a statistic with a stated error bound
            bound = exact.error_bound + approximate.error_bound + _slack(approximate)
            assert abs(approximate.statistic - exact.statistic) <= bound + 1e-12, name


def test_parts_on_the_reference_edges_merge_to_exactly_the_whole(
    flights: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    first_half, second_half = flights
    reference = stats.summarize(first_half)
    whole = stats.summarize(second_half, reference=reference)
    merged = stats.merge([stats.summarize(part, reference=reference) for part in _parts(second_half, 26, 1)])
    assert merged.share_error == 0.0
    for name in whole:
        exact, joined = whole[name], merged[name]
        if isinstance(exact, NumericSummary):
            assert isinstance(joined, NumericSummary)
            assert joined.counts.tolist() == exact.counts.tolist()
        else:
            assert isinstance(joined, CategoricalSummary) and joined.as_dict() == exact.as_dict()
    whole_report, merged_report = stats.compare(reference, whole), stats.compare(reference, merged)
    assert whole_report.drifted_columns == merged_report.drifted_columns
    assert whole_report.drifted_columns  # the seasonal drift is found either way
    for name, result in whole_report.columns.items():
        assert merged_report.columns[name].statistic == result.statistic
        assert merged_report.columns[name].p_value == result.p_value


@pytest.mark.parametrize("drifting", [True, False], ids=["second half of 2015", "the same months"])
def test_parts_with_edges_of_their_own_give_the_verdicts_of_the_whole(
    flights: tuple[pd.DataFrame, pd.DataFrame], drifting: bool
) -> None:
    reference_rows, current = _halves(flights, drifting)
    # Coarse edges (256 bins rather than 2,048), so that values fall inside bins and re-binning has
    # something to lose.
    reference = stats.summarize(reference_rows, max_bins=256)
    whole = stats.compare(reference, stats.summarize(current, reference=reference))
    merged_summary = stats.merge([stats.summarize(part, max_bins=256) for part in _parts(current, 12, 2)])
    assert merged_summary.share_error > 0  # the parts' own edges differ: this is the re-binned path
    merged = stats.compare(reference, merged_summary)
    _assert_same_verdicts_within_bounds(whole, merged)
    assert bool(whole.drifted_columns) is drifting


def test_where_merged_verdicts_differ_the_whole_is_within_the_stated_bound_and_merged_says_no_drift(
    flights: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reference_rows, current = _halves(flights, drifting=True)
    # 64 bins: re-binning costs up to 1/64 of each CDF, more than some columns' margin.
    reference = stats.summarize(reference_rows, max_bins=64)
    whole = stats.compare(reference, stats.summarize(current, reference=reference))
    merged = stats.compare(
        reference, stats.merge([stats.summarize(part, max_bins=64) for part in _parts(current, 12, 2)])
    )
    differing = [
        name for name in whole.columns if whole.columns[name].drifted != merged.columns[name].drifted
    ]
    assert differing == ["DEPARTURE_DELAY"]  # 0.041 against a threshold of 0.020: a margin under the slack
    for name in differing:
        exact, approximate = whole.columns[name], merged.columns[name]
        assert not approximate.drifted  # the cautious side
        margin = abs(exact.statistic - exact.threshold)
        assert margin <= exact.error_bound + approximate.error_bound + _slack(approximate)


def _halves(flights: tuple[pd.DataFrame, pd.DataFrame], drifting: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(reference, current): the first and second half of 2015, or two random halves of the second."""
    first_half, second_half = flights
    if drifting:
        return first_half, second_half
    order = np.random.default_rng(5).permutation(len(second_half))
    return second_half.iloc[order[: len(order) // 2]], second_half.iloc[order[len(order) // 2 :]]


@pytest.mark.parametrize("drifting", [True, False], ids=["second half of 2015", "the same months"])
def test_parts_that_fold_labels_into_other_give_the_verdicts_of_the_whole(
    flights: tuple[pd.DataFrame, pd.DataFrame], drifting: bool
) -> None:
    reference_rows, current = _halves(flights, drifting)
    # Six airlines of fourteen kept per part: the parts fold different airlines into "other".
    reference = stats.summarize(reference_rows, max_categories=6)
    whole_summary = stats.summarize(current, reference=reference, max_categories=6)
    parts = [stats.summarize(part, reference=reference, max_categories=6) for part in _parts(current, 12, 3)]
    merged_summary = stats.merge(parts, max_categories=6)
    airline = merged_summary["AIRLINE"]
    assert isinstance(airline, CategoricalSummary) and airline.count_error > 0 and airline.share_error > 0
    whole = stats.compare(reference, whole_summary, columns=["AIRLINE", "CANCELLED"])
    merged = stats.compare(reference, merged_summary, columns=["AIRLINE", "CANCELLED"])
    _assert_same_verdicts_within_bounds(whole, merged)
    assert whole.columns["AIRLINE"].drifted is drifting
    assert merged.columns["AIRLINE"].details["count_error_share"] == airline.share_error


def test_housing_windows_merged_give_the_verdicts_of_the_whole_analysis_period(
    housing: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    reference_rows, analysis = housing
    features = [c for c in reference_rows.columns if c not in ("id", "timestamp", "clf_target", "y_pred")]
    reference = stats.summarize(reference_rows[features])
    current = analysis[features]
    whole = stats.compare(reference, stats.summarize(current, reference=reference))
    own_edges = stats.merge([stats.summarize(part) for part in _parts(current, 9, 4)])
    _assert_same_verdicts_within_bounds(whole, stats.compare(reference, own_edges))
    shared_edges = stats.merge([stats.summarize(part, reference=reference) for part in _parts(current, 9, 4)])
    assert stats.compare(reference, shared_edges).to_dict() == whole.to_dict()


def test_truncated_counts_are_judged_on_the_table_nearest_no_drift() -> None:
    labels = [f"k{i}" for i in range(12)]
    rng = np.random.default_rng(0)
    same = [pd.Series(rng.choice(labels, 3_000)) for _ in range(8)]
    reference = stats.summarize_column(pd.Series(rng.choice(labels, 20_000)))
    merged = stats.merge([stats.summarize_column(part, max_categories=6) for part in same], max_categories=6)
    assert isinstance(merged, CategoricalSummary) and merged.count_error > 0
    result = stats.drift_test(reference, merged)
    assert not result.drifted
    assert result.details["truncation_slack"] > 0  # the cautious table was nearer no drift


@settings(max_examples=80, deadline=None)
@given(
    counts=st.lists(st.integers(0, 500), min_size=3, max_size=8),
    opposite=st.lists(st.integers(1, 500), min_size=8, max_size=8),
    error=st.integers(1, 200),
)
def test_the_nearest_row_stays_in_truncations_box_and_comes_no_farther_from_the_other_side(
    counts: list[int], opposite: list[int], error: int
) -> None:
    assume(sum(counts) > 0)
    row = np.asarray(counts, dtype=np.float64)
    other_side = np.asarray(opposite[: len(counts)], dtype=np.float64)
    moved = nearest_row(row, other_side, float(error))
    assert moved.sum() == pytest.approx(row.sum())
    assert np.all(moved[:-1] >= row[:-1] - 1e-9) and np.all(moved[:-1] <= row[:-1] + error + 1e-9)
    assert moved[-1] >= -1e-9  # "other" gives back no more than it holds
    target = other_side / other_side.sum() * row.sum()

    def distance(candidate: np.ndarray) -> float:
        return float(np.sum((candidate - target) ** 2 / target))

    assert distance(moved) <= distance(row) + 1e-6

"""Merging summaries of parts gives the summary of the whole (property-based)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plimsoll import stats
from plimsoll.stats import CategoricalSummary, NumericSummary, PlimsollStatsError

finite_floats = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
any_floats = st.one_of(finite_floats, st.sampled_from([np.nan, np.inf, -np.inf]))


def _split(values: list[float], cuts: list[int]) -> list[np.ndarray]:
    points = sorted({min(c, len(values)) for c in cuts})
    return [np.asarray(part, dtype=np.float64) for part in np.split(np.asarray(values), points)]


@settings(max_examples=60, deadline=None)
@given(
    reference=st.lists(finite_floats, min_size=1, max_size=80),
    values=st.lists(any_floats, min_size=0, max_size=120),
    cuts=st.lists(st.integers(0, 120), max_size=4),
    max_bins=st.integers(1, 40),
)
def test_numeric_merge_is_exact_for_counts_moments_and_histograms(
    reference: list[float], values: list[float], cuts: list[int], max_bins: int
) -> None:
    ref = stats.summarize_column(np.asarray(reference), max_bins=max_bins)
    whole = stats.summarize_column(np.asarray(values, dtype=np.float64), reference=ref)
    parts = [stats.summarize_column(part, reference=ref) for part in _split(values, cuts)]
    merged = stats.merge(parts)
    assert isinstance(merged, NumericSummary) and isinstance(whole, NumericSummary)
    for field in (
        "row_count",
        "null_count",
        "nan_count",
        "posinf_count",
        "neginf_count",
        "minimum",
        "maximum",
    ):
        assert getattr(merged, field) == getattr(whole, field), field
    assert merged.counts.tolist() == whole.counts.tolist()
    assert merged.edge_counts.tolist() == whole.edge_counts.tolist()
    if whole.mean is None:
        assert merged.mean is None
    else:
        assert merged.mean == pytest.approx(whole.mean, rel=1e-9, abs=1e-6)
        assert merged.sum_squared_deviations == pytest.approx(
            whole.sum_squared_deviations, rel=1e-7, abs=1e-3
        )


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(finite_floats, min_size=1, max_size=300),
    cuts=st.lists(st.integers(0, 300), max_size=3),
    q=st.floats(0.0, 1.0),
)
def test_merged_quantile_sketch_stays_within_its_rank_bound(
    values: list[float], cuts: list[int], q: float
) -> None:
    ref = stats.summarize_column(np.asarray(values[: max(1, len(values) // 3)]), max_bins=16)
    parts = [stats.summarize_column(part, reference=ref) for part in _split(values, cuts)]
    merged = stats.merge(parts)
    assert isinstance(merged, NumericSummary)
    answer = merged.quantile(q)
    assert answer is not None
    ordered = np.sort(values)
    below, at_or_below = np.searchsorted(ordered, answer, "left"), np.searchsorted(ordered, answer, "right")
    target = q * len(values)
    distance = 0.0 if below <= target <= at_or_below else min(abs(below - target), abs(at_or_below - target))
    assert distance / len(values) <= merged.rank_error + 1 / len(values)


@settings(max_examples=40, deadline=None)
@given(
    first=st.lists(finite_floats, min_size=1, max_size=200),
    second=st.lists(finite_floats, min_size=1, max_size=200),
)
def test_merging_different_edges_rebins_within_the_stated_error(
    first: list[float], second: list[float]
) -> None:
    a = stats.summarize_column(np.asarray(first), max_bins=8)
    b = stats.summarize_column(np.asarray(second), max_bins=8)
    merged = stats.merge([a, b])
    # The merge's edges come from both inputs; the whole, summarised on them, is the truth.
    exact = stats.summarize_column(np.asarray(first + second), reference=merged)
    assert isinstance(merged, NumericSummary) and isinstance(exact, NumericSummary)
    assert merged.finite_count == exact.finite_count
    gap = np.abs(np.cumsum(merged.counts) - np.cumsum(exact.counts)).max()
    assert gap <= merged.rebin_error


labels = st.sampled_from(list("abcdefghij"))


@settings(max_examples=60, deadline=None)
@given(parts=st.lists(st.lists(st.one_of(labels, st.none()), max_size=60), min_size=1, max_size=5))
def test_categorical_merge_is_exact_while_not_truncated(parts: list[list[str | None]]) -> None:
    summaries = [stats.summarize_column(pd.Series(p, dtype=object), name="c") for p in parts if p]
    if not summaries:
        return
    everything = [label for p in parts for label in p]
    whole = stats.summarize_column(pd.Series(everything, dtype=object))
    merged = stats.merge(
        [s if isinstance(s, CategoricalSummary) else _empty_categorical(s.row_count) for s in summaries]
    )
    assert isinstance(merged, CategoricalSummary)
    whole_counts = whole.as_dict() if isinstance(whole, CategoricalSummary) else {}
    assert merged.as_dict() == whole_counts
    assert merged.null_count == everything.count(None)
    assert merged.row_count == len(everything)


def _empty_categorical(rows: int) -> CategoricalSummary:
    from plimsoll.stats.summaries import categorical_summary

    return categorical_summary([], np.zeros(0, dtype=np.int64), rows)


@settings(max_examples=30, deadline=None)
@given(parts=st.lists(st.lists(st.integers(0, 60), min_size=1, max_size=200), min_size=2, max_size=5))
def test_truncated_categorical_merge_counts_are_within_count_error(parts: list[list[int]]) -> None:
    summaries = [stats.summarize_column(pd.Series([f"k{v}" for v in p]), max_categories=8) for p in parts]
    merged = stats.merge(summaries, max_categories=8)  # type: ignore[arg-type]
    assert isinstance(merged, CategoricalSummary)
    truth = pd.Series([f"k{v}" for p in parts for v in p]).value_counts().to_dict()
    for label, count in merged.as_dict().items():
        assert truth[label] - merged.count_error <= count <= truth[label]
    assert sum(merged.as_dict().values()) + merged.other_count == sum(truth.values())
    distinct = len(truth)
    assert abs(merged.distinct_count - distinct) <= max(2.0, 5 * merged.distinct_count_error * distinct)


def test_merging_a_thousand_windows_equals_the_whole_table() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=20_000), "c": rng.choice(list("abc"), 20_000)})
    reference = stats.summarize(frame)
    windows = [stats.summarize(frame.iloc[i : i + 20], reference=reference) for i in range(0, 20_000, 20)]
    merged = stats.merge(windows)
    assert merged["x"].counts.tolist() == reference["x"].counts.tolist()  # type: ignore[union-attr]
    assert merged["c"].as_dict() == reference["c"].as_dict()  # type: ignore[union-attr]


def test_merge_refuses_mismatched_kinds_and_columns() -> None:
    numeric = stats.summarize_column(np.arange(3.0))
    categorical = stats.summarize_column(np.array(["a"]))
    with pytest.raises(PlimsollStatsError, match="same kind"):
        stats.merge([numeric, categorical])  # type: ignore[list-item]
    with pytest.raises(PlimsollStatsError, match="at least one"):
        stats.merge([])
    first = stats.summarize(pd.DataFrame({"x": [1.0]}))
    second = stats.summarize(pd.DataFrame({"y": [1.0]}))
    with pytest.raises(PlimsollStatsError, match=r"columns \['x', 'y'\]"):
        stats.merge([first, second])
    as_text = stats.summarize(pd.DataFrame({"x": ["a"]}))
    with pytest.raises(PlimsollStatsError, match=r"column 'x'.*different kinds"):
        stats.merge([first, as_text])


def test_histograms_kept_narrow_add_up_past_their_own_width() -> None:
    """Windows keep counts in the narrowest integer that holds them (int8 for these): merged, a bin
    holds 60,000, past int8 and int16, and nothing wraps around, also through the bytes."""
    values = np.repeat([1.0, 2.0], 60_000)
    np.random.default_rng(1).shuffle(values)
    reference = stats.summarize_column(values)
    windows = [
        stats.summarize_column(values[i : i + 100], reference=reference) for i in range(0, 120_000, 100)
    ]
    assert {w.counts.dtype for w in windows} == {np.dtype(np.int8)}  # type: ignore[union-attr]
    merged = stats.merge([stats.from_bytes(stats.to_bytes(w)) for w in windows])
    assert isinstance(merged, NumericSummary) and isinstance(reference, NumericSummary)
    assert merged.counts.tolist() == reference.counts.tolist() == [60_000, 60_000, 0]
    assert merged.edge_counts.tolist() == [60_000, 60_000]
    assert merged.counts.dtype == np.int32
    same = stats.drift_test(reference, merged)  # chi-square on the narrow and the merged counts
    assert same.statistic == pytest.approx(0.0) and not same.drifted

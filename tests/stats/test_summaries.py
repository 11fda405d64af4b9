from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from plimsoll import stats
from plimsoll.stats import CategoricalSummary, NumericSummary, PlimsollStatsError


def test_numeric_summary_counts_nulls_nan_and_infinities_separately() -> None:
    values = pd.array([1.0, None, 3.0, 2.0, 5.0], dtype="Float64")
    raw = np.array([1.0, np.nan, np.inf, -np.inf, 3.0])
    masked = stats.summarize_column(values)
    plain = stats.summarize_column(raw)
    assert isinstance(masked, NumericSummary) and isinstance(plain, NumericSummary)
    assert (masked.row_count, masked.null_count, masked.finite_count) == (5, 1, 4)
    assert (plain.nan_count, plain.posinf_count, plain.neginf_count, plain.finite_count) == (1, 1, 1, 2)
    assert plain.mean == 2.0 and plain.minimum == 1.0 and plain.maximum == 3.0


@pytest.mark.parametrize(
    "column",
    [
        np.array([3.0, 1.0, 2.0, 2.0]),
        pd.Series([3, 1, 2, 2]),
        pl.Series([3, 1, 2, 2]),
        pa.array([3, 1, 2, 2]),
        pa.chunked_array([[3, 1], [2, 2]]),
        [3, 1, 2, 2],
    ],
)
def test_numeric_inputs_of_every_kind_give_the_same_summary(column: object) -> None:
    summary = stats.summarize_column(column)
    assert isinstance(summary, NumericSummary)
    assert summary.finite_count == 4 and summary.mean == 2.0
    assert summary.edges.tolist() == [1.0, 2.0, 3.0] and summary.counts.tolist() == [1, 2, 1, 0]


@pytest.mark.parametrize(
    "column",
    [
        np.array(["b", "a", "b"]),
        pd.Series(["b", "a", "b", None]),
        pd.Series(["b", "a", "b", None], dtype="category"),
        pl.Series(["b", "a", "b", None]),
        pa.array(["b", "a", "b", None]).dictionary_encode(),
    ],
)
def test_categorical_inputs_of_every_kind_count_labels(column: object) -> None:
    summary = stats.summarize_column(column)
    assert isinstance(summary, CategoricalSummary)
    assert summary.as_dict() == {"b": 2, "a": 1}
    assert summary.distinct_count == 2 and summary.distinct_count_error == 0


def test_booleans_are_categorical_with_the_same_labels_from_numpy_and_arrow() -> None:
    from_numpy = stats.summarize_column(np.array([True, False, True]))
    from_arrow = stats.summarize_column(pa.array([True, False, True]))
    assert isinstance(from_numpy, CategoricalSummary) and isinstance(from_arrow, CategoricalSummary)
    assert from_numpy.as_dict() == from_arrow.as_dict() == {"True": 2, "False": 1}


def test_discrete_values_are_their_own_edges_so_the_histogram_is_exact() -> None:
    values = np.repeat([0.0, 1.0, 5.0], [7, 2, 1])
    summary = stats.summarize_column(values)
    assert isinstance(summary, NumericSummary)
    assert summary.edges.tolist() == [0.0, 1.0, 5.0]
    assert summary.edge_counts.tolist() == [7, 2, 1]
    assert summary.quantile(0.5) == 0.0 and summary.quantile(0.75) == 1.0


def test_quantiles_are_within_the_stated_rank_error() -> None:
    rng = np.random.default_rng(3)
    values = rng.lognormal(size=50_000)
    summary = stats.summarize_column(values, max_bins=256)
    assert isinstance(summary, NumericSummary)
    ordered = np.sort(values)
    assert summary.rank_error <= 2 / 256
    for q in (0.0, 0.01, 0.25, 0.5, 0.9, 0.999, 1.0):
        answer = summary.quantile(q)
        assert answer is not None
        rank = np.searchsorted(ordered, answer, side="right") / values.size
        assert abs(rank - q) <= summary.rank_error + 1 / values.size


def test_categorical_summary_truncates_to_top_k_with_a_distinct_estimate() -> None:
    labels = [f"label{i}" for i in range(5000)] + ["common"] * 100
    summary = stats.summarize_column(pd.Series(labels), max_categories=50)
    assert isinstance(summary, CategoricalSummary)
    assert summary.truncated and len(summary.categories) == 50
    assert summary.categories[0] == "common" and summary.counts[0] == 100
    assert summary.other_count == 5100 - 100 - 49
    assert abs(summary.distinct_count - 5001) / 5001 < 4 * summary.distinct_count_error


def test_table_summary_from_pandas_polars_and_arrow_agree() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, None], "label": ["a", "b", "a"]})
    for table in (frame, pl.from_pandas(frame), pa.Table.from_pandas(frame), frame.to_dict("list")):
        summary = stats.summarize(table)
        assert list(summary) == ["x", "label"] and summary.row_count == 3
        assert summary["x"].missing_count == 1
        assert isinstance(summary["label"], CategoricalSummary) and summary["label"].as_dict() == {
            "a": 2,
            "b": 1,
        }


def test_empty_and_all_null_columns_have_defined_summaries() -> None:
    empty = stats.summarize_column(np.array([], dtype=np.float64))
    assert isinstance(empty, NumericSummary)
    assert (
        empty.finite_count == 0 and empty.mean is None and empty.std is None and empty.quantile(0.5) is None
    )
    all_null = stats.summarize(pd.DataFrame({"x": [None, None]}, dtype=object))
    assert all_null["x"].missing_count == 2
    reference = stats.summarize(pd.DataFrame({"x": ["a", "b"]}))
    assert isinstance(
        stats.summarize(pd.DataFrame({"x": [None, None]}), reference=reference)["x"], CategoricalSummary
    )


def test_bad_input_gets_errors_that_name_the_column() -> None:
    with pytest.raises(PlimsollStatsError, match=r"column 'mixed'.*mixes value types"):
        stats.summarize(pd.DataFrame({"mixed": [1, "a", 2.5]}))
    with pytest.raises(PlimsollStatsError, match="one dimension"):
        stats.summarize_column(np.zeros((2, 2)), name="matrix")
    with pytest.raises(PlimsollStatsError, match="expected a numpy array"):
        stats.summarize_column(42)
    with pytest.raises(PlimsollStatsError, match="max_bins"):
        stats.summarize_column(np.arange(3.0), max_bins=0)
    reference = stats.summarize(pd.DataFrame({"x": [1.0, 2.0]}))
    with pytest.raises(PlimsollStatsError, match=r"column 'x'.*reference summary is numeric"):
        stats.summarize(pd.DataFrame({"x": ["a", "b"]}), reference=reference)
    with pytest.raises(PlimsollStatsError, match="not in this summary"):
        reference["missing"]
    with pytest.raises(PlimsollStatsError, match="quantile"):
        stats.summarize_column(np.arange(3.0)).quantile(1.5)  # type: ignore[union-attr]

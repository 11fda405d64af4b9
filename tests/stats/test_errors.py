"""Every refusal of the statistics engine is one of its error types, naming the field and the limit,
and odd input of any shape gets one of them, never a bare numpy, pandas or Python exception (a
route that calls the engine would answer 500 with it)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plimsoll import stats
from plimsoll.core.errors import ERRORS_BY_CODE, InvalidParameter
from plimsoll.stats import (
    PlimsollStatsError,
    StatsCorruptSummary,
    StatsKindMismatch,
    StatsNotEnoughData,
    StatsOutOfRange,
    StatsShapeMismatch,
    StatsUnknownName,
    StatsUnreadableValues,
)

NUMBERS = np.linspace(0.0, 1.0, 60)
LABELS = np.array(["a", "b", "c"] * 20, dtype=object)
SCORES = np.linspace(0.01, 0.99, 60)
BINARY = (SCORES > 0.5).astype(int)
REFERENCE = stats.summarize({"x": NUMBERS, "c": LABELS})

Case = tuple[Callable[[], object], type[PlimsollStatsError], str, str | None]

CASES: dict[str, Case] = {
    "alpha": (lambda: stats.drift_test(NUMBERS, NUMBERS, alpha=0), StatsOutOfRange, "alpha", "(0, 1)"),
    "max_bins": (
        lambda: stats.summarize_column(NUMBERS, max_bins=0),
        StatsOutOfRange,
        "max_bins",
        "[1, 1000000]",
    ),
    "quantile": (lambda: stats.summarize_column(NUMBERS).quantile(2), StatsOutOfRange, "q", "[0, 1]"),  # type: ignore[union-attr]
    "n_resamples": (
        lambda: stats.drift_test(NUMBERS, NUMBERS, n_resamples=5),
        StatsOutOfRange,
        "n_resamples",
        "[20, 100000]",
    ),
    "confidence": (
        lambda: stats.estimate_performance(SCORES, BINARY, SCORES, confidence=1.0),
        StatsOutOfRange,
        "confidence",
        "(0, 1)",
    ),
    "label beyond the classes": (
        lambda: stats.estimate_performance(SCORES, BINARY * 2, SCORES),
        StatsOutOfRange,
        "reference_labels",
        "[0, 1]",
    ),
    "overflowing moments": (
        lambda: stats.drift_test(np.array([1e300, -1e300] * 30), NUMBERS),
        StatsOutOfRange,
        "columns.value",
        "a sum of squared deviations within float64 (|values| below about 1e154)",
    ),
    "min_auc": (
        lambda: stats.detect_multivariate_drift({"x": NUMBERS}, {"x": NUMBERS}, min_auc=0.2),
        StatsOutOfRange,
        "min_auc",
        "[0.5, 1)",
    ),
    "no summaries": (lambda: stats.merge([]), StatsNotEnoughData, "summaries", "at least 1 summary"),
    "no current rows": (
        lambda: stats.estimate_performance(SCORES, BINARY, np.zeros(0)),
        StatsNotEnoughData,
        "current_scores",
        "at least 1 row",
    ),
    "one class": (
        lambda: stats.estimate_performance(SCORES, np.zeros(60, dtype=int), SCORES),
        StatsNotEnoughData,
        "reference_labels",
        "at least 2 classes",
    ),
    "no finite values": (
        lambda: stats.drift_test(np.array([np.nan] * 5), NUMBERS),
        StatsNotEnoughData,
        "columns.value",
        "at least 1 of the finite values",
    ),
    "too few rows for a classifier": (
        lambda: stats.detect_multivariate_drift({"x": NUMBERS[:3]}, {"x": NUMBERS}),
        StatsNotEnoughData,
        "reference",
        "at least 10 rows",
    ),
    "ragged table": (
        lambda: stats.summarize({"x": NUMBERS, "y": NUMBERS[:10]}),
        StatsShapeMismatch,
        "columns.y",
        None,
    ),
    "two dimensions": (
        lambda: stats.summarize({"x": np.zeros((2, 2))}),
        StatsShapeMismatch,
        "columns.x",
        None,
    ),
    "labels of another length": (
        lambda: stats.estimate_performance(SCORES, BINARY[:10], SCORES),
        StatsShapeMismatch,
        "reference_labels",
        None,
    ),
    "numbers against labels": (
        lambda: stats.summarize({"x": LABELS, "c": LABELS}, reference=REFERENCE),
        StatsKindMismatch,
        "columns.x",
        None,
    ),
    "method for the other kind": (
        lambda: stats.drift_test(LABELS, LABELS, method="ks"),
        StatsKindMismatch,
        "columns.value",
        None,
    ),
    "mixed types": (
        lambda: stats.summarize_column(pd.Series([1, "a", 2.5], dtype=object)),
        StatsUnreadableValues,
        "columns.value",
        None,
    ),
    "not a table": (lambda: stats.summarize(42), StatsUnreadableValues, "table", None),
    "NaN scores": (
        lambda: stats.estimate_performance(SCORES, BINARY, np.full(60, np.nan)),
        StatsUnreadableValues,
        "current_scores",
        None,
    ),
    "unknown column": (lambda: REFERENCE["nope"], StatsUnknownName, "columns.nope", None),
    "unknown method": (
        lambda: stats.drift_test(NUMBERS, NUMBERS, method="magic"),
        StatsUnknownName,
        "columns.value",
        None,
    ),
    "unknown correction": (
        lambda: stats.effective_alpha([0.1], 0.05, correction="holm"),
        StatsUnknownName,
        "correction",
        None,
    ),
    "foreign bytes": (lambda: stats.from_bytes(b"GIF89a..."), StatsCorruptSummary, "data", None),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_each_problem_has_its_own_type_field_and_limit(case: str) -> None:
    call, problem, field, limit = CASES[case]
    with pytest.raises(PlimsollStatsError) as caught:
        call()
    error = caught.value
    assert type(error) is problem, error
    assert error.field == field and error.details["field"] == field
    assert error.limit == limit and error.details.get("limit") == limit
    assert isinstance(error, InvalidParameter) and isinstance(error, ValueError) and error.status == 400
    assert ERRORS_BY_CODE[error.code] is problem


def test_every_problem_type_is_exercised_here() -> None:
    problems = {cls for cls in ERRORS_BY_CODE.values() if issubclass(cls, PlimsollStatsError)}
    assert problems - {PlimsollStatsError} == {problem for _, problem, _, _ in CASES.values()}


def test_unknown_names_list_the_choices() -> None:
    with pytest.raises(StatsUnknownName) as caught:
        stats.effective_alpha([0.1], 0.05, correction="holm")
    assert caught.value.details["choices"] == ["bh", "bonferroni", "none"]
    with pytest.raises(StatsUnknownName) as caught:
        stats.compare(REFERENCE, REFERENCE, columns=["x", "y"])
    assert caught.value.details["choices"] == ["x", "c"]


# -- anything at all --------------------------------------------------------------------------------

_odd_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.binary(max_size=5),
    st.just(np.datetime64("2015-01-01")),
    st.just(object()),
)
_odd_columns = st.one_of(
    st.lists(_odd_scalars, max_size=12),
    st.lists(st.lists(_odd_scalars, max_size=3), max_size=4),  # ragged nesting
    st.builds(np.array, st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=12)),
    st.builds(lambda rows: np.zeros((rows, 2)), st.integers(0, 3)),
    st.builds(
        lambda xs: pa.array(xs, type=pa.string()),
        st.lists(st.one_of(st.none(), st.text(max_size=3)), max_size=8),
    ),
    st.builds(lambda xs: pd.Series(xs, dtype="category"), st.lists(st.sampled_from(["a", "b"]), max_size=8)),
    _odd_scalars,
)


def _engine_calls(column: Any, other: Any) -> list[Callable[[], object]]:
    return [
        lambda: stats.summarize_column(column),
        lambda: stats.summarize({"a": column, "b": other}),
        lambda: stats.drift_test(column, other),
        lambda: stats.compare({"a": column}, {"a": other}),
        lambda: stats.estimate_performance(column, other, column),
        lambda: stats.detect_multivariate_drift({"a": column}, {"a": other}),
    ]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(column=_odd_columns, other=_odd_columns)
def test_odd_input_of_any_shape_gets_an_engine_error_or_an_answer(column: Any, other: Any) -> None:
    for call in _engine_calls(column, other):
        try:
            call()
        except PlimsollStatsError as error:
            assert error.field and error.message
        except Exception as error:  # what a route would turn into a 500
            pytest.fail(f"{type(error).__name__} escaped the engine: {error}")


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=64), keep=st.integers(0, 400))
def test_damaged_summary_bytes_are_a_corrupt_summary(data: bytes, keep: int) -> None:
    good = stats.to_bytes(REFERENCE)
    for damaged in (data, good[:keep], good[:keep] + data + good[keep + len(data) :]):
        with contextlib.suppress(StatsCorruptSummary):  # else it read as a summary: fine too
            stats.from_bytes(damaged)

"""The O(n) histogram and the sampled reference edges against a plain sort of the same values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from plimsoll.stats import NumericSummary
from plimsoll.stats._binning import histogram, slots
from plimsoll.stats._edges import SAMPLE_SIZE
from plimsoll.stats.summaries import numeric_summary

# Past this many values ``slots`` uses its grid rather than a binary search per value.
GRID_SIZE = 25_000

any_float = st.floats(allow_nan=True, allow_infinity=True)
# Magnitudes from subnormal to near the float64 limit, and a few values repeated many times.
pools = st.lists(any_float, min_size=1, max_size=30)


@st.composite
def columns(draw: st.DrawFn, size: int | None = None) -> NDArray[np.float64]:
    pool = draw(pools)
    values = draw(st.lists(st.one_of(st.sampled_from(pool), any_float), max_size=200))
    column = np.array(values, dtype=np.float64)
    if size is not None and column.size:
        column = np.resize(column, size)
        np.random.default_rng(column.size).shuffle(column)
    return column


@st.composite
def edge_sets(draw: st.DrawFn, column: NDArray[np.float64]) -> NDArray[np.float64]:
    """Strictly increasing finite edges: some of the column's own values, some others."""
    own = column[np.isfinite(column)][: draw(st.integers(0, 20))]
    others = draw(st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=40))
    return np.unique(np.concatenate([own, np.array(others, dtype=np.float64)]))


def sorted_histogram(values: NDArray[np.float64], edges: NDArray[np.float64]) -> tuple[list[int], list[int]]:
    """What the engine computed before: sort, then search the edges among the sorted values."""
    ordered = np.sort(values[np.isfinite(values)])
    at_or_below = np.searchsorted(ordered, edges, side="right")
    counts = np.diff(at_or_below, prepend=0, append=ordered.size)
    return counts.tolist(), (at_or_below - np.searchsorted(ordered, edges, side="left")).tolist()


def sorted_edges(values: NDArray[np.float64], max_bins: int) -> NDArray[np.float64]:
    ordered = np.sort(values[np.isfinite(values)])
    distinct = np.unique(ordered)
    if distinct.size <= max_bins:
        return distinct
    positions = (np.arange(1, max_bins + 1) * ordered.size) // max_bins - 1
    return np.unique(np.concatenate(([ordered[0]], ordered[positions])))


def assert_moments_match(summary: NumericSummary, values: NDArray[np.float64]) -> None:
    finite = values[np.isfinite(values)]
    assert summary.finite_count == finite.size
    assert summary.nan_count == int(np.isnan(values).sum())
    assert summary.posinf_count == int((values == np.inf).sum())
    assert summary.neginf_count == int((values == -np.inf).sum())
    if finite.size == 0:
        assert summary.mean is None and summary.minimum is None
        return
    assert summary.minimum == finite.min() and summary.maximum == finite.max()
    scale = max(abs(float(finite.min())), abs(float(finite.max())), 1.0)
    mean = math.fsum(finite / scale) / finite.size * scale
    assert summary.mean is not None
    assert math.isclose(summary.mean, mean, rel_tol=1e-9, abs_tol=scale * 1e-12)
    # In units of scale**2, where each deviation carries a rounding error of a few 1e-16.
    expected = math.fsum((((finite / scale) - mean / scale) ** 2).tolist())
    if expected * scale * scale < 1e300:
        slack = 1e-14 * math.sqrt(finite.size * expected) + finite.size * 1e-28
        actual = summary.sum_squared_deviations / scale / scale
        assert math.isclose(actual, expected, rel_tol=1e-9, abs_tol=slack)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), size=st.sampled_from([None, GRID_SIZE]))
def test_a_window_on_given_edges_counts_exactly_what_a_sort_counts(
    data: st.DataObject, size: int | None
) -> None:
    values = data.draw(columns(size))
    edges = data.draw(edge_sets(values))
    summary = numeric_summary(values, edges=edges)
    assert (summary.counts.tolist(), summary.edge_counts.tolist()) == sorted_histogram(values, edges)
    assert_moments_match(summary, values)


@settings(max_examples=150, deadline=None)
@given(values=columns(), max_bins=st.integers(1, 64))
def test_a_small_reference_gets_the_exact_edges_of_a_sort(values: NDArray[np.float64], max_bins: int) -> None:
    summary = numeric_summary(values, max_bins=max_bins)
    assert summary.edges.tolist() == sorted_edges(values, max_bins).tolist()
    assert (summary.counts.tolist(), summary.edge_counts.tolist()) == sorted_histogram(values, summary.edges)
    assert_moments_match(summary, values)


@settings(max_examples=60, deadline=None)
@given(values=columns(SAMPLE_SIZE + 5_000), max_bins=st.integers(1, 64))
def test_a_large_reference_keeps_every_distinct_value_and_counts_exactly(
    values: NDArray[np.float64], max_bins: int
) -> None:
    summary = numeric_summary(values, max_bins=max_bins)
    finite = values[np.isfinite(values)]
    edges = summary.edges
    assert (summary.counts.tolist(), summary.edge_counts.tolist()) == sorted_histogram(values, edges)
    if np.unique(finite).size <= max_bins:
        assert edges.tolist() == np.unique(finite).tolist()
    else:
        assert np.all(np.diff(edges) > 0) and edges.size <= max_bins + 1
        assert edges[0] == finite.min() and edges[-1] == finite.max()
    assert_moments_match(summary, values)


def test_distinct_values_the_sample_missed_still_become_edges() -> None:
    common = np.repeat(np.arange(100, dtype=np.float64), 3_000)
    rare = np.array([0.5, 1e9, -7.25, 42.125, 3e-300])
    values = np.concatenate([common, rare])
    np.random.default_rng(1).shuffle(values)
    summary = numeric_summary(values, max_bins=105)
    assert summary.edges.tolist() == np.unique(values).tolist()
    assert int(summary.edge_counts.sum()) == values.size and summary.rank_error == 3_000 / values.size


def test_a_large_reference_is_the_same_summary_every_time() -> None:
    values = np.random.default_rng(2).lognormal(size=200_000)
    first, second = numeric_summary(values), numeric_summary(values.copy())
    assert first.edges.tolist() == second.edges.tolist() and first.counts.tolist() == second.counts.tolist()


def quantile_edges(values: NDArray[np.float64], bins: int = 2048) -> NDArray[np.float64]:
    ordered = np.sort(values)
    return np.unique(ordered[(np.arange(1, bins + 1) * ordered.size) // bins - 1])


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("normal", np.random.default_rng(0).normal(size=100_000)),
        ("pareto", np.random.default_rng(0).pareto(0.5, size=100_000)),
        ("cauchy", np.random.default_rng(0).standard_cauchy(size=100_000)),
        ("nanoseconds", 1.7e18 + np.random.default_rng(0).normal(0, 1e12, size=100_000)),
        ("log-uniform", np.exp(np.random.default_rng(0).uniform(-690, 690, size=100_000))),
        (
            "wider than float64",
            np.random.default_rng(0).choice([-1.7e308, -1.0, 0.0, 1e-300, 1.7e308], 100_000),
        ),
    ],
)
def test_slots_agree_with_a_binary_search_on_skewed_edges(name: str, values: NDArray[np.float64]) -> None:
    edges = quantile_edges(values)
    window = np.concatenate([values[::-1], edges, np.nextafter(edges, np.inf), np.nextafter(edges, -np.inf)])
    positions = np.searchsorted(edges, window, side="left")
    on_edge = np.append(edges, np.inf)[positions] == window
    assert np.array_equal(slots(window, edges), 2 * positions + on_edge), name


@pytest.mark.parametrize("name", ["normal", "log-normal", "integers", "pareto"])
def test_the_sort_and_the_grid_count_the_same_whichever_this_machine_prefers(name: str) -> None:
    rng = np.random.default_rng(3)
    values = {
        "normal": rng.standard_normal(120_000),
        "log-normal": rng.lognormal(0.0, 2.0, 120_000),
        "integers": rng.integers(-50, 50, 120_000).astype(np.float64),
        "pareto": rng.pareto(1.1, 120_000),
    }[name]
    edges = np.unique(np.quantile(values[:5_000], np.linspace(0, 1, 700)))
    by_grid = histogram(values, edges, by_sort=False)
    by_sort = histogram(values, edges, by_sort=True)
    assert (
        [a.tolist() for a in by_grid]
        == [b.tolist() for b in by_sort]
        == list(sorted_histogram(values, edges))
    )

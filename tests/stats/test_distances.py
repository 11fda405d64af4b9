"""Raw-sample statistics agree with scipy to 1e-9; binned ones stay within their stated bound."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from scipy.spatial.distance import jensenshannon

from plimsoll import stats
from plimsoll.stats import binned
from plimsoll.stats.summaries import NumericSummary


def _pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    return [
        (rng.normal(size=800), rng.normal(0.2, 1.3, size=600)),
        (rng.exponential(size=300), rng.exponential(1.1, size=2000)),
        (rng.integers(0, 6, 500).astype(float), rng.integers(0, 7, 450).astype(float)),
        (rng.standard_t(2, size=50), rng.standard_t(2, size=70)),
    ]


def _real_pairs(flights: tuple[pd.DataFrame, pd.DataFrame]) -> list[tuple[np.ndarray, np.ndarray]]:
    first, second = flights
    return [
        (first[c].dropna().to_numpy(float), second[c].dropna().to_numpy(float))
        for c in ("DEPARTURE_DELAY", "TAXI_OUT", "AIR_TIME", "DISTANCE")
    ]


def _check_against_scipy(reference: np.ndarray, current: np.ndarray) -> None:
    expected = scipy_stats.ks_2samp(reference, current, method="asymp")
    statistic = stats.ks_statistic(reference, current)
    assert statistic == pytest.approx(expected.statistic, abs=1e-9)
    sizes = (reference.size, current.size)
    assert stats.ks_p_value(statistic, *sizes, method="asymp") == pytest.approx(expected.pvalue, abs=1e-9)
    # scipy's default ("auto": exact when the larger sample has at most 10,000 values) is ours too.
    default = scipy_stats.ks_2samp(reference, current).pvalue
    assert stats.ks_p_value(statistic, *sizes) == pytest.approx(default, abs=1e-9)
    assert stats.drift_test(reference, current, method="ks").p_value == pytest.approx(default, abs=1e-9)
    assert stats.wasserstein_distance(reference, current) == pytest.approx(
        scipy_stats.wasserstein_distance(reference, current), rel=1e-9, abs=1e-12
    )
    assert stats.energy_distance(reference, current) == pytest.approx(
        scipy_stats.energy_distance(reference, current), rel=1e-9, abs=1e-12
    )


def test_raw_statistics_agree_with_scipy_on_random_data() -> None:
    for reference, current in _pairs():
        _check_against_scipy(reference, current)


def test_raw_statistics_agree_with_scipy_on_real_flights(flights: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    for reference, current in _real_pairs(flights):
        # The finite-size KS distribution scipy uses is slow at 50k x 50k; 5k windows keep this quick.
        _check_against_scipy(reference[:5000], current[:5000])


def test_limiting_ks_p_value_is_never_smaller_and_close_above_the_finite_limit() -> None:
    # Measured: above 10,000 the limiting distribution exceeds the finite-size one by at most 0.0028
    # in p-value (at 10,001; 0.0009 at 100,000), and by at most 1.6 % of the finite-size p-value.
    size = 10_001
    for statistic in np.linspace(0.1, 2.2, 12) / np.sqrt(size):
        finite = stats.ks_p_value(statistic, 2 * size, 2 * size, method="asymp")
        limiting = stats.ks_p_value(statistic, 2 * size, 2 * size, method="asymp", finite_limit=10_000)
        assert finite - 1e-12 <= limiting <= finite + 0.003


def test_exact_ks_p_values_are_uniform_or_larger_for_small_unbalanced_samples() -> None:
    rng = np.random.default_rng(3)
    p_values = np.array(
        [
            stats.drift_test(rng.normal(size=12), rng.normal(size=400), method="ks").p_value
            for _ in range(3000)
        ]
    )
    for level in (0.01, 0.05, 0.1):
        share = float(np.mean(p_values <= level))
        assert share <= scipy_stats.binom.ppf(0.999, p_values.size, level) / p_values.size, (level, share)


def test_jensen_shannon_and_chi_square_agree_with_scipy(flights: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    first, second = flights
    table = (
        pd.crosstab(
            pd.concat([first["AIRLINE"], second["AIRLINE"]]),
            np.r_[np.zeros(len(first)), np.ones(len(second))],
        )
        .to_numpy()
        .T
    )
    expected = scipy_stats.chi2_contingency(table, correction=False)
    statistic, dof = stats.chi_square(table)
    assert statistic == pytest.approx(expected.statistic, rel=1e-9) and dof == expected.dof
    assert stats.jensen_shannon_distance(table[0], table[1]) == pytest.approx(
        jensenshannon(table[0], table[1], base=2), abs=1e-9
    )
    rng = np.random.default_rng(2)
    for _ in range(20):
        counts = rng.integers(0, 30, size=(2, 6))
        counts[:, rng.integers(0, 6)] = 0  # an empty category must be dropped, not divide by zero
        counts[0, 0] += 1
        counts[1, 1] += 1
        expected = scipy_stats.chi2_contingency(counts[:, counts.sum(axis=0) > 0], correction=False)
        statistic, dof = stats.chi_square(counts)
        assert statistic == pytest.approx(expected.statistic, rel=1e-9) and dof == expected.dof
        assert stats.jensen_shannon_distance(counts[0], counts[1]) == pytest.approx(
            jensenshannon(counts[0], counts[1], base=2), abs=1e-9
        )


def test_psi_matches_its_textbook_formula() -> None:
    p, q = np.array([50.0, 30.0, 20.0, 0.0]), np.array([40.0, 30.0, 25.0, 5.0])
    ps, qs = np.maximum(p / p.sum(), 1e-4), np.maximum(q / q.sum(), 1e-4)
    assert stats.psi(p, q) == pytest.approx(float(np.sum((qs - ps) * np.log(qs / ps))), rel=1e-12)
    assert stats.psi(p, p) == 0.0


@pytest.mark.parametrize("max_bins", [64, 2048])
def test_binned_statistics_are_within_their_bound_of_the_exact_ones(max_bins: int) -> None:
    for reference, current in _pairs():
        ref = stats.summarize_column(reference, max_bins=max_bins)
        cur = stats.summarize_column(current, reference=ref)
        assert isinstance(ref, NumericSummary) and isinstance(cur, NumericSummary)
        pair = binned.pair(ref, cur)
        exact_ks = stats.ks_statistic(reference, current)
        assert (
            abs(float(binned.ks(pair.reference_cells, pair.current_cells)) - exact_ks)
            <= binned.ks_bound(pair) + 1e-12
        )
        exact_w = stats.wasserstein_distance(reference, current)
        approx_w = float(binned.wasserstein(pair.reference_cells, pair.current_cells, pair.widths))
        assert abs(approx_w - exact_w) <= binned.wasserstein_bound(pair) + 1e-9
        exact_e = stats.energy_distance(reference, current)
        approx_e = float(binned.energy(pair.reference_cells, pair.current_cells, pair.widths))
        assert abs(approx_e - exact_e) <= binned.energy_bound(pair) + 1e-9


def test_discrete_data_makes_binned_statistics_exact() -> None:
    reference, current = _pairs()[2]
    ref = stats.summarize_column(reference)
    cur = stats.summarize_column(current[current <= 5], reference=ref)
    assert isinstance(ref, NumericSummary) and isinstance(cur, NumericSummary)
    pair = binned.pair(ref, cur)
    assert binned.ks_bound(pair) == 0.0
    assert float(binned.ks(pair.reference_cells, pair.current_cells)) == pytest.approx(
        stats.ks_statistic(reference, current[current <= 5]), abs=1e-12
    )
    assert float(binned.wasserstein(pair.reference_cells, pair.current_cells, pair.widths)) == pytest.approx(
        stats.wasserstein_distance(reference, current[current <= 5]), abs=1e-12
    )

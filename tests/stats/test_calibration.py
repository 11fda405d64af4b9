"""The resampled null behind the distance thresholds (``calibration.py``).

P-values are Monte Carlo ones read off multinomial draws from the reference's cells, critical values
are the matching order statistics, and the number of draws follows the smallest level that may be
tested. The false-alarm rates these give are checked in ``test_false_alarms.py``.
"""

from __future__ import annotations

import numpy as np
import pytest

from plimsoll import stats
from plimsoll.stats import binned
from plimsoll.stats.calibration import MAX_CELL_DRAWS, TAIL_DRAWS, NullTail, null_tail, resample_count


def _pair(seed: int = 0, bins: int = 256) -> binned.BinnedPair:
    rng = np.random.default_rng(seed)
    reference = stats.summarize_column(rng.lognormal(size=2000), max_bins=bins)
    current = stats.summarize_column(rng.lognormal(size=600), reference=reference)
    assert isinstance(reference, stats.NumericSummary) and isinstance(current, stats.NumericSummary)
    return binned.pair(reference, current)


def _wasserstein_tail(level: float | None, n_resamples: int = 100) -> NullTail:
    pair = _pair()
    n, m = pair.sizes
    return null_tail(
        lambda a, b: binned.wasserstein(a, b, pair.widths),
        pair.reference_cells,
        n,
        m,
        n_resamples=n_resamples,
        rng=np.random.default_rng(1),
        tail_level=level,
    )


def test_critical_values_and_p_values_agree_at_every_level() -> None:
    tail = _wasserstein_tail(0.025)
    assert tail.resamples == TAIL_DRAWS / 0.025
    for alpha in (0.5, 0.1, 0.05, 0.025, 0.011, 0.005, 1e-4, 1e-9):
        critical = tail.critical_value(alpha)
        assert tail.p_value(critical * (1 + 1e-9)) <= alpha, alpha
        assert tail.p_value(critical * (1 - 1e-9)) > alpha, alpha


def test_p_values_are_the_monte_carlo_ones_inside_the_draws() -> None:
    tail = _wasserstein_tail(0.05)
    values = tail.values
    for statistic in np.quantile(values, [0.1, 0.5, 0.9, 0.97]):
        expected = (1 + np.count_nonzero(values >= statistic)) / (values.size + 1)
        assert tail.p_value(float(statistic)) == pytest.approx(expected, rel=1e-12)
    # Far beyond every draw the exponential tail gives small, decreasing, positive p-values.
    far = [tail.p_value(values[-1] * factor) for factor in (1.5, 2.0, 4.0)]
    assert 0 < far[2] < far[1] < far[0] < 10 / (values.size + 1)


def test_resamples_follow_the_smallest_testable_level_within_the_budget() -> None:
    assert resample_count(200, 0.05, 513) == 400
    assert resample_count(200, 0.2, 513) == 200  # n_resamples is a minimum
    assert resample_count(200, 0.0025, 11) == 8000
    assert resample_count(200, 0.0025, 4097) == MAX_CELL_DRAWS // 4097
    assert resample_count(200, 1e-9, 3) == 100_000
    rng = np.random.default_rng(2)
    frame = {f"c{i}": rng.normal(size=3000) for i in range(20)}
    shifted = {name: values + 1.0 for name, values in frame.items()}
    psi = {name: "psi" for name in frame}
    report = stats.compare(frame, shifted, alpha=0.05, methods=psi)
    assert {result.details["resamples"] for result in report.columns.values()} == {8000.0}
    # A statistic that 20 null draws reach cannot be flagged: drawing stops there (Besag-Clifford).
    quiet = stats.compare(frame, frame, alpha=0.05, methods=psi)
    assert all(result.details["resamples"] < 8000 for result in quiet.columns.values())
    assert not quiet.drifted


@pytest.mark.parametrize("method", ["wasserstein", "energy"])
def test_raw_arrays_and_summaries_get_the_same_calibrated_threshold(method: str) -> None:
    rng = np.random.default_rng(3)
    # A shifted current, so that neither run stops drawing early and both draw the same null.
    reference, current = rng.standard_t(3, size=5000), rng.standard_t(3, size=700) + 0.5
    raw = stats.drift_test(reference, current, method=method, min_effect=0.0)
    ref = stats.summarize_column(reference)
    binned_result = stats.drift_test(
        ref, stats.summarize_column(current, reference=ref), method=method, min_effect=0.0
    )
    assert raw.threshold == binned_result.threshold
    assert raw.details["resamples"] == binned_result.details["resamples"]
    assert raw.error_bound == 0.0 and binned_result.error_bound > 0.0
    assert abs(raw.statistic - binned_result.statistic) <= binned_result.error_bound


def test_a_constant_reference_has_a_point_null() -> None:
    same = stats.drift_test(np.full(500, 3.0), np.full(200, 3.0), method="wasserstein")
    moved = stats.drift_test(np.full(500, 3.0), np.full(200, 4.0), method="wasserstein", min_effect=0.0)
    assert not same.drifted and same.p_value == 1.0
    assert moved.drifted and moved.p_value < 1e-6

"""On data without drift, the share of comparisons raising any alarm stays at or below alpha.

Each test runs R seeded comparisons of windows drawn from the reference distribution and counts those
with at least one drifted column. Tolerance: the observed share must not exceed the 99.9 % quantile of
Binomial(R, alpha) / R, i.e. what a procedure whose true rate is exactly alpha would exceed once in a
thousand runs. That still catches the failures that matter: without multiple-testing control, eight
columns at alpha = 0.1 alarm in 1 - 0.9**8 = 57 % of comparisons. ``min_effect=0`` everywhere, so the
thresholds rest on the calibrated critical values alone (the practical floor would hide a bad null).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from plimsoll import stats

ALPHA = 0.1


def _tolerance(runs: int) -> float:
    return float(scipy_stats.binom.ppf(0.999, runs, ALPHA)) / runs


def _population(rng: np.random.Generator, size: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "normal": rng.normal(size=size),
            "skewed": rng.lognormal(size=size),
            "heavy": rng.standard_t(3, size=size),
            "counts": rng.poisson(3.0, size=size).astype(float),
            "flag": (rng.random(size) < 0.2).astype(float),
            "uniform": rng.random(size),
            "label": rng.choice(list("abcdefg"), size=size, p=[0.4, 0.2, 0.15, 0.1, 0.08, 0.05, 0.02]),
            "rare": rng.choice(["x", "y", "z"], size=size, p=[0.9, 0.09, 0.01]),
        }
    )


def _alarm_share(
    reference: stats.TableSummary, windows: list[pd.DataFrame], **options: object
) -> tuple[float, int]:
    alarms = 0
    for window in windows:
        report = stats.compare(reference, stats.summarize(window, reference=reference), **options)  # type: ignore[arg-type]
        alarms += report.drifted
    return alarms / len(windows), len(windows)


@pytest.mark.parametrize("correction", ["bh", "bonferroni"])
def test_default_tests_keep_false_alarms_at_alpha(correction: str) -> None:
    rng = np.random.default_rng(11)
    reference = stats.summarize(_population(rng, 3000), max_bins=512)
    windows = [_population(rng, int(rng.integers(80, 1500))) for _ in range(300)]
    no_floor = {name: 0.0 for name in reference}
    share, runs = _alarm_share(reference, windows, alpha=ALPHA, correction=correction, min_effect=no_floor)
    assert share <= _tolerance(runs), f"{share:.3f} of comparisons alarmed"


def test_without_correction_the_alarm_rate_would_be_far_above_alpha() -> None:
    rng = np.random.default_rng(12)
    reference = stats.summarize(_population(rng, 3000), max_bins=512)
    windows = [_population(rng, 500) for _ in range(100)]
    no_floor = {name: 0.0 for name in reference}
    share, _ = _alarm_share(reference, windows, alpha=ALPHA, correction="none", min_effect=no_floor)
    assert share > 0.3  # the control above is doing real work


@pytest.mark.parametrize("method", ["wasserstein", "energy", "psi", "js"])
def test_calibrated_distance_thresholds_keep_false_alarms_at_alpha(method: str) -> None:
    rng = np.random.default_rng(13)
    numeric = ["normal", "skewed", "heavy", "uniform"]
    reference = stats.summarize(_population(rng, 2000)[numeric], max_bins=256)
    windows = [_population(rng, int(rng.integers(100, 1000)))[numeric] for _ in range(150)]
    share, runs = _alarm_share(
        reference,
        windows,
        alpha=ALPHA,
        methods={name: method for name in numeric},
        min_effect={name: 0.0 for name in numeric},
        n_resamples=100,
    )
    assert share <= _tolerance(runs), f"{method}: {share:.3f} of comparisons alarmed"


def test_windows_of_the_real_flights_reference_raise_no_more_alarms_than_alpha(
    flights: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    # Each comparison draws a fresh disjoint (reference, window) split of the first half of 2015. Windows
    # taken from one fixed left-over pool would all share that pool's own sampling offset from the
    # reference, and the alarm rate would then measure that single offset, not the procedure.
    first, _ = flights
    rng = np.random.default_rng(6)
    runs = 200
    alarms = default_alarms = 0
    for _ in range(runs):
        order = rng.permutation(len(first))
        reference = stats.summarize(first.iloc[order[:20_000]])
        window = stats.summarize(first.iloc[order[20_000:21_000]], reference=reference)
        no_floor = {name: 0.0 for name in reference}
        alarms += stats.compare(reference, window, alpha=ALPHA, min_effect=no_floor).drifted
        default_alarms += stats.compare(reference, window, alpha=ALPHA).drifted
    assert alarms / runs <= _tolerance(runs), f"{alarms / runs:.3f} of flight windows alarmed"
    assert default_alarms <= alarms

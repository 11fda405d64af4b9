"""The label-free band as a prediction interval, backtested on real data (docs/statistics.md,
"Backtest of the band"): the California housing reference, split at random into a calibration half
and a held-out half, a new split for each 1,000-row window drawn from the held-out half, untilted
and tilted on the score (a covariate shift of known size that keeps P(label | score)).

The floors here are what the band achieves today, below its 95 % for ROC AUC on tilted windows;
issue 12 stays open until they reach the stated level (the note says what is missing).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plimsoll import stats

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")


def _backtest(
    reference: pd.DataFrame, betas: tuple[float, ...], splits: int, seed: int
) -> dict[str, list[bool]]:
    rng = np.random.default_rng(seed)
    covered: dict[str, list[bool]] = {name: [] for name in METRICS}
    for beta in betas:
        for _ in range(splits):
            order = rng.permutation(len(reference))
            fit, held = reference.iloc[order[: len(order) // 2]], reference.iloc[order[len(order) // 2 :]]
            score = held["y_pred_proba"].to_numpy()
            weights = np.exp(beta * (score - score.mean()) / score.std())
            window = held.iloc[rng.choice(len(held), 1000, replace=False, p=weights / weights.sum())]
            estimate = stats.estimate_performance(
                fit["y_pred_proba"],
                fit["clf_target"],
                window["y_pred_proba"],
                current_labels=window["clf_target"],
                threshold=0.8,
            )
            for name in METRICS:
                metric = estimate.metrics[name]
                assert metric.lower is not None and metric.upper is not None and metric.realized is not None
                covered[name].append(metric.lower <= metric.realized <= metric.upper)
    return covered


@pytest.mark.slow
def test_the_band_covers_realised_metrics_on_real_windows(housing: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, _analysis = housing
    untilted = _backtest(reference, (0.0,), splits=16, seed=11)
    for name in METRICS:
        assert np.mean(untilted[name]) >= 0.9, (name, np.mean(untilted[name]))
    tilted = _backtest(reference, (-1.0, 1.0), splits=8, seed=12)
    for name in ("accuracy", "precision", "recall", "f1"):
        assert np.mean(tilted[name]) >= 0.9, (name, np.mean(tilted[name]))
    assert np.mean(tilted["roc_auc"]) >= 0.75  # short of 0.95 today: see the module docstring

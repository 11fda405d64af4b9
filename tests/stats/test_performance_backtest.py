"""The label-free band as a prediction interval, backtested (docs/statistics.md, "Backtest of the band").

Three backtests: simulated covariate shifts of known size (the truth is known); the California housing
reference, split at random into a calibration half and a held-out half, with windows drawn from the
held-out half untilted and tilted on the score (a covariate shift that keeps P(label | score)); and
flight delays, a model trained on the first half of 2015 judged month by month on the second half
(real seasonal drift, some of it concept drift).

Floors: a correct 95 % band covers each of n windows with probability 0.95, so its coverage count is
Binomial(n, 0.95) when the windows are independent. Each floor is the 1 % quantile of that count
over n: a correct band fails it with probability about 1 %. Windows that share a reference share its
calibration error, which spreads the count a little more than the binomial; the floors do not allow
for that, so they are, if anything, strict.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from plimsoll import stats

METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc")
Window = tuple[np.ndarray, np.ndarray]


def _floor(windows: int) -> float:
    """Coverage a correct 95 % band falls below with probability about 1 % over ``windows`` windows."""
    return float(scipy_stats.binom.ppf(0.01, windows, 0.95)) / windows


def _covered(estimate: stats.PerformanceEstimate) -> dict[str, bool]:
    covered = {}
    for name in METRICS:
        metric = estimate.metrics[name]
        assert metric.lower is not None and metric.upper is not None and metric.realized is not None
        covered[name] = metric.lower <= metric.realized <= metric.upper
    return covered


def _assert_coverage(windows: Iterable[dict[str, bool]], label: str) -> None:
    outcomes = list(windows)
    floor = _floor(len(outcomes))
    for name in METRICS:
        coverage = float(np.mean([outcome[name] for outcome in outcomes]))
        assert coverage >= floor, (label, name, coverage, floor)


def _simulated(rng: np.random.Generator, size: int, shift: float) -> Window:
    """Scores of a calibrated model, slightly noisy, with the feature that drives the label shifted."""
    feature = rng.normal(shift, 1.0, size)
    probability = 1 / (1 + np.exp(-2 * feature))
    labels = (rng.random(size) < probability).astype(int)
    return np.clip(probability + rng.normal(0, 0.02, size), 0, 1), labels


@pytest.mark.slow
def test_the_band_covers_realised_metrics_under_simulated_shifts() -> None:
    # 8 references of 3,000 rows x shifts of -0.6, 0, +0.6 x 2 windows of 1,000 rows: 48 windows.
    rng = np.random.default_rng(21)
    outcomes = []
    for _ in range(8):
        reference_scores, reference_labels = _simulated(rng, 3000, 0.0)
        for shift in (-0.6, 0.0, 0.6):
            for _ in range(2):
                scores, labels = _simulated(rng, 1000, shift)
                estimate = stats.estimate_performance(
                    reference_scores, reference_labels, scores, current_labels=labels
                )
                outcomes.append(_covered(estimate))
    _assert_coverage(outcomes, "simulated shifts")


@pytest.mark.slow
def test_the_band_covers_realised_metrics_on_real_windows(housing: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    # 12 random splits of the reference; from each held-out half one 1,000-row window untilted and
    # two tilted on the score, w ~ exp(beta * z) with beta = -1 and +1.
    reference, _analysis = housing
    rng = np.random.default_rng(11)
    outcomes: dict[float, list[dict[str, bool]]] = {-1.0: [], 0.0: [], 1.0: []}
    for _ in range(12):
        order = rng.permutation(len(reference))
        fit, held = reference.iloc[order[: len(order) // 2]], reference.iloc[order[len(order) // 2 :]]
        score = held["y_pred_proba"].to_numpy()
        for beta, found in outcomes.items():
            weights = np.exp(beta * (score - score.mean()) / score.std())
            window = held.iloc[rng.choice(len(held), 1000, replace=False, p=weights / weights.sum())]
            estimate = stats.estimate_performance(
                fit["y_pred_proba"],
                fit["clf_target"],
                window["y_pred_proba"],
                current_labels=window["clf_target"],
                threshold=0.8,
            )
            found.append(_covered(estimate))
    _assert_coverage(outcomes[0.0], "untilted")
    _assert_coverage(outcomes[-1.0] + outcomes[1.0], "tilted on the score")


def _flight_features(flights: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """What is known before departure (airline, distance, day of the week), the label "departed more
    than 15 minutes late", and the month; cancelled flights have no departure and are left out. The
    airline column must be categorical with the same categories in every frame."""
    departed = flights[flights["DEPARTURE_DELAY"].notna()]
    date = pd.to_datetime(departed["DATE"])
    features = pd.DataFrame(
        {
            "airline": departed["AIRLINE"],
            "distance": departed["DISTANCE"],
            "weekday": date.dt.day_of_week,
        }
    )
    late = (departed["DEPARTURE_DELAY"] > 15).to_numpy(dtype=int)
    return features, late, date.dt.month.to_numpy()


@pytest.mark.slow
def test_flight_delay_band_holds_where_the_engine_does_not_flag_concept_drift(
    flights: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    first, second = flights
    airlines = sorted(set(first["AIRLINE"]) | set(second["AIRLINE"]))
    first = first.assign(AIRLINE=pd.Categorical(first["AIRLINE"], categories=airlines))
    second = second.assign(AIRLINE=pd.Categorical(second["AIRLINE"], categories=airlines))
    features, late, _ = _flight_features(first)
    # H1 at random: 40 % trains the model, 40 % is the reference, 20 % makes four control windows
    # from the reference's own distribution.
    part = np.random.default_rng(0).random(len(late))
    train, held, control = part < 0.4, (part >= 0.4) & (part < 0.8), part >= 0.8
    model = HistGradientBoostingClassifier(max_iter=100, categorical_features="from_dtype", random_state=0)
    model.fit(features[train], late[train])
    reference_scores = model.predict_proba(features[held])[:, 1]
    threshold = float(np.quantile(reference_scores, 0.8))  # the fifth of flights most likely late
    control_scores, control_labels = model.predict_proba(features[control])[:, 1], late[control]
    quarter = np.arange(len(control_labels)) % 4
    windows = {
        f"H1 control {q}": (control_scores[quarter == q], control_labels[quarter == q]) for q in range(4)
    }
    later, later_late, months = _flight_features(second)
    later_scores = model.predict_proba(later)[:, 1]
    windows |= {f"2015-{m:02d}": (later_scores[months == m], later_late[months == m]) for m in range(7, 13)}
    flagged, unflagged = [], []
    for name, (scores, labels) in windows.items():
        estimate = stats.estimate_performance(
            reference_scores,
            late[held],
            scores,
            current_labels=labels,
            threshold=threshold,
            # Any calibration change label noise cannot explain, however small: at 8,000 rows a
            # month's band is about +-0.01, far below the default floor of 0.05.
            max_calibration_error=0.0,
        )
        assert not any("on the reference" in warning for warning in estimate.warnings), (
            name,
            estimate.warnings,
        )
        (unflagged if estimate.reliable else flagged).append((name, _covered(estimate)))
    # Autumn's delay rate (12-14 % against H1's 18 %) changes P(late | score): concept drift.
    assert {"2015-09", "2015-10", "2015-11"} <= {name for name, _ in flagged}
    assert len(unflagged) >= 4, flagged
    _assert_coverage((covered for _, covered in unflagged), "flights the engine did not flag")

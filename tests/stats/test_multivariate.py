from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from plimsoll import stats
from plimsoll.stats import PlimsollStatsError


def test_domain_classifier_separates_the_flight_halves(flights: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    first, second = flights
    columns = ["AIRLINE", "DEPARTURE_DELAY", "TAXI_OUT", "AIR_TIME", "DISTANCE", "CANCELLED"]
    result = stats.detect_multivariate_drift(first[columns], second[columns], max_rows=1500, n_splits=3)
    assert result.drifted and result.auc > result.threshold >= 0.55
    assert result.top_features[0][0] == "AIRLINE"
    assert result.to_dict()["top_features"][0][0] == "AIRLINE"


def test_domain_classifier_does_not_alarm_on_two_halves_of_one_sample(
    flights: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    first, _ = flights
    shuffled = first.drop(columns=["DATE"]).sample(frac=1.0, random_state=3)
    result = stats.detect_multivariate_drift(shuffled.iloc[:1500], shuffled.iloc[1500:3000], n_splits=3)
    assert not result.drifted and result.p_value > 0.01


def test_a_correlation_change_invisible_per_column_is_found() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=1500)
    reference = pd.DataFrame({"x": x, "y": x + rng.normal(0, 0.3, 1500)})
    y = rng.normal(size=1500)
    current = pd.DataFrame({"x": y, "y": -y + rng.normal(0, 0.3, 1500)})
    assert not stats.compare(reference, current).drifted  # each margin is unchanged
    assert stats.detect_multivariate_drift(reference, current, n_splits=3).drifted


def test_multivariate_bad_input() -> None:
    frame = pd.DataFrame({"x": np.arange(100.0)})
    with pytest.raises(PlimsollStatsError, match="columns"):
        stats.detect_multivariate_drift(frame, frame.rename(columns={"x": "y"}))
    with pytest.raises(PlimsollStatsError, match="at least 10 rows"):
        stats.detect_multivariate_drift(frame.iloc[:5], frame)
    with pytest.raises(PlimsollStatsError, match="min_auc"):
        stats.detect_multivariate_drift(frame, frame, min_auc=0.2)

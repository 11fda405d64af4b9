"""Seasonal drift between the first and second halves of 2015 is found column by column."""

from __future__ import annotations

import pandas as pd

from plimsoll import stats


def test_seasonal_drift_is_found_and_ranked(flights: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    first, second = flights
    report = stats.compare(first, second)
    assert report.drifted
    # Dates do not overlap; US Airways flights were folded into American from July 2015; summer and
    # winter delays and cancellation rates differ.
    assert set(report.drifted_columns) == {"DATE", "AIRLINE", "DEPARTURE_DELAY", "CANCELLED"}
    assert report.drifted_columns[0] == "DATE"
    delay = report.columns["DEPARTURE_DELAY"]
    assert delay.method == "ks" and 0.03 < delay.statistic < 0.05 and delay.p_value < 1e-20
    assert delay.error_bound < 0.001
    # Routes, taxi and air times are statistically different at 50k rows but by less than the floor.
    for column in ("DISTANCE", "TAXI_OUT", "AIR_TIME"):
        assert not report.columns[column].drifted and report.columns[column].effect_size < 0.02


def test_the_same_verdict_from_merged_monthly_window_summaries(
    flights: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    first, second = flights
    reference = stats.summarize(first)
    months = pd.to_datetime(second["DATE"]).dt.month
    windows = [stats.summarize(second[months == m], reference=reference) for m in sorted(months.unique())]
    merged = stats.merge(windows)
    direct = stats.compare(reference, stats.summarize(second, reference=reference))
    from_windows = stats.compare(reference, merged)
    assert from_windows.drifted_columns == direct.drifted_columns
    for name, result in direct.columns.items():
        assert from_windows.columns[name].statistic == result.statistic


def test_a_single_month_shows_which_columns_moved(flights: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    first, second = flights
    july = second[pd.to_datetime(second["DATE"]).dt.month == 7]
    report = stats.compare(first.drop(columns=["DATE"]), july.drop(columns=["DATE"]))
    assert "AIRLINE" in report.drifted_columns
    assert report.columns["AIRLINE"].n_current == len(july)

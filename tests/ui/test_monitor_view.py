"""What the monitor pages show, shaped without a browser (server/ui/monitor_view.py): a monitor's
state, a rule's verdict, the correlation stated beside the outcomes, and the charts' data of a
monitor with no window and of windows that measured nothing."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from plimsoll.monitoring.rules import default_rules
from plimsoll.monitoring.specs import Monitor, MonitorWindow, Reference
from plimsoll.server.ui.monitor_view import chart_data, correlation, rule_rows, signal_state, state_of

MONITOR = Monitor(
    id="m",
    project="default",
    name="churn prod",
    model="churn",
    alias="production",
    reference=Reference("dataset", dataset="churn-train@1"),
    features=("tenure", "plan"),
    every_ms=86_400_000,
    window_rows=0,
    delay_ms=0,
    start=0,
    segment_by="",
    max_segments=10,
    alpha=0.05,
    task="classification",
    rules=default_rules("classification", "accuracy"),
    multivariate=False,
    reference_rows=100,
    reference_metrics={"accuracy": 0.9},
    created_by="me",
    created_at=0,
    updated_at=0,
    last_window_end=0,
    last_run_at=0,
    last_error="",
    stale=False,
)


def _signal(
    rule: str, *, active: bool, consecutive: int, for_windows: int = 1, value: float | None = 1.0
) -> dict[str, Any]:
    return {
        "rule": rule,
        "active": active,
        "consecutive": consecutive,
        "for_windows": for_windows,
        "value": value,
    }


def _window(
    start: int, signals: list[dict[str, Any]], values: dict[str, float | None] | None = None
) -> MonitorWindow:
    return MonitorWindow(
        id=str(start),
        monitor_id="m",
        segment="",
        start=start,
        end=start + 1,
        rows=0,
        version=None,
        drift={},
        quality={},
        performance={},
        outcomes={},
        values=values or {"rows": 0.0},
        signals=tuple(signals),
        computed_at=0,
        labels_at=0,
    )


def test_the_page_address_is_the_monitors_page_quoted_whole() -> None:
    assert MONITOR.url == "/monitors/churn%20prod?project=default"


def test_a_monitors_state_failing_first_then_stale_then_its_newest_window() -> None:
    assert state_of(replace(MONITOR, last_error="boom", stale=True), None).key == "failing"
    assert state_of(replace(MONITOR, stale=True), None).key == "stale"
    assert state_of(MONITOR, None).key == "waiting"
    counting = _window(0, [_signal("data_drift", active=True, consecutive=2, for_windows=3)])
    assert state_of(MONITOR, counting).key == "ok"  # active, not yet firing
    firing = _window(0, [_signal("data_drift", active=True, consecutive=3, for_windows=3)])
    found = state_of(MONITOR, firing)
    assert found.key == "breaking" and found.detail == "data_drift"


def test_a_rules_verdict() -> None:
    assert signal_state(None) == "unknown"
    assert signal_state(_signal("r", active=False, consecutive=0, value=None)) == "unmeasured"
    assert signal_state(_signal("r", active=False, consecutive=0)) == "quiet"
    assert signal_state(_signal("r", active=True, consecutive=1, for_windows=2)) == "active"
    assert signal_state(_signal("r", active=True, consecutive=2, for_windows=2)) == "firing"
    rows = rule_rows(MONITOR, [])
    assert [r.name for r in rows] == [r.name for r in MONITOR.rules] and {r.state for r in rows} == {
        "unknown"
    }


def test_the_correlation_is_stated_only_over_enough_windows_with_both_values() -> None:
    assert correlation([1.0, 2.0, None, 4.0], [2.0, 4.0, 5.0, 8.0]) == {"windows": 3, "r": pytest.approx(1.0)}
    assert correlation([1.0, 2.0, 3.0], [3.0, 2.0, 1.0])["r"] == pytest.approx(-1.0)
    assert correlation([1.0, 2.0], [1.0, 2.0]) == {"windows": 2, "r": None}
    assert correlation([1.0, 1.0, 1.0], [1.0, 2.0, 3.0])["r"] is None  # a constant says nothing


def test_the_charts_of_no_window_and_of_windows_that_measured_nothing() -> None:
    empty = chart_data(MONITOR, [])
    assert empty["windows"] == [] and empty["drift"]["cells"] == []
    assert empty["drift"]["features"] == ["plan", "tenure"]
    assert empty["performance"]["metric"] == "accuracy" and empty["performance"]["realised"] == {}
    quiet = chart_data(MONITOR, [_window(0, []), _window(1, [])])
    # What a window could not measure is a gap (None), never a zero.
    assert quiet["labels"]["coverage"] == [None, None]
    assert quiet["quality"]["invalid"] == [None, None]
    assert all(r["states"] == [None, None] for r in quiet["rules"])
    assert quiet["outcomes"]["names"] == []


def test_the_heat_map_is_coloured_by_severity_when_the_columns_are_tested_differently() -> None:
    def tested(method: str, statistic: float) -> dict[str, Any]:
        return {"method": method, "statistic": statistic, "severity": 2.0, "drifted": True, "p_value": 0.0}

    same = replace(
        _window(0, []), drift={"features": {"tenure": tested("ks", 0.3), "plan": tested("ks", 0.1)}}
    )
    assert chart_data(MONITOR, [same])["drift"]["colour"] == "statistic"
    mixed = replace(
        same, drift={"features": {"tenure": tested("ks", 0.3), "plan": tested("chi_square", 80.0)}}
    )
    found = chart_data(MONITOR, [mixed])["drift"]
    assert found["colour"] == "severity" and found["methods"] == {"tenure": "ks", "plan": "chi_square"}
    # Equally drifted, equally severe: by name, plan first.
    assert found["features"] == ["plan", "tenure"]
    assert found["cells"] == [[0, 0, 80.0, 2.0, 1, 0.0], [0, 1, 0.3, 2.0, 1, 0.0]]

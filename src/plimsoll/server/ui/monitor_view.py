"""What the monitor pages show, shaped from a monitor and its windows: no HTTP, no HTML.

state_of(monitor, newest)     ok, breaking a rule, stale, failing (its last error), or waiting
                              for its first window: the list's and the header's badge
rule_rows(monitor, windows)   each rule, its condition, and what the newest window says of it
chart_data(monitor, windows)  what static/monitor.js draws, as the JSON island #monitor-data holds
                              it (one entry per window, oldest first, in every series):

    windows      [{start, end, rows, version}]
    drift        {features: [names, most drifted first], labels: {name: shown as}, cells: [[window,
                 feature, statistic, severity, drifted 0/1, p-value]], methods: {name: method},
                 colour: "statistic" (one test for every row) or "severity" (tests that differ)}
    performance  {metric, metrics, reference: {name: value}, realised: {name: [value]},
                 estimated: {name: {value, lower, upper}}}  (the estimate's band: lower to upper)
    labels       {coverage: [share], lag_s: [seconds], labelled: [rows]}
    outcomes     {names, mean: {name: [value]}, sum: {...}, correlation: {name: {metric, r, windows}}}
    quality      {invalid, missing, out_of_range, unseen: [share]}
    rules        [{name, condition, severity, states: [None | "unmeasured" | "quiet" | "active" |
                 "firing"], values: [value]}]

A value a window could not measure is None, drawn as a gap, never as zero.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from plimsoll.monitoring.entities import PREDICTION_COLUMN, SCORE_COLUMN
from plimsoll.monitoring.specs import Monitor, MonitorWindow

MIN_CORRELATED = 3  # windows with both values before a correlation is stated
OUTPUT_LABELS = {SCORE_COLUMN: "prediction (score)", PREDICTION_COLUMN: "prediction"}


@dataclass(frozen=True)
class MonitorState:
    key: str  # ok | breaking | stale | failing | waiting
    text: str
    detail: str = ""


@dataclass(frozen=True)
class RuleRow:
    name: str
    condition: str
    severity: str
    summary: str
    runbook: str
    state: str  # firing | active | quiet | unmeasured | unknown (no window yet)
    consecutive: int
    for_windows: int
    value: float | None


def state_of(monitor: Monitor, newest: MonitorWindow | None) -> MonitorState:
    if monitor.last_error:
        return MonitorState("failing", "failing", monitor.last_error)
    if monitor.stale:
        return MonitorState(
            "stale", "stale", "no window for two periods: the monitor stopped or has no traffic"
        )
    if newest is None:
        return MonitorState("waiting", "no window yet")
    firing = [s for s in newest.breaking if s["consecutive"] >= s["for_windows"]]
    if firing:
        return MonitorState("breaking", "rules firing", ", ".join(s["rule"] for s in firing))
    return MonitorState("ok", "ok")


def signal_state(signal: dict[str, Any] | None) -> str:
    if signal is None:
        return "unknown"
    if signal["active"]:
        return "firing" if signal["consecutive"] >= signal["for_windows"] else "active"
    return "unmeasured" if signal.get("value") is None else "quiet"


def rule_rows(monitor: Monitor, windows: Sequence[MonitorWindow]) -> list[RuleRow]:
    newest = {s["rule"]: s for s in windows[-1].signals} if windows else {}
    rows = []
    for rule in monitor.rules:
        found = newest.get(rule.name)
        if rule.value == "staleness_s":
            state = "firing" if monitor.stale else "quiet"
        else:
            state = signal_state(found)
        rows.append(
            RuleRow(
                rule.name,
                rule.describe(),
                rule.severity,
                rule.annotations.get("summary", ""),
                rule.annotations.get("runbook_url", ""),
                state,
                int(found["consecutive"]) if found else 0,
                rule.for_windows,
                None if found is None else found.get("value"),
            )
        )
    return rows


def primary_metric(monitor: Monitor) -> str:
    return "accuracy" if monitor.task == "classification" else "mae"


def chart_data(monitor: Monitor, windows: Sequence[MonitorWindow]) -> dict[str, Any]:
    metric = primary_metric(monitor)
    return {
        "monitor": {"name": monitor.name, "project": monitor.project, "every_ms": monitor.every_ms},
        "windows": [{"start": w.start, "end": w.end, "rows": w.rows, "version": w.version} for w in windows],
        "drift": _drift(monitor, windows),
        "performance": _performance(monitor, windows, metric),
        "labels": {
            "coverage": [_value(w, "labels.coverage") for w in windows],
            "lag_s": [_value(w, "labels.lag_s") for w in windows],
            "labelled": [w.performance.get("labelled") for w in windows],
        },
        "outcomes": _outcomes(windows, metric),
        "quality": {
            name: [_value(w, f"quality.{name}_share") for w in windows]
            for name in ("invalid", "missing", "out_of_range", "unseen")
        },
        "rules": [
            {
                "name": rule.name,
                "condition": rule.describe(),
                "severity": rule.severity,
                "states": [_rule_state(w, rule.name) for w in windows],
                "values": [_signal_value(w, rule.name) for w in windows],
            }
            for rule in monitor.rules
            if rule.value != "staleness_s"
        ],
    }


def _drift(monitor: Monitor, windows: Sequence[MonitorWindow]) -> dict[str, Any]:
    outputs = [
        name
        for name in (SCORE_COLUMN, PREDICTION_COLUMN)
        if any((w.drift.get("prediction") or {}).get("column") == name for w in windows)
    ][:1]
    columns = [*monitor.features, *outputs]
    results = [{**w.drift.get("features", {}), **_prediction(w)} for w in windows]
    drifted = {c: sum(bool((r.get(c) or {}).get("drifted")) for r in results) for c in columns}
    worst = {
        c: max((_finite((r.get(c) or {}).get("severity")) or 0.0 for r in results), default=0.0)
        for c in columns
    }
    # The features most often drifted first (then the most severely); the model's output last.
    ordered = sorted(monitor.features, key=lambda c: (-drifted[c], -worst[c], c)) + outputs
    cells = []
    for i, found in enumerate(results):
        for j, column in enumerate(ordered):
            result = found.get(column)
            if not result or "statistic" not in result:
                continue
            cells.append(
                [
                    i,
                    j,
                    _finite(result.get("statistic")),
                    _finite(result.get("severity")),
                    1 if result.get("drifted") else 0,
                    _finite(result.get("p_value")),
                ]
            )
    methods = {c: r[c]["method"] for r in results for c in ordered if r.get(c) and r[c].get("method")}
    return {
        "features": ordered,
        "labels": {c: OUTPUT_LABELS.get(c, c) for c in ordered},
        "cells": cells,
        "methods": methods,
        # One test for every row: their statistics compare, and colour the map; else severities do.
        "colour": "statistic" if len(set(methods.values())) <= 1 else "severity",
    }


def _prediction(window: MonitorWindow) -> dict[str, Any]:
    found = window.drift.get("prediction") or {}
    return {found["column"]: found} if "column" in found else {}


def _performance(monitor: Monitor, windows: Sequence[MonitorWindow], metric: str) -> dict[str, Any]:
    realised: dict[str, list[float | None]] = {}
    estimated: dict[str, dict[str, list[float | None]]] = {}
    for i, window in enumerate(windows):
        for name, value in (window.performance.get("realised") or {}).items():
            realised.setdefault(name, [None] * len(windows))[i] = _finite(value)
        bands = (window.performance.get("estimated") or {}).get("metrics") or {}
        for name, band in bands.items():
            series = estimated.setdefault(
                name, {k: [None] * len(windows) for k in ("value", "lower", "upper")}
            )
            for key in series:
                series[key][i] = _finite(band.get(key))
    names = list(dict.fromkeys([*monitor.reference_metrics, *realised, *estimated]))
    shown = (
        metric if metric in realised or metric in estimated else next(iter([*realised, *estimated]), metric)
    )
    return {
        "metric": shown,
        "metrics": [n for n in names if n in realised or n in estimated],
        "reference": {k: _finite(v) for k, v in monitor.reference_metrics.items()},
        "realised": realised,
        "estimated": estimated,
    }


def _outcomes(windows: Sequence[MonitorWindow], metric: str) -> dict[str, Any]:
    names = list(dict.fromkeys(name for w in windows for name in w.outcomes))
    body: dict[str, Any] = {"names": names, "mean": {}, "sum": {}, "correlation": {}}
    model = [_value(w, f"performance.{metric}") for w in windows]
    kind = "realised"
    if all(v is None for v in model):
        model, kind = [_value(w, f"performance.{metric}.estimated") for w in windows], "estimated"
    body["metric"] = {"name": metric, "kind": kind, "values": model}
    for name in names:
        means = [_finite((w.outcomes.get(name) or {}).get("mean")) for w in windows]
        body["mean"][name] = means
        body["sum"][name] = [_finite((w.outcomes.get(name) or {}).get("sum")) for w in windows]
        body["correlation"][name] = {"metric": metric, "kind": kind, **correlation(means, model)}
    return body


def correlation(xs: Sequence[float | None], ys: Sequence[float | None]) -> dict[str, Any]:
    """Pearson's r over the windows where both are known; None below `MIN_CORRELATED` windows or
    when either is constant."""
    pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if x is not None and y is not None]
    found: dict[str, Any] = {"windows": len(pairs), "r": None}
    if len(pairs) < MIN_CORRELATED:
        return found
    mx = sum(x for x, _ in pairs) / len(pairs)
    my = sum(y for _, y in pairs) / len(pairs)
    sxy = sum((x - mx) * (y - my) for x, y in pairs)
    sxx = sum((x - mx) ** 2 for x, _ in pairs)
    syy = sum((y - my) ** 2 for _, y in pairs)
    if sxx > 0 and syy > 0:
        found["r"] = max(-1.0, min(1.0, sxy / math.sqrt(sxx * syy)))
    return found


def _rule_state(window: MonitorWindow, rule: str) -> str | None:
    found = next((s for s in window.signals if s["rule"] == rule), None)
    return None if found is None else signal_state(found)


def _signal_value(window: MonitorWindow, rule: str) -> float | None:
    found = next((s for s in window.signals if s["rule"] == rule), None)
    return None if found is None else _finite(found.get("value"))


def _value(window: MonitorWindow, name: str) -> float | None:
    return _finite(window.values.get(name))


def _finite(value: Any) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None

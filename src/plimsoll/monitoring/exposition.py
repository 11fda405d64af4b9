"""Monitors' newest windows in Prometheus' text format, for `GET /api/v1/monitoring/metrics`
(a viewer's token: these name models and features, which the public `/metrics` never does).

    plimsoll_monitor_window_rows{monitor,model,alias,segment}            rows in the newest window
    plimsoll_monitor_drift_detected{...}                                  1 if any watched column drifted
    plimsoll_monitor_drift_share{...}                                     share of watched columns drifted
    plimsoll_monitor_feature_drift{...,feature}                           a column's drift statistic
    plimsoll_monitor_performance{...,metric,kind}                         kind: realised, estimated,
                                                                          estimated_lower, estimated_upper
    plimsoll_monitor_label_coverage{...}                                  labelled rows / rows
    plimsoll_monitor_invalid_rows_share{...}                              rows breaking the signature
    plimsoll_monitor_rule_active{...,rule,severity}                       1 while a rule is broken
    plimsoll_monitor_last_window_end_timestamp_seconds{monitor,model,alias}
    plimsoll_monitor_staleness_seconds{monitor,model,alias}               how far behind its schedule
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from plimsoll.monitoring.specs import Monitor, MonitorWindow

_HELP = {
    "plimsoll_monitor_window_rows": "Rows in the monitor's newest window",
    "plimsoll_monitor_drift_detected": "1 if any watched column drifted in the newest window",
    "plimsoll_monitor_drift_share": "Share of watched columns that drifted in the newest window",
    "plimsoll_monitor_feature_drift": "A watched column's drift statistic in the newest window",
    "plimsoll_monitor_performance": "A model metric in the newest window, realised or estimated",
    "plimsoll_monitor_label_coverage": "Labelled rows / rows in the newest window",
    "plimsoll_monitor_invalid_rows_share": "Share of rows breaking the model's signature in the newest window",
    "plimsoll_monitor_rule_active": "1 while a monitor's rule is broken in the newest window",
    "plimsoll_monitor_last_window_end_timestamp_seconds": "When the monitor's newest window ended",
    "plimsoll_monitor_staleness_seconds": "How far the monitor is behind its schedule",
}


def exposition(latest: Iterable[tuple[Monitor, list[MonitorWindow]]], now_ms: int) -> str:
    samples: dict[str, list[str]] = {name: [] for name in _HELP}
    for monitor, windows in latest:
        base = {"monitor": monitor.name, "model": monitor.model, "alias": monitor.alias}
        samples["plimsoll_monitor_last_window_end_timestamp_seconds"].append(
            _line("plimsoll_monitor_last_window_end_timestamp_seconds", base, monitor.last_window_end / 1000)
        )
        behind = (
            (now_ms - monitor.delay_ms - monitor.last_window_end - monitor.every_ms) / 1000
            if monitor.every_ms
            else 0.0
        )
        samples["plimsoll_monitor_staleness_seconds"].append(
            _line("plimsoll_monitor_staleness_seconds", base, max(behind, 0.0))
        )
        for window in windows:
            labels = {**base, "segment": window.segment}
            values = window.values
            for name, value in (
                ("plimsoll_monitor_window_rows", values.get("rows")),
                ("plimsoll_monitor_drift_detected", values.get("drift.detected")),
                ("plimsoll_monitor_drift_share", values.get("drift.share")),
                ("plimsoll_monitor_label_coverage", values.get("labels.coverage")),
                ("plimsoll_monitor_invalid_rows_share", values.get("quality.invalid_share")),
            ):
                samples[name].append(_line(name, labels, value))
            for feature, body in window.drift.get("features", {}).items():
                samples["plimsoll_monitor_feature_drift"].append(
                    _line(
                        "plimsoll_monitor_feature_drift",
                        {**labels, "feature": feature},
                        body.get("statistic"),
                    )
                )
            for metric, value in (window.performance.get("realised") or {}).items():
                samples["plimsoll_monitor_performance"].append(
                    _line(
                        "plimsoll_monitor_performance",
                        {**labels, "metric": metric, "kind": "realised"},
                        value,
                    )
                )
            for metric, band in ((window.performance.get("estimated") or {}).get("metrics") or {}).items():
                for kind, key in (
                    ("estimated", "value"),
                    ("estimated_lower", "lower"),
                    ("estimated_upper", "upper"),
                ):
                    samples["plimsoll_monitor_performance"].append(
                        _line(
                            "plimsoll_monitor_performance",
                            {**labels, "metric": metric, "kind": kind},
                            band.get(key),
                        )
                    )
            for signal in window.signals:
                samples["plimsoll_monitor_rule_active"].append(
                    _line(
                        "plimsoll_monitor_rule_active",
                        {**labels, "rule": signal["rule"], "severity": signal["severity"]},
                        1.0 if signal["active"] else 0.0,
                    )
                )
    out = []
    for name, lines in samples.items():
        kept = [line for line in lines if line]
        if kept:
            out += [f"# HELP {name} {_HELP[name]}", f"# TYPE {name} gauge", *kept]
    return "\n".join(out) + "\n"


def _line(name: str, labels: dict[str, str], value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return ""
    text = ",".join(f'{key}="{_escape(str(val))}"' for key, val in labels.items())
    return f"{name}{{{text}}} {float(value)!r}"


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')

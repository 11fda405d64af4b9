"""A model server's own numbers, without I/O: per deployment, version and role, the requests,
errors (answers of 500 and above: the model's failures), refused requests (a 4xx after the version
was chosen: bad input), rows, a latency histogram in `LATENCY_BUCKETS_MS`, and the distribution
of the predictions (counts per class for a classifier, a histogram for numbers).

`exposition()` writes them in Prometheus' text format for `GET /metrics`:

    plimsoll_serving_requests_total{deployment,version,role}
    plimsoll_serving_errors_total{...}
    plimsoll_serving_refused_total{...}
    plimsoll_serving_rows_total{...}
    plimsoll_serving_latency_ms_bucket{...,le}  (and _sum, _count)
    plimsoll_serving_predictions_total{...,class}            a classifier's answers
    plimsoll_serving_prediction_value_bucket{...,le}         a regressor's answers (and _sum, _count)
    plimsoll_serving_<gauge>{deployment}                     the replica's own (see `gauges`)

`drain()` answers the `TrafficStats` since the previous drain, which a replica reports to the
deployments service every few seconds (rollout analysis judges them); `restore()` puts back
what could not be reported, so nothing is counted twice or lost.
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from plimsoll.serving.entities import LATENCY_BUCKETS_MS, TrafficStats

# Bounds of the histogram of a regressor's answers (a classifier's are counted per class).
VALUE_BUCKETS: tuple[float, ...] = (
    -1e6, -1e4, -1e3, -100, -10, -1, 0, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10, 25, 50, 100, 250,
    500, 1e3, 1e4, 1e5, 1e6,
)  # fmt: skip
MAX_CLASSES = 100  # distinct answers counted per series; the rest are counted as OTHER
OTHER = "__other__"

_HELP = {
    "plimsoll_serving_requests_total": ("counter", "Requests answered by a deployment's version"),
    "plimsoll_serving_errors_total": ("counter", "Requests a version failed (HTTP 5xx)"),
    "plimsoll_serving_refused_total": ("counter", "Requests refused for their input (HTTP 4xx)"),
    "plimsoll_serving_rows_total": ("counter", "Rows predicted"),
    "plimsoll_serving_latency_ms": ("histogram", "Time to answer a request, in milliseconds"),
    "plimsoll_serving_predictions_total": ("counter", "A classifier's answers, per class"),
    "plimsoll_serving_prediction_value": ("histogram", "A regressor's answers"),
}


@dataclass
class _Series:
    since: int
    requests: int = 0
    errors: int = 0
    refused: int = 0
    rows: int = 0
    latency: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_MS) + 1))
    latency_sum: float = 0.0
    # since the last drain (what TrafficStats report)
    window_requests: int = 0
    window_errors: int = 0
    window_latency: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_MS) + 1))
    classes: dict[str, int] = field(default_factory=dict)
    values: list[int] = field(default_factory=lambda: [0] * (len(VALUE_BUCKETS) + 1))
    value_sum: float = 0.0
    value_count: int = 0


class ServingMetrics:
    """The counters of one replica. Thread-safe: requests, shadows and the reporter share it."""

    def __init__(self, deployment: str, *, value_buckets: tuple[float, ...] = VALUE_BUCKETS) -> None:
        self.deployment = deployment
        self.value_buckets = tuple(value_buckets)
        self._series: dict[tuple[int, str], _Series] = {}
        self._lock = threading.Lock()
        self._since = _now_ms()

    def observe(
        self,
        version: int,
        role: str,
        latency_ms: float,
        *,
        status: int = 200,
        rows: int = 0,
        predictions: Any = None,
    ) -> None:
        """One request answered (or failed, by its `status`) by `version` in `role`."""
        bucket = bisect_left(LATENCY_BUCKETS_MS, latency_ms)
        with self._lock:
            series = self._series.get((version, role))
            if series is None:
                series = self._series[(version, role)] = _Series(self._since)
            series.requests += 1
            series.window_requests += 1
            series.rows += rows
            series.latency[bucket] += 1
            series.window_latency[bucket] += 1
            series.latency_sum += latency_ms
            if status >= 500:
                series.errors += 1
                series.window_errors += 1
            elif status >= 400:
                series.refused += 1
            if predictions is not None:
                self._count(series, predictions)

    def _count(self, series: _Series, predictions: Any) -> None:
        import numpy as np

        array = np.asarray(predictions)
        if array.ndim > 1:
            array = array.reshape(array.shape[0], -1)[:, 0]
        if array.dtype.kind == "f":
            finite = array[np.isfinite(array)]
            counts = np.bincount(np.searchsorted(self.value_buckets, finite), minlength=len(series.values))
            for index, count in enumerate(counts.tolist()):
                series.values[index] += count
            series.value_sum += float(finite.sum())
            series.value_count += int(finite.size)
            return
        if array.size <= 64:  # a served request's few rows: no sort
            pairs: dict[str, int] = {}
            for item in array.tolist():
                pairs[str(item)] = pairs.get(str(item), 0) + 1
            found = pairs.items()
        else:
            values, counts = np.unique(array.astype(str), return_counts=True)
            found = dict(zip(values.tolist(), counts.tolist(), strict=True)).items()
        for value, count in found:
            if value not in series.classes and len(series.classes) >= MAX_CLASSES:
                value = OTHER
            series.classes[value] = series.classes.get(value, 0) + count

    def drain(self) -> list[TrafficStats]:
        """Each (version, role)'s requests, errors and latencies since the previous drain."""
        now = _now_ms()
        found = []
        with self._lock:
            for (version, role), series in sorted(self._series.items()):
                if series.window_requests:
                    found.append(
                        TrafficStats(
                            version,
                            role,
                            series.since,
                            now,
                            series.window_requests,
                            series.window_errors,
                            tuple(series.window_latency),
                        )
                    )
                series.since = now
                series.window_requests = series.window_errors = 0
                series.window_latency = [0] * (len(LATENCY_BUCKETS_MS) + 1)
            self._since = now
        return found

    def restore(self, stats: Iterable[TrafficStats]) -> None:
        """Put back drained stats that could not be reported: the next drain carries them."""
        with self._lock:
            for item in stats:
                series = self._series.setdefault((item.version, item.role), _Series(item.since))
                series.since = min(series.since, item.since)
                series.window_requests += item.requests
                series.window_errors += item.errors
                for index, count in enumerate(item.latency_counts):
                    series.window_latency[index] += count

    def snapshot(self) -> dict[tuple[int, str], dict[str, Any]]:
        """Totals per (version, role), for tests and the readiness details."""
        with self._lock:
            return {
                key: {
                    "requests": s.requests,
                    "errors": s.errors,
                    "refused": s.refused,
                    "rows": s.rows,
                    "classes": dict(s.classes),
                    "values": s.value_count,
                }
                for key, s in self._series.items()
            }

    def exposition(self, gauges: Mapping[str, float] | None = None) -> str:
        """Prometheus text: the series above, then the replica's `gauges` (name -> value) labelled
        with the deployment only."""
        samples: dict[str, list[str]] = {name: [] for name in _HELP}
        with self._lock:
            items = sorted(self._series.items())
            for (version, role), s in items:
                labels = {"deployment": self.deployment, "version": str(version), "role": role}
                samples["plimsoll_serving_requests_total"].append(
                    _line("plimsoll_serving_requests_total", labels, s.requests)
                )
                samples["plimsoll_serving_errors_total"].append(
                    _line("plimsoll_serving_errors_total", labels, s.errors)
                )
                samples["plimsoll_serving_refused_total"].append(
                    _line("plimsoll_serving_refused_total", labels, s.refused)
                )
                samples["plimsoll_serving_rows_total"].append(
                    _line("plimsoll_serving_rows_total", labels, s.rows)
                )
                samples["plimsoll_serving_latency_ms"] += _histogram(
                    "plimsoll_serving_latency_ms", labels, LATENCY_BUCKETS_MS, s.latency, s.latency_sum
                )
                for value, count in sorted(s.classes.items()):
                    samples["plimsoll_serving_predictions_total"].append(
                        _line("plimsoll_serving_predictions_total", {**labels, "class": value}, count)
                    )
                if s.value_count:
                    samples["plimsoll_serving_prediction_value"] += _histogram(
                        "plimsoll_serving_prediction_value", labels, self.value_buckets, s.values, s.value_sum
                    )
        out = []
        for name, lines in samples.items():
            if lines:
                kind, text = _HELP[name]
                out += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", *lines]
        for name, number in sorted((gauges or {}).items()):
            out += [f"# TYPE {name} gauge", _line(name, {"deployment": self.deployment}, number)]
        return "\n".join(out) + "\n"


def _histogram(
    name: str, labels: dict[str, str], bounds: tuple[float, ...], counts: list[int], total: float
) -> list[str]:
    lines, seen = [], 0
    for bound, count in zip(bounds, counts, strict=False):
        seen += count
        lines.append(_line(f"{name}_bucket", {**labels, "le": _number(bound)}, seen))
    count = seen + counts[-1]
    lines.append(_line(f"{name}_bucket", {**labels, "le": "+Inf"}, count))
    lines.append(_line(f"{name}_sum", labels, total))
    lines.append(_line(f"{name}_count", labels, count))
    return lines


def _line(name: str, labels: dict[str, str], value: float) -> str:
    text = ",".join(f'{key}="{_escape(str(val))}"' for key, val in labels.items())
    shown = _number(value) if math.isfinite(value) else ("+Inf" if value > 0 else "NaN")
    return f"{name}{{{text}}} {shown}"


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _now_ms() -> int:
    return time.time_ns() // 1_000_000

"""A replica's counters: per version and role, latency and prediction histograms, Prometheus
text that Prometheus' own parser reads, and drains that report each request once."""

from __future__ import annotations

import numpy as np
from prometheus_client.parser import text_string_to_metric_families

from plimsoll.serving.entities import LATENCY_BUCKETS_MS, ROLE_CANARY, ROLE_STABLE
from plimsoll.serving.metrics import MAX_CLASSES, OTHER, ServingMetrics


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_counts_histograms_and_exposition() -> None:
    metrics = ServingMetrics("churn-api")
    metrics.observe(1, ROLE_STABLE, 0.4, rows=2, predictions=np.array([0, 1]))
    metrics.observe(1, ROLE_STABLE, 3.0, rows=1, predictions=np.array([1]))
    metrics.observe(1, ROLE_STABLE, 20_000.0, status=500)
    metrics.observe(2, ROLE_CANARY, 6.0, rows=2, predictions=np.array([0.3, 7.0]))
    metrics.observe(2, ROLE_CANARY, 1.0, status=422)
    found = samples(metrics.exposition({"plimsoll_serving_log_dropped_rows_total": 0.0}))
    stable = (("deployment", "churn-api"), ("role", "stable"), ("version", "1"))
    canary = (("deployment", "churn-api"), ("role", "canary"), ("version", "2"))
    assert found[("plimsoll_serving_requests_total", stable)] == 3
    assert found[("plimsoll_serving_errors_total", stable)] == 1
    assert found[("plimsoll_serving_refused_total", canary)] == 1
    assert found[("plimsoll_serving_rows_total", stable)] == 3
    assert found[("plimsoll_serving_latency_ms_bucket", (*stable[:1], ("le", "0.5"), *stable[1:]))] == 1
    assert found[("plimsoll_serving_latency_ms_bucket", (*stable[:1], ("le", "3"), *stable[1:]))] == 2
    assert found[("plimsoll_serving_latency_ms_bucket", (*stable[:1], ("le", "10000"), *stable[1:]))] == 2
    assert found[("plimsoll_serving_latency_ms_bucket", (*stable[:1], ("le", "+Inf"), *stable[1:]))] == 3
    assert found[("plimsoll_serving_latency_ms_count", stable)] == 3
    assert found[("plimsoll_serving_predictions_total", (("class", "1"), *stable))] == 2
    assert found[("plimsoll_serving_prediction_value_count", canary)] == 2
    assert found[("plimsoll_serving_prediction_value_bucket", (*canary[:1], ("le", "0.5"), *canary[1:]))] == 1
    assert found[("plimsoll_serving_log_dropped_rows_total", (("deployment", "churn-api"),))] == 0


def test_drain_reports_each_request_once_and_restore_keeps_them() -> None:
    metrics = ServingMetrics("churn-api")
    for latency in (0.2, 0.7, 4.0, 4.0):
        metrics.observe(1, ROLE_STABLE, latency)
    metrics.observe(2, ROLE_CANARY, 50.0, status=503)
    first = metrics.drain()
    assert [(s.version, s.role, s.requests, s.errors) for s in first] == [
        (1, "stable", 4, 0),
        (2, "canary", 1, 1),
    ]
    assert len(first[0].latency_counts) == len(LATENCY_BUCKETS_MS) + 1
    assert first[0].latency_quantile(0.5) == 1.0 and first[0].latency_quantile(0.99) == 5.0
    assert first[1].error_rate == 1.0
    assert metrics.drain() == []
    metrics.restore(first)  # the report failed: the next drain carries them, with what came since
    metrics.observe(1, ROLE_STABLE, 0.1)
    again = metrics.drain()
    assert [(s.version, s.requests, s.errors) for s in again] == [(1, 5, 0), (2, 1, 1)]
    assert sum(again[0].latency_counts) == 5
    totals = metrics.snapshot()
    assert totals[(1, "stable")]["requests"] == 5  # totals never drained


def test_classes_are_bounded() -> None:
    metrics = ServingMetrics("d")
    metrics.observe(1, ROLE_STABLE, 1.0, predictions=np.array([f"c{i}" for i in range(MAX_CLASSES + 5)]))
    classes = metrics.snapshot()[(1, "stable")]["classes"]
    assert len(classes) == MAX_CLASSES + 1 and classes[OTHER] == 5

"""The MLflow side of bench/tracking.py. Runs under the MLflow bench venv's Python (see
bench/requirements-mlflow.txt), against an MLflow server that bench/tracking.py started, and prints
one JSON object (the results) as the last line of stdout. Progress goes to stderr.

    .venv-bench-mlflow/bin/python bench/_mlflow_workload.py --url http://127.0.0.1:5000 \
        --sizes '{"runs": 1000, ...}' --workloads abcde
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("DO_NOT_TRACK", "true")

import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag

from _common import (
    INGEST_KEYS,
    MLFLOW_BATCH,
    SEARCH_MLFLOW,
    Sizes,
    expected_search_names,
    history_reads,
    history_value,
    latency_summary,
    run_data,
    run_name,
)


def say(message: str) -> None:
    print(f"  [mlflow] {message}", file=sys.stderr, flush=True)


def now_ms() -> int:
    return int(time.time() * 1000)


def ingest(client: MlflowClient, experiment_id: str, sizes: Sizes) -> dict[str, Any]:
    """(a) log_batch of 1,000 values (10 keys x 100 steps) until `ingest_values` are stored."""
    run_id = client.create_run(experiment_id, run_name="ingest").info.run_id
    steps_per_batch = MLFLOW_BATCH // INGEST_KEYS
    batches = max(1, sizes.ingest_values // MLFLOW_BATCH)
    stamp = now_ms()
    start = time.perf_counter()
    for b in range(batches):
        metrics = [
            Metric(f"k{k}", float(step * k), stamp, step)
            for step in range(b * steps_per_batch, (b + 1) * steps_per_batch)
            for k in range(INGEST_KEYS)
        ]
        client.log_batch(run_id, metrics=metrics, synchronous=True)
    seconds = time.perf_counter() - start
    client.set_terminated(run_id)
    values = batches * MLFLOW_BATCH
    return {"values": values, "seconds": seconds, "values_per_s": values / seconds}


def sync_writes(client: MlflowClient, experiment_id: str, sizes: Sizes) -> dict[str, Any]:
    """(b) MlflowClient().log_metric, one value per call, each a synchronous round trip."""
    run_id = client.create_run(experiment_id, run_name="sync").info.run_id
    for i in range(sizes.sync_warmup):
        client.log_metric(run_id, "warmup", float(i), step=i)
    latencies = []
    for i in range(sizes.sync_calls):
        start = time.perf_counter()
        client.log_metric(run_id, "sync", float(i), step=i)
        latencies.append(time.perf_counter() - start)
    client.set_terminated(run_id)
    return latency_summary(latencies)


def create_runs(client: MlflowClient, experiment_id: str, sizes: Sizes) -> dict[str, Any]:
    """(c) The fastest plain client path per run: create_run, one log_batch, set_terminated."""
    start = time.perf_counter()
    for i in range(sizes.runs):
        params, metrics, tags = run_data(i)
        stamp = now_ms()
        run_id = client.create_run(experiment_id, start_time=stamp, run_name=run_name(i)).info.run_id
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, stamp, 0) for k, v in metrics.items()],
            params=[Param(k, v) for k, v in params.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
            synchronous=True,
        )
        client.set_terminated(run_id, end_time=now_ms())
        if (i + 1) % 1000 == 0:
            say(f"{i + 1} runs in {time.perf_counter() - start:.1f} s")
    seconds = time.perf_counter() - start
    return {"runs": sizes.runs, "seconds": seconds, "runs_per_s": sizes.runs / seconds}


def search(client: MlflowClient, experiment_id: str, sizes: Sizes) -> dict[str, Any]:
    """(d) params.p1 = 'v3' and metrics.m1 > 0.5, ordered by metrics.m2 DESC, top 100."""
    names: list[str] = []
    for _ in range(sizes.search_warmup):
        client.search_runs([experiment_id], **SEARCH_MLFLOW)
    latencies = []
    for _ in range(sizes.search_repeats):
        start = time.perf_counter()
        found = client.search_runs([experiment_id], **SEARCH_MLFLOW)
        latencies.append(time.perf_counter() - start)
        names = [run.info.run_name for run in found]
    result: dict[str, Any] = latency_summary(latencies)
    result["returned"] = len(names)
    result["correct"] = names == expected_search_names(sizes.runs)
    return result


def history(client: MlflowClient, experiment_id: str, sizes: Sizes) -> dict[str, Any]:
    """(e) Write `history_points` points of one metric (timed apart), then read them all back."""
    run_id = client.create_run(experiment_id, run_name="history").info.run_id
    stamp = now_ms()
    start = time.perf_counter()
    for first in range(0, sizes.history_points, MLFLOW_BATCH):
        steps = range(first, min(first + MLFLOW_BATCH, sizes.history_points))
        client.log_batch(
            run_id, metrics=[Metric("loss", history_value(s), stamp, s) for s in steps], synchronous=True
        )
    write_seconds = time.perf_counter() - start
    client.set_terminated(run_id)
    return history_reads(lambda: len(client.get_metric_history(run_id, "loss")), sizes, write_seconds)


WORKLOADS = {"a": ingest, "b": sync_writes, "c": create_runs, "d": search, "e": history}
EXPERIMENTS = {
    "a": "bench-ingest",
    "b": "bench-sync",
    "c": "bench-runs",
    "d": "bench-runs",
    "e": "bench-history",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--sizes", required=True, help="JSON of bench/_common.py Sizes")
    parser.add_argument(
        "--workloads", default="abcde", help="letters, in order; (d) searches the runs of (c)"
    )
    args = parser.parse_args()
    sizes = Sizes.from_json(json.loads(args.sizes))
    client = MlflowClient(tracking_uri=args.url)
    results: dict[str, Any] = {"version": mlflow.__version__}
    for letter in args.workloads:
        name = EXPERIMENTS[letter]
        found = client.get_experiment_by_name(name)
        experiment_id = found.experiment_id if found is not None else client.create_experiment(name)
        say(f"({letter}) {WORKLOADS[letter].__name__} ...")
        results[letter] = WORKLOADS[letter](client, experiment_id, sizes)
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()

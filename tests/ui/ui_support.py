"""Test data and helpers for the web UI tests (imported by conftest.py and the test modules).

`seed()` writes, through the TrackingService, two experiments and six runs: params, 60-step metric
curves, one 1,200-step run (so the charts get a downsampled history), a run with NaN losses, tags, and
artifacts with the code and environment the SDK records.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest

from plimsoll.platform import Platform
from plimsoll.tracking.entities import Metric, Run, RunStatus

T0 = 1_767_225_600_000  # 2026-01-01 00:00:00 UTC
STEPS = 60
LONG_STEPS = 1_200  # more than the 500 points the charts ask for: the server downsamples
WEIGHTS = b"\x00weights\x01" * 100
DIFF = b"diff --git a/train.py b/train.py\n--- a/train.py\n+++ b/train.py\n@@ -1,2 +1,2 @@\n-lr = 0.001\n+lr = 0.01\n"


@dataclass
class Seeded:
    """What the fixture wrote, for tests to compare the pages against."""

    experiment_id: str
    other_experiment_id: str
    runs: dict[str, Run] = field(default_factory=dict)  # by name
    final_acc: dict[str, float] = field(default_factory=dict)

    def run(self, name: str) -> Run:
        return self.runs[name]


def _curve(final: float, steps: int, *, nan_at: set[int] | None = None) -> list[float]:
    start = 0.3
    values = [
        start + (final - start) * (1 - math.exp(-5 * i / (steps - 1))) / (1 - math.exp(-5))
        for i in range(steps)
    ]
    for i in nan_at or set():
        values[i] = math.nan
    return values


def seed(platform: Platform) -> Seeded:
    tracking = platform.tracking
    experiment = tracking.create_experiment(
        "churn-model", description="Who leaves next quarter", actor="test"
    )
    other = tracking.create_experiment("fraud-detection", actor="test")
    seeded = Seeded(experiment.id, other.id)
    # name: (lr, batch_size, optimizer, final acc, status, steps)
    plan: list[tuple[str, float, int, str, float, RunStatus, int]] = [
        ("baseline", 0.001, 32, "sgd", 0.81, RunStatus.FINISHED, STEPS),
        ("tuned-lr", 0.01, 64, "adam", 0.87, RunStatus.FINISHED, STEPS),
        ("big-lr", 0.1, 64, "adam", 0.92, RunStatus.FINISHED, STEPS),
        ("diverged", 0.5, 64, "adam", 0.35, RunStatus.FAILED, STEPS),
        ("long-run", 0.05, 128, "adam", 0.89, RunStatus.FINISHED, LONG_STEPS),
    ]
    for index, (name, lr, batch, optimizer, final, status, steps) in enumerate(plan):
        start = T0 + index * 3_600_000
        tags = {"team": "growth"}
        if name == "tuned-lr":
            tags |= {
                "plimsoll.git.commit": "3f2a9c1d5e7b8a6c4d2e0f1a3b5c7d9e1f2a4b6c",
                "plimsoll.git.branch": "feature/lr-sweep",
                "plimsoll.git.dirty": "true",
                "plimsoll.python": "3.11.9",
                "plimsoll.platform": "Linux-6.1.0-x86_64-with-glibc2.36",
            }
        run = tracking.create_run(
            experiment.id,
            name=name,
            start_time=start,
            params={"lr": lr, "batch_size": batch, "optimizer": optimizer, "epochs": 60},
            tags=tags,
            actor="test",
        )
        acc = _curve(final, steps)
        loss = [1.0 - a + 0.05 for a in acc]
        if name == "diverged":
            loss = _curve(0.2, steps, nan_at={40, 41, 42, 59})
        points = [Metric("acc", acc[i], i, start + i * 1000) for i in range(steps)]
        points += [Metric("loss", loss[i], i, start + i * 1000) for i in range(steps)]
        tracking.log_batch(run.id, metrics=points, actor="test")
        tracking.end_run(run.id, status, end_time=start + steps * 1000 + 500, actor="test")
        seeded.runs[name] = tracking.get_run(run.id)
        seeded.final_acc[name] = final

    tuned = seeded.run("tuned-lr").id
    tracking.log_artifact(tuned, "model/weights.bin", WEIGHTS, actor="test")
    environment = {
        "python": "3.11.9",
        "platform": "Linux-6.1.0-x86_64-with-glibc2.36",
        "packages": [{"name": "numpy", "version": "2.1.0"}, {"name": "scikit-learn", "version": "1.5.2"}],
    }
    tracking.log_artifact(tuned, "plimsoll/environment.json", orjson.dumps(environment), actor="test")
    tracking.log_artifact(tuned, "plimsoll/git.diff", DIFF, actor="test")

    fraud = tracking.create_run(other.id, name="fraud-xgb", start_time=T0, params={"depth": 6}, actor="test")
    tracking.log_batch(fraud.id, metrics=[Metric("auc", 0.9, 0, T0)], actor="test")
    seeded.runs["fraud-xgb"] = tracking.get_run(fraud.id)
    return seeded


class Console:
    """Errors the page reported: console.error messages and uncaught exceptions."""

    def __init__(self) -> None:
        self.errors: list[str] = []
        self.expect_http_error = False  # a 4xx page logs "Failed to load resource" by design
        self.expected: list[str] = []  # words of errors a test provokes on purpose

    def on_console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(f"console.error: {message.text}")

    def on_page_error(self, error: Any) -> None:
        self.errors.append(f"uncaught: {error}")

    def unexpected(self) -> list[str]:
        errors = [e for e in self.errors if not any(words in e for words in self.expected)]
        if not self.expect_http_error:
            return errors
        return [e for e in errors if "the server responded with a status of 4" not in e]


@contextmanager
def browser_tab(
    browser: Any,
    base_url: str,
    console: Console,
    *,
    width: int = 1360,
    timeout_ms: int = 10_000,
    storage_state: Any = None,
) -> Iterator[Any]:
    """A fresh browser context and tab on `base_url`, `width` px wide (with the cookies of
    `storage_state`, a context's `storage_state()`, when given); fails the test if the page
    reported an error `console` does not expect."""
    context = browser.new_context(
        base_url=base_url,
        viewport={"width": width, "height": 900},
        accept_downloads=True,
        storage_state=storage_state,
    )
    context.set_default_timeout(timeout_ms)
    tab = context.new_page()
    tab.on("console", console.on_console)
    tab.on("pageerror", console.on_page_error)
    try:
        yield tab
    finally:
        context.close()
    problems = console.unexpected()
    if problems:
        pytest.fail("the browser reported errors:\n" + "\n".join(problems))


@dataclass
class Sweep:
    """A grid search: what `seed_sweep` wrote."""

    experiment_id: str
    runs: dict[str, Run] = field(default_factory=dict)  # by name

    def id(self, name: str) -> str:
        return self.runs[name].id


# The same in every run of the sweep: summarised above the table, not shown as columns.
SWEEP_CONSTANT = {"dataset": "iris", "model": "svc", "n_train": "120", "random_state": "0"}
LONG_NAME = "svc-C10-rbf-gamma-scale-with-class-weights-balanced-and-a-long-tail"


def seed_sweep(platform: Platform) -> Sweep:
    """An experiment `iris-sweep`: a parent run `grid` with three children (one with a child of its
    own), and a lone run `baseline`. Params `dataset`, `model`, `n_train`, `random_state` and the
    metric `n_classes` are the same in every run; `C`, `kernel`, `accuracy` and `roc_auc` differ."""
    tracking = platform.tracking
    experiment = tracking.create_experiment("iris-sweep", description="SVC grid", actor="test")
    sweep = Sweep(experiment.id)
    plan: list[tuple[str, str | None, dict[str, str], float, float]] = [
        ("grid", None, {"C": "1", "kernel": "rbf"}, 0.95, 0.97),
        ("svc-C0.1-linear", "grid", {"C": "0.1", "kernel": "linear"}, 0.9, 0.93),
        (LONG_NAME, "grid", {"C": "10", "kernel": "rbf"}, 0.96, 0.99),
        ("svc-C1-poly", "grid", {"C": "1", "kernel": "poly"}, 0.93, 0.95),
        ("svc-C1-poly-fold2", "svc-C1-poly", {"C": "1", "kernel": "poly"}, 0.92, 0.94),
        ("baseline", None, {"C": "1", "kernel": "linear"}, 0.85, 0.9),
    ]
    for index, (name, parent, params, accuracy, roc_auc) in enumerate(plan):
        start = T0 + index * 60_000
        run = tracking.create_run(
            experiment.id,
            name=name,
            start_time=start,
            parent_run_id=None if parent is None else sweep.id(parent),
            params={**SWEEP_CONSTANT, **params},
            actor="test",
        )
        metrics = {"accuracy": accuracy, "roc_auc": roc_auc, "n_classes": 3.0}
        points = [Metric(key, value, 0, start + 1000) for key, value in metrics.items()]
        tracking.log_batch(run.id, metrics=points, actor="test")
        tracking.end_run(run.id, RunStatus.FINISHED, end_time=start + 30_000, actor="test")
        sweep.runs[name] = tracking.get_run(run.id)
    return sweep

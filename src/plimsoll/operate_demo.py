"""The demo's production: the promoted model serves four weeks of traffic, then the world moves.

    from plimsoll.operate_demo import operate
    operation = operate(client, result, release)

The promoted version scores the reference (the held-out test set with its predictions and
scores, registered as `REFERENCE_DATASET`). Then 28 days of production traffic are logged with
past timestamps: two weeks like the test set, then a clinic's new imaging device that reads
texture and smoothness higher (`DRIFT`), so the features drift and the model, which never saw
such readings, gets worse. Each day's diagnoses (the labels) arrive the day after, except the last
day's. A daily monitor on `breast-cancer-classifier@production` runs over the 28 days: drift
fires on its third drifted window in a row, the performance drop on the labels; every window's
signals are published, the incidents capability turns them into alerts, and the firing ones open
an incident assigned to the model's incident-response owner (`OWNERS`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from plimsoll.core.errors import Conflict

if TYPE_CHECKING:
    import pandas as pd

    from plimsoll.client import Client
    from plimsoll.demo import DemoResult
    from plimsoll.incidents.entities import Alert, Incident
    from plimsoll.monitoring.specs import Monitor, MonitorWindow
    from plimsoll.release_demo import Release

MONITOR = "breast-cancer-production"
REFERENCE_DATASET = "breast-cancer-reference"
DAYS = 28
DRIFT_FROM_DAY = 14
ROWS_PER_DAY = 120
DAY_MS = 86_400_000
# The new device's readings: these features come out this much larger.
DRIFT = {"mean texture": 1.35, "worst texture": 1.35, "mean smoothness": 1.3, "worst smoothness": 1.3}
OWNERS = {"monitoring": "demo-oncall", "incident_response": "demo-oncall"}
Step = Callable[[str], None]


@dataclass(frozen=True)
class Operation:
    monitor: Monitor
    windows: list[MonitorWindow]
    alerts: list[Alert]
    incident: Incident | None

    @property
    def drifted_days(self) -> int:
        return sum(1 for w in self.windows if w.drift.get("detected"))

    @property
    def firing(self) -> list[str]:
        rules = []
        for window in self.windows:
            rules += [s["rule"] for s in window.breaking if s["consecutive"] >= s["for_windows"]]
        return sorted(set(rules))


def operate(client: Client, result: DemoResult, release: Release, *, step: Step | None = None) -> Operation:
    """Log the promoted model's production traffic, drifting halfway, and monitor it."""
    from plimsoll.release_demo import ALIAS, MODEL

    say = step or (lambda _: None)
    project = result.experiment.project
    data = result.data
    say("scoring the reference with the promoted model")
    model = client.registry.load(release.version.ref, project=project)
    reference = _scored(model, data.x_test, data.y_test)
    reference_version = client.datasets.register(REFERENCE_DATASET, reference, project=project)
    client.registry.update(MODEL, owners=OWNERS, project=project)
    now = client.platform.service("monitoring").clock() if client.platform is not None else _now()
    today = now - now % DAY_MS
    first = today - DAYS * DAY_MS
    rng = np.random.default_rng(7)
    say(f"logging {DAYS} days of production traffic (a new imaging device from day {DRIFT_FROM_DAY})")
    for day in range(DAYS):
        frame, truth = _day(data, rng, drifted=day >= DRIFT_FROM_DAY)
        stamps = first + day * DAY_MS + np.sort(rng.integers(0, DAY_MS, len(frame)))
        scores = model.predict_proba(frame)[:, 1]
        ids = client.log_predictions(
            f"{MODEL}@{ALIAS}",
            frame,
            (scores >= 0.5).astype(np.int64),
            scores=scores,
            ids=[f"day{day}-{i}" for i in range(len(frame))],
            timestamps=stamps.tolist(),
            project=project,
        )
        if day < DAYS - 1:  # the diagnoses come back the next day
            client.log_labels(ids, truth, model=MODEL, timestamps=(stamps + DAY_MS).tolist(), project=project)
    client.monitoring.flush()
    say(f"monitoring {MODEL}@{ALIAS} day by day against {reference_version.ref}")
    spec = {
        "kind": "dataset",
        "dataset": reference_version.ref,
        "target": "benign",
        "prediction": "prediction",
        "score": "score",
    }
    with contextlib.suppress(Conflict):  # an earlier demo's monitor: its stored windows are shown
        client.monitors.create(
            MONITOR,
            f"{MODEL}@{ALIAS}",
            spec,
            features=data.features,
            every="1d",
            start=first,
            project=project,
        )
    say("alerting: the monitor's signals become alerts, and an incident for the owner")
    background = client.platform.start_background(threads=1) if client.platform is not None else None
    try:
        windows = client.monitors.run(MONITOR, project=project)
        if not windows:
            windows = client.monitors.windows(MONITOR, since=first, project=project)
        expected = (
            {s["rule"] for s in windows[-1].breaking if s["consecutive"] >= s["for_windows"]}
            if windows
            else set()
        )
        incident = _incident(client, MODEL, project, expected)
    finally:
        if background is not None:
            background.stop()
    alerts = client.alerts.list(model=MODEL, project=project)
    return Operation(client.monitors.get(MONITOR, project=project), windows, alerts, incident)


def _incident(
    client: Client, model: str, project: str, rules: set[str], *, wait_s: float = 60.0
) -> Incident | None:
    """The open incident for `model` once the incidents consumer (a background worker here, the
    server's over HTTP) has caught up: every rule firing in the newest window is a firing alert."""
    import time

    deadline = time.monotonic() + wait_s
    while True:
        firing = {alert.rule for alert in client.alerts.list(model=model, state="firing", project=project)}
        found = client.incidents.list(model=model, state="unresolved", project=project)
        if (found and rules <= firing) or time.monotonic() > deadline:
            return found[0] if found else None
        time.sleep(0.25)


def _scored(model: Any, features: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    scores = model.predict_proba(features)[:, 1]
    return features.assign(benign=labels, prediction=(scores >= 0.5).astype(np.int64), score=scores)


def _day(
    data: Any, rng: np.random.Generator, *, drifted: bool, rows: int = ROWS_PER_DAY
) -> tuple[pd.DataFrame, np.ndarray]:
    """A day's tumours: drawn from the test set with a little measurement noise; from the new
    device on, its readings of texture and smoothness are larger."""
    pick = rng.integers(0, len(data.x_test), rows)
    frame = data.x_test.iloc[pick].reset_index(drop=True)
    frame = frame * rng.normal(1.0, 0.02, frame.shape)
    if drifted:
        for column, factor in DRIFT.items():
            frame[column] = frame[column] * factor
    return frame, data.y_test[pick]


def _now() -> int:
    import time

    return int(time.time() * 1000)

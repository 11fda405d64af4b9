"""What the incidents tests share (imported by name; no conftest): `monitor.checked` events
published through a real platform's outbox as the monitoring capability publishes them (the
catalog validates each against monitoring's contract), the outbox read back and handed to the
incidents consumer's handler, model versions with owners, and a clock tests move by hand."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from plimsoll.core.changes import changing
from plimsoll.core.ids import new_id
from plimsoll.core.outbox import Cursor
from plimsoll.incidents.signals import CONSUMED
from plimsoll.model_registry.entities import ModelVersion
from plimsoll.platform import Platform

T0 = 1_800_000_000_000  # 2027-01-15T08:00:00Z
MINUTE = 60_000
HOUR = 60 * MINUTE
MONITOR_ID = "0123456789abcdef0123456789abcdef"


class Clock:
    """The incidents service's clock, moved by hand."""

    def __init__(self, platform: Platform, start: int = T0) -> None:
        self.now = start
        platform.incidents.clock = self

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> int:
        self.now += ms
        return self.now


def signal(
    rule: str,
    active: bool,
    value: float | None = 0.3,
    *,
    consecutive: int | None = None,
    for_windows: int = 1,
    for_s: int = 0,
    severity: str = "warning",
    threshold: float = 0.2,
    labels: dict[str, str] | None = None,
    summary: str | None = None,
) -> dict[str, Any]:
    return {
        "rule": rule,
        "active": active,
        "value": value,
        "op": ">",
        "threshold": threshold,
        "severity": severity,
        "for_windows": for_windows,
        "consecutive": (1 if active else 0) if consecutive is None else consecutive,
        "for_s": for_s,
        "labels": labels or {},
        "annotations": {
            "summary": summary or f"{rule} on churn",
            "runbook_url": f"https://runbooks.example.org/{rule}",
        },
    }


def check(
    platform: Platform,
    signals: list[dict[str, Any]],
    *,
    at: int,
    monitor: str = "churn-prod",
    monitor_id: str = MONITOR_ID,
    model: str = "churn",
    alias: str = "production",
    version: int | None = 1,
    segment: tuple[str, str] | None = None,
    project: str = "default",
) -> int:
    """Publish one `monitor.checked` event (window ending at `at`); its id."""
    payload = {
        "project": project,
        "monitor": monitor,
        "monitor_id": monitor_id,
        "model": model,
        "alias": alias,
        "version": version,
        "segment": None if segment is None else {"column": segment[0], "value": segment[1]},
        "window": {"start": at - HOUR, "end": at},
        "checked_at": at,
        "signals": signals,
        "url": f"/monitors/{monitor_id}",
    }
    with changing(platform.db, platform.outbox, "monitor") as change:
        change.emit("monitor.checked", f"monitor:{monitor_id}", payload, project=project)
    return change.event_ids[0]


_CURSORS: dict[int, Cursor] = {}


def drain(platform: Platform) -> int:
    """Hand every event published since the last drain to the incidents consumer's handler, as
    the outbox's work consumer does (in id order, the types it declares); how many were handled."""
    cursor = _CURSORS.get(id(platform), Cursor())
    handled = 0
    while True:
        events, cursor = platform.outbox.read(cursor, 100)
        if not events:
            break
        for event in events:
            if event.type in CONSUMED:
                platform.incidents.on_event(event)
                handled += 1
    _CURSORS[id(platform)] = cursor
    return handled


def model_versions(
    platform: Platform, count: int = 2, name: str = "churn", owners: dict[str, str] | None = None
) -> list[ModelVersion]:
    """`count` versions of `name`, each from a run of its own; the model's `owners`."""
    experiment = platform.tracking.get_or_create_experiment(name, actor="ada")
    made = []
    for number in range(count):
        run = platform.tracking.create_run(experiment.id, actor="ada")
        platform.tracking.log_artifact(
            run.id, "model/weights.bin", f"weights {number} {new_id()}".encode(), actor="ada"
        )
        made.append(
            platform.model_registry.register_version(name, run_id=run.id, artifact_path="model", actor="ada")
        )
    if owners is not None:
        platform.model_registry.update_model(name, owners=owners, actor="ada")
    return made


def wait_for(condition: Callable[[], Any], *, timeout: float = 60.0, what: str = "the condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.05)

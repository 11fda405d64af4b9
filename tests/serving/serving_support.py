"""What the serving tests share (imported by name; no conftest): model versions made from real
runs, a clock the serving service reads and tests move by hand, the outbox read back and handed
to the serving consumer's handler (as the work consumer does), traffic as replicas report it, and
a protected alias guarded by a gates policy that passes without approvals."""

from __future__ import annotations

from typing import Any

from plimsoll.core.ids import new_id, now_ms
from plimsoll.core.outbox import Cursor
from plimsoll.model_registry.entities import ModelVersion
from plimsoll.platform import Platform
from plimsoll.serving.entities import LATENCY_BUCKETS_MS, TrafficStats

MINUTE = 60_000
POLICY = """\
model: churn
alias: production
approvals:
  required: 0
gates:
  - {name: auc, metric: roc_auc, min: 0.8}
"""


class Clock:
    """The serving service's clock, moved by hand (from now: the registry's moves use real time)."""

    def __init__(self, platform: Platform) -> None:
        self.now = now_ms()
        platform.serving.clock = self

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> int:
        self.now += ms
        return self.now


def model_versions(platform: Platform, count: int = 3, name: str = "churn") -> list[ModelVersion]:
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
    return made


_CURSORS: dict[int, Cursor] = {}


def drain(platform: Platform) -> int:
    """Hand every `alias.moved` published since the last drain to the serving consumer."""
    cursor = _CURSORS.get(id(platform), Cursor())
    handled = 0
    while True:
        events, cursor = platform.outbox.read(cursor, 100)
        if not events:
            break
        for event in events:
            if event.type == "alias.moved":
                platform.serving.on_event(event)
                handled += 1
    _CURSORS[id(platform)] = cursor
    return handled


def events_of(platform: Platform, type: str) -> list[dict[str, Any]]:
    found, cursor = [], Cursor()
    while True:
        events, cursor = platform.outbox.read(cursor, 500)
        if not events:
            return found
        found += [e.payload for e in events if e.type == type]


def stats(
    version: int, role: str, at: int, requests: int, errors: int = 0, latency_ms: float = 4
) -> TrafficStats:
    """`requests` answered in about `latency_ms` each, as one replica's report at `at`."""
    counts = [0] * (len(LATENCY_BUCKETS_MS) + 1)
    bucket = next(
        (i for i, bound in enumerate(LATENCY_BUCKETS_MS) if latency_ms <= bound), len(LATENCY_BUCKETS_MS)
    )
    counts[bucket] = requests
    return TrafficStats(version, role, at, at + 5_000, requests, errors, tuple(counts))


def promote(platform: Platform, version: int) -> Any:
    """A promotion of churn/`version` to production whose gates pass (no approvals needed)."""
    promotion = platform.gates.promote(
        "churn", version, to="production", evidence={"metrics": {"roc_auc": 0.9}}, actor="ada"
    )
    return platform.gates.run_gates(promotion.id)

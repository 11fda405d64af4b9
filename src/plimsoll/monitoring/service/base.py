"""What every part of monitoring's service shares: its parts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from plimsoll.core.capability import Parts
from plimsoll.core.changes import changing
from plimsoll.core.ids import now_ms


class ServiceBase:
    def __init__(self, parts: Parts) -> None:
        self.db = parts.db
        self.events = parts.events
        self.projects = parts.projects
        self.blobs = parts.blobs
        self.registry = parts.services["model_registry"]
        self.data = parts.services.get("data")
        self.lineage = parts.services.get("lineage")
        self.evaluation = parts.services.get("evaluation")
        self.jobs = parts.services.get("jobs")
        self.clock: Callable[[], int] = now_ms  # ms since the epoch; tests move time by hand

    def _change(self, actor: str) -> Any:
        return changing(self.db, self.events, actor)

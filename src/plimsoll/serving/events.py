"""The events the serving capability publishes, with their payloads (the catalog validates each).

`deployment.changed` is published by every change of a deployment, in the transaction of the
change: created, updated, a canary started (by a person, or because the followed alias moved), a
step advanced, paused, resumed, promoted, rolled back. Replicas and dashboards follow it; its
`revision` tells a replica its routing is out of date.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from plimsoll.core.outbox import EventType

DEPLOYMENT_CHANGED = "deployment.changed"


class DeploymentChanged(BaseModel):
    deployment: str  # the deployment's id
    project: str
    name: str
    environment: str
    model: str
    alias: str
    action: str  # one of serving.entities.ACTIONS
    state: str
    stable: int | None
    canary: int | None
    canary_weight: float
    shadow: int | None
    revision: int
    decision: str | None  # the release decision the rollout carries out
    reason: str
    analysis: dict[str, Any] | None  # the rollout analysis that led to it


EVENTS = (
    EventType(
        DEPLOYMENT_CHANGED,
        "A deployment changed: created or updated, a canary started (by a person or because the "
        "alias it follows moved), a rollout step advanced, paused, resumed, promoted or rolled back "
        "(docs/serving.md). `revision` tells a model server replica to reload its routing.",
        DeploymentChanged,
    ),
)

"""The events the registry publishes, with their payloads (the catalog validates each)."""

from __future__ import annotations

from pydantic import BaseModel

from plimsoll.core.outbox import EventType


class VersionRegistered(BaseModel):
    model: str
    version: int
    project: str
    run_id: str | None
    artifact_digest: str
    flavor: str


class AliasMoved(BaseModel):
    model: str
    alias: str
    version: int | None  # None: the alias was removed
    previous: int | None
    action: str  # "set", "rollback", "removed" or "promote"
    reason: str
    project: str
    decision: str | None = None  # a promotion's: the release decision that allowed the move


EVENTS = (
    EventType(
        "model.version_registered",
        "A new version of a model was registered from a run's artifact (the same artifact of the "
        "same run registered again is not a new version and publishes nothing).",
        VersionRegistered,
    ),
    EventType(
        "alias.moved",
        "A model's alias (staging, production, ...) was pointed at a version (by hand, or by a "
        "promotion whose release decision passed: `decision` names it), rolled back to its "
        "previous holder, or removed.",
        AliasMoved,
    ),
)

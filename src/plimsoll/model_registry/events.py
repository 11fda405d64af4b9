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


class TypesApproved(BaseModel):
    model: str
    version: int
    project: str
    types: list[str]  # the types skops will be told to trust when this version is loaded
    reason: str


class VersionTrusted(BaseModel):
    model: str
    version: int
    project: str
    pickle_imports: list[str]  # what its pickle imports, as scanned at registration
    reason: str


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
    EventType(
        "model.types_approved",
        "A project admin approved the types a version's skops file holds beyond skops' defaults: "
        "the version can be loaded.",
        TypesApproved,
    ),
    EventType(
        "model.version_trusted",
        "A project admin trusted a version's pickle: the version can be loaded.",
        VersionTrusted,
    ),
)

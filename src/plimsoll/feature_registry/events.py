"""The events the features capability publishes, with their payloads (the catalog validates each)."""

from __future__ import annotations

from pydantic import BaseModel

from plimsoll.core.outbox import EventType


class VersionRegistered(BaseModel):
    feature: str
    version: int
    project: str
    dtype: str
    source_hash: str
    digest: str
    # What differs from the version before (`source`, `dtype`, `inputs`); empty for version 1.
    changes: list[str]


class SkewChecked(BaseModel):
    check_id: str
    project: str
    features: list[str]  # NAME@VERSION of each feature checked
    skewed: list[str]  # those that disagree, the most severe first
    training: str
    serving: str


EVENTS = (
    EventType(
        "feature.version_registered",
        "A new version of a feature's definition was registered: a new feature, or a changed "
        "transformation, dtype or inputs under its name (`changes` says which). Registering a "
        "definition already registered under the name is not a new version and publishes nothing.",
        VersionRegistered,
    ),
    EventType(
        "feature.skew_checked",
        "Features' training-time profiles were compared with their serving-time ones; `skewed` "
        "names those whose values disagree (the statistics engine's verdicts).",
        SkewChecked,
    ),
)

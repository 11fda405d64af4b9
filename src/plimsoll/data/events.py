"""The events the data capability publishes, with their payloads (the catalog validates each)."""

from __future__ import annotations

from pydantic import BaseModel

from plimsoll.core.outbox import EventType


class VersionRegistered(BaseModel):
    dataset: str
    version: int
    digest: str
    project: str
    files: int
    bytes: int
    rows: int | None
    run_id: str | None
    by_reference: bool


class VersionDeleted(BaseModel):
    dataset: str
    version: int
    digest: str
    project: str


class VersionValidated(BaseModel):
    dataset: str
    version: int
    project: str
    passed: bool
    rows: int
    failed_checks: int


EVENTS = (
    EventType(
        "dataset.version_registered",
        "A new version of a dataset was registered (content already registered under the name is "
        "not a new version and publishes nothing).",
        VersionRegistered,
    ),
    EventType(
        "dataset.version_deleted",
        "A dataset version was deleted (its contents become garbage unless another version holds "
        "them; its node stays in the lineage graph as deleted).",
        VersionDeleted,
    ),
    EventType(
        "dataset.validated",
        "A dataset version was validated against a pandera schema (passed or failed: the outcome "
        "is the version's `validation` from now on).",
        VersionValidated,
    ),
)

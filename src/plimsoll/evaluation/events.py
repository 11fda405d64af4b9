"""The events the evaluation capability publishes, with their payloads (the catalog validates each)."""

from __future__ import annotations

from pydantic import BaseModel

from plimsoll.core.outbox import EventType


class Recorded(BaseModel):
    evaluation_id: str
    project: str
    task: str
    model: str | None  # NAME/VERSION
    dataset: str | None  # NAME@VERSION
    rows: int
    metrics: dict[str, float | None]


EVENTS = (
    EventType(
        "evaluation.recorded",
        "An evaluation of a model on data was stored: its task, the model version and dataset "
        "version it names (if any), its rows and its metrics on the whole table.",
        Recorded,
    ),
)

"""The events tracking publishes, with their payloads (the catalog validates every one)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from plimsoll.core.outbox import EventType


class ExperimentEvent(BaseModel):
    experiment_id: str
    name: str
    project: str


class RunCreated(BaseModel):
    run_id: str
    experiment_id: str
    name: str
    project: str


class RunEnded(BaseModel):
    run_id: str
    status: Literal["FINISHED", "FAILED", "KILLED"]
    end_time: int
    project: str


class RunLifecycle(BaseModel):
    run_id: str
    experiment_id: str
    project: str


class RunResumed(BaseModel):
    run_id: str
    experiment_id: str
    project: str
    ended_as: Literal["FINISHED", "FAILED", "KILLED"]


class RunPurged(BaseModel):
    run_id: str
    project: str


EVENTS = (
    EventType("experiment.created", "An experiment was created.", ExperimentEvent),
    EventType("experiment.renamed", "An experiment was renamed (`name` is the new name).", ExperimentEvent),
    EventType("experiment.deleted", "An experiment was deleted (it can be restored).", ExperimentEvent),
    EventType("experiment.restored", "A deleted experiment was restored.", ExperimentEvent),
    EventType("run.created", "A run was started.", RunCreated),
    EventType("run.ended", "A run ended: FINISHED, FAILED or KILLED.", RunEnded),
    EventType(
        "run.resumed", "An ended run was opened for more logging (`ended_as`: how it had ended).", RunResumed
    ),
    EventType("run.deleted", "A run was deleted (it can be restored until it is purged).", RunLifecycle),
    EventType("run.restored", "A deleted run was restored.", RunLifecycle),
    EventType("run.purged", "A run deleted longer ago than the retention was purged for good.", RunPurged),
)

"""The events of projects."""

from __future__ import annotations

from pydantic import BaseModel

from plimsoll.core.outbox import EventType


class ProjectCreated(BaseModel):
    project: str


EVENTS = (EventType("project.created", "A project was created.", ProjectCreated),)

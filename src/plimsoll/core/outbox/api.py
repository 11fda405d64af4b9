"""Events over HTTP: follow what happened (`GET /api/v1/events?after=...`), and the catalog."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from plimsoll.core.http import QueryInt, json_response, service_of
from plimsoll.core.outbox.entities import CURSOR_PATTERN
from plimsoll.core.outbox.service import MAX_PAGE, Outbox
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.wire import Documented, EventType, between

router = APIRouter(prefix="/api/v1", tags=["events"])

Events = Annotated[Outbox, Depends(service_of("events"))]


@router.get("/events")
def follow_events(
    events: Events,
    after: Annotated[str, Documented(pattern=CURSOR_PATTERN)] | None = None,
    type: Annotated[list[EventType] | None, Query()] = None,
    project: str = DEFAULT_PROJECT,
    limit: Annotated[QueryInt, between(1, MAX_PAGE)] = 100,
) -> Response:
    """A project's events after the `after` token (from the oldest kept when none), in order; the
    answer's `next_page_token` is the `after` of the next request and never skips an event."""
    return json_response(events.follow(after, type, limit, project=project).to_dict())


@router.get("/events/types")
def event_types(events: Events) -> Response:
    """Every event type, with its description and payload schema."""
    return json_response({"types": events.catalog.list()})

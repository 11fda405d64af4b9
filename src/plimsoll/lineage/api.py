"""Lineage's HTTP routes under /api/v1/lineage: thin translations to LineageService calls."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from plimsoll.core.http import QueryInt, current_actor, json_response, service_of
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.wire import Documented, Id, Name, between, one_of
from plimsoll.lineage.entities import (
    DEFAULT_EXPORT_PAGE,
    DEFAULT_NODE_LIMIT,
    EDGE_CONTEXTS,
    EDGE_ROLES,
    MAX_DEPTH,
    MAX_EXPORT_PAGE,
    MAX_NODE_ID_LENGTH,
    MAX_NODE_LIMIT,
    NODE_ID_PATTERN,
)
from plimsoll.lineage.service import LineageService

router = APIRouter(prefix="/api/v1/lineage", tags=["lineage"])

Lineage = Annotated[LineageService, Depends(service_of("lineage"))]
Actor = Annotated[str, Depends(current_actor)]

# A node id's grammar (docs/lineage.md), as the service checks it (`entities.parse_node`).
NodeId = Annotated[str, Documented(minLength=1, maxLength=MAX_NODE_ID_LENGTH, pattern=NODE_ID_PATTERN)]
Depth = Annotated[QueryInt | None, Query(), between(1, MAX_DEPTH)]
# The nodes an answer lists at most; past it the answer says `truncated` and gives the `total`.
Limit = Annotated[QueryInt, Query(), between(1, MAX_NODE_LIMIT)]
PageSize = Annotated[QueryInt, Query(), between(1, MAX_EXPORT_PAGE)]


class EdgeBody(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    project: Name = DEFAULT_PROJECT
    source: NodeId = Field(alias="from")
    target: NodeId = Field(alias="to")
    role: Annotated[str, one_of(EDGE_ROLES)]
    context: Annotated[str, one_of(EDGE_CONTEXTS)] | None = None


@router.get("/upstream")
def upstream(
    lineage: Lineage,
    node: NodeId,
    depth: Depth = None,
    limit: Limit = DEFAULT_NODE_LIMIT,
    project: Name = DEFAULT_PROJECT,
) -> Response:
    """Where `node` came from, within `depth` steps (all when not given), at most `limit` nodes:
    the start and the earliest recorded others, with `truncated` and the `total` reached."""
    return json_response(lineage.upstream(project, node, depth, limit).to_dict())


@router.get("/downstream")
def downstream(
    lineage: Lineage,
    node: NodeId,
    depth: Depth = None,
    limit: Limit = DEFAULT_NODE_LIMIT,
    project: Name = DEFAULT_PROJECT,
) -> Response:
    """What was made from `node`, within `depth` steps (all when not given), at most `limit` nodes:
    the start and the earliest recorded others, with `truncated` and the `total` reached."""
    return json_response(lineage.downstream(project, node, depth, limit).to_dict())


@router.get("/impact")
def impact(
    lineage: Lineage, node: NodeId, limit: Limit = DEFAULT_NODE_LIMIT, project: Name = DEFAULT_PROJECT
) -> Response:
    """The runs, model versions and deployments downstream of `node`: how many of each kind, and
    the first `limit` of them by kind and key."""
    return json_response(lineage.impact(project, node, limit).to_dict())


@router.post("/edges", status_code=201)
def add_edge(body: EdgeBody, lineage: Lineage, actor: Actor) -> Response:
    """Link two nodes (created if new); linking again is harmless."""
    edge = lineage.add_edge(
        body.source, body.target, body.role, body.context, project=body.project, actor=actor
    )
    return json_response(edge.to_dict(), 201)


@router.get("/openlineage")
def openlineage(
    lineage: Lineage,
    project: Name = DEFAULT_PROJECT,
    run: Id | None = None,
    page_token: str | None = None,
    page_size: PageSize = DEFAULT_EXPORT_PAGE,
) -> Response:
    """OpenLineage run events (the spec's JSON documents) of one run, or of a page of
    `page_size` runs of the project, oldest first: `{"events": [...], "next_page_token"}`. A
    `page_token` is one an earlier page answered, and pages through a project's runs, never with
    `run`."""
    page = lineage.openlineage_events(project, run_id=run, page_token=page_token, page_size=page_size)
    return json_response(page.to_dict())

"""Monitoring's HTTP routes under /api/v1/monitoring: thin translations to MonitoringService.

A batch of predictions, labels or outcomes is POSTed as an Arrow IPC stream (what the SDK sends)
or as JSON (the SDK call's arguments by name); the model, deployment, role and the logger's batch
id ride in the query, the same for both. Rows are read back as an Arrow IPC stream. A batch
scoring, run by the SDK where the model is loaded, is recorded with `POST .../scorings`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Strict
from starlette.concurrency import run_in_threadpool

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.http import QueryInt, current_actor, json_response, service_of
from plimsoll.core.ids import now_ms
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import INT64_MAX, NAME_PATTERN, TEXT_PATTERN, bounded_reference_name_pattern
from plimsoll.core.wire import Documented, JsonInt, Name, between, one_of
from plimsoll.model_registry.entities import ALIAS_PATTERN
from plimsoll.monitoring.entities import (
    ARROW_STREAM,
    BATCH_ID_PATTERN,
    MAX_COLUMN_NAME_LENGTH,
    MAX_ID_LENGTH,
    MAX_ROWS_PER_BATCH,
    MAX_SCORING_SECONDS,
    MAX_SEGMENTS_LISTED,
    ROLES,
    Scoring,
)
from plimsoll.monitoring.service import MAX_ROWS_READ, MonitoringService
from plimsoll.monitoring.tables import from_ipc, json_table, to_ipc

router = APIRouter(tags=["monitoring"])
_API = "/api/v1/monitoring"

Monitoring = Annotated[MonitoringService, Depends(service_of("monitoring"))]
Actor = Annotated[str, Depends(current_actor)]
Kind = Literal["predictions", "labels", "outcomes"]
_NAME = bounded_reference_name_pattern(200)
_VERSION = "[1-9][0-9]{0,14}"
ModelRef = Annotated[str, Documented(pattern=rf"^{_NAME}(?:/{_VERSION}|@[a-z][a-z0-9_-]{{0,62}})?$")]
ModelFilter = Annotated[str, Documented(pattern=rf"^{_NAME}(?:/{_VERSION})?$")]
ModelName = Annotated[str, Documented(pattern=rf"^{_NAME}$")]
# A deployment's name, or "": none (in a filter, the rows no deployment served).
Deployment = Annotated[str, Documented(maxLength=200, pattern=rf"^(?:{NAME_PATTERN[1:-1]})?$")]
Role = Annotated[str, one_of(("", *ROLES))]
BatchId = Annotated[str, Documented(pattern=BATCH_ID_PATTERN)]
EpochMs = Annotated[QueryInt, Query(), between(0, INT64_MAX)]

_COLUMN = {"type": "array", "minItems": 1, "maxItems": MAX_ROWS_PER_BATCH}
_IDS = {"type": "array", "items": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH}}
_TIMESTAMPS = {"type": "array", "items": {"type": "integer", "minimum": 0, "maximum": 2**53 - 1}}
# What a JSON batch holds, by kind: the SDK call's arguments by name. That every column has one
# value a row, and that ids are unique, the document says in words; the server checks.
JSON_BODIES: dict[str, dict[str, Any]] = {
    "predictions": {
        "required": ["features", "predictions"],
        "properties": {
            "features": {
                "description": "a list of objects (one a row), or an object of columns",
                "oneOf": [
                    {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": MAX_ROWS_PER_BATCH,
                        "items": {"type": "object"},
                    },
                    {"type": "object", "minProperties": 1, "additionalProperties": _COLUMN},
                ],
            },
            "predictions": _COLUMN,
            "scores": {"type": "array", "items": {"type": "number"}},
            "ids": _IDS,
            "timestamps": _TIMESTAMPS,
        },
    },
    "labels": {
        "required": ["ids", "labels"],
        "properties": {"ids": _IDS, "labels": _COLUMN, "timestamps": _TIMESTAMPS},
    },
    "outcomes": {
        "required": ["ids", "outcomes"],
        "properties": {
            "ids": _IDS,
            "outcomes": {"type": "object", "minProperties": 1, "additionalProperties": _COLUMN},
            "timestamps": _TIMESTAMPS,
        },
    },
}


def _batch_body(kind: str) -> dict[str, Any]:
    schema = {"type": "object", "additionalProperties": False, **JSON_BODIES[kind]}
    return {
        "requestBody": {
            "required": True,
            "description": f"The {kind}: an Arrow IPC stream of the kind's columns (docs/monitoring.md), "
            "or JSON holding the SDK call's arguments by name",
            "content": {
                ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}},
                "application/json": {"schema": schema},
            },
        }
    }


async def _log(
    kind: str,
    request: Request,
    monitoring: MonitoringService,
    actor: str,
    where: dict[str, Any],
) -> Response:
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type == ARROW_STREAM:
        table = await run_in_threadpool(from_ipc, body)
    elif content_type == "application/json":
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidParameter("body", f"is not JSON: {exc}") from None
        table = await run_in_threadpool(lambda: json_table(kind, document, now_ms=now_ms()))
    else:
        raise InvalidParameter(
            "content-type", f"must be {ARROW_STREAM} or application/json; got {content_type!r}"
        )
    logged = await run_in_threadpool(lambda: monitoring.log(kind, table, **where, actor=actor))
    return json_response(logged.to_dict(), 201)


@router.post(f"{_API}/predictions", status_code=201, openapi_extra=_batch_body("predictions"))
async def log_predictions(
    request: Request,
    monitoring: Monitoring,
    actor: Actor,
    model: ModelRef,
    project: Name = DEFAULT_PROJECT,
    deployment: Deployment | None = None,
    role: Role | None = None,
    batch: BatchId | None = None,
) -> Response:
    """Store a batch of predictions of `model` (NAME/VERSION, or NAME@ALIAS: the version it holds
    now), served by `deployment` in `role` if given; a batch id sent again stores nothing new."""
    where = {"model": model, "deployment": deployment or "", "role": role or "", "batch": batch}
    return await _log("predictions", request, monitoring, actor, {**where, "project": project})


@router.post(f"{_API}/labels", status_code=201, openapi_extra=_batch_body("labels"))
async def log_labels(
    request: Request,
    monitoring: Monitoring,
    actor: Actor,
    project: Name = DEFAULT_PROJECT,
    model: ModelName | None = None,
    batch: BatchId | None = None,
) -> Response:
    """Store the labels of predictions logged earlier, by their ids (of `model`, if named)."""
    return await _log(
        "labels", request, monitoring, actor, {"model": model, "batch": batch, "project": project}
    )


@router.post(f"{_API}/outcomes", status_code=201, openapi_extra=_batch_body("outcomes"))
async def log_outcomes(
    request: Request,
    monitoring: Monitoring,
    actor: Actor,
    project: Name = DEFAULT_PROJECT,
    model: ModelName | None = None,
    batch: BatchId | None = None,
) -> Response:
    """Store business outcomes of predictions logged earlier, by their ids."""
    return await _log(
        "outcomes", request, monitoring, actor, {"model": model, "batch": batch, "project": project}
    )


def _filters(
    project: Name = DEFAULT_PROJECT,
    model: ModelFilter | None = None,
    deployment: Deployment | None = None,
    role: Role | None = None,
    since: EpochMs | None = None,
    until: EpochMs | None = None,
) -> dict[str, Any]:
    """Which logged rows a read means: of a model (NAME or NAME/VERSION), a deployment and role,
    made from `since` to before `until` (epoch ms)."""
    return {
        "project": project,
        "model": model,
        "deployment": deployment,
        "role": role,
        "since": since,
        "until": until,
    }


Filters = Annotated[dict[str, Any], Depends(_filters)]


@router.get(f"{_API}/{{kind}}/segments")
def list_segments(
    kind: Kind,
    monitoring: Monitoring,
    filters: Filters,
    limit: Annotated[QueryInt, Query(), between(1, MAX_SEGMENTS_LISTED)] = MAX_SEGMENTS_LISTED,
) -> Response:
    """The Parquet segments holding rows of `kind` from `since` to before `until` (epoch ms)."""
    found = monitoring.segments(kind, **filters, limit=limit)
    return json_response({"segments": [segment.to_dict() for segment in found]})


@router.get(
    f"{_API}/{{kind}}/rows",
    responses={200: {"content": {ARROW_STREAM: {"schema": {"type": "string", "format": "binary"}}}}},
)
def read_rows(
    kind: Kind,
    monitoring: Monitoring,
    filters: Filters,
    limit: Annotated[QueryInt, Query(), between(1, MAX_ROWS_READ)] = MAX_ROWS_READ,
) -> Response:
    """The logged rows of `kind`, oldest first, as an Arrow IPC stream."""
    return Response(to_ipc(monitoring.read(kind, **filters, limit=limit)), media_type=ARROW_STREAM)


# -- batch scoring ------------------------------------------------------------------------------------

ModelVersionRef = Annotated[str, Documented(pattern=rf"^{_NAME}/{_VERSION}$")]
DatasetVersionRef = Annotated[str, Documented(pattern=rf"^{_NAME}@{_VERSION}$")]


class ScoringBody(BaseModel):
    """A batch scoring run where the model was loaded: the model version that predicted, the
    dataset version it scored, the dataset version holding its predictions (not the one scored),
    and what it did."""

    model_config = ConfigDict(extra="forbid")

    model: ModelVersionRef
    dataset: DatasetVersionRef
    output: DatasetVersionRef
    rows: Annotated[JsonInt, between(1, INT64_MAX)]
    batches: Annotated[JsonInt, between(1, INT64_MAX)]
    segments: Annotated[JsonInt, between(0, INT64_MAX)]
    project: Name = DEFAULT_PROJECT
    alias: Annotated[str, Documented(pattern=ALIAS_PATTERN)] | None = None
    id_column: (
        Annotated[str, Documented(minLength=1, maxLength=MAX_COLUMN_NAME_LENGTH, pattern=TEXT_PATTERN)] | None
    ) = None
    seconds: Annotated[float, Strict(), Documented(minimum=0, maximum=MAX_SCORING_SECONDS)] = 0.0


@router.post(f"{_API}/scorings", status_code=201)
def record_scoring(body: ScoringBody, monitoring: Monitoring, actor: Actor) -> Response:
    """Record a batch scoring: its versions checked (the output must hold its rows), the output
    linked in the lineage graph (`dataset -> output` derived, `model -> output` produced)."""
    recorded = monitoring.record_scoring(Scoring(**body.model_dump()), actor=actor)
    return json_response(recorded.to_dict(), 201)

"""Tracking's HTTP routes under /api/v1: thin translations to TrackingService calls."""

from __future__ import annotations

import tempfile
from contextlib import suppress
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from plimsoll.core import downloads
from plimsoll.core.auth.entities import User
from plimsoll.core.auth.service import AuthService
from plimsoll.core.db import WriteLockBusy
from plimsoll.core.errors import InvalidParameter
from plimsoll.core.http import QueryInt, actor_of, current_actor, fast_lane, json_response, service_of
from plimsoll.core.ids import now_ms
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.projects.service import ProjectService
from plimsoll.core.validation import check_float
from plimsoll.core.wire import (
    ArtifactPath,
    ArtifactPrefix,
    Description,
    Documented,
    EpochMs,
    Flag,
    Id,
    IdOrShortId,
    Int64,
    JsonInt,
    Key,
    MetricValue,
    Name,
    Params,
    Tags,
    between,
    name_rules,
    one_of,
)
from plimsoll.tracking.entities import (
    EXPERIMENT_VIEWS,
    MAX_RUN_USER_LENGTH,
    MAX_RUNS_PER_BATCH,
    MetricColumns,
    RunCreate,
    RunEnd,
    RunStatus,
    RunWrites,
    check_view,
    parse_run_status,
)
from plimsoll.tracking.search_language import MAX_FILTER_LENGTH
from plimsoll.tracking.service import TrackingService
from plimsoll.tracking.service.history import MAX_HISTORY_POINTS
from plimsoll.tracking.service.runs import MAX_SEARCH_RESULTS
from plimsoll.tracking.store.search_order import MAX_ORDER_BY

router = APIRouter(prefix="/api/v1", tags=["tracking"])

DIGEST_HEADER = "X-Plimsoll-Digest"

Actor = Annotated[str, Depends(current_actor)]


Tracking = Annotated[TrackingService, Depends(service_of("tracking"))]
Auth = Annotated[AuthService, Depends(service_of("auth"))]
Projects = Annotated[ProjectService, Depends(service_of("projects"))]


# -- wire shapes ---------------------------------------------------------------------------------


# The field types (core.wire) declare the services' limits in the OpenAPI document; the services
# enforce them.
ENDED = one_of(status.value for status in RunStatus if status.is_terminal)


class ExperimentCreateBody(BaseModel):
    name: Name
    project: str = DEFAULT_PROJECT
    description: Description = ""
    tags: Tags = Field(default_factory=dict)


class ExperimentEnsureBody(BaseModel):
    name: Name
    project: str = DEFAULT_PROJECT


class ExperimentUpdateBody(BaseModel):
    name: Name


# Numbers are JSON numbers (`core.wire`'s JsonInt, MetricValue): pydantic would otherwise read
# `true` as 1, and a boolean is neither a metric value nor a step, a time or a count.


class MetricPoint(BaseModel):
    key: Key
    value: MetricValue
    step: Int64 = 0
    timestamp: EpochMs | None = None  # the server's clock when not given


class RunCreateBody(BaseModel):
    experiment_id: Id
    run_id: Id | None = None
    name: Name | None = None
    parent_run_id: Id | None = None
    start_time: EpochMs | None = None
    tags: Tags = Field(default_factory=dict)
    params: Params = Field(default_factory=dict)


class RunEndBody(BaseModel):
    status: Annotated[str, ENDED] = RunStatus.FINISHED.value
    end_time: EpochMs | None = None


class LogBody(BaseModel):
    batch_id: Id | None = None
    params: Params = Field(default_factory=dict)
    tags: Tags = Field(default_factory=dict)
    metrics: list[MetricPoint] = Field(default_factory=list)


class RunCreateOp(BaseModel):
    experiment_id: Id
    name: Name | None = None
    parent_run_id: Id | None = None
    start_time: EpochMs | None = None
    user: Annotated[str, name_rules(MAX_RUN_USER_LENGTH)] | None = None  # ignored with auth on


class MetricColumnsBody(BaseModel):
    """Points as parallel columns, of the same length: the SDK's bulk form (validating columns of
    plain numbers is about a hundred times cheaper than validating one object per point)."""

    keys: list[Key]
    values: list[MetricValue]
    steps: list[Int64]
    timestamps: list[EpochMs]


class RunWritesBody(BaseModel):
    run_id: Id
    create: RunCreateOp | None = None
    params: Params = Field(default_factory=dict)
    tags: Tags = Field(default_factory=dict)
    metrics: MetricColumnsBody | None = None
    end: RunEndBody | None = None


class IngestBody(BaseModel):
    """One SDK batch: each run named at most once."""

    batch_id: Id | None = None
    runs: Annotated[list[RunWritesBody], Documented(maxItems=MAX_RUNS_PER_BATCH)]


class SearchBody(BaseModel):
    experiment_ids: list[Id] | None = None
    filter: Annotated[str, Documented(maxLength=MAX_FILTER_LENGTH)] | None = None
    order_by: Annotated[list[str], Documented(maxItems=MAX_ORDER_BY)] | None = None
    max_results: Annotated[JsonInt, between(1, MAX_SEARCH_RESULTS)] = 100
    page_token: str | None = None
    include_deleted: Flag = False
    project: str | None = None  # with no experiment_ids: that project's experiments only


def _metrics(points: list[MetricPoint]) -> MetricColumns:
    now = now_ms()
    columns = MetricColumns()
    for p in points:
        value = check_float(f"metrics.{p.key}.value", p.value)
        columns.append(p.key, value, p.step, now if p.timestamp is None else p.timestamp)
    return columns


def _metric_columns(columns: MetricColumnsBody) -> MetricColumns:
    values: list[float] = cast(list[float], columns.values)
    if not all(type(v) is float for v in values):
        if len(columns.keys) != len(columns.values):
            raise InvalidParameter("metrics", "keys, values, steps and timestamps must have the same length")
        values = [
            check_float(f"metrics.{k}.value", v) for k, v in zip(columns.keys, columns.values, strict=True)
        ]
    return MetricColumns(columns.keys, values, columns.steps, columns.timestamps)


def _writes(body: RunWritesBody) -> RunWrites:
    return RunWrites(
        run_id=body.run_id,
        create=None if body.create is None else RunCreate(**body.create.model_dump()),
        params=dict(body.params),
        tags=dict(body.tags),
        metrics=MetricColumns() if body.metrics is None else _metric_columns(body.metrics),
        end=None if body.end is None else RunEnd(parse_run_status(body.end.status), body.end.end_time),
    )


# -- projects and experiments --------------------------------------------------------------------


@router.post("/experiments", status_code=201)
def create_experiment(body: ExperimentCreateBody, tracking: Tracking, actor: Actor) -> Response:
    experiment = tracking.create_experiment(
        body.name, project=body.project, description=body.description, tags=body.tags, actor=actor
    )
    return json_response(experiment.to_dict(), 201)


@router.post("/experiments/ensure")
def ensure_experiment(body: ExperimentEnsureBody, tracking: Tracking, actor: Actor) -> Response:
    """The experiment of that name, created if new; a deleted one is a conflict, not a new one."""
    return json_response(
        tracking.get_or_create_experiment(body.name, project=body.project, actor=actor).to_dict()
    )


@router.get("/experiments")
def list_experiments(
    tracking: Tracking,
    project: str = DEFAULT_PROJECT,
    view: Annotated[str, one_of(EXPERIMENT_VIEWS)] = "active",
    name: str | None = None,
) -> Response:
    if name is not None:
        check_view(view)  # not applied to a lookup by name, but checked like any other parameter
        found = tracking.find_experiment(name, project=project)
        experiments = [found] if found is not None else []
    else:
        experiments = tracking.list_experiments(project=project, view=view)
    return json_response({"experiments": [e.to_dict() for e in experiments]})


@router.get("/experiments/{experiment_ref}")
def get_experiment(experiment_ref: str, tracking: Tracking, project: str = DEFAULT_PROJECT) -> Response:
    """An experiment by id or, failing that, by name in `project`."""
    return json_response(tracking.resolve_experiment(experiment_ref, project=project).to_dict())


@router.patch("/experiments/{experiment_id}")
def rename_experiment(
    experiment_id: Id, body: ExperimentUpdateBody, tracking: Tracking, actor: Actor
) -> Response:
    return json_response(tracking.rename_experiment(experiment_id, body.name, actor=actor).to_dict())


@router.delete("/experiments/{experiment_id}")
def delete_experiment(experiment_id: Id, tracking: Tracking, actor: Actor) -> Response:
    return json_response(tracking.delete_experiment(experiment_id, actor=actor).to_dict())


@router.post("/experiments/{experiment_id}/restore")
def restore_experiment(experiment_id: Id, tracking: Tracking, actor: Actor) -> Response:
    return json_response(tracking.restore_experiment(experiment_id, actor=actor).to_dict())


# -- runs ----------------------------------------------------------------------------------------


@router.post("/runs", status_code=201)
def create_run(body: RunCreateBody, tracking: Tracking, actor: Actor) -> Response:
    run = tracking.create_run(
        body.experiment_id,
        run_id=body.run_id,
        name=body.name,
        parent_run_id=body.parent_run_id,
        start_time=body.start_time,
        tags=body.tags,
        params=body.params,
        actor=actor,
    )
    return json_response(run.to_json(), 201)


INLINE_INGEST_POINTS = 1000


async def apply_ingest(tracking: TrackingService, body: IngestBody, actor: str) -> dict[str, Any]:
    writes = [_writes(w) for w in body.runs]
    result = None
    if sum(len(w.metrics) for w in writes) <= INLINE_INGEST_POINTS and len(writes) == 1:
        # A small write (the synchronous `log_metric` round trip) is quicker done here than handed
        # to the thread pool and back, but only if it need not wait for the write lock: the event
        # loop never waits on the database. Large batches, and any that would wait, go to a thread.
        with tracking.db.without_waiting() as may_try, suppress(WriteLockBusy):
            if may_try:
                result = tracking.ingest(writes, batch_id=body.batch_id, actor=actor)
    if result is None:
        result = await run_in_threadpool(tracking.ingest, writes, batch_id=body.batch_id, actor=actor)
    return {
        "batch_id": result.batch_id,
        "applied": result.applied,
        "runs": result.runs,
        "metrics": result.metrics,
    }


@router.post("/runs/ingest")
@fast_lane(IngestBody, apply_ingest)
async def ingest(body: IngestBody, request: Request, tracking: Tracking) -> Response:
    """Apply one SDK batch atomically; idempotent by `batch_id`."""
    # The server's fast lane (server/lane.py) serves this before FastAPI's router sees it; the
    # route is here for the OpenAPI schema, the permission table, and apps built without the lane.
    return json_response(await apply_ingest(tracking, body, actor_of(request)))


@router.post("/runs/search")
def search_runs(body: SearchBody, tracking: Tracking) -> Response:
    page = tracking.search_runs(
        experiment_ids=body.experiment_ids,
        filter=body.filter,
        order_by=body.order_by,
        max_results=body.max_results,
        page_token=body.page_token,
        include_deleted=body.include_deleted,
        project=body.project,
    )
    return json_response({"runs": [r.to_json() for r in page.runs], "next_page_token": page.next_page_token})


@router.get("/runs/{run_id}")
def get_run(run_id: Id, tracking: Tracking) -> Response:
    return json_response(tracking.get_run(run_id).to_json())


@router.post("/runs/{run_id}/end")
def end_run(run_id: Id, body: RunEndBody, tracking: Tracking, actor: Actor) -> Response:
    return json_response(tracking.end_run(run_id, body.status, end_time=body.end_time, actor=actor).to_json())


@router.delete("/runs/{run_id}")
def delete_run(run_id: Id, tracking: Tracking, actor: Actor) -> Response:
    return json_response(tracking.delete_run(run_id, actor=actor).to_json())


@router.post("/runs/{run_id}/restore")
def restore_run(run_id: Id, tracking: Tracking, actor: Actor) -> Response:
    return json_response(tracking.restore_run(run_id, actor=actor).to_json())


@router.post("/runs/{run_id}/resume")
def resume_run(run_id: Id, tracking: Tracking, actor: Actor) -> Response:
    return json_response(tracking.resume_run(run_id, actor=actor).to_json())


@router.get("/resolve/runs/{short_id}")
def resolve_run_id(
    short_id: IdOrShortId, request: Request, tracking: Tracking, auth: Auth, projects: Projects
) -> Response:
    """The whole id of the one run, among those the caller may see, whose id ends with `short_id`."""
    visible = _visible_projects(request, auth, projects)
    return json_response({"id": tracking.resolve_run_id(short_id, projects=visible)})


@router.get("/resolve/experiments/{short_id}")
def resolve_experiment_id(
    short_id: IdOrShortId, request: Request, tracking: Tracking, auth: Auth, projects: Projects
) -> Response:
    """The whole id of the one experiment, among those the caller may see, ending with `short_id`."""
    visible = _visible_projects(request, auth, projects)
    return json_response({"id": tracking.resolve_experiment_id(short_id, projects=visible)})


def _visible_projects(request: Request, auth: AuthService, projects: ProjectService) -> list[str] | None:
    """The projects the signed-in caller holds a role in (every one for a site admin); None, for
    every project, with authentication off."""
    user = getattr(request.state, "user", None)
    return auth.visible_projects(user, projects.list()) if isinstance(user, User) else None


@router.post("/runs/{run_id}/log")
def log_batch(run_id: Id, body: LogBody, tracking: Tracking, actor: Actor) -> Response:
    result = tracking.log_batch(
        run_id,
        metrics=_metrics(body.metrics),
        params=body.params,
        tags=body.tags,
        batch_id=body.batch_id,
        actor=actor,
    )
    return json_response({"batch_id": result.batch_id, "applied": result.applied})


@router.delete("/runs/{run_id}/tags/{key:path}")
def delete_tag(run_id: Id, key: Key, tracking: Tracking, actor: Actor) -> Response:
    tracking.delete_tag(run_id, key, actor=actor)
    return json_response({})


@router.get("/runs/{run_id}/metrics")
def list_metric_keys(run_id: Id, tracking: Tracking) -> Response:
    return json_response({"keys": tracking.list_metric_keys(run_id)})


@router.get("/runs/{run_id}/metrics/{key:path}/history")
def metric_history(
    run_id: Id,
    key: Key,
    tracking: Tracking,
    max_points: Annotated[QueryInt | None, Query(), between(2, MAX_HISTORY_POINTS)] = None,
    page_token: str | None = None,
) -> Response:
    history = tracking.get_metric_history(run_id, key, max_points=max_points, page_token=page_token)
    return json_response(history.to_dict())


# -- artifacts -----------------------------------------------------------------------------------


@router.put(
    "/runs/{run_id}/artifacts/{path:path}",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "description": "The file's bytes, streamed",
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload_artifact(
    run_id: Id, path: ArtifactPath, request: Request, tracking: Tracking, actor: Actor
) -> Response:
    # Spool to disk (not memory) so large files stream; the blob store hashes while copying.
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        artifact = await run_in_threadpool(tracking.log_artifact, run_id, path, spool, actor=actor)
    return json_response(
        artifact.to_dict(),
        201,
    )


@router.get("/runs/{run_id}/artifacts")
def list_artifacts(run_id: Id, tracking: Tracking, prefix: ArtifactPrefix | None = None) -> Response:
    artifacts = tracking.list_artifacts(run_id, prefix)
    return json_response({"artifacts": [a.to_dict() for a in artifacts]})


@router.get(
    "/runs/{run_id}/artifacts/{path:path}",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The file's bytes, typed by its extension (application/octet-stream when "
            "unknown, and for any type a browser would run)",
            "content": {
                media_type: {"schema": {"type": "string", "format": "binary"}}
                for media_type in downloads.ALL_MEDIA_TYPES
            },
            "headers": {
                DIGEST_HEADER: {
                    "description": "The BLAKE3 digest of the bytes, to check them against",
                    "schema": {"type": "string"},
                }
            },
        }
    },
)
def download_artifact(run_id: Id, path: ArtifactPath, tracking: Tracking) -> StreamingResponse:
    artifact = tracking.get_artifact(run_id, path)
    # The whole blob is checked before the answer starts, so that a missing or corrupted one is
    # answered as its error (BLOB_NOT_FOUND, BLOB_CORRUPTED), never as a body broken off midway:
    # the same error the embedded SDK raises.
    chunks = tracking.iter_artifact(artifact)
    return StreamingResponse(
        chunks,
        media_type=downloads.media_type(path),
        headers={
            "Content-Length": str(artifact.size),
            "Content-Disposition": downloads.content_disposition(path),
            # Opened on its own (an SVG, say), the file runs nothing and reaches nothing.
            "Content-Security-Policy": "sandbox; default-src 'none'",
            # Clients check what they received against it, and refuse an answer without it.
            DIGEST_HEADER: artifact.digest,
        },
    )

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
from pydantic import BaseModel, ConfigDict, Field, Strict
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
from plimsoll.monitoring.rules import VALUE_PATTERN
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


# -- monitors ---------------------------------------------------------------------------------------

_MONITORS = "/api/v1/monitors"
MonitorName = Annotated[str, Documented(maxLength=200, pattern=NAME_PATTERN)]
AliasRef = Annotated[str, Documented(pattern=rf"^{_NAME}@[a-z][a-z0-9_-]{{0,62}}$")]
Duration = Annotated[str, Documented(pattern=r"^(0|[1-9][0-9]{0,5})(s|m|h|d|w)$")]
ColumnName = Annotated[str, Documented(minLength=1, maxLength=256)]


class ReferenceBody(BaseModel):
    kind: Literal["dataset", "evaluation", "traffic"]
    dataset: Annotated[str, Documented(maxLength=300)] = ""
    target: Annotated[str, Documented(maxLength=256)] = ""
    prediction: Annotated[str, Documented(maxLength=256)] = ""
    score: Annotated[str, Documented(maxLength=256)] = ""
    since: Annotated[int, between(0, INT64_MAX)] = 0
    until: Annotated[int, between(0, INT64_MAX)] = 0


class RuleBody(BaseModel):
    name: Annotated[str, Documented(maxLength=100, pattern=NAME_PATTERN)]
    value: Annotated[str, Documented(maxLength=300, pattern=VALUE_PATTERN)]
    op: Literal[">", ">=", "<", "<=", "==", "!="]
    threshold: float
    for_windows: Annotated[int, between(1, 1_000)] = 1
    for_s: Annotated[int, between(0, 30 * 86_400)] = 0
    severity: Literal["info", "warning", "critical"] = "warning"
    labels: dict[str, Annotated[str, Documented(maxLength=2000)]] = Field(default_factory=dict)
    annotations: dict[str, Annotated[str, Documented(maxLength=2000)]] = Field(default_factory=dict)


class MonitorBody(BaseModel):
    name: MonitorName
    model: AliasRef
    reference: ReferenceBody
    project: Name = DEFAULT_PROJECT
    features: Annotated[list[ColumnName], Documented(maxItems=500)] | None = None
    every: Duration | None = "1d"
    window_rows: Annotated[int, between(100, 10_000_000)] | None = None
    delay: Duration = "0s"
    start: Annotated[int, between(0, INT64_MAX)] | None = None
    segment_by: Annotated[str, Documented(maxLength=256)] = ""
    max_segments: Annotated[int, between(1, 50)] = 10
    alpha: Annotated[float, Documented(exclusiveMinimum=0, exclusiveMaximum=0.5)] = 0.05
    task: Literal["classification", "regression"] | None = None
    multivariate: bool = False
    rules: Annotated[list[RuleBody], Documented(maxItems=100)] | None = None
    extra_rules: Annotated[list[RuleBody], Documented(maxItems=100)] | None = None


class RulesBody(BaseModel):
    project: Name = DEFAULT_PROJECT
    rules: Annotated[list[RuleBody], Documented(maxItems=100)]


class StretchBody(BaseModel):
    project: Name = DEFAULT_PROJECT
    since: Annotated[int, between(0, INT64_MAX)] | None = None
    until: Annotated[int, between(0, INT64_MAX)] | None = None


class BackfillBody(BaseModel):
    project: Name = DEFAULT_PROJECT
    since: Annotated[int, between(0, INT64_MAX)]
    until: Annotated[int, between(0, INT64_MAX)]


def _rules(rules: list[RuleBody] | None) -> list[dict[str, Any]] | None:
    return None if rules is None else [rule.model_dump() for rule in rules]


@router.post(_MONITORS, status_code=201)
def create_monitor(body: MonitorBody, monitoring: Monitoring, actor: Actor) -> Response:
    """A monitor on a model alias against a reference (docs/monitoring.md)."""
    options = body.model_dump(exclude={"name", "model", "reference", "rules", "extra_rules", "delay"})
    monitor = monitoring.create_monitor(
        body.name,
        body.model,
        {k: v for k, v in body.reference.model_dump().items() if v not in ("", 0)},
        delay=body.delay,
        rules=_rules(body.rules),
        extra_rules=_rules(body.extra_rules),
        actor=actor,
        **options,
    )
    return json_response(monitor.to_dict(), 201)


@router.get(_MONITORS)
def list_monitors(
    monitoring: Monitoring, project: Name = DEFAULT_PROJECT, model: ModelName | None = None
) -> Response:
    """The project's monitors (of `model`, if named)."""
    found = monitoring.list_monitors(model=model, project=project)
    return json_response({"monitors": [m.to_dict() for m in found]})


@router.get(f"{_MONITORS}/{{name}}")
def get_monitor(name: MonitorName, monitoring: Monitoring, project: Name = DEFAULT_PROJECT) -> Response:
    return json_response(monitoring.get_monitor(name, project=project).to_dict())


@router.delete(f"{_MONITORS}/{{name}}", status_code=204)
def delete_monitor(
    name: MonitorName, monitoring: Monitoring, actor: Actor, project: Name = DEFAULT_PROJECT
) -> Response:
    """Delete a monitor and its windows' results (the logged rows stay)."""
    monitoring.delete_monitor(name, project=project, actor=actor)
    return Response(status_code=204)


@router.put(f"{_MONITORS}/{{name}}/rules")
def set_rules(name: MonitorName, body: RulesBody, monitoring: Monitoring, actor: Actor) -> Response:
    """Replace a monitor's rules: windows computed from now on use them."""
    monitor = monitoring.set_rules(name, _rules(body.rules) or [], project=body.project, actor=actor)
    return json_response(monitor.to_dict())


@router.post(f"{_MONITORS}/{{name}}/run")
def run_monitor(name: MonitorName, body: StretchBody, monitoring: Monitoring, actor: Actor) -> Response:
    """Compute the windows that are due now (the scheduler does so every minute)."""
    computed = monitoring.run_monitor(name, project=body.project, actor=actor)
    return json_response({"windows": [w.to_dict() for w in computed]})


@router.post(f"{_MONITORS}/{{name}}/backfill")
def backfill(name: MonitorName, body: BackfillBody, monitoring: Monitoring, actor: Actor) -> Response:
    """Compute (again) the windows from `since` to `until` (at most 10,000 windows); not
    published as alerts."""
    computed = monitoring.backfill(name, body.since, body.until, project=body.project, actor=actor)
    return json_response({"windows": [w.to_dict() for w in computed]})


@router.post(f"{_MONITORS}/{{name}}/check")
def check(name: MonitorName, body: StretchBody, monitoring: Monitoring, actor: Actor) -> Response:
    """The windows from `since` to `until` (the newest when neither is given), computed where
    missing, and the rules they break: `passed` is false when any rule fires."""
    found = monitoring.check(name, since=body.since, until=body.until, project=body.project, actor=actor)
    return json_response(found.to_dict())


@router.get(f"{_MONITORS}/{{name}}/windows")
def list_windows(
    name: MonitorName,
    monitoring: Monitoring,
    project: Name = DEFAULT_PROJECT,
    since: EpochMs | None = None,
    until: EpochMs | None = None,
    segment: Annotated[str, Documented(maxLength=300)] = "",
    all_segments: bool = False,
    limit: Annotated[QueryInt, Query(), between(1, 10_000)] = 10_000,
    newest_first: bool = False,
) -> Response:
    """Stored windows, oldest first (or newest): of all traffic, one `segment`'s, or every segment's."""
    found = monitoring.windows(
        name,
        since=since,
        until=until,
        segment=None if all_segments else segment,
        project=project,
        limit=limit,
        newest_first=newest_first,
    )
    return json_response({"windows": [w.to_dict() for w in found]})


@router.get(f"{_MONITORS}/{{name}}/merged")
def merged(
    name: MonitorName,
    monitoring: Monitoring,
    since: EpochMs,
    until: EpochMs,
    project: Name = DEFAULT_PROJECT,
    segment: Annotated[str, Documented(maxLength=300)] = "",
) -> Response:
    """A stretch's drift from its windows' summaries merged (a day from its hours): no row read."""
    return json_response(monitoring.merged(name, since, until, segment=segment, project=project))


@router.get(f"{_MONITORS}/{{name}}/distribution")
def distribution(
    name: MonitorName,
    monitoring: Monitoring,
    feature: ColumnName,
    project: Name = DEFAULT_PROJECT,
    since: EpochMs | None = None,
    until: EpochMs | None = None,
    segment: Annotated[str, Documented(maxLength=300)] = "",
) -> Response:
    """A watched column's histogram in the reference and in the newest window (or the windows
    starting from `since` to before `until`, merged), on the same bins, with its drift verdict:
    from the stored summaries, no row read."""
    found = monitoring.feature_distribution(
        name, feature, since=since, until=until, segment=segment, project=project
    )
    return json_response(found)


@router.get(
    f"{_API}/metrics",
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
def monitor_metrics(monitoring: Monitoring, project: Name = DEFAULT_PROJECT) -> Response:
    """The project's monitors' newest windows in Prometheus' text format (scrape it with a
    viewer's token; docs/monitoring.md has alerting-rule templates for these series)."""
    from plimsoll.monitoring.exposition import exposition

    text = exposition(monitoring.latest(project=project), now_ms())
    return Response(text, media_type="text/plain; version=0.0.4; charset=utf-8")


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

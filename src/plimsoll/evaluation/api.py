"""The evaluation capability's HTTP routes under /api/v1/evaluations: thin translations to
EvaluationService. An evaluation is computed by the SDK where the data is and sent here whole."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, Strict

from plimsoll.core.http import QueryInt, current_actor, json_response, service_of
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import INT64_MAX, TEXT_PATTERN, bounded_reference_name_pattern
from plimsoll.core.wire import Description, Documented, Id, JsonInt, Name, between, one_of
from plimsoll.evaluation.entities import (
    ALL_METRICS,
    DEFAULT_EVALUATIONS_LISTED,
    DIGEST_PATTERN,
    FAIRNESS_METRICS,
    GROUP_METRICS,
    MAX_CALIBRATION_BINS,
    MAX_COLUMN_LENGTH,
    MAX_CURVE_POINTS,
    MAX_EVALUATIONS_LISTED,
    MAX_NOTE_LENGTH,
    MAX_NOTES,
    MAX_RESAMPLES,
    MAX_SENSITIVE,
    MAX_SLICE_COLUMNS,
    MAX_SLICE_VALUES,
    MAX_VALUE_LENGTH,
    TASKS,
    NewEvaluation,
)
from plimsoll.evaluation.service import EvaluationService

router = APIRouter(tags=["evaluations"])

_API = "/api/v1/evaluations"

Evaluations = Annotated[EvaluationService, Depends(service_of("evaluation"))]
Actor = Annotated[str, Depends(current_actor)]


# A model's or a dataset's name, as it stands before its version or alias.
_NAME_IN_REFERENCE = bounded_reference_name_pattern(200)
_VERSION = "[1-9][0-9]{0,14}"
# A model version (NAME/VERSION) or the version an alias holds (NAME@ALIAS).
ModelRef = Annotated[
    str, Documented(pattern=rf"^{_NAME_IN_REFERENCE}(?:/{_VERSION}|@[a-z][a-z0-9_-]{{0,62}})$")
]
# A model (NAME: every version) or one version of it.
ModelFilter = Annotated[str, Documented(pattern=rf"^{_NAME_IN_REFERENCE}(?:/{_VERSION})?$")]
# A dataset version (NAME@VERSION), or NAME for its latest.
DatasetRef = Annotated[str, Documented(pattern=rf"^{_NAME_IN_REFERENCE}(?:@{_VERSION})?$")]

Number = Annotated[float, Strict()]  # a JSON number, an integer too; never a string or `true`
Nullable = Number | None
NonNegative = Annotated[float, Strict(), Documented(minimum=0)] | None
Count = Annotated[JsonInt, between(0, INT64_MAX)]
_TEXT_KEY = {"type": "string", "minLength": 1, "pattern": TEXT_PATTERN}


def _keys(max_length: int, max_items: int) -> Documented:
    return Documented(propertyNames={**_TEXT_KEY, "maxLength": max_length}, maxProperties=max_items)


Metrics = Annotated[
    dict[str, Nullable], Documented(propertyNames={"type": "string", "enum": list(ALL_METRICS)})
]


class IntervalBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Nullable = None
    lower: Nullable = None
    upper: Nullable = None


class SliceValueBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rows: Count
    metrics: Metrics = {}


class GroupBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rows: Count
    used: Annotated[bool, Strict()]
    metrics: Annotated[
        dict[str, IntervalBody], Documented(propertyNames={"type": "string", "enum": list(GROUP_METRICS)})
    ] = {}


class FairnessBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    groups: Annotated[dict[str, GroupBody], _keys(MAX_VALUE_LENGTH, MAX_SLICE_VALUES)] = {}
    metrics: Annotated[
        dict[str, IntervalBody], Documented(propertyNames={"type": "string", "enum": list(FAIRNESS_METRICS)})
    ] = {}
    min_group_size: Annotated[JsonInt, between(1, INT64_MAX)]
    note: Description | None = None


Point = tuple[Nullable, Nullable, Nullable]
Bin = tuple[Nullable, Nullable, Nullable, Nullable, Nullable]
Label = Annotated[str, Documented(maxLength=MAX_VALUE_LENGTH, pattern=TEXT_PATTERN)]


class CurvesBody(BaseModel):
    """ROC points (false positive rate, true positive rate, threshold), PR points (recall,
    precision, threshold), calibration bins (lower edge, upper edge, rows, mean score, fraction
    positive), the confusion matrix [[TN, FP], [FN, TP]] and the negative and positive labels."""

    model_config = ConfigDict(extra="forbid")

    roc: Annotated[list[Point], Field(max_length=MAX_CURVE_POINTS)] = []
    pr: Annotated[list[Point], Field(max_length=MAX_CURVE_POINTS)] = []
    calibration: Annotated[list[Bin], Field(max_length=MAX_CALIBRATION_BINS)] = []
    confusion: Annotated[list[tuple[Count, Count]], Field(max_length=2)] = []
    labels: Annotated[list[Label], Field(max_length=2)] = []


class LatencyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    single_p50_ms: NonNegative = None
    single_p99_ms: NonNegative = None
    batch_p50_ms: NonNegative = None
    batch_p99_ms: NonNegative = None
    batch_size: Annotated[JsonInt, between(1, INT64_MAX)] | None = None


class CostBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model_bytes: Count | None = None
    cpu_seconds: NonNegative = None
    predictions: Count | None = None
    price_per_1000: NonNegative = None


class BootstrapBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resamples: Annotated[JsonInt, between(1, MAX_RESAMPLES)]
    confidence: Annotated[float, Strict(), Documented(exclusiveMinimum=0, exclusiveMaximum=1)]
    seed: Annotated[JsonInt, between(0, INT64_MAX)]


class EvaluationBody(BaseModel):
    """A computed evaluation. `metrics` (on the whole table, and in each slice) name the task's
    metrics only; `fairness` and `curves` are for classification only."""

    model_config = ConfigDict(extra="forbid")

    task: Annotated[str, one_of(TASKS)]
    rows: Annotated[JsonInt, between(1, INT64_MAX)]
    labels_digest: Annotated[str, Documented(pattern=DIGEST_PATTERN)]
    metrics: Metrics = {}
    project: Name = DEFAULT_PROJECT
    model: ModelRef | None = None
    dataset: DatasetRef | None = None
    slices: Annotated[
        dict[str, Annotated[dict[str, SliceValueBody], _keys(MAX_VALUE_LENGTH, MAX_SLICE_VALUES)]],
        _keys(MAX_COLUMN_LENGTH, MAX_SLICE_COLUMNS),
    ] = {}
    fairness: Annotated[dict[str, FairnessBody], _keys(MAX_COLUMN_LENGTH, MAX_SENSITIVE)] = {}
    curves: CurvesBody | None = None
    latency: LatencyBody | None = None
    cost: CostBody | None = None
    bootstrap: BootstrapBody | None = None
    threshold: Nullable = None
    description: Description = ""
    notes: Annotated[
        list[Annotated[str, Documented(maxLength=MAX_NOTE_LENGTH, pattern=TEXT_PATTERN)]],
        Field(max_length=MAX_NOTES),
    ] = []


@router.post(_API, status_code=201)
def record(body: EvaluationBody, evaluations: Evaluations, actor: Actor) -> Response:
    """Store an evaluation computed where the data is; answers with it (201), its model and
    dataset versions exact, linked in the lineage graph as `evaluation:ID`."""
    new = NewEvaluation.from_body(body.model_dump())
    return json_response(evaluations.record(new, actor=actor).to_dict(), 201)


@router.get(_API)
def list_evaluations(
    evaluations: Evaluations,
    project: Name = DEFAULT_PROJECT,
    model: ModelFilter | None = None,
    dataset: DatasetRef | None = None,
    limit: Annotated[QueryInt, Query(), between(1, MAX_EVALUATIONS_LISTED)] = DEFAULT_EVALUATIONS_LISTED,
) -> Response:
    """The project's evaluations, newest first; of a model (NAME, or NAME/VERSION) or a dataset
    version (NAME@VERSION, or NAME for its latest) if given."""
    found = evaluations.list(model=model, dataset=dataset, project=project, limit=limit)
    return json_response({"evaluations": [e.to_dict() for e in found]})


@router.get(f"{_API}/compare")
def compare(
    champion: Id, challenger: Id, evaluations: Evaluations, project: Name = DEFAULT_PROJECT
) -> Response:
    """Champion against challenger, evaluated on the same data (409 otherwise): every number both
    hold, the challenger's change and the side it favours."""
    return json_response(evaluations.compare(champion, challenger, project=project).to_dict())


@router.get(f"{_API}/{{evaluation_id}}")
def get_evaluation(evaluation_id: Id, evaluations: Evaluations, project: Name = DEFAULT_PROJECT) -> Response:
    return json_response(evaluations.get(evaluation_id, project=project).to_dict())

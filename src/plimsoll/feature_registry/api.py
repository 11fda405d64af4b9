"""The features capability's HTTP routes: definitions under /api/v1/features, skew checks under
/api/v1/skew-checks (a check spans many features, so it is not one feature's). Thin translations
to FeatureService; nothing here (or anywhere on the server) runs a transformation's source."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, Strict

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.http import QueryInt, current_actor, json_response, service_of
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import TEXT_PATTERN
from plimsoll.core.wire import Description, Documented, Id, JsonInt, Name, between, one_of
from plimsoll.data.entities import VERSION_PATTERN, parse_version
from plimsoll.feature_registry.entities import (
    DATASET_REF_PATTERN,
    DTYPES,
    FEATURE_NAME_PATTERN,
    MAX_FEATURE_NAME_LENGTH,
    MAX_FEATURE_VERSION,
    MAX_FEATURES_PER_CHECK,
    MAX_FUNCTION_LENGTH,
    MAX_INPUT_LENGTH,
    MAX_INPUTS,
    MAX_LABEL_LENGTH,
    MAX_PROFILE_BYTES,
    MAX_SOURCE_LENGTH,
    SOURCE_PATTERN,
    NewDefinition,
    SkewInput,
)
from plimsoll.feature_registry.service import DEFAULT_CHECKS_LISTED, MAX_CHECKS_LISTED, FeatureService

router = APIRouter(tags=["features"])

_FEATURES = "/api/v1/features"
_CHECKS = "/api/v1/skew-checks"

Features = Annotated[FeatureService, Depends(service_of("feature_registry"))]
Actor = Annotated[str, Depends(current_actor)]
FeatureName = Annotated[
    str, Documented(minLength=1, maxLength=MAX_FEATURE_NAME_LENGTH, pattern=FEATURE_NAME_PATTERN)
]
VersionText = Annotated[str, Documented(pattern=VERSION_PATTERN)]
Project = Name
DatasetRef = Annotated[str, Documented(minLength=1, pattern=DATASET_REF_PATTERN)]
Label = Annotated[str, Documented(maxLength=MAX_LABEL_LENGTH, pattern=TEXT_PATTERN)]
# Whole groups of four: what `base64.b64decode(..., validate=True)` reads.
_BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
Profile = Annotated[
    str, Documented(maxLength=-(-MAX_PROFILE_BYTES // 3) * 4, pattern=_BASE64, contentEncoding="base64")
]


class DefinitionBody(BaseModel):
    name: FeatureName
    project: Name = DEFAULT_PROJECT
    dtype: Annotated[str, one_of(DTYPES)]
    inputs: Annotated[
        list[Annotated[str, Documented(minLength=1, maxLength=MAX_INPUT_LENGTH, pattern=TEXT_PATTERN)]],
        Field(min_length=1, max_length=MAX_INPUTS),
        Documented(uniqueItems=True),
    ]
    source: Annotated[str, Documented(minLength=1, maxLength=MAX_SOURCE_LENGTH, pattern=SOURCE_PATTERN)]
    function: Annotated[str, Documented(maxLength=MAX_FUNCTION_LENGTH, pattern=TEXT_PATTERN)] = ""
    description: Description = ""


class DatasetSide(BaseModel):
    """A dataset version whose stored profile holds a column named after each feature."""

    model_config = ConfigDict(extra="forbid")

    dataset: DatasetRef
    label: Label | None = None


class ProfileSide(BaseModel):
    """A profile computed where the data is (`plimsoll.stats.to_bytes` of a table summary, in
    base64), with the dataset version it was computed from, if any."""

    model_config = ConfigDict(extra="forbid")

    profile: Profile
    dataset: DatasetRef | None = None
    label: Label | None = None


Side = DatasetSide | ProfileSide


class SkewBody(BaseModel):
    project: Name = DEFAULT_PROJECT
    # feature name -> its version (null: the latest); an object, so that each is named once
    features: Annotated[
        dict[FeatureName, Annotated[JsonInt, between(1, MAX_FEATURE_VERSION)] | None],
        Field(min_length=1, max_length=MAX_FEATURES_PER_CHECK),
        Documented(
            propertyNames={
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_FEATURE_NAME_LENGTH,
                "pattern": FEATURE_NAME_PATTERN,
            }
        ),
    ]
    training: Side
    serving: Side
    alpha: Annotated[float, Strict(), Documented(exclusiveMinimum=0, exclusiveMaximum=1)] = 0.05


@router.post(_FEATURES)
def register(body: DefinitionBody, features: Features, actor: Actor) -> Response:
    """Register a definition: answers with the version holding it, the one registered before or a
    new one numbered after the latest (its `changes` say what differs: source, dtype, inputs).
    The feature's name is none of its inputs (a table holding both could not tell them apart)."""
    new = NewDefinition(
        body.name, body.project, body.dtype, tuple(body.inputs), body.source, body.function, body.description
    )
    return json_response(features.register(new, actor=actor).to_dict())


@router.get(_FEATURES)
def list_features(features: Features, project: Project = DEFAULT_PROJECT) -> Response:
    """Every feature of the project, with its latest version, by name."""
    return json_response({"features": [f.to_dict() for f in features.list_features(project=project)]})


@router.get(f"{_FEATURES}/{{name}}/versions")
def list_versions(name: FeatureName, features: Features, project: Project = DEFAULT_PROJECT) -> Response:
    return json_response({"versions": [v.to_dict() for v in features.list_versions(name, project=project)]})


@router.get(f"{_FEATURES}/{{name}}/versions/{{version}}")
def get_version(
    name: FeatureName, version: VersionText, features: Features, project: Project = DEFAULT_PROJECT
) -> Response:
    found = features.get_version(name, parse_version("version", version), project=project)
    return json_response(found.to_dict())


@router.post(_CHECKS, status_code=201)
def check_skew(body: SkewBody, features: Features, actor: Actor) -> Response:
    """Compare each feature's training-time profile with its serving-time one; answers with the
    stored check (201): each feature's verdict, test, statistic, p-value, threshold and shift."""
    check = features.check_skew(
        list(body.features.items()),
        _side("training", body.training),
        _side("serving", body.serving),
        alpha=body.alpha,
        project=body.project,
        actor=actor,
    )
    return json_response(check.to_dict(), 201)


@router.get(_CHECKS)
def list_skew_checks(
    features: Features,
    project: Project = DEFAULT_PROJECT,
    feature: FeatureName | None = None,
    limit: Annotated[QueryInt, Query(), between(1, MAX_CHECKS_LISTED)] = DEFAULT_CHECKS_LISTED,
) -> Response:
    """The project's skew checks, newest first; with `feature`, those that checked a version of it."""
    found = features.list_skew_checks(project=project, feature=feature, limit=limit)
    return json_response({"checks": [c.to_dict() for c in found]})


@router.get(f"{_CHECKS}/{{check_id}}")
def get_skew_check(check_id: Id, features: Features, project: Project = DEFAULT_PROJECT) -> Response:
    return json_response(features.get_skew_check(check_id, project=project).to_dict())


def _side(side: str, body: DatasetSide | ProfileSide) -> SkewInput:
    if isinstance(body, DatasetSide):
        return SkewInput(dataset=body.dataset, label=body.label)
    try:
        profile = base64.b64decode(body.profile, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidParameter(f"{side}.profile", "is not base64") from None
    return SkewInput(dataset=body.dataset, profile=profile, label=body.label)

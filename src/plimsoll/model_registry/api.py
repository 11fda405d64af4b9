"""The registry's HTTP routes under /api/v1/models: thin translations to RegistryService."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from plimsoll.core.http import QueryInt, current_actor, json_response, service_of
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import INT64_MAX, REFERENCE_NAME_PATTERN
from plimsoll.core.wire import (
    ArtifactPath,
    Description,
    Documented,
    Flag,
    Id,
    JsonInt,
    Name,
    between,
    name_rules,
    text_rules,
)
from plimsoll.model_registry.entities import (
    ALIAS_PATTERN,
    CARD_FIELDS,
    MAX_ALIAS_PEOPLE,
    MAX_CARD_TEXT_LENGTH,
    MAX_MODEL_NAME_LENGTH,
    MAX_NEEDED_TYPES,
    MAX_REASON_LENGTH,
    MAX_TYPE_NAME_LENGTH,
    MAX_VERSION,
    OWNER_ROLES,
    RISK_RATINGS,
    TYPE_NAME_PATTERN,
    VERSION_PATTERN,
)
from plimsoll.model_registry.service import MAX_FLAVOR_LENGTH, RegistryService

router = APIRouter(prefix="/api/v1/models", tags=["models"])

Registry = Annotated[RegistryService, Depends(service_of("model_registry"))]
Actor = Annotated[str, Depends(current_actor)]
ModelName = Annotated[
    str, Documented(minLength=1, maxLength=MAX_MODEL_NAME_LENGTH, pattern=REFERENCE_NAME_PATTERN)
]
AliasName = Annotated[str, Documented(pattern=ALIAS_PATTERN)]
VersionText = Annotated[str, Documented(pattern=VERSION_PATTERN)]
VersionNumber = Annotated[JsonInt, between(1, MAX_VERSION)]
PathVersion = Annotated[QueryInt, between(1, MAX_VERSION)]  # a number in the path: ASCII digits
Reason = Annotated[str, text_rules(MAX_REASON_LENGTH)]
QueryEpochMs = Annotated[QueryInt, Query(), between(0, INT64_MAX)]
Owners = Annotated[dict[str, Name], Documented(propertyNames={"enum": list(OWNER_ROLES)})]
CardText = Annotated[str, text_rules(MAX_CARD_TEXT_LENGTH)]
TypeName = Annotated[str, Documented(minLength=3, maxLength=MAX_TYPE_NAME_LENGTH, pattern=TYPE_NAME_PATTERN)]
TypeNames = Annotated[list[TypeName], Documented(maxItems=MAX_NEEDED_TYPES)]


class ModelBody(BaseModel):
    name: ModelName
    project: Name = DEFAULT_PROJECT
    description: Description = ""
    owners: Owners = Field(default_factory=dict)


class ModelChange(BaseModel):
    project: Name = DEFAULT_PROJECT
    description: Description | None = None
    owners: Owners | None = None


class CardBody(BaseModel):
    """A model card (docs/registry.md): each field optional."""

    description: CardText = ""
    intended_use: CardText = ""
    limitations: CardText = ""
    risk_rating: Annotated[str, Documented(enum=["", *RISK_RATINGS])] = ""


assert tuple(CardBody.model_fields) == CARD_FIELDS


class VersionBody(BaseModel):
    project: Name = DEFAULT_PROJECT
    run_id: Id
    artifact_path: ArtifactPath
    # Left out: the artifact's manifest.json says (or "python_function" without one).
    flavor: Annotated[str, name_rules(MAX_FLAVOR_LENGTH)] | None = None
    description: Description = ""
    card: CardBody | None = None  # replaces the card in the artifact's manifest.json


class ApprovalBody(BaseModel):
    project: Name = DEFAULT_PROJECT
    types: TypeNames  # exactly the version's `needed_types`
    reason: Reason = ""


class TrustBody(BaseModel):
    project: Name = DEFAULT_PROJECT
    reason: Reason = ""


class AliasBody(BaseModel):
    project: Name = DEFAULT_PROJECT
    version: VersionNumber
    reason: Reason = ""
    expected: VersionNumber | None = None  # move only if the alias holds this version now


class RollbackBody(BaseModel):
    project: Name = DEFAULT_PROJECT
    reason: Reason = ""
    expected: VersionNumber | None = None  # roll back only if the alias holds this version now


People = Annotated[list[Annotated[str, name_rules(128)]], Field(max_length=MAX_ALIAS_PEOPLE)]


class AccessBody(BaseModel):
    project: Name = DEFAULT_PROJECT
    request: People = []
    approve: People = []
    rollback: People = []


class ProtectionBody(BaseModel):
    project: Name = DEFAULT_PROJECT
    protected: Flag = True


@router.get("")
def list_models(registry: Registry, project: Name = DEFAULT_PROJECT) -> Response:
    return json_response({"models": [m.to_dict() for m in registry.list_models(project=project)]})


@router.post("", status_code=201)
def create_model(body: ModelBody, registry: Registry, actor: Actor) -> Response:
    model = registry.create_model(
        body.name, description=body.description, owners=body.owners, project=body.project, actor=actor
    )
    return json_response(model.to_dict(), 201)


@router.get("/{name}")
def get_model(name: ModelName, registry: Registry, project: Name = DEFAULT_PROJECT) -> Response:
    return json_response(registry.get_model(name, project=project).to_dict())


@router.patch("/{name}")
def update_model(name: ModelName, body: ModelChange, registry: Registry, actor: Actor) -> Response:
    model = registry.update_model(
        name, description=body.description, owners=body.owners, project=body.project, actor=actor
    )
    return json_response(model.to_dict())


@router.post("/{name}/versions", status_code=201)
def register_version(name: ModelName, body: VersionBody, registry: Registry, actor: Actor) -> Response:
    """A version from the artifact the run logged under `artifact_path`; the same run's same
    artifact answers with the version that holds it."""
    version = registry.register_version(
        name,
        run_id=body.run_id,
        artifact_path=body.artifact_path,
        flavor=body.flavor,
        description=body.description,
        card=None if body.card is None else body.card.model_dump(),
        project=body.project,
        actor=actor,
    )
    return json_response(version.to_dict(), 201)


@router.get("/{name}/versions")
def list_versions(name: ModelName, registry: Registry, project: Name = DEFAULT_PROJECT) -> Response:
    return json_response({"versions": [v.to_dict() for v in registry.list_versions(name, project=project)]})


@router.get("/{name}/versions/{version}")
def get_version(
    name: ModelName, version: VersionText, registry: Registry, project: Name = DEFAULT_PROJECT
) -> Response:
    ref = name if version == "latest" else f"{name}/{version}"
    return json_response(registry.get_version(ref, project=project).to_dict())


@router.put("/{name}/versions/{version}/approved-types")
def approve_types(
    name: ModelName, version: PathVersion, body: ApprovalBody, registry: Registry, actor: Actor
) -> Response:
    """Approve the types the version's skops file holds beyond skops' defaults (project admins):
    exactly the version's `needed_types`. Once per version; again, the same answer."""
    approved = registry.approve_types(
        name, version, body.types, reason=body.reason, project=body.project, actor=actor
    )
    return json_response(approved.to_dict())


@router.put("/{name}/versions/{version}/trust")
def trust(
    name: ModelName, version: PathVersion, body: TrustBody, registry: Registry, actor: Actor
) -> Response:
    """Trust the version's pickle, whose imports it lists (project admins). Once per version."""
    trusted = registry.trust(name, version, reason=body.reason, project=body.project, actor=actor)
    return json_response(trusted.to_dict())


@router.get("/{name}/aliases")
def list_aliases(name: ModelName, registry: Registry, project: Name = DEFAULT_PROJECT) -> Response:
    return json_response({"aliases": [a.to_dict() for a in registry.aliases(name, project=project)]})


@router.get("/{name}/aliases/{alias}")
def get_alias(
    name: ModelName, alias: AliasName, registry: Registry, project: Name = DEFAULT_PROJECT
) -> Response:
    """The version the alias holds now."""
    return json_response(registry.get_version(f"{name}@{alias}", project=project).to_dict())


@router.put("/{name}/aliases/{alias}")
def set_alias(
    name: ModelName, alias: AliasName, body: AliasBody, registry: Registry, actor: Actor
) -> Response:
    """Point the alias at a version (refused for a protected alias: it moves through a promotion).
    With `expected`, only if the alias holds that version now (409 otherwise)."""
    move = registry.set_alias(
        name,
        alias,
        body.version,
        reason=body.reason,
        expected=body.expected,
        project=body.project,
        actor=actor,
    )
    return json_response(move.to_dict())


@router.delete("/{name}/aliases/{alias}")
def remove_alias(
    name: ModelName,
    alias: AliasName,
    registry: Registry,
    actor: Actor,
    project: Name = DEFAULT_PROJECT,
    reason: Reason = "",
) -> Response:
    return json_response(
        registry.remove_alias(name, alias, reason=reason, project=project, actor=actor).to_dict()
    )


@router.post("/{name}/aliases/{alias}/rollback")
def rollback(
    name: ModelName, alias: AliasName, body: RollbackBody, registry: Registry, actor: Actor
) -> Response:
    """Point the alias back at the version it held before its current one."""
    move = registry.rollback(
        name, alias, reason=body.reason, expected=body.expected, project=body.project, actor=actor
    )
    return json_response(move.to_dict())


@router.put("/{name}/aliases/{alias}/protection")
def protect_alias(
    name: ModelName, alias: AliasName, body: ProtectionBody, registry: Registry, actor: Actor
) -> Response:
    registry.protect_alias(name, alias, body.protected, project=body.project, actor=actor)
    return json_response({"alias": alias, "protected": body.protected})


@router.put("/{name}/aliases/{alias}/access")
def set_alias_access(
    name: ModelName, alias: AliasName, body: AccessBody, registry: Registry, actor: Actor
) -> Response:
    """Who may request (move by hand, remove, ask for a promotion), approve and roll back this alias;
    an empty list leaves the action to the project's roles."""
    access = registry.set_alias_access(
        name,
        alias,
        request=body.request,
        approve=body.approve,
        rollback=body.rollback,
        project=body.project,
        actor=actor,
    )
    return json_response(access.to_dict())


@router.get("/{name}/aliases/{alias}/access")
def alias_access(
    name: ModelName, alias: AliasName, registry: Registry, project: Name = DEFAULT_PROJECT
) -> Response:
    return json_response(registry.alias_access(name, alias, project=project).to_dict())


@router.get("/{name}/aliases/{alias}/history")
def alias_history(
    name: ModelName,
    alias: AliasName,
    registry: Registry,
    project: Name = DEFAULT_PROJECT,
    at: QueryEpochMs | None = None,
) -> Response:
    """The alias's moves, newest first; with `at` (epoch ms), those made by then, and `version`:
    the one it held at that time (null if none)."""
    return json_response(registry.history(name, alias, at=at, project=project).to_dict())

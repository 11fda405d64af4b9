"""Release gates' HTTP routes: thin translations to GateService.

GET|PUT /api/v1/models/{name}/aliases/{alias}/policy        the alias's policy (admins set it)
GET|POST /api/v1/models/{name}/aliases/{alias}/promotions   request a promotion, list them
GET|POST /api/v1/models/{name}/aliases/{alias}/waivers      waive a gate for a version (approvers)
GET /api/v1/promotions[/{promotion_id}]                     read promotions
POST /api/v1/promotions/{promotion_id}/approve|reject        approvers' answers
POST /api/v1/promotions/{promotion_id}/complete             move the alias once approvals are valid
POST /api/v1/gates/check                                    run a policy now (CI): a signed decision
GET /api/v1/gates/decisions[/{decision_id}]                  decisions, with their integrity
GET /api/v1/gates/verification                             every decision against its signature
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, Strict

from plimsoll.core.http import QueryInt, current_actor, json_response, service_of
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import REFERENCE_NAME_PATTERN, TEXT_PATTERN
from plimsoll.core.wire import Documented, Id, JsonInt, Name, between, name_rules, one_of, text_rules
from plimsoll.gates.entities import (
    DATASET_REF_PATTERN,
    MAX_COMMENT_LENGTH,
    MAX_COUNT,
    MAX_ENTRIES,
    MAX_GATE_NAME_LENGTH,
    MAX_OUTPUT_LENGTH,
    MAX_OUTPUTS,
    SAID_PATTERN,
)
from plimsoll.gates.policy import MAX_POLICY_LENGTH
from plimsoll.gates.service import MAX_LIST, MAX_WAIVER_HOURS, GateService
from plimsoll.model_registry.entities import ALIAS_PATTERN, MAX_MODEL_NAME_LENGTH, MAX_VERSION

router = APIRouter(prefix="/api/v1", tags=["gates"])

Gates = Annotated[GateService, Depends(service_of("gates"))]
Actor = Annotated[str, Depends(current_actor)]
ModelName = Annotated[
    str, Documented(minLength=1, maxLength=MAX_MODEL_NAME_LENGTH, pattern=REFERENCE_NAME_PATTERN)
]
AliasName = Annotated[str, Documented(pattern=ALIAS_PATTERN)]
VersionNumber = Annotated[JsonInt, between(1, MAX_VERSION)]
QueryVersion = Annotated[QueryInt, between(1, MAX_VERSION)]
Limit = Annotated[QueryInt, between(1, MAX_LIST)]
Comment = Annotated[str, text_rules(MAX_COMMENT_LENGTH)]
Said = Annotated[str, Documented(minLength=1, maxLength=MAX_COMMENT_LENGTH, pattern=SAID_PATTERN)]
EXAMPLE_POLICY = (
    "alias: production\n"
    "approvals: {required: 1, expires_after: 7d}\n"
    "gates:\n"
    "  - {name: auc, metric: roc_auc, min: 0.8}\n"
    "  - {name: auc-change, metric: roc_auc, max_regression: 0.01}\n"
    "  - {name: p95, latency: single_p99_ms, max: 40, severity: warning}\n"
)
PolicyText = Annotated[
    str,
    Documented(minLength=1, maxLength=MAX_POLICY_LENGTH, pattern=TEXT_PATTERN, examples=[EXAMPLE_POLICY]),
]

# -- evidence, as the document states it (the service checks each value again) -------------------

_KEYS = {"type": "string", **name_rules(200).keywords}


def _keyed(count: int = MAX_ENTRIES) -> Documented:
    return Documented(propertyNames=_KEYS, maxProperties=count)


Number = Annotated[float, Strict()]
Numbers = Annotated[dict[str, Number], _keyed()]


class SliceBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: Annotated[JsonInt, between(0, MAX_COUNT)]
    metrics: Numbers = Field(default_factory=dict)


class IntervalBody(BaseModel):
    """A measure with its confidence interval; the gate judges the bound least favourable."""

    model_config = ConfigDict(extra="forbid")

    value: Number
    lower: Number | None = None  # at most `upper`
    upper: Number | None = None
    confidence: Annotated[float, Strict(), Documented(exclusiveMinimum=0, exclusiveMaximum=1)] = 0.95


DatasetRefText = Annotated[str, Documented(pattern=DATASET_REF_PATTERN)]


class DatasetBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ref: DatasetRefText
    digest: Annotated[str, text_rules(64)] | None = None
    validation: Annotated[str, one_of(("passed", "failed"))] | None = None


class EvidenceBody(BaseModel):
    """What was measured about the version (docs/gates.md). A dataset's digest and validation are
    read from the dataset registry, whatever the request says."""

    model_config = ConfigDict(extra="forbid")

    metrics: Numbers = Field(default_factory=dict)
    slices: Annotated[dict[str, Annotated[dict[str, SliceBody], _keyed()]], _keyed()] = Field(
        default_factory=dict
    )
    fairness: Annotated[dict[str, IntervalBody | Number], _keyed()] = Field(default_factory=dict)
    latency: Numbers = Field(default_factory=dict)
    cost: Numbers = Field(default_factory=dict)
    datasets: Annotated[dict[str, DatasetRefText | DatasetBody], _keyed()] = Field(default_factory=dict)
    outputs: Annotated[list[Annotated[str, text_rules(MAX_OUTPUT_LENGTH)]], Field(max_length=MAX_OUTPUTS)] = (
        Field(default_factory=list)
    )
    source: Annotated[str, text_rules(200)] = ""


def _evidence(body: EvidenceBody | None) -> dict[str, Any] | None:
    return None if body is None else body.model_dump(exclude_unset=True)


# -- bodies --------------------------------------------------------------------------------------


class PolicyBody(BaseModel):
    project: Name = DEFAULT_PROJECT
    policy: PolicyText  # YAML (docs/gates.md); it names this alias, and this model if any


class PromotionBody(BaseModel):
    project: Name = DEFAULT_PROJECT
    version: VersionNumber
    comment: Comment = ""
    evidence: EvidenceBody | None = None  # none: the evidence recorded for the version


class WaiverBody(BaseModel):
    project: Name = DEFAULT_PROJECT
    version: VersionNumber
    gate: Annotated[str, Documented(minLength=1, maxLength=MAX_GATE_NAME_LENGTH, pattern=TEXT_PATTERN)]
    reason: Said
    expires_in_hours: Annotated[JsonInt, between(1, MAX_WAIVER_HOURS)]


class ApprovalBody(BaseModel):
    comment: Comment = ""


class RejectionBody(BaseModel):
    comment: Said


class CheckBody(BaseModel):
    project: Name = DEFAULT_PROJECT
    model: ModelName
    version: VersionNumber | None = None  # none: the latest
    policy: PolicyText
    evidence: EvidenceBody | None = None


_ALIAS = "/models/{name}/aliases/{alias}"


@router.get(f"{_ALIAS}/policy")
def get_policy(name: ModelName, alias: AliasName, gates: Gates, project: Name = DEFAULT_PROJECT) -> Response:
    return json_response(gates.get_policy(name, alias, project=project).to_dict())


@router.put(f"{_ALIAS}/policy")
def set_policy(name: ModelName, alias: AliasName, body: PolicyBody, gates: Gates, actor: Actor) -> Response:
    """Set the policy that guards promotions to the alias (a 400 names the line of a problem)."""
    return json_response(
        gates.set_policy(name, alias, body.policy, project=body.project, actor=actor).to_dict()
    )


@router.post(f"{_ALIAS}/promotions", status_code=202)
def promote(name: ModelName, alias: AliasName, body: PromotionBody, gates: Gates, actor: Actor) -> Response:
    """Request a promotion of `version` to the alias: its gates run as a background job; follow it
    at /api/v1/promotions/{id}. A promotion of the alias already open is a 409."""
    promotion = gates.promote(
        name,
        body.version,
        to=alias,
        comment=body.comment,
        evidence=_evidence(body.evidence),
        project=body.project,
        actor=actor,
    )
    return json_response(promotion.to_dict(), 202)


@router.get(f"{_ALIAS}/promotions")
def alias_promotions(
    name: ModelName, alias: AliasName, gates: Gates, project: Name = DEFAULT_PROJECT, limit: Limit = 100
) -> Response:
    found = gates.list_promotions(name, alias=alias, project=project, limit=limit)
    return json_response({"promotions": [p.to_dict() for p in found]})


@router.post(f"{_ALIAS}/waivers", status_code=201)
def waive(name: ModelName, alias: AliasName, body: WaiverBody, gates: Gates, actor: Actor) -> Response:
    """Let one gate of the alias's policy through for a version, for a time, with a reason."""
    waiver = gates.waive(
        name,
        body.version,
        alias,
        body.gate,
        reason=body.reason,
        hours=body.expires_in_hours,
        project=body.project,
        actor=actor,
    )
    return json_response(waiver.to_dict(), 201)


@router.get(f"{_ALIAS}/waivers")
def waivers(
    name: ModelName,
    alias: AliasName,
    gates: Gates,
    project: Name = DEFAULT_PROJECT,
    version: QueryVersion | None = None,
) -> Response:
    found = gates.waivers(name, version=version, alias=alias, project=project)
    return json_response({"waivers": [w.to_dict() for w in found]})


@router.get("/promotions")
def list_promotions(
    gates: Gates, project: Name = DEFAULT_PROJECT, model: ModelName | None = None, limit: Limit = 100
) -> Response:
    found = gates.list_promotions(model, project=project, limit=limit)
    return json_response({"promotions": [p.to_dict() for p in found]})


@router.get("/promotions/{promotion_id}")
def get_promotion(promotion_id: Id, gates: Gates) -> Response:
    return json_response(gates.get_promotion(promotion_id).to_dict())


@router.post("/promotions/{promotion_id}/approve")
def approve(promotion_id: Id, body: ApprovalBody, gates: Gates, actor: Actor) -> Response:
    """Approve (the approver role; not the version's author nor the requester). The approval
    that completes the number required moves the alias."""
    return json_response(gates.approve(promotion_id, comment=body.comment, actor=actor).to_dict())


@router.post("/promotions/{promotion_id}/reject")
def reject(promotion_id: Id, body: RejectionBody, gates: Gates, actor: Actor) -> Response:
    return json_response(gates.reject(promotion_id, comment=body.comment, actor=actor).to_dict())


@router.post("/promotions/{promotion_id}/complete")
def complete(promotion_id: Id, gates: Gates, actor: Actor) -> Response:
    """Move the alias if the gates passed and enough approvals are still valid (a 409 says which
    are missing or expired)."""
    return json_response(gates.complete(promotion_id, actor=actor).to_dict())


@router.post("/gates/check")
def check(body: CheckBody, gates: Gates, actor: Actor) -> Response:
    """Run the policy's gates on a version now and store the signed decision (`verdict` passed
    when no blocking gate failed)."""
    ref = body.model if body.version is None else f"{body.model}/{body.version}"
    decision = gates.check(ref, body.policy, _evidence(body.evidence), project=body.project, actor=actor)
    return json_response(decision.to_dict())


@router.get("/gates/decisions")
def decisions(
    gates: Gates,
    project: Name = DEFAULT_PROJECT,
    model: ModelName | None = None,
    version: QueryVersion | None = None,
    limit: Limit = 100,
) -> Response:
    found = gates.decisions(model, version=version, project=project, limit=limit)
    return json_response({"decisions": [d.to_dict() for d in found]})


@router.get("/gates/verification")
def verification(gates: Gates, project: Name = DEFAULT_PROJECT) -> Response:
    """Every decision of the project checked against its signature: `problems` lists those that
    do not verify."""
    return json_response(gates.verify(project=project).to_dict())


@router.get("/gates/decisions/{decision_id}")
def decision(decision_id: Id, gates: Gates) -> Response:
    """A decision with `integrity`: verified, tampered (changed outside Plimsoll) or unknown_key."""
    return json_response(gates.decision(decision_id).to_dict())

"""Deployments' HTTP routes: thin translations to DeploymentService. Every route takes the
deployment's project as `?project=` (default `default`).

GET  /api/v1/deployments[?model=&environment=&limit=]    a project's deployments
PUT  /api/v1/deployments/{name}                          create or update (`DeployBody`)
GET  /api/v1/deployments/{name}                          one
GET  /api/v1/deployments/{name}/history[?limit=]         its history lines, the newest first
POST /api/v1/deployments/{name}/rollback|pause|resume    one call each (`{"reason": ...}`)
GET  /api/v1/deployments/{name}/routing                  what a model server replica polls
GET  /api/v1/deployments/{name}/traffic[?since=&until=&bucket_s=]   the replicas' reports added up
POST /api/v1/deployments/{name}/traffic                  a replica's report (`TrafficReport`)
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from plimsoll.core.http import QueryInt, current_actor, json_response, service_of
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import bounded_reference_name_pattern
from plimsoll.core.wire import (
    Documented,
    EpochMs,
    Flag,
    JsonInt,
    Name,
    between,
    name_rules,
    one_of,
    text_rules,
)
from plimsoll.model_registry.entities import MAX_VERSION
from plimsoll.serving.entities import LATENCY_BUCKETS_MS, MAX_STEPS, ROLES, TrafficStats
from plimsoll.serving.service import DeploymentService
from plimsoll.serving.service.deploying import MAX_REASON, QUALITY_METRICS
from plimsoll.serving.service.rollout import MAX_REPLICA, MAX_REPORT, MAX_TIME

router = APIRouter(prefix="/api/v1/deployments", tags=["deployments"])

Deployments = Annotated[DeploymentService, Depends(service_of("serving"))]
Actor = Annotated[str, Depends(current_actor)]
DeploymentName = Annotated[str, name_rules(200)]
Limit = Annotated[QueryInt, between(1, 1000)]
Reason = Annotated[str, text_rules(MAX_REASON)]
Version = Annotated[JsonInt, between(1, MAX_VERSION)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]
_MODEL = bounded_reference_name_pattern(200)
# MODEL@ALIAS: a model's name (no '@', '/' or ':') and one of its aliases.
ModelRef = Annotated[str, Documented(pattern=rf"^{_MODEL}@[a-z][a-z0-9_-]{{0,62}}$")]
ModelName = Annotated[str, Documented(pattern=rf"^{_MODEL}$")]


class PolicyBody(BaseModel):
    """A rollout policy (docs/serving.md, "Rollout policy"): the fields not given keep their
    defaults. `steps` increase within (0, 100] and end at 100."""

    model_config = ConfigDict(extra="forbid")

    steps: (
        Annotated[list[Annotated[float, Field(gt=0, le=100)]], Field(min_length=1, max_length=MAX_STEPS)]
        | None
    ) = None
    analysis_window_s: Annotated[JsonInt, between(10, 7 * 86_400)] | None = None
    min_requests: Annotated[JsonInt, between(1, 10_000_000)] | None = None
    max_error_rate: Fraction | None = None
    max_error_rate_increase: Fraction | None = None
    max_p99_ms: Annotated[float, Field(ge=0.1, le=600_000)] | None = None
    drift_alpha: Fraction | None = None
    min_shadow_agreement: Fraction | None = None
    quality_metric: Annotated[str, one_of(QUALITY_METRICS)] | None = None
    max_quality_drop: Fraction | None = None
    auto_rollback: Flag | None = None


class DeployBody(BaseModel):
    """A deployment as it should be: `model` is `MODEL@ALIAS` (its stable version is the alias's
    holder); `canary` with `weight` (percent, above 0 and below 100; default the policy's first
    step) starts a rollout; `shadow` receives a copy of each request."""

    model_config = ConfigDict(extra="forbid")

    model: ModelRef
    environment: DeploymentName = "production"
    canary: Version | None = None
    weight: Annotated[float, Field(gt=0, lt=100)] | None = None
    shadow: Version | None = None
    sticky_key: Annotated[str, name_rules(200)] | None = None
    policy: PolicyBody | None = None
    follows: Flag = True
    reason: Reason = ""


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason = ""


class StatsBody(BaseModel):
    """Requests one version answered in one role since the replica's previous report."""

    model_config = ConfigDict(extra="forbid")

    version: Version
    role: Annotated[str, one_of(ROLES)]
    since: EpochMs
    until: EpochMs
    requests: Annotated[JsonInt, between(0, 10**12)]
    errors: Annotated[JsonInt, between(0, 10**12)]
    latency_counts: Annotated[
        list[Annotated[JsonInt, between(0, 10**12)]],
        Field(max_length=len(LATENCY_BUCKETS_MS) + 1),
    ] = Field(default_factory=list)


class TrafficReport(BaseModel):
    """A model server replica's report: `stats` counted since its previous one (deltas); each
    stats' `errors` and latency counts at most its `requests`, `until` not before `since`, the
    latency counts empty or one per bucket of LATENCY_BUCKETS_MS plus an overflow."""

    model_config = ConfigDict(extra="forbid")

    replica: Annotated[str, name_rules(MAX_REPLICA)]
    stats: Annotated[list[StatsBody], Field(max_length=MAX_REPORT)]


@router.get("")
def list_deployments(
    deployments: Deployments,
    project: Name = DEFAULT_PROJECT,
    model: ModelName | None = None,
    environment: DeploymentName | None = None,
    limit: Limit = 1000,
) -> Response:
    """A project's deployments, by name."""
    found = deployments.list(model=model, environment=environment, project=project, limit=limit)
    return json_response({"deployments": [d.to_dict() for d in found]})


@router.put(
    "/{name}",
    responses={
        422: {
            "description": "A protected alias's deployment: the canary or shadow version has no passing "
            "promotion decision for that alias (GATE_FAILED)"
        }
    },
)
def deploy(
    name: DeploymentName,
    body: DeployBody,
    deployments: Deployments,
    actor: Actor,
    project: Name = DEFAULT_PROJECT,
) -> Response:
    """Create the deployment or update it (409 if it serves another model or alias; a protected
    alias's deployment serves only versions with a passing promotion decision for it)."""
    made = deployments.deploy(
        name,
        body.model,
        environment=body.environment,
        canary=body.canary,
        weight=body.weight,
        shadow=body.shadow,
        sticky_key=body.sticky_key,
        policy=None if body.policy is None else body.policy.model_dump(exclude_none=True),
        follows=body.follows,
        reason=body.reason,
        project=project,
        actor=actor,
    )
    return json_response(made.to_dict())


@router.get("/{name}")
def get_deployment(
    name: DeploymentName, deployments: Deployments, project: Name = DEFAULT_PROJECT
) -> Response:
    return json_response(deployments.get(name, project=project).to_dict())


@router.get("/{name}/history")
def history(
    name: DeploymentName, deployments: Deployments, project: Name = DEFAULT_PROJECT, limit: Limit = 1000
) -> Response:
    """Its history lines, the newest first: who changed what, why, and the analysis behind it."""
    found = deployments.history(name, project=project, limit=limit)
    return json_response({"history": [h.to_dict() for h in found]})


@router.post("/{name}/rollback")
def rollback(
    name: DeploymentName,
    body: ReasonBody,
    deployments: Deployments,
    actor: Actor,
    project: Name = DEFAULT_PROJECT,
) -> Response:
    """Canary off, every request to the stable version (and the alias moved back when it had
    moved to the canary); without a canary, back to the alias's previous holder."""
    return json_response(
        deployments.rollback(name, reason=body.reason, project=project, actor=actor).to_dict()
    )


@router.post("/{name}/pause")
def pause(
    name: DeploymentName,
    body: ReasonBody,
    deployments: Deployments,
    actor: Actor,
    project: Name = DEFAULT_PROJECT,
) -> Response:
    return json_response(deployments.pause(name, reason=body.reason, project=project, actor=actor).to_dict())


@router.post("/{name}/resume")
def resume(
    name: DeploymentName,
    body: ReasonBody,
    deployments: Deployments,
    actor: Actor,
    project: Name = DEFAULT_PROJECT,
) -> Response:
    return json_response(deployments.resume(name, reason=body.reason, project=project, actor=actor).to_dict())


@router.get("/{name}/routing")
def routing(name: DeploymentName, deployments: Deployments, project: Name = DEFAULT_PROJECT) -> Response:
    """What a model server replica needs: versions, the canary's share, the shadow, the sticky
    key and the revision (reload when it moves)."""
    found = deployments.routing(project, name)
    return json_response(
        {
            "project": found.project,
            "deployment": found.deployment,
            "model": found.model,
            "stable": found.stable,
            "canary": found.canary,
            "canary_weight": found.canary_weight,
            "shadow": found.shadow,
            "sticky_key": found.sticky_key,
            "revision": found.revision,
        }
    )


@router.get("/{name}/traffic")
def traffic(
    name: DeploymentName,
    deployments: Deployments,
    project: Name = DEFAULT_PROJECT,
    since: Annotated[QueryInt, between(0, MAX_TIME)] | None = None,
    until: Annotated[QueryInt, between(0, MAX_TIME)] | None = None,
    bucket_s: Annotated[QueryInt, Documented(minimum=10, maximum=86_400, multipleOf=10)] | None = None,
) -> Response:
    """The replicas' reports added up per version and role over [since, until) (default: the last
    hour), per bucket of `bucket_s` seconds (a multiple of 10) when given."""
    found = deployments.traffic(name, since=since, until=until, bucket_s=bucket_s, project=project)
    return json_response({"traffic": [t.to_dict() for t in found]})


@router.post("/{name}/traffic")
def report_traffic(
    name: DeploymentName, body: TrafficReport, deployments: Deployments, project: Name = DEFAULT_PROJECT
) -> Response:
    """A replica's report (what `plimsoll serve` sends every few seconds)."""
    stats = [
        TrafficStats(s.version, s.role, s.since, s.until, s.requests, s.errors, tuple(s.latency_counts))
        for s in body.stats
    ]
    return json_response({"stored": deployments.report_traffic(project, name, stats, body.replica)})

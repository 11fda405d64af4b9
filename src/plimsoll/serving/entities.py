"""Deployments and what a model server needs to route a request: frozen records and the pure rules
about them, no I/O.

A deployment is a name (unique in its project) serving one model in one environment: the
`stable` version (the one its alias held when the deployment last settled), an optional `canary`
taking `canary_weight` percent of the requests, and an optional `shadow` that receives a copy of
each request (its answer is logged, never returned). A deployment that `follows` its alias rolls
each new holder of the alias out as a canary against the previous holder, in the steps of its
`RolloutPolicy`; a failed analysis rolls the traffic and the alias back.

States: `stable` (no canary), `canary` (a rollout under way), `paused` (a rollout waiting: too
little data to judge, or paused by a person), `rolled_back` (the last rollout failed; stable
serves everything until the next one).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from plimsoll.core.errors import InvalidParameter

STABLE, CANARY, PAUSED, ROLLED_BACK = "stable", "canary", "paused", "rolled_back"
STATES: tuple[str, ...] = (STABLE, CANARY, PAUSED, ROLLED_BACK)
ROLE_STABLE, ROLE_CANARY, ROLE_SHADOW = "stable", "canary", "shadow"
ROLES: tuple[str, ...] = (ROLE_STABLE, ROLE_CANARY, ROLE_SHADOW)
# What a line of a deployment's history says happened.
ACTIONS: tuple[str, ...] = (
    "created",
    "updated",  # weights, shadow, sticky key or policy changed by a person
    "canary_started",  # by a person, or because the followed alias moved
    "step_advanced",
    "paused",
    "resumed",
    "promoted",  # the canary became stable
    "rolled_back",  # by a person, or by a failed analysis (actor "system:serving")
    "load_failed",  # a replica could not load a version; it serves the last good one
)
SYSTEM_ACTOR = "system:serving"
DEFAULT_ENVIRONMENT = "production"
DEFAULT_STEPS: tuple[float, ...] = (10.0, 25.0, 50.0, 100.0)
MAX_STEPS = 20


@dataclass(frozen=True)
class RolloutPolicy:
    """How a canary advances: through `steps` (percent of traffic, increasing, the last 100),
    each held for at least `analysis_window_s` and `min_requests` canary requests, then judged:
    the canary's error rate at most `max_error_rate` (and at most `max_error_rate_increase` above
    the stable version's), its p99 latency at most `max_p99_ms` (None: not judged), its
    predictions' distribution not drifted from the stable version's (the statistics engine's
    compare at `drift_alpha`), its agreement with the shadow at least `min_shadow_agreement` where
    a shadow runs, and its realised `quality_metric` (where labels arrived in time) at most
    `max_quality_drop` below the stable version's. Too few requests or labels: the rollout waits
    (state `paused`, reason said), it never advances on missing data."""

    steps: tuple[float, ...] = DEFAULT_STEPS
    analysis_window_s: int = 300
    min_requests: int = 100
    max_error_rate: float = 0.01
    max_error_rate_increase: float = 0.005
    max_p99_ms: float | None = None
    drift_alpha: float = 0.01
    min_shadow_agreement: float | None = None
    quality_metric: str | None = None
    max_quality_drop: float = 0.02
    auto_rollback: bool = True

    def __post_init__(self) -> None:
        steps = tuple(float(s) for s in self.steps)
        if not 1 <= len(steps) <= MAX_STEPS:
            raise InvalidParameter("policy.steps", f"needs 1 to {MAX_STEPS} steps, got {len(steps)}")
        if any(not 0 < s <= 100 for s in steps) or list(steps) != sorted(set(steps)) or steps[-1] != 100:
            raise InvalidParameter(
                "policy.steps", f"must increase within (0, 100] and end at 100, got {list(steps)}"
            )
        object.__setattr__(self, "steps", steps)
        _check_range("policy.analysis_window_s", self.analysis_window_s, 10, 7 * 86_400)
        _check_range("policy.min_requests", self.min_requests, 1, 10_000_000)
        for name in ("max_error_rate", "max_error_rate_increase", "drift_alpha", "max_quality_drop"):
            _check_range(f"policy.{name}", getattr(self, name), 0.0, 1.0)
        if self.max_p99_ms is not None:
            _check_range("policy.max_p99_ms", self.max_p99_ms, 0.1, 600_000)
        if self.min_shadow_agreement is not None:
            _check_range("policy.min_shadow_agreement", self.min_shadow_agreement, 0.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found["steps"] = list(self.steps)
        return found

    @classmethod
    def from_dict(cls, value: Mapping[str, Any] | None) -> RolloutPolicy:
        if value is None:
            return cls()
        if not isinstance(value, Mapping):
            raise InvalidParameter("policy", f"must be an object, got {type(value).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise InvalidParameter("policy", f"unknown fields {unknown}; known: {sorted(known)}")
        given = dict(value)
        if "steps" in given:
            if not isinstance(given["steps"], Sequence) or isinstance(given["steps"], str):
                raise InvalidParameter("policy.steps", "must be a list of percents")
            given["steps"] = tuple(given["steps"])
        return cls(**given)


@dataclass(frozen=True)
class Deployment:
    id: str
    project: str
    name: str
    environment: str
    model: str
    alias: str
    follows: bool  # a new holder of the alias is rolled out as a canary
    stable: int | None
    canary: int | None
    canary_weight: float  # percent of requests the canary answers
    shadow: int | None
    sticky_key: str | None  # a request's field or header whose value picks its version
    policy: RolloutPolicy
    state: str
    step: int  # index into policy.steps while a canary runs
    step_started_at: int | None
    reason: str  # why the state is what it is (a paused rollout says what it waits for)
    decision: str | None  # the release decision the current rollout carries out
    revision: int  # bumped by every change: replicas reload when it moves
    created_by: str
    created_at: int
    updated_at: int
    # Who paused the rollout by hand (it waits for `resume`); None when it runs, or when the
    # analysis paused it for want of data (the next analysis looks again).
    paused_by: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.model}@{self.alias}"

    @property
    def routing(self) -> Routing:
        return Routing(
            self.project,
            self.name,
            self.model,
            self.stable,
            self.canary,
            self.canary_weight if self.canary is not None else 0.0,
            self.shadow,
            self.sticky_key,
            self.revision,
        )

    def to_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found["policy"] = self.policy.to_dict()
        return found

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Deployment:
        known = {f.name for f in fields(cls)}
        given = {k: v for k, v in value.items() if k in known}
        given["policy"] = RolloutPolicy.from_dict(value.get("policy"))
        return cls(**given)


@dataclass(frozen=True)
class Routing:
    """What a model server replica needs to answer a request of a deployment: which versions, in
    which share, and which shadows them. `revision` tells a replica it is out of date."""

    project: str
    deployment: str
    model: str
    stable: int | None
    canary: int | None
    canary_weight: float
    shadow: int | None
    sticky_key: str | None
    revision: int

    def versions(self) -> tuple[int, ...]:
        return tuple(v for v in dict.fromkeys((self.stable, self.canary, self.shadow)) if v is not None)

    def choose(self, key: str | None = None, *, draw: float | None = None) -> tuple[int, str]:
        """The version (and its role) that answers a request: with a sticky `key` the same key
        always lands on the same side (a hash of the deployment and key), otherwise a random
        draw. A deployment with no stable version answers with its canary."""
        if self.canary is None or self.canary_weight <= 0:
            if self.stable is None:
                raise InvalidParameter("deployment", f"{self.deployment!r} has no version to serve")
            return self.stable, ROLE_STABLE
        if self.stable is None or self.canary_weight >= 100:
            return self.canary, ROLE_CANARY
        if key is not None:
            digest = hashlib.blake2b(f"{self.deployment}\x00{key}".encode(), digest_size=8).digest()
            point = int.from_bytes(digest, "big") / 2**64 * 100
        else:
            point = (random.random() if draw is None else draw) * 100
        return (self.canary, ROLE_CANARY) if point < self.canary_weight else (self.stable, ROLE_STABLE)


@dataclass(frozen=True)
class HistoryEntry:
    id: str
    deployment_id: str
    at: int
    actor: str
    action: str
    before: dict[str, Any]
    after: dict[str, Any]
    reason: str
    analysis: dict[str, Any] | None = None  # the rollout analysis that led to it
    decision: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> HistoryEntry:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in value.items() if k in known})


@dataclass(frozen=True)
class TrafficStats:
    """Requests of one version in one role of a deployment over a stretch, as replicas report
    them: counts, errors and a latency histogram (milliseconds, `LATENCY_BUCKETS_MS` upper bounds
    plus one overflow bucket)."""

    version: int
    role: str
    since: int
    until: int
    requests: int
    errors: int
    latency_counts: tuple[int, ...] = field(default_factory=tuple)

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.requests if self.requests else None

    def latency_quantile(self, q: float) -> float | None:
        """The upper bound of the bucket holding the `q` quantile (None without requests; the
        last bound doubled for the overflow bucket)."""
        total = sum(self.latency_counts)
        if not total:
            return None
        rank, seen = q * total, 0
        for bound, count in zip(
            (*LATENCY_BUCKETS_MS, LATENCY_BUCKETS_MS[-1] * 2), self.latency_counts, strict=False
        ):
            seen += count
            if seen >= rank:
                return float(bound)
        return float(LATENCY_BUCKETS_MS[-1] * 2)

    def to_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found["latency_counts"] = list(self.latency_counts)
        return found

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> TrafficStats:
        known = {f.name for f in fields(cls)}
        given = {k: v for k, v in value.items() if k in known}
        given["latency_counts"] = tuple(given.get("latency_counts") or ())
        return cls(**given)


def shadow_id(prediction_id: str) -> str:
    """The id a shadow's logged prediction carries: the id of the prediction served for the same
    request, then ":shadow". The rollout analysis joins a shadow's answers to the served ones on
    it (the model server logs both; docs/serving.md, "The model server")."""
    return f"{prediction_id}{SHADOW_SUFFIX}"


SHADOW_SUFFIX = ":shadow"


# Prometheus-style latency buckets (ms): fine below 10 ms, where a model server's answers are.
LATENCY_BUCKETS_MS: tuple[float, ...] = (
    0.5, 1, 2, 3, 5, 7.5, 10, 15, 25, 50, 75, 100, 250, 500, 1000, 2500, 5000, 10000,
)  # fmt: skip


def _check_range(name: str, value: Any, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidParameter(name, f"must be a number within [{low:g}, {high:g}], got {value!r}")

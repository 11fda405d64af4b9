"""Deployments made, read and changed by people, and the order with the registry: a deployment that
follows its alias rolls each new holder out as a canary against the previous one (`on_event`, the
`serving` consumer of `alias.moved`); a rollback returns the traffic to the stable version and,
when the alias had moved to the canary, moves it back through the registry in the same
transaction, under the same decision."""

from __future__ import annotations

import builtins
import json
from collections.abc import Mapping
from typing import Any

from plimsoll.core.changes import Change
from plimsoll.core.errors import Conflict, GateFailed, InvalidParameter, NotFound
from plimsoll.core.ids import new_id
from plimsoll.core.outbox import Event
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_name, check_text, printable
from plimsoll.model_registry.entities import check_alias, check_model_name
from plimsoll.serving import store
from plimsoll.serving.entities import (
    CANARY,
    DEFAULT_ENVIRONMENT,
    PAUSED,
    ROLLED_BACK,
    STABLE,
    SYSTEM_ACTOR,
    Deployment,
    HistoryEntry,
    RolloutPolicy,
    Routing,
)
from plimsoll.serving.service.base import (
    MAX_NAME,
    ServiceBase,
    _deployment,
    _dumps,
    _history,
    check_limit,
    check_optional_version,
)

MAX_REASON = 2000
ALIAS_MOVED = "alias.moved"


def parse_ref(field: str, value: Any) -> tuple[str, str]:
    """`MODEL@ALIAS` as its two parts."""
    if not isinstance(value, str) or value.count("@") != 1:
        raise InvalidParameter(
            field,
            f"must be MODEL@ALIAS (a model and the alias the deployment serves), got {printable(value)!r}",
        )
    model, alias = value.split("@")
    return check_model_name(field, model), check_alias(field, alias)


def _reason(value: Any) -> str:
    return check_text("reason", value, max_length=MAX_REASON)


def _weight(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 100:
        raise InvalidParameter(
            "weight", f"must be a percent of the requests, above 0 and below 100, got {printable(value)!r}"
        )
    return float(value)


def _policy(value: Any) -> RolloutPolicy:
    if value is None or isinstance(value, RolloutPolicy):
        return value or RolloutPolicy()
    if not isinstance(value, Mapping):
        raise InvalidParameter("policy", f"must be a rollout policy or an object, got {printable(value)!r}")
    policy = RolloutPolicy.from_dict(value)
    if policy.quality_metric is not None and policy.quality_metric not in QUALITY_METRICS:
        raise InvalidParameter(
            "policy.quality_metric",
            f"must be one of {', '.join(QUALITY_METRICS)}, got {printable(policy.quality_metric)!r}",
        )
    return policy


QUALITY_METRICS = ("accuracy",)


def _step_of(policy: RolloutPolicy, weight: float) -> int:
    """The step a canary at `weight` percent stands on: the last one not above it."""
    below = [i for i, step in enumerate(policy.steps) if step <= weight]
    return below[-1] if below else 0


class DeployingOps(ServiceBase):
    # -- made and changed by people --------------------------------------------------------------

    def deploy(
        self,
        name: str,
        model_ref: str,
        *,
        environment: str = DEFAULT_ENVIRONMENT,
        canary: int | None = None,
        weight: float | None = None,
        shadow: int | None = None,
        sticky_key: str | None = None,
        policy: RolloutPolicy | Mapping[str, Any] | None = None,
        follows: bool = True,
        reason: str = "",
        project: str = DEFAULT_PROJECT,
        actor: str,
    ) -> Deployment:
        """Create the deployment `name` serving `model_ref` (`MODEL@ALIAS`: its stable version is
        the alias's holder now), or update it. `canary` starts a rollout of that version at
        `weight` percent (default: the policy's first step) against the stable one; `shadow`
        receives a copy of each request. With a protected alias, a canary or shadow version needs a
        passing promotion decision for that alias (GateFailed otherwise). Given fields replace
        the stored ones; a rollout under way (one the followed alias started) goes on when no
        `canary` is given (`rollback` ends it)."""
        name = check_name("name", name, max_length=MAX_NAME)
        model, alias = parse_ref("model", model_ref)
        environment = check_name("environment", environment, max_length=MAX_NAME)
        canary = check_optional_version("canary", canary)
        shadow = check_optional_version("shadow", shadow)
        if weight is not None and canary is None:
            raise InvalidParameter("weight", "is the canary's share: give the canary version too")
        if sticky_key is not None:
            sticky_key = check_name("sticky_key", sticky_key, max_length=MAX_NAME)
        if not isinstance(follows, bool):
            raise InvalidParameter("follows", f"must be true or false, got {printable(follows)!r}")
        rollout = _policy(policy)
        reason = _reason(reason)
        share = None if canary is None else (_weight(weight) if weight is not None else rollout.steps[0])
        check_name("project", project)
        holder = self._holder(project, model, alias)
        for field, version in (("canary", canary), ("shadow", shadow)):
            if version is not None:
                self._servable(field, project, model, alias, version)
        now = self.clock()
        with self._change(actor) as change:
            self.projects.require_in(change.conn, project)
            row = store.deployment_row(change.conn, project, name, lock=True)
            values: dict[str, Any] = {
                "environment": environment,
                "model": model,
                "alias": alias,
                "follows": follows,
                "shadow": shadow,
                "sticky_key": sticky_key,
                "policy": _dumps(rollout.to_dict()),
            }
            if row is not None and (row["model"], row["alias"]) != (model, alias):
                raise Conflict(
                    f"deployment {name!r} serves {row['model']}@{row['alias']}: a deployment keeps its "
                    "model and alias; deploy another name",
                    details={"deployment": name},
                )
            stable = holder if row is None else (row["stable"] if row["stable"] is not None else holder)
            if canary is not None:
                if canary == stable:
                    raise InvalidParameter(
                        "canary", f"version {canary} is the stable version of {name!r} already"
                    )
                values.update(
                    canary=canary,
                    canary_weight=share,
                    state=CANARY,
                    step=_step_of(rollout, share or 0),
                    step_started_at=now,
                    paused_by=None,
                    reason=reason or f"canary {model}/{canary} at {share:g}% started by {actor}",
                    decision=None,
                )
            if row is None:
                values.update(
                    id=new_id(),
                    project=project,
                    name=name,
                    stable=stable,
                    created_by=actor,
                    created_at=now,
                )
                values.setdefault("canary", None)
                values.setdefault("canary_weight", 0.0)
                values.setdefault("state", STABLE)
                values.setdefault("step", 0)
                values.setdefault("step_started_at", None)
                values.setdefault("paused_by", None)
                values.setdefault("reason", reason)
                values.setdefault("decision", None)
                action = "created" if canary is None else "canary_started"
                return self._commit(change, values, values, action, reason=reason, created=True)
            action = "canary_started" if canary is not None else "updated"
            return self._commit(change, row, values, action, reason=reason)

    def _holder(self, project: str, model: str, alias: str) -> int:
        if self.registry is None:
            raise NotFound("this platform has no model registry")
        try:
            return int(self.registry.get_version(f"{model}@{alias}", project=project).version)
        except NotFound as missing:
            raise NotFound(f"{model}@{alias}: {missing}") from None

    def _servable(self, field: str, project: str, model: str, alias: str, version: int) -> None:
        """NotFound for a version the model lacks; GateFailed for one a protected alias may not
        serve (no passing promotion decision for that alias)."""
        assert self.registry is not None
        self.registry.get_version(f"{model}/{version}", project=project)
        protected = any(
            a.name == alias and a.protected for a in self.registry.aliases(model, project=project)
        )
        if not protected:
            return
        decisions = (
            [] if self.gates is None else self.gates.decisions(model, version=version, project=project)
        )
        if not any(
            d.purpose == "promotion"
            and d.alias == alias
            and d.verdict == "passed"
            and d.integrity == "verified"
            for d in decisions
        ):
            raise GateFailed(
                f"{field}: {model}/{version} has no passing promotion decision for the protected alias "
                f"{alias!r}: a deployment of a protected alias serves only versions promoted to it",
                details={"field": field, "version": version, "alias": alias},
            )

    # -- reading ---------------------------------------------------------------------------------

    def get(self, name: str, *, project: str = DEFAULT_PROJECT) -> Deployment:
        with self.db.read() as conn:
            return _deployment(self._row(conn, project, name))

    def list(
        self,
        *,
        model: str | None = None,
        environment: str | None = None,
        project: str = DEFAULT_PROJECT,
        limit: int = 1000,
    ) -> builtins.list[Deployment]:
        check_name("project", project)
        if model is not None:
            check_model_name("model", model)
        if environment is not None:
            check_name("environment", environment, max_length=MAX_NAME)
        check_limit(limit)
        with self.db.read() as conn:
            self.projects.require_in(conn, project)
            rows = store.deployment_rows(conn, project, model=model, environment=environment, limit=limit)
        return [_deployment(row) for row in rows]

    def history(
        self, name: str, *, project: str = DEFAULT_PROJECT, limit: int = 1000
    ) -> builtins.list[HistoryEntry]:
        """The deployment's history lines, the newest first."""
        check_limit(limit)
        with self.db.read() as conn:
            row = self._row(conn, project, name)
            return [_history(line) for line in store.history_rows(conn, row["id"], limit=limit)]

    def routing(self, project: str, name: str) -> Routing:
        """What a model server replica needs to answer the requests of deployment `name` of
        `project`: its stable, canary (and share) and shadow versions, its sticky key and its
        revision (a replica polls this every few seconds and reloads when the revision moves).
        One indexed read. NotFound for an unknown deployment. Stable signature: the model
        server calls it."""
        return self.get(name, project=project).routing

    def deployment_project(self, deployment_id: str) -> str:
        with self.db.read() as conn:
            row = store.deployment_by_id(conn, deployment_id)
        if row is None:
            raise NotFound(f"deployment {deployment_id!r} not found")
        return str(row["project"])

    # -- rollback, pause, resume -------------------------------------------------------------------

    def rollback(
        self, name: str, *, reason: str = "", project: str = DEFAULT_PROJECT, actor: str
    ) -> Deployment:
        """One call: the canary is switched off and the stable version takes every request; when
        the followed alias had moved to the canary, the registry moves it back (its rollback, in
        this transaction, carrying the rollout's decision). Without a canary, the alias is rolled
        back to its previous holder and the deployment serves that."""
        reason = _reason(reason)
        with self._change(actor) as change:
            row = self._row(change.conn, project, name, lock=True)
            return self._roll_back(change, row, reason or f"rolled back by {actor}", check_access=True)

    def _roll_back(
        self,
        change: Change,
        row: Any,
        reason: str,
        *,
        analysis: dict[str, Any] | None = None,
        check_access: bool,
    ) -> Deployment:
        project, model, alias = row["project"], row["model"], row["alias"]
        canary, stable = row["canary"], row["stable"]
        decision = row["decision"]
        if canary is None:
            if stable is None or self.registry is None:
                raise Conflict(f"deployment {row['name']!r} runs no canary and has nothing to roll back to")
            move = self.registry.rollback_in(
                change,
                model,
                alias,
                reason=reason,
                expected=int(stable),
                project=project,
                check_access=check_access,
            )
            values: dict[str, Any] = {"stable": move.version, "state": ROLLED_BACK, "reason": reason}
            return self._commit(change, row, values, "rolled_back", reason=reason, analysis=analysis)
        if self.registry is not None and row["follows"]:
            holder = self._current(project, model, alias)
            if holder == int(canary):
                self.registry.rollback_in(
                    change,
                    model,
                    alias,
                    reason=reason,
                    expected=int(canary),
                    decision=decision,
                    project=project,
                    check_access=check_access,
                )
        values = {
            "canary": None,
            "canary_weight": 0.0,
            "state": ROLLED_BACK,
            "step": 0,
            "step_started_at": None,
            "paused_by": None,
            "reason": reason,
        }
        return self._commit(
            change, row, values, "rolled_back", reason=reason, analysis=analysis, decision=decision
        )

    def _current(self, project: str, model: str, alias: str) -> int | None:
        assert self.registry is not None
        for found in self.registry.aliases(model, project=project):
            if found.name == alias:
                return int(found.version)
        return None

    def pause(self, name: str, *, reason: str = "", project: str = DEFAULT_PROJECT, actor: str) -> Deployment:
        """Hold a rollout where it stands (its canary keeps its share) until `resume`."""
        reason = _reason(reason)
        with self._change(actor) as change:
            row = self._row(change.conn, project, name, lock=True)
            if row["canary"] is None:
                raise Conflict(f"deployment {name!r} runs no canary: there is no rollout to pause")
            if row["paused_by"] is not None:
                raise Conflict(f"the rollout of {name!r} is paused already (by {row['paused_by']})")
            why = reason or f"paused by {actor}"
            values = {"state": PAUSED, "paused_by": actor, "reason": why}
            return self._commit(change, row, values, "paused", reason=why)

    def resume(
        self, name: str, *, reason: str = "", project: str = DEFAULT_PROJECT, actor: str
    ) -> Deployment:
        """Let a paused rollout go on: its current step is analysed again from now."""
        reason = _reason(reason)
        with self._change(actor) as change:
            row = self._row(change.conn, project, name, lock=True)
            if row["canary"] is None or row["state"] != PAUSED:
                raise Conflict(f"deployment {name!r} has no paused rollout to resume (it is {row['state']})")
            why = reason or f"resumed by {actor}"
            values = {"state": CANARY, "paused_by": None, "step_started_at": self.clock(), "reason": why}
            return self._commit(change, row, values, "resumed", reason=why)

    # -- following the alias ---------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """The `serving` consumer of `alias.moved`: each deployment following the moved alias
        rolls its new holder out as a canary against the previous one (state canary, at the
        policy's first step, carrying the move's decision); a move back to the stable version
        ends a running canary. Idempotent: a move already acted on changes nothing."""
        if event.type != ALIAS_MOVED:
            return
        payload = event.payload
        project, model, alias = payload.get("project"), payload.get("model"), payload.get("alias")
        version = payload.get("version")
        if not (isinstance(project, str) and isinstance(model, str) and isinstance(alias, str)):
            return
        if not isinstance(version, int):
            return  # the alias was removed: the deployments keep serving what they serve
        with self._change(SYSTEM_ACTOR) as change:
            for row in store.following(change.conn, project, model, alias):
                self._follow(change, row, version, payload, event.actor)

    def _follow(self, change: Change, row: Any, version: int, payload: dict[str, Any], actor: str) -> None:
        move = f"{row['model']}@{row['alias']} moved to {version} ({payload.get('action')} by {actor})"
        if row["stable"] is None:
            values: dict[str, Any] = {"stable": version, "state": STABLE, "reason": move}
            self._commit(change, row, values, "updated", reason=move)
            return
        if int(row["stable"]) == version:
            if row["canary"] is not None:  # moved back (a registry rollback): the rollout ends
                values = {
                    "canary": None,
                    "canary_weight": 0.0,
                    "state": ROLLED_BACK,
                    "step": 0,
                    "step_started_at": None,
                    "paused_by": None,
                    "reason": move,
                }
                self._commit(change, row, values, "rolled_back", reason=move)
            return
        if row["canary"] is not None and int(row["canary"]) == version:
            return  # acted on already
        policy = RolloutPolicy.from_dict(json.loads(row["policy"]))
        values = {
            "canary": version,
            "canary_weight": policy.steps[0],
            "state": CANARY,
            "step": 0,
            "step_started_at": self.clock(),
            "paused_by": None,
            "reason": move,
            "decision": payload.get("decision"),
        }
        self._commit(change, row, values, "canary_started", reason=move, decision=payload.get("decision"))

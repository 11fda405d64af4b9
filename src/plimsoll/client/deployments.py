"""`client.deployments`: deployments, embedded or remote (docs/serving.md).

deployments = client.deployments
deployments.deploy("churn-prod", model="churn@production", canary=7, weight=10, shadow=8)
deployments.list()                                   # a project's deployments
deployments.get("churn-prod").routing                # what a model server replica serves
deployments.history("churn-prod")[0].analysis        # the newest line, and the analysis behind it
deployments.rollback("churn-prod", reason="p99 doubled")
deployments.pause("churn-prod"); deployments.resume("churn-prod")
deployments.traffic("churn-prod", bucket_s=60)       # requests, errors and latency per version and role
deployments.routing("churn-prod")                    # what a replica polls (`plimsoll serve`)
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.serving.entities import (
    DEFAULT_ENVIRONMENT,
    Deployment,
    HistoryEntry,
    RolloutPolicy,
    Routing,
    TrafficStats,
)

if TYPE_CHECKING:
    from plimsoll.client.transport import Transport


class Deployments:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def __repr__(self) -> str:
        return f"<plimsoll deployments of {self._transport.destination}>"

    @property
    def _local(self) -> bool:
        return hasattr(self._transport, "platform")

    def _call(self, method: str, *args: Any, actor: bool = False, **kwargs: Any) -> Any:
        service = self._transport.platform.serving  # type: ignore[attr-defined]
        if actor:
            kwargs["actor"] = self._transport.actor  # type: ignore[attr-defined]
        return getattr(service, method)(*args, **kwargs)

    def _http(self, method: str, path: str, body: Any = None, *, params: dict[str, Any] | None = None) -> Any:
        send = self._transport._json  # type: ignore[attr-defined]
        options: dict[str, Any] = {"retry": method == "GET"}
        if params is not None:
            options["params"] = {k: v for k, v in params.items() if v is not None}
        if body is not None or method in ("POST", "PUT"):
            options["body"] = body if body is not None else {}
        return send(method, path, **options)

    @staticmethod
    def _path(name: str, tail: str = "") -> str:
        return f"/deployments/{quote(str(name), safe='')}{tail}"

    def deploy(
        self,
        name: str,
        *,
        model: str,
        environment: str = DEFAULT_ENVIRONMENT,
        canary: int | None = None,
        weight: float | None = None,
        shadow: int | None = None,
        sticky_key: str | None = None,
        policy: RolloutPolicy | Mapping[str, Any] | None = None,
        follows: bool = True,
        reason: str = "",
        project: str = DEFAULT_PROJECT,
    ) -> Deployment:
        """Create or update deployment `name` serving `model` (`MODEL@ALIAS`); `canary` at `weight`
        percent starts a rollout, `shadow` receives a copy of each request."""
        if self._local:
            return self._call(  # type: ignore[no-any-return]
                "deploy",
                name,
                model,
                environment=environment,
                canary=canary,
                weight=weight,
                shadow=shadow,
                sticky_key=sticky_key,
                policy=policy,
                follows=follows,
                reason=reason,
                project=project,
                actor=True,
            )
        given = policy.to_dict() if isinstance(policy, RolloutPolicy) else policy
        body = {
            "model": model,
            "environment": environment,
            "canary": canary,
            "weight": weight,
            "shadow": shadow,
            "sticky_key": sticky_key,
            "policy": None if given is None else dict(given),
            "follows": follows,
            "reason": reason,
        }
        found = self._http("PUT", self._path(name), body, params={"project": project})
        return Deployment.from_dict(found)

    def list(
        self,
        *,
        model: str | None = None,
        environment: str | None = None,
        project: str = DEFAULT_PROJECT,
        limit: int = 1000,
    ) -> builtins.list[Deployment]:
        if self._local:
            return builtins.list(
                self._call("list", model=model, environment=environment, project=project, limit=limit)
            )
        params = {"project": project, "model": model, "environment": environment, "limit": limit}
        return [
            Deployment.from_dict(d) for d in self._http("GET", "/deployments", params=params)["deployments"]
        ]

    def get(self, name: str, *, project: str = DEFAULT_PROJECT) -> Deployment:
        if self._local:
            return self._call("get", name, project=project)  # type: ignore[no-any-return]
        return Deployment.from_dict(self._http("GET", self._path(name), params={"project": project}))

    def history(
        self, name: str, *, project: str = DEFAULT_PROJECT, limit: int = 1000
    ) -> builtins.list[HistoryEntry]:
        """Its history lines, the newest first."""
        if self._local:
            return builtins.list(self._call("history", name, project=project, limit=limit))
        found = self._http("GET", self._path(name, "/history"), params={"project": project, "limit": limit})
        return [HistoryEntry.from_dict(h) for h in found["history"]]

    def _act(self, verb: str, name: str, reason: str, project: str) -> Deployment:
        if self._local:
            return self._call(verb, name, reason=reason, project=project, actor=True)  # type: ignore[no-any-return]
        found = self._http(
            "POST", self._path(name, f"/{verb}"), {"reason": reason}, params={"project": project}
        )
        return Deployment.from_dict(found)

    def rollback(self, name: str, *, reason: str = "", project: str = DEFAULT_PROJECT) -> Deployment:
        """One call: canary off, every request to the stable version (the alias moved back when it
        had moved to the canary)."""
        return self._act("rollback", name, reason, project)

    def pause(self, name: str, *, reason: str = "", project: str = DEFAULT_PROJECT) -> Deployment:
        """Hold a rollout where it stands until `resume`."""
        return self._act("pause", name, reason, project)

    def resume(self, name: str, *, reason: str = "", project: str = DEFAULT_PROJECT) -> Deployment:
        return self._act("resume", name, reason, project)

    def traffic(
        self,
        name: str,
        *,
        since: int | None = None,
        until: int | None = None,
        bucket_s: int | None = None,
        project: str = DEFAULT_PROJECT,
    ) -> builtins.list[TrafficStats]:
        """Requests, errors and latency per version and role over [since, until) (default: the
        last hour), per bucket of `bucket_s` seconds when given."""
        if self._local:
            return builtins.list(
                self._call("traffic", name, since=since, until=until, bucket_s=bucket_s, project=project)
            )
        params = {"project": project, "since": since, "until": until, "bucket_s": bucket_s}
        return [
            TrafficStats.from_dict(t)
            for t in self._http("GET", self._path(name, "/traffic"), params=params)["traffic"]
        ]

    def routing(self, name: str, *, project: str = DEFAULT_PROJECT) -> Routing:
        """What a model server replica serves now (it polls this): versions, the canary's share,
        the shadow, the sticky key, and the revision that moves with every change."""
        if self._local:
            return self._call("routing", project, name)  # type: ignore[no-any-return]
        found = self._http("GET", self._path(name, "/routing"), params={"project": project})
        return Routing(
            found["project"],
            found["deployment"],
            found["model"],
            found["stable"],
            found["canary"],
            float(found["canary_weight"]),
            found["shadow"],
            found["sticky_key"],
            int(found["revision"]),
        )

    def report_traffic(
        self, name: str, stats: builtins.list[TrafficStats], *, replica: str, project: str = DEFAULT_PROJECT
    ) -> int:
        """A replica's counts since its previous report (what `plimsoll serve` sends every few
        seconds); answers how many were stored."""
        if self._local:
            return self._call("report_traffic", project, name, stats, replica)  # type: ignore[no-any-return]
        body = {"replica": replica, "stats": [s.to_dict() for s in stats]}
        return int(
            self._http("POST", self._path(name, "/traffic"), body, params={"project": project})["stored"]
        )

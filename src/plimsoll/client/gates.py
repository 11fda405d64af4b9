"""`client.gates`: release gates and promotions, embedded or remote (docs/gates.md).

gates = client.gates
decision = gates.check("churn", 7, policy=Path("gates.yaml").read_text(), evidence={...})
promotion = gates.promote("churn", 7, to="production", comment="retrained on May data")
promotion = gates.wait(promotion.id)              # until its gates have run
gates.approve(promotion.id, comment="numbers look right")   # as an approver
gates.reject(promotion.id, comment="latency regressed")

(`pl.gates` is the capability's package, as `plimsoll.gates` is imported with the platform: reach
the default client's as `pl.default_client().gates`.)
"""

from __future__ import annotations

import builtins
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.gates.entities import Decision, Promotion, StoredPolicy, Verification, Waiver

if TYPE_CHECKING:
    from plimsoll.client.transport import Transport

WAIT_POLL_S = 0.2


class Gates:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def __repr__(self) -> str:
        return f"<plimsoll gates of {self._transport.destination}>"

    # -- policies ---------------------------------------------------------------------------------

    def set_policy(
        self, name: str, alias: str, policy: str, *, project: str = DEFAULT_PROJECT
    ) -> StoredPolicy:
        """Set the YAML policy guarding promotions of `name` to `alias` (project admins)."""
        if self._local:
            return self._policy(self._call("set_policy", name, alias, policy, project=project))
        body = {"project": project, "policy": policy}
        return self._policy(self._http("PUT", f"{_alias_path(name, alias)}/policy", body, retry=False))

    def policy(self, name: str, alias: str, *, project: str = DEFAULT_PROJECT) -> StoredPolicy:
        if self._local:
            return self._policy(self._call("get_policy", name, alias, project=project, actor=None))
        return self._policy(
            self._http("GET", f"{_alias_path(name, alias)}/policy", params={"project": project})
        )

    # -- checks -----------------------------------------------------------------------------------

    def check(
        self,
        name: str,
        version: int | None = None,
        *,
        policy: str,
        evidence: dict[str, Any] | None = None,
        project: str = DEFAULT_PROJECT,
    ) -> Decision:
        """Run `policy`'s gates on `name`/`version` (the latest when None) now: the stored, signed
        decision. `evidence` in the shape docs/gates.md shows; None: the evidence recorded."""
        if self._local:
            ref = name if version is None else f"{name}/{version}"
            return self._decision(self._call("check", ref, policy, evidence, project=project))
        body = {"project": project, "model": name, "version": version, "policy": policy, "evidence": evidence}
        return self._decision(self._http("POST", "/gates/check", body, retry=False))

    def decision(self, decision_id: str) -> Decision:
        if self._local:
            return self._decision(self._call("decision", decision_id, actor=None))
        return self._decision(self._http("GET", f"/gates/decisions/{decision_id}"))

    def decisions(
        self,
        name: str | None = None,
        *,
        version: int | None = None,
        project: str = DEFAULT_PROJECT,
        limit: int = 100,
    ) -> builtins.list[Decision]:
        if self._local:
            found = self._call("decisions", name, version=version, project=project, limit=limit, actor=None)
            return [self._decision(d) for d in found]
        params: dict[str, Any] = {"project": project, "limit": limit}
        params |= {"model": name} if name is not None else {}
        params |= {"version": version} if version is not None else {}
        return [self._decision(d) for d in self._http("GET", "/gates/decisions", params=params)["decisions"]]

    def verify(self, *, project: str = DEFAULT_PROJECT) -> Verification:
        """Every decision of the project checked against its signature on the server."""
        if self._local:
            found = self._call("verify", project=project, actor=None)
            return found if isinstance(found, Verification) else Verification.from_dict(found)
        return Verification.from_dict(self._http("GET", "/gates/verification", params={"project": project}))

    # -- promotions -------------------------------------------------------------------------------

    def promote(
        self,
        name: str,
        version: int,
        *,
        to: str,
        comment: str = "",
        evidence: dict[str, Any] | None = None,
        project: str = DEFAULT_PROJECT,
    ) -> Promotion:
        """Request the promotion of `version` to alias `to`: its gates run as a background job
        (`wait` for them), then it waits for approvals or moves the alias."""
        if self._local:
            return self._promotion(
                self._call(
                    "promote", name, version, to=to, comment=comment, evidence=evidence, project=project
                )
            )
        body = {"project": project, "version": version, "comment": comment, "evidence": evidence}
        return self._promotion(self._http("POST", f"{_alias_path(name, to)}/promotions", body, retry=False))

    def promotion(self, promotion_id: str) -> Promotion:
        if self._local:
            return self._promotion(self._call("get_promotion", promotion_id, actor=None))
        return self._promotion(self._http("GET", f"/promotions/{promotion_id}"))

    def promotions(
        self,
        name: str | None = None,
        *,
        alias: str | None = None,
        project: str = DEFAULT_PROJECT,
        limit: int = 100,
    ) -> builtins.list[Promotion]:
        if self._local:
            found = self._call("list_promotions", name, alias=alias, project=project, limit=limit, actor=None)
            return [self._promotion(p) for p in found]
        if alias is not None:
            if name is None:
                raise InvalidParameter("alias", "needs the model's name too")
            path = f"{_alias_path(name, alias)}/promotions"
            params: dict[str, Any] = {"project": project, "limit": limit}
        else:
            path, params = "/promotions", {"project": project, "limit": limit}
            params |= {"model": name} if name is not None else {}
        return [self._promotion(p) for p in self._http("GET", path, params=params)["promotions"]]

    def wait(self, promotion_id: str, *, timeout: float = 120.0) -> Promotion:
        """The promotion once its gates have run (no longer `checking`); TimeoutError after
        `timeout` seconds (a worker must be running: `plimsoll server` or `plimsoll worker`)."""
        deadline = time.monotonic() + timeout
        while True:
            promotion = self.promotion(promotion_id)
            if promotion.status != "checking":
                return promotion
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"promotion {promotion_id}'s gates did not run within {timeout:g} s: is a worker "
                    "running (`plimsoll server` or `plimsoll worker`)?"
                )
            time.sleep(WAIT_POLL_S)

    def approve(self, promotion_id: str, *, comment: str = "") -> Promotion:
        if self._local:
            return self._promotion(self._call("approve", promotion_id, comment=comment))
        return self._promotion(
            self._http("POST", f"/promotions/{promotion_id}/approve", {"comment": comment}, retry=False)
        )

    def reject(self, promotion_id: str, *, comment: str) -> Promotion:
        if self._local:
            return self._promotion(self._call("reject", promotion_id, comment=comment))
        return self._promotion(
            self._http("POST", f"/promotions/{promotion_id}/reject", {"comment": comment}, retry=False)
        )

    def complete(self, promotion_id: str) -> Promotion:
        if self._local:
            return self._promotion(self._call("complete", promotion_id))
        return self._promotion(self._http("POST", f"/promotions/{promotion_id}/complete", retry=False))

    # -- waivers ----------------------------------------------------------------------------------

    def waive(
        self,
        name: str,
        version: int,
        alias: str,
        gate: str,
        *,
        reason: str,
        hours: int,
        project: str = DEFAULT_PROJECT,
    ) -> Waiver:
        """Let `gate` through for `version`'s promotions to `alias` for `hours`, saying why."""
        if self._local:
            return self._waiver(
                self._call("waive", name, version, alias, gate, reason=reason, hours=hours, project=project)
            )
        body = {
            "project": project,
            "version": version,
            "gate": gate,
            "reason": reason,
            "expires_in_hours": hours,
        }
        return self._waiver(self._http("POST", f"{_alias_path(name, alias)}/waivers", body, retry=False))

    def waivers(
        self, name: str, alias: str, *, version: int | None = None, project: str = DEFAULT_PROJECT
    ) -> builtins.list[Waiver]:
        if self._local:
            found = self._call("waivers", name, version=version, alias=alias, project=project, actor=None)
            return [self._waiver(w) for w in found]
        params: dict[str, Any] = {"project": project}
        params |= {"version": version} if version is not None else {}
        return [
            self._waiver(w)
            for w in self._http("GET", f"{_alias_path(name, alias)}/waivers", params=params)["waivers"]
        ]

    # -- the two transports -----------------------------------------------------------------------

    @property
    def _local(self) -> bool:
        return hasattr(self._transport, "platform")

    def _call(self, method: str, *args: Any, actor: Any = "", **kwargs: Any) -> Any:
        """A service call in this process, as the client's user (none for reads)."""
        service = self._transport.platform.gates  # type: ignore[attr-defined]
        if actor is not None:
            kwargs["actor"] = self._transport.actor  # type: ignore[attr-defined]
        return getattr(service, method)(*args, **kwargs)

    def _http(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        retry: bool = True,
        params: dict[str, Any] | None = None,
    ) -> Any:
        send = self._transport._json  # type: ignore[attr-defined]
        options: dict[str, Any] = {"retry": retry}
        if params is not None:
            options["params"] = params
        if body is not None:
            options["body"] = body
        elif method == "POST":
            options["body"] = {}
        return send(method, path, **options)

    @staticmethod
    def _policy(value: Any) -> StoredPolicy:
        return value if isinstance(value, StoredPolicy) else StoredPolicy.from_dict(value)

    @staticmethod
    def _decision(value: Any) -> Decision:
        return value if isinstance(value, Decision) else Decision.from_dict(value)

    @staticmethod
    def _promotion(value: Any) -> Promotion:
        return value if isinstance(value, Promotion) else Promotion.from_dict(value)

    @staticmethod
    def _waiver(value: Any) -> Waiver:
        return value if isinstance(value, Waiver) else Waiver.from_dict(value)


def _alias_path(name: str, alias: str) -> str:
    return f"/models/{quote(name, safe='')}/aliases/{quote(alias, safe='')}"

"""What every part of the gates service shares: its parts, one way to write, promotions read back,
and who may approve (or waive): which approvals count, who holds the approver role, who is an
author of the version."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Any

from plimsoll.core.auth.entities import Role
from plimsoll.core.capability import Parts
from plimsoll.core.changes import changing
from plimsoll.core.errors import InvalidParameter, NotFound, PermissionDenied
from plimsoll.core.ids import is_id, now_ms
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_int, check_name, printable
from plimsoll.gates import store
from plimsoll.gates.entities import Approval, Promotion
from plimsoll.gates.policy import Policy, parse_policy
from plimsoll.model_registry.entities import ModelVersion, check_alias, check_model_name

MAX_LIST = 500

# Where evidence comes from when a request brings none: `source(project, model, version)` returns
# the evidence document (the JSON shape of `Evidence.from_dict`) or None.
EvidenceSource = Callable[[str, str, int], Mapping[str, Any] | None]


class ServiceBase:
    def __init__(self, parts: Parts) -> None:
        self.db = parts.db
        self.events = parts.events
        self.projects = parts.projects
        self.registry = parts.services["model_registry"]
        self.tracking = parts.services.get("tracking")
        self.data = parts.services.get("data")
        self.lineage = parts.services.get("lineage")
        self.auth = parts.services.get("auth")
        self.jobs = parts.services.get("jobs")
        audit = parts.services.get("audit")
        self.keyring = None if audit is None else audit.keyring
        self.clock: Callable[[], int] = now_ms  # ms since the epoch; tests move time by hand
        self._sources: list[EvidenceSource] = []
        # The evaluation capability, when it is listed before gates, is the first source.
        evaluation = parts.services.get("evaluation")
        if evaluation is not None and hasattr(evaluation, "gate_evidence"):
            self.add_evidence_source(evaluation.gate_evidence)

    def add_evidence_source(self, source: EvidenceSource) -> None:
        """Where a version's evidence is found when a request brings none (the first that has it
        wins); the evaluation capability plugs itself in here."""
        self._sources.append(source)

    def _change(self, actor: str) -> Any:
        return changing(self.db, self.events, actor)

    # -- reading ----------------------------------------------------------------------------------

    def get_promotion(self, promotion_id: str) -> Promotion:
        _check_id("promotion_id", promotion_id)
        with self.db.read() as conn:
            row = store.promotion_row(conn, promotion_id)
            if row is None:
                raise NotFound(f"promotion {promotion_id!r} not found")
            approvals = store.approval_rows(conn, [promotion_id]).get(promotion_id, [])
        return _promotion(row, approvals)

    def promotion_project(self, promotion_id: str) -> str:
        """The project a promotion belongs to (for the permission guard)."""
        return self.get_promotion(promotion_id).project

    def list_promotions(
        self,
        name: str | None = None,
        *,
        alias: str | None = None,
        project: str = DEFAULT_PROJECT,
        limit: int = 100,
    ) -> list[Promotion]:
        check_name("project", project)
        if name is not None:
            check_model_name("name", name)
        if alias is not None:
            check_alias("alias", alias)
        check_int("limit", limit, minimum=1, maximum=MAX_LIST)
        with self.db.read() as conn:
            rows = store.promotion_rows(conn, project, name, alias, limit=limit)
            approvals = store.approval_rows(conn, [r["id"] for r in rows])
        return [_promotion(row, approvals.get(row["id"], [])) for row in rows]

    # -- inside: who may approve ------------------------------------------------------------------

    def _policy_of(self, promotion_id: str) -> Policy:
        with self.db.read() as conn:
            row = store.promotion_row(conn, promotion_id)
        assert row is not None
        return parse_policy(row["policy"])

    def _role(self, actor: str, project: str) -> Role | None:
        if self.auth is None:
            return None
        try:
            role = self.auth.role_of(actor, project)
        except NotFound:  # no such user (authentication off: the local user is nobody's approver)
            return None
        return None if role is None else Role(role)

    def _counting(self, project: str, approvals: tuple[Approval, ...] | list[Approval]) -> list[Approval]:
        """The approvals that count: not expired, and their approver still holds the role."""
        now = self.clock()
        return [
            a
            for a in _valid(approvals, now)
            if (role := self._role(a.approver, project)) and role >= Role.APPROVER
        ]

    def _require_role(self, project: str, actor: str, what: str) -> None:
        role = self._role(actor, project)
        if role is None or role < Role.APPROVER:
            held = "no role" if role is None else f"the {role.value} role"
            raise PermissionDenied(
                f"{actor!r} holds {held} in project {project!r}: to {what}, hold the approver role "
                "(or admin) there (docs/gates.md)",
                details={"needed": Role.APPROVER.value, "project": project},
            )

    def _require_approver(
        self,
        project: str,
        actor: str,
        policy: Policy,
        version: ModelVersion,
        *,
        requester: str | None,
        what: str = "approve a promotion of",
    ) -> None:
        authors = {version.created_by}
        if self.tracking is not None and version.run_id is not None:
            with contextlib.suppress(NotFound):
                authors.add(self.tracking.get_run(version.run_id).user)
        if actor in authors:
            raise PermissionDenied(
                f"{actor!r} is an author of {version.ref} (registered it, or ran the run that produced "
                f"it): an author cannot {what.split(' ')[0]} their own version",
                details={"reason": "self_approval"},
            )
        if requester is not None and actor == requester:
            raise PermissionDenied(
                f"{actor!r} requested this promotion: the requester cannot approve it",
                details={"reason": "self_approval"},
            )
        self._require_role(project, actor, f"{what} {version.ref}")
        self.registry.require_alias_access(version.name, policy.alias, "approve", actor, project=project)
        if policy.approvals.approvers and actor not in policy.approvals.approvers:
            raise PermissionDenied(
                f"{actor!r} is not among the approvers the policy of {version.name}@{policy.alias} names: "
                + ", ".join(policy.approvals.approvers)
            )


# -- helpers ---------------------------------------------------------------------------------------


def _check_id(field: str, value: Any) -> str:
    if not isinstance(value, str) or not is_id(value):
        raise InvalidParameter(field, f"must be an id of 32 hex digits, got {printable(value)!r}")
    return value


def _approval(row: Any) -> Approval:
    return Approval(row["approver"], row["comment"], int(row["approved_at"]), int(row["expires_at"]))


def _valid(approvals: tuple[Approval, ...] | list[Approval], now: int) -> list[Approval]:
    return [a for a in approvals if a.valid(now)]


def _promotion(row: Any, approvals: list[Any]) -> Promotion:
    return Promotion(
        id=row["id"],
        project=row["project"],
        model=row["model"],
        version=int(row["version"]),
        alias=row["alias"],
        status=row["status"],
        requested_by=row["requested_by"],
        requested_at=int(row["requested_at"]),
        comment=row["comment"],
        approvals_required=int(row["approvals_required"]),
        decision=row["decision_id"],
        job=row["job_id"],
        approvals=tuple(_approval(a) for a in approvals),
        closed_by=row["closed_by"],
        closed_at=None if row["closed_at"] is None else int(row["closed_at"]),
        outcome=row["outcome"],
    )

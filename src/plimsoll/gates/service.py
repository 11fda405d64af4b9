"""Release gates and promotions: the rules, once.

set_policy / get_policy(name, alias)        the YAML policy guarding an alias (project admins)
check(model_ref, policy, evidence)          run a policy's gates now: a signed decision (CI)
promote(name, version, to=alias)            request a promotion: its gates run as a job
run_gates(promotion_id)                     the job: judge, store the decision, wait or move
approve / reject(promotion_id)              approvers' answers; the last approval needed moves
complete(promotion_id)                      move the alias once enough approvals are valid
waive(name, version, alias, gate)           let one failed gate through, for a time, with a reason
decision(id) / decisions / verify()         signed records; tampering is reported

A decision is HMAC-signed with the server's audit key (its own domain, so it never passes for an
audit row); the registry moves a protected alias only with a decision that verifies and passed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import orjson

from plimsoll.core.audit import AuditEntry
from plimsoll.core.auth.entities import Role
from plimsoll.core.capability import Parts
from plimsoll.core.changes import Change, changing
from plimsoll.core.errors import Conflict, GateFailed, InvalidParameter, NotFound, PermissionDenied
from plimsoll.core.ids import is_id, new_id, now_ms
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_int, check_name, check_text, printable
from plimsoll.gates import PROMOTION_JOB, store
from plimsoll.gates.entities import (
    MAX_GATE_NAME_LENGTH,
    Approval,
    DatasetEvidence,
    Decision,
    Evidence,
    GateResult,
    Promotion,
    StoredPolicy,
    Verification,
    Waiver,
    check_comment,
    verdict_of,
)
from plimsoll.gates.evaluate import NO_BASELINE, Baseline, evaluate
from plimsoll.gates.policy import Policy, parse_policy
from plimsoll.model_registry.entities import (
    DECISION_DOMAIN,
    ModelVersion,
    SignedDecision,
    check_alias,
    check_model_name,
    check_version,
)

HOUR_MS = 3_600_000
MAX_WAIVER_HOURS = 90 * 24
MAX_LIST = 500

# Where evidence comes from when a request brings none: `source(project, model, version)` returns
# the evidence document (the JSON shape of `Evidence.from_dict`) or None.
EvidenceSource = Callable[[str, str, int], Mapping[str, Any] | None]


def canonical(document: Mapping[str, Any]) -> str:
    """The exact text a decision's signature covers: JSON with sorted keys, no spaces."""
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS).decode()


class GateService:
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

    # -- policies ---------------------------------------------------------------------------------

    def set_policy(
        self, name: str, alias: str, text: str, *, project: str = DEFAULT_PROJECT, actor: str
    ) -> StoredPolicy:
        """The policy guarding promotions of model `name` to `alias`; it must parse, name this
        alias, and (if it names a model) this model."""
        check_model_name("name", name)
        check_alias("alias", alias)
        policy = self._parse_for(text, name, alias)
        self.registry.get_model(name, project=project)  # NotFound for a model that does not exist
        row = {
            "project": project,
            "model": name,
            "alias": alias,
            "text": text,
            "digest": policy.digest,
            "set_by": actor,
            "set_at": self.clock(),
        }
        with self._change(actor) as change:
            before = store.policy_row(change.conn, project, name, alias)
            store.put_policy(change.conn, row)
            change.audit(
                AuditEntry(
                    actor,
                    "gates.policy_set",
                    "gate_policy",
                    f"{project}:{name}@{alias}",
                    project,
                    None if before is None else {"digest": before["digest"]},
                    {"model": name, "alias": alias, "digest": policy.digest},
                )
            )
        return StoredPolicy.from_dict(row)

    def get_policy(self, name: str, alias: str, *, project: str = DEFAULT_PROJECT) -> StoredPolicy:
        check_name("project", project)
        check_model_name("name", name)
        check_alias("alias", alias)
        with self.db.read() as conn:
            row = store.policy_row(conn, project, name, alias)
        if row is None:
            raise NotFound(
                f"no release policy guards {name}@{alias} in project {project!r}: "
                f"set one with `plimsoll gates policy set {name} {alias} gates.yaml`"
            )
        return StoredPolicy.from_dict(dict(row))

    @staticmethod
    def _parse_for(text: str, name: str, alias: str, field: str = "policy") -> Policy:
        policy = parse_policy(text, field)
        if policy.alias != alias:
            raise InvalidParameter(field, f"guards alias {policy.alias!r}, not {alias!r}")
        if policy.model is not None and policy.model != name:
            raise InvalidParameter(field, f"is for model {policy.model!r}, not {name!r}")
        return policy

    # -- checks (CI) ------------------------------------------------------------------------------

    def check(
        self,
        model_ref: str,
        policy: str,
        evidence: Mapping[str, Any] | Evidence | None = None,
        *,
        project: str = DEFAULT_PROJECT,
        actor: str,
    ) -> Decision:
        """Run `policy`'s gates on a version now and store the signed decision: `passed` when no
        blocking gate failed (approvals are a promotion's business). `model_ref` is NAME/VERSION,
        NAME@ALIAS or NAME. Without `evidence`, the evidence recorded for the version is used."""
        check_name("project", project)
        parsed = parse_policy(policy)
        given = None if evidence is None else _evidence(evidence)
        version = self.registry.get_version(model_ref, project=project)
        if parsed.model is not None and parsed.model != version.name:
            raise InvalidParameter("policy", f"is for model {parsed.model!r}, not {version.name!r}")
        results, evidence_used, baseline = self._judge(project, version, parsed, given)
        decision = self._new_decision(
            "check", version, parsed, results, evidence_used, baseline, actor, approvals_missing=False
        )
        with self._change(actor) as change:
            self.projects.require_in(change.conn, project)
            signed = self._store_decision(change, decision)
            change.audit(_decision_audit(actor, "gates.check", signed))
        return signed

    # -- promotions -------------------------------------------------------------------------------

    def promote(
        self,
        name: str,
        version: int,
        *,
        to: str,
        comment: str = "",
        evidence: Mapping[str, Any] | Evidence | None = None,
        project: str = DEFAULT_PROJECT,
        actor: str,
    ) -> Promotion:
        """Request that alias `to` point at `version`: the alias's stored policy is copied into
        the request and its gates run as a background job (`run_gates`). One promotion of an alias
        is open at a time: a second request gets a Conflict naming the first."""
        check_model_name("name", name)
        check_version("version", version)
        check_alias("to", to)
        comment = check_comment("comment", comment)
        given = None if evidence is None else _evidence(evidence)
        target = self.registry.get_version(f"{name}/{version}", project=project)
        policy = self.get_policy(name, to, project=project)
        parsed = parse_policy(policy.text)
        if to in target.aliases:
            raise Conflict(f"{name}@{to} holds version {version} already: there is nothing to promote")
        promotion_id = new_id()
        row = {
            "id": promotion_id,
            "project": project,
            "model": name,
            "version": target.version,
            "alias": to,
            "status": "checking",
            "requested_by": actor,
            "requested_at": self.clock(),
            "comment": comment,
            "policy": policy.text,
            "evidence": None if given is None else canonical(given.to_dict()),
            "approvals_required": parsed.approvals.required,
            "decision_id": None,
            "job_id": None,
            "closed_by": None,
            "closed_at": None,
            "outcome": "",
        }
        with self._change(actor) as change:
            self.projects.require_in(change.conn, project)
            store.insert_promotion(change.conn, row)
            if not store.take_slot(change.conn, project, name, to, promotion_id):
                holder = store.slot_holder(change.conn, project, name, to)
                raise Conflict(
                    f"a promotion to {name}@{to} is already open ({holder}): it must end (promoted, "
                    "failed or rejected) before another starts",
                    details={"promotion": holder, "alias": to},
                )
            if self.jobs is not None:
                row["job_id"] = self.jobs.enqueue_in(
                    change.conn,
                    PROMOTION_JOB,
                    {"promotion": promotion_id},
                    dedupe_key=f"promotion:{promotion_id}",
                )
                store.update_promotion(change.conn, promotion_id, {"job_id": row["job_id"]})
            change.audit(
                AuditEntry(
                    actor,
                    "gates.promotion_requested",
                    "promotion",
                    promotion_id,
                    project,
                    None,
                    {"model": name, "version": version, "alias": to, "policy_digest": policy.digest},
                )
            )
            change.emit("promotion.requested", f"promotion:{promotion_id}", _event(row), project=project)
        if self.jobs is not None:
            self.jobs.wake_workers()
        return self.get_promotion(promotion_id)

    def run_gates(self, promotion_id: str) -> Promotion:
        """The promotion's job: judge its version against the policy it was requested under, store
        the signed decision, then end it (`failed`), wait for approvals (`awaiting_approval`), or,
        when none are required, move the alias. Running it again does nothing new."""
        promotion = self.get_promotion(promotion_id)
        if promotion.status != "checking":
            return promotion
        with self.db.read() as conn:
            row = store.promotion_row(conn, promotion_id)
        assert row is not None
        try:
            parsed = parse_policy(row["policy"])
            version = self.registry.get_version(promotion.ref, project=promotion.project)
            given = None if row["evidence"] is None else Evidence.from_dict(orjson.loads(row["evidence"]))
            results, evidence_used, baseline = self._judge(promotion.project, version, parsed, given)
        except (InvalidParameter, NotFound) as exc:
            return self._close(promotion_id, "failed", None, f"the gates could not run: {exc}")
        missing = parsed.approvals.required > 0
        decision = self._new_decision(
            "promotion",
            version,
            parsed,
            results,
            evidence_used,
            baseline,
            promotion.requested_by,
            approvals_missing=missing,
            promotion=promotion_id,
        )
        with self._change(promotion.requested_by) as change:
            locked = store.promotion_row(change.conn, promotion_id, lock=True)
            if locked is None or locked["status"] != "checking":
                return self.get_promotion(promotion_id)
            signed = self._store_decision(change, decision)
            values: dict[str, Any] = {"decision_id": signed.id}
            if signed.verdict == "failed":
                failures = "; ".join(f"{r.gate}: {r.reason}" for r in signed.blocking_failures)
                values |= {
                    "status": "failed",
                    "closed_at": self.clock(),
                    "outcome": f"gates failed: {failures}",
                }
                store.free_slot(change.conn, promotion_id)
            else:
                values["status"] = "awaiting_approval"
            store.update_promotion(change.conn, promotion_id, values)
            change.audit(_decision_audit(promotion.requested_by, "gates.decision", signed))
            change.emit(
                "promotion.decided",
                f"promotion:{promotion_id}",
                _decided(promotion, signed, values["status"]),
                project=promotion.project,
            )
        if signed.verdict == "passed":
            return self.complete(promotion_id, actor=promotion.requested_by)
        return self.get_promotion(promotion_id)

    def approve(self, promotion_id: str, *, comment: str = "", actor: str) -> Promotion:
        """An approver's approval, valid for the policy's `expires_after`. Refused (and nothing
        stored) for the version's author or the promotion's requester, for someone without the
        approver role or outside the policy's approvers, and unless the promotion awaits
        approvals. The approval that brings the valid ones to the number required moves the alias."""
        comment = check_comment("comment", comment)
        promotion = self.get_promotion(promotion_id)
        policy = self._policy_of(promotion_id)
        version = self.registry.get_version(promotion.ref, project=promotion.project)
        self._require_approver(promotion.project, actor, policy, version, requester=promotion.requested_by)
        now = self.clock()
        with self._change(actor) as change:
            locked = store.promotion_row(change.conn, promotion_id, lock=True)
            assert locked is not None
            if locked["status"] != "awaiting_approval":
                raise Conflict(
                    f"promotion {promotion_id} is {locked['status']}: only one awaiting approval can be approved",
                    details={"promotion": promotion_id, "status": locked["status"]},
                )
            expires = now + policy.approvals.expires_after_ms
            store.put_approval(
                change.conn,
                {
                    "promotion_id": promotion_id,
                    "approver": actor,
                    "comment": comment,
                    "approved_at": now,
                    "expires_at": expires,
                },
            )
            change.audit(
                AuditEntry(
                    actor,
                    "gates.approve",
                    "promotion",
                    promotion_id,
                    promotion.project,
                    None,
                    {
                        "model": promotion.model,
                        "version": promotion.version,
                        "alias": promotion.alias,
                        "comment": comment,
                        "expires_at": expires,
                    },
                )
            )
            change.emit(
                "promotion.approved",
                f"promotion:{promotion_id}",
                {**_ids(promotion), "approver": actor, "comment": comment, "expires_at": expires},
                project=promotion.project,
            )
        approved = self.get_promotion(promotion_id)
        if len(self._counting(approved.project, approved.approvals)) >= approved.approvals_required:
            return self.complete(promotion_id, actor=actor)
        return approved

    def reject(self, promotion_id: str, *, comment: str, actor: str) -> Promotion:
        """An approver ends an open promotion, saying why (the comment is required)."""
        comment = check_comment("comment", comment, required=True)
        promotion = self.get_promotion(promotion_id)
        self._require_role(promotion.project, actor, "reject a promotion")
        with self._change(actor) as change:
            locked = store.promotion_row(change.conn, promotion_id, lock=True)
            assert locked is not None
            if locked["status"] not in ("checking", "awaiting_approval"):
                raise Conflict(
                    f"promotion {promotion_id} is {locked['status']}: it has ended, there is nothing to reject",
                    details={"promotion": promotion_id, "status": locked["status"]},
                )
            if locked["decision_id"] is not None:
                decision = self._decision_in(change.conn, locked["decision_id"])
                self._resign(change, replace(decision, verdict="rejected", decided_at=self.clock()))
            store.update_promotion(
                change.conn,
                promotion_id,
                {"status": "rejected", "closed_by": actor, "closed_at": self.clock(), "outcome": comment},
            )
            store.free_slot(change.conn, promotion_id)
            change.audit(
                AuditEntry(
                    actor,
                    "gates.reject",
                    "promotion",
                    promotion_id,
                    promotion.project,
                    {"status": locked["status"]},
                    {"status": "rejected", "comment": comment},
                )
            )
            change.emit(
                "promotion.rejected",
                f"promotion:{promotion_id}",
                {**_ids(promotion), "rejected_by": actor, "comment": comment},
                project=promotion.project,
            )
        return self.get_promotion(promotion_id)

    def complete(self, promotion_id: str, *, actor: str) -> Promotion:
        """Move the alias of a promotion whose gates passed, once the approvals it needs are valid
        (not expired): the decision records them, its verdict becomes `passed`, it is signed again,
        and the registry moves the alias with it (an audit entry and `alias.moved` with it). A
        Conflict says which approvals are missing or expired, and nothing changes; if the alias
        moved since the gates ran, the promotion ends `conflicted`."""
        promotion = self.get_promotion(promotion_id)
        if promotion.status == "promoted":
            return promotion
        try:
            with self._change(actor) as change:
                locked = store.promotion_row(change.conn, promotion_id, lock=True)
                assert locked is not None
                if locked["status"] == "promoted":
                    return self.get_promotion(promotion_id)
                if locked["status"] != "awaiting_approval":
                    raise Conflict(
                        f"promotion {promotion_id} is {locked['status']}: only one whose gates passed can complete",
                        details={"promotion": promotion_id, "status": locked["status"]},
                    )
                decision = self._decision_in(change.conn, locked["decision_id"])
                if decision.integrity != "verified":
                    raise GateFailed(
                        f"decision {decision.id} does not verify ({decision.problem}): it was changed "
                        "outside Plimsoll; request the promotion again",
                        details={"decision": decision.id, "integrity": decision.integrity},
                    )
                now = self.clock()
                approvals = store.approval_rows(change.conn, [promotion_id]).get(promotion_id, [])
                every = [_approval(a) for a in approvals]
                valid = self._counting(promotion.project, every)
                if len(valid) < promotion.approvals_required:
                    raise Conflict(
                        _approvals_missing(promotion, every, valid, now),
                        details={
                            "promotion": promotion_id,
                            "valid": len(valid),
                            "required": promotion.approvals_required,
                        },
                    )
                passed = replace(
                    decision,
                    approvals=tuple(valid),
                    verdict=verdict_of(decision.results, approvals_missing=False),
                    decided_at=now,
                )
                signed = self._resign(change, passed)
                reason = f"promotion {promotion_id}" + (f": {promotion.comment}" if promotion.comment else "")
                self.registry.promote_in(change, _signed(signed), reason=reason)
                store.update_promotion(
                    change.conn,
                    promotion_id,
                    {
                        "status": "promoted",
                        "closed_by": actor,
                        "closed_at": now,
                        "outcome": "the alias moved",
                    },
                )
                store.free_slot(change.conn, promotion_id)
                change.audit(_decision_audit(actor, "gates.promoted", signed))
                change.emit(
                    "promotion.decided",
                    f"promotion:{promotion_id}",
                    _decided(promotion, signed, "promoted"),
                    project=promotion.project,
                )
        except Conflict as conflict:
            if conflict.details.get("decision") is not None:  # the alias moved since the gates ran
                self._close(promotion_id, "conflicted", actor, conflict.message)
            raise
        return self.get_promotion(promotion_id)

    def _close(self, promotion_id: str, status: str, actor: str | None, outcome: str) -> Promotion:
        with self._change(actor or "plimsoll") as change:
            locked = store.promotion_row(change.conn, promotion_id, lock=True)
            if locked is not None and locked["status"] in ("checking", "awaiting_approval"):
                store.update_promotion(
                    change.conn,
                    promotion_id,
                    {"status": status, "closed_by": actor, "closed_at": self.clock(), "outcome": outcome},
                )
                store.free_slot(change.conn, promotion_id)
                change.audit(
                    AuditEntry(
                        change.actor,
                        f"gates.promotion_{status}",
                        "promotion",
                        promotion_id,
                        locked["project"],
                        {"status": locked["status"]},
                        {"status": status, "outcome": outcome},
                    )
                )
        return self.get_promotion(promotion_id)

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
        actor: str,
    ) -> Waiver:
        """Let gate `gate` of `alias`'s policy through for `version` for the next `hours` (at most
        90 days): a failed gate then counts as `waived` in the gate runs before it expires. Needs a
        reason, and an approver (the actor) who is not the version's author."""
        check_model_name("name", name)
        check_version("version", version)
        check_alias("alias", alias)
        reason = check_comment("reason", reason, required=True)
        gate = check_text("gate", gate, max_length=MAX_GATE_NAME_LENGTH)
        if not gate:
            raise InvalidParameter("gate", "must name a gate of the alias's policy")
        check_int("hours", hours, minimum=1, maximum=MAX_WAIVER_HOURS)
        now = self.clock()
        target = self.registry.get_version(f"{name}/{version}", project=project)
        policy = parse_policy(self.get_policy(name, alias, project=project).text)
        if policy.gate(gate) is None:
            raise NotFound(
                f"the policy of {name}@{alias} has no gate {printable(gate)!r}; its gates are: "
                + ", ".join(g.name for g in policy.gates)
            )
        self._require_approver(project, actor, policy, target, requester=None, what="waive a gate of")
        row: dict[str, Any] = {
            "id": new_id(),
            "project": project,
            "model": name,
            "version": version,
            "alias": alias,
            "gate": gate,
            "reason": reason,
            "approver": actor,
            "created_at": now,
            "expires_at": now + hours * HOUR_MS,
        }
        with self._change(actor) as change:
            store.insert_waiver(change.conn, row)
            change.audit(
                AuditEntry(
                    actor,
                    "gates.waive",
                    "gate_waiver",
                    row["id"],
                    project,
                    None,
                    {k: row[k] for k in ("model", "version", "alias", "gate", "reason", "expires_at")},
                )
            )
        return Waiver.from_dict(row)

    def waivers(
        self,
        name: str,
        *,
        version: int | None = None,
        alias: str | None = None,
        project: str = DEFAULT_PROJECT,
    ) -> list[Waiver]:
        check_name("project", project)
        check_model_name("name", name)
        if version is not None:
            check_version("version", version)
        if alias is not None:
            check_alias("alias", alias)
        with self.db.read() as conn:
            rows = store.waiver_rows(conn, project, name, version, alias)
        return [Waiver.from_dict(dict(row)) for row in rows]

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

    def decision(self, decision_id: str) -> Decision:
        """A decision as stored, with `integrity` checked against its signature."""
        _check_id("decision_id", decision_id)
        with self.db.read() as conn:
            return self._decision_in(conn, decision_id)

    def decision_project(self, decision_id: str) -> str:
        _check_id("decision_id", decision_id)
        with self.db.read() as conn:
            row = store.decision_row(conn, decision_id)
        if row is None:
            raise NotFound(f"decision {decision_id!r} not found")
        return str(row["project"])

    def decisions(
        self,
        name: str | None = None,
        *,
        version: int | None = None,
        project: str = DEFAULT_PROJECT,
        limit: int = 100,
    ) -> list[Decision]:
        check_name("project", project)
        if name is not None:
            check_model_name("name", name)
        if version is not None:
            check_version("version", version)
        check_int("limit", limit, minimum=1, maximum=MAX_LIST)
        with self.db.read() as conn:
            rows = store.decision_rows(conn, project, name, version, limit=limit)
        return [self._read_decision(row) for row in rows]

    def verify(self, *, project: str = DEFAULT_PROJECT) -> Verification:
        """Check every decision of the project against its signature: how many were checked, and
        those that do not verify (changed outside Plimsoll, or signed with a key not held)."""
        check_name("project", project)
        checked = 0
        found: list[Decision] = []
        after: tuple[int, str] | None = None
        while True:
            with self.db.read() as conn:
                rows = store.decision_rows(conn, project, limit=MAX_LIST, after=after)
            checked += len(rows)
            found.extend(d for d in (self._read_decision(r) for r in rows) if d.integrity != "verified")
            if len(rows) < MAX_LIST:
                return Verification(project, checked, tuple(found))
            after = (int(rows[-1]["created_at"]), str(rows[-1]["id"]))

    # -- inside: judging --------------------------------------------------------------------------

    def _judge(
        self, project: str, version: ModelVersion, policy: Policy, given: Evidence | None
    ) -> tuple[list[GateResult], Evidence, Baseline]:
        evidence = (
            given if given is not None else self._recorded_evidence(project, version.name, version.version)
        )
        evidence = self._with_datasets(project, version, evidence)
        baseline = self._baseline(project, version.name, policy.alias)
        with self.db.read() as conn:
            rows = store.waiver_rows(conn, project, version.name, version.version, policy.alias)
        waivers = [Waiver.from_dict(dict(row)) for row in rows]
        results = evaluate(policy, evidence, baseline, waivers=waivers, now=self.clock())
        return results, evidence, baseline

    def _recorded_evidence(self, project: str, name: str, version: int) -> Evidence:
        for source in self._sources:
            found = source(project, name, version)
            if found is not None:
                evidence = Evidence.from_dict(dict(found))
                return replace(evidence, source=evidence.source or "evaluation")
        return Evidence(source="none")

    def _baseline(self, project: str, name: str, alias: str) -> Baseline:
        try:
            held = self.registry.get_version(f"{name}@{alias}", project=project)
        except NotFound:
            return NO_BASELINE
        label = f"{held.ref} ({alias})"
        for source in self._sources:
            found = source(project, name, held.version)
            if found is not None:
                return Baseline(held.version, Evidence.from_dict(dict(found)), label)
        with self.db.read() as conn:
            row = store.latest_decision_with_evidence(conn, project, name, held.version)
        if row is None:
            return Baseline(held.version, None, label)
        decision = self._read_decision(row)
        if decision.integrity != "verified" or not decision.evidence:
            return Baseline(held.version, None, label)
        recorded = {
            k: v
            for k, v in decision.evidence.items()
            if k not in ("outputs", "outputs_count", "outputs_digest", "source")
        }
        return Baseline(
            held.version, replace(Evidence.from_dict(recorded), source=f"decision:{decision.id}"), label
        )

    def _with_datasets(self, project: str, version: ModelVersion, evidence: Evidence) -> Evidence:
        """The evidence's dataset versions (and, when it names no training data, those the run
        that produced the version used, from the lineage graph), with their digests and validation
        states read from the dataset registry: never taken from the request."""
        refs = {role: found.ref for role, found in evidence.datasets.items()}
        for role, ref in self._lineage_datasets(project, version).items():
            refs.setdefault(role, ref)
        datasets: dict[str, DatasetEvidence] = {}
        for role, ref in refs.items():
            if self.data is None:
                datasets[role] = DatasetEvidence(ref)
                continue
            name, _, number = ref.partition("@")
            try:
                found = self.data.get_version(name, int(number), project=project)
            except (NotFound, InvalidParameter):  # a name no dataset can have is found nowhere either
                raise NotFound(
                    f"evidence.datasets.{role}: dataset version {ref!r} not found in project {project!r}"
                ) from None
            datasets[role] = DatasetEvidence(ref, found.digest, found.validation)
        return evidence.with_datasets(datasets)

    def _lineage_datasets(self, project: str, version: ModelVersion) -> dict[str, str]:
        if self.lineage is None or version.run_id is None:
            return {}
        try:
            graph = self.lineage.upstream(project, f"run:{version.run_id}", depth=1)
        except (NotFound, InvalidParameter):
            return {}
        run = f"run:{version.run_id}"
        used = {e.source: (e.context or "") for e in graph.edges if e.target == run and e.role == "used"}
        keys = {n.id: n.key for n in graph.nodes if n.kind == "dataset"}
        found: dict[str, str] = {}
        for role, contexts in (
            ("training", ("training",)),
            ("evaluation", ("evaluation", "test", "validation")),
        ):
            for context in contexts:
                match = sorted(
                    keys[node] for node, used_as in used.items() if used_as == context and node in keys
                )
                if match:
                    found[role] = match[0]
                    break
        if "training" not in found:
            unnamed = sorted(keys[node] for node, used_as in used.items() if not used_as and node in keys)
            if len(unnamed) == 1:
                found["training"] = unnamed[0]
        return found

    # -- inside: decisions ------------------------------------------------------------------------

    def _new_decision(
        self,
        purpose: str,
        version: ModelVersion,
        policy: Policy,
        results: list[GateResult],
        evidence: Evidence,
        baseline: Baseline,
        actor: str,
        *,
        approvals_missing: bool,
        promotion: str | None = None,
    ) -> Decision:
        now = self.clock()
        return Decision(
            id=new_id(),
            purpose=purpose,
            project=version.project,
            model=version.name,
            version=version.version,
            alias=policy.alias,
            baseline=baseline.version,
            policy_digest=policy.digest,
            model_digest=version.artifact_digest,
            data_digests={
                role: f"{found.ref} {found.digest or ''}".strip() for role, found in evidence.datasets.items()
            },
            results=tuple(results),
            waivers=(),
            approvals=(),
            approvals_required=policy.approvals.required,
            verdict=verdict_of(results, approvals_missing=approvals_missing),
            promotion=promotion,
            evidence=_recorded(evidence),
            baseline_evidence=None if baseline.evidence is None else (baseline.evidence.source or "decision"),
            created_by=actor,
            created_at=now,
            decided_at=now,
        )

    def _applied_waivers(self, conn: Any, decision: Decision) -> tuple[Waiver, ...]:
        ids = {r.waiver for r in decision.results if r.waiver}
        if not ids:
            return ()
        rows = store.waiver_rows(conn, decision.project, decision.model, decision.version, decision.alias)
        return tuple(Waiver.from_dict(dict(row)) for row in rows if row["id"] in ids)

    def _signature(self, decision: Decision) -> Decision:
        if self.keyring is None:
            raise AssertionError("release decisions need the audit key ring to sign them")
        key_id, signature = self.keyring.sign(DECISION_DOMAIN, canonical(decision.body()).encode())
        return replace(decision, key_id=key_id, signature=signature, integrity="verified", problem=None)

    def _store_decision(self, change: Change, decision: Decision) -> Decision:
        decision = replace(decision, waivers=self._applied_waivers(change.conn, decision))
        signed = self._signature(decision)
        store.insert_decision(change.conn, _decision_row(signed))
        return signed

    def _resign(self, change: Change, decision: Decision) -> Decision:
        signed = self._signature(decision)
        row = _decision_row(signed)
        row.pop("id")
        store.update_decision(change.conn, decision.id, row)
        return signed

    def _decision_in(self, conn: Any, decision_id: str) -> Decision:
        row = store.decision_row(conn, decision_id)
        if row is None:
            raise NotFound(f"decision {decision_id!r} not found")
        return self._read_decision(row)

    def _read_decision(self, row: Any) -> Decision:
        """The record as signed, with `integrity`: `tampered` when the signature does not cover the
        stored body, or a column disagrees with the body it was copied from."""
        body = row["body"]
        try:
            document = orjson.loads(body)
            decision = Decision.from_dict(document)
        except (orjson.JSONDecodeError, TypeError, KeyError, ValueError) as exc:
            return _unreadable(row, f"the stored record cannot be read: {exc}")
        decision = replace(decision, key_id=row["key_id"], signature=row["signature"])
        verified = self._check(row["key_id"], row["signature"], body)
        if verified is None:
            return replace(
                decision,
                integrity="unknown_key",
                problem=f"signed with key {row['key_id']}, which this server does not hold",
            )
        if not verified:
            return replace(
                decision, integrity="tampered", problem="the signature does not match the stored record"
            )
        if canonical(document) != body:
            return replace(
                decision, integrity="tampered", problem="the stored record is not in its signed form"
            )
        for column in ("id", "project", "model", "version", "alias", "purpose", "verdict", "created_at"):
            if row[column] != document.get(column):
                return replace(
                    decision,
                    integrity="tampered",
                    problem=f"column {column!r} holds {row[column]!r}, the signed record {document.get(column)!r}",
                )
        if row["promotion_id"] != document.get("promotion"):
            return replace(
                decision, integrity="tampered", problem="column 'promotion_id' differs from the signed record"
            )
        return decision

    def _check(self, key_id: str, signature: str, body: str) -> bool | None:
        if self.keyring is None:
            return None
        verified = self.keyring.check(DECISION_DOMAIN, key_id, signature, body.encode())
        if verified is None:  # a key another process added since: read the key file again
            verified = self.keyring.reloaded().check(DECISION_DOMAIN, key_id, signature, body.encode())
        return bool(verified) if verified is not None else None

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
        if policy.approvals.approvers and actor not in policy.approvals.approvers:
            raise PermissionDenied(
                f"{actor!r} is not among the approvers the policy of {version.name}@{policy.alias} names: "
                + ", ".join(policy.approvals.approvers)
            )

    def _change(self, actor: str) -> Any:
        return changing(self.db, self.events, actor)


def run_promotion_job(service: GateService, payload: Any, context: Any) -> dict[str, Any]:
    """The `gates.promotion` job: run one promotion's gates (safe to run again)."""
    promotion = service.run_gates(str(payload["promotion"]))
    return {"promotion": promotion.id, "status": promotion.status, "decision": promotion.decision}


# -- helpers ---------------------------------------------------------------------------------------


def _check_id(field: str, value: Any) -> str:
    if not isinstance(value, str) or not is_id(value):
        raise InvalidParameter(field, f"must be an id of 32 hex digits, got {printable(value)!r}")
    return value


def _evidence(value: Mapping[str, Any] | Evidence) -> Evidence:
    if isinstance(value, Evidence):
        return replace(value, source=value.source or "request")
    evidence = Evidence.from_dict(dict(value))
    return replace(evidence, source=evidence.source or "request")


def _recorded(evidence: Evidence) -> dict[str, Any]:
    """What a decision keeps of its evidence: everything but the outputs themselves (their number
    and digest instead; the safety results keep the failing ones' excerpts)."""
    from blake3 import blake3

    document = evidence.to_dict()
    outputs = document.pop("outputs")
    document["outputs_count"] = len(outputs)
    document["outputs_digest"] = blake3(canonical({"outputs": outputs}).encode()).hexdigest()
    return document


def _decision_row(decision: Decision) -> dict[str, Any]:
    return {
        "id": decision.id,
        "project": decision.project,
        "model": decision.model,
        "version": decision.version,
        "alias": decision.alias,
        "purpose": decision.purpose,
        "verdict": decision.verdict,
        "promotion_id": decision.promotion,
        "created_at": decision.created_at,
        "body": canonical(decision.body()),
        "key_id": decision.key_id,
        "signature": decision.signature,
    }


def _signed(decision: Decision) -> SignedDecision:
    return SignedDecision(decision.id, canonical(decision.body()), decision.key_id, decision.signature)


def _unreadable(row: Any, problem: str) -> Decision:
    return Decision(
        id=row["id"],
        purpose=row["purpose"],
        project=row["project"],
        model=row["model"],
        version=int(row["version"]),
        alias=row["alias"],
        baseline=None,
        policy_digest="",
        model_digest="",
        data_digests={},
        results=(),
        waivers=(),
        approvals=(),
        approvals_required=0,
        verdict=row["verdict"],
        promotion=row["promotion_id"],
        evidence={},
        baseline_evidence=None,
        created_by="",
        created_at=int(row["created_at"]),
        decided_at=int(row["created_at"]),
        key_id=row["key_id"],
        signature=row["signature"],
        integrity="tampered",
        problem=problem,
    )


def _decision_audit(actor: str, action: str, decision: Decision) -> AuditEntry:
    return AuditEntry(
        actor,
        action,
        "gate_decision",
        decision.id,
        decision.project,
        None,
        {
            "model": decision.model,
            "version": decision.version,
            "alias": decision.alias,
            "verdict": decision.verdict,
            "policy_digest": decision.policy_digest,
            "signature": decision.signature,
        },
    )


def _approval(row: Any) -> Approval:
    return Approval(row["approver"], row["comment"], int(row["approved_at"]), int(row["expires_at"]))


def _valid(approvals: tuple[Approval, ...] | list[Approval], now: int) -> list[Approval]:
    return [a for a in approvals if a.valid(now)]


def _approvals_missing(promotion: Promotion, every: list[Approval], valid: list[Approval], now: int) -> str:
    from datetime import UTC, datetime

    expired = [a for a in every if not a.valid(now)]
    message = (
        f"promotion {promotion.id} needs {promotion.approvals_required} valid approvals; it has {len(valid)}"
    )
    if expired:
        shown = ", ".join(
            f"{a.approver}'s expired at {datetime.fromtimestamp(a.expires_at / 1000, tz=UTC):%Y-%m-%d %H:%M}Z"
            for a in expired
        )
        message += f" ({shown}: approve again)"
    unheld = [a.approver for a in every if a.valid(now) and a not in valid]
    if unheld:
        message += f"; {', '.join(unheld)} no longer hold{'s' if len(unheld) == 1 else ''} the approver role"
    return message


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


def _ids(promotion: Promotion) -> dict[str, Any]:
    return {
        "promotion": promotion.id,
        "model": promotion.model,
        "version": promotion.version,
        "alias": promotion.alias,
        "project": promotion.project,
    }


def _event(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "promotion": row["id"],
        "model": row["model"],
        "version": row["version"],
        "alias": row["alias"],
        "project": row["project"],
        "requested_by": row["requested_by"],
        "comment": row["comment"],
    }


def _decided(promotion: Promotion, decision: Decision, status: str) -> dict[str, Any]:
    return {
        **_ids(promotion),
        "decision": decision.id,
        "verdict": decision.verdict,
        "status": status,
        "failed": [r.gate for r in decision.blocking_failures],
        "warnings": [r.gate for r in decision.warnings],
    }

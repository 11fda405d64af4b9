"""Promotions requested: the alias's policy copied into the request, one open per alias, and its
gates run as a job (`run_gates`, through `run_promotion_job`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from plimsoll.core.audit import AuditEntry
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.core.ids import new_id
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.gates import PROMOTION_JOB, store
from plimsoll.gates.entities import Evidence, Promotion, check_comment
from plimsoll.gates.policy import parse_policy
from plimsoll.gates.service.approvals import ApprovalOps, _decided
from plimsoll.gates.service.decisions import _decision_audit, canonical
from plimsoll.gates.service.judging import JudgingOps, _evidence
from plimsoll.gates.service.policies import PolicyOps
from plimsoll.model_registry.entities import check_alias, check_model_name, check_version


class PromotionOps(ApprovalOps, JudgingOps, PolicyOps):
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
        self.registry.require_alias_access(name, to, "request", actor, project=project)
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


def run_promotion_job(service: PromotionOps, payload: Any, context: Any) -> dict[str, Any]:
    """The `gates.promotion` job: run one promotion's gates (safe to run again)."""
    promotion = service.run_gates(str(payload["promotion"]))
    return {"promotion": promotion.id, "status": promotion.status, "decision": promotion.decision}


# -- helpers ---------------------------------------------------------------------------------------


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

"""Approvers' answers to a promotion whose gates passed (approve, reject), and its end: the alias
moved through the registry once enough approvals are valid (complete), or the promotion closed."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from plimsoll.core.audit import AuditEntry
from plimsoll.core.errors import Conflict, GateFailed
from plimsoll.gates import store
from plimsoll.gates.entities import Approval, Decision, Promotion, check_comment, verdict_of
from plimsoll.gates.service.base import _approval
from plimsoll.gates.service.decisions import DecisionOps, _decision_audit, canonical
from plimsoll.model_registry.entities import SignedDecision


class ApprovalOps(DecisionOps):
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


# -- helpers ---------------------------------------------------------------------------------------


def _signed(decision: Decision) -> SignedDecision:
    return SignedDecision(decision.id, canonical(decision.body()), decision.key_id, decision.signature)


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


def _ids(promotion: Promotion) -> dict[str, Any]:
    return {
        "promotion": promotion.id,
        "model": promotion.model,
        "version": promotion.version,
        "alias": promotion.alias,
        "project": promotion.project,
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

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

base          the service's parts, one way to write, promotions read back, who may approve
policies      set_policy, get_policy: the policy parsed for its model and alias
judging       check; a version's evidence, datasets and baseline; the gates' results as a decision
decisions     decision, decisions, verify; decisions signed, stored, signed again, read back
promotions    promote, run_gates and the job that runs them (run_promotion_job)
approvals     approve, reject, complete: approvers' answers, the alias moved, a promotion closed
waivers       waive, waivers
"""

from __future__ import annotations

from plimsoll.gates.service.approvals import ApprovalOps
from plimsoll.gates.service.base import MAX_LIST, EvidenceSource
from plimsoll.gates.service.decisions import DecisionOps, canonical
from plimsoll.gates.service.judging import JudgingOps
from plimsoll.gates.service.policies import PolicyOps
from plimsoll.gates.service.promotions import PromotionOps, run_promotion_job
from plimsoll.gates.service.waivers import HOUR_MS, MAX_WAIVER_HOURS, WaiverOps


class GateService(PromotionOps, ApprovalOps, JudgingOps, DecisionOps, WaiverOps, PolicyOps):
    """Policies, checks, promotions, approvals, waivers and signed decisions; built by the
    platform from its `Parts`."""


__all__ = [
    "HOUR_MS",
    "MAX_LIST",
    "MAX_WAIVER_HOURS",
    "EvidenceSource",
    "GateService",
    "canonical",
    "run_promotion_job",
]

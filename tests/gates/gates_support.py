"""What the gates tests share (imported by name; no conftest): model versions made from real runs,
approvers holding the approver role, a policy and evidence that pass it."""

from __future__ import annotations

from typing import Any

from plimsoll.core.auth.entities import Role
from plimsoll.model_registry.entities import ModelVersion
from plimsoll.platform import Platform

AUTHOR = "ada"  # registers the versions (and runs the runs that produce them)
REQUESTER = "cy"  # asks for promotions: a contributor
APPROVERS = ("bea", "dan")

POLICY = """\
model: churn
alias: production
approvals:
  required: 2
  expires_after: 1h
gates:
  - {name: auc, metric: roc_auc, min: 0.8}
  - {name: auc-change, metric: roc_auc, max_regression: 0.01}
  - {name: p95, latency: single_p99_ms, max: 40, severity: warning}
"""
NO_APPROVALS = POLICY.replace("  required: 2\n", "  required: 0\n")


def evidence(auc: float = 0.9, p95: float = 20.0) -> dict[str, Any]:
    return {"metrics": {"roc_auc": auc}, "latency": {"single_p99_ms": p95}}


def model_versions(platform: Platform, count: int, name: str = "churn") -> list[ModelVersion]:
    """`count` versions of `name`, each from its own run of AUTHOR's."""
    experiment = platform.tracking.get_or_create_experiment(name, actor=AUTHOR)
    made = []
    for number in range(count):
        run = platform.tracking.create_run(experiment.id, actor=AUTHOR)
        platform.tracking.log_artifact(
            run.id, "model/weights.bin", f"weights {number}".encode(), actor=AUTHOR
        )
        made.append(
            platform.model_registry.register_version(name, run_id=run.id, artifact_path="model", actor=AUTHOR)
        )
    return made


def people(platform: Platform) -> None:
    """AUTHOR and REQUESTER contributors, APPROVERS approvers, of the default project."""
    roles = [(AUTHOR, Role.CONTRIBUTOR), (REQUESTER, Role.CONTRIBUTOR)]
    roles += [(approver, Role.APPROVER) for approver in APPROVERS]
    for name, role in roles:
        platform.auth.create_user(name, actor="root")
        platform.auth.grant("default", name, role, actor="root")


def guarded(platform: Platform, policy: str = POLICY, versions: int = 2) -> list[ModelVersion]:
    """Versions of churn, its people, and `policy` guarding churn@production."""
    people(platform)
    made = model_versions(platform, versions)
    platform.gates.set_policy("churn", "production", policy, actor="root")
    return made

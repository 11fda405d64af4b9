"""Deployments: the rules, once.

deploy(name, "M@ALIAS", ...)           create or update a deployment (canary, shadow, sticky key, policy)
get / list / history                  deployments and their history lines
routing(project, name) -> Routing     what a model server replica polls (stable signature)
report_traffic(project, name, stats, replica)   what replicas report (stable signature)
traffic(name, since=, until=)         the reports added up per version and role
rollback / pause / resume             one call each
on_event(event)                       the `serving` consumer: alias.moved starts (or ends) a canary
roll_out()                            the `serving.rollout` job: analyse, advance, promote, roll back

base        parts and clock, rows read back, `_commit` (row, history line, audit entry, event)
deploying   deploy, reading, rollback/pause/resume, following the alias
rollout     traffic, the analysis and the rollout job
"""

from __future__ import annotations

from plimsoll.serving.service.rollout import RolloutOps, run_rollout


class DeploymentService(RolloutOps):
    """Deployments, their rollouts and their traffic; built by the platform from its `Parts`."""


__all__ = ["DeploymentService", "run_rollout"]

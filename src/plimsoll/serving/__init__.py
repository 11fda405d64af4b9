"""Deployments: a name and environment serving a model's stable version (by alias), an optional
canary taking a share of the requests and an optional shadow; a deployment that follows its alias
rolls each new holder out as a canary in steps, analysed every minute, rolled back automatically
on failure (the alias moved back under the same decision). docs/serving.md."""

from __future__ import annotations

from pathlib import Path

from plimsoll.core.capability import Capability, CliCommand, CliGroup, Consumer, JobKind, NavItem

ROLLOUT_JOB = "serving.rollout"

CAPABILITY = Capability(
    name="serving",
    title="Deployments",
    tables="plimsoll.serving.store:TABLES",
    migrations=Path(__file__).with_name("migrations"),
    service="plimsoll.serving.service:DeploymentService",
    router="plimsoll.serving.api:router",
    permissions="plimsoll.serving.permissions:PERMISSIONS",
    pages="plimsoll.server.ui.deployments:router",
    nav=(NavItem("Operate", "deployments", "Deployments", "/deployments"),),
    cli=(
        CliCommand("deploy", "plimsoll.cli.deployments:deploy"),
        CliCommand("serve", "plimsoll.cli.serve:serve"),
        CliGroup("deployments", "plimsoll.cli.deployments:app"),
    ),
    events="plimsoll.serving.events:EVENTS",
    # Every minute: each canary whose step has lasted its window is analysed and acted on.
    jobs=(
        JobKind(
            ROLLOUT_JOB,
            "plimsoll.serving.service:run_rollout",
            max_attempts=1,
            timeout_s=120,
            concurrency=1,
            schedule="* * * * *",
        ),
    ),
    # In work mode: each move of an alias starts (or ends) the canaries that follow it once.
    consumers=(Consumer("serving", "on_event", types=("alias.moved",)),),
)

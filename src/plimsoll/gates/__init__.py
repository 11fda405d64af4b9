"""Release gates as code: a YAML policy per model and alias, gate runs that store signed decision
records, and promotions enforced by the server (gates run as a job, approvals by approvers, then
the alias moves through the registry). docs/gates.md."""

from __future__ import annotations

from pathlib import Path

from plimsoll.core.capability import Capability, CliGroup, JobKind

PROMOTION_JOB = "gates.promotion"

CAPABILITY = Capability(
    name="gates",
    title="Release gates",
    tables="plimsoll.gates.store:TABLES",
    migrations=Path(__file__).with_name("migrations"),
    service="plimsoll.gates.service:GateService",
    router="plimsoll.gates.api:router",
    permissions="plimsoll.gates.permissions:PERMISSIONS",
    # The approvers' forms on a model version's page (the page itself is the registry's).
    pages="plimsoll.server.ui.promotions:router",
    cli=(CliGroup("gates", "plimsoll.cli.gates:app"),),
    events="plimsoll.gates.events:EVENTS",
    jobs=(
        # Judging is quick (the evidence is measured already); a few attempts cover a restart.
        JobKind(PROMOTION_JOB, "plimsoll.gates.service:run_promotion_job", max_attempts=3, timeout_s=600),
    ),
)

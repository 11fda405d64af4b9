"""Monitoring: what a model saw and said in production (predictions, later labels and business
outcomes) logged from anywhere a model runs, stored as Parquet segments indexed by model version,
deployment, role and day, and read through DuckDB; monitors that compare each window of an
alias's traffic with a reference and publish what breaks their rules; batch scoring
(`plimsoll score`), which predicts a whole dataset version and logs it the same way.
docs/monitoring.md."""

from __future__ import annotations

from pathlib import Path

from plimsoll.core.capability import Capability, CliCommand, CliGroup, JobKind, NavItem

CAPABILITY = Capability(
    name="monitoring",
    title="Monitoring",
    tables="plimsoll.monitoring.store:TABLES",
    migrations=Path(__file__).with_name("migrations"),
    service="plimsoll.monitoring.service:MonitoringService",
    router="plimsoll.monitoring.api:router",
    permissions="plimsoll.monitoring.permissions:PERMISSIONS",
    events="plimsoll.monitoring.events:EVENTS",
    pages="plimsoll.server.ui.monitors:router",
    nav=(NavItem("Operate", "monitors", "Monitors", "/monitors"),),
    cli=(
        CliGroup("monitors", "plimsoll.cli.monitors:app"),
        CliCommand("score", "plimsoll.cli.scoring:score"),
    ),
    blobs="referenced_blobs",
    jobs=(
        # One monitor's due windows; a window is stored whole or not at all, so a rerun is safe.
        JobKind(
            "monitoring.run",
            "plimsoll.monitoring.service.checking:run_monitor_job",
            max_attempts=3,
            timeout_s=3600,
        ),
        # Queues the runs that are due and finds stale monitors; quick, and the next one is a minute away.
        JobKind(
            "monitoring.tick",
            "plimsoll.monitoring.service.checking:tick_job",
            max_attempts=1,
            timeout_s=60,
            concurrency=1,
            schedule="* * * * *",
        ),
    ),
)

"""Monitoring: what a model saw and said in production (predictions, later labels and business
outcomes) logged from anywhere a model runs, stored as Parquet segments indexed by model version,
deployment, role and day, and read through DuckDB; batch scoring (`plimsoll score`), which
predicts a whole dataset version and logs it the same way. docs/monitoring.md."""

from __future__ import annotations

from pathlib import Path

from plimsoll.core.capability import Capability, CliCommand

CAPABILITY = Capability(
    name="monitoring",
    title="Monitoring",
    tables="plimsoll.monitoring.store:TABLES",
    migrations=Path(__file__).with_name("migrations"),
    service="plimsoll.monitoring.service:MonitoringService",
    router="plimsoll.monitoring.api:router",
    permissions="plimsoll.monitoring.permissions:PERMISSIONS",
    events="plimsoll.monitoring.events:EVENTS",
    cli=(CliCommand("score", "plimsoll.cli.scoring:score"),),
    blobs="referenced_blobs",
)

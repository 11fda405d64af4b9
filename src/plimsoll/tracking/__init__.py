"""Experiment tracking: experiments, runs, params, metrics, tags, artifacts, code and environment."""

from __future__ import annotations

from plimsoll.core.capability import Capability, CliGroup, JobKind, NavItem

PRUNE_BATCH_IDS_JOB = "tracking.prune_batch_ids"

CAPABILITY = Capability(
    name="tracking",
    title="Experiment tracking",
    tables="plimsoll.tracking.store:TABLES",
    service="plimsoll.tracking.service:TrackingService",
    router="plimsoll.tracking.api:router",
    permissions="plimsoll.tracking.permissions:PERMISSIONS",
    pages="plimsoll.server.ui.routes:router",
    nav=(
        NavItem("Track", "experiments", "Experiments", "/experiments"),
        NavItem("Track", "runs", "Runs", "/runs"),
    ),
    cli=(
        CliGroup("experiments", "plimsoll.cli.experiments:app"),
        CliGroup("runs", "plimsoll.cli.runs:app"),
    ),
    events="plimsoll.tracking.events:EVENTS",
    blobs="referenced_blobs",
    retention="purge_expired",
    jobs=(
        # Batch ids are kept a week for retries (BATCH_ID_RETENTION_MS); one row per batch, so a
        # busy server prunes them every hour, not only when garbage is collected.
        JobKind(
            PRUNE_BATCH_IDS_JOB,
            "plimsoll.tracking.service.runs:prune_batch_ids_job",
            max_attempts=3,
            timeout_s=600.0,
            concurrency=1,
            schedule="41 * * * *",
        ),
    ),
)

"""Experiment tracking: experiments, runs, params, metrics, tags, artifacts, code and environment."""

from __future__ import annotations

from plimsoll.core.capability import Capability, CliGroup, NavItem

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
)

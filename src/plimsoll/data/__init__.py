"""Datasets: versions of files and tables, content-addressed, profiled, by copy or by reference."""

from __future__ import annotations

from pathlib import Path

from plimsoll.core.capability import Capability, CliGroup, NavItem

CAPABILITY = Capability(
    name="data",
    title="Datasets",
    tables="plimsoll.data.store:TABLES",
    migrations=Path(__file__).with_name("migrations"),
    service="plimsoll.data.service:DatasetService",
    router="plimsoll.data.api:router",
    permissions="plimsoll.data.permissions:PERMISSIONS",
    pages="plimsoll.server.ui.datasets:router",
    nav=(NavItem("Data", "datasets", "Datasets", "/datasets"),),
    cli=(CliGroup("data", "plimsoll.cli.data:app"),),
    events="plimsoll.data.events:EVENTS",
    blobs="referenced_blobs",
)

"""Lineage: the graph of what was made from what (dataset versions, runs, model versions,
deployments, and the kinds later capabilities add), recorded by the other capabilities through its
service and walked with recursive SQL. docs/lineage.md."""

from __future__ import annotations

from pathlib import Path

from plimsoll.core.capability import Capability, CliGroup, NavItem

CAPABILITY = Capability(
    name="lineage",
    title="Lineage",
    tables="plimsoll.lineage.store:TABLES",
    migrations=Path(__file__).with_name("migrations"),
    service="plimsoll.lineage.service:LineageService",
    router="plimsoll.lineage.api:router",
    permissions="plimsoll.lineage.permissions:PERMISSIONS",
    pages="plimsoll.server.ui.lineage:router",
    nav=(NavItem("Data", "lineage", "Lineage", "/lineage", rank=1),),
    cli=(CliGroup("lineage", "plimsoll.cli.lineage:app"),),
)

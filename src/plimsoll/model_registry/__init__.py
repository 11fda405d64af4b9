"""The model registry: models, their numbered versions (from runs' artifacts, nodes of the lineage
graph), and aliases per environment with an append-only history. docs/registry.md."""

from __future__ import annotations

from pathlib import Path

from plimsoll.core.capability import Capability, CliGroup, NavItem

CAPABILITY = Capability(
    name="model_registry",
    title="Models",
    tables="plimsoll.model_registry.store:TABLES",
    migrations=Path(__file__).with_name("migrations"),
    service="plimsoll.model_registry.service:RegistryService",
    router="plimsoll.model_registry.api:router",
    permissions="plimsoll.model_registry.permissions:PERMISSIONS",
    pages="plimsoll.server.ui.models:router",
    nav=(NavItem("Release", "models", "Models", "/models"),),
    cli=(CliGroup("models", "plimsoll.cli.models:app"),),
    events="plimsoll.model_registry.events:EVENTS",
)

"""The model registry: models, their numbered versions (from runs' artifacts, nodes of the lineage
graph), and aliases per environment with an append-only history. docs/registry.md."""

from __future__ import annotations

from pathlib import Path

from plimsoll.core.capability import Capability

CAPABILITY = Capability(
    name="registry",
    title="Models",
    tables="plimsoll.registry.store:TABLES",
    migrations=Path(__file__).with_name("migrations"),
    service="plimsoll.registry.service:RegistryService",
    router="plimsoll.registry.api:router",
    permissions="plimsoll.registry.permissions:PERMISSIONS",
    events="plimsoll.registry.events:EVENTS",
)

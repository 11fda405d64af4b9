"""The list every loop of the platform walks: server routes, migrations, permissions, the UI
navigation, the CLI. Adding a capability is its package and one line here.

`PLATFORM` are the platform's own parts, described the same way so that one loop serves all;
`CAPABILITIES` are the product's capabilities, in dependency order (a capability's service may use
the services listed before it). The web UI's navigation shows exactly the entries these
descriptors bring, in the order of `NAV_SECTIONS`.
"""

from __future__ import annotations

from plimsoll import (
    data,
    evaluation,
    feature_registry,
    gates,
    incidents,
    lineage,
    model_registry,
    monitoring,
    serving,
    tracking,
)
from plimsoll.core import audit, auth, projects, webhooks
from plimsoll.core.capability import Capability, CliGroup, NavItem

PLATFORM: tuple[Capability, ...] = (
    projects.CAPABILITY,
    audit.CAPABILITY,
    auth.CAPABILITY,
    Capability(
        name="events",
        title="Events",
        tables="plimsoll.core.outbox.store:TABLES",
        router="plimsoll.core.outbox.api:router",
        permissions="plimsoll.core.outbox.permissions:PERMISSIONS",
        cli=(CliGroup("events", "plimsoll.cli.events:app"),),
    ),
    Capability(
        name="jobs",
        title="Background jobs",
        tables="plimsoll.core.jobs.store:TABLES",
        router="plimsoll.core.jobs.api:router",
        permissions="plimsoll.core.jobs.permissions:PERMISSIONS",
        events="plimsoll.core.jobs.events:EVENTS",
        pages="plimsoll.server.ui.jobs:router",
        nav=(NavItem("Operate", "jobs", "Jobs", "/jobs"),),
        cli=(CliGroup("jobs", "plimsoll.cli.jobs:app"),),
    ),
    webhooks.CAPABILITY,
)

CAPABILITIES: tuple[Capability, ...] = (
    tracking.CAPABILITY,
    lineage.CAPABILITY,
    data.CAPABILITY,
    feature_registry.CAPABILITY,
    model_registry.CAPABILITY,
    evaluation.CAPABILITY,
    gates.CAPABILITY,
    monitoring.CAPABILITY,
    incidents.CAPABILITY,
    serving.CAPABILITY,
)

ALL: tuple[Capability, ...] = PLATFORM + CAPABILITIES

NAV_SECTIONS = ("Track", "Data", "Release", "Operate", "Admin")


# The events the next capabilities will publish, reserved now so that each can rely on the others.
# Their payloads are objects until the capability that publishes them registers its schema.
RESERVED_EVENTS: tuple[str, ...] = (
    "dataset.version_registered",
    "dataset.validated",
    "model.version_registered",
    "alias.moved",
    "promotion.requested",
    "promotion.approved",
    "promotion.rejected",
    "promotion.decided",
    "deployment.changed",
    "rollout.advanced",
    "rollout.rolled_back",
    "pipeline_run.started",
    "pipeline_run.ended",
)

"""Features: definitions registered once (name, dtype, inputs, the transformation's source and its
hash) and used alike in training and at serving; skew checks of training against serving values."""

from __future__ import annotations

from pathlib import Path

from plimsoll.core.capability import Capability, CliGroup, NavItem

CAPABILITY = Capability(
    name="feature_registry",
    title="Features",
    tables="plimsoll.feature_registry.store:TABLES",
    migrations=Path(__file__).with_name("migrations"),
    service="plimsoll.feature_registry.service:FeatureService",
    router="plimsoll.feature_registry.api:router",
    permissions="plimsoll.feature_registry.permissions:PERMISSIONS",
    pages="plimsoll.server.ui.features:router",
    nav=(NavItem("Data", "features", "Features", "/features"),),
    cli=(CliGroup("features", "plimsoll.cli.features:app"),),
    events="plimsoll.feature_registry.events:EVENTS",
    blobs="referenced_blobs",
)

"""Projects: the namespace every record lives in, and the unit of roles. `default` always exists."""

from __future__ import annotations

from plimsoll.core.capability import Capability

DEFAULT_PROJECT = "default"

CAPABILITY = Capability(
    name="projects",
    title="Projects",
    tables="plimsoll.core.projects.store:TABLES",
    router="plimsoll.core.projects.api:router",
    permissions="plimsoll.core.projects.permissions:PERMISSIONS",
    events="plimsoll.core.projects.events:EVENTS",
)

"""Users, API tokens and roles per project; the guard in front of every route."""

from __future__ import annotations

from plimsoll.core.capability import Capability, CliGroup

CAPABILITY = Capability(
    name="auth",
    title="Users, tokens and roles",
    tables="plimsoll.core.auth.store:TABLES",
    router="plimsoll.core.auth.api:router",
    permissions="plimsoll.core.auth.permissions:PERMISSIONS",
    events="plimsoll.core.auth.events:EVENTS",
    retention="purge_expired",
    cli=(
        CliGroup("users", "plimsoll.cli.users:users_app"),
        CliGroup("tokens", "plimsoll.cli.users:tokens_app"),
        CliGroup("roles", "plimsoll.cli.users:roles_app"),
    ),
)

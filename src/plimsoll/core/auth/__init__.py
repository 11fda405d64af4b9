"""Users, API tokens and roles per project; the guard in front of every route."""

from __future__ import annotations

from plimsoll.core.capability import Capability, CliGroup, NavItem

CAPABILITY = Capability(
    name="auth",
    title="Users, tokens and roles",
    tables="plimsoll.core.auth.store:TABLES",
    router="plimsoll.core.auth.api:router",
    permissions="plimsoll.core.auth.permissions:PERMISSIONS",
    pages="plimsoll.server.ui.account:router",
    nav=(
        NavItem("Admin", "users", "Users", "/admin/users", site_admin=True),
        NavItem("Admin", "tokens", "API tokens", "/admin/tokens", site_admin=True),
        NavItem("Admin", "service-accounts", "Service accounts", "/admin/service-accounts", site_admin=True),
    ),
    events="plimsoll.core.auth.events:EVENTS",
    retention="purge_expired",
    cli=(
        CliGroup("users", "plimsoll.cli.users:users_app"),
        CliGroup("tokens", "plimsoll.cli.users:tokens_app"),
        CliGroup("roles", "plimsoll.cli.users:roles_app"),
    ),
)

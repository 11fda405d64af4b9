"""Who may follow events: a project's viewers, its events; anyone signed in, the catalog."""

from __future__ import annotations

from plimsoll.core.auth.permissions import AUTHENTICATED, PROJECT_QUERY, Permission, read

PERMISSIONS = (
    Permission("GET", "/api/v1/events", read(PROJECT_QUERY)),
    Permission("GET", "/api/v1/events/types", AUTHENTICATED),
)

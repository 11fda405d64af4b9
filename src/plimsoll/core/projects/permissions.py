"""Who may list and create projects."""

from __future__ import annotations

from plimsoll.core.auth.permissions import AUTHENTICATED, SITE_ADMIN, Permission

PERMISSIONS = (
    Permission("GET", "/api/v1/projects", AUTHENTICATED),
    Permission("POST", "/api/v1/projects", SITE_ADMIN),
)

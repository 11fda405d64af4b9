"""Who may manage webhooks: site admins only. A subscription sees events of every project, and its
URL and deliveries say where they go, so no project role is enough."""

from __future__ import annotations

from plimsoll.core.auth.permissions import SITE_ADMIN, Permission

_WEBHOOKS = "/api/v1/webhooks"

PERMISSIONS = (
    Permission("GET", _WEBHOOKS, SITE_ADMIN),
    Permission("POST", _WEBHOOKS, SITE_ADMIN),
    Permission("GET", f"{_WEBHOOKS}/{{webhook_id}}", SITE_ADMIN),
    Permission("DELETE", f"{_WEBHOOKS}/{{webhook_id}}", SITE_ADMIN),
    Permission("POST", f"{_WEBHOOKS}/{{webhook_id}}/test", SITE_ADMIN),
    Permission("GET", f"{_WEBHOOKS}/{{webhook_id}}/deliveries", SITE_ADMIN),
)

"""Who may see and handle background jobs. Jobs belong to no project: reading them (the JSON API
and the pages) needs a role in some project; retrying and cancelling one, a site admin."""

from __future__ import annotations

from plimsoll.core.auth.permissions import SITE_ADMIN, SOME_PROJECT, Permission

_API = "/api/v1"

PERMISSIONS = (
    Permission("GET", f"{_API}/jobs", SOME_PROJECT),
    Permission("GET", f"{_API}/jobs/schedules", SOME_PROJECT),
    Permission("GET", f"{_API}/jobs/{{job_id}}", SOME_PROJECT),
    Permission("POST", f"{_API}/jobs/{{job_id}}/retry", SITE_ADMIN),
    Permission("POST", f"{_API}/jobs/{{job_id}}/cancel", SITE_ADMIN),
    # The web UI's pages (plimsoll.server.ui.jobs).
    Permission("GET", "/jobs", SOME_PROJECT),
    Permission("GET", "/jobs/{job_id}", SOME_PROJECT),
)

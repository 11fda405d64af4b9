"""Who may see and change deployments: a viewer of the project reads them (their routing and
traffic too), a contributor deploys, rolls back, pauses, resumes and reports traffic (a model
server replica's token is a contributor's). The project is the `?project=` of every route. The
web UI's pages (plimsoll.server.ui.deployments) the same: read by a viewer, their rollback, pause
and resume forms posted by a contributor, the project named by `?project=` in the form's address."""

from __future__ import annotations

from plimsoll.core.auth.permissions import PROJECT_QUERY, Permission, read, write

_API = "/api/v1/deployments"
_ONE = f"{_API}/{{name}}"

PERMISSIONS = (
    Permission("GET", _API, read(PROJECT_QUERY)),
    Permission("GET", _ONE, read(PROJECT_QUERY)),
    Permission("PUT", _ONE, write(PROJECT_QUERY)),
    Permission("GET", f"{_ONE}/history", read(PROJECT_QUERY)),
    Permission("POST", f"{_ONE}/rollback", write(PROJECT_QUERY)),
    Permission("POST", f"{_ONE}/pause", write(PROJECT_QUERY)),
    Permission("POST", f"{_ONE}/resume", write(PROJECT_QUERY)),
    Permission("GET", f"{_ONE}/routing", read(PROJECT_QUERY)),
    Permission("GET", f"{_ONE}/traffic", read(PROJECT_QUERY)),
    Permission("POST", f"{_ONE}/traffic", write(PROJECT_QUERY)),
    Permission("GET", "/deployments", read(PROJECT_QUERY)),
    Permission("GET", "/deployments/{name}", read(PROJECT_QUERY)),
    Permission("POST", "/deployments/{name}/rollback", write(PROJECT_QUERY)),
    Permission("POST", "/deployments/{name}/pause", write(PROJECT_QUERY)),
    Permission("POST", "/deployments/{name}/resume", write(PROJECT_QUERY)),
)

"""Lineage's permission rows: a walk is read by the project's viewers, an edge added by its
contributors. The graph is per project (an edge joins two nodes of one project), so the project
the request names is every project it touches."""

from __future__ import annotations

from plimsoll.core.auth.permissions import PROJECT_BODY, PROJECT_QUERY, Permission, read, write

_API = "/api/v1/lineage"

PERMISSIONS = (
    Permission("GET", f"{_API}/upstream", read(PROJECT_QUERY)),
    Permission("GET", f"{_API}/downstream", read(PROJECT_QUERY)),
    Permission("GET", f"{_API}/impact", read(PROJECT_QUERY)),
    Permission("GET", f"{_API}/openlineage", read(PROJECT_QUERY)),
    Permission("POST", f"{_API}/edges", write(PROJECT_BODY)),
    # The web UI's page (plimsoll.server.ui.lineage).
    Permission("GET", "/lineage", read(PROJECT_QUERY)),
)

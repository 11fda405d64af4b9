"""The features capability's permission rows: reads need a viewer of the project, registering a
definition and storing a skew check a contributor. The project is the request's `?project=` or the
body's `project`; a feature (or a check) is found by name (or id) inside it, so no other resolver
is needed: one of another project is not found."""

from __future__ import annotations

from plimsoll.core.auth.permissions import PROJECT_BODY, PROJECT_QUERY, Permission, read, write

_API = "/api/v1/features"
_CHECKS = "/api/v1/skew-checks"

PERMISSIONS = (
    Permission("GET", _API, read(PROJECT_QUERY)),
    Permission("POST", _API, write(PROJECT_BODY)),
    Permission("GET", f"{_API}/{{name}}/versions", read(PROJECT_QUERY)),
    Permission("GET", f"{_API}/{{name}}/versions/{{version}}", read(PROJECT_QUERY)),
    Permission("GET", _CHECKS, read(PROJECT_QUERY)),
    Permission("POST", _CHECKS, write(PROJECT_BODY)),
    Permission("GET", f"{_CHECKS}/{{check_id}}", read(PROJECT_QUERY)),
    # The web UI's pages (plimsoll.server.ui.features).
    Permission("GET", "/features", read(PROJECT_QUERY)),
    Permission("GET", "/features/{name}", read(PROJECT_QUERY)),
)

"""Monitoring's permission rows: logging rows and recording a batch scoring need a contributor of
the project (a service account, typically), reading them a viewer; making, changing and running
monitors a contributor, reading their windows (and their pages) a viewer. The project is the request's `?project=`
(a scoring's or a monitor change's: its body's `project`)."""

from __future__ import annotations

from plimsoll.core.auth.permissions import PROJECT_BODY, PROJECT_QUERY, Permission, read, write

_API = "/api/v1/monitoring"
_MONITORS = "/api/v1/monitors"

PERMISSIONS = (
    Permission("POST", f"{_API}/predictions", write(PROJECT_QUERY)),
    Permission("POST", f"{_API}/labels", write(PROJECT_QUERY)),
    Permission("POST", f"{_API}/outcomes", write(PROJECT_QUERY)),
    Permission("GET", f"{_API}/{{kind}}/rows", read(PROJECT_QUERY)),
    Permission("GET", f"{_API}/{{kind}}/segments", read(PROJECT_QUERY)),
    Permission("GET", f"{_API}/metrics", read(PROJECT_QUERY)),
    Permission("POST", _MONITORS, write(PROJECT_BODY)),
    Permission("GET", _MONITORS, read(PROJECT_QUERY)),
    Permission("GET", f"{_MONITORS}/{{name}}", read(PROJECT_QUERY)),
    Permission("DELETE", f"{_MONITORS}/{{name}}", write(PROJECT_QUERY)),
    Permission("PUT", f"{_MONITORS}/{{name}}/rules", write(PROJECT_BODY)),
    Permission("POST", f"{_MONITORS}/{{name}}/run", write(PROJECT_BODY)),
    Permission("POST", f"{_MONITORS}/{{name}}/backfill", write(PROJECT_BODY)),
    Permission("POST", f"{_MONITORS}/{{name}}/check", write(PROJECT_BODY)),
    Permission("GET", f"{_MONITORS}/{{name}}/windows", read(PROJECT_QUERY)),
    Permission("GET", f"{_MONITORS}/{{name}}/merged", read(PROJECT_QUERY)),
    Permission("GET", f"{_MONITORS}/{{name}}/distribution", read(PROJECT_QUERY)),
    Permission("POST", f"{_API}/scorings", write(PROJECT_BODY)),
    # The web UI's pages (plimsoll.server.ui.monitors): a viewer of the project.
    Permission("GET", "/monitors", read(PROJECT_QUERY)),
    Permission("GET", "/monitors/{name}", read(PROJECT_QUERY)),
)

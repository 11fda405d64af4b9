"""Monitoring's permission rows: logging rows and recording a batch scoring need a contributor of
the project (a service account, typically), reading them a viewer. The project is the request's
`?project=` (a scoring's: its body's `project`)."""

from __future__ import annotations

from plimsoll.core.auth.permissions import PROJECT_BODY, PROJECT_QUERY, Permission, read, write

_API = "/api/v1/monitoring"

PERMISSIONS = (
    Permission("POST", f"{_API}/predictions", write(PROJECT_QUERY)),
    Permission("POST", f"{_API}/labels", write(PROJECT_QUERY)),
    Permission("POST", f"{_API}/outcomes", write(PROJECT_QUERY)),
    Permission("GET", f"{_API}/{{kind}}/rows", read(PROJECT_QUERY)),
    Permission("GET", f"{_API}/{{kind}}/segments", read(PROJECT_QUERY)),
    Permission("POST", f"{_API}/scorings", write(PROJECT_BODY)),
)

"""The evaluation capability's permission rows: reads need a viewer of the project, storing an
evaluation a contributor. The project is the request's `?project=` or the body's `project`; an
evaluation is found by id inside it, so one of another project is not found."""

from __future__ import annotations

from plimsoll.core.auth.permissions import PROJECT_BODY, PROJECT_QUERY, Permission, read, write

_API = "/api/v1/evaluations"

PERMISSIONS = (
    Permission("GET", _API, read(PROJECT_QUERY)),
    Permission("POST", _API, write(PROJECT_BODY)),
    Permission("GET", f"{_API}/compare", read(PROJECT_QUERY)),
    Permission("GET", f"{_API}/{{evaluation_id}}", read(PROJECT_QUERY)),
)

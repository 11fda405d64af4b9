"""The data capability's permission rows: reads need a viewer of the project, registrations
(and the uploads that precede them) a contributor, deleting a version an admin. The project is the request's `?project=` or the
body's `project`; a dataset is found by name inside it, so no other resolver is needed."""

from __future__ import annotations

from plimsoll.core.auth.permissions import PROJECT_BODY, PROJECT_QUERY, Permission, admin, read, write

_API = "/api/v1/datasets"
_VERSION = f"{_API}/{{name}}/versions/{{version}}"

PERMISSIONS = (
    Permission("GET", _API, read(PROJECT_QUERY)),
    Permission("POST", _API, write(PROJECT_BODY)),
    Permission("POST", f"{_API}/blobs/missing", write(PROJECT_BODY)),
    Permission("PUT", f"{_API}/blobs/{{digest}}", write(PROJECT_QUERY)),
    Permission("GET", f"{_API}/{{name}}/versions", read(PROJECT_QUERY)),
    Permission("GET", _VERSION, read(PROJECT_QUERY)),
    # Deleting data is for the project's admins: its contents may then be collected for good.
    Permission("DELETE", _VERSION, admin(PROJECT_QUERY)),
    Permission("GET", f"{_VERSION}/files", read(PROJECT_QUERY)),
    Permission("GET", f"{_VERSION}/files/{{path:path}}", read(PROJECT_QUERY)),
    Permission("GET", f"{_VERSION}/profile", read(PROJECT_QUERY)),
    Permission("POST", f"{_VERSION}/validations", write(PROJECT_BODY)),
    Permission("GET", f"{_VERSION}/validations", read(PROJECT_QUERY)),
    Permission("POST", f"{_VERSION}/readers", write(PROJECT_BODY)),
    Permission("POST", f"{_VERSION}/writers", write(PROJECT_BODY)),
    # The web UI's pages (plimsoll.server.ui.datasets).
    Permission("GET", "/datasets", read(PROJECT_QUERY)),
    Permission("GET", "/datasets/{name}", read(PROJECT_QUERY)),
    Permission("GET", "/datasets/{name}/diff", read(PROJECT_QUERY)),
)

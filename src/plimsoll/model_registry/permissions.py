"""The registry's permission rows: reads need a viewer of the project, registering and moving an
alias a contributor; protecting an alias, approving a version's skops types and trusting its
pickle an admin; its web pages the same. The project is the request's `?project=` or the body's
`project`; a model is found by name inside it."""

from __future__ import annotations

from plimsoll.core.auth.permissions import PROJECT_BODY, PROJECT_QUERY, Permission, admin, read, write

_API = "/api/v1/models"
_MODEL = f"{_API}/{{name}}"
_ALIAS = f"{_MODEL}/aliases/{{alias}}"

PERMISSIONS = (
    Permission("GET", _API, read(PROJECT_QUERY)),
    Permission("POST", _API, write(PROJECT_BODY)),
    Permission("GET", _MODEL, read(PROJECT_QUERY)),
    Permission("PATCH", _MODEL, write(PROJECT_BODY)),
    Permission("POST", f"{_MODEL}/versions", write(PROJECT_BODY)),
    Permission("GET", f"{_MODEL}/versions", read(PROJECT_QUERY)),
    Permission("GET", f"{_MODEL}/versions/{{version}}", read(PROJECT_QUERY)),
    # What a version may load (skops types beyond the defaults, a pickle) is for the project's admins.
    Permission("PUT", f"{_MODEL}/versions/{{version}}/approved-types", admin(PROJECT_BODY)),
    Permission("PUT", f"{_MODEL}/versions/{{version}}/trust", admin(PROJECT_BODY)),
    Permission("GET", f"{_MODEL}/aliases", read(PROJECT_QUERY)),
    Permission("GET", _ALIAS, read(PROJECT_QUERY)),
    Permission("PUT", _ALIAS, write(PROJECT_BODY)),
    Permission("DELETE", _ALIAS, write(PROJECT_QUERY)),
    Permission("POST", f"{_ALIAS}/rollback", write(PROJECT_BODY)),
    # Protection decides who may move an alias at all: the project's admins set it.
    Permission("PUT", f"{_ALIAS}/protection", admin(PROJECT_BODY)),
    Permission("PUT", f"{_ALIAS}/access", admin(PROJECT_BODY)),
    Permission("GET", f"{_ALIAS}/access", read(PROJECT_QUERY)),
    Permission("GET", f"{_ALIAS}/history", read(PROJECT_QUERY)),
    # The web UI's pages (plimsoll.server.ui.models); the rollback form posts as the API's route
    # does: a contributor of the project, named by `?project=` in the form's address.
    Permission("GET", "/models", read(PROJECT_QUERY)),
    Permission("GET", "/models/{name}", read(PROJECT_QUERY)),
    Permission("GET", "/models/{name}/versions/{version}", read(PROJECT_QUERY)),
    Permission("POST", "/models/{name}/aliases/{alias}/rollback", write(PROJECT_QUERY)),
)

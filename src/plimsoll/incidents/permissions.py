"""Who may see and handle alerts, silences, inhibition rules and incidents.

Reading needs a viewer of the project; acknowledging, resolving, noting and silencing a
contributor; inhibition rules (configuration) an admin. A record found by id brings its project.
The platform's own alerts and incidents (audit, webhooks, jobs) belong to no project: they concern
every one, so they need the role in every project (in practice a site admin), and a listing asks
for them with `?platform=true` (a body with `"platform": true`).
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from plimsoll.core.auth.permissions import (
    Permission,
    Resolving,
    Resource,
    Scope,
    admin,
    json_object,
    read,
    string,
    write,
)
from plimsoll.core.errors import InvalidParameter
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import printable


def _of(resolving: Resolving, project: str | None, kind: str, record: str | None = None) -> set[Resource]:
    if project is not None:
        return {Resource(project, kind, record)}
    return {Resource(name, kind, record) for name in resolving.projects.list()} or {Resource(DEFAULT_PROJECT)}


def _flag(value: Any) -> bool:
    """`?platform=` read exactly as the route reads it (pydantic's bool), so that the guard and
    the route never disagree on which records a request asks for."""
    if value is None:
        return False
    try:
        return bool(_BOOL.validate_python(value))
    except ValidationError:
        raise InvalidParameter("platform", f"must be true or false, got {printable(value)!r}") from None


_BOOL = TypeAdapter(bool)


def _query(resolving: Resolving) -> set[Resource]:
    query = resolving.facts.query
    if _flag(query.get("platform")):
        return _of(resolving, None, "project")
    return {Resource(query.get("project", DEFAULT_PROJECT))}


def _body(resolving: Resolving) -> set[Resource]:
    body = json_object("body", resolving.facts.body)
    if body.get("platform") is True:  # the route takes JSON's true only (`Flag`)
        return _of(resolving, None, "project")
    return {Resource(string("project", body.get("project", DEFAULT_PROJECT)))}


def _record(kind: str, parameter: str, project_of: str) -> Scope:
    def resolve(resolving: Resolving) -> set[Resource]:
        record = string(parameter, resolving.facts.path_params.get(parameter))
        return _of(resolving, getattr(resolving.service, project_of)(record), kind, record)

    return Scope(
        kind, f"the project of the `{{{parameter}}}` {kind} (every project for the platform's)", resolve
    )


SCOPE_QUERY = Scope(
    "alerts_query", "`?project=` (default `default`), or every project with `?platform=true`", _query
)
SCOPE_BODY = Scope(
    "alerts_body",
    'the JSON body\'s `project` (default `default`), or every project with `"platform": true`',
    _body,
    needs_body=True,
)
ALERT = _record("alert", "alert_id", "alert_project")
SILENCE = _record("silence", "silence_id", "silence_project")
INHIBITION = _record("inhibition", "inhibition_id", "inhibition_project")
INCIDENT = _record("incident", "incident_id", "incident_project")

_API = "/api/v1"
_INCIDENT = f"{_API}/incidents/{{incident_id}}"

PERMISSIONS = (
    Permission("GET", f"{_API}/alerts", read(SCOPE_QUERY)),
    Permission("GET", f"{_API}/alerts/{{alert_id}}", read(ALERT)),
    Permission("POST", f"{_API}/alerts/{{alert_id}}/resolve", write(ALERT)),
    Permission("GET", f"{_API}/silences", read(SCOPE_QUERY)),
    Permission("POST", f"{_API}/silences", write(SCOPE_BODY)),
    Permission("GET", f"{_API}/silences/{{silence_id}}", read(SILENCE)),
    Permission("POST", f"{_API}/silences/{{silence_id}}/expire", write(SILENCE)),
    Permission("GET", f"{_API}/inhibitions", read(SCOPE_QUERY)),
    Permission("POST", f"{_API}/inhibitions", admin(SCOPE_BODY)),
    Permission("DELETE", f"{_API}/inhibitions/{{inhibition_id}}", admin(INHIBITION)),
    Permission("GET", f"{_API}/incidents", read(SCOPE_QUERY)),
    Permission("GET", _INCIDENT, read(INCIDENT)),
    Permission("GET", f"{_INCIDENT}/timeline", read(INCIDENT)),
    Permission("POST", f"{_INCIDENT}/acknowledge", write(INCIDENT)),
    Permission("POST", f"{_INCIDENT}/resolve", write(INCIDENT)),
    Permission("POST", f"{_INCIDENT}/notes", write(INCIDENT)),
    # The web UI's pages and forms (plimsoll.server.ui.incidents).
    Permission("GET", "/alerts", read(SCOPE_QUERY)),
    Permission("GET", "/alerts/{alert_id}", read(ALERT)),
    Permission("POST", "/silences", write(SCOPE_QUERY)),
    Permission("POST", "/silences/{silence_id}/expire", write(SILENCE)),
    Permission("GET", "/incidents", read(SCOPE_QUERY)),
    Permission("GET", "/incidents/{incident_id}", read(INCIDENT)),
    Permission("POST", "/incidents/{incident_id}/acknowledge", write(INCIDENT)),
    Permission("POST", "/incidents/{incident_id}/resolve", write(INCIDENT)),
    Permission("POST", "/incidents/{incident_id}/notes", write(INCIDENT)),
)

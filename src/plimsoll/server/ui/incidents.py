"""The alerts' and incidents' pages.

`/alerts` (a project's alerts, or the platform's with `?platform=true`, filtered by state; each
marked silenced or inhibited; the silences in force, with a form to add one and buttons to end
one), `/alerts/{alert_id}` (one alert: labels, annotations, its history, a silence form filled
with its labels), `/incidents` (the incidents, unresolved first by default) and
`/incidents/{incident_id}` (one incident: owner, its alerts, notes, the forms to acknowledge,
note and resolve, and its timeline drawn as a vertical list). The forms post to `/silences`,
`/silences/{id}/expire` and `/incidents/{id}/acknowledge|resolve|notes`; a refusal comes back as
the page with the message beside the form, a success as a redirect with a notice. Forms are shown
to those the permission table lets post them (plimsoll.incidents.permissions)."""

from __future__ import annotations

from typing import Annotated, Any, cast

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from plimsoll.core.auth.api import user_of
from plimsoll.core.errors import Conflict, InvalidParameter
from plimsoll.core.http import actor_of
from plimsoll.core.ids import now_ms
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.incidents.entities import ALERT_STATES, INCIDENT_STATES, Alert
from plimsoll.incidents.service import IncidentService
from plimsoll.server.ui import views
from plimsoll.server.ui.pages import PageRoute, allowed, render

SILENCE_ROUTE = "/silences"
EXPIRE_ROUTE = "/silences/{silence_id}/expire"
INCIDENT_ROUTE = "/incidents/{incident_id}"
NOTICES = {
    "silenced": "Silenced. The matching alerts stay listed, marked silenced, and are not announced.",
    "expired": "The silence has ended: what it held back is announced now.",
    "acknowledged": "Acknowledged: the incident shows you are on it.",
    "noted": "Note added to the timeline.",
    "resolved": "Resolved. A monitor's alert that fires again opens a new incident.",
}
# The labels a silence made from an alert matches on: what identifies it, severity left out.
SILENCE_LABELS = (
    "alertname",
    "model",
    "alias",
    "version",
    "monitor",
    "segment_column",
    "segment_value",
    "source",
    "webhook",
    "job_kind",
)
MAX_FORM_HOURS = 24 * 366
FORM_ERRORS = (InvalidParameter, Conflict)

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _service(request: Request) -> IncidentService:
    return cast(IncidentService, request.app.state.platform.service("incidents"))


def _platform(value: str) -> bool:
    return value.lower() in ("1", "on", "t", "true", "y", "yes")


def _may(request: Request, method: str, route: str, project: str | None) -> bool:
    """Whether the forms posting `route` are shown: the permission row's role in the project, or
    (a platform record) in every project."""
    if project is not None:
        return allowed(request, method, route, project)
    platform = request.app.state.platform
    if not platform.settings.auth:
        return True
    user = user_of(request)
    if user is None:
        return False
    return bool(user.is_admin) or all(
        allowed(request, method, route, name) for name in platform.projects.list()
    )


def _scope_url(path: str, project: str | None, **params: str) -> str:
    if project is None:
        return views.url(path, platform="true", **params)
    return views.url(path, project=project, **params)


# -- alerts ----------------------------------------------------------------------------------------


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(
    request: Request, project: str = DEFAULT_PROJECT, platform: str = "", state: str = ""
) -> HTMLResponse:
    return _alerts_page(request, None if _platform(platform) else project, state)


def _alerts_page(
    request: Request,
    project: str | None,
    state: str,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    service = _service(request)
    name, platform = project or DEFAULT_PROJECT, project is None
    if state and state not in ALERT_STATES:
        raise InvalidParameter("state", f"must be among {list(ALERT_STATES)}, got {state!r}")
    alerts = service.list_alerts(state=state or None, limit=500, project=name, platform=platform)
    silences = service.list_silences(limit=100, project=name, platform=platform)
    silences = [s for s in silences if s.state(service.clock()) != "expired"]
    context = {
        "active": "alerts",
        "project": project,
        "state": state,
        "states": [s for s in ALERT_STATES],
        "alerts": alerts,
        "counts": {s: sum(1 for a in alerts if a.state == s) for s in ALERT_STATES},
        "silences": silences,
        "now": service.clock(),
        "may_silence": _may(request, "POST", SILENCE_ROUTE, project),
        "may_expire": _may(request, "POST", EXPIRE_ROUTE, project),
        "state_url": lambda s: _scope_url("/alerts", project, state=s),
        "silence_action": _scope_url(SILENCE_ROUTE, project),
        "expire_url": lambda silence_id: EXPIRE_ROUTE.format(silence_id=silence_id),
        "scope_links": _scope_links(request, "/alerts", project),
        "notice": NOTICES.get(request.query_params.get("notice", "")),
        "errors": errors or {},
        "form": form or {},
    }
    return render(request, "alerts.html", context, status_code=status)


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(request: Request, alert_id: str) -> HTMLResponse:
    service = _service(request)
    alert = service.get_alert(alert_id)
    context = {
        "active": "alerts",
        "alert": alert,
        "project": alert.project,
        "now": service.clock(),
        "alerts_url": _scope_url("/alerts", alert.project),
        "incident_url": None if alert.incident is None else INCIDENT_ROUTE.format(incident_id=alert.incident),
        "may_silence": _may(request, "POST", SILENCE_ROUTE, alert.project),
        "silence_action": _scope_url(SILENCE_ROUTE, alert.project),
        "matchers": "\n".join(f"{k}={v}" for k, v in _silencing(alert)),
        "errors": {},
        "form": {},
    }
    return render(request, "alert.html", context)


def _silencing(alert: Alert) -> list[tuple[str, str]]:
    return [(key, alert.labels[key]) for key in SILENCE_LABELS if alert.labels.get(key)]


@router.post(SILENCE_ROUTE, response_model=None)
def create_silence(
    request: Request,
    project: str = DEFAULT_PROJECT,
    platform: str = "",
    matchers: Annotated[str, Form()] = "",
    hours: Annotated[str, Form()] = "",
    comment: Annotated[str, Form()] = "",
) -> Response:
    scope: str | None = None if _platform(platform) else project
    lines = [line.strip() for line in matchers.splitlines() if line.strip()]
    try:
        _service(request).create_silence(
            lines,
            duration_s=_seconds(hours),
            comment=comment,
            project=project,
            platform=scope is None,
            actor=actor_of(request),
        )
    except InvalidParameter as error:
        form = {"matchers": matchers, "hours": hours, "comment": comment}
        return _alerts_page(request, scope, "", errors={"silence": str(error.message)}, form=form, status=400)
    return RedirectResponse(_scope_url("/alerts", scope, notice="silenced") + "#silences", status_code=303)


def _seconds(hours: str) -> int:
    try:
        seconds = round(float(hours) * 3600)
    except ValueError:
        seconds = 0
    if not 0 < seconds <= MAX_FORM_HOURS * 3600:
        raise InvalidParameter("hours", f"must be a number of hours above 0 and at most {MAX_FORM_HOURS}")
    return seconds


@router.post(EXPIRE_ROUTE, response_model=None)
def expire_silence(request: Request, silence_id: str) -> Response:
    service = _service(request)
    silence = service.get_silence(silence_id)
    try:
        service.expire_silence(silence_id, actor=actor_of(request))
    except FORM_ERRORS as error:
        return _alerts_page(
            request, silence.project, "", errors={silence_id: str(error.message)}, status=error.status
        )
    return RedirectResponse(
        _scope_url("/alerts", silence.project, notice="expired") + "#silences", status_code=303
    )


def _scope_links(request: Request, path: str, project: str | None) -> list[dict[str, Any]]:
    """The project's page and the platform's, for the switch at the top."""
    shown = project or DEFAULT_PROJECT
    return [
        {"label": f"Project {shown}", "href": views.url(path, project=shown), "current": project is not None},
        {"label": "Platform", "href": views.url(path, platform="true"), "current": project is None},
    ]


# -- incidents -------------------------------------------------------------------------------------


@router.get("/incidents", response_class=HTMLResponse)
def incidents_page(
    request: Request, project: str = DEFAULT_PROJECT, platform: str = "", state: str = "unresolved"
) -> HTMLResponse:
    scope: str | None = None if _platform(platform) else project
    service = _service(request)
    chosen = None if state in ("", "all") else state
    found = service.list_incidents(project=project, platform=scope is None, state=chosen, limit=500)
    context = {
        "active": "incidents",
        "project": scope,
        "state": state,
        "states": ["unresolved", *INCIDENT_STATES, "all"],
        "incidents": found,
        "state_url": lambda s: _scope_url("/incidents", scope, state=s),
        "scope_links": _scope_links(request, "/incidents", scope),
    }
    return render(request, "incidents.html", context)


@router.get(INCIDENT_ROUTE, response_class=HTMLResponse)
def incident_page(request: Request, incident_id: str) -> HTMLResponse:
    return _incident_page(request, incident_id)


def _incident_page(
    request: Request,
    incident_id: str,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    service = _service(request)
    incident = service.get_incident(incident_id)
    timeline = service.timeline(incident_id)
    base = INCIDENT_ROUTE.format(incident_id=incident.id)
    context = {
        "active": "incidents",
        "incident": incident,
        "project": incident.project,
        "timeline": timeline,
        "now": now_ms(),
        "incidents_url": _scope_url("/incidents", incident.project),
        "may_act": _may(request, "POST", f"{INCIDENT_ROUTE}/acknowledge", incident.project),
        "acknowledge_url": f"{base}/acknowledge",
        "resolve_url": f"{base}/resolve",
        "note_url": f"{base}/notes",
        "model_url": None
        if not incident.model or incident.project is None
        else views.url(f"/models/{incident.model}", project=incident.project),
        "notice": NOTICES.get(request.query_params.get("notice", "")),
        "errors": errors or {},
        "form": form or {},
    }
    return render(request, "incident.html", context, status_code=status)


@router.post(INCIDENT_ROUTE + "/acknowledge", response_model=None)
def acknowledge(request: Request, incident_id: str, comment: Annotated[str, Form()] = "") -> Response:
    return _act(
        request,
        incident_id,
        "acknowledged",
        lambda s, actor: s.acknowledge(incident_id, comment=comment, actor=actor),
        {"comment": comment},
    )


@router.post(INCIDENT_ROUTE + "/resolve", response_model=None)
def resolve(request: Request, incident_id: str, comment: Annotated[str, Form()] = "") -> Response:
    return _act(
        request,
        incident_id,
        "resolved",
        lambda s, actor: s.resolve(incident_id, comment=comment, actor=actor),
        {"resolution": comment},
    )


@router.post(INCIDENT_ROUTE + "/notes", response_model=None)
def note(request: Request, incident_id: str, text: Annotated[str, Form()] = "") -> Response:
    return _act(
        request,
        incident_id,
        "noted",
        lambda s, actor: s.add_note(incident_id, text, actor=actor),
        {"text": text},
    )


def _act(request: Request, incident_id: str, notice: str, action: Any, form: dict[str, str]) -> Response:
    service = _service(request)
    service.get_incident(incident_id)  # an unknown incident is the 404 page, not a form error
    try:
        action(service, actor_of(request))
    except FORM_ERRORS as error:
        return _incident_page(
            request, incident_id, errors={notice: str(error.message)}, form=form, status=error.status
        )
    page = views.url(INCIDENT_ROUTE.format(incident_id=incident_id), notice=notice)
    return RedirectResponse(page, status_code=303)

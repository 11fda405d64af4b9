"""The deployments' pages: `/deployments` (a project's deployments: environment, the model alias
each serves, its state, its versions and weights, its last change, and its requests and error
rate over the last hour) and `/deployments/{name}` (one deployment: its versions and weights, the
rollout's steps with the current one, time in step against the analysis window and the checks of
the last analysis, request-rate and latency charts per version and role, its history, and the
forms to roll back, pause and resume). The forms post to `/deployments/{name}/rollback|pause|resume`
(a contributor of the project, as the API's routes: plimsoll.serving.permissions) and are shown to
those the permission table lets post them; a refusal comes back as the page with the message
beside the form, a success as a redirect with a notice. What the page shows is shaped in
deployment_view.py; its charts are drawn by static/deployment.js with uPlot."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, cast
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.core.http import actor_of
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_text
from plimsoll.server.ui import deployment_view, views
from plimsoll.server.ui.models import model_path, version_path
from plimsoll.server.ui.pages import PageRoute, allowed, render
from plimsoll.serving.entities import Deployment
from plimsoll.serving.service import DeploymentService

DEPLOYMENT_ROUTE = "/deployments/{name}"
ROLLBACK_ROUTE = f"{DEPLOYMENT_ROUTE}/rollback"
PAUSE_ROUTE = f"{DEPLOYMENT_ROUTE}/pause"
RESUME_ROUTE = f"{DEPLOYMENT_ROUTE}/resume"
HOUR_MS = 3_600_000
BUCKET_S = 60  # the charts' resolution
HOURS = (1, 6, 24)  # the charts' spans a page offers
DEFAULT_HOURS = 6
HISTORY_SHOWN = 200
FORM_ERRORS = (InvalidParameter, Conflict)
MAX_REASON = 2000
# What the page says after an action (`?notice=`): a fixed sentence, never text from the query.
NOTICES = {
    "rolled-back": "Rolled back. The history below records who, when and why; replicas switch within seconds.",
    "paused": "Paused. The canary keeps its share until the rollout is resumed or rolled back.",
    "resumed": "Resumed. The current step is analysed again after its window.",
}

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _service(request: Request) -> DeploymentService:
    return cast(DeploymentService, request.app.state.platform.service("serving"))


def deployment_path(name: str) -> str:
    return f"/deployments/{quote(name, safe='')}"


@router.get("/deployments", response_class=HTMLResponse)
def deployments_page(request: Request, project: str = DEFAULT_PROJECT) -> HTMLResponse:
    service = _service(request)
    now = service.clock()
    rows = []
    for deployment in service.list(project=project):
        history = service.history(deployment.name, project=project, limit=1)
        traffic = service.traffic(deployment.name, since=now - HOUR_MS, until=now, project=project)
        rows.append(
            {
                "deployment": deployment,
                "state": deployment_view.state_of(deployment),
                "shares": deployment_view.shares(deployment),
                "last": history[0] if history else None,
                "actor": deployment_view.actor_label(history[0].actor) if history else None,
                "traffic": deployment_view.totals(traffic),
                "url": views.url(deployment_path(deployment.name), project=project),
                "model_url": views.url(model_path(deployment.model), project=project),
            }
        )
    context = {"active": "deployments", "project": project, "rows": rows}
    return render(request, "deployments.html", context)


@router.get(DEPLOYMENT_ROUTE, response_class=HTMLResponse)
def deployment_page(
    request: Request, name: str, project: str = DEFAULT_PROJECT, hours: str = ""
) -> HTMLResponse:
    """`?hours=1|6|24`: the span of the traffic charts (6 by default)."""
    return _deployment_page(request, name, project, hours=_hours(hours))


def _hours(text: str) -> int:
    if not text:
        return DEFAULT_HOURS
    if text not in {str(h) for h in HOURS}:
        raise InvalidParameter(
            "hours", f"must be one of {', '.join(str(h) for h in HOURS)}, got {text[:40]!r}"
        )
    return int(text)


def _deployment_page(
    request: Request,
    name: str,
    project: str,
    *,
    hours: int = DEFAULT_HOURS,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    service = _service(request)
    deployment = service.get(name, project=project)
    history = service.history(name, project=project, limit=HISTORY_SHOWN)
    now = service.clock()
    since = now - hours * HOUR_MS
    traffic = service.traffic(name, since=since, until=now, bucket_s=BUCKET_S, project=project)
    last = deployment_view.last_analysis(history)
    page = deployment_path(name)
    decision_url = _decision_links(request, deployment)
    context: dict[str, Any] = {
        "active": "deployments",
        "project": project,
        "deployment": deployment,
        "state": deployment_view.state_of(deployment),
        "shares": deployment_view.shares(deployment),
        "steps": deployment_view.steps_of(deployment),
        "step_time": deployment_view.step_time(deployment, now),
        "analysis_line": last,
        "analysis": None if last is None else last.analysis,
        "checks": deployment_view.check_rows(deployment, None if last is None else last.analysis),
        "history": deployment_view.history_rows(history),
        "charts": deployment_view.traffic_charts(traffic, since, now, BUCKET_S * 1000),
        "totals": deployment_view.totals(traffic),
        "hours": hours,
        "hour_choices": HOURS,
        "hours_url": lambda h: views.url(page, project=project, hours=str(h)),
        "model_url": views.url(model_path(deployment.model), project=project),
        "version_url": lambda v: views.url(version_path(deployment.model, v), project=project),
        "decision_url": decision_url,
        "lineage_url": views.url("/lineage", project=project, node=f"deployment:{deployment.name}"),
        "may_change": allowed(request, "POST", ROLLBACK_ROUTE, project),
        "rollback_url": views.url(f"{page}/rollback", project=project),
        "pause_url": views.url(f"{page}/pause", project=project),
        "resume_url": views.url(f"{page}/resume", project=project),
        "project_flag": "" if project == DEFAULT_PROJECT else f" --project {project}",
        "now": now,
        "notice": NOTICES.get(request.query_params.get("notice", "")),
        "errors": errors or {},
        "form": form or {},
    }
    return render(request, "deployment.html", context, status_code=status)


def _decision_links(request: Request, deployment: Deployment) -> Callable[[str], str | None]:
    """A release decision's place: the gates UI shows each on its version's page, at
    `#decision-ID` (None when the platform has no gates, or the decision is not found)."""
    gates = request.app.state.platform.services.get("gates")
    found: dict[str, str | None] = {}

    def link(decision_id: str) -> str | None:
        if gates is None or not decision_id:
            return None
        if decision_id not in found:
            try:
                decision = gates.decision(decision_id)
            except (NotFound, InvalidParameter):
                found[decision_id] = None
            else:
                if decision.project != deployment.project:
                    found[decision_id] = None
                else:
                    page = views.url(version_path(decision.model, decision.version), project=decision.project)
                    found[decision_id] = f"{page}#decision-{quote(decision_id, safe='')}"
        return found[decision_id]

    return link


@router.post(ROLLBACK_ROUTE, response_model=None)
def rollback(
    request: Request, name: str, project: str = DEFAULT_PROJECT, reason: Annotated[str, Form()] = ""
) -> Response:
    """A reason is required here: the history is read in an incident, and "why" is the first
    question."""

    def act(service: DeploymentService, actor: str) -> None:
        if not reason.strip():
            raise InvalidParameter("reason", "say why: the deployment's history keeps it")
        service.rollback(name, reason=reason.strip(), project=project, actor=actor)

    return _act(request, name, project, "rolled-back", act, reason)


@router.post(PAUSE_ROUTE, response_model=None)
def pause(
    request: Request, name: str, project: str = DEFAULT_PROJECT, reason: Annotated[str, Form()] = ""
) -> Response:
    def act(service: DeploymentService, actor: str) -> None:
        service.pause(name, reason=reason.strip(), project=project, actor=actor)

    return _act(request, name, project, "paused", act, reason)


@router.post(RESUME_ROUTE, response_model=None)
def resume(
    request: Request, name: str, project: str = DEFAULT_PROJECT, reason: Annotated[str, Form()] = ""
) -> Response:
    def act(service: DeploymentService, actor: str) -> None:
        service.resume(name, reason=reason.strip(), project=project, actor=actor)

    return _act(request, name, project, "resumed", act, reason)


def _act(
    request: Request,
    name: str,
    project: str,
    notice: str,
    action: Callable[[DeploymentService, str], None],
    reason: str,
) -> Response:
    # What no form on the page can send (text no database stores, a reason past its limit) is the
    # 400 page, before anything is looked up; then an unknown deployment is the 404 page.
    check_text("reason", reason, max_length=MAX_REASON)
    service = _service(request)
    service.get(name, project=project)
    try:
        action(service, actor_of(request))
    except FORM_ERRORS as error:
        return _deployment_page(
            request,
            name,
            project,
            errors={notice: _message(error)},
            form={"action": notice, "reason": reason},
            status=error.status,
        )
    page = views.url(deployment_path(name), project=project, notice=notice)
    return RedirectResponse(f"{page}#actions", status_code=303)


def _message(error: InvalidParameter | Conflict) -> str:
    message = str(error.message)
    if isinstance(error, InvalidParameter) and message.startswith(f"{error.field}: "):
        return message[len(error.field) + 2 :]
    return message

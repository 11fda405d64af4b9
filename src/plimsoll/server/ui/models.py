"""The model registry's pages: `/models` (a project's models: latest version, the aliases and the
version each holds, owners), `/models/{name}` (its versions, its aliases, and a timeline of every
alias's moves) and `/models/{name}/versions/{version}` (one version: its run, artifact, the aliases
it holds, its evaluations with their charts, and the release gates' decisions and promotions). An
alias is rolled back from the model's page by a form (`POST /models/{name}/aliases/{alias}/rollback`),
and a promotion approved or rejected from the version's page (`POST /promotions/{id}/approve`,
`.../reject`: the gates capability's routes, plimsoll.server.ui.promotions), each form shown to
those the permission table lets post it. Each page asks the services and renders one template; the
timeline's data is shaped here (`alias_timeline`) and drawn by static/models.js with ECharts, the
evaluation's and the gates' in model_evidence.py (drawn by static/model-evaluation.js)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, cast
from urllib.parse import quote

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.core.http import actor_of
from plimsoll.core.ids import now_ms
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.model_registry.entities import OWNER_ROLES, AliasMove, ModelVersion, check_alias, check_reason
from plimsoll.model_registry.service import RegistryService
from plimsoll.server.ui import model_evidence, views
from plimsoll.server.ui.pages import PageRoute, allowed, render
from plimsoll.tracking.entities import Artifact, Run

ROLLBACK_ROUTE = "/models/{name}/aliases/{alias}/rollback"
FILES_SHOWN = 200  # of one version's artifact; the run's page lists them all
# What the model's page says after a rollback (`?notice=rolled-back`): a fixed sentence, never
# text from the query string.
NOTICES = {"rolled-back": "Rolled back. The alias's history below records who, when and why."}
# The approvers' forms on a version's page (the gates capability's routes, server/ui/promotions.py).
APPROVE_ROUTE = "/promotions/{promotion_id}/approve"
REJECT_ROUTE = "/promotions/{promotion_id}/reject"
VERSION_NOTICES = {
    "approved": "Approved. The promotion waits for the other approvals its policy requires.",
    "promoted": "Approved, and the alias moved: the promotion below records who approved it.",
    "rejected": "Rejected. The promotion has ended; its decision records the rejection.",
}

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _registry(request: Request) -> RegistryService:
    return cast(RegistryService, request.app.state.platform.service("model_registry"))


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request, project: str = DEFAULT_PROJECT) -> HTMLResponse:
    found = _registry(request).list_models(project=project)
    context = {
        "active": "models",
        "project": project,
        "models": found,
        "owner_roles": OWNER_ROLES,
        "model_url": lambda name: views.url(model_path(name), project=project),
        "version_url": lambda name, version: views.url(version_path(name, version), project=project),
    }
    return render(request, "models.html", context)


@router.get("/models/{name}", response_class=HTMLResponse)
def model_page(request: Request, name: str, project: str = DEFAULT_PROJECT) -> HTMLResponse:
    return _model_page(request, name, project)


@router.get("/models/{name}/versions/{version}", response_class=HTMLResponse)
def version_page(
    request: Request, name: str, version: str, project: str = DEFAULT_PROJECT, evaluation: str = ""
) -> HTMLResponse:
    """`?evaluation=ID` shows that evaluation of the version rather than its newest."""
    return version_page_of(request, name, version, project, chosen=evaluation)


def version_page_of(
    request: Request,
    name: str,
    version: str | int,
    project: str,
    *,
    chosen: str = "",
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """A version's page; with `errors` (by promotion id) beside the approvers' forms, as an answer
    to one of them that was refused (plimsoll.server.ui.promotions)."""
    registry = _registry(request)
    shown = registry.get_version(f"{name}/{version}", project=project)
    aliases = {a.name: a for a in registry.aliases(name, project=project)}
    moves = [
        m for m in registry.alias_history(name, project=project) if shown.version in (m.version, m.previous)
    ]
    services = request.app.state.platform.services
    gates = model_evidence.gates_of(services.get("gates"), shown)
    page_url = version_path(name, shown.version)
    context = {
        "active": "models",
        "project": project,
        "name": name,
        "shown": shown,
        "held": [aliases[alias] for alias in shown.aliases if alias in aliases],
        "moves": moves,
        "run": _run_of(request, shown),
        "files": _files_of(request, shown),
        "model_url": views.url(model_path(name), project=project),
        "lineage_url": views.url("/lineage", project=project, node=f"model:{shown.ref}"),
        "with_evaluations": "evaluation" in services,
        "evaluations": model_evidence.evaluations_of(services.get("evaluation"), shown, chosen),
        "evaluation_url": lambda evaluation_id: views.url(
            page_url, project=project, evaluation=evaluation_id
        ),
        "gates": gates,
        "may_decide": gates is not None and allowed(request, "POST", APPROVE_ROUTE, project),
        "approve_url": lambda promotion_id: APPROVE_ROUTE.format(promotion_id=promotion_id),
        "reject_url": lambda promotion_id: REJECT_ROUTE.format(promotion_id=promotion_id),
        "notice": VERSION_NOTICES.get(request.query_params.get("notice", "")),
        "errors": errors or {},
        "form": form or {},
    }
    return render(request, "model_version.html", context, status_code=status)


@router.post(ROLLBACK_ROUTE, response_model=None)
def rollback(
    request: Request,
    name: str,
    alias: str,
    project: str = DEFAULT_PROJECT,
    reason: Annotated[str, Form()] = "",
    expected: Annotated[str, Form()] = "",
) -> Response:
    """Roll `alias` back to the version it held before, as the form on the model's page read it:
    `expected` is the version the page showed it holding, so a move made meanwhile is a Conflict
    rather than a rollback from a version the person never saw. A reason is required here: the
    history is read in an incident, and "why" is the first question."""
    registry = _registry(request)
    # What no form on the page can send (a malformed alias, text no database stores, a version
    # that is not a number) is the 400 page, before anything is looked up.
    check_alias("alias", alias)
    reason = check_reason("reason", reason).strip()
    expected_version = _expected(expected)
    try:
        if not reason:
            raise InvalidParameter("reason", "say why: the alias's history keeps it")
        registry.rollback(
            name,
            alias,
            reason=reason,
            expected=expected_version,
            project=project,
            actor=actor_of(request),
        )
    except (InvalidParameter, Conflict) as error:
        registry.get_model(name, project=project)  # an unknown model is the 404 page, not a form error
        form = {"alias": alias, "reason": reason}
        return _model_page(
            request, name, project, errors={alias: _message(error)}, form=form, status=error.status
        )
    target = views.url(model_path(name), project=project, notice="rolled-back")
    return RedirectResponse(f"{target}#aliases", status_code=303)


def _expected(text: str) -> int | None:
    if not text:
        return None
    if not text.isascii() or not text.isdigit():
        raise InvalidParameter("expected", f"must be a version number, got {text[:40]!r}")
    return int(text)


def _message(error: InvalidParameter | Conflict) -> str:
    """The service's message without the `field: ` prefix the form's label already says."""
    message = str(error.message)
    if isinstance(error, InvalidParameter) and message.startswith(f"{error.field}: "):
        return message[len(error.field) + 2 :]
    return message


def _model_page(
    request: Request,
    name: str,
    project: str,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    registry = _registry(request)
    model = registry.get_model(name, project=project)
    versions = registry.list_versions(name, project=project)
    aliases = registry.aliases(name, project=project)
    history = registry.alias_history(name, project=project)
    may_roll_back = allowed(request, "POST", ROLLBACK_ROUTE, project)
    now = now_ms()
    context = {
        "active": "models",
        "project": project,
        "model": model,
        "versions": versions,
        "aliases": [
            AliasRow(a.name, a.version, a.protected, a.moved_by, a.moved_at, rollback_target(history, a.name))
            for a in aliases
        ],
        "history": history,
        "timeline": alias_timeline(history, now),
        "owner_roles": OWNER_ROLES,
        "may_roll_back": may_roll_back,
        "notice": NOTICES.get(request.query_params.get("notice", "")),
        "errors": errors or {},
        "form": form or {},
        "rollback_url": lambda alias: views.url(
            f"{model_path(name)}/aliases/{quote(alias, safe='')}/rollback", project=project
        ),
        "version_url": lambda version: views.url(version_path(name, version), project=project),
        "monitors": monitors_by_alias(request, name, project),
        "lineage_url": None
        if model.latest_version is None
        else views.url("/lineage", project=project, node=f"model:{name}/{model.latest_version}"),
    }
    return render(request, "model.html", context, status_code=status)


def monitors_by_alias(request: Request, name: str, project: str) -> dict[str, list[tuple[str, str]]]:
    """The monitors watching each alias of the model, as (name, page address) pairs; none when
    the platform has no monitoring."""
    monitoring = request.app.state.platform.services.get("monitoring")
    if monitoring is None:
        return {}
    found: dict[str, list[tuple[str, str]]] = {}
    for monitor in monitoring.list_monitors(model=name, project=project):
        page = views.url(f"/monitors/{quote(monitor.name, safe='')}", project=project)
        found.setdefault(monitor.alias, []).append((monitor.name, page))
    return found


def model_path(name: str) -> str:
    """A model's page: its name may hold `?`, `#`, `%` or spaces, so it is quoted whole."""
    return f"/models/{quote(name, safe='')}"


def version_path(name: str, version: int) -> str:
    return f"{model_path(name)}/versions/{version}"


@dataclass(frozen=True)
class AliasRow:
    name: str
    version: int
    protected: bool
    moved_by: str
    moved_at: int
    rollback_to: int | None  # the version a rollback would point it at; None: nothing to go back to


def rollback_target(history: list[AliasMove], alias: str) -> int | None:
    """The version a rollback of `alias` would point it at, read as the service reads it: what
    the newest move replaced, if that move made the alias's current holder."""
    moves = [m for m in history if m.alias == alias]  # newest first
    if not moves or moves[0].version is None:
        return None
    return moves[0].previous


def alias_timeline(history: list[AliasMove], now: int) -> dict[str, Any]:
    """What the timeline draws: one lane per alias (by name), its spans (from a move to the next,
    the last one to `now`) of the version it held, and each move as a point on its lane with who
    made it and why. A removed alias has no span until it is set again."""
    lanes = sorted({m.alias for m in history})
    spans: list[dict[str, Any]] = []
    moves: list[dict[str, Any]] = []
    for lane, alias in enumerate(lanes):
        own = [m for m in reversed(history) if m.alias == alias]  # oldest first
        for index, move in enumerate(own):
            end = own[index + 1].at if index + 1 < len(own) else now
            if move.version is not None:
                spans.append(
                    {"lane": lane, "start": move.at, "end": max(end, move.at), "version": move.version}
                )
            moves.append(
                {
                    "lane": lane,
                    "at": move.at,
                    "action": move.action,
                    "version": move.version,
                    "previous": move.previous,
                    "actor": move.actor,
                    "reason": move.reason,
                }
            )
    return {"aliases": lanes, "spans": spans, "moves": moves, "now": now}


def _run_of(request: Request, version: ModelVersion) -> Run | None:
    """The run that produced the version, or None when it is gone (purged) or was never recorded."""
    if version.run_id is None:
        return None
    try:
        run: Run = request.app.state.platform.tracking.get_run(version.run_id)
    except NotFound:
        return None
    return run


def _files_of(request: Request, version: ModelVersion) -> list[Artifact]:
    """The version's files as the run logged them (the first FILES_SHOWN)."""
    if version.run_id is None:
        return []
    prefix = version.artifact_path
    try:
        found: list[Artifact] = request.app.state.platform.tracking.list_artifacts(version.run_id, prefix)
    except NotFound:
        return []
    return [a for a in found if a.path == prefix or a.path.startswith(prefix + "/")][:FILES_SHOWN]

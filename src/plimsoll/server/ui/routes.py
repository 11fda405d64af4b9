"""The UI's pages. Each route asks the tracking service and renders one template; the view shaping
(which columns a runs table shows, how a header toggles its sort) lives in `views.py`.

Errors: a PlimsollError raised by a page renders `error.html` with its status (a friendly 404 for an
unknown id); a bad filter on a runs page is shown next to the filter box instead.
"""

from __future__ import annotations

from typing import Annotated, cast
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from plimsoll.core import downloads
from plimsoll.core.errors import InvalidParameter, NotFound
from plimsoll.core.ids import is_id, is_short_id
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import parse_int_text
from plimsoll.server.ui import previews, views
from plimsoll.server.ui.pages import PageRoute, render, templates
from plimsoll.tracking.entities import Experiment, run_id_list
from plimsoll.tracking.service import TrackingService

RUNS_PAGE_SIZE = 50
MAX_CHILD_RUNS = 50  # listed on a parent's page; the rest are a link away
MAX_COMPARE_RUNS = 20
HISTORY_POINTS = 500  # what the charts ask the JSON API for; the band shows what a bucket hides

templates.env.globals.update(history_points=HISTORY_POINTS)


router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _tracking(request: Request) -> TrackingService:
    return cast(TrackingService, request.app.state.platform.service("tracking"))


def _checked_run_id(run_id: str) -> str:
    """A malformed id names no run: say "not found", not "invalid parameter"."""
    if not is_id(run_id):
        raise NotFound(f"run {run_id!r} not found")
    return run_id


def _whole_id_url(request: Request, short: str, whole: str) -> RedirectResponse:
    """The same page under the whole id: a short id (as lists show it) is accepted in a URL, and
    the page's address then names the run for good."""
    path = request.url.path.replace(f"/{short}", f"/{whole}", 1)
    return RedirectResponse(str(request.url.replace(path=path)), status_code=302)


def home(request: Request) -> RedirectResponse:
    """`/`: the first page of the navigation."""
    first = next((item for section in request.app.state.nav for item in section.items), None)
    return RedirectResponse(first.href if first is not None else "/docs", status_code=302)


@router.get("/experiments", response_class=HTMLResponse)
def experiments_page(request: Request, project: str = DEFAULT_PROJECT) -> HTMLResponse:
    tracking = _tracking(request)
    experiments = tracking.list_experiments(project=project)
    experiments.sort(key=lambda e: e.updated_at, reverse=True)
    run_counts = tracking.run_counts([e.id for e in experiments])
    context = {
        "active": "experiments",
        "project": project,
        "experiments": experiments,
        "run_counts": run_counts,
    }
    return render(request, "experiments.html", context)


@router.get("/experiments/{experiment_ref}", response_class=HTMLResponse)
def experiment_page(
    request: Request,
    experiment_ref: str,
    filter: str = "",
    order_by: str = "",
    page_token: str = "",
    page_size: str = "",
    view: str = "",
    project: str = DEFAULT_PROJECT,
) -> Response:
    tracking = _tracking(request)
    try:
        experiment = tracking.resolve_experiment(experiment_ref, project=project)
    except NotFound:
        if not is_short_id(experiment_ref):
            raise
        return _whole_id_url(request, experiment_ref, tracking.resolve_experiment_id(experiment_ref))
    return _runs_page(request, experiment, filter, order_by, page_token, page_size, view)


@router.get("/runs", response_class=HTMLResponse)
def all_runs_page(
    request: Request,
    filter: str = "",
    order_by: str = "",
    page_token: str = "",
    page_size: str = "",
    view: str = "",
) -> HTMLResponse:
    return _runs_page(request, None, filter, order_by, page_token, page_size, view)


def _runs_page(
    request: Request,
    experiment: Experiment | None,
    filter: str,
    order_by: str,
    page_token: str,
    page_size: str,
    view: str,
) -> HTMLResponse:
    filter_text, order_text = filter.strip(), order_by.strip()
    # Query parameters every link on the page carries along.
    keep = {"filter": filter_text, "page_size": page_size.strip(), "view": view.strip()}
    error = None
    runs = []
    next_cursor = None
    try:
        size = _page_size(keep["page_size"])
        with_deleted = _with_deleted(keep["view"])
        page = _tracking(request).search_runs(
            experiment_ids=None if experiment is None else [experiment.id],
            filter=filter_text or None,
            order_by=[order_text] if order_text else None,
            max_results=size,
            page_token=page_token or None,
            include_deleted=with_deleted,
        )
        runs, next_cursor = page.runs, page.next_page_token
    except InvalidParameter as exc:
        error = exc.message
    path = request.url.path
    table = views.runs_table(
        runs,
        path=path,
        keep=keep,
        order_by=order_text,
        with_experiment=experiment is None,
        filter=filter_text,
    )
    context = {
        "active": "runs" if experiment is None else "experiments",
        "experiment": experiment,
        "runs": runs,
        "table": table,
        "filter": filter_text,
        "order_by": order_text,
        "error": error,
        "paged": bool(page_token),
        "page_size": keep["page_size"],
        "view": keep["view"],
        "lifecycle_links": views.lifecycle_links(path, keep, order_text),
        "max_compare": MAX_COMPARE_RUNS,
        "columns_key": experiment.id if experiment is not None else "all",
        "first_url": views.url(path, **keep, order_by=order_text),
        "next_url": None
        if next_cursor is None
        else views.url(path, **keep, order_by=order_text, page_token=next_cursor),
    }
    return render(request, "runs.html", context, status_code=400 if error else 200)


def _with_deleted(view: str) -> bool:
    """`view=all` shows deleted runs beside the others (to restore them); none is the default."""
    if view not in ("", "active", "all"):
        raise InvalidParameter("view", f"must be 'active' or 'all', got {view!r}")
    return view == "all"


def _page_size(text: str) -> int:
    if not text:
        return RUNS_PAGE_SIZE
    return parse_int_text("page_size", text, minimum=1)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(request: Request, run_id: str) -> Response:
    tracking = _tracking(request)
    if is_short_id(run_id):
        return _whole_id_url(request, run_id, tracking.resolve_run_id(run_id))
    run = tracking.get_run(_checked_run_id(run_id))
    artifacts = tracking.list_artifacts(run.id)
    children = tracking.search_runs(
        project=run.project,
        filter=views.children_filter(run.id),
        order_by=["attributes.start_time ASC"],
        max_results=MAX_CHILD_RUNS,
    )
    context = {
        "active": "runs",
        "run": run,
        "metric_keys": tracking.list_metric_keys(run.id),
        "history_keys": tracking.list_metric_keys_with_history(run.id),
        "children": views.child_runs(children.runs, parent=run, more=children.next_page_token is not None),
        "charts_series": [views.chart_series(run, 0)],
        "user_tags": {k: v for k, v in sorted(run.tags.items()) if not views.is_system_tag(k)},
        "artifacts": artifacts,
        "code": views.code_and_environment(tracking, run, artifacts),
    }
    return render(request, "run.html", context)


@router.get("/runs/{run_id}/artifacts/{path:path}", response_class=HTMLResponse)
def artifact_page(request: Request, run_id: str, path: str) -> Response:
    tracking = _tracking(request)
    if is_short_id(run_id):
        return _whole_id_url(request, run_id, tracking.resolve_run_id(run_id))
    run = tracking.get_run(_checked_run_id(run_id))
    artifact = tracking.get_artifact(run.id, path)
    read = previews.bytes_to_read(previews.kind_of(path))
    data, truncated = tracking.read_artifact(run.id, path, max_bytes=read) if read else (b"", False)
    context = {
        "active": "runs",
        "run": run,
        "artifact": artifact,
        "name": downloads.base_name(path),
        "download_url": f"/api/v1/runs/{run.id}/artifacts/{quote(path)}",
        "preview": previews.build(path, artifact.size, data, truncated),
    }
    return render(request, "artifact.html", context)


@router.get("/compare", response_class=HTMLResponse)
def compare_page(request: Request, runs: Annotated[list[str], Query()] = []) -> HTMLResponse:  # noqa: B006
    run_ids = run_id_list(runs)
    if len(run_ids) > MAX_COMPARE_RUNS:
        raise InvalidParameter("runs", f"has {len(run_ids)} runs; the limit is {MAX_COMPARE_RUNS}")
    unknown = [run_id for run_id in run_ids if not is_id(run_id)]
    if unknown:
        raise NotFound(f"runs not found: {', '.join(unknown)}")
    tracking = _tracking(request)
    found = tracking.get_runs(run_ids) if run_ids else []
    history_keys = tracking.metric_keys_with_history_by_run([run.id for run in found])
    comparison = views.comparison(found, history_keys)
    context = {
        "active": "runs",
        "runs": found,
        "comparison": comparison,
        "plots": views.comparison_plots(comparison),
    }
    return render(request, "compare.html", context)

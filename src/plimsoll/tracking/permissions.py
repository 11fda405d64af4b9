"""Tracking's permission rows: its JSON routes and its web pages, and how each finds its project.

Every resolver reads through TrackingService and fails closed: a referenced experiment or run that
does not exist is a NotFound from the check itself rather than a request let through unchecked
(a search's unknown experiment ids too). A record in a project where the caller holds no role is
answered the same way (`core.auth.check`), so the answer does not tell whether it exists.
"""

from __future__ import annotations

from typing import Any

from plimsoll.core.auth.permissions import (
    ALL_PROJECTS,
    PROJECT_BODY,
    PROJECT_QUERY,
    SOME_PROJECT,
    Permission,
    RequestFacts,
    Resolving,
    Resource,
    Scope,
    json_object,
    read,
    string,
    write,
)
from plimsoll.core.errors import InvalidParameter, NotFound
from plimsoll.core.ids import is_id
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.tracking.entities import run_id_list
from plimsoll.tracking.service import TrackingService


def _service(resolving: Resolving) -> TrackingService:
    service = resolving.service
    assert isinstance(service, TrackingService)
    return service


def _experiments(resolving: Resolving, ids: list[str]) -> set[Resource]:
    found = _service(resolving).experiment_projects(ids)
    for experiment_id in ids:
        if experiment_id not in found:
            raise NotFound(f"experiment {experiment_id!r} not found")
    return {Resource(project, "experiment", experiment_id) for experiment_id, project in found.items()}


def _runs(resolving: Resolving, ids: list[str], *, why: str = "") -> set[Resource]:
    found = _service(resolving).run_projects(ids)
    for run_id in ids:
        if run_id not in found:
            raise NotFound(f"run {run_id!r} not found{why}")
    return {
        Resource(found[run_id], "run", run_id, missing=f"run {run_id!r} not found{why}") for run_id in ids
    }


def _experiment(resolving: Resolving) -> set[Resource]:
    return _experiments(
        resolving, [string("experiment_id", resolving.facts.path_params.get("experiment_id"))]
    )


def _run(resolving: Resolving) -> set[Resource]:
    return _runs(resolving, [string("run_id", resolving.facts.path_params.get("run_id"))])


def _experiment_ref(resolving: Resolving) -> set[Resource]:
    facts = resolving.facts
    ref = string("experiment_ref", facts.path_params.get("experiment_ref"))
    project = facts.query.get("project", DEFAULT_PROJECT)
    if is_id(ref):
        found = _service(resolving).experiment_projects([ref])
        if ref in found:
            # Unseen, it is answered as an unknown id is: by name in `?project=`, not found there.
            missing = f"experiment {ref!r} not found in project {project!r}"
            return {Resource(found[ref], "experiment", ref, missing=missing, instead=project)}
    return {Resource(project)}


def _runs_query(resolving: Resolving) -> set[Resource]:
    return _runs(resolving, run_id_list(resolving.facts.query.getlist("runs")))


def _experiment_body(resolving: Resolving) -> set[Resource]:
    body = json_object("body", resolving.facts.body)
    resources = _experiments(resolving, [string("experiment_id", body.get("experiment_id"))])
    if body.get("run_id") is not None:
        run_id = string("run_id", body["run_id"])
        found = _service(resolving).run_projects([run_id])
        resources |= {Resource(project, "run", run_id) for project in found.values()}
    return resources


def _runs_body(resolving: Resolving) -> set[Resource]:
    entries = json_object("body", resolving.facts.body).get("runs")
    if not isinstance(entries, list):
        raise InvalidParameter("runs", f"must be a list, got {type(entries).__name__}")
    run_ids: list[str] = []
    created: dict[str, str] = {}
    for index, entry in enumerate(entries):
        entry = json_object(f"runs[{index}]", entry)
        run_id = string(f"runs[{index}].run_id", entry.get("run_id"))
        run_ids.append(run_id)
        if entry.get("create") is not None:
            create = json_object(f"runs[{index}].create", entry["create"])
            created[run_id] = string(f"runs[{index}].create.experiment_id", create.get("experiment_id"))
    existing = _service(resolving).run_projects(run_ids)
    missing = "run {!r} not found (and the batch does not create it)"
    for run_id in run_ids:
        if run_id not in existing and run_id not in created:
            raise NotFound(missing.format(run_id))
    resources = {
        Resource(project, "run", run_id, missing=missing.format(run_id))
        for run_id, project in existing.items()
    }
    return resources | _experiments(resolving, sorted(set(created.values())))


def _experiments_body(resolving: Resolving) -> set[Resource]:
    body = json_object("body", resolving.facts.body)
    ids = body.get("experiment_ids")
    if ids is None and body.get("project") is not None:
        return {Resource(string("project", body["project"]))}
    if ids is None:
        return ALL_PROJECTS.resources(resolving)
    if not isinstance(ids, list):
        raise InvalidParameter("experiment_ids", f"must be a list, got {type(ids).__name__}")
    wanted = [string(f"experiment_ids[{i}]", value) for i, value in enumerate(ids)]
    return _experiments(resolving, wanted)


def _search_hint(facts: RequestFacts) -> str | None:
    body: Any = facts.body
    if isinstance(body, dict) and body.get("experiment_ids") is None and body.get("project") is None:
        return "a search without experiment_ids or project covers every project: name the project"
    return None


EXPERIMENT = Scope("experiment", "the project of the `{experiment_id}` experiment", _experiment)
RUN = Scope("run", "the project of the `{run_id}` run, through its experiment", _run)
EXPERIMENT_REF = Scope(
    "experiment_ref",
    "the `{experiment_ref}` experiment's project when it is an experiment id, else `?project=`",
    _experiment_ref,
)
RUNS_QUERY = Scope("runs_query", "the projects of the runs in `?runs=a,b&runs=c`", _runs_query)
EXPERIMENT_BODY = Scope(
    "experiment_body",
    "the project of the body's `experiment_id` (and of its `run_id`, if that run exists)",
    _experiment_body,
    needs_body=True,
)
RUNS_BODY = Scope(
    "runs_body",
    "every project touched: each `runs[].run_id` that exists, and each `runs[].create.experiment_id`",
    _runs_body,
    needs_body=True,
)
EXPERIMENTS_BODY = Scope(
    "experiments_body",
    "the projects of the body's `experiment_ids`; without them the body's `project`, and with neither "
    "a search over every experiment, so every project",
    _experiments_body,
    needs_body=True,
    hint=_search_hint,
)

_API = "/api/v1"

PERMISSIONS = (
    # -- web pages (server/ui/routes.py): each checks the project whose data it shows ----------
    Permission("GET", "/experiments", read(PROJECT_QUERY)),
    Permission("GET", "/experiments/{experiment_ref}", read(EXPERIMENT_REF)),
    Permission("GET", "/runs", read(ALL_PROJECTS)),
    Permission("GET", "/runs/{run_id}", read(RUN)),
    Permission("GET", "/runs/{run_id}/artifacts/{path:path}", read(RUN)),
    Permission("GET", "/compare", read(RUNS_QUERY)),
    # -- JSON API (tracking/api.py) ----------------------------------------------------------------
    Permission("GET", f"{_API}/experiments", read(PROJECT_QUERY)),
    Permission("POST", f"{_API}/experiments", write(PROJECT_BODY)),
    Permission("POST", f"{_API}/experiments/ensure", write(PROJECT_BODY)),
    Permission("GET", f"{_API}/experiments/{{experiment_ref}}", read(EXPERIMENT_REF)),
    Permission("PATCH", f"{_API}/experiments/{{experiment_id}}", write(EXPERIMENT)),
    Permission("DELETE", f"{_API}/experiments/{{experiment_id}}", write(EXPERIMENT)),
    Permission("POST", f"{_API}/experiments/{{experiment_id}}/restore", write(EXPERIMENT)),
    Permission("POST", f"{_API}/runs", write(EXPERIMENT_BODY)),
    Permission("POST", f"{_API}/runs/ingest", write(RUNS_BODY)),
    Permission("POST", f"{_API}/runs/search", read(EXPERIMENTS_BODY)),
    Permission("GET", f"{_API}/runs/{{run_id}}", read(RUN)),
    Permission("DELETE", f"{_API}/runs/{{run_id}}", write(RUN)),
    Permission("POST", f"{_API}/runs/{{run_id}}/end", write(RUN)),
    Permission("POST", f"{_API}/runs/{{run_id}}/restore", write(RUN)),
    Permission("POST", f"{_API}/runs/{{run_id}}/resume", write(RUN)),
    Permission("POST", f"{_API}/runs/{{run_id}}/log", write(RUN)),
    # Answered from the projects where the caller holds a role, so a role somewhere is enough.
    Permission("GET", f"{_API}/resolve/runs/{{short_id}}", SOME_PROJECT),
    Permission("GET", f"{_API}/resolve/experiments/{{short_id}}", SOME_PROJECT),
    Permission("DELETE", f"{_API}/runs/{{run_id}}/tags/{{key:path}}", write(RUN)),
    Permission("GET", f"{_API}/runs/{{run_id}}/metrics", read(RUN)),
    Permission("GET", f"{_API}/runs/{{run_id}}/metrics/{{key:path}}/history", read(RUN)),
    Permission("GET", f"{_API}/runs/{{run_id}}/artifacts", read(RUN)),
    Permission("GET", f"{_API}/runs/{{run_id}}/artifacts/{{path:path}}", read(RUN)),
    Permission("PUT", f"{_API}/runs/{{run_id}}/artifacts/{{path:path}}", write(RUN)),
)

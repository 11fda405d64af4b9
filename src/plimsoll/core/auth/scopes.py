"""From a request to the projects it touches, and the check of a rule against a user.

The lookups (experiment → project, run → experiment → project) read the tracking tables through
lightweight `sqlalchemy.table()/column()` references naming only the columns they need. That keeps
the arrows pointing down: `core` does not import `plimsoll.tracking` (which imports `core`), yet the
check stays one indexed query per request. The price is that these references repeat two table
and column names from `tracking/store.py`; the HTTP tests in tests/core/test_auth.py exercise every
lookup against the real schema, so a rename there fails here at once. (A resolver registry that
tracking fills in would avoid even that, at the cost of a rule table that depends on import order.)

Every lookup fails closed: a referenced experiment or run that does not exist is a NotFound from
the check itself rather than a request let through unchecked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, bindparam, column, select, table
from starlette.datastructures import QueryParams

from plimsoll.core.auth.entities import Role, User
from plimsoll.core.auth.permissions import Rule, Scope
from plimsoll.core.auth.service import AuthService
from plimsoll.core.auth.store import api_tokens
from plimsoll.core.errors import InvalidParameter, NotFound, PermissionDenied
from plimsoll.core.ids import is_id
from plimsoll.core.projects import DEFAULT_PROJECT, list_projects

_experiments = table("experiments", column("id"), column("project"))
_runs = table("runs", column("id"), column("experiment_id"))

_CHUNK = 500

# Built once (see service._AUTHENTICATE): the check runs on every guarded request.
_EXPERIMENT_PROJECTS = select(_experiments.c.id, _experiments.c.project).where(
    _experiments.c.id.in_(bindparam("ids", expanding=True))
)
_RUN_PROJECTS = (
    select(_runs.c.id, _experiments.c.project)
    .select_from(_runs.join(_experiments, _experiments.c.id == _runs.c.experiment_id))
    .where(_runs.c.id.in_(bindparam("ids", expanding=True)))
)


@dataclass(frozen=True)
class RequestFacts:
    """What the check may look at: path parameters, query parameters (parsed by Starlette, as the
    route will parse them: `.get` is the last value) and the parsed JSON body (None when the rule
    does not need it)."""

    path_params: Mapping[str, Any] = field(default_factory=dict)
    query: QueryParams = field(default_factory=QueryParams)
    body: Any = None


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def experiment_projects(conn: Connection, experiment_ids: Iterable[str], *, strict: bool = True) -> set[str]:
    """Projects of these experiments; with `strict`, a NotFound naming the first unknown one."""
    wanted = sorted(set(experiment_ids))
    found: dict[str, str] = {}
    for chunk in _chunks(wanted):
        rows = conn.execute(_EXPERIMENT_PROJECTS, {"ids": chunk})
        found.update({str(row.id): str(row.project) for row in rows})
    if strict:
        for experiment_id in wanted:
            if experiment_id not in found:
                raise NotFound(f"experiment {experiment_id!r} not found")
    return set(found.values())


def run_projects(conn: Connection, run_ids: Iterable[str]) -> dict[str, str]:
    """Project of each of these runs that exists, by run id."""
    wanted = sorted(set(run_ids))
    found: dict[str, str] = {}
    for chunk in _chunks(wanted):
        rows = conn.execute(_RUN_PROJECTS, {"ids": chunk})
        found.update({str(row.id): str(row.project) for row in rows})
    return found


def _string(field_name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidParameter(field_name, f"must be a string, got {type(value).__name__}")
    return value


def _object(field_name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidParameter(field_name, f"must be a JSON object, got {type(value).__name__}")
    return value


def projects_for(conn: Connection, scope: Scope, facts: RequestFacts) -> set[str]:
    """The projects a request touches, for the scopes that have projects."""
    if scope is Scope.PROJECT_PATH:
        return {_string("project", facts.path_params.get("project"))}
    if scope is Scope.PROJECT_QUERY:
        return {facts.query.get("project", DEFAULT_PROJECT)}
    if scope is Scope.PROJECT_BODY:
        body = _object("body", facts.body)
        return {_string("project", body.get("project", DEFAULT_PROJECT))}
    if scope is Scope.EXPERIMENT:
        return experiment_projects(conn, [_string("experiment_id", facts.path_params.get("experiment_id"))])
    if scope is Scope.RUN:
        run_id = _string("run_id", facts.path_params.get("run_id"))
        found = run_projects(conn, [run_id])
        if run_id not in found:
            raise NotFound(f"run {run_id!r} not found")
        return {found[run_id]}
    if scope is Scope.EXPERIMENT_REF:
        ref = _string("experiment_ref", facts.path_params.get("experiment_ref"))
        if is_id(ref):
            by_id = experiment_projects(conn, [ref], strict=False)
            if by_id:
                return by_id
        return {facts.query.get("project", DEFAULT_PROJECT)}
    if scope is Scope.RUNS_QUERY:
        run_ids = [
            part.strip() for value in facts.query.getlist("runs") for part in value.split(",") if part.strip()
        ]
        found = run_projects(conn, run_ids)
        for run_id in run_ids:
            if run_id not in found:
                raise NotFound(f"run {run_id!r} not found")
        return set(found.values())
    if scope is Scope.ALL_PROJECTS:
        return set(list_projects(conn))
    if scope is Scope.EXPERIMENT_BODY:
        body = _object("body", facts.body)
        projects = experiment_projects(conn, [_string("experiment_id", body.get("experiment_id"))])
        if body.get("run_id") is not None:
            projects |= set(run_projects(conn, [_string("run_id", body["run_id"])]).values())
        return projects
    if scope is Scope.RUNS_BODY:
        return _ingest_projects(conn, _object("body", facts.body))
    if scope is Scope.EXPERIMENTS_BODY:
        body = _object("body", facts.body)
        ids = body.get("experiment_ids")
        if ids is None:
            return set(list_projects(conn))
        if not isinstance(ids, list):
            raise InvalidParameter("experiment_ids", f"must be a list, got {type(ids).__name__}")
        return experiment_projects(
            conn, [_string(f"experiment_ids[{i}]", value) for i, value in enumerate(ids)], strict=False
        )
    raise AssertionError(f"scope {scope.value!r} has no project")


def _ingest_projects(conn: Connection, body: dict[str, Any]) -> set[str]:
    entries = body.get("runs")
    if not isinstance(entries, list):
        raise InvalidParameter("runs", f"must be a list, got {type(entries).__name__}")
    run_ids: list[str] = []
    created: dict[str, str] = {}
    for index, entry in enumerate(entries):
        entry = _object(f"runs[{index}]", entry)
        run_id = _string(f"runs[{index}].run_id", entry.get("run_id"))
        run_ids.append(run_id)
        if entry.get("create") is not None:
            create = _object(f"runs[{index}].create", entry["create"])
            created[run_id] = _string(f"runs[{index}].create.experiment_id", create.get("experiment_id"))
    existing = run_projects(conn, run_ids)
    for run_id in run_ids:
        if run_id not in existing and run_id not in created:
            raise NotFound(f"run {run_id!r} not found (and the batch does not create it)")
    return set(existing.values()) | experiment_projects(conn, created.values())


def authorize(conn: Connection, service: AuthService, user: User, rule: Rule, facts: RequestFacts) -> None:
    """Raise PermissionDenied (or NotFound / InvalidParameter) unless `user` may make this request."""
    scope = rule.scope
    if scope is Scope.PUBLIC:
        return
    if scope is Scope.GLOBAL:
        if rule.role is Role.ADMIN and not user.is_admin:
            raise PermissionDenied(
                f"user {user.name!r} is not a site admin; only site admins may do this",
                details={"user": user.name, "needed": "site admin"},
            )
        return
    if scope is Scope.SELF:
        name = facts.path_params.get("name")
        if name != user.name and not user.is_admin:
            raise PermissionDenied(
                f"user {user.name!r} may manage only their own tokens, not those of {name!r}",
                details={"user": user.name, "target": name},
            )
        return
    if scope is Scope.TOKEN:
        token_id = facts.path_params.get("token_id")
        owner = conn.execute(select(api_tokens.c.user_name).where(api_tokens.c.id == token_id)).scalar()
        if owner is None:
            raise NotFound(f"API token {token_id!r} not found")
        if owner != user.name and not user.is_admin:
            raise PermissionDenied(
                f"user {user.name!r} may revoke only their own tokens; token {token_id!r} is not theirs",
                details={"user": user.name, "token_id": token_id},
            )
        return
    if scope is Scope.UI:
        if not service.has_any_role(conn, user):
            raise PermissionDenied(
                f"user {user.name!r} holds no role in any project; ask a project admin for one",
                details={"user": user.name, "needed": (rule.role or Role.VIEWER).value},
            )
        return
    assert rule.role is not None, f"a {scope.value} rule needs a role"
    projects = projects_for(conn, scope, facts)
    try:
        service.require_in(conn, user, projects, rule.role)
    except PermissionDenied as denied:
        if scope is Scope.EXPERIMENTS_BODY and (facts.body or {}).get("experiment_ids") is None:
            raise PermissionDenied(
                denied.message + "; a search without experiment_ids covers every project: "
                "name the experiments to search",
                details=denied.details,
            ) from None
        raise

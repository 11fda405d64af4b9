"""THE permission table: every HTTP route, the role it needs and where its project comes from.

One row per `(method, route template)`, the template spelled exactly as FastAPI shows it
(`route.path`, converters included: `/api/v1/runs/{run_id}/tags/{key:path}`); a `Mount` (static
files) is keyed by `("GET", mount.path)` and covers everything below it. `HEAD` is checked as `GET`.

Deny by default: with auth on, a request that matches a route with no row here is refused (403,
PERMISSION_DENIED, "route ... has no permission rule"), and `tests/core/test_auth.py` fails when
any route of `create_app()` has no row — so a new route cannot ship unprotected by accident.

Reads need `viewer`, writes `contributor`, managing roles `admin` of the project. How the project
is found is the rule's `Scope`:

| scope | the project(s) checked |
| --- | --- |
| `public` | none: anyone, even without a token |
| `global` | none: any authenticated user; with role `admin`, only site admins |
| `self` | none: the user named by the `{name}` path parameter, or a site admin |
| `token` | none: the owner of the `{token_id}` token, or a site admin |
| `ui` | the caller needs the role in at least one project (pages that show no project's data) |
| `all_projects` | every project (a page that lists runs of every experiment) |
| `project_path` | the `{project}` path parameter |
| `project_query` | `?project=` (default `default`) |
| `project_body` | the JSON body's `project` field (default `default`) |
| `experiment` | the project of the `{experiment_id}` experiment |
| `run` | the project of the `{run_id}` run (through its experiment) |
| `experiment_ref` | the `{experiment_ref}` experiment's project if it is an experiment id, else `?project=` (default `default`), as the UI page resolves it |
| `runs_query` | the projects of the runs in `?runs=a,b&runs=c` |
| `experiment_body` | the project of the body's `experiment_id` (and of its `run_id`, if that run exists) |
| `runs_body` | every project touched: each `runs[].run_id` that exists, and each `runs[].create.experiment_id` |
| `experiments_body` | the projects of the body's `experiment_ids`; none given means a search over every experiment, so every project |

Choices worth knowing:
- `/metrics` is public, like most Prometheus endpoints (scrapers carry no token). It exposes only
  route templates, status codes and latencies: no ids, names or values.
- `/openapi.json` and the API docs pages are public: the API's shape is no secret.
- The web UI's pages are checked like the JSON routes that show the same data, rather than
  "viewer of any project": a viewer of project A must not see project B's run on its page. The
  all-runs page (`/runs`) lists every experiment's runs, so it needs a role in every project.
  `/` (a redirect) and `/static` (CSS, icons) need a role in some project.
- A referenced experiment or run that does not exist is a 404 from the check itself (fail closed:
  nothing is let through unchecked); `experiments_body` ignores unknown ids, since the search is
  restricted to exactly those ids and an unknown one matches nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from plimsoll.core.auth.entities import Role


class Scope(StrEnum):
    PUBLIC = "public"
    GLOBAL = "global"
    SELF = "self"
    TOKEN = "token"
    UI = "ui"
    ALL_PROJECTS = "all_projects"
    PROJECT_PATH = "project_path"
    PROJECT_QUERY = "project_query"
    PROJECT_BODY = "project_body"
    EXPERIMENT = "experiment"
    RUN = "run"
    EXPERIMENT_REF = "experiment_ref"
    RUNS_QUERY = "runs_query"
    EXPERIMENT_BODY = "experiment_body"
    RUNS_BODY = "runs_body"
    EXPERIMENTS_BODY = "experiments_body"

    @property
    def needs_body(self) -> bool:
        """Whether the project is read from the JSON body (the check buffers it, then replays it)."""
        return self in _BODY_SCOPES

    @property
    def has_project(self) -> bool:
        return self not in _PROJECTLESS_SCOPES


_BODY_SCOPES = frozenset({Scope.PROJECT_BODY, Scope.EXPERIMENT_BODY, Scope.RUNS_BODY, Scope.EXPERIMENTS_BODY})
_PROJECTLESS_SCOPES = frozenset({Scope.PUBLIC, Scope.GLOBAL, Scope.SELF, Scope.TOKEN, Scope.UI})


@dataclass(frozen=True)
class Rule:
    """Who may call a route: `role` (None: no project role involved) found through `scope`."""

    role: Role | None
    scope: Scope

    def describe(self) -> str:
        if self.scope is Scope.PUBLIC:
            return "anyone"
        if self.scope is Scope.GLOBAL:
            return "site admin" if self.role is Role.ADMIN else "any user"
        if self.scope is Scope.SELF:
            return "the user named, or a site admin"
        if self.scope is Scope.TOKEN:
            return "the token's owner, or a site admin"
        assert self.role is not None
        if self.scope is Scope.UI:
            return f"{self.role.value} of some project"
        if self.scope is Scope.ALL_PROJECTS:
            return f"{self.role.value} of every project"
        return self.role.value


PUBLIC = Rule(None, Scope.PUBLIC)
AUTHENTICATED = Rule(None, Scope.GLOBAL)
SITE_ADMIN = Rule(Role.ADMIN, Scope.GLOBAL)
SELF = Rule(None, Scope.SELF)
TOKEN_OWNER = Rule(None, Scope.TOKEN)
UI = Rule(Role.VIEWER, Scope.UI)


def read(scope: Scope) -> Rule:
    return Rule(Role.VIEWER, scope)


def write(scope: Scope) -> Rule:
    return Rule(Role.CONTRIBUTOR, scope)


def admin(scope: Scope) -> Rule:
    return Rule(Role.ADMIN, scope)


_API = "/api/v1"

PERMISSIONS: Mapping[tuple[str, str], Rule] = MappingProxyType(
    {
        # -- operations and API description ------------------------------------------------------
        ("GET", "/healthz"): PUBLIC,
        ("GET", "/readyz"): PUBLIC,
        ("GET", "/metrics"): PUBLIC,
        ("GET", "/openapi.json"): PUBLIC,
        ("GET", "/docs"): PUBLIC,
        ("GET", "/docs/oauth2-redirect"): PUBLIC,
        ("GET", "/redoc"): PUBLIC,
        # -- users, tokens, roles (core/auth/api.py) ---------------------------------------------
        ("GET", f"{_API}/whoami"): AUTHENTICATED,
        ("GET", f"{_API}/users"): SITE_ADMIN,
        ("POST", f"{_API}/users"): SITE_ADMIN,
        ("POST", f"{_API}/projects"): SITE_ADMIN,
        ("GET", f"{_API}/users/{{name}}/tokens"): SELF,
        ("POST", f"{_API}/users/{{name}}/tokens"): SELF,
        ("DELETE", f"{_API}/tokens/{{token_id}}"): TOKEN_OWNER,
        ("GET", f"{_API}/projects/{{project}}/roles"): read(Scope.PROJECT_PATH),
        ("PUT", f"{_API}/projects/{{project}}/roles/{{user}}"): admin(Scope.PROJECT_PATH),
        ("DELETE", f"{_API}/projects/{{project}}/roles/{{user}}"): admin(Scope.PROJECT_PATH),
        # -- web UI (server/ui): each page checks the project whose data it shows ---------------
        ("GET", "/"): UI,
        ("GET", "/static"): UI,
        ("GET", "/experiments"): read(Scope.PROJECT_QUERY),
        ("GET", "/experiments/{experiment_ref}"): read(Scope.EXPERIMENT_REF),
        ("GET", "/runs"): read(Scope.ALL_PROJECTS),
        ("GET", "/runs/{run_id}"): read(Scope.RUN),
        ("GET", "/compare"): read(Scope.RUNS_QUERY),
        # -- tracking (tracking/api.py) ----------------------------------------------------------
        ("GET", f"{_API}/projects"): AUTHENTICATED,
        ("GET", f"{_API}/experiments"): read(Scope.PROJECT_QUERY),
        ("POST", f"{_API}/experiments"): write(Scope.PROJECT_BODY),
        ("POST", f"{_API}/experiments/ensure"): write(Scope.PROJECT_BODY),
        ("GET", f"{_API}/experiments/{{experiment_id}}"): read(Scope.EXPERIMENT),
        ("PATCH", f"{_API}/experiments/{{experiment_id}}"): write(Scope.EXPERIMENT),
        ("DELETE", f"{_API}/experiments/{{experiment_id}}"): write(Scope.EXPERIMENT),
        ("POST", f"{_API}/experiments/{{experiment_id}}/restore"): write(Scope.EXPERIMENT),
        ("POST", f"{_API}/runs"): write(Scope.EXPERIMENT_BODY),
        ("POST", f"{_API}/runs/ingest"): write(Scope.RUNS_BODY),
        ("POST", f"{_API}/runs/search"): read(Scope.EXPERIMENTS_BODY),
        ("GET", f"{_API}/runs/{{run_id}}"): read(Scope.RUN),
        ("DELETE", f"{_API}/runs/{{run_id}}"): write(Scope.RUN),
        ("POST", f"{_API}/runs/{{run_id}}/end"): write(Scope.RUN),
        ("POST", f"{_API}/runs/{{run_id}}/restore"): write(Scope.RUN),
        ("POST", f"{_API}/runs/{{run_id}}/log"): write(Scope.RUN),
        ("DELETE", f"{_API}/runs/{{run_id}}/tags/{{key:path}}"): write(Scope.RUN),
        ("GET", f"{_API}/runs/{{run_id}}/metrics"): read(Scope.RUN),
        ("GET", f"{_API}/runs/{{run_id}}/metrics/{{key:path}}/history"): read(Scope.RUN),
        ("GET", f"{_API}/runs/{{run_id}}/artifacts"): read(Scope.RUN),
        ("GET", f"{_API}/runs/{{run_id}}/artifacts/{{path:path}}"): read(Scope.RUN),
        ("PUT", f"{_API}/runs/{{run_id}}/artifacts/{{path:path}}"): write(Scope.RUN),
    }
)


def rule_for(method: str, path: str) -> Rule | None:
    """The rule of a route, or None (which means: refused when auth is on)."""
    return PERMISSIONS.get(("GET" if method == "HEAD" else method, path))


def markdown_table() -> str:
    """The table as Markdown, the way docs/security.md shows it (a test keeps the two equal)."""
    lines = ["| method | route | who | scope |", "| --- | --- | --- | --- |"]
    for (method, path), rule in sorted(PERMISSIONS.items(), key=lambda item: (item[0][1], item[0][0])):
        lines.append(f"| {method} | `{path}` | {rule.describe()} | {rule.scope.value} |")
    return "\n".join(lines)

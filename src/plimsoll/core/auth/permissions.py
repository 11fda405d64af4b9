"""Permission rows: for every HTTP route, the role it needs and how its project is found.

Each capability declares its rows (`Capability.permissions`, a sequence of `Permission`); the
server gathers every descriptor's rows into one `PermissionTable` that the auth guard consults.
A row is `(method, route template)` spelled exactly as FastAPI shows it (`route.path`, converters
included: `/api/v1/runs/{run_id}/tags/{key:path}`); a `Mount` (static files) is keyed by
`("GET", mount.path)` and covers everything below it. `HEAD` is checked as `GET`.

Deny by default: with auth on, a request that matches a route with no row is refused (403,
PERMISSION_DENIED, "route ... has no permission rule"), and the test suite fails when any route
of `create_app()` has no row, so a new route cannot ship unprotected by accident.

How the project is found is the rule's `Scope`. Six scopes involve no project and are decided
by the guard itself (`public`, `global`, `self`, `token`, `account`, `ui`); every other scope is a resolver
that returns the `Resource`s a request touches (a project and, where it matters, the resource
itself), reading through the declaring capability's own service. A referenced record that does
not exist is a NotFound from the resolver (fail closed: nothing is let through unchecked).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from starlette.datastructures import QueryParams

from plimsoll.core.auth.entities import Role
from plimsoll.core.errors import InvalidParameter
from plimsoll.core.projects import DEFAULT_PROJECT


@dataclass(frozen=True)
class Resource:
    """What a request touches: always a project; the record itself where a check needs it.

    A record in a project where the caller holds no role is answered as if it did not exist, so
    that 403 and 404 do not tell whether it does: `missing` is what the request would have been
    answered for a record that does not exist (default "<kind> '<id>' not found"), and `instead`
    the project whose role it would then have needed, if any."""

    project: str
    kind: str = "project"
    id: str | None = None
    missing: str | None = field(default=None, compare=False)
    instead: str | None = field(default=None, compare=False)

    def not_found(self) -> str:
        return self.missing or f"{self.kind} {self.id!r} not found"


@dataclass(frozen=True)
class RequestFacts:
    """What a resolver may look at: path parameters, query parameters (parsed by Starlette, as the
    route will parse them: `.get` is the last value) and the parsed JSON body (None when the scope
    does not need it)."""

    path_params: Mapping[str, Any] = field(default_factory=dict)
    query: QueryParams = field(default_factory=QueryParams)
    body: Any = None


@dataclass(frozen=True)
class Resolving:
    """A resolver's inputs: the request, the declaring capability's service, and the projects."""

    facts: RequestFacts
    service: Any
    projects: Any  # core.projects.service.ProjectService


Resolver = Callable[[Resolving], set[Resource]]


@dataclass(frozen=True, eq=False)
class Scope:
    """Where a rule's project comes from. Compared by identity: each scope is one object."""

    name: str
    description: str
    resolve: Resolver | None = None  # None: one of the guard's own projectless scopes
    needs_body: bool = False  # the guard buffers the JSON body and replays it to the route
    # A sentence added to a refusal, given the request (e.g. "name the experiments to search").
    hint: Callable[[RequestFacts], str | None] | None = None

    @property
    def has_project(self) -> bool:
        return self.resolve is not None

    def resources(self, resolving: Resolving) -> set[Resource]:
        if self.resolve is None:
            raise AssertionError(f"scope {self.name!r} has no project")
        return self.resolve(resolving)


def _projects(*names: str) -> set[Resource]:
    return {Resource(name) for name in names}


def string(field_name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidParameter(field_name, f"must be a string, got {type(value).__name__}")
    return value


def json_object(field_name: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidParameter(field_name, f"must be a JSON object, got {type(value).__name__}")
    return value


PUBLIC = Scope("public", "none: anyone, even without a token")
GLOBAL = Scope("global", 'none: any authenticated user; "site admin" rows only site admins')
SELF = Scope("self", "none: the user named by the `{name}` path parameter, or a site admin")
TOKEN = Scope("token", "none: the owner of the `{token_id}` token, or a site admin")
UI = Scope("ui", "the caller needs a role in at least one project (pages that show no project's data)")
ACCOUNT = Scope("account", "none: the signed-in user's own account (never a token bound to a project)")
ALL_PROJECTS = Scope(
    "all_projects",
    "every project (a page that lists records of every project)",
    lambda r: _projects(*r.projects.list()),
)
PROJECT_PATH = Scope(
    "project_path",
    "the `{project}` path parameter",
    lambda r: _projects(string("project", r.facts.path_params.get("project"))),
)
PROJECT_QUERY = Scope(
    "project_query",
    "`?project=` (default `default`)",
    lambda r: _projects(r.facts.query.get("project", DEFAULT_PROJECT)),
)
PROJECT_BODY = Scope(
    "project_body",
    "the JSON body's `project` field (default `default`)",
    lambda r: _projects(string("project", json_object("body", r.facts.body).get("project", DEFAULT_PROJECT))),
    needs_body=True,
)


@dataclass(frozen=True)
class Rule:
    """Who may call a route: `role` (None: no project role involved) found through `scope`."""

    role: Role | None
    scope: Scope

    def describe(self) -> str:
        if self.scope is PUBLIC:
            return "anyone"
        if self.scope is GLOBAL:
            return "site admin" if self.role is Role.ADMIN else "any user"
        if self.scope is SELF:
            return "the user named, or a site admin"
        if self.scope is TOKEN:
            return "the token's owner, or a site admin"
        if self.scope is ACCOUNT:
            return "the user themself"
        assert self.role is not None
        if self.scope is UI:
            return f"{self.role.value} of some project"
        if self.scope is ALL_PROJECTS:
            return f"{self.role.value} of every project"
        return self.role.value


ANYONE = Rule(None, PUBLIC)
AUTHENTICATED = Rule(None, GLOBAL)
SITE_ADMIN = Rule(Role.ADMIN, GLOBAL)
THE_USER = Rule(None, SELF)
TOKEN_OWNER = Rule(None, TOKEN)
SOME_PROJECT = Rule(Role.VIEWER, UI)
OWN_ACCOUNT = Rule(None, ACCOUNT)


def read(scope: Scope) -> Rule:
    return Rule(Role.VIEWER, scope)


def write(scope: Scope) -> Rule:
    return Rule(Role.CONTRIBUTOR, scope)


def admin(scope: Scope) -> Rule:
    return Rule(Role.ADMIN, scope)


@dataclass(frozen=True)
class Permission:
    """One row: `method` and `path` as FastAPI spells the route, and who may call it."""

    method: str
    path: str
    rule: Rule


@dataclass(frozen=True)
class Entry:
    rule: Rule
    service: Any  # what the rule's resolver reads through: the declaring capability's service


class PermissionTable:
    """Every row of every capability, by `(method, route template)`."""

    def __init__(self, rows: Iterable[tuple[Permission, Any]]) -> None:
        entries: dict[tuple[str, str], Entry] = {}
        for permission, service in rows:
            key = (permission.method, permission.path)
            if key in entries:
                raise ValueError(f"two permission rows for {key[0]} {key[1]}")
            entries[key] = Entry(permission.rule, service)
        self.entries: Mapping[tuple[str, str], Entry] = MappingProxyType(entries)

    def entry_for(self, method: str, path: str) -> Entry | None:
        """The row of a route, or None (which means: refused when auth is on)."""
        return self.entries.get(("GET" if method == "HEAD" else method, path))

    def scopes(self) -> list[Scope]:
        found: list[Scope] = []
        for entry in self.entries.values():
            if all(entry.rule.scope is not seen for seen in found):
                found.append(entry.rule.scope)
        return found

    def markdown(self) -> str:
        """The table as Markdown, the way docs/security.md shows it (a test keeps the two equal)."""
        lines = ["| method | route | who | scope |", "| --- | --- | --- | --- |"]
        for (method, path), entry in sorted(self.entries.items(), key=lambda item: (item[0][1], item[0][0])):
            lines.append(f"| {method} | `{path}` | {entry.rule.describe()} | {entry.rule.scope.name} |")
        return "\n".join(lines)


def rows(service: Any, permissions: Sequence[Permission]) -> list[tuple[Permission, Any]]:
    return [(permission, service) for permission in permissions]


_API = "/api/v1"

# The rows of users, tokens and roles (core/auth/api.py).
PERMISSIONS: tuple[Permission, ...] = (
    Permission("GET", f"{_API}/whoami", AUTHENTICATED),
    Permission("GET", f"{_API}/users", SITE_ADMIN),
    Permission("POST", f"{_API}/users", SITE_ADMIN),
    Permission("POST", f"{_API}/users/{{name}}/disable", SITE_ADMIN),
    Permission("POST", f"{_API}/users/{{name}}/enable", SITE_ADMIN),
    Permission("GET", f"{_API}/tokens", SITE_ADMIN),
    Permission("GET", f"{_API}/users/{{name}}/tokens", THE_USER),
    Permission("POST", f"{_API}/users/{{name}}/tokens", THE_USER),
    Permission("DELETE", f"{_API}/tokens/{{token_id}}", TOKEN_OWNER),
    Permission("POST", f"{_API}/service-accounts", SITE_ADMIN),
    Permission("GET", f"{_API}/users/{{name}}/sessions", THE_USER),
    Permission("DELETE", f"{_API}/users/{{name}}/sessions/{{session_id}}", THE_USER),
    Permission("GET", f"{_API}/projects/{{project}}/roles", read(PROJECT_PATH)),
    Permission("PUT", f"{_API}/projects/{{project}}/roles/{{user}}", admin(PROJECT_PATH)),
    Permission("DELETE", f"{_API}/projects/{{project}}/roles/{{user}}", admin(PROJECT_PATH)),
    # -- web pages (server/ui/account): signing in, one's own account, and the site admin's ------
    Permission("GET", "/sign-in", ANYONE),
    Permission("POST", "/sign-in", ANYONE),  # the form carries its own CSRF check (no session yet)
    Permission("GET", "/sign-in/sso", ANYONE),
    Permission("GET", "/sign-in/sso/callback", ANYONE),
    Permission("POST", "/sign-out", AUTHENTICATED),
    Permission("GET", "/account", OWN_ACCOUNT),
    Permission("POST", "/account/profile", OWN_ACCOUNT),
    Permission("GET", "/account/password", OWN_ACCOUNT),
    Permission("POST", "/account/password", OWN_ACCOUNT),
    Permission("POST", "/account/sessions/{session_id}/end", OWN_ACCOUNT),
    Permission("POST", "/account/tokens", OWN_ACCOUNT),
    Permission("POST", "/account/tokens/{token_id}/revoke", OWN_ACCOUNT),
    Permission("GET", "/admin/users", SITE_ADMIN),
    Permission("POST", "/admin/users", SITE_ADMIN),
    Permission("GET", "/admin/users/{name}", SITE_ADMIN),
    Permission("POST", "/admin/users/{name}/disable", SITE_ADMIN),
    Permission("POST", "/admin/users/{name}/enable", SITE_ADMIN),
    Permission("POST", "/admin/users/{name}/reset-password", SITE_ADMIN),
    Permission("POST", "/admin/users/{name}/site-admin", SITE_ADMIN),
    Permission("POST", "/admin/users/{name}/sessions/end", SITE_ADMIN),
    Permission("GET", "/admin/tokens", SITE_ADMIN),
    Permission("POST", "/admin/tokens/{token_id}/revoke", SITE_ADMIN),
    Permission("GET", "/admin/service-accounts", SITE_ADMIN),
    Permission("POST", "/admin/service-accounts", SITE_ADMIN),
    Permission("POST", "/admin/service-accounts/{name}/tokens", SITE_ADMIN),
    Permission("GET", "/projects/{project}/members", read(PROJECT_PATH)),
    Permission("POST", "/projects/{project}/members", admin(PROJECT_PATH)),
    Permission("POST", "/projects/{project}/members/{user}/remove", admin(PROJECT_PATH)),
)

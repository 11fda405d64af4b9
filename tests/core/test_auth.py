"""Users, hashed API tokens, per-project roles and the deny-by-default permission table.

Service tests run on both backends through `db`; HTTP tests run a real server (the conftest
`live_server`) over a Platform with auth on, built by the `platform` override below.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.responses import Response
from starlette.testclient import TestClient

from plimsoll.core import audit
from plimsoll.core.auth import permissions as p
from plimsoll.core.auth.api import flatten_routes
from plimsoll.core.auth.entities import Role
from plimsoll.core.auth.service import AuthService, hash_token
from plimsoll.core.db import Database
from plimsoll.core.errors import (
    Conflict,
    InvalidParameter,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from plimsoll.core.ids import now_ms
from plimsoll.core.outbox import Outbox
from plimsoll.core.projects.store import projects
from plimsoll.platform import Platform, event_catalog, schema_of
from plimsoll.server.app import create_app

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def service(db: Database) -> Iterator[AuthService]:
    """The service alone, on both backends, with an outbox for its events."""
    outbox = Outbox(db, event_catalog())
    try:
        yield AuthService(db, outbox)
    finally:
        outbox.close()


def _add_project(db: Database, name: str) -> None:
    with db.write() as conn:
        conn.execute(projects.insert().values(name=name, description="", created_at=now_ms()))


def _everything_stored(db: Database) -> str:
    """Every row of every table, as one string: what a secret must never appear in."""
    dump = []
    with db.read() as conn:
        for table in schema_of().sorted_tables():
            dump.extend(repr(tuple(row)) for row in conn.execute(sa.select(table)))
    return "\n".join(dump)


# -- service ---------------------------------------------------------------------------------------


def test_tokens_are_stored_hashed_and_the_secret_is_nowhere(db: Database, service: AuthService) -> None:
    service.create_user("ada", actor="root")
    new = service.create_token("ada", label="laptop")

    assert re.fullmatch(r"plm_[A-Za-z0-9_-]{40}", new.secret)
    assert new.secret not in repr(new)
    with db.read() as conn:
        stored = conn.execute(sa.text("SELECT token_hash FROM api_tokens")).scalar_one()
    assert stored == hashlib.sha256(new.secret.encode()).hexdigest() == hash_token(new.secret)
    everything = _everything_stored(db)
    assert new.secret not in everything
    assert new.secret[4:] not in everything
    with db.read() as conn:
        events = audit.list_events(conn)
    assert stored not in repr(events)  # not even the hash goes into the audit log
    assert service.authenticate(new.secret).name == "ada"
    assert "secret" not in new.token.to_dict() and "token_hash" not in new.token.to_dict()


def test_unknown_revoked_and_expired_tokens_are_refused_without_echoing_them(
    db: Database, service: AuthService
) -> None:
    service.create_user("ada", actor="root")
    revoked = service.create_token("ada")
    expired = service.create_token("ada", expires_at=now_ms() + 60_000)
    service.revoke_token(revoked.token.id, actor="ada")
    with db.write() as conn:  # arrange: the expiry passed
        conn.execute(
            sa.text("UPDATE api_tokens SET expires_at = :t WHERE id = :id"),
            {"t": now_ms() - 1, "id": expired.token.id},
        )

    for secret, words in [
        (revoked.secret, "was revoked"),
        (expired.secret, "expired at"),
        ("plm_" + "x" * 40, "unknown API token"),
        ("not-a-token", "start with 'plm_'"),
    ]:
        with pytest.raises(Unauthenticated, match=words) as caught:
            service.authenticate(secret)
        assert secret not in str(caught.value) and secret not in repr(caught.value.details)

    assert service.revoke_token(revoked.token.id, actor="ada").revoked_at is not None  # idempotent
    with pytest.raises(InvalidParameter, match="expires_at"):
        service.create_token("ada", expires_at=now_ms() - 1000)
    with pytest.raises(NotFound, match="user 'nobody'"):
        service.create_token("nobody")


def test_roles_are_ordered() -> None:
    assert Role.VIEWER < Role.CONTRIBUTOR < Role.APPROVER < Role.ADMIN
    assert Role.ADMIN >= Role.ADMIN > Role.VIEWER
    assert sorted([Role.ADMIN, Role.VIEWER, Role.APPROVER, Role.CONTRIBUTOR]) == list(Role)
    assert Role.parse("approver") is Role.APPROVER
    with pytest.raises(InvalidParameter, match="'owner' is not a role; the roles are viewer, contributor"):
        Role.parse("owner")


def test_grants_require_and_site_admins_are_admin_everywhere(db: Database, service: AuthService) -> None:
    _add_project(db, "churn")
    service.create_user("root", is_admin=True, actor="local-setup")
    service.create_user("bob", actor="root")

    assert service.role_of("bob", "churn") is None
    assert service.role_of("root", "churn") is Role.ADMIN
    assert service.role_of("root", "default") is Role.ADMIN
    service.require("root", "churn", Role.ADMIN)

    service.grant("churn", "bob", Role.CONTRIBUTOR, actor="root")
    service.require("bob", "churn", Role.VIEWER)
    service.require("bob", "churn", Role.CONTRIBUTOR)
    with pytest.raises(PermissionDenied) as caught:
        service.require("bob", "churn", Role.APPROVER)
    message = caught.value.message
    assert "'bob'" in message and "'churn'" in message and "approver" in message and "contributor" in message
    assert caught.value.details == {
        "user": "bob",
        "project": "churn",
        "needed": "approver",
        "held": "contributor",
    }
    with pytest.raises(PermissionDenied, match="holds no role there"):
        service.require("bob", "default", Role.VIEWER)

    service.grant("churn", "bob", "approver", actor="root")  # replaces the role
    assert service.role_of("bob", "churn") is Role.APPROVER
    assert service.members("churn") == {"bob": Role.APPROVER}
    service.revoke_role("churn", "bob", actor="root")
    assert service.role_of("bob", "churn") is None
    with pytest.raises(NotFound, match="holds no role"):
        service.revoke_role("churn", "bob", actor="root")
    with pytest.raises(NotFound, match="project 'nope'"):
        service.grant("nope", "bob", Role.VIEWER, actor="root")


def test_every_change_is_audited_and_the_chain_verifies(db: Database, service: AuthService) -> None:
    first = service.bootstrap_admin("root")
    service.create_user("bob", actor="root")
    token = service.create_token("bob", label="ci", actor="root")
    service.grant("default", "bob", Role.VIEWER, actor="root")
    service.grant("default", "bob", Role.CONTRIBUTOR, actor="root")
    service.revoke_role("default", "bob", actor="root")
    service.revoke_token(token.token.id, actor="bob")

    with db.read() as conn:
        events = audit.list_events(conn)
        assert audit.verify_chain(conn) == (True, None)
    assert [(e.actor, e.action, e.resource_id) for e in events] == [
        ("local", "user.create", "root"),
        ("local", "token.create", first.token.id),
        ("root", "user.create", "bob"),
        ("root", "token.create", token.token.id),
        ("root", "role.grant", "default/bob"),
        ("root", "role.grant", "default/bob"),
        ("root", "role.revoke", "default/bob"),
        ("bob", "token.revoke", token.token.id),
    ]
    assert events[5].before == {"user": "bob", "role": "viewer"}
    assert events[5].after == {"user": "bob", "role": "contributor"}
    assert events[5].project == "default"
    assert events[7].after["revoked_at"] is not None


def test_bootstrap_only_makes_the_first_admin_and_names_are_checked(service: AuthService) -> None:
    first = service.bootstrap_admin("root")
    assert service.authenticate(first.secret).is_admin
    with pytest.raises(Conflict, match="users already exist"):
        service.bootstrap_admin("mallory")
    with pytest.raises(Conflict, match="already exists"):
        service.create_user("root", actor="root")
    with pytest.raises(InvalidParameter, match="reserved"):
        service.create_user("local", actor="root")
    with pytest.raises(InvalidParameter, match="name: must not contain '/'"):
        service.create_user("a/b", actor="root")
    assert [u.name for u in service.list_users()] == ["root"]


# -- the table -------------------------------------------------------------------------------------


def _route_keys(app: Any) -> set[tuple[str, str]]:
    keys = set()
    for entry in flatten_routes(app.routes):
        for method in ("GET",) if entry.mount else sorted((entry.methods or {"GET"}) - {"HEAD"}):
            keys.add(entry.rule_key(method))
    return keys


def test_every_route_has_a_permission_rule(sqlite_platform: Platform) -> None:
    app = create_app(sqlite_platform)
    keys = _route_keys(app)
    rows = set(app.state.permissions.entries)

    missing = sorted(keys - rows)
    assert not missing, f"routes without a permission row in their capability's permissions: {missing}"
    stale = sorted(rows - keys)
    assert not stale, f"permission rows for routes that do not exist: {stale}"
    # The flattening sees every route the OpenAPI schema lists (so no route hides from the check).
    # (OpenAPI drops path converters, `{key:path}` is `{key}` there, and keeps one spelling of
    # templates that differ only in their parameters' names: compare the templates' shapes.)
    shapes = {(method, re.sub(r"\{[^}]+\}", "{}", path)) for method, path in keys}
    for path, operations in app.openapi()["paths"].items():
        for method in operations:
            assert (method.upper(), re.sub(r"\{[^}]+\}", "{}", path)) in shapes
    assert ("GET", "/static") in keys  # mounts are covered too


def test_the_table_is_well_formed_and_documented(sqlite_platform: Platform) -> None:
    table = create_app(sqlite_platform).state.permissions
    for (method, path), entry in table.entries.items():
        rule = entry.rule
        assert method in {"GET", "POST", "PUT", "PATCH", "DELETE"}, (method, path)
        if rule.scope in {p.PUBLIC, p.SELF, p.TOKEN, p.ACCOUNT}:
            assert rule.role is None, (method, path)
        elif rule.scope is p.GLOBAL:
            assert rule.role in {None, Role.ADMIN}, (method, path)
        else:
            assert rule.role is not None, (method, path)
        if method == "GET" and rule.role is not None and rule.scope is not p.GLOBAL:
            assert rule.role is Role.VIEWER, f"{method} {path}: reads need viewer"
    doc = (REPO_ROOT / "docs" / "security.md").read_text()
    assert table.markdown() in doc, (
        "docs/security.md: paste create_app(platform).state.permissions.markdown()"
    )
    for scope in table.scopes():
        assert f"| `{scope.name}` |" in doc, f"docs/security.md does not explain scope {scope.name}"


def test_a_route_without_a_rule_is_refused(tmp_path: Path) -> None:
    platform = Platform(home=tmp_path / ".plimsoll", auth=True).startup()
    try:
        app = create_app(platform)

        @app.get("/api/v1/forgotten")
        def forgotten() -> Response:
            return Response("leaked")

        secret = platform.auth.bootstrap_admin("root").secret
        with TestClient(app, base_url="http://localhost") as client:
            answer = client.get("/api/v1/forgotten", headers={"Authorization": f"Bearer {secret}"})
            assert answer.status_code == 403
            error = answer.json()["error"]
            assert error["code"] == "PERMISSION_DENIED"
            assert "GET /api/v1/forgotten has no permission rule" in error["message"]
            assert client.get("/api/v1/forgotten").status_code == 401
            assert (
                client.get("/api/v1/nowhere", headers={"Authorization": f"Bearer {secret}"}).status_code
                == 404
            )
    finally:
        platform.close()


# -- HTTP, auth on -----------------------------------------------------------------------------------


@pytest.fixture
def auth() -> bool:
    return True


@pytest.fixture
def platform(database_url: str, tmp_path: Path, auth: bool) -> Iterator[Platform]:
    """Overrides the conftest `platform` (and so what `live_server` serves): auth on by default."""
    instance = Platform(store_url=database_url, blobs_url=str(tmp_path / "blobs"), auth=auth).startup()
    try:
        yield instance
    finally:
        instance.close()


class World:
    """Projects a and b, an experiment and a run in each, and users with tokens."""

    def __init__(self, platform: Platform, url: str) -> None:
        self.url = url
        self.service: AuthService = platform.auth
        _add_project(platform.db, "a")
        _add_project(platform.db, "b")
        self.root = self.service.bootstrap_admin("root").secret
        tracking = platform.tracking
        self.exp_a = tracking.create_experiment("exp-a", project="a", actor="root").id
        self.exp_b = tracking.create_experiment("exp-b", project="b", actor="root").id
        self.run_a = tracking.create_run(self.exp_a, actor="root").id
        self.run_b = tracking.create_run(self.exp_b, actor="root").id
        self.tokens: dict[str, str] = {}

    def user(self, name: str, **roles: Role) -> str:
        self.service.create_user(name, actor="root")
        for project, role in roles.items():
            self.service.grant(project, name, role, actor="root")
        self.tokens[name] = self.service.create_token(name, actor="root").secret
        return self.tokens[name]

    def client(self, secret: str | None = None) -> httpx.Client:
        headers = {} if secret is None else {"Authorization": f"Bearer {secret}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


@pytest.fixture
def world(platform: Platform, live_server: Any) -> World:
    return World(platform, live_server.url)


def _error(answer: httpx.Response, status: int, code: str) -> str:
    assert answer.status_code == status, answer.text
    error = answer.json()["error"]
    assert error["code"] == code
    assert set(error) == {"code", "message", "details"}
    return str(error["message"])


def test_no_or_bad_token_is_401_and_public_routes_stay_open(world: World) -> None:
    with world.client() as anonymous:
        answer = anonymous.get(f"/api/v1/runs/{world.run_a}")
        assert "Authorization: Bearer" in _error(answer, 401, "UNAUTHENTICATED")
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert anonymous.get("/healthz").status_code == 200
        assert anonymous.get("/metrics").status_code == 200
        assert anonymous.get("/openapi.json").status_code == 200
        wrong = "plm_" + "y" * 40
        answer = anonymous.get("/api/v1/whoami", headers={"Authorization": f"Bearer {wrong}"})
        assert wrong not in _error(answer, 401, "UNAUTHENTICATED")
        answer = anonymous.get("/api/v1/whoami", headers={"Authorization": "Basic abc"})
        assert "'Bearer <token>'" in _error(answer, 401, "UNAUTHENTICATED")


def test_viewer_reads_but_cannot_write_and_contributor_logs(world: World, platform: Platform) -> None:
    viewer = world.user("vera", a=Role.VIEWER)
    contributor = world.user("carl", a=Role.CONTRIBUTOR)
    with world.client(viewer) as vera, world.client(contributor) as carl:
        assert vera.get(f"/api/v1/runs/{world.run_a}").status_code == 200
        assert vera.get("/api/v1/experiments", params={"project": "a"}).status_code == 200
        assert vera.get(f"/api/v1/runs/{world.run_a}/metrics").status_code == 200
        message = _error(
            vera.post("/api/v1/runs", json={"experiment_id": world.exp_a}), 403, "PERMISSION_DENIED"
        )
        assert "'vera'" in message and "contributor" in message and "'a'" in message and "viewer" in message
        _error(
            vera.post(f"/api/v1/runs/{world.run_a}/log", json={"params": {"lr": "0.1"}}),
            403,
            "PERMISSION_DENIED",
        )

        created = carl.post("/api/v1/runs", json={"experiment_id": world.exp_a})
        assert created.status_code == 201, created.text
        run_id = created.json()["id"]
        logged = carl.post(
            f"/api/v1/runs/{run_id}/log",
            json={"params": {"lr": "0.1"}, "metrics": [{"key": "auc", "value": 0.9}]},
        )
        assert logged.status_code == 200, logged.text
        made = carl.post("/api/v1/experiments", json={"name": "carl-exp", "project": "a"})
        assert made.status_code == 201, made.text  # the body was read by the check and by the route
        _error(carl.post("/api/v1/experiments", json={"name": "x"}), 403, "PERMISSION_DENIED")  # default
        assert carl.get("/api/v1/whoami").json() == {
            "user": "carl",
            "is_admin": False,
            "auth": True,
            "kind": "person",
            "bound": False,
            "via": "token",
            "roles": {"a": "contributor"},
        }
    assert platform.tracking.get_run(run_id).params == {"lr": "0.1"}
    with platform.db.read() as conn:
        actors = {e.actor for e in audit.list_events(conn) if e.resource_id in {run_id, made.json()["id"]}}
    assert actors == {"carl"}


def test_a_role_in_one_project_reads_nothing_of_another(world: World) -> None:
    viewer = world.user("vera", a=Role.VIEWER)
    with world.client(viewer) as vera:
        # Another project's records are answered as records that do not exist (docs/security.md).
        message = _error(vera.get(f"/api/v1/runs/{world.run_b}"), 404, "NOT_FOUND")
        assert message == f"run {world.run_b!r} not found"
        # By id, an experiment vera may not see is looked for by name in ?project=default instead.
        _error(vera.get(f"/api/v1/experiments/{world.exp_b}"), 403, "PERMISSION_DENIED")
        _error(vera.get(f"/api/v1/runs/{world.run_b}/artifacts"), 404, "NOT_FOUND")
        _error(vera.get("/api/v1/experiments", params={"project": "b"}), 403, "PERMISSION_DENIED")
        # Search: only the experiments named, and naming none means every project.
        assert vera.post("/api/v1/runs/search", json={"experiment_ids": [world.exp_a]}).status_code == 200
        _error(vera.post("/api/v1/runs/search", json={"experiment_ids": [world.exp_b]}), 404, "NOT_FOUND")
        message = _error(vera.post("/api/v1/runs/search", json={}), 403, "PERMISSION_DENIED")
        assert "name the project" in message
        # ... and naming a project searches that project's experiments only.
        in_a = vera.post("/api/v1/runs/search", json={"project": "a"})
        assert [run["id"] for run in in_a.json()["runs"]] == [world.run_a]
        _error(vera.post("/api/v1/runs/search", json={"project": "b"}), 403, "PERMISSION_DENIED")
        # A run that does not exist is a 404 from the check; nothing unchecked reaches a route.
        _error(vera.get("/api/v1/runs/" + "0" * 32), 404, "NOT_FOUND")


def test_ingest_needs_the_role_in_every_project_it_touches(world: World) -> None:
    contributor = world.user("carl", a=Role.CONTRIBUTOR)
    batch = {
        "runs": [
            {"run_id": world.run_a, "params": {"p": "1"}},
            {"run_id": world.run_b, "params": {"p": "1"}},
        ]
    }
    creating = {
        "runs": [{"run_id": "1" * 32, "create": {"experiment_id": world.exp_b}, "params": {"p": "1"}}]
    }
    with world.client(contributor) as carl:
        message = _error(carl.post("/api/v1/runs/ingest", json=batch), 404, "NOT_FOUND")
        assert world.run_b in message  # b's run is answered as no run: carl holds nothing in b
        _error(carl.post("/api/v1/runs/ingest", json=creating), 404, "NOT_FOUND")
        world.service.grant("b", "carl", Role.CONTRIBUTOR, actor="root")
        answer = carl.post("/api/v1/runs/ingest", json=batch)
        assert answer.status_code == 200, answer.text
        answer = carl.post("/api/v1/runs/ingest", json=creating)
        assert answer.status_code == 200, answer.text
        assert carl.get(f"/api/v1/runs/{'1' * 32}").json()["user"] == "carl"  # the caller, not "local"
        _error(carl.post("/api/v1/runs/ingest", json={"runs": [{"run_id": "2" * 32}]}), 404, "NOT_FOUND")
        _error(carl.post("/api/v1/runs/ingest", content=b"{not json"), 400, "INVALID_PARAMETER")


def test_users_tokens_and_roles_over_http(world: World) -> None:
    bob = world.user("bob", a=Role.ADMIN)
    with world.client(world.root) as root, world.client(bob) as client:
        assert root.post("/api/v1/users", json={"name": "dana"}).status_code == 201
        _error(client.post("/api/v1/users", json={"name": "eve"}), 403, "PERMISSION_DENIED")
        made = client.post("/api/v1/users/bob/tokens", json={"label": "ci"})
        assert made.status_code == 201, made.text
        secret = made.json()["token"]
        assert secret.startswith("plm_")
        assert "token" not in client.get("/api/v1/users/bob/tokens").json()["tokens"][0]
        _error(client.post("/api/v1/users/dana/tokens", json={}), 403, "PERMISSION_DENIED")
        # A project admin grants roles in their project, and only there.
        assert client.put("/api/v1/projects/a/roles/dana", json={"role": "viewer"}).status_code == 200
        _error(client.put("/api/v1/projects/b/roles/dana", json={"role": "viewer"}), 403, "PERMISSION_DENIED")
        _error(client.put("/api/v1/projects/a/roles/dana", json={"role": "owner"}), 400, "INVALID_PARAMETER")
        assert client.get("/api/v1/projects/a/roles").json()["roles"] == {"bob": "admin", "dana": "viewer"}
        # Revoking a token takes effect at once.
        token_id = made.json()["id"]
        with world.client(secret) as second:
            assert second.get("/api/v1/whoami").status_code == 200
            assert client.delete(f"/api/v1/tokens/{token_id}").status_code == 200
            assert "was revoked" in _error(second.get("/api/v1/whoami"), 401, "UNAUTHENTICATED")


def test_ui_pages_use_the_session_and_the_same_project_checks(world: World, platform: Platform) -> None:
    world.user("vera", a=Role.VIEWER)
    platform.auth.sign_in.set_password("vera", "a long passphrase for V", actor="root")
    session = platform.auth.sign_in.with_password("vera", "a long passphrase for V").secret
    with httpx.Client(base_url=world.url, cookies={"plimsoll_session": session}, timeout=10) as browser:
        assert browser.get(f"/runs/{world.run_a}").status_code == 200
        assert browser.get(f"/runs/{world.run_b}").status_code == 404  # as a run that does not exist
        assert browser.get(f"/experiments/{world.exp_a}").status_code == 200
        assert browser.get("/experiments/exp-b", params={"project": "b"}).status_code == 403
        assert browser.get("/compare", params={"runs": f"{world.run_a},{world.run_b}"}).status_code == 404
        assert browser.get("/runs").status_code == 403  # every experiment's runs: every project
        # A session writes only from the UI's own origin (no cross-site requests).
        body = {"name": "x", "project": "a"}
        answer = browser.post("/api/v1/experiments", json=body, headers={"Origin": "https://evil.example"})
        assert "another site" in _error(answer, 403, "PERMISSION_DENIED")


# -- HTTP, auth off ------------------------------------------------------------------------------------


@pytest.mark.parametrize("auth", [False])
def test_with_auth_off_everything_runs_as_local(live_server: Any, platform: Platform) -> None:
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        assert client.get("/api/v1/whoami").json()["user"] == "local"
        made = client.post("/api/v1/experiments", json={"name": "solo"})
        assert made.status_code == 201, made.text
        run = client.post("/api/v1/runs", json={"experiment_id": made.json()["id"]})
        assert run.status_code == 201, run.text
        assert client.get(f"/api/v1/runs/{run.json()['id']}").status_code == 200
        assert client.get("/runs").status_code == 200
    with platform.db.read() as conn:
        assert {e.actor for e in audit.list_events(conn)} == {"local"}

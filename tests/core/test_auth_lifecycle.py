"""Tokens and users over their life: a token cannot mint a longer-lived one, a maximum lifetime is
enforced, users are disabled and enabled, an admin lists and revokes anyone's tokens, every change
is an audit entry and an event, and refused authentications are counted by reason in /metrics and
logged without the token. Both backends: the rules read and write the store."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from plimsoll.cli import _output
from plimsoll.cli.main import build_cli
from plimsoll.core import audit
from plimsoll.core.auth.entities import Role
from plimsoll.core.auth.service import DAY_MS, FAILURE_REASONS, AuthService
from plimsoll.core.config import Settings
from plimsoll.core.db import Database
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound, Unauthenticated
from plimsoll.core.ids import now_ms
from plimsoll.core.outbox import Outbox
from plimsoll.platform import Platform, event_catalog
from plimsoll.server.testing import LiveServer

pytestmark = pytest.mark.auth_on  # the conftest `platform` (and `live_server`) with auth on

HOUR_MS = 3_600_000


@pytest.fixture
def outbox(db: Database) -> Iterator[Outbox]:
    box = Outbox(db, event_catalog())
    try:
        yield box
    finally:
        box.close()


def _events(outbox: Outbox) -> list[tuple[str, str, dict[str, Any]]]:
    return [(event.type, event.actor, event.payload) for event in outbox.follow(limit=1000).events]


def _audit(db: Database) -> list[tuple[str, str, str]]:
    with db.read() as conn:
        return [(e.actor, e.action, e.resource_id) for e in audit.list_events(conn)]


# -- the service --------------------------------------------------------------------------------


def test_the_maximum_lifetime_bounds_every_new_token(db: Database, outbox: Outbox) -> None:
    service = AuthService(db, outbox, token_max_days=1)
    first = service.bootstrap_admin("root")
    assert first.token.expires_at is not None
    assert abs(first.token.expires_at - (now_ms() + DAY_MS)) < 60_000  # bootstrap tokens too
    service.create_user("bob", actor="root")
    default = service.create_token("bob", actor="root")
    assert default.token.expires_at is not None and default.token.expires_at <= now_ms() + DAY_MS
    assert service.create_token("bob", expires_at=now_ms() + HOUR_MS, actor="root").token.expires_at
    with pytest.raises(InvalidParameter, match="at most 1 day on this server") as caught:
        service.create_token("bob", expires_at=now_ms() + 2 * DAY_MS, actor="root")
    assert caught.value.field == "expires_at" and caught.value.details["limit"] <= now_ms() + DAY_MS
    # Unlimited unless configured.
    assert AuthService(db, outbox).create_token("bob", actor="root").token.expires_at is None


def test_the_setting_is_read_and_checked(tmp_path: Path) -> None:
    assert Settings.from_env({"PLIMSOLL_TOKEN_MAX_DAYS": "0.5"}).token_max_days == 0.5
    assert Settings.from_env({}).token_max_days is None
    for bad in ("0", "-1", "soon", "inf", "nan"):
        with pytest.raises(InvalidParameter, match="PLIMSOLL_TOKEN_MAX_DAYS"):
            Settings.from_env({"PLIMSOLL_TOKEN_MAX_DAYS": bad})
    platform = Platform(home=tmp_path / ".plimsoll", token_max_days=7)
    try:
        assert platform.auth.token_max_days == 7
    finally:
        platform.close()


def test_disabling_a_user_refuses_their_tokens_until_enabled(db: Database, outbox: Outbox) -> None:
    service = AuthService(db, outbox)
    service.bootstrap_admin("root")
    service.create_user("bob", actor="root")
    bob = service.create_token("bob", actor="root")
    revoked = service.create_token("bob", actor="root")
    service.revoke_token(revoked.token.id, actor="root")
    assert service.authenticate(bob.secret).name == "bob"

    disabled = service.disable_user("bob", actor="root")
    assert disabled.disabled_at is not None and service.get_user("bob").disabled
    with pytest.raises(Unauthenticated, match="'bob' was disabled") as caught:
        service.authenticate(bob.secret)
    assert caught.value.details == {"reason": "user_disabled", "token_id": bob.token.id}
    assert bob.secret not in caught.value.message
    assert service.disable_user("bob", actor="root") == disabled  # again: nothing changes
    with pytest.raises(Conflict, match="disabled"):
        service.create_token("bob", actor="root")

    assert service.enable_user("bob", actor="root").disabled_at is None
    assert service.authenticate(bob.secret).name == "bob"
    with pytest.raises(Unauthenticated, match="was revoked"):  # enabling does not undo a revocation
        service.authenticate(revoked.secret)
    with pytest.raises(NotFound, match="'nobody'"):
        service.disable_user("nobody", actor="root")

    # The last enabled site admin cannot be disabled; with a second one, the first can.
    with pytest.raises(Conflict, match="last enabled site admin"):
        service.disable_user("root", actor="root")
    service.create_user("ada", is_admin=True, actor="root")
    service.disable_user("root", actor="ada")
    with pytest.raises(Conflict, match="last enabled site admin"):
        service.disable_user("ada", actor="ada")

    assert [row for row in _audit(db) if row[1] in {"user.disable", "user.enable"}] == [
        ("root", "user.disable", "bob"),
        ("root", "user.enable", "bob"),
        ("ada", "user.disable", "root"),
    ]
    types = [(kind, actor, payload) for kind, actor, payload in _events(outbox) if kind.startswith("user.")]
    assert types == [
        ("user.created", "local", {"user": "root", "is_admin": True}),
        ("user.created", "root", {"user": "bob", "is_admin": False}),
        ("user.disabled", "root", {"user": "bob"}),
        ("user.enabled", "root", {"user": "bob"}),
        ("user.created", "root", {"user": "ada", "is_admin": True}),
        ("user.disabled", "ada", {"user": "root"}),
    ]


def test_every_auth_change_is_also_an_event_naming_tokens_by_id(db: Database, outbox: Outbox) -> None:
    service = AuthService(db, outbox)
    first = service.bootstrap_admin("root")
    service.create_user("bob", actor="root")
    token = service.create_token("bob", label="ci", actor="root")
    service.grant("default", "bob", Role.VIEWER, actor="root")
    service.grant("default", "bob", Role.CONTRIBUTOR, actor="root")
    service.revoke_role("default", "bob", actor="root")
    service.revoke_token(token.token.id, actor="root")
    events = _events(outbox)
    assert [kind for kind, _, _ in events] == [
        "user.created", "token.created", "user.created", "token.created",
        "role.granted", "role.granted", "role.revoked", "token.revoked",
    ]  # fmt: skip
    assert events[3][2] == {"token_id": token.token.id, "user": "bob", "label": "ci", "expires_at": None}
    assert events[5][2] == {"project": "default", "user": "bob", "role": "contributor", "previous": "viewer"}
    assert events[7][2] == {"token_id": token.token.id, "user": "bob"}
    for secret in (first.secret, token.secret):
        assert secret not in repr(events) and secret[4:] not in repr(events)


# -- over HTTP ----------------------------------------------------------------------------------


class Site:
    def __init__(self, platform: Platform, server: LiveServer) -> None:
        self.platform = platform
        self.url = server.url
        self.auth = platform.auth
        self.root = self.auth.bootstrap_admin("root").secret
        self.auth.create_user("carl", actor="root")
        self.auth.grant("default", "carl", Role.CONTRIBUTOR, actor="root")

    def client(self, secret: str | None = None) -> httpx.Client:
        headers = {} if secret is None else {"Authorization": f"Bearer {secret}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)


@pytest.fixture
def site(platform: Platform, live_server: LiveServer) -> Site:
    return Site(platform, live_server)


def _error(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert error["code"] == code
    return error


def test_a_token_may_not_outlive_the_token_that_creates_it(site: Site) -> None:
    parent_expiry = now_ms() + HOUR_MS
    expiring = site.auth.create_token("carl", expires_at=parent_expiry, actor="root")
    with site.client(expiring.secret) as carl:
        made = carl.post("/api/v1/users/carl/tokens", json={"label": "child"})
        assert made.status_code == 201, made.text
        assert made.json()["expires_at"] == parent_expiry  # not "never": the parent's expiry
        error = _error(
            carl.post("/api/v1/users/carl/tokens", json={"expires_at": parent_expiry + 1000}),
            400,
            "INVALID_PARAMETER",
        )
        assert error["details"]["field"] == "expires_at" and error["details"]["limit"] == parent_expiry
        assert "may not outlive the token that creates it" in error["message"]
        assert expiring.token.id in error["message"] and expiring.secret not in error["message"]
        shorter = carl.post("/api/v1/users/carl/tokens", json={"expires_at": parent_expiry - 1000})
        assert shorter.status_code == 201 and shorter.json()["expires_at"] == parent_expiry - 1000
        # ... nor can a child mint a grandchild that lives longer.
        with site.client(made.json()["token"]) as child:
            grandchild = child.post("/api/v1/users/carl/tokens", json={})
            assert grandchild.json()["expires_at"] == parent_expiry
    # A token without expiry may mint tokens without expiry; a site admin may mint anything.
    forever = site.auth.create_token("carl", actor="root")
    with site.client(forever.secret) as carl:
        assert carl.post("/api/v1/users/carl/tokens", json={}).json()["expires_at"] is None
    admin_expiring = site.auth.create_token("root", expires_at=now_ms() + HOUR_MS, actor="root")
    with site.client(admin_expiring.secret) as admin:
        later = now_ms() + 30 * DAY_MS
        made = admin.post("/api/v1/users/carl/tokens", json={"expires_at": later})
        assert made.status_code == 201 and made.json()["expires_at"] == later
        assert admin.post("/api/v1/users/carl/tokens", json={}).json()["expires_at"] is None
    with site.platform.db.read() as conn:
        created = [e for e in audit.list_events(conn) if e.action == "token.create" and e.actor == "carl"]
    assert created and all(e.after["created_with"] for e in created)


def test_disabling_a_user_over_http_stops_their_tokens_at_once(site: Site) -> None:
    carl = site.auth.create_token("carl", actor="root").secret
    with site.client(site.root) as root, site.client(carl) as client:
        assert client.get("/api/v1/whoami").status_code == 200
        _error(client.post("/api/v1/users/carl/disable"), 403, "PERMISSION_DENIED")  # site admins only
        disabled = root.post("/api/v1/users/carl/disable")
        assert disabled.status_code == 200 and disabled.json()["disabled_at"] is not None
        error = _error(client.get("/api/v1/whoami"), 401, "UNAUTHENTICATED")
        assert error["details"]["reason"] == "user_disabled" and "'carl'" in error["message"]
        _error(client.post("/api/v1/experiments", json={"name": "x"}), 401, "UNAUTHENTICATED")
        listed = {u["name"]: u["disabled_at"] for u in root.get("/api/v1/users").json()["users"]}
        assert listed["carl"] is not None and listed["root"] is None
        _error(root.post("/api/v1/users/root/disable"), 409, "CONFLICT")  # the last site admin
        _error(root.post("/api/v1/users/nobody/disable"), 404, "NOT_FOUND")
        assert root.post("/api/v1/users/carl/enable").json()["disabled_at"] is None
        assert client.get("/api/v1/whoami").json()["user"] == "carl"
    assert [(a, act, r) for a, act, r in _audit_of(site) if act.startswith("user.")][-2:] == [
        ("root", "user.disable", "carl"),
        ("root", "user.enable", "carl"),
    ]


def _audit_of(site: Site) -> list[tuple[str, str, str]]:
    with site.platform.db.read() as conn:
        return [(e.actor, e.action, e.resource_id) for e in audit.list_events(conn)]


def test_an_admin_lists_and_revokes_any_users_tokens(site: Site) -> None:
    carl = site.auth.create_token("carl", label="laptop", actor="carl")
    other = site.auth.create_token("carl", label="ci", actor="carl")
    with site.client(site.root) as root, site.client(carl.secret) as client:
        everyone = root.get("/api/v1/tokens").json()["tokens"]
        assert {(t["user"], t["label"]) for t in everyone} == {
            ("root", "bootstrap"),
            ("carl", "laptop"),
            ("carl", "ci"),
        }
        assert all("token" not in t and "token_hash" not in t for t in everyone)
        only_carl = root.get("/api/v1/tokens", params={"user": "carl"}).json()["tokens"]
        # oldest first; two tokens made in the same millisecond may come in either order
        assert sorted(t["label"] for t in only_carl) == ["ci", "laptop"]
        _error(root.get("/api/v1/tokens", params={"user": "nobody"}), 404, "NOT_FOUND")
        _error(client.get("/api/v1/tokens"), 403, "PERMISSION_DENIED")
        assert root.delete(f"/api/v1/tokens/{other.token.id}").json()["revoked_at"] is not None
        assert client.get("/api/v1/whoami").status_code == 200  # the other token is untouched
        assert root.delete(f"/api/v1/tokens/{carl.token.id}").status_code == 200
        assert _error(client.get("/api/v1/whoami"), 401, "UNAUTHENTICATED")["details"]["reason"] == "revoked"
    assert ("root", "token.revoke", carl.token.id) in _audit_of(site)
    events = [e for e in site.platform.outbox.follow(limit=1000).events if e.type == "token.revoked"]
    assert {(e.actor, e.payload["token_id"]) for e in events} == {
        ("root", carl.token.id),
        ("root", other.token.id),
    }


def _metric(text: str, reason: str) -> float:
    found = re.search(rf'^plimsoll_auth_failures_total\{{reason="{reason}"\}} (\S+)$', text, re.MULTILINE)
    assert found, f"no series for reason {reason}"
    return float(found.group(1))


def test_refusals_are_counted_by_reason_and_logged_without_the_token(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    expired = site.auth.create_token("carl", expires_at=now_ms() + HOUR_MS, actor="root")
    revoked = site.auth.create_token("carl", actor="root")
    site.auth.revoke_token(revoked.token.id, actor="root")
    site.auth.create_user("dora", actor="root")
    disabled = site.auth.create_token("dora", actor="root")
    site.auth.disable_user("dora", actor="root")
    with site.platform.db.write() as conn:  # arrange: the expiry passed
        conn.execute(
            sa.text("UPDATE api_tokens SET expires_at = :t WHERE id = :id"),
            {"t": now_ms() - 1, "id": expired.token.id},
        )
    unknown = "plm_" + "u" * 40
    attempts: list[tuple[dict[str, str], str]] = [
        ({}, "missing"),
        ({"Authorization": "Basic basic-credentials"}, "malformed"),
        ({"Authorization": "Bearer not-a-token"}, "malformed"),
        ({"Authorization": f"Bearer {unknown}"}, "unknown"),
        ({"Authorization": f"Bearer {expired.secret}"}, "expired"),
        ({"Authorization": f"Bearer {revoked.secret}"}, "revoked"),
        ({"Authorization": f"Bearer {disabled.secret}"}, "user_disabled"),
    ]
    with site.client() as client:
        before = client.get("/metrics").text
        assert all(_metric(before, reason) == 0 for reason in FAILURE_REASONS)  # every series, from 0
        with caplog.at_level(logging.INFO, logger="plimsoll.auth"):
            for headers, reason in attempts:
                error = _error(client.get("/api/v1/whoami", headers=headers), 401, "UNAUTHENTICATED")
                assert error["details"]["reason"] == reason
        after = client.get("/metrics").text
    assert {reason: _metric(after, reason) for reason in FAILURE_REASONS} == {
        "missing": 1, "malformed": 2, "unknown": 1, "expired": 1, "revoked": 1, "user_disabled": 1,
    }  # fmt: skip
    logged = [record.getMessage() for record in caplog.records if record.name == "plimsoll.auth"]
    assert len(logged) == len(attempts)
    for (_, reason), line in zip(attempts, logged, strict=True):
        assert f"({reason})" in line and "/api/v1/whoami" in line
    everything = "\n".join(logged)
    for secret in (
        unknown,
        expired.secret,
        revoked.secret,
        disabled.secret,
        "not-a-token",
        "basic-credentials",
    ):
        assert secret not in everything
    assert expired.token.id in everything  # a known token is named by its id


def test_users_and_tokens_from_the_command_line(tmp_path: Path) -> None:
    home = ["--home", str(tmp_path / ".plimsoll")]
    runner = CliRunner()
    _output.console.width = 200

    def run(*args: str, **env: str) -> Any:
        result = runner.invoke(build_cli(), list(args), env={"COLUMNS": "200", **env})
        assert "Traceback" not in result.output, result.output
        return result

    assert run("users", "bootstrap", "root", *home).exit_code == 0
    assert run("users", "create", "bob", *home).exit_code == 0
    made = run("tokens", "create", "bob", "--label", "laptop", "--days", "2", *home)
    assert made.exit_code == 0, made.output
    secret = re.search(r"plm_[A-Za-z0-9_-]{40}", made.output)
    assert secret is not None
    assert run("users", "disable", "bob", *home).exit_code == 0
    listed = run("users", "list", "--json", *home)
    users = {u["name"]: u for u in orjson.loads(listed.stdout)["users"]}
    assert users["bob"]["disabled_at"] is not None and users["root"]["is_admin"]
    assert run("users", "disable", "root", *home).exit_code == 4  # the last site admin
    assert run("users", "enable", "bob", *home).exit_code == 0
    tokens = orjson.loads(run("tokens", "list", "bob", "--json", *home).stdout)["tokens"]
    assert [t["label"] for t in tokens] == ["laptop"]
    assert 1.9 * DAY_MS < tokens[0]["expires_at"] - tokens[0]["created_at"] <= 2 * DAY_MS
    assert secret.group(0) not in run("tokens", "list", *home).output
    assert "laptop" in run("tokens", "list", *home).output
    platform = Platform(home=tmp_path / ".plimsoll").startup()
    try:
        assert platform.auth.authenticate(secret.group(0)).name == "bob"
        with platform.db.read() as conn:
            actions = [(e.actor, e.action) for e in audit.list_events(conn)]
        assert ("cli-admin", "user.disable") in actions and ("cli-admin", "user.enable") in actions
    finally:
        platform.close()
    assert run("tokens", "create", "bob", "--days", "30", *home).exit_code == 0  # no maximum set
    too_long = run("tokens", "create", "bob", "--days", "30", *home, PLIMSOLL_TOKEN_MAX_DAYS="7")
    assert too_long.exit_code == 2 and "at most 7 days" in too_long.output

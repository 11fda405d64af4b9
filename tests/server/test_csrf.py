"""CSRF: every state-changing route of the app, tried with a signed-in browser's cookie but without
the session's CSRF token, with a wrong one, and from another origin. Each is refused (403, reason
`csrf`) before anything is read or written; the routes are read from the app, so a route added
later is covered. With auth off (single-user mode) a cross-site post is refused as well.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from plimsoll.core import audit
from plimsoll.core.config import Settings
from plimsoll.core.ids import new_id
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
PASSWORD = "a passphrase long enough"


@pytest.fixture
def signed_in(tmp_path: Path) -> Iterator[tuple[LiveServer, Platform, str, str]]:
    platform = Platform(Settings(home=tmp_path / ".plimsoll", auth=True)).startup()
    platform.auth.bootstrap_admin("root")
    platform.auth.sign_in.set_password("root", PASSWORD, actor="local")
    new = platform.auth.sign_in.with_password("root", PASSWORD)
    server = LiveServer(platform)
    try:
        yield server, platform, new.secret, new.credential.csrf_token
    finally:
        server.stop()
        platform.close()


def _unsafe_routes(server: LiveServer) -> list[tuple[str, str]]:
    table = server.server.config.app.state.permissions
    return sorted((method, path) for method, path in table.entries if method in UNSAFE)


def _path(template: str) -> str:
    # Any value: the CSRF check comes before any lookup of what the path names.
    parts = []
    for part in template.split("/"):
        parts.append(new_id() if part.startswith("{") else part)
    return "/".join(parts)


def _audit_length(platform: Platform) -> int:
    with platform.db.read() as conn:
        return len(audit.list_events(conn))


def _csrf_refused(answer: httpx.Response) -> str | None:
    if answer.status_code != 403:
        return f"answered {answer.status_code}: {answer.text[:200]}"
    if answer.json()["error"]["details"].get("reason") != "csrf":
        return f"refused, but not as CSRF: {answer.text[:200]}"
    return None


def test_every_state_changing_route_refuses_a_browser_without_the_token_or_from_elsewhere(
    signed_in: tuple[LiveServer, Platform, str, str],
) -> None:
    server, platform, session, token = signed_in
    routes = _unsafe_routes(server)
    public_forms = {("POST", "/sign-in")}  # before a session exists: its own check (test_access.py)
    assert len(routes) > 40, "did the routes go missing?"
    same_origin = {"Origin": server.url}
    attempts: list[tuple[str, dict[str, str], Any]] = [
        ("no token, JSON", same_origin, {"json": {"name": "x"}}),
        ("no token, form", same_origin, {"data": {"name": "x"}}),
        ("a wrong token, header", {**same_origin, "X-CSRF-Token": "forged"}, {"json": {}}),
        ("a wrong token, form", same_origin, {"data": {"csrf_token": "forged"}}),
        (
            "the right token from another origin",
            {"Origin": "https://evil.example", "X-CSRF-Token": token},
            {},
        ),
        (
            "the right token, sent by a page of a sibling site",
            {"Sec-Fetch-Site": "same-site", "X-CSRF-Token": token},
            {},
        ),
        ("the right token, no origin at all", {"X-CSRF-Token": token}, {}),
    ]
    before = _audit_length(platform)
    wrong: list[str] = []
    with httpx.Client(base_url=server.url, cookies={"plimsoll_session": session}, timeout=30) as browser:
        for method, template in routes:
            if (method, template) in public_forms:
                continue
            for what, headers, body in attempts:
                answer = browser.request(method, _path(template), headers=headers, **body)
                problem = _csrf_refused(answer)
                if problem is not None:
                    wrong.append(f"{method} {template} with {what}: {problem}")
        assert _audit_length(platform) == before, "a refused request changed something"
        # The right token from the UI's own origin passes the check (and the route then answers).
        made = browser.post(
            "/api/v1/experiments", json={"name": "ok"}, headers={**same_origin, "X-CSRF-Token": token}
        )
        assert made.status_code == 201, made.text
        form = browser.post(
            "/admin/users",
            data={"name": "bob", "csrf_token": token},
            headers={"Sec-Fetch-Site": "same-origin"},
        )
        assert form.status_code == 200 and "bob" in form.text
    assert not wrong, f"{len(wrong)} requests not refused as CSRF:\n" + "\n".join(wrong[:40])


def test_a_token_sent_by_an_api_client_needs_no_csrf_token(
    signed_in: tuple[LiveServer, Platform, str, str],
) -> None:
    server, platform, _session, _token = signed_in
    secret = platform.auth.create_token("root", actor="root").secret
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {secret}"}, timeout=10) as api:
        # A browser cannot be made to send an Authorization header by another site.
        answer = api.post(
            "/api/v1/experiments", json={"name": "from-ci"}, headers={"Origin": "https://ci.example"}
        )
        assert answer.status_code == 201, answer.text


def test_with_auth_off_a_cross_site_post_is_refused(tmp_path: Path) -> None:
    platform = Platform(Settings(home=tmp_path / ".plimsoll")).startup()
    server = LiveServer(platform)
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            from_elsewhere = client.post(
                "/admin/users", data={"name": "mallory"}, headers={"Origin": "https://evil.example"}
            )
            assert _csrf_refused(from_elsewhere) is None
            sibling = client.post(
                "/api/v1/experiments", json={"name": "x"}, headers={"Sec-Fetch-Site": "cross-site"}
            )
            assert _csrf_refused(sibling) is None
            assert "mallory" not in {user.name for user in platform.auth.list_users()}
            # The SDK, the CLI and the UI's own pages are not browsers of another site.
            assert client.post("/api/v1/experiments", json={"name": "sdk"}).status_code == 201
            same = client.post(
                "/api/v1/experiments", json={"name": "ui"}, headers={"Sec-Fetch-Site": "same-origin"}
            )
            assert same.status_code == 201
    finally:
        server.stop()
        platform.close()

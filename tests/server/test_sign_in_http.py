"""Signing in over HTTP, against a real server: the sign-in form's own CSRF check, where `next`
may lead, the brake as the browser sees it (429, Retry-After), the counts in /metrics, the cookie's
flags, the first-admin guidance, and the JSON API's sessions, bound tokens and service accounts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from plimsoll.core import audit
from plimsoll.core.config import Settings
from plimsoll.core.ids import now_ms
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer
from plimsoll.server.ui.account.sign_in import safe_next

PASSWORD = "a passphrase long enough"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[LiveServer, Platform]]:
    platform = Platform(Settings(home=tmp_path / ".plimsoll", auth=True)).startup()
    live = LiveServer(platform)
    try:
        yield live, platform
    finally:
        live.stop()
        platform.close()


def _people(platform: Platform) -> str:
    """A site admin `root` with a password; their API token."""
    token = platform.auth.bootstrap_admin("root").secret
    platform.auth.sign_in.set_password("root", PASSWORD, actor="local")
    return token


def _form_token(browser: httpx.Client) -> str:
    page = browser.get("/sign-in")
    found = re.search(r'name="form_token" value="([^"]+)"', page.text)
    assert found, page.text[:500]
    return found.group(1)


def _sign_in(browser: httpx.Client, name: str, password: str, *, next_path: str = "/") -> httpx.Response:
    token = _form_token(browser)
    return browser.post(
        "/sign-in",
        data={"name": name, "password": password, "form_token": token, "next": next_path},
        headers={"Origin": str(browser.base_url).rstrip("/")},
    )


def _metric(server: LiveServer, result: str) -> float:
    text = httpx.get(f"{server.url}/metrics").text
    found = re.search(rf'plimsoll_sign_ins_total{{method="password",result="{result}"}} ([0-9.]+)', text)
    assert found, text[:300]
    return float(found.group(1))


def test_a_server_with_no_user_shows_how_to_make_the_first_admin(server: tuple[LiveServer, Platform]) -> None:
    live, _platform = server
    page = httpx.get(f"{live.url}/sign-in")
    assert "plimsoll users bootstrap" in page.text and "set-password" in page.text
    assert 'name="password"' not in page.text


def test_the_sign_in_form_refuses_a_post_without_its_own_token_or_from_elsewhere(
    server: tuple[LiveServer, Platform],
) -> None:
    live, platform = server
    _people(platform)
    with httpx.Client(base_url=live.url, timeout=10) as browser:
        token = _form_token(browser)
        data = {"name": "root", "password": PASSWORD, "form_token": "made-up"}
        forged = browser.post("/sign-in", data=data, headers={"Origin": live.url})
        assert forged.status_code == 400 and "expired or came from another site" in forged.text
        elsewhere = browser.post(
            "/sign-in", data={**data, "form_token": token}, headers={"Origin": "https://evil.example"}
        )
        assert elsewhere.status_code == 400
        assert "plimsoll_session" not in browser.cookies
        signed_in = _sign_in(browser, "root", PASSWORD, next_path="/jobs")
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/jobs"


def test_the_session_cookie_is_httponly_lax_and_secure_when_asked(tmp_path: Path) -> None:
    platform = Platform(Settings(home=tmp_path / ".plimsoll", auth=True, cookie_secure=True)).startup()
    live = LiveServer(platform)
    try:
        _people(platform)
        with httpx.Client(base_url=live.url, timeout=10) as browser:
            token = _form_token(browser)
            # A Secure cookie is not sent back over plain HTTP, as a browser would not: by hand here.
            answer = browser.post(
                "/sign-in",
                data={"name": "root", "password": PASSWORD, "form_token": token},
                headers={"Origin": live.url, "Cookie": f"__Host-plimsoll_sign_in_form={token}"},
            )
        assert answer.status_code == 303, answer.text[:300]
        cookie = next(
            v for k, v in answer.headers.multi_items() if k == "set-cookie" and "plimsoll_session=" in v
        )
        flags = {part.strip().lower() for part in cookie.split(";")}
        assert {"httponly", "samesite=lax", "secure", "path=/"} <= flags
        assert f"max-age={12 * 3600}" in flags
        secret = cookie.split(";", 1)[0].split("=", 1)[1]
        # the unprefixed name, which a sibling sub-domain could set, is not read at all
        tossed = httpx.get(f"{live.url}/api/v1/whoami", headers={"Cookie": f"plimsoll_session={secret}"})
        assert tossed.status_code == 401
        own = httpx.get(f"{live.url}/api/v1/whoami", headers={"Cookie": f"__Host-plimsoll_session={secret}"})
        assert own.status_code == 200 and own.json()["via"] == "session"
    finally:
        live.stop()
        platform.close()


@pytest.mark.parametrize(
    ("asked", "goes"),
    [
        ("/runs?view=all", "/runs?view=all"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("/ok\r\nSet-Cookie: x=1", "/"),
        ("", "/"),
    ],
)
def test_next_only_ever_leads_to_a_path_of_this_server(asked: str, goes: str) -> None:
    assert safe_next(asked) == goes


def test_failures_are_counted_braked_and_audited(tmp_path: Path) -> None:
    platform = Platform(Settings(home=tmp_path / ".plimsoll", auth=True)).startup()
    platform.auth.sign_in.policy = type(platform.auth.sign_in.policy)(
        account_free_failures=1, first_delay_ms=30_000
    )
    live = LiveServer(platform)
    try:
        _people(platform)
        with httpx.Client(base_url=live.url, timeout=10) as browser:
            failed_before = _metric(live, "failed")
            first = _sign_in(browser, "root", "wrong password, long enough")
            assert first.status_code == 401 and "Wrong user name or password." in first.text
            second = _sign_in(browser, "root", "wrong again, still long")
            assert second.status_code == 401
            braked = _sign_in(browser, "root", PASSWORD)  # right, but braked
            assert braked.status_code == 429
            assert 1 <= int(braked.headers["retry-after"]) <= 30
            assert "try again in" in braked.text
            assert "plimsoll_session" not in browser.cookies
        assert _metric(live, "failed") == failed_before + 2
        assert _metric(live, "throttled") == 1
        with platform.db.read() as conn:
            failures = [e for e in audit.list_events(conn) if e.action == "session.sign_in_failed"]
        assert [(e.resource_id, e.after["reason"]) for e in failures] == [("root", "wrong_password")] * 2
        assert all(e.after["address"] == "127.0.0.1" for e in failures)
    finally:
        live.stop()
        platform.close()


def test_odd_names_and_huge_passwords_are_just_wrong(server: tuple[LiveServer, Platform]) -> None:
    live, platform = server
    _people(platform)
    with httpx.Client(base_url=live.url, timeout=30) as browser:
        for name, password in [
            ("ro\x00ot", PASSWORD),
            ("\ud800", PASSWORD),
            ("x" * 10_000, PASSWORD),
            ("root", "p" * 100_000),
        ]:
            token = _form_token(browser)
            body = {"name": name, "password": password, "form_token": token}
            raw = "&".join(
                f"{key}={quote(value.encode('utf-8', 'surrogatepass'))}" for key, value in body.items()
            )
            answer = browser.post(
                "/sign-in",
                content=raw.encode(),
                headers={"Origin": live.url, "Content-Type": "application/x-www-form-urlencoded"},
            )
            assert answer.status_code == 401, (name[:20], answer.text[:200])
            assert "Wrong user name or password." in answer.text


def test_sessions_bound_tokens_and_service_accounts_over_the_api(server: tuple[LiveServer, Platform]) -> None:
    live, platform = server
    root = _people(platform)
    api = httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {root}"}, timeout=10)
    with api, httpx.Client(base_url=live.url, timeout=10) as browser:
        _sign_in(browser, "root", PASSWORD)
        sessions = api.get("/api/v1/users/root/sessions").json()["sessions"]
        assert len(sessions) == 1 and sessions[0]["address"] == "127.0.0.1"
        assert api.delete(f"/api/v1/users/root/sessions/{sessions[0]['id']}").status_code == 200
        assert browser.get("/api/v1/whoami").status_code == 401  # that browser is signed out
        made = api.post(
            "/api/v1/service-accounts",
            json={
                "name": "ci",
                "project": "default",
                "role": "contributor",
                "expires_at": now_ms() + 86_400_000,
            },
        )
        assert made.status_code == 201, made.text
        ci = httpx.Client(
            base_url=live.url, headers={"Authorization": f"Bearer {made.json()['token']}"}, timeout=10
        )
        with ci:
            me = ci.get("/api/v1/whoami").json()
            assert me == {
                "user": "ci",
                "is_admin": False,
                "auth": True,
                "roles": {"default": "contributor"},
                "kind": "service",
                "bound": True,
                "via": "token",
            }
            assert ci.post("/api/v1/experiments", json={"name": "from-ci"}).status_code == 201
            refused = ci.post("/api/v1/users/ci/tokens", json={"label": "escape"})
            assert refused.status_code == 403 and "bound" in refused.json()["error"]["message"]
            assert ci.get("/account", headers={"Accept": "text/html"}).status_code == 403
        bound = api.post(
            "/api/v1/users/root/tokens", json={"label": "ro", "project": "default", "role": "viewer"}
        )
        assert bound.status_code == 201 and bound.json()["project"] == "default"
        with httpx.Client(
            base_url=live.url, headers={"Authorization": f"Bearer {bound.json()['token']}"}
        ) as ro:
            assert ro.get("/api/v1/whoami").json()["is_admin"] is False
            assert ro.post("/api/v1/experiments", json={"name": "nope"}).status_code == 403
            assert ro.get("/api/v1/users").status_code == 403  # never a site admin's token

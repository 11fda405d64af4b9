"""The account, admin and members pages end to end: a real server with authentication on, Debian's
Chromium for what a person does (create and revoke a token, end a session, change a password,
manage users, roles and service accounts), and httpx for who is refused and what bad input gets.

Browsers are signed in through the service (a password, then a session whose secret goes into the
`plimsoll_session` cookie): the sign-in page is not what is tested here."""

from __future__ import annotations

import html
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from ui_support import Console, browser_tab

from plimsoll.core.auth.api import SESSION_COOKIE
from plimsoll.core.auth.entities import NewSession, Role
from plimsoll.core.errors import Unauthenticated
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("ui")]

PASSWORD = "a long enough passphrase"


@dataclass
class Site:
    platform: Platform
    url: str

    def person(self, name: str, *, roles: dict[str, Role] | None = None, admin: bool = False) -> NewSession:
        """A user with a password, signed in: the session (its secret is the cookie)."""
        auth = self.platform.auth
        auth.create_user(name, is_admin=admin, actor="root")
        for project, role in (roles or {}).items():
            auth.grant(project, name, role, actor="root")
        auth.sign_in.set_password(name, PASSWORD, actor="root")
        return auth.sign_in.with_password(name, PASSWORD)

    @contextmanager
    def client(self, session: NewSession) -> Iterator[httpx.Client]:
        """An httpx client signed in as the session, sending its CSRF token with every form."""
        with httpx.Client(base_url=self.url, cookies={SESSION_COOKIE: session.secret}, timeout=10) as client:
            yield client

    def post(self, client: httpx.Client, session: NewSession, path: str, **form: str) -> httpx.Response:
        data = {"csrf_token": session.credential.csrf_token, **form}
        return client.post(path, data=data, headers={"Origin": self.url})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    platform = Platform(home=tmp_path_factory.mktemp("accounts") / ".plimsoll", auth=True).startup()
    platform.auth.bootstrap_admin("root")
    platform.projects.create("other", actor="root")
    server = LiveServer(platform)
    try:
        yield Site(platform, server.url)
    finally:
        server.stop()
        platform.close()


@contextmanager
def signed_in(browser: Any, site: Site, console: Console, session: NewSession) -> Iterator[Any]:
    with browser_tab(browser, site.url, console) as tab:
        tab.context.add_cookies([{"name": SESSION_COOKIE, "value": session.secret, "url": site.url}])
        yield tab


def _field_error(tab: Any, field: str) -> str:
    return str(tab.locator(f'.field-error[data-field="{field}"]').inner_text())


# -- one's own account, in Chromium ------------------------------------------------------------------


def test_a_user_makes_and_revokes_a_token_and_ends_another_session(
    browser: Any, site: Site, console: Console
) -> None:
    ada = site.person("ada", roles={"default": Role.VIEWER})
    elsewhere = site.platform.auth.sign_in.with_password("ada", PASSWORD)
    with signed_in(browser, site, console, ada) as tab:
        tab.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site.url)
        tab.goto("/account")
        assert tab.locator("h1").inner_text().startswith("ada")
        tab.fill("#label", "laptop")
        tab.fill("#expires_in_days", "7")
        with tab.expect_response(lambda r: r.url.endswith("/account/tokens")) as created:
            tab.click("#token-form button[type=submit]")
        assert created.value.status == 200
        assert created.value.headers["cache-control"] == "no-store"
        secret = tab.locator("#secret").inner_text()
        assert secret.startswith("plm_")
        tab.click("#copy-secret")
        tab.wait_for_function("document.getElementById('copy-secret').textContent === 'Copied'")
        assert tab.evaluate("navigator.clipboard.readText()") == secret
        assert site.platform.auth.authenticate(secret).name == "ada"

        tab.goto("/account")
        assert secret not in tab.content()  # shown once, then only its label and id
        row = tab.locator("#tokens-table tr", has_text="laptop")
        assert row.get_attribute("data-state") == "active"
        assert row.locator("td").nth(3).inner_text() == "in 7 days"
        row.get_by_role("button", name="Revoke").click()
        assert tab.locator("#notice").inner_text() == "Token revoked."
        assert tab.locator("#tokens-table tr", has_text="laptop").get_attribute("data-state") == "revoked"
        with pytest.raises(Unauthenticated, match="was revoked"):
            site.platform.auth.authenticate(secret)

        other = tab.locator(f'#sessions-table tr[data-session-id="{elsewhere.credential.session.id}"]')
        assert tab.locator(f'tr[data-session-id="{ada.credential.session.id}"] .this-session').count() == 1
        other.get_by_role("button", name="End").click()
        assert tab.locator("#notice").inner_text() == "Session ended."
        assert other.count() == 0
        with pytest.raises(Unauthenticated):
            site.platform.auth.sign_in.identify(elsewhere.secret)


def test_a_user_changes_their_password(browser: Any, site: Site, console: Console) -> None:
    bea = site.person("bea", roles={"default": Role.VIEWER})
    with signed_in(browser, site, console, bea) as tab:
        console.expect_http_error = True  # the refused form comes back as a 400 page, on purpose
        tab.goto("/account/password?next=/account")
        tab.fill("#current_password", "not my password at all")
        tab.fill("#new_password", "a brand new passphrase")
        tab.fill("#confirm", "a brand new passphrase")
        tab.click("#password-form button[type=submit]")
        assert _field_error(tab, "current_password") == "is not your current password"
        tab.fill("#current_password", PASSWORD)
        tab.fill("#new_password", "a brand new passphrase")
        tab.fill("#confirm", "a brand new passphrase")
        tab.click("#password-form button[type=submit]")
        tab.wait_for_url("**/account")
        assert tab.locator("h1").inner_text().startswith("bea")  # this session stays signed in
    site.platform.auth.sign_in.with_password("bea", "a brand new passphrase")
    with pytest.raises(Unauthenticated):
        site.platform.auth.sign_in.with_password("bea", PASSWORD)


# -- the site admin, in Chromium -------------------------------------------------------------------


def test_an_admin_creates_grants_resets_and_disables_a_user(
    browser: Any, site: Site, console: Console
) -> None:
    admin = site.person("alan", admin=True)
    with signed_in(browser, site, console, admin) as tab:
        tab.goto("/admin/users")
        tab.fill("#name", "carol")
        tab.fill("#display_name", "Carol C")
        tab.fill("#email", "carol@example.com")
        tab.click("#create-user-form button[type=submit]")
        temporary = tab.locator("#secret").inner_text()
        carol = site.platform.auth.sign_in.with_password("carol", temporary)

        # Her first page is the password form, which says why.
        with signed_in(browser, site, console, carol) as carol_tab:
            carol_tab.goto("/account")
            assert carol_tab.url.endswith("/account/password")
            assert "temporary password" in carol_tab.locator("#must-change").inner_text()
        site.platform.auth.sign_in.change_password(
            carol.credential.user,
            temporary,
            "her own passphrase here",
            session_id=carol.credential.session.id,
        )

        tab.goto("/projects/default/members")
        tab.select_option("#user", "carol")
        tab.select_option("#role", "contributor")
        tab.click("#grant-form button[type=submit]")
        assert tab.locator("#notice").inner_text() == "Role granted."
        assert tab.locator('#members-table tr[data-user="carol"]').get_attribute("data-role") == "contributor"
        assert site.platform.auth.role_of("carol", "default") is Role.CONTRIBUTOR

        with signed_in(browser, site, console, carol) as carol_tab:
            carol_tab.goto("/account")
            assert carol_tab.locator('#roles-table tr[data-project="default"]').inner_text().split("\t")[
                1
            ] == ("contributor")
            tab.goto("/admin/users/carol")
            tab.click("#disable-user")
            assert "User disabled" in tab.locator("#notice").inner_text()
            console.expect_http_error = True  # the sign-in page may not be there yet on this branch
            carol_tab.reload()
            assert carol_tab.url.startswith(f"{site.url}/sign-in?next=")

        tab.get_by_role("button", name="Enable").click()
        assert tab.locator("#notice").inner_text() == "User enabled."
        tab.click("#reset-password")
        second = tab.locator("#secret").inner_text()
        assert second != temporary
        assert site.platform.auth.sign_in.with_password("carol", second).credential.user.must_change_password

        tab.goto("/admin/users/carol")
        tab.click("#toggle-site-admin")
        assert tab.locator("#notice").inner_text() == "They are now a site admin."
        assert site.platform.auth.get_user("carol").is_admin


def test_a_service_account_token_works_in_its_project_only(
    browser: Any, site: Site, console: Console
) -> None:
    admin = site.person("grace", admin=True)
    with signed_in(browser, site, console, admin) as tab:
        tab.goto("/admin/service-accounts")
        tab.fill("#name", "ci-bot")
        tab.select_option("#project", "default")
        tab.select_option("#role", "contributor")
        tab.fill("#expires_in_days", "30")
        tab.fill("#label", "nightly CI")
        with tab.expect_response(lambda r: r.url.endswith("/admin/service-accounts")) as created:
            tab.click("#create-account-form button[type=submit]")
        assert created.value.headers["cache-control"] == "no-store"
        secret = tab.locator("#secret").inner_text()
        token_id = tab.locator("#new-token").get_attribute("data-token-id")

        headers = {"Authorization": f"Bearer {secret}"}
        with httpx.Client(base_url=site.url, headers=headers, timeout=10) as ci:
            assert ci.get("/api/v1/projects/default/roles").status_code == 200
            assert ci.get("/api/v1/projects/other/roles").status_code == 403
            assert ci.get("/api/v1/users/ci-bot/tokens").status_code == 403

        tab.goto("/admin/tokens?state=active")
        row = tab.locator(f'#tokens-table tr[data-token-id="{token_id}"]')
        assert row.get_attribute("data-owner") == "ci-bot"
        assert "contributor in default" in row.inner_text()
        assert row.locator(".last-used time").count() == 1  # used just now
        tab.goto("/admin/tokens?state=revoked")
        assert tab.locator(f'tr[data-token-id="{token_id}"]').count() == 0

        tab.goto("/admin/users/ci-bot")
        assert tab.locator("h1 .kind-service").inner_text().lower() == "service account"
        assert tab.locator("#reset-password").count() == 0 and tab.locator("#sessions-h").count() == 0


# -- over HTTP: who is refused, and bad input ------------------------------------------------------


def test_a_viewer_is_refused_every_admin_page(site: Site) -> None:
    viewer = site.person("vic", roles={"default": Role.VIEWER})
    token_id = site.platform.auth.list_tokens(None)[0].id
    with site.client(viewer) as client:
        assert client.get("/account").status_code == 200
        assert client.get("/projects/default/members").status_code == 200
        for path in ("/admin/users", "/admin/users/root", "/admin/tokens", "/admin/service-accounts"):
            assert client.get(path).status_code == 403, path
        for path, form in [
            ("/admin/users", {"name": "mallory"}),
            ("/admin/users/root/disable", {}),
            ("/admin/users/root/reset-password", {}),
            ("/admin/users/vic/site-admin", {"is_admin": "1"}),
            ("/admin/users/root/sessions/end", {}),
            (f"/admin/tokens/{token_id}/revoke", {}),
            ("/admin/service-accounts", {"name": "x", "project": "default", "role": "admin"}),
            ("/projects/default/members", {"user": "vic", "role": "admin"}),
            ("/projects/default/members/root/remove", {}),
        ]:
            assert site.post(client, viewer, path, **form).status_code == 403, path
        # Another's token is no token at all to this user.
        assert site.post(client, viewer, f"/account/tokens/{token_id}/revoke").status_code == 404
    assert site.platform.auth.role_of("vic", "default") is Role.VIEWER
    assert site.platform.auth.get_token(token_id).revoked_at is None


def test_bad_input_comes_back_with_the_message_beside_the_field(site: Site) -> None:
    admin = site.person("hal", admin=True)
    with site.client(admin) as client:

        def error_of(answer: httpx.Response, field: str) -> str:
            assert answer.status_code == 400, answer.text
            marker = f'data-field="{field}">'
            assert marker in answer.text, answer.text
            return html.unescape(answer.text.split(marker, 1)[1].split("</p>", 1)[0])

        assert "must not be empty" in error_of(site.post(client, admin, "/admin/users", name=""), "name")
        too_long = site.post(client, admin, "/account/tokens", label="x", expires_in_days="400")
        assert "1 to 365 days" in error_of(too_long, "expires_in_days")
        assert 'value="400"' in too_long.text  # what was typed stays in the form
        unknown = site.post(
            client,
            admin,
            "/admin/service-accounts",
            name="ci-x",
            project="nowhere",
            role="viewer",
            expires_in_days="5",
        )
        assert "there is no project 'nowhere'" in error_of(unknown, "project")
        bogus = site.post(client, admin, "/projects/default/members", user="hal", role="owner")
        assert "is not a role" in error_of(bogus, "role")
        assert client.get("/admin/users/nobody").status_code == 404
        assert client.get("/admin/tokens?state=lost").status_code == 400
    assert "ci-x" not in {user.name for user in site.platform.auth.list_users()}


def test_with_auth_off_the_account_page_explains_single_user_mode(tmp_path: Path) -> None:
    platform = Platform(home=tmp_path / ".plimsoll").startup()
    server = LiveServer(platform)
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            page = client.get("/account")
            assert page.status_code == 200
            assert "Authentication is off" in page.text and "plimsoll users bootstrap" in page.text
            assert client.get("/admin/users").status_code == 200
            refused = client.post("/account/tokens", data={"label": "x", "expires_in_days": "3"})
            assert refused.status_code == 409
    finally:
        server.stop()
        platform.close()

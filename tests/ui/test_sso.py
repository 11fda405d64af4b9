"""Single sign-on end to end: Debian's Chromium, a real Plimsoll server with authentication on and
a real OpenID provider (`oidc-provider` from npm, tests/oidc_support.py) on 127.0.0.1.

One provider serves the module, with a redirect URI for each of the module's servers: the main one
(users created at first sign-in, groups mapped to roles) and two with other first-sign-in rules. The
groups a user has at the provider change while it runs (`Provider.set_groups`), as a directory
admin would change them."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from ui_support import Console, browser_tab

from oidc_support import Provider, running_provider
from plimsoll.core import audit
from plimsoll.core.auth import store
from plimsoll.core.auth.api import SESSION_COOKIE
from plimsoll.core.auth.entities import Role
from plimsoll.core.config import OidcSettings, Settings
from plimsoll.core.errors import NotFound
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("ui")]

LABEL = "Sign in with Example SSO"
ROLES = "ml-admins=site-admin, ml-team=default:contributor"
GROUPS = {
    "ada": ["ml-team"],
    "bob": ["ml-team"],
    "dora": ["ml-team"],
    "grace": ["ml-admins", "ml-team"],
}
PASSWORD = "a long enough passphrase"
CALLBACK = "/sign-in/sso/callback"
SITES = ("main", "strict", "linking")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Sso:
    provider: Provider
    ports: dict[str, int]  # by site name: each one's callback is registered with the provider


@dataclass
class Site:
    platform: Platform
    url: str

    def sign_ins(self, result: str) -> float:
        """plimsoll_sign_ins_total{method="sso",result=...}, as the server's /metrics says."""
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        found = re.search(rf'^plimsoll_sign_ins_total{{method="sso",result="{result}"}} (\S+)$', text, re.M)
        assert found is not None, text
        return float(found.group(1))

    def refusals(self) -> list[dict[str, Any]]:
        """What the audit log holds of refused single sign-ons, oldest first."""
        with self.platform.db.read() as conn:
            events = audit.list_events(conn, resource_type="sso")
        return [dict(event.after) for event in events if event.action == "session.sso_refused"]

    def identities(self, user: str) -> list[tuple[str, str]]:
        with self.platform.db.read() as conn:
            return store.identities_of(conn, user)

    def person(self, name: str) -> None:
        """A local user with a password, and a role to see the runs."""
        self.platform.auth.create_user(name, actor="root")
        self.platform.auth.grant("default", name, Role.VIEWER, actor="root")
        self.platform.auth.sign_in.set_password(name, PASSWORD, actor="local")


@pytest.fixture(scope="module")
def sso(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sso]:
    ports = {name: _free_port() for name in SITES}
    redirect_uris = [f"http://127.0.0.1:{port}{CALLBACK}" for port in ports.values()]
    with running_provider(
        tmp_path_factory.mktemp("provider"), redirect_uris=redirect_uris, groups=GROUPS
    ) as provider:
        yield Sso(provider, ports)


@contextmanager
def _running_site(home: Path, issuer: str, port: int, **oidc: Any) -> Iterator[Site]:
    settings = Settings(home=home / ".plimsoll", auth=True, oidc=OidcSettings(issuer=issuer, **oidc))
    platform = Platform(settings).startup()
    platform.auth.bootstrap_admin("root")
    server = LiveServer(platform, port=port)
    try:
        yield Site(platform, server.url)
    finally:
        server.stop()
        platform.close()


def _site(tmp_path_factory: pytest.TempPathFactory, sso: Sso, name: str, **options: Any) -> Iterator[Site]:
    provider = sso.provider
    with _running_site(
        tmp_path_factory.mktemp(name),
        provider.issuer,
        sso.ports[name],
        client_id=provider.client_id,
        client_secret=provider.client_secret,
        roles=ROLES,
        label=LABEL,
        **options,
    ) as site:
        yield site


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, sso: Sso) -> Iterator[Site]:
    yield from _site(tmp_path_factory, sso, "main")


@pytest.fixture(scope="module")
def strict_site(tmp_path_factory: pytest.TempPathFactory, sso: Sso) -> Iterator[Site]:
    yield from _site(tmp_path_factory, sso, "strict", create_users=False)


@pytest.fixture(scope="module")
def linking_site(tmp_path_factory: pytest.TempPathFactory, sso: Sso) -> Iterator[Site]:
    yield from _site(tmp_path_factory, sso, "linking", link_existing=True)


@contextmanager
def tab_on(browser: Any, site: Site, console: Console) -> Iterator[Any]:
    """A fresh browser on `site`. The provider's own pages ask for a web font on the internet,
    which the test machine need not reach: it gets an empty one."""
    with browser_tab(browser, site.url, console) as tab:
        tab.context.route(
            lambda url: not url.startswith("http://127.0.0.1:"),
            lambda route: route.fulfill(status=200, content_type="text/css", body=""),
        )
        yield tab


def sso_sign_in(tab: Any, provider: Provider, login: str) -> Any:
    """From a sign-in page: press the single sign-on button, log in at the provider as `login` (any
    password) and consent, each only if the provider asks (it remembers a browser it knows), until
    the browser is back; the response of the page it ends on."""
    with tab.expect_navigation() as navigation:
        tab.get_by_role("link", name=LABEL).click()
    for _ in range(3):
        if not tab.url.startswith(provider.issuer):
            return navigation.value
        if tab.locator("input[name=login]").count():
            tab.fill("input[name=login]", login)
            tab.fill("input[name=password]", "any password")
        else:
            assert tab.locator("button[type=submit]").inner_text() == "Continue"  # the consent form
        with tab.expect_navigation() as navigation:
            tab.locator("button[type=submit]").click()
    raise AssertionError(f"the provider never sent the browser back: {tab.url}")


def _path(tab: Any) -> str:
    parts = urlsplit(tab.url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _session_cookies(tab: Any) -> list[dict[str, Any]]:
    return [cookie for cookie in tab.context.cookies() if cookie["name"] == SESSION_COOKIE]


def _refused_page(tab: Any, response: Any, words: str) -> None:
    """The sign-in page, saying why, with no session: what every refused answer comes back to."""
    assert response.status == 401
    assert urlsplit(tab.url).path == CALLBACK
    assert words in tab.locator("#sign-in-error").inner_text()
    assert tab.get_by_role("link", name=LABEL).is_visible()
    assert tab.locator("#sign-in-password").is_visible()
    assert _session_cookies(tab) == []


# -- signing in ----------------------------------------------------------------------------------


def test_a_visitor_signs_in_with_the_provider_and_lands_where_they_were_going(
    browser: Any, site: Site, sso: Sso, console: Console
) -> None:
    ok = site.sign_ins("ok")
    auth = site.platform.auth
    with tab_on(browser, site, console) as tab:
        tab.goto("/runs")
        assert _path(tab) == "/sign-in?next=%2Fruns"
        sso_sign_in(tab, sso.provider, "ada")
        assert _path(tab) == "/runs"
        assert tab.locator(".who").inner_text() == "Signed in as Ada"  # the provider's display name
        assert tab.locator(".who-name").get_attribute("href") == "/account"
        (cookie,) = _session_cookies(tab)
        assert (cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (True, "Lax", "/")

        ada = auth.get_user("ada")
        assert (ada.is_admin, ada.email, ada.display_name) == (False, "ada@example.test", "Ada")
        assert auth.role_sources("ada") == {"default": (Role.CONTRIBUTOR, "sso")}
        assert site.identities("ada") == [(sso.provider.issuer, "ada")]

        # Out and in again: the provider remembers this browser, Plimsoll the same user.
        tab.get_by_role("button", name="Sign out").click()
        tab.wait_for_url("**/sign-in?notice=signed-out")
        assert _session_cookies(tab) == []
        sso_sign_in(tab, sso.provider, "ada")
        assert tab.locator(".who-name").inner_text() == "Ada"

    with tab_on(browser, site, console) as tab:  # another browser: the login form again
        tab.goto("/sign-in?next=/account")
        sso_sign_in(tab, sso.provider, "ada")
        assert _path(tab) == "/account"
        assert "Signed in as ada." in tab.locator("main").inner_text()

    assert [user.name for user in auth.list_users()].count("ada") == 1
    assert site.identities("ada") == [(sso.provider.issuer, "ada")]
    assert auth.role_sources("ada") == {"default": (Role.CONTRIBUTOR, "sso")}
    assert site.sign_ins("ok") == ok + 3


def test_the_groups_make_a_site_admin_and_take_what_they_granted_away(
    browser: Any, site: Site, sso: Sso, console: Console
) -> None:
    auth = site.platform.auth

    def sign_in_as_grace() -> str:
        with tab_on(browser, site, console) as tab:
            tab.goto("/sign-in?next=/account")  # a user with no role may not see /runs
            sso_sign_in(tab, sso.provider, "grace")
            assert _path(tab) == "/account"
            return str(tab.locator(".who").inner_text())

    assert sign_in_as_grace() == "Signed in as Grace site admin"
    assert auth.get_user("grace").is_admin
    assert auth.role_sources("grace") == {"default": (Role.CONTRIBUTOR, "sso")}

    sso.provider.set_groups("grace", [])  # out of both groups
    assert sign_in_as_grace() == "Signed in as Grace"
    assert not auth.get_user("grace").is_admin
    assert auth.role_sources("grace") == {}

    # A role an admin granted by hand, higher than the mapped one, is left alone both ways.
    auth.grant("default", "grace", Role.APPROVER, actor="root")
    sso.provider.set_groups("grace", ["ml-team"])
    sign_in_as_grace()
    assert auth.role_sources("grace") == {"default": (Role.APPROVER, "manual")}
    sso.provider.set_groups("grace", [])
    sign_in_as_grace()
    assert auth.role_sources("grace") == {"default": (Role.APPROVER, "manual")}


# -- refusals ------------------------------------------------------------------------------------


def test_replayed_and_forged_answers_are_refused_and_audited(
    browser: Any, site: Site, sso: Sso, console: Console
) -> None:
    console.expect_http_error = True  # the refusals are 401 pages, on purpose
    issuer = sso.provider.issuer
    audited, refused = len(site.refusals()), site.sign_ins("refused")
    callbacks: list[str] = []
    with tab_on(browser, site, console) as tab:
        tab.on("request", lambda r: callbacks.append(r.url) if urlsplit(r.url).path == CALLBACK else None)
        tab.goto("/sign-in?next=/runs")
        sso_sign_in(tab, sso.provider, "bob")
        assert _path(tab) == "/runs"
    assert len(callbacks) == 1 and "code=" in callbacks[0]

    with tab_on(browser, site, console) as tab:  # someone else's browser
        # The provider's answer, again.
        _refused_page(tab, tab.goto(callbacks[0]), "not one this browser asked for, or it was used already")
        # An answer to a sign-in this server never started.
        forged = f"{CALLBACK}?{urlencode({'code': 'made-up', 'state': 'made-up', 'iss': issuer})}"
        _refused_page(tab, tab.goto(forged), "not one this browser asked for")
        # A sign-in this server did start, answered with a code the provider never issued.
        with tab.expect_request(lambda r: r.url.startswith(issuer) and "state=" in r.url) as asked:
            tab.goto("/sign-in/sso?next=/runs")
        state = parse_qs(urlsplit(asked.value.url).query)["state"][0]
        bogus = f"{CALLBACK}?{urlencode({'code': 'bogus-code', 'state': state, 'iss': issuer})}"
        _refused_page(tab, tab.goto(bogus), f"{issuer} refused the authorization code")

    # Login CSRF: an answer is taken only from the browser that began the sign-in. Another
    # browser sent the link (the victim of an attacker who began it) gets nothing, and the
    # sign-in stays the beginner's.
    with httpx.Client(base_url=site.url, timeout=10) as beginner, httpx.Client(base_url=site.url) as victim:
        began = beginner.get("/sign-in/sso?next=/runs")
        assert began.status_code == 303 and "plimsoll_sso" in beginner.cookies
        state = parse_qs(urlsplit(began.headers["location"]).query)["state"][0]
        answer = f"{CALLBACK}?{urlencode({'code': 'kept-code', 'state': state, 'iss': issuer})}"
        refused_there = victim.get(answer)
        assert refused_there.status_code == 401 and "not one this browser asked for" in refused_there.text
        assert "plimsoll_session" not in victim.cookies
        # the beginner's browser still gets past the state check (to the provider, who knows no such code)
        assert "refused the authorization code" in beginner.get(answer).text

    new = site.refusals()[audited:]
    assert [event["reason"] for event in new] == [
        "state",
        "state",
        "token_exchange",
        "state",
        "token_exchange",
    ]
    assert all(event["address"] == "127.0.0.1" for event in new)
    assert site.sign_ins("refused") == refused + 5
    assert [user.name for user in site.platform.auth.list_users()].count("bob") == 1


def test_a_disabled_user_cannot_sign_in_with_the_provider(
    browser: Any, site: Site, sso: Sso, console: Console
) -> None:
    console.expect_http_error = True
    with tab_on(browser, site, console) as tab:
        tab.goto("/sign-in")
        sso_sign_in(tab, sso.provider, "dora")
        assert tab.locator(".who-name").inner_text() == "Dora"
    site.platform.auth.disable_user("dora", actor="root")
    audited = len(site.refusals())
    with tab_on(browser, site, console) as tab:
        tab.goto("/sign-in")
        _refused_page(tab, sso_sign_in(tab, sso.provider, "dora"), "User 'dora' is disabled")
    assert [event["reason"] for event in site.refusals()[audited:]] == ["disabled"]


def test_first_sign_ins_the_configuration_forbids_are_refused(
    browser: Any, site: Site, strict_site: Site, linking_site: Site, sso: Sso, console: Console
) -> None:
    console.expect_http_error = True
    # Users are not created at sign-in: an unknown one is turned away.
    with tab_on(browser, strict_site, console) as tab:
        tab.goto("/sign-in")
        _refused_page(tab, sso_sign_in(tab, sso.provider, "erin"), "There is no Plimsoll user 'erin'")
    with pytest.raises(NotFound):
        strict_site.platform.auth.get_user("erin")
    assert [event["reason"] for event in strict_site.refusals()] == ["no_user"]

    # A local user of the same name is not taken over by the provider's say-so...
    site.person("cy")
    audited = len(site.refusals())
    with tab_on(browser, site, console) as tab:
        tab.goto("/sign-in")
        _refused_page(tab, sso_sign_in(tab, sso.provider, "cy"), "A Plimsoll user named 'cy' already exists")
    assert [event["reason"] for event in site.refusals()[audited:]] == ["link"]
    assert site.identities("cy") == []
    site.platform.auth.sign_in.with_password("cy", PASSWORD)  # still theirs

    # ... unless the server is told to link them.
    linking_site.person("cy")
    with tab_on(browser, linking_site, console) as tab:
        tab.goto("/sign-in?next=/runs")
        sso_sign_in(tab, sso.provider, "cy")
        assert _path(tab) == "/runs"
        assert tab.locator(".who-name").inner_text() == "Cy"
    assert linking_site.identities("cy") == [(sso.provider.issuer, "cy")]
    assert linking_site.refusals() == []


def test_a_provider_that_is_down_leaves_the_password_form(
    browser: Any, tmp_path: Path, console: Console
) -> None:
    console.expected = ["status of 503"]  # the page that says the provider is down, on purpose
    issuer = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    with _running_site(tmp_path, issuer, 0, client_id="plimsoll", client_secret="s", label=LABEL) as site:
        site.person("hal")
        unavailable = site.sign_ins("unavailable")
        with tab_on(browser, site, console) as tab:
            tab.goto("/runs")
            with tab.expect_navigation() as navigation:
                tab.get_by_role("link", name=LABEL).click()
            assert navigation.value.status == 503
            error = tab.locator("#sign-in-error").inner_text()
            assert f"OpenID provider {issuer} is unavailable" in error
            assert _session_cookies(tab) == []

            tab.fill("#sign-in-name", "hal")
            tab.fill("#sign-in-password", PASSWORD)
            tab.get_by_role("button", name="Sign in", exact=True).click()
            tab.wait_for_url("**/runs")
            assert tab.locator(".who-name").inner_text() == "hal"
        assert site.sign_ins("unavailable") == unavailable + 1
        assert site.refusals() == []


def test_a_provider_that_names_another_issuer_is_refused_on_the_sign_in_page(
    browser: Any, sso: Sso, tmp_path: Path, console: Console
) -> None:
    console.expected = ["status of 502"]
    # The same provider under another name (a misconfigured issuer): its discovery document names
    # the issuer it was started with, so single sign-on cannot start; passwords still work.
    alias = sso.provider.issuer.replace("127.0.0.1", "localhost")
    options = {"client_id": sso.provider.client_id, "client_secret": sso.provider.client_secret}
    with _running_site(tmp_path, alias, 0, label=LABEL, **options) as site:
        site.person("ida")
        refused = site.sign_ins("refused")
        with tab_on(browser, site, console) as tab:
            tab.goto("/sign-in?next=/runs")
            with tab.expect_navigation() as navigation:
                tab.get_by_role("link", name=LABEL).click()
            assert navigation.value.status == 502
            assert _path(tab) == "/sign-in/sso?next=/runs"
            error = tab.locator("#sign-in-error").inner_text()
            assert f"names the issuer '{sso.provider.issuer}', not '{alias}'" in error
            tab.fill("#sign-in-name", "ida")
            tab.fill("#sign-in-password", PASSWORD)
            tab.get_by_role("button", name="Sign in", exact=True).click()
            tab.wait_for_url("**/runs")
            assert tab.locator(".who-name").inner_text() == "ida"
        assert site.sign_ins("refused") == refused + 1

"""Who may load each page and post each form, tried in Chromium as every role.

The server runs with auth on. Each user signs in through the sign-in form, as a person would, and
then asks for every route of the web UI (read from the app's permission table, so a page added
later is swept too) with `fetch` from a page of the UI: the browser's own requests, its cookie,
and for forms the session's CSRF token, as the UI's own scripts send them. What each user should get is
worked out here from their role, independently of the guard; a refused form must also leave the
audit log untouched (the action was not taken). Hiding a button is not what is tested: the
requests are made whether or not the page shows one.

Also here: password sign-in in the browser (redirect to sign-in and back, a wrong password, the
cookie's flags, sign-out, an ended session) and CSRF from a real page of another origin.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from ui_support import Seeded, seed

from plimsoll.core import audit
from plimsoll.core.auth import permissions as p
from plimsoll.core.auth.entities import Role
from plimsoll.core.config import Settings
from plimsoll.core.ids import now_ms
from plimsoll.core.projects.store import projects
from plimsoll.feature_registry.entities import NewDefinition
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

PASSWORD = "a passphrase long enough"
UI_PREFIXES = (
    "/account",
    "/admin",
    "/compare",
    "/datasets",
    "/deployments",
    "/experiments",
    "/features",
    "/jobs",
    "/lineage",
    "/models",
    "/monitors",
    "/projects",
    "/promotions",
    "/runs",
    "/sign-in",
)
# Signing out ends the session the sweep runs in; it is tried on its own below.
NOT_SWEPT = {("POST", "/sign-out")}


@dataclass(frozen=True)
class Person:
    name: str
    role: Role | None  # in project `default`; nobody holds a role in project `other`
    site_admin: bool = False


PEOPLE = (
    Person("nobody", None),
    Person("vic", Role.VIEWER),
    Person("cora", Role.CONTRIBUTOR),
    Person("apo", Role.APPROVER),
    Person("adam", Role.ADMIN),
    Person("root", None, site_admin=True),
)


@dataclass
class World:
    server: LiveServer
    platform: Platform
    seeded: Seeded
    victim_token: str
    victim_session: str
    job: str
    promotion: str  # awaiting approvals; its version's author and requester are nobody swept
    own_tokens: dict[str, str]  # a token of each person, by name
    own_sessions: dict[str, str]  # a second session of each person (not the one the sweep runs in)

    @property
    def url(self) -> str:
        return str(self.server.url)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("access") / ".plimsoll"
    platform = Platform(Settings(home=home, auth=True)).startup()
    auth = platform.auth
    auth.bootstrap_admin("root")
    with platform.db.write() as conn:
        conn.execute(projects.insert().values(name="other", description="", created_at=now_ms()))
    seeded = seed(platform)
    for person in PEOPLE:
        if person.name != "root":
            auth.create_user(person.name, actor="root")
        if person.role is not None:
            auth.grant("default", person.name, person.role, actor="root")
        auth.sign_in.set_password(person.name, PASSWORD, actor="root")
    own_tokens = {person.name: auth.create_token(person.name, actor="root").token.id for person in PEOPLE}
    own_sessions = {
        person.name: auth.sign_in.with_password(person.name, PASSWORD).credential.session.id
        for person in PEOPLE
    }
    auth.create_service_account("ci", project="default", role="contributor", actor="root")
    auth.create_user("victim", actor="root")
    auth.grant("default", "victim", Role.VIEWER, actor="root")
    auth.sign_in.set_password("victim", PASSWORD, actor="root")
    victim_token = auth.create_token("victim", actor="root").token.id
    victim_session = auth.sign_in.with_password("victim", PASSWORD).credential.session.id
    job = platform.jobs.enqueue("maintenance.gc", {"dry_run": True}).id
    # A dataset named like the victim, so that /datasets/{name} pages name one that exists.
    victim_data = tmp_path_factory.mktemp("victim-data") / "rows.csv"
    victim_data.write_text("a,b\n1,x\n2,y\n")
    platform.data.register("victim", victim_data, actor="root")
    victim_data.write_text("a,b\n1,x\n2,y\n3,z\n")
    platform.data.register("victim", victim_data, actor="root")
    # And a feature, for /features/{name}.
    victim_feature = NewDefinition(
        "victim", "default", "float64", ("a",), "def victim(df):\n    return df['a']\n", "tests:victim"
    )
    platform.feature_registry.register(victim_feature, actor="root")
    # And a model whose production alias moved from 1 to 2, so that it can be rolled back.
    tracking = platform.tracking
    for number in (1, 2):
        run = tracking.create_run(seeded.experiment_id, name=f"victim-{number}", actor="root")
        tracking.log_artifact(run.id, "model/weights.bin", b"weights %d" % number, actor="root")
        platform.model_registry.register_version("victim", run_id=run.id, artifact_path="model", actor="root")
        platform.model_registry.set_alias("victim", "production", number, actor="root")
    # And a deployment of that alias, for /deployments/{name} (and its rollback, pause and resume
    # forms: without a reason or a canary each is a form error, 400 or 409, never a change).
    platform.service("serving").deploy("victim", "victim@production", actor="root")
    # And a monitor on that alias, for /monitors/{name}.
    platform.monitoring.create_monitor(
        "victim", "victim@production", "dataset:victim@2", features=["a", "b"], actor="root"
    )
    # And a promotion awaiting two approvals, for the approvers' forms: the version is the victim's
    # (so that no one swept is its author) and so is the request.
    run = tracking.create_run(seeded.experiment_id, name="victim-3", actor="victim")
    tracking.log_artifact(run.id, "model/weights.bin", b"weights 3", actor="victim")
    platform.model_registry.register_version("victim", run_id=run.id, artifact_path="model", actor="victim")
    policy = "alias: staging\napprovals: {required: 2}\ngates:\n  - {metric: roc_auc, min: 0.5}\n"
    platform.gates.set_policy("victim", "staging", policy, actor="root")
    asked = platform.gates.promote(
        "victim", 3, to="staging", evidence={"metrics": {"roc_auc": 0.9}}, actor="victim"
    )
    promotion = platform.gates.run_gates(asked.id).id
    server = LiveServer(platform)
    try:
        yield World(
            server, platform, seeded, victim_token, victim_session, job, promotion, own_tokens, own_sessions
        )
    finally:
        server.stop()
        platform.close()


def _allowed(rule: p.Rule, person: Person) -> bool:
    """What `person` should be answered, from their role alone (not from the guard's code)."""
    if rule.scope in (p.PUBLIC, p.ACCOUNT):
        return True
    if person.site_admin:
        return True
    if rule.scope is p.GLOBAL:
        return rule.role is None
    if rule.scope is p.UI:
        return person.role is not None
    if rule.scope is p.ALL_PROJECTS:
        return False  # nobody but a site admin holds a role in project `other`
    assert rule.role is not None
    return person.role is not None and person.role >= rule.role  # every record here is in `default`


def _url(world: World, template: str, person: Person) -> str:
    run = world.seeded.run("tuned-lr")
    own = template.startswith("/account/")  # one's own session or token; another's is a 404 there
    values = {
        "{experiment_ref}": world.seeded.experiment_id,
        "{run_id}": run.id,
        "{path:path}": "model/weights.bin",
        "{job_id}": world.job,
        "{name}": "ci" if template.startswith("/admin/service-accounts/") else "victim",
        "{user}": "victim",
        "{token_id}": world.own_tokens[person.name] if own else world.victim_token,
        "{session_id}": world.own_sessions[person.name] if own else world.victim_session,
        "{project}": "default",
        "{version}": "1",
        "{alias}": "production",
        "{promotion_id}": world.promotion,
    }
    path = template
    for placeholder, value in values.items():
        path = path.replace(placeholder, value)
    assert "{" not in path, f"no value for a parameter of {template}"
    if template == "/compare":
        path += f"?runs={run.id},{world.seeded.run('baseline').id}"
    if template == "/datasets/{name}/diff":
        path += "?old=1&new=2"
    if template == "/lineage":
        path += "?node=dataset:victim@1"
    return path


def _ui_routes(world: World) -> list[tuple[str, str, p.Rule]]:
    app = world.server.server.config.app
    table: p.PermissionTable = app.state.permissions
    routes = [
        (method, path, entry.rule)
        for (method, path), entry in table.entries.items()
        if (path == "/" or path.startswith(UI_PREFIXES)) and (method, path) not in NOT_SWEPT
    ]
    return sorted(routes, key=lambda route: (route[0] != "GET", route[1]))


def _sign_in(context: Any, url: str, name: str) -> Any:
    page = context.new_page()
    page.goto(f"{url}/sign-in")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    return page


# From a page of the UI, as its scripts would: the browser's own request, cookie and all; a
# redirect is an answer in itself (a page that sends elsewhere was served, not refused).
_REQUEST = """async ([method, path, token]) => {
  const init = {method, redirect: "manual"};
  if (method !== "GET") init.body = new URLSearchParams({csrf_token: token});
  const answer = await fetch(path, init);
  return answer.type === "opaqueredirect" ? 303 : answer.status;
}"""


def _audit_length(platform: Platform) -> int:
    with platform.db.read() as conn:
        return len(audit.list_events(conn))


@pytest.mark.browser
def test_every_role_gets_what_the_permission_table_says_on_every_page_and_form(
    world: World, browser: Any
) -> None:
    routes = _ui_routes(world)
    assert len(routes) > 30, "did the UI's routes go missing?"
    wrong: list[str] = []
    for person in PEOPLE:
        context = browser.new_context()
        try:
            home = _sign_in(context, world.url, person.name)
            token = home.locator("meta[name=csrf-token]").get_attribute("content")
            assert token, f"{person.name}: the signed-in layout carries no CSRF token"
            world.platform.auth.grant("default", "victim", Role.VIEWER, actor="root")  # if removed
            for method, template, rule in routes:
                path = _url(world, template, person)
                expected = _allowed(rule, person)
                before = _audit_length(world.platform)
                status = home.evaluate(_REQUEST, [method, path, token])
                after = _audit_length(world.platform)
                refused = status in (403, 404)
                if status == 401 or (expected and refused) or (not expected and not refused):
                    wrong.append(
                        f"{person.name} {method} {template}: {status} (expected {'allowed' if expected else 'refused'})"
                    )
                if not expected and after != before:
                    wrong.append(f"{person.name} {method} {template}: refused, yet the audit log grew")
        finally:
            context.close()
    assert not wrong, "\n".join(wrong)


@pytest.mark.browser
def test_the_rollback_form_is_for_contributors_and_refused_to_viewers_and_strangers(
    world: World, browser: Any
) -> None:
    registry = world.platform.model_registry
    rollback = "/models/victim/aliases/production/rollback?project=default"
    post = """async ([path, token]) => {
      const body = new URLSearchParams({csrf_token: token, reason: "not mine to move", expected: "2"});
      const answer = await fetch(path, {method: "POST", body, redirect: "manual"});
      return answer.type === "opaqueredirect" ? 303 : answer.status;
    }"""
    # A viewer reads the model's page without a button, and a post made anyway is refused.
    context = browser.new_context()
    try:
        page = _sign_in(context, world.url, "vic")
        page.goto(f"{world.url}/models/victim")
        assert page.locator("#alias-table tr[data-alias='production']").count() == 1
        assert page.locator("#alias-table details.rollback, #alias-table form").count() == 0
        assert page.get_by_text("Roll back").count() == 0
        held = registry.get_version("victim@production").version
        before = _audit_length(world.platform)
        token = page.locator("meta[name=csrf-token]").get_attribute("content")
        assert page.evaluate(post, [rollback, token]) == 403
        assert registry.get_version("victim@production").version == held
        assert _audit_length(world.platform) == before
    finally:
        context.close()
    # Someone not signed in is sent to sign in, and their post is refused.
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{world.url}/models/victim")
        assert page.url.startswith(f"{world.url}/sign-in?next=")
        assert page.evaluate(post, [rollback, ""]) == 401
        assert registry.get_version("victim@production").version == held
    finally:
        context.close()
    # A contributor gets the form, and rolling back through it moves the alias in their name.
    context = browser.new_context()
    try:
        page = _sign_in(context, world.url, "cora")
        page.goto(f"{world.url}/models/victim")
        row = page.locator(f"#alias-table tr[data-alias='production'][data-version='{held}']")
        row.locator("summary").click()
        row.locator("input[name=reason]").fill("bad canary")
        with page.expect_navigation():
            row.locator("button[type=submit]").click()
        assert "notice=rolled-back" in page.url
        assert registry.get_version("victim@production").version != held
        newest = registry.alias_history("victim", "production")[0]
        assert (newest.action, newest.actor, newest.reason) == ("rollback", "cora", "bad canary")
    finally:
        context.close()


@pytest.mark.browser
def test_password_sign_in_in_the_browser(world: World, browser: Any) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        target = f"/runs/{world.seeded.run('baseline').id}"
        page.goto(world.url + target)
        assert page.url.startswith(f"{world.url}/sign-in?next=")  # sent to sign in first
        page.fill("input[name=name]", "vic")
        page.fill("input[name=password]", "not the password at all")
        page.click("button[type=submit]")
        assert page.locator(".sign-in-error").inner_text() == "Wrong user name or password."
        page.fill("input[name=name]", "no-such-user")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        assert page.locator(".sign-in-error").inner_text() == "Wrong user name or password."
        page.fill("input[name=name]", "vic")
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        assert page.url == world.url + target  # and back to where they were going
        assert "Signed in as" in page.locator(".sidebar-foot").inner_text()
        (cookie,) = [c for c in context.cookies() if c["name"] == "plimsoll_session"]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
        assert not cookie["secure"]  # plain http on loopback; over TLS it is Secure
        # Sign out: the same cookie no longer works, and a page sends to sign in again.
        stale = cookie["value"]
        with page.expect_navigation():
            page.click(".sign-out button")
        assert page.url.endswith("/sign-in?notice=signed-out")
        assert page.get_by_text("You are signed out.").is_visible()
        context.add_cookies([{"name": "plimsoll_session", "value": stale, "url": world.url}])
        page.goto(world.url + target)
        assert page.url.startswith(f"{world.url}/sign-in?next=")
    finally:
        context.close()


@pytest.mark.browser
def test_an_ended_session_sends_back_to_sign_in_and_its_action_is_not_taken(
    world: World, browser: Any
) -> None:
    context = browser.new_context()
    try:
        page = _sign_in(context, world.url, "adam")
        page.goto(f"{world.url}/projects/default/members")
        token = page.locator("meta[name=csrf-token]").get_attribute("content")
        # An admin ends every session of adam (from elsewhere) while this page is open.
        world.platform.auth.sign_in.end_sessions_of("adam", actor="root", reason="revoked")
        before = world.platform.auth.members("default")
        status = page.evaluate(
            """async ([token]) => {
              const body = new URLSearchParams({csrf_token: token, user: "nobody", role: "admin"});
              return (await fetch("/projects/default/members", {method: "POST", body})).status;
            }""",
            [token],
        )
        assert status == 401
        assert world.platform.auth.members("default") == before  # nobody was not made admin
        page.reload()
        assert "/sign-in?next=" in page.url
    finally:
        context.close()


class _Attacker(BaseHTTPRequestHandler):
    """A page of another origin that posts a form to the Plimsoll server as soon as it loads."""

    target = ""

    def do_GET(self) -> None:
        page = (
            f'<form id="f" method="post" action="{self.target}/admin/users">'
            '<input name="name" value="mallory"><input name="is_admin" value="1"></form>'
            "<script>document.getElementById('f').submit()</script>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.browser
def test_a_page_of_another_origin_cannot_make_a_signed_in_browser_post(world: World, browser: Any) -> None:
    # Another port of the same host: same site, so SameSite=Lax still sends the cookie (as a
    # sibling sub-domain would); the session's CSRF token is what stops the post.
    _Attacker.target = world.url
    attacker = ThreadingHTTPServer(("127.0.0.1", 0), _Attacker)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    context = browser.new_context()
    try:
        _sign_in(context, world.url, "root")
        page = context.new_page()
        answers: list[int] = []
        page.on("response", lambda r: answers.append(r.status) if r.url.endswith("/admin/users") else None)
        with page.expect_response(lambda r: r.url.endswith("/admin/users")):
            page.goto(f"http://127.0.0.1:{attacker.server_address[1]}/")
        assert answers == [403]
        assert "another site" in page.content()
        assert "mallory" not in {user.name for user in world.platform.auth.list_users()}
    finally:
        context.close()
        attacker.shutdown()
        attacker.server_close()

"""The deployments' pages in Chromium, on a real platform with authentication on and a deployment
with three hours of history played through the serving service (tests/ui/deployment_support.py:
traffic reported as replicas report it, the rollout job advancing one canary and rolling another
back by itself on its error rate, a third canary at 50 % now).

Each test checks what a person would look for: the list says each deployment's state, versions,
last change and traffic; a deployment's page draws its request-rate and latency charts from the
reported traffic, shows the rollout's steps and the checks of its last analysis, and its history
with the automatic rollback; an admin rolls the canary back from the page (the state changes, a
history line in their name appears), a viewer sees no button and a post made anyway is refused.
The screenshots `deployments` and `deployment` in docs/screenshots/ are taken here
(PLIMSOLL_SCREENSHOTS=update, `make screenshots`), as in test_screenshots.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from deployment_support import DEPLOYMENT, STAGING, Seeded, seed_deployments
from test_csp import RECORD_VIOLATIONS
from test_screenshots import WIDTHS, keep, no_page_overflow
from ui_support import Console, browser_tab

from plimsoll.core import audit
from plimsoll.core.auth.entities import Role
from plimsoll.core.config import Settings
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("ui")]

PASSWORD = "a passphrase long enough"
READY = "() => document.body.dataset.deploymentReady === '1'"


@dataclass
class World:
    url: str
    platform: Platform
    seeded: Seeded
    sessions: dict[str, str]  # the cookie of a signed-in session of each user, by name


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("deployments") / ".plimsoll"
    platform = Platform(Settings(home=home, auth=True)).startup()
    auth = platform.auth
    auth.bootstrap_admin("root")
    sessions = {}
    for name, role in (("adam", Role.ADMIN), ("vic", Role.VIEWER)):
        auth.create_user(name, actor="root")
        auth.grant("default", name, role, actor="root")
        auth.sign_in.set_password(name, PASSWORD, actor="root")
        sessions[name] = auth.sign_in.with_password(name, PASSWORD).secret
    seeded = seed_deployments(platform, actor="adam")
    server = LiveServer(platform)
    try:
        yield World(str(server.url), platform, seeded, sessions)
    finally:
        server.stop()
        platform.close()


def _state(world: World, user: str) -> dict[str, Any]:
    return {
        "cookies": [
            {
                "name": "plimsoll_session",
                "value": world.sessions[user],
                "domain": "127.0.0.1",
                "path": "/",
            }
        ],
        "origins": [],
    }


@pytest.fixture
def admin(browser: Any, world: World, console: Console) -> Iterator[Any]:
    with browser_tab(browser, world.url, console, storage_state=_state(world, "adam")) as page:
        yield page


@pytest.fixture
def viewer(browser: Any, world: World, console: Console) -> Iterator[Any]:
    with browser_tab(browser, world.url, console, storage_state=_state(world, "vic")) as page:
        yield page


def _audit_length(platform: Platform) -> int:
    with platform.db.read() as conn:
        return len(audit.list_events(conn))


def test_the_list_says_each_deployments_state_versions_and_traffic(viewer: Any, world: World) -> None:
    viewer.goto("/deployments")
    assert viewer.locator("nav.sidebar a.nav-link.active").inner_text() == "Deployments"
    rows = viewer.locator("#deployments tbody tr")
    assert rows.count() == 2
    prod = viewer.locator(f"#deployments tr[data-deployment='{DEPLOYMENT}']")
    assert prod.get_attribute("data-state") == "canary"
    assert prod.locator(".badge").inner_text().lower() == "canary at 50%"
    assert "churn@production" in prod.inner_text() and "production" in prod.inner_text()
    tags = prod.locator(".version-tag").evaluate_all("ts => ts.map(t => t.textContent.trim())")
    assert tags == ["v1 stable 50%", "v3 canary 50%"]
    # The last hour's requests, as the service adds them up.
    serving = world.platform.service("serving")
    now = serving.clock()
    served = [s for s in serving.traffic(DEPLOYMENT, since=now - 3_600_000, until=now) if s.role != "shadow"]
    assert (
        int(prod.locator(".requests").get_attribute("data-requests")) == sum(s.requests for s in served) > 0
    )
    assert "step advanced by automatic" in prod.locator(".last-change").inner_text()
    staging = viewer.locator(f"#deployments tr[data-deployment='{STAGING}']")
    assert staging.get_attribute("data-state") == "stable"
    assert "v3 shadow" in staging.inner_text() and "staging" in staging.inner_text()
    prod.get_by_role("link", name=DEPLOYMENT).click()
    viewer.wait_for_url(f"**/deployments/{DEPLOYMENT}?project=default")
    viewer.wait_for_function(READY)
    # The model alias links to the model's page.
    viewer.goto("/deployments")
    prod.get_by_role("link", name="churn", exact=True).click()
    viewer.wait_for_url("**/models/churn?project=default")


def test_the_page_draws_the_traffic_charts_per_version_and_role(viewer: Any, world: World) -> None:
    viewer.add_init_script(RECORD_VIOLATIONS)
    answer = viewer.goto(f"/deployments/{DEPLOYMENT}")
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    viewer.wait_for_function(READY)
    assert viewer.evaluate("window.__violations") == []  # the weight bar, the charts: no inline style
    data = viewer.evaluate("() => JSON.parse(document.getElementById('traffic-data').textContent)")
    labels = [s["label"] for s in data["series"]]
    assert labels == ["v1 stable", "v2 canary", "v3 canary"]
    assert len(data["x"]) in (6 * 60, 6 * 60 + 1) and data["bucket_s"] == 60  # now is mid-minute
    for chart, count in (("rate-chart", 3), ("latency-chart", 6)):
        figure = viewer.locator(f"#{chart}")
        assert figure.get_attribute("data-state") == "ready", chart
        assert figure.get_attribute("data-series") == str(count), chart
        assert figure.locator("canvas").count() >= 1, chart
        # uPlot holds the series drawn (plus the x axis's).
        drawn = viewer.evaluate(f"() => document.getElementById('{chart}').plimsollChart.series.length")
        assert drawn == count + 1
    # The rate is what the replicas reported, per second, minute by minute.
    serving = world.platform.service("serving")
    seeded = world.seeded
    reported = serving.traffic(DEPLOYMENT, since=seeded.started, until=seeded.now, bucket_s=60)
    stable = [s for s in reported if s.role == "stable"]
    first = data["x"].index(stable[0].since // 1000)
    assert data["series"][0]["rate"][first] == pytest.approx(stable[0].requests / 60, rel=1e-6)
    assert data["series"][0]["p99"][first] == stable[0].latency_quantile(0.99)
    assert "requests answered" in viewer.locator("#traffic-totals").inner_text()
    # Another span.
    viewer.locator("#hour-picker a[data-hours='1']").click()
    viewer.wait_for_url("**hours=1**")
    viewer.wait_for_function(READY)
    shown = viewer.evaluate("() => JSON.parse(document.getElementById('traffic-data').textContent).x.length")
    assert shown in (60, 61)


def test_the_rollout_and_its_last_analysis(viewer: Any) -> None:
    viewer.goto(f"/deployments/{DEPLOYMENT}")
    assert viewer.locator("h1 .badge").get_attribute("data-state") == "canary"
    assert "churn@production" in viewer.locator("#deployment-summary").inner_text()
    steps = viewer.locator("#rollout-steps li").evaluate_all(
        "items => items.map(i => [i.dataset.weight, i.dataset.status])"
    )
    assert steps == [["10.0", "done"], ["50.0", "current"], ["100.0", "todo"]]
    assert "analysis window" in viewer.locator("#step-time").inner_text()
    assert viewer.locator("#step-time progress").count() == 1
    assert viewer.locator("#weight-bar rect").count() == 2
    assert viewer.locator("#analysis-verdict").get_attribute("data-verdict") == "pass"
    checks = dict(
        viewer.locator("#analysis-checks tbody tr").evaluate_all(
            "rows => rows.map(r => [r.dataset.check, r.dataset.status])"
        )
    )
    assert checks == {
        "requests": "passed",
        "error_rate": "passed",
        "latency_p99": "passed",
        "predictions": "skipped",  # nothing logged to monitoring by this deployment's replicas
        "shadow_agreement": "not_judged",
        "quality": "not_judged",
    }
    error_rate = viewer.locator("#analysis-checks tr[data-check='error_rate']").inner_text()
    assert "at most" in error_rate and "%" in error_rate
    assert "at most 250 ms" in viewer.locator("#analysis-checks tr[data-check='latency_p99']").inner_text()


def test_the_history_newest_first_with_the_automatic_rollback(viewer: Any, world: World) -> None:
    viewer.goto(f"/deployments/{DEPLOYMENT}")
    lines = viewer.locator("#history tbody tr")
    actions = lines.evaluate_all("rows => rows.map(r => r.dataset.action)")
    assert actions == [
        "step_advanced",
        "canary_started",
        "rolled_back",
        "step_advanced",
        "canary_started",
        "created",
    ]
    rollback = viewer.locator("#history tr[data-action='rolled_back']")
    assert rollback.locator("td.actor").inner_text() == "automatic"
    assert rollback.get_attribute("data-actor") == "system:serving"
    text = rollback.inner_text()
    assert "the rollout analysis failed: error_rate" in text and "(analysis: fail)" in text
    assert "state canary → rolled back" in text and "canary v2 → —" in text
    started = viewer.locator("#history tr[data-action='canary_started']").first
    assert "adam" in started.inner_text() and "v3: retrained on March data" in started.inner_text()
    # The lineage node and the model server's commands.
    assert viewer.locator("#lineage-link").get_attribute("href") == (
        f"/lineage?project=default&node=deployment%3A{DEPLOYMENT}"
    )
    assert f"plimsoll serve {DEPLOYMENT}" in viewer.locator("#serve-commands").inner_text()


@pytest.mark.parametrize("width", WIDTHS, ids=lambda width: f"{width}px")
def test_screenshots(  # before the admin's test rolls the canary back
    browser: Any, world: World, width: int, tmp_path: Path
) -> None:
    with browser_tab(
        browser, world.url, Console(), width=width, timeout_ms=15_000, storage_state=_state(world, "adam")
    ) as page:
        page.goto("/deployments")
        no_page_overflow(page)
        keep(page, "deployments", tmp_path)
        page.goto(f"/deployments/{DEPLOYMENT}")
        page.wait_for_function(READY)
        no_page_overflow(page)
        keep(page, "deployment", tmp_path)


def test_a_viewer_sees_no_button_and_a_post_made_anyway_is_refused(
    viewer: Any, world: World, console: Console
) -> None:
    console.expect_http_error = True  # the refused posts
    viewer.goto(f"/deployments/{DEPLOYMENT}")
    assert viewer.locator("#actions").count() == 0
    assert viewer.locator("form").filter(has_text="Roll back").count() == 0
    token = viewer.locator("meta[name=csrf-token]").get_attribute("content")
    before = _audit_length(world.platform)
    for action in ("rollback", "pause", "resume"):
        status = viewer.evaluate(
            """async ([path, token]) => {
              const body = new URLSearchParams({csrf_token: token, reason: "not mine"});
              return (await fetch(path, {method: "POST", body, redirect: "manual"})).status;
            }""",
            [f"/deployments/{DEPLOYMENT}/{action}?project=default", token],
        )
        assert status == 403, action
    assert _audit_length(world.platform) == before
    assert world.platform.service("serving").get(DEPLOYMENT).canary == 3


def test_an_admin_pauses_resumes_and_rolls_back_from_the_page(
    admin: Any, world: World, console: Console
) -> None:
    console.expect_http_error = True  # the rollback without a reason, at the end
    serving = world.platform.service("serving")
    admin.goto(f"/deployments/{DEPLOYMENT}")
    admin.wait_for_function(READY)
    # Pause, then resume.
    with admin.expect_navigation():
        admin.locator("#pause-form button").click()
    assert "notice=paused" in admin.url
    assert admin.locator("h1 .badge").get_attribute("data-state") == "paused"
    assert serving.get(DEPLOYMENT).paused_by == "adam"
    assert admin.locator("#pause-form").count() == 0
    with admin.expect_navigation():
        admin.locator("#resume-form button").click()
    assert "notice=resumed" in admin.url and serving.get(DEPLOYMENT).state == "canary"
    # A rollback asks why: without a reason the browser refuses to send the form.
    admin.locator("#rollback summary").click()
    assert admin.locator("#rollback-reason").get_attribute("required") is not None
    admin.locator("#rollback-reason").fill("p99 regression seen in the incident")
    with admin.expect_navigation():
        admin.locator("#rollback-form button[type=submit]").click()
    assert "notice=rolled-back" in admin.url
    assert admin.locator("h1 .badge").get_attribute("data-state") == "rolled_back"
    assert admin.locator("#notice").is_visible()
    deployment = serving.get(DEPLOYMENT)
    assert (deployment.state, deployment.canary, deployment.stable) == ("rolled_back", None, 1)
    newest = admin.locator("#history tbody tr").first
    assert newest.get_attribute("data-action") == "rolled_back"
    assert newest.locator("td.actor").inner_text() == "adam"
    assert "p99 regression seen in the incident" in newest.inner_text()
    history = serving.history(DEPLOYMENT, limit=1)[0]
    assert (history.action, history.actor) == ("rolled_back", "adam")
    # With no rollout left, pause and resume are gone; a rollback without a reason is refused.
    assert admin.locator("#pause-form").count() == 0 and admin.locator("#resume-form").count() == 0
    token = admin.locator("meta[name=csrf-token]").get_attribute("content")
    status = admin.evaluate(
        """async ([path, token]) => {
          const body = new URLSearchParams({csrf_token: token, reason: "  "});
          return (await fetch(path, {method: "POST", body})).status;
        }""",
        [f"/deployments/{DEPLOYMENT}/rollback?project=default", token],
    )
    assert status == 400
    assert serving.get(DEPLOYMENT).revision == deployment.revision


def test_what_names_nothing_is_an_error_page(viewer: Any, console: Console) -> None:
    console.expect_http_error = True
    for path, status, words in (
        ("/deployments/nobody", 404, "deployment 'nobody' not found"),
        (f"/deployments/{DEPLOYMENT}?hours=5", 400, "hours"),
        ("/deployments?project=nowhere", 403, "nowhere"),  # no role there
    ):
        answer = viewer.goto(path)
        assert answer.status == status, path
        assert viewer.locator(".error-page").count() == 1, path
        assert words in viewer.locator(".error-page").inner_text(), path

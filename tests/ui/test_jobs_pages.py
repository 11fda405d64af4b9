"""The jobs pages end to end: a real server over a platform whose jobs the fixture put in known
states, and Debian's Chromium. What a person checks by looking: Jobs is in the navigation and live,
an enqueued job is listed, the state links filter, a dead job's page shows its whole error, and
the schedules are there."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from ui_support import Console

from plimsoll.core.jobs import JobService
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer
from plimsoll.server.ui import jobs as jobs_pages

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("ui")]

ERROR = "RuntimeError: the export bucket is gone\n" + "  at step 7 of 9\n" * 20 + "the end of the error"


@dataclass
class Jobs:
    queued: str
    dead: str
    succeeded: str


def _handler(service: object, payload: object, context: object) -> None:
    """Never run: no worker runs in these tests."""


def seed_jobs(service: JobService) -> Jobs:
    service.registry.register("nightly-report", _handler)
    service.registry.register("export-runs", _handler, max_attempts=2)
    succeeded = service.enqueue("nightly-report", {"day": "2026-01-01"}).id
    (claim,) = service.claim("ui-test", ["nightly-report"], 1, 30.0)
    service.save_progress(claim.lease_token, {"done": 10, "total": 10})
    service.complete(claim.lease_token, {"rows": 1234})
    dead = service.enqueue("export-runs", {"bucket": "s3://exports"}, max_attempts=1).id
    (claim,) = service.claim("ui-test", ["export-runs"], 1, 30.0)
    service.fail(claim.lease_token, ERROR)
    queued = service.enqueue("nightly-report", {"day": "2026-01-02"}).id
    service.upsert_schedule("nightly", "0 3 * * *", "nightly-report", {"day": "today"})
    return Jobs(queued=queued, dead=dead, succeeded=succeeded)


@pytest.fixture(scope="module")
def jobs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Jobs]]:
    platform = Platform(home=tmp_path_factory.mktemp("ui-jobs") / ".plimsoll").startup()
    seeded = seed_jobs(platform.jobs)
    server = LiveServer(platform)
    try:
        yield server, seeded
    finally:
        server.stop()
        platform.close()


@pytest.fixture(scope="module")
def base_url(jobs_server: tuple[Any, Jobs]) -> str:
    return str(jobs_server[0].url)


@pytest.fixture(scope="module")
def seeded_jobs(jobs_server: tuple[Any, Jobs]) -> Jobs:
    return jobs_server[1]


def listed_ids(page: Any) -> list[str]:
    return [row.get_attribute("data-job-id") for row in page.locator("#jobs-table tbody tr").all()]


def test_jobs_is_in_the_navigation_and_lists_an_enqueued_job(page: Any, seeded_jobs: Jobs) -> None:
    page.goto("/experiments")
    nav = page.locator("nav.sidebar")
    entry = nav.get_by_role("link", name="Jobs")
    assert entry.is_visible()
    assert entry.get_attribute("href") == "/jobs"
    entry.click()
    page.wait_for_url("**/jobs")
    assert nav.locator("a.nav-link.active").inner_text() == "Jobs"
    assert sorted(listed_ids(page)) == sorted([seeded_jobs.queued, seeded_jobs.dead, seeded_jobs.succeeded])
    row = page.locator(f"#jobs-table tr[data-job-id='{seeded_jobs.queued}']")
    assert row.locator("td").first.inner_text() == "nightly-report"
    assert row.locator(".badge").inner_text().lower() == "queued"
    assert "0/5" in row.inner_text()
    dead = page.locator(f"#jobs-table tr[data-job-id='{seeded_jobs.dead}']")
    assert dead.locator(".badge.status-dead").is_visible()
    assert "1/1" in dead.inner_text()
    preview = dead.locator("td.last-error").inner_text()
    assert preview.startswith("RuntimeError: the export bucket is gone")
    assert preview.endswith("…") and "the end of the error" not in preview  # truncated in the table
    # The badge is coloured: a dead job's is not the colour of a succeeded one's.
    colours = {
        state: page.locator(f".badge.status-{state}").first.evaluate("e => getComputedStyle(e).color")
        for state in ("dead", "succeeded", "queued")
    }
    assert len(set(colours.values())) == 3
    schedule = page.locator("#schedules-table tr[data-schedule='nightly']")
    assert "0 3 * * *" in schedule.inner_text() and "nightly-report" in schedule.inner_text()
    assert "never" in schedule.inner_text()


def test_a_state_link_filters_the_jobs(page: Any, seeded_jobs: Jobs) -> None:
    page.goto("/jobs")
    page.locator("#state-filter").get_by_role("link", name="dead").click()
    page.wait_for_url("**/jobs?state=dead")
    assert listed_ids(page) == [seeded_jobs.dead]
    assert page.locator("#state-filter a[aria-current='page']").inner_text() == "dead"
    page.locator("#state-filter").get_by_role("link", name="succeeded").click()
    page.wait_for_url("**/jobs?state=succeeded")
    assert listed_ids(page) == [seeded_jobs.succeeded]
    page.locator("#state-filter").get_by_role("link", name="cancelled").click()
    page.wait_for_url("**/jobs?state=cancelled")
    assert listed_ids(page) == []
    assert page.get_by_text("No cancelled jobs.").is_visible()
    page.locator("#state-filter").get_by_role("link", name="All").click()
    page.wait_for_url("**/jobs")
    assert len(listed_ids(page)) == 3


def test_a_job_page_shows_its_whole_error(page: Any, seeded_jobs: Jobs) -> None:
    page.goto("/jobs?state=dead")
    page.locator(f"#jobs-table tr[data-job-id='{seeded_jobs.dead}'] a").click()
    page.wait_for_url(f"**/jobs/{seeded_jobs.dead}")
    assert page.locator("h1 .badge").inner_text().lower() == "dead"
    assert page.locator("#last-error pre").inner_text() == ERROR
    assert '"bucket": "s3://exports"' in page.locator("#payload pre").inner_text()
    assert page.get_by_text("No result.").is_visible()
    page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Jobs").click()
    page.wait_for_url("**/jobs")


def test_a_succeeded_job_page_shows_its_result_and_progress(page: Any, seeded_jobs: Jobs) -> None:
    page.goto(f"/jobs/{seeded_jobs.succeeded}")
    assert '"rows": 1234' in page.locator("#result pre").inner_text()
    assert '"total": 10' in page.locator("#progress pre").inner_text()
    assert page.locator("#last-error").get_by_text("None.").is_visible()


ERROR_PAGES = [
    ("/jobs/0123456789abcdef0123456789abcdef", 404),
    ("/jobs/not-an-id", 404),
    ("/jobs?state=sleeping", 400),
    ("/jobs?page_token=garbage", 400),
]


@pytest.mark.parametrize(("path", "status"), ERROR_PAGES)
def test_unknown_jobs_and_bad_states_are_error_pages(
    page: Any, console: Console, path: str, status: int
) -> None:
    console.expect_http_error = True
    response = page.goto(path)
    assert response.status == status
    assert page.locator(".error-page").get_attribute("data-status") == str(status)
    if "state=" in path:
        assert page.locator(".error-message").inner_text().startswith("state: must be among")


def test_paging_with_the_next_page_token(tmp_path: Path, browser: Any, console: Console) -> None:
    """More jobs than a page: the next-page link carries the token and shows the older ones."""
    platform = Platform(home=tmp_path / ".plimsoll").startup()
    platform.jobs.registry.register("tiny", _handler)
    made = [platform.jobs.enqueue("tiny", {"i": i}).id for i in range(jobs_pages.JOBS_PAGE_SIZE + 3)]
    server = LiveServer(platform)
    context = browser.new_context(base_url=server.url)
    tab = context.new_page()
    tab.on("console", console.on_console)
    tab.on("pageerror", console.on_page_error)
    try:
        tab.goto("/jobs")
        first = listed_ids(tab)
        assert len(first) == jobs_pages.JOBS_PAGE_SIZE
        tab.locator("#next-page").click()
        tab.wait_for_url("**page_token=*")
        second = listed_ids(tab)
        assert first + second == sorted(made, reverse=True)
        assert tab.locator("#next-page").count() == 0
    finally:
        context.close()
        server.stop()
        platform.close()
    assert console.unexpected() == []

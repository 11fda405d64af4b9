"""The alerts' and incidents' pages end to end: a real server over a platform whose monitors
reported drift (announced, opening an incident for the model's owner), a segment without data
(inhibiting that segment's drift) and a silenced rule, plus a dead job (a platform alert); Debian's
Chromium. What a person checks by looking: the alerts by state, the silenced and inhibited ones
marked, a silence made and ended through the forms; the incident with its owner, its alerts and
its timeline, acknowledged, noted and resolved through the forms."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_support import Console

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "incidents"))
from incidents_support import check, drain, model_versions, signal

from plimsoll.core.changes import changing
from plimsoll.core.ids import now_ms
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("ui")]


@pytest.fixture(scope="module")
def incident_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Platform]]:
    platform = Platform(home=tmp_path_factory.mktemp("ui-incidents") / ".plimsoll").startup()
    model_versions(platform, 2, owners={"incident_response": "irene"})
    platform.model_registry.set_alias("churn", "production", 2, reason="retrained on May data", actor="ada")
    platform.incidents.create_silence(
        ["alertname=label_coverage"], duration_s=3600, comment="labels are late this week", actor="ada"
    )
    at = now_ms()
    drift = signal("data_drift", True, 0.37, severity="critical", summary="Drift on churn v2: PSI 0.37")
    check(platform, [drift, signal("label_coverage", True, 0.1)], at=at, version=2)
    check(
        platform,
        [signal("no_data", True, 0.0), signal("data_drift", True, 0.5)],
        at=at,
        version=2,
        segment=("region", "eu"),
    )
    payload = {
        "job_id": "b" * 32,
        "kind": "reports.nightly",
        "attempts": 5,
        "max_attempts": 5,
        "error": "disk full",
        "dead_at": at,
    }
    with changing(platform.db, platform.outbox, "system") as change:
        change.emit("job.dead_lettered", "job:" + "b" * 32, payload, project=None)
    drain(platform)
    server = LiveServer(platform)
    try:
        yield server, platform
    finally:
        server.stop()
        platform.close()


@pytest.fixture(scope="module")
def base_url(incident_server: tuple[LiveServer, Platform]) -> str:
    return str(incident_server[0].url)


@pytest.fixture(scope="module")
def platform_of(incident_server: tuple[LiveServer, Platform]) -> Platform:
    return incident_server[1]


def _rows(page: Any, table: str) -> list[dict[str, Any]]:
    return page.evaluate(
        """(table) => [...document.querySelectorAll(`#${table} tbody tr`)].map(r => ({...r.dataset}))""",
        table,
    )


def test_the_alerts_page_shows_states_and_what_mutes_them(page: Any) -> None:
    page.goto("/alerts")
    rows = {(r["rule"], r.get("silenced"), r.get("inhibited")) for r in _rows(page, "alerts-table")}
    assert rows == {
        ("data_drift", None, None),
        ("label_coverage", "yes", None),
        ("no_data", None, None),
        ("data_drift", None, "yes"),
    }
    assert all(r["state"] == "firing" for r in _rows(page, "alerts-table"))
    inhibited = page.locator("#alerts-table tr[data-inhibited=yes]")
    assert "inhibited" in inhibited.inner_text() and "region = eu" in inhibited.inner_text()
    assert "silenced" in page.locator("#alerts-table tr[data-silenced=yes]").inner_text()
    assert page.locator("#silences-table tbody tr").count() == 1
    assert "labels are late this week" in page.locator("#silences-table").inner_text()
    # Filtered by state through the links.
    page.locator("#state-filter a[data-state=resolved]").click()
    assert page.locator("#no-alerts").inner_text() == "No resolved alerts."
    # The platform's own.
    page.goto("/alerts?platform=true")
    (row,) = _rows(page, "alerts-table")
    assert row["rule"] == "job_dead_lettered"
    assert "platform · jobs" in page.locator("#alerts-table").inner_text()


def test_an_alert_page_shows_its_labels_history_and_a_silence_form(page: Any, platform_of: Platform) -> None:
    (drift,) = [
        a for a in platform_of.incidents.list_alerts() if a.rule == "data_drift" and not a.segment_column
    ]
    page.goto("/alerts")
    page.locator(f"#alerts-table tr[data-alert-id='{drift.id}'] a").first.click()
    assert page.locator("h1").inner_text().startswith("data_drift")
    assert page.locator("#summary").inner_text() == "Drift on churn v2: PSI 0.37"
    assert [r["state"] for r in _rows(page, "history")] == ["firing", "pending"]
    labels = page.locator("#labels").inner_text().lower()  # the terms are shown in capitals
    assert "model\nchurn" in labels and "version\n2" in labels
    matchers = page.locator("#silence-matchers").input_value().splitlines()
    assert matchers[:2] == ["alertname=data_drift", "model=churn"] and "version=2" in matchers
    page.locator("#incident-link").click()
    assert "/incidents/" in page.url


def test_a_silence_is_made_and_ended_through_the_forms(
    page: Any, platform_of: Platform, console: Console
) -> None:
    page.goto("/alerts")
    page.locator("#silence-matchers").fill("monitor=churn-prod\nalertname=~perf.*")
    page.locator("#silence-hours").fill("0.5")
    page.locator("#silence-comment").fill("load test until noon")
    with page.expect_navigation():
        page.get_by_role("button", name="Silence").click()
    assert "Silenced." in page.locator("#notice").inner_text()
    row = page.locator("#silences-table tr", has_text="load test until noon")
    assert 'alertname=~"perf.*"' in row.inner_text()
    with page.expect_navigation():
        row.get_by_role("button", name="End now").click()
    assert "has ended" in page.locator("#notice").inner_text()
    assert page.locator("#silences-table tr", has_text="load test until noon").count() == 0
    # A silence of everything is refused beside the form, with what was typed kept.
    console.expect_http_error = True
    page.locator("#silence-matchers").fill("model=~.*")
    page.locator("#silence-comment").fill("quiet")
    with page.expect_navigation():
        page.get_by_role("button", name="Silence").click()
    assert "would match every alert" in page.locator("#silence-error").inner_text()
    assert page.locator("#silence-matchers").input_value() == "model=~.*"


def test_an_incident_is_acknowledged_noted_and_resolved_through_its_page(page: Any) -> None:
    page.goto("/incidents")
    (row,) = _rows(page, "incidents-table")
    assert row["state"] == "open"
    table = page.locator("#incidents-table").inner_text()
    assert "irene" in table and "Drift on churn v2: PSI 0.37" in table
    page.locator("#incidents-table a").first.click()
    assert page.locator("#owner").inner_text().startswith("irene")
    kinds = [
        r["kind"]
        for r in page.evaluate(
            "() => [...document.querySelectorAll('#timeline li')].map(l => ({...l.dataset}))"
        )
    ]
    assert (
        kinds.count("alert_fired") == 2
    )  # the drift and no_data (the silenced and inhibited ones did not join)
    assert {"incident_opened", "alias_moved", "model_version"} <= set(kinds)
    assert "churn@production → v2" in page.locator("#timeline").inner_text()

    page.locator("#acknowledge-form input[name=comment]").fill("looking at the feed")
    with page.expect_navigation():
        page.get_by_role("button", name="Acknowledge").click()
    assert "Acknowledged" in page.locator("#notice").inner_text()
    assert page.locator("#state").inner_text() == "acknowledged"
    assert page.locator("#acknowledge-form").count() == 0
    page.locator("#note-form input[name=text]").fill("nulls in tenure since 02:00")
    with page.expect_navigation():
        page.get_by_role("button", name="Add note").click()
    notes = page.locator("#timeline li[data-kind=note]")
    assert notes.count() == 2 and "nulls in tenure since 02:00" in notes.last.inner_text()
    page.locator("#resolve-form input[name=comment]").fill("feed fixed, backfilled")
    with page.expect_navigation():
        page.get_by_role("button", name="Resolve").click()
    assert page.locator("#state").inner_text() == "resolved"
    assert page.locator("#resolve-form").count() == 0
    assert "feed fixed, backfilled" in page.locator("#timeline li[data-kind=incident_resolved]").inner_text()
    page.goto("/incidents")
    assert page.locator("#no-incidents").inner_text() == "No unresolved incidents."
    page.locator("#state-filter a[data-state=all]").click()
    assert [r["state"] for r in _rows(page, "incidents-table")] == ["resolved"]


def test_unknown_and_malformed_ids_are_clear_error_pages(page: Any, console: Console) -> None:
    console.expect_http_error = True
    answer = page.goto("/incidents/0123456789abcdef0123456789abcdef")
    assert answer.status == 404 and "not found" in page.locator("main").inner_text()
    answer = page.goto("/alerts/nope")
    assert answer.status == 400

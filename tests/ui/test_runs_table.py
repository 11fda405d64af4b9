"""The runs table in Chromium, on a grid search (`seed_sweep`): the columns that differ come first
and stay inside the box at 1400 and 1024 px, names keep to one line, the column picker remembers,
nested runs fold under their parent, Back keeps the selection usable, and runs are deleted and
restored through the JSON API (seen there as events), with refusals shown on the page.

This module has its own server: deleting changes the data the other page tests read."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from ui_support import LONG_NAME, SWEEP_CONSTANT, Console, Sweep, seed_sweep

from plimsoll.core.auth.entities import Role
from plimsoll.core.ids import short_id
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("runs-table")]

BY_ROC_AUC = "?order_by=metrics.roc_auc+DESC"
VARYING = ["metric:roc_auc", "param:C", "param:kernel", "metric:accuracy"]


@pytest.fixture(scope="module")
def sweep_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Sweep]]:
    platform = Platform(home=tmp_path_factory.mktemp("sweep") / ".plimsoll").startup()
    sweep = seed_sweep(platform)
    server = LiveServer(platform)
    try:
        yield server, sweep
    finally:
        server.stop()
        platform.close()


@pytest.fixture(scope="module")
def base_url(sweep_server: tuple[LiveServer, Sweep]) -> str:
    return str(sweep_server[0].url)


@pytest.fixture(scope="module")
def sweep(sweep_server: tuple[LiveServer, Sweep]) -> Sweep:
    return sweep_server[1]


def shown_columns(page: Any) -> list[str]:
    return page.locator("#runs-table thead th[data-col]:not([hidden])").evaluate_all(
        "ths => ths.map(th => th.dataset.col)"
    )


def row(page: Any, sweep: Sweep, name: str) -> Any:
    return page.locator(f"#runs-table tr[data-run-id='{sweep.id(name)}']")


def box_of(page: Any, selector: str) -> dict[str, float]:
    box: dict[str, float] = page.locator(selector).bounding_box()
    return box


def run_event(base_url: str, kind: str, run_id: str) -> dict[str, Any] | None:
    answer = httpx.get(f"{base_url}/api/v1/events", params={"type": kind, "limit": 1000})
    answer.raise_for_status()
    events = [e for e in answer.json()["events"] if e["payload"]["run_id"] == run_id]
    return events[-1] if events else None


def lifecycle(base_url: str, run_id: str) -> str:
    answer = httpx.get(f"{base_url}/api/v1/runs/{run_id}")
    answer.raise_for_status()
    return str(answer.json()["lifecycle_stage"])


@pytest.mark.parametrize("width", [1400, 1024])
def test_columns_that_differ_and_the_sorted_one_are_in_the_box(page: Any, sweep: Sweep, width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"/experiments/{sweep.experiment_id}{BY_ROC_AUC}")
    # The sorted column first, then the params and metrics that differ; what every run shares is
    # said once above the table and its columns wait, hidden, in the picker.
    assert shown_columns(page) == ["name", "status", *VARYING, "start_time", "duration"]
    summary = page.locator("#constant-columns").inner_text()
    assert summary.startswith("All 6 runs:")
    for key, value in SWEEP_CONSTANT.items():
        assert f"{key} = {value}" in summary
        assert page.locator(f"#runs-table th[data-col='param:{key}']").is_hidden()
    assert "n_classes = 3" in summary

    wrap = box_of(page, "#runs-wrap")
    for column in ["name", *VARYING]:
        header = box_of(page, f"#runs-table th[data-col='{column}']")
        assert wrap["x"] <= header["x"] and header["x"] + header["width"] <= wrap["x"] + wrap["width"], column
    overflow = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert overflow[0] <= overflow[1]

    # Names keep to one line, cut with an ellipsis and whole in the tooltip.
    page.locator(f"tr[data-run-id='{sweep.id('grid')}'] .tree-toggle").click()
    name = row(page, sweep, LONG_NAME).locator("td.col-name a")
    assert name.get_attribute("title") == LONG_NAME
    assert name.evaluate("a => a.getClientRects().length") == 1
    assert name.evaluate("a => a.scrollWidth > a.clientWidth")  # cut, not wrapped
    heights = page.locator("#runs-table tbody tr:not([hidden])").evaluate_all(
        "rows => rows.map(r => Math.round(r.getBoundingClientRect().height))"
    )
    assert max(heights) - min(heights) <= 2

    # The table scrolls inside its box; the name stays pinned at the left.
    before = box_of(page, f"tr[data-run-id='{sweep.id('grid')}'] td.col-name")
    page.locator("#runs-wrap").evaluate("wrap => { wrap.scrollLeft = wrap.scrollWidth; }")
    if page.locator("#runs-wrap").evaluate("wrap => wrap.scrollLeft") > 0:
        after = box_of(page, f"tr[data-run-id='{sweep.id('grid')}'] td.col-name")
        assert abs(after["x"] - before["x"]) < 1
    page.screenshot(path=f"/tmp/ui-runs-table-{width}.png", full_page=True)


def test_a_filtered_key_is_shown_even_when_every_run_shares_it(page: Any, sweep: Sweep) -> None:
    page.goto(
        f"/experiments/{sweep.experiment_id}?filter=params.model+%3D+%27svc%27+AND+params.kernel+%3D+%27poly%27"
    )
    columns = shown_columns(page)
    assert columns[:4] == ["name", "status", "param:model", "param:kernel"]
    assert "model = svc" not in page.locator("#constant-columns").inner_text()


def test_nested_runs_fold_under_their_parent(page: Any, sweep: Sweep) -> None:
    page.goto(f"/experiments/{sweep.experiment_id}{BY_ROC_AUC}")
    order = page.locator("#runs-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.runId)")
    names = ["grid", LONG_NAME, "svc-C1-poly", "svc-C1-poly-fold2", "svc-C0.1-linear", "baseline"]
    assert order == [sweep.id(name) for name in names]  # children after their parent, by roc_auc
    children = names[1:5]
    assert all(row(page, sweep, name).is_hidden() for name in children)
    toggle = row(page, sweep, "grid").locator(".tree-toggle")
    assert toggle.get_attribute("aria-expanded") == "false"
    assert toggle.inner_text().strip() == "3"

    toggle.click()
    assert toggle.get_attribute("aria-expanded") == "true"
    assert [row(page, sweep, name).is_visible() for name in children] == [True, True, False, True]
    row(page, sweep, "svc-C1-poly").locator(".tree-toggle").click()
    assert row(page, sweep, "svc-C1-poly-fold2").is_visible()
    assert row(page, sweep, "svc-C1-poly-fold2").get_attribute("data-depth") == "2"

    toggle.click()  # folding the parent folds the grandchildren too
    assert all(row(page, sweep, name).is_hidden() for name in children)
    toggle.press("Enter")  # a button: the keyboard works
    assert row(page, sweep, "svc-C1-poly-fold2").is_visible()  # its own parent stayed open

    # A filter shows what matched, unfolded.
    page.goto(f"/experiments/{sweep.experiment_id}?filter=params.kernel+%3D+%27poly%27")
    assert row(page, sweep, "svc-C1-poly-fold2").is_visible()


def test_column_picker_is_remembered_per_experiment(page: Any, sweep: Sweep) -> None:
    page.goto(f"/experiments/{sweep.experiment_id}{BY_ROC_AUC}")
    page.click("#columns-button")
    picker = page.locator("#column-picker")
    assert picker.is_visible()
    assert page.locator("#columns-button").get_attribute("aria-expanded") == "true"
    # The sorted column cannot be hidden while the page sorts on it.
    assert picker.locator("li[data-col='metric:roc_auc'] input").is_disabled()

    picker.locator("li[data-col='param:kernel'] input").uncheck()
    page.fill("#column-search", "data")
    assert picker.locator("li:not([hidden])").evaluate_all("lis => lis.map(li => li.dataset.col)") == [
        "param:dataset"
    ]
    picker.locator("li[data-col='param:dataset'] input").check()
    page.fill("#column-search", "")
    picker.locator("li[data-col='metric:accuracy'] button.up").click()
    picker.locator("li[data-col='metric:accuracy'] button.up").click()  # now before C
    # The keyboard: Alt+Down on a column's box moves it right.
    picker.locator("li[data-col='status'] input").focus()
    page.keyboard.press("Alt+ArrowDown")
    expected = ["name", "metric:roc_auc", "status", "metric:accuracy", "param:C", "start_time", "duration"]
    expected.append("param:dataset")
    assert shown_columns(page) == expected
    # Cells follow their headers.
    first = row(page, sweep, "grid").locator("td[data-col]:not([hidden])")
    assert first.evaluate_all("tds => tds.map(td => td.dataset.col)") == expected
    assert row(page, sweep, "grid").locator("td[data-col='param:dataset']").inner_text() == "iris"

    page.reload()
    assert shown_columns(page) == expected
    page.goto(f"/experiments/{sweep.experiment_id}?order_by=name+ASC")  # another sort, the same order
    assert shown_columns(page)[:5] == ["name", "metric:roc_auc", "status", "metric:accuracy", "param:C"]
    page.goto("/runs")  # another table, its own choice
    assert "param:dataset" not in shown_columns(page)

    page.goto(f"/experiments/{sweep.experiment_id}{BY_ROC_AUC}")
    page.click("#columns-button")
    page.click("#columns-reset")
    assert shown_columns(page) == ["name", "status", *VARYING, "start_time", "duration"]
    page.reload()
    assert shown_columns(page) == ["name", "status", *VARYING, "start_time", "duration"]


def test_compare_button_counts_and_survives_back(page: Any, sweep: Sweep) -> None:
    page.goto(f"/experiments/{sweep.experiment_id}{BY_ROC_AUC}")
    button = page.locator("#compare-button")
    assert button.is_disabled() and button.inner_text() == "Compare selected"
    page.check(f"input[name='runs'][value='{sweep.id('grid')}']")
    assert button.is_disabled()
    assert "1 run selected" in page.locator("#compare-hint").inner_text()
    assert "runs selected" not in page.locator("#compare-hint").inner_text()
    page.check(f"input[name='runs'][value='{sweep.id('baseline')}']")
    assert button.is_enabled() and button.inner_text() == "Compare 2 runs"
    assert page.locator("#delete-selected").inner_text() == "Delete 2 runs"

    button.click()
    page.wait_for_url("**/compare?**")
    page.go_back()
    page.wait_for_url(re.compile(r"/experiments/"))
    page.wait_for_function("document.querySelectorAll(\"input[name='runs']:checked\").length === 2")
    page.wait_for_function("!document.getElementById('compare-button').disabled")
    assert button.inner_text() == "Compare 2 runs"


def test_delete_and_restore_one_run(page: Any, sweep: Sweep, base_url: str) -> None:
    run_id = sweep.id("baseline")
    page.goto(f"/experiments/{sweep.experiment_id}{BY_ROC_AUC}")
    action = row(page, sweep, "baseline").locator("td.actions button")
    action.click()
    dialog = page.locator("#confirm-delete")
    assert dialog.is_visible()
    assert "baseline" in page.locator("#confirm-delete-text").inner_text()
    dialog.get_by_role("button", name="Cancel").click()
    assert dialog.is_hidden()
    assert lifecycle(base_url, run_id) == "active"

    action.click()
    page.click("#confirm-delete-yes")
    message = page.locator("#runs-message")
    message.wait_for(state="visible")
    assert "Deleted run “baseline”" in message.inner_text()
    assert "deleted" in (row(page, sweep, "baseline").get_attribute("class") or "")
    assert action.inner_text() == "Restore"
    assert lifecycle(base_url, run_id) == "deleted"
    deleted = run_event(base_url, "run.deleted", run_id)
    assert deleted is not None and deleted["actor"] == "local"

    page.reload()  # gone from the active runs; found under "Deleted"
    assert row(page, sweep, "baseline").count() == 0
    page.get_by_role("link", name="Deleted", exact=True).click()
    page.wait_for_url(re.compile(r"view=all"))
    assert page.input_value("#filter-input") == "lifecycle_stage = 'deleted'"
    assert page.locator("#runs-table tbody tr").count() == 1
    row(page, sweep, "baseline").get_by_role("button", name="Restore").click()
    page.locator("#runs-message").get_by_text("Restored run “baseline”").wait_for()
    assert lifecycle(base_url, run_id) == "active"
    assert run_event(base_url, "run.restored", run_id) is not None
    page.get_by_role("link", name="Active", exact=True).click()
    assert row(page, sweep, "baseline").is_visible()


def test_delete_and_restore_a_selection(page: Any, sweep: Sweep, base_url: str) -> None:
    chosen = ["grid", "baseline"]
    page.goto(f"/experiments/{sweep.experiment_id}?view=all")
    for name in chosen:
        page.check(f"input[name='runs'][value='{sweep.id(name)}']")
    page.click("#delete-selected")
    assert "these 2 runs" in page.locator("#confirm-delete-text").inner_text()
    page.click("#confirm-delete-yes")
    page.locator("#runs-message").get_by_text("Deleted 2 runs.").wait_for()
    assert [lifecycle(base_url, sweep.id(name)) for name in chosen] == ["deleted", "deleted"]

    page.reload()  # "Active and deleted": still listed, marked
    assert page.locator("#restore-selected").is_visible()
    for name in chosen:
        assert "deleted" in (row(page, sweep, name).get_attribute("class") or "")
        page.check(f"input[name='runs'][value='{sweep.id(name)}']")
    assert page.locator("#delete-selected").is_disabled()
    assert page.locator("#restore-selected").inner_text() == "Restore 2 runs"
    page.click("#restore-selected")
    page.locator("#runs-message").get_by_text("Restored 2 runs.").wait_for()
    assert [lifecycle(base_url, sweep.id(name)) for name in chosen] == ["active", "active"]


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], str]]:
    """A server with authentication on, a run, a viewer (vera) and a contributor (cora), each with
    a session: (url, {name: session cookie}, run id)."""
    platform = Platform(home=tmp_path / ".plimsoll", auth=True).startup()
    server = LiveServer(platform)
    try:
        platform.auth.bootstrap_admin("root")
        sessions = {}
        for name, role in (("vera", Role.VIEWER), ("cora", Role.CONTRIBUTOR)):
            platform.auth.create_user(name, actor="root")
            platform.auth.grant("default", name, role, actor="root")
            platform.auth.sign_in.set_password(name, "a passphrase long enough", actor="root")
            sessions[name] = platform.auth.sign_in.with_password(name, "a passphrase long enough").secret
        experiment = platform.tracking.create_experiment("guarded", actor="root")
        run = platform.tracking.create_run(experiment.id, name="keep-me", actor="root")
        yield str(server.url), sessions, run.id
    finally:
        server.stop()
        platform.close()


def test_a_refused_delete_is_shown_on_the_page(
    browser: Any, guarded: tuple[str, dict[str, str], str], console: Console
) -> None:
    url, sessions, run_id = guarded
    console.expect_http_error = True  # the 403 of the refused DELETE
    context = browser.new_context(base_url=url, viewport={"width": 1400, "height": 900})
    context.add_cookies([{"name": "plimsoll_session", "value": sessions["vera"], "url": url}])
    page = context.new_page()
    page.on("console", console.on_console)
    page.on("pageerror", console.on_page_error)
    try:
        page.goto("/experiments/guarded")
        page.locator(f"tr[data-run-id='{run_id}'] td.actions button").click()
        page.click("#confirm-delete-yes")
        message = page.locator("#runs-message")
        message.wait_for(state="visible")
        assert message.get_attribute("role") == "alert"
        text = message.inner_text()
        assert text.startswith("Could not delete keep-me: Not allowed:")
        assert "Traceback" not in text
        assert page.locator(f"tr[data-run-id='{run_id}'] td.actions button").inner_text() == "Delete"
    finally:
        context.close()
    assert not console.unexpected()
    answer = httpx.get(f"{url}/api/v1/runs/{run_id}", cookies={"plimsoll_session": sessions["vera"]})
    assert answer.json()["lifecycle_stage"] == "active"


def test_a_signed_in_contributor_deletes_with_the_sessions_csrf_token(
    browser: Any, guarded: tuple[str, dict[str, str], str], console: Console
) -> None:
    url, sessions, run_id = guarded
    context = browser.new_context(base_url=url, viewport={"width": 1400, "height": 900})
    context.add_cookies([{"name": "plimsoll_session", "value": sessions["cora"], "url": url}])
    page = context.new_page()
    page.on("console", console.on_console)
    page.on("pageerror", console.on_page_error)
    try:
        page.goto("/experiments/guarded")
        with page.expect_response(lambda r: r.url.endswith(f"/api/v1/runs/{run_id}")) as deleted:
            page.locator(f"tr[data-run-id='{run_id}'] td.actions button").click()
            page.click("#confirm-delete-yes")
        assert deleted.value.status == 200
        assert deleted.value.request.header_value("x-csrf-token")
    finally:
        context.close()
    assert not console.unexpected()
    answer = httpx.get(f"{url}/api/v1/runs/{run_id}", cookies={"plimsoll_session": sessions["cora"]})
    assert answer.json()["lifecycle_stage"] == "deleted"


def test_ids_are_shown_short_with_the_whole_in_the_tooltip(page: Any, sweep: Sweep) -> None:
    page.goto("/experiments")
    cell = page.locator(f"tr[data-experiment-id='{sweep.experiment_id}'] td.mono")
    assert cell.inner_text() == short_id(sweep.experiment_id)
    assert cell.get_attribute("title") == sweep.experiment_id
    page.goto(f"/experiments/{sweep.experiment_id}")
    assert short_id(sweep.experiment_id) in page.locator(".page-head").inner_text()
    assert sweep.experiment_id not in page.locator(".page-head").inner_text()

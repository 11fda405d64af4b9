"""The web UI end to end: a real server, Debian's Chromium, and the data the fixture seeded.

Each test asserts what a person would check by looking: the seeded names and values are on the
page, sorting and filtering change the rows the way the search language says, every chart has one
line per run with as many points as the JSON API returns, and nothing logs an error in the browser.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from ui_support import DIFF, WEIGHTS, Console, Seeded

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("ui")]

UNKNOWN_ID = "0123456789abcdef0123456789abcdef"
CHURN_RUNS = {"baseline", "tuned-lr", "big-lr", "diverged", "long-run"}


def run_names(page: Any) -> list[str]:
    return page.locator("#runs-table tbody td.col-name a").all_inner_texts()


def wait_for_charts(page: Any) -> list[Any]:
    figures = page.locator("figure.chart")
    count = figures.count()
    assert count > 0
    page.wait_for_function(
        "n => document.querySelectorAll(\"figure.chart[data-state='ready']\").length === n", arg=count
    )
    assert page.locator("figure.chart[data-state='error']").count() == 0
    return [figures.nth(i) for i in range(count)]


def history(base_url: str, run_id: str, key: str) -> dict[str, Any]:
    response = httpx.get(f"{base_url}/api/v1/runs/{run_id}/metrics/{key}/history", params={"max_points": 500})
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def test_home_lists_experiments(page: Any, base_url: str) -> None:
    page.goto("/")
    assert page.url == f"{base_url}/experiments"
    names = page.locator("#experiments tbody td:first-child a").all_inner_texts()
    assert sorted(names) == ["churn-model", "fraud-detection"]
    counts = page.locator("#experiments tbody td.run-count").all_inner_texts()
    assert dict(zip(names, counts, strict=True)) == {
        "churn-model": str(len(CHURN_RUNS)),
        "fraud-detection": "1",
    }
    assert page.get_by_text("Who leaves next quarter").is_visible()
    # The navigation shows only what exists: the descriptors' entries, each a live link, by section.
    nav = page.locator("nav.sidebar")
    assert nav.locator("a.nav-link.active").inner_text() == "Experiments"
    assert [t.strip() for t in nav.locator(".nav-title").all_text_contents()] == [
        "Track",
        "Data",
        "Release",
        "Operate",
        "Admin",
    ]
    assert [t.strip() for t in nav.locator(".nav-link").all_text_contents()] == [
        "Experiments",
        "Runs",
        "Datasets",
        "Features",
        "Lineage",
        "Models",
        "Alerts",
        "Incidents",
        "Jobs",
        "Monitors",
        "Deployments",
        "Users",  # with auth off the local user administers everything
        "API tokens",
        "Service accounts",
    ]
    assert nav.locator("a.nav-link[href]").count() == 14
    # Authentication is off here, and the layout says what that means.
    assert "Authentication is off: single-user mode." in nav.locator(".auth-off").inner_text()
    assert nav.get_by_text("soon", exact=False).count() == 0


def test_runs_table_shows_runs_and_params(page: Any, seeded: Seeded) -> None:
    page.goto("/experiments")
    page.get_by_role("link", name="churn-model").click()
    page.wait_for_url(f"**/experiments/{seeded.experiment_id}")
    assert set(run_names(page)) == CHURN_RUNS
    # Default order: newest first.
    assert run_names(page) == ["long-run", "diverged", "big-lr", "tuned-lr", "baseline"]
    headers = page.locator("#runs-table thead th").all_inner_texts()
    assert any(h.endswith("lr") for h in headers) and any(h.endswith("acc") for h in headers)
    for name in CHURN_RUNS:
        row = page.locator(f"#runs-table tr[data-run-id='{seeded.run(name).id}']")
        assert row.locator("td.param[data-key='lr']").inner_text() == seeded.run(name).params["lr"]
        assert (
            row.locator("td.param[data-key='optimizer']").inner_text() == seeded.run(name).params["optimizer"]
        )
    diverged = page.locator(f"tr[data-run-id='{seeded.run('diverged').id}']")
    assert diverged.locator("td.metric[data-key='loss']").inner_text() == "NaN"
    assert "failed" in diverged.inner_text().lower()
    assert "2026-01-01 03:00:00 UTC" in diverged.inner_text()


def test_sorting_by_a_metric_column(page: Any, seeded: Seeded) -> None:
    page.goto(f"/experiments/{seeded.experiment_id}")
    by_acc_desc = sorted(CHURN_RUNS, key=lambda n: seeded.final_acc[n], reverse=True)

    page.locator("#runs-table thead th[data-key='acc'] a.sort").click()
    page.wait_for_url(re.compile(r"order_by=metrics\.acc\+DESC"))
    assert run_names(page) == by_acc_desc
    assert page.locator("th[data-key='acc']").get_attribute("aria-sort") == "descending"

    page.locator("#runs-table thead th[data-key='acc'] a.sort").click()
    page.wait_for_url(re.compile(r"order_by=metrics\.acc\+ASC"))
    assert run_names(page) == list(reversed(by_acc_desc))
    assert page.locator("th[data-key='acc']").get_attribute("aria-sort") == "ascending"

    page.locator("#runs-table thead th[data-kind='name'] a.sort").click()
    page.wait_for_url(re.compile(r"order_by=name\+ASC"))
    assert run_names(page) == sorted(CHURN_RUNS)


def test_filter_box_uses_the_search_language(page: Any, seeded: Seeded) -> None:
    page.goto(f"/experiments/{seeded.experiment_id}?order_by=metrics.acc+DESC")
    page.fill("#filter-input", "params.lr > 0.01")
    page.press("#filter-input", "Enter")
    page.wait_for_url(re.compile(r"filter=params\.lr"))
    assert run_names(page) == ["big-lr", "long-run", "diverged"]  # lr 0.1, 0.05, 0.5; sort kept
    assert page.input_value("#filter-input") == "params.lr > 0.01"

    page.fill("#filter-input", "params.optimizer = 'sgd' OR metrics.acc >= 0.9")
    page.click("button:has-text('Apply')")
    page.wait_for_url(re.compile(r"optimizer"))
    assert set(run_names(page)) == {"baseline", "big-lr"}


def test_pagination_follows_the_next_cursor(page: Any, seeded: Seeded) -> None:
    page.goto(f"/experiments/{seeded.experiment_id}?order_by=name+ASC&page_size=2")
    seen = [run_names(page)]
    while page.locator("#next-page").count():
        page.click("#next-page")
        page.wait_for_url(re.compile(r"page_token="))
        seen.append(run_names(page))
    assert seen == [["baseline", "big-lr"], ["diverged", "long-run"], ["tuned-lr"]]
    page.click("text=First page")
    assert run_names(page) == ["baseline", "big-lr"]


def test_bad_filter_is_shown_next_to_the_box(page: Any, seeded: Seeded, console: Console) -> None:
    console.expect_http_error = True
    page.goto(f"/experiments/{seeded.experiment_id}")
    page.fill("#filter-input", "params.lr >")
    with page.expect_navigation() as navigation:
        page.press("#filter-input", "Enter")
    assert navigation.value.status == 400
    error = page.locator("#filter-error")
    assert error.is_visible()
    assert "expected a value" in error.inner_text()
    assert page.get_attribute("#filter-input", "aria-invalid") == "true"
    assert page.locator("#runs-table").count() == 0


def test_run_page_shows_params_charts_and_code(page: Any, seeded: Seeded, base_url: str) -> None:
    run = seeded.run("tuned-lr")
    page.goto(f"/experiments/{seeded.experiment_id}")
    page.get_by_role("link", name="tuned-lr", exact=True).click()
    page.wait_for_url(f"**/runs/{run.id}")
    assert page.locator("h1").inner_text().startswith("tuned-lr")
    for key, value in run.params.items():
        assert page.locator(f"#params-table tr[data-key='{key}'] td").inner_text() == value
    assert page.locator("#tags-table tr[data-key='team'] td").inner_text() == "growth"
    assert page.locator("#metrics-table tr[data-key='acc'] td.num").inner_text() == "0.87"

    figures = wait_for_charts(page)
    assert sorted(f.get_attribute("data-key") for f in figures) == ["acc", "loss"]
    for figure in figures:
        key = figure.get_attribute("data-key")
        legend = figure.locator(".legend li")
        assert legend.count() == 1
        expected = history(base_url, run.id, key)
        assert int(legend.first.get_attribute("data-points")) == len(expected["steps"]) == 60
        assert legend.first.inner_text() == "tuned-lr"
        # One unbroken line through 60 points: uPlot holds the x values and the one series.
        assert figure.evaluate("f => f.plimsollChart.data[1].filter(v => v === null).length") == 0
        assert figure.evaluate("f => f.plimsollChart.data[0].length") == 60

    figures[0].locator(".u-over").hover(position={"x": 200, "y": 100})
    assert page.locator(".tooltip:visible").inner_text().startswith("step ")

    code = page.locator("#code-and-environment")
    assert "3f2a9c1d5e7b8a6c4d2e0f1a3b5c7d9e1f2a4b6c" in code.inner_text()
    assert "feature/lr-sweep" in code.inner_text()
    assert "3.11.9" in code.inner_text()
    page.click("#packages summary")
    assert "scikit-learn" in page.locator("#packages").inner_text()
    page.click("#git-diff summary")
    assert page.locator("#git-diff .diff-add").inner_text() == "+lr = 0.01"
    assert DIFF.decode().splitlines()[4] == page.locator("#git-diff .diff-remove").inner_text()
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path="/tmp/ui-run.png", full_page=True)


def test_nan_gaps_and_downsampled_bands(page: Any, seeded: Seeded, base_url: str) -> None:
    diverged = seeded.run("diverged")
    page.goto(f"/runs/{diverged.id}")
    wait_for_charts(page)
    loss = page.locator("figure.chart[data-key='loss']")
    assert int(loss.locator(".legend li").get_attribute("data-points")) == len(
        history(base_url, diverged.id, "loss")["steps"]
    )
    # Broken at the NaN steps 40-42 (and 59 at the end): gaps, never joined across.
    assert loss.evaluate("f => f.plimsollChart.data[1].filter(v => v === null).length") == 4
    assert loss.evaluate("f => f.plimsollChart.series[1].spanGaps") is False
    assert "4 non-finite" in loss.locator(".legend").inner_text()

    long_run = seeded.run("long-run")
    page.goto(f"/runs/{long_run.id}")
    wait_for_charts(page)
    acc = page.locator("figure.chart[data-key='acc']")
    expected = history(base_url, long_run.id, "acc")
    assert expected["downsampled"] and expected["total_points"] == 1200
    item = acc.locator(".legend li")
    assert int(item.get_attribute("data-points")) == len(expected["steps"]) <= 500
    assert item.get_attribute("data-downsampled") == "true"
    assert acc.evaluate("f => f.plimsollChart.bands.length") == 1  # the min/max band
    # The band's edges are in the y range: the axis fits the bucket extremes, not only the last values.
    assert float(acc.get_attribute("data-y-max")) >= max(v for v in expected["maxs"] if isinstance(v, float))


def test_artifact_link_downloads(page: Any, seeded: Seeded) -> None:
    run = seeded.run("tuned-lr")
    page.goto(f"/runs/{run.id}")
    rows = page.locator("#artifacts-table tbody tr")
    assert sorted(rows.evaluate_all("rs => rs.map(r => r.dataset.path)")) == [
        "model/weights.bin",
        "plimsoll/environment.json",
        "plimsoll/git.diff",
    ]
    assert (
        page.locator("#artifacts-table tr[data-path='model/weights.bin'] td.num").inner_text()
        == f"{len(WEIGHTS)} B"
    )
    with page.expect_download() as download_info:
        page.click("#artifacts-table tr[data-path='model/weights.bin'] a.download")
    download = download_info.value
    assert download.suggested_filename == "weights.bin"
    with open(download.path(), "rb") as f:
        assert f.read() == WEIGHTS


def test_compare_overlays_runs(page: Any, seeded: Seeded, base_url: str) -> None:
    chosen = ["baseline", "tuned-lr", "diverged"]
    page.goto(f"/experiments/{seeded.experiment_id}?order_by=name+ASC")
    assert page.locator("#compare-button").is_disabled()
    for name in chosen:
        page.check(f"input[name='runs'][value='{seeded.run(name).id}']")
    page.click("#compare-button")
    page.wait_for_url("**/compare?**")
    ids = [seeded.run(name).id for name in sorted(chosen)]

    names = page.locator("#compare-runs tbody th a").all_inner_texts()
    assert names == sorted(chosen)
    differing = page.locator("#compare-params tr.differs").evaluate_all("rs => rs.map(r => r.dataset.key)")
    assert differing == ["batch_size", "lr", "optimizer"]
    assert page.locator("#compare-params tr[data-key='epochs']").get_attribute("class") == "same"
    lr_cells = page.locator("#compare-params tr[data-key='lr'] td").all_inner_texts()
    assert lr_cells == [seeded.run(name).params["lr"] for name in sorted(chosen)]
    acc_cells = page.locator("#compare-metrics tr[data-key='acc'] td").all_inner_texts()
    assert acc_cells == ["0.81", "0.35", "0.87"]

    figures = wait_for_charts(page)
    assert sorted(f.get_attribute("data-key") for f in figures) == ["acc", "loss"]
    for figure in figures:
        legend = figure.locator(".legend li")
        assert legend.evaluate_all("items => items.map(i => i.dataset.run)") == ids
        strokes = figure.evaluate("f => f.plimsollChart.series.slice(1).map(s => s._stroke || s.stroke)")
        assert len(set(map(str, strokes))) == 3  # one colour per run
        for i, run_id in enumerate(ids):
            expected = history(base_url, run_id, figure.get_attribute("data-key"))
            assert int(legend.nth(i).get_attribute("data-points")) == len(expected["steps"])

    page.check("#only-diff")
    assert not page.locator("#compare-params tr[data-key='epochs']").is_visible()
    page.locator("figure.chart[data-key='acc'] .u-over").hover(position={"x": 250, "y": 100})
    assert page.locator("figure.chart[data-key='acc'] .tooltip .row").count() == 3
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path="/tmp/ui-compare.png", full_page=True)


def test_all_runs_page_spans_experiments(page: Any) -> None:
    page.goto("/experiments")
    page.locator("nav.sidebar").get_by_role("link", name="Runs").click()
    page.wait_for_url("**/runs")
    assert set(run_names(page)) == CHURN_RUNS | {"fraud-xgb"}
    assert "fraud-detection" in page.locator("#runs-table").inner_text()


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (f"/runs/{UNKNOWN_ID}", "not found"),
        ("/runs/not-a-run-id", "not found"),
        ("/experiments/no-such-experiment", "not found"),
        (f"/compare?runs={UNKNOWN_ID},{UNKNOWN_ID[::-1]}", "runs not found"),
    ],
)
def test_unknown_ids_get_a_friendly_404(page: Any, console: Console, path: str, message: str) -> None:
    console.expect_http_error = True
    response = page.goto(path)
    assert response.status == 404
    assert page.locator("h1").inner_text() == "Not found"
    assert message in page.locator(".error-message").inner_text()
    assert page.locator("nav.sidebar").is_visible()  # still inside the layout, with a way back
    assert page.get_by_role("link", name="Back to experiments").is_visible()


def test_pages_take_the_short_id_the_lists_show(base_url: str, seeded: Seeded) -> None:
    run = seeded.run("baseline")
    for path, whole in [
        (f"/runs/{run.id[-8:]}", f"/runs/{run.id}"),
        (f"/runs/{run.id[-8:].upper()}?x=1", f"/runs/{run.id}?x=1"),
        (f"/experiments/{seeded.experiment_id[-8:]}", f"/experiments/{seeded.experiment_id}"),
    ]:
        response = httpx.get(base_url + path, follow_redirects=False)
        assert response.status_code == 302, path
        assert response.headers["location"] == base_url + whole
        assert httpx.get(base_url + path, follow_redirects=True).status_code == 200
    # A short id that ends no run's id is the friendly 404, not a redirect.
    assert httpx.get(f"{base_url}/runs/ffffffff", follow_redirects=False).status_code == 404

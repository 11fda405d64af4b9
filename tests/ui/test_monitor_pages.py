"""The monitoring pages in Chromium, on real data with real drift (tests/ui/monitor_support.py: 11
months of California housing traffic, its labels a day late, a monitor of 30-day windows per
region, and one made now with no window yet).

Each test checks what a person would look for: the list says which monitor breaks which rules;
the monitor's page draws every chart from its windows (the heat map has every feature, one
column per window), a click on the heat map shows that feature's distribution in that window,
the segment picker and the model's page lead where they say, and a monitor without a window
reads well. The screenshots in docs/screenshots/ are taken here (PLIMSOLL_SCREENSHOTS=update,
`make screenshots`), as in test_screenshots.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from monitor_support import DATA, EMPTY_MONITOR, FEATURES, MONITOR, REFERENCE, Housing, seed_housing
from test_screenshots import WIDTHS, keep, no_page_overflow
from ui_support import Console, browser_tab

from plimsoll.client import Client
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.xdist_group("ui"),
    pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data is not on this machine"),
]

CHARTS = (
    "drift-heatmap",
    "distribution-chart",
    "performance-chart",
    "labels-chart",
    "outcomes-chart",
    "quality-chart",
    "rules-strip",
)
READY = "() => document.body.dataset.monitorReady === '1'"


PLATFORMS: dict[str, Platform] = {}  # the module's server's platform, by its URL


@pytest.fixture(scope="module")
def housing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Housing]]:
    platform = Platform(home=tmp_path_factory.mktemp("monitors") / ".plimsoll").startup()
    server = LiveServer(platform)
    try:
        with Client(str(server.url)) as client:
            seeded = seed_housing(client)
        PLATFORMS[str(server.url)] = platform
        yield str(server.url), seeded
    finally:
        server.stop()
        platform.close()


@pytest.fixture
def tab(browser: Any, housing: tuple[str, Housing], console: Console) -> Iterator[Any]:
    with browser_tab(browser, housing[0], console) as page:
        yield page


def api(base_url: str, path: str, **params: Any) -> Any:
    answer = httpx.get(f"{base_url}/api/v1{path}", params={"project": "default", **params})
    answer.raise_for_status()
    return answer.json()


def option(page: Any, chart: str, expression: str) -> Any:
    return page.evaluate(
        f"() => echarts.getInstanceByDom(document.getElementById('{chart}')).getOption(){expression}"
    )


def test_the_list_says_which_monitor_breaks_which_rules(tab: Any, housing: tuple[str, Housing]) -> None:
    tab.goto("/monitors")
    assert tab.locator("nav.sidebar a.nav-link.active").inner_text() == "Monitors"
    rows = tab.locator("#monitors tbody tr")
    assert rows.count() == 2
    prod = tab.locator(f"#monitors tr[data-monitor='{MONITOR}']")
    assert prod.get_attribute("data-state") == "breaking"
    assert "housing@production" in prod.inner_text() and "30d per region" in prod.inner_text()
    broken = prod.locator(".rule-tag").evaluate_all("tags => tags.map(t => t.dataset.rule)")
    newest = api(housing[0], f"/monitors/{MONITOR}/windows", newest_first="true", limit=1)["windows"][0]
    assert broken == [s["rule"] for s in newest["signals"] if s["active"]]
    assert {"data_drift", "prediction_drift"} <= set(broken)
    assert prod.locator(".rows").get_attribute("data-rows") == str(newest["rows"])
    fresh = tab.locator(f"#monitors tr[data-monitor='{EMPTY_MONITOR}']")
    assert fresh.get_attribute("data-state") == "waiting" and "none yet" in fresh.inner_text()
    prod.get_by_role("link", name=MONITOR).click()
    tab.wait_for_url(f"**/monitors/{MONITOR}?project=default")
    tab.wait_for_function(READY)


def test_the_monitor_page_draws_every_chart_from_its_windows(tab: Any, housing: tuple[str, Housing]) -> None:
    windows = api(housing[0], f"/monitors/{MONITOR}/windows")["windows"]
    tab.goto(f"/monitors/{MONITOR}")
    tab.wait_for_function(READY)
    for chart in CHARTS:
        box = tab.locator(f"#{chart}")
        assert box.get_attribute("data-drawn") == "yes", chart
        assert box.locator("canvas").count() >= 1, chart
    # The heat map: every watched feature and the model's score, one column per window.
    assert set(option(tab, "drift-heatmap", ".yAxis[0].data")) == {*FEATURES, "prediction (score)"}
    assert len(option(tab, "drift-heatmap", ".xAxis[0].data")) == len(windows)
    drifted = sum(f["drifted"] for w in windows for f in w["drift"]["features"].values())
    drifted += sum(bool(w["drift"].get("prediction", {}).get("drifted")) for w in windows)
    assert len(option(tab, "drift-heatmap", ".series[1].data")) == drifted > 0
    # Performance: the realised accuracy of each window, the estimate's band, the reference's line.
    realised = option(tab, "performance-chart", ".series.find(s => s.name === 'realised').data")
    assert realised == [w["values"].get("performance.accuracy") for w in windows]
    assert option(
        tab, "performance-chart", ".series.find(s => s.name === 'realised').markLine.data[0].yAxis"
    ) == pytest.approx(0.6704, abs=1e-4)
    # Labels arrive a day late: full coverage, a 24-hour lag.
    coverage = option(tab, "labels-chart", ".series[0].data")
    assert coverage[1:] == [1.0] * (len(windows) - 1)
    assert "lag (hours)" in option(tab, "labels-chart", ".yAxis[1].name")
    correlation = tab.locator("#outcome-correlations li[data-outcome='revenue']").inner_text()
    # Over the windows with both: the first holds too few labelled rows for a realised accuracy.
    both = [w for w in windows if "revenue" in w["outcomes"] and "performance.accuracy" in w["values"]]
    assert "Pearson's r =" in correlation and f"over {len(both)} windows" in correlation
    assert len(both) == len(windows) - 1
    # Rules: the table says which fire now, the strip has a row per rule.
    firing = tab.locator("#rules-table tr[data-state='firing']").evaluate_all(
        "rows => rows.map(r => r.dataset.rule)"
    )
    assert set(firing) >= {"data_drift", "prediction_drift"}
    assert len(option(tab, "rules-strip", ".yAxis[0].data")) == tab.locator("#rules-table tbody tr").count()
    assert tab.locator("#monitor-alerts").is_visible()


def test_a_click_on_the_heat_map_shows_that_features_distribution(
    tab: Any, housing: tuple[str, Housing]
) -> None:
    base_url = housing[0]
    windows = api(base_url, f"/monitors/{MONITOR}/windows")["windows"]
    tab.goto(f"/monitors/{MONITOR}")
    tab.wait_for_function(READY)
    chart = tab.locator("#distribution-chart")
    assert chart.get_attribute("data-state") == "ready"
    assert chart.get_attribute("data-feature") == windows[-1]["drift"]["ranked"][0]  # the most drifted first
    # Click MedInc's cell in the fourth window.
    features = option(tab, "drift-heatmap", ".yAxis[0].data")
    x, y = tab.evaluate(
        "([i, j]) => echarts.getInstanceByDom(document.getElementById('drift-heatmap')).convertToPixel({seriesIndex: 0}, [i, j])",
        [3, features.index("MedInc")],
    )
    tab.locator("#drift-heatmap").click(position={"x": x, "y": y})
    tab.wait_for_function(
        "() => { const c = document.getElementById('distribution-chart'); return c.dataset.feature === 'MedInc' && c.dataset.state === 'ready'; }"
    )
    start = windows[3]["start"]
    assert tab.locator("#distribution-window").input_value() == f"{start}:{start + 1}"
    expected = api(
        base_url, f"/monitors/{MONITOR}/distribution", feature="MedInc", since=start, until=start + 1
    )
    assert expected["rows"] == windows[3]["rows"]
    drawn = option(tab, "distribution-chart", ".series.map(s => [s.name, s.data.length])")
    bins = len(expected["histogram"]["edges"])
    assert drawn == [["reference", bins], ["current", bins]]
    caption = tab.locator("#distribution-caption").inner_text()
    assert f"{windows[3]['rows']:,} rows in the window" in caption
    assert ("Drifted" in caption) == expected["drift"]["drifted"]
    # All the windows merged, and a feature picked by name.
    tab.select_option("#distribution-window", label=f"all {len(windows)} windows shown, merged")
    tab.wait_for_function(
        "() => document.getElementById('distribution-caption').textContent.includes('windows merged')"
    )
    tab.select_option("#distribution-feature", "HouseAge")
    tab.wait_for_function(
        "() => document.getElementById('distribution-chart').dataset.feature === 'HouseAge'"
    )
    assert f"{sum(w['rows'] for w in windows):,} rows" in tab.locator("#distribution-caption").inner_text()


def test_the_segment_picker_shows_one_regions_windows(tab: Any, housing: tuple[str, Housing]) -> None:
    north = api(housing[0], f"/monitors/{MONITOR}/windows", segment="north")["windows"]
    tab.goto(f"/monitors/{MONITOR}")
    tab.locator("#segment-picker a[data-segment='north']").click()
    tab.wait_for_url("**segment=north**")
    tab.wait_for_function(READY)
    assert tab.locator("#segment-picker a[aria-current='page']").inner_text() == "north"
    assert len(option(tab, "drift-heatmap", ".xAxis[0].data")) == len(north)
    assert tab.locator("#distribution-chart").get_attribute("data-segment") == "north"


def test_windows_before_a_start_are_a_page_back(tab: Any, housing: tuple[str, Housing]) -> None:
    windows = api(housing[0], f"/monitors/{MONITOR}/windows")["windows"]
    tab.goto(f"/monitors/{MONITOR}?before={windows[4]['start']}")
    tab.wait_for_function(READY)
    assert len(option(tab, "drift-heatmap", ".xAxis[0].data")) == 4
    assert tab.locator("#window-count").inner_text().startswith("4 windows")
    # The header still says how the monitor is now, and a link leads back to the newest windows.
    assert tab.locator("h1 .badge").get_attribute("data-state") == "breaking"
    tab.locator("#newer-windows").click()
    tab.wait_for_function(READY)
    assert len(option(tab, "drift-heatmap", ".xAxis[0].data")) == len(windows)


def test_a_monitor_without_a_window_reads_well(tab: Any) -> None:
    tab.goto(f"/monitors/{EMPTY_MONITOR}")
    tab.wait_for_function(READY)
    assert "No window yet." in tab.locator("#no-windows").inner_text()
    assert tab.locator("h1 .badge").inner_text().lower() == "no window yet"
    for chart in ("drift-heatmap", "performance-chart", "labels-chart", "rules-strip"):
        assert tab.locator(f"#{chart}").count() == 0
    # The reference's distribution is there already, alone.
    assert option(tab, "distribution-chart", ".series.map(s => s.name)") == ["reference"]
    assert "No window yet: the reference alone." in tab.locator("#distribution-caption").inner_text()
    states = tab.locator("#rules-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.state)")
    assert states and set(states) == {"unknown"}


def test_the_models_page_links_the_monitors_of_its_aliases(tab: Any) -> None:
    tab.goto("/models/housing")
    links = tab.locator("#alias-table tr[data-alias='production'] td.alias-monitors a")
    assert links.all_inner_texts() == [EMPTY_MONITOR, MONITOR]
    links.nth(1).click()
    tab.wait_for_url(f"**/monitors/{MONITOR}?project=default")
    tab.wait_for_function(READY)


def test_what_names_nothing_is_an_error_page(tab: Any, console: Console) -> None:
    console.expect_http_error = True
    for path, status in (
        ("/monitors/nobody", 404),
        (f"/monitors/{MONITOR}?segment=west", 404),
        (f"/monitors/{MONITOR}?before=yesterday", 400),
        ("/monitors?project=nowhere", 404),
    ):
        answer = tab.goto(path)
        assert answer.status == status, path
        assert tab.locator(".error-page").count() == 1, path


def test_the_alerts_made_from_a_monitors_signals_are_on_its_page(
    tab: Any, housing: tuple[str, Housing]
) -> None:
    """A monitor that runs publishes its windows' signals; the incidents capability turns the
    firing ones into alerts, which the monitor's page lists with their incident."""
    base, seeded = housing
    platform = PLATFORMS[base]
    with Client(base) as client:
        client.monitors.create(
            "housing-live",
            "housing@production",
            REFERENCE,
            features=FEATURES,
            every="30d",
            start=seeded.first,
        )
        client.monitors.run("housing-live")
        background = platform.start_background(threads=1)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not [
                a for a in client.alerts.list(model="housing", state="firing") if a.monitor == "housing-live"
            ]:
                time.sleep(0.2)
        finally:
            background.stop()
        try:
            tab.goto("/monitors/housing-live")
            tab.wait_for_function(READY)
            rows = tab.locator("#monitor-alerts tbody tr")
            assert rows.count() >= 1
            text = tab.locator("#monitor-alerts").inner_text()
            assert "firing" in text.lower() and "data_drift" in text
            assert tab.locator("#monitor-alerts a[href^='/incidents/']").count() >= 1
        finally:
            client.monitors.delete("housing-live")


@pytest.mark.parametrize("width", WIDTHS, ids=lambda width: f"{width}px")
def test_screenshots(browser: Any, housing: tuple[str, Housing], width: int, tmp_path: Path) -> None:
    with browser_tab(browser, housing[0], Console(), width=width, timeout_ms=15_000) as page:
        page.goto("/monitors")
        no_page_overflow(page)
        keep(page, "monitors", tmp_path)
        page.goto(f"/monitors/{MONITOR}")
        page.wait_for_function(READY)
        no_page_overflow(page)
        keep(page, "monitor", tmp_path)

"""The screenshots in docs/screenshots/ are what these tests see: the demo's runs (`plimsoll demo`:
real scikit-learn models) and its release of the best (registered, evaluated, gated, approved,
promoted) behind a real server, in Chromium at a laptop's two widths.

Each test checks what the screenshot is meant to show (the columns that differ, the sorted metric,
the charts drawn, the comparison plots) and saves the picture. With PLIMSOLL_SCREENSHOTS=update
(`make screenshots`) it is written into docs/screenshots/; otherwise into the test's temporary
folder, and the test checks that the docs hold a picture of that page at that width (pixels differ
from one run to the next: the demo's run ids and times are new each time).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_support import Console, browser_tab

from plimsoll.client import Client
from plimsoll.core.config import Settings
from plimsoll.demo import DemoResult, run_demo
from plimsoll.operate_demo import MONITOR, operate
from plimsoll.platform import Platform
from plimsoll.release_demo import ALIAS, MODEL, release_best
from plimsoll.server.testing import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("ui")]

DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WIDTHS = (1400, 1024)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, browser: Any) -> Iterator[tuple[str, DemoResult]]:
    home = tmp_path_factory.mktemp("demo") / ".plimsoll"
    platform = Platform(home=home).startup()
    server = LiveServer(platform)
    try:
        with Client(str(server.url)) as client:
            result = run_demo(client, experiment="demo")
        # The release approves as a second user of the store: an embedded client of the same one;
        # then the demo's production traffic drifts, and its alerts open an incident.
        with Client(settings=Settings.from_env().with_overrides(home=home)) as local:
            release = release_best(local, result)
            assert release.promoted
            assert operate(local, result, release).incident is not None
        yield str(server.url), result
    finally:
        server.stop()
        platform.close()


@pytest.fixture(params=WIDTHS, ids=lambda width: f"{width}px")
def wide_page(request: pytest.FixtureRequest, browser: Any, demo: tuple[str, DemoResult]) -> Iterator[Any]:
    with browser_tab(browser, demo[0], Console(), width=request.param, timeout_ms=15_000) as tab:
        yield tab


def png_width(path: Path) -> int:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return int(struct.unpack(">I", header[16:20])[0])


def keep(page: Any, name: str, tmp_path: Path) -> None:
    width = page.viewport_size["width"]
    file_name = f"{name}-{width}.png"
    if os.environ.get("PLIMSOLL_SCREENSHOTS") == "update":
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_SCREENSHOTS / file_name), full_page=True)
        return
    taken = tmp_path / file_name
    page.screenshot(path=str(taken), full_page=True)
    documented = DOCS_SCREENSHOTS / file_name
    assert documented.exists(), f"docs/screenshots/{file_name} is missing: run `make screenshots`"
    assert png_width(documented) == png_width(taken), f"docs/screenshots/{file_name} is of another width"


def no_page_overflow(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_runs_table(wide_page: Any, demo: tuple[str, DemoResult], tmp_path: Path) -> None:
    result = demo[1]
    wide_page.goto(f"/experiments/{result.experiment.id}?order_by=metrics.roc_auc+DESC")
    header = wide_page.locator("#runs-table thead th[data-key='roc_auc']")
    assert header.is_visible()
    # What differs between the demo's settings is on screen; what they share is said once above.
    for key in ("learning_rate", "max_depth"):
        assert wide_page.locator(f"#runs-table thead th[data-key='{key}']").is_visible()
    assert "dataset" in wide_page.locator("#constant-columns").inner_text()
    names = wide_page.locator("#runs-table tbody td.col-name a").all_inner_texts()
    assert names[0] == result.best.name
    no_page_overflow(wide_page)
    keep(wide_page, "runs-table", tmp_path)


def test_run_page(wide_page: Any, demo: tuple[str, DemoResult], tmp_path: Path) -> None:
    best = demo[1].best
    wide_page.goto(f"/runs/{best.id}")
    figures = wide_page.locator("figure.chart")
    count = figures.count()
    assert count >= 4  # the demo logs train/val loss and accuracy per step
    wide_page.wait_for_function(
        "n => document.querySelectorAll(\"figure.chart[data-state='ready']\").length === n", arg=count
    )
    assert wide_page.get_by_text("roc_auc").first.is_visible()
    no_page_overflow(wide_page)
    keep(wide_page, "run-page", tmp_path)


def test_compare_page(wide_page: Any, demo: tuple[str, DemoResult], tmp_path: Path) -> None:
    runs = demo[1].runs
    wide_page.goto("/compare?runs=" + ",".join(run.id for run in runs))
    wide_page.wait_for_function(
        """() => ["parallel-plot", "scatter-plot"].every(id =>
             typeof echarts !== "undefined" && echarts.getInstanceByDom(document.getElementById(id)))"""
    )
    lines = wide_page.evaluate(
        "echarts.getInstanceByDom(document.getElementById('parallel-plot')).getOption().series[0].data.length"
    )
    assert lines == len(runs)  # one line per run of the demo
    axis_types = wide_page.evaluate(
        "Object.fromEntries(echarts.getInstanceByDom(document.getElementById('parallel-plot')).getOption()"
        ".parallelAxis.map(a => [a.name, a.type]))"
    )
    axes = list(axis_types)
    assert "learning_rate" in axes and "dataset" not in axes  # the same in every demo run: said below
    assert "dataset" in wide_page.locator("#parallel-same").inner_text()
    # Metrics logged once per run are bars (and in the table), not charts of one dot each.
    charted = wide_page.locator("figure.chart").evaluate_all("fs => fs.map(f => f.dataset.key)")
    assert "accuracy" not in charted and "val_loss" in charted
    assert "accuracy" in wide_page.locator("#single-metric option").all_inner_texts()
    # The scatter starts with a numeric param of two values or more that most runs have (not alpha,
    # 2 of the 7 runs; not n_estimators, 100 in every run that has it).
    x_name = wide_page.evaluate(
        "echarts.getInstanceByDom(document.getElementById('scatter-plot')).getOption().xAxis[0].name"
    )
    with_x = sum(x_name in run.params for run in runs)
    spread = [
        key
        for key in axes[:-1]
        if axis_types[key] == "value" and len({run.params[key] for run in runs if key in run.params}) > 1
    ]
    assert with_x == max(sum(key in run.params for run in runs) for key in spread)
    assert wide_page.locator("#scatter-count").inner_text().startswith(f"{with_x} of {len(runs)} runs")
    figures = wide_page.locator("figure.chart")
    count = figures.count()
    wide_page.wait_for_function(
        "n => document.querySelectorAll(\"figure.chart[data-state='ready']\").length === n", arg=count
    )
    no_page_overflow(wide_page)
    keep(wide_page, "compare", tmp_path)


def test_dataset_page(wide_page: Any, demo: tuple[str, DemoResult], tmp_path: Path) -> None:
    wide_page.goto("/datasets/breast-cancer-train")
    columns = wide_page.locator("#profile .profile-column").count()
    assert columns == 31  # 30 features and the diagnosis
    wide_page.wait_for_function(f"document.body.dataset.chartsReady === '{columns}'")
    assert wide_page.locator("#version-runs tbody tr").count() == len(demo[1].runs)
    no_page_overflow(wide_page)
    keep(wide_page, "dataset", tmp_path)


def test_lineage_graph(wide_page: Any, demo: tuple[str, DemoResult], tmp_path: Path) -> None:
    wide_page.goto("/lineage?node=dataset:breast-cancer-train@1")
    wide_page.wait_for_function("document.getElementById('lineage-graph').dataset.ready === 'true'")
    drawn = wide_page.evaluate("window.plimsollLineage.nodes().map(n => n.id()).sort()")
    runs = [f"run:{run.id}" for run in demo[1].runs]
    # The data, the runs that read it, and downstream the version the best run's model became.
    assert {"dataset:breast-cancer-train@1", *runs, f"model:{MODEL}/1"} <= set(drawn), drawn
    no_page_overflow(wide_page)
    keep(wide_page, "lineage", tmp_path)


def test_model_page(wide_page: Any, demo: tuple[str, DemoResult], tmp_path: Path) -> None:
    wide_page.goto(f"/models/{MODEL}")
    wide_page.wait_for_function("document.body.dataset.chartsReady === '1'")
    assert wide_page.locator("#alias-timeline canvas").count() == 1
    assert ALIAS in wide_page.locator("#alias-table").inner_text()
    card = wide_page.locator("#model-card")
    assert "Model card of version 1" in card.inner_text() and card.locator(".risk-high").is_visible()
    no_page_overflow(wide_page)
    keep(wide_page, "model", tmp_path)


def test_model_version_page(wide_page: Any, demo: tuple[str, DemoResult], tmp_path: Path) -> None:
    wide_page.goto(f"/models/{MODEL}/versions/1")
    wide_page.wait_for_function("() => document.body.dataset.evaluationReady === '1'")
    for chart in ("roc", "pr", "calibration", "confusion"):
        assert wide_page.locator(f"#{chart}-chart canvas").count() >= 1, chart
    card = wide_page.locator("#model-card").inner_text()
    assert "Not a medical device" in card and "30 inputs (frame)" in card  # limitations, signature
    assert "digest is checked at every load" in card or "approved by" in card or "not approved" in card
    gates = wide_page.locator("#gates").inner_text()
    assert "recall-by-size" in gates and "passed" in gates
    no_page_overflow(wide_page)
    keep(wide_page, "model-version", tmp_path)


def test_alerts_page(wide_page: Any, demo: tuple[str, DemoResult], tmp_path: Path) -> None:
    wide_page.goto("/alerts")
    table = wide_page.locator("#alerts-table").inner_text()
    assert "data_drift" in table and MODEL in table
    no_page_overflow(wide_page)
    keep(wide_page, "alerts", tmp_path)


def test_incident_page(wide_page: Any, demo: tuple[str, DemoResult], tmp_path: Path) -> None:
    with Client(demo[0]) as client:
        (incident,) = client.incidents.list(model=MODEL, state="unresolved")
    wide_page.goto(f"/incidents/{incident.id}")
    alerts = wide_page.locator("#incident-alerts").inner_text()
    assert "data_drift" in alerts and "performance_drop" in alerts
    assert "demo-oncall" in wide_page.locator("main").inner_text()
    no_page_overflow(wide_page)
    keep(wide_page, "incident", tmp_path)


def test_demo_monitor_page(wide_page: Any, demo: tuple[str, DemoResult], tmp_path: Path) -> None:
    wide_page.goto(f"/monitors/{MONITOR}")
    wide_page.wait_for_function("() => document.body.dataset.monitorReady === '1'")
    assert wide_page.locator("#monitor-alerts tbody tr").count() >= 2
    no_page_overflow(wide_page)
    keep(wide_page, "demo-monitor", tmp_path)

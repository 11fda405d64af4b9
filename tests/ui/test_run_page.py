"""The run page in a real browser at 1400 and 1024 px: the summary (metrics beside params and tags)
leads, single values are a table and not charts, a chart's axes fit its data, the chart options
change the chart, a parent lists its children, and a RUNNING run's page follows new points
without a reload. Data is written through the TrackingService of the server under test."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from ui_support import T0, Seeded

from plimsoll.tracking.entities import Metric, Run, RunStatus
from plimsoll.tracking.service import TrackingService

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("ui")]

WIDTHS = [1400, 1024]
LOSS = [0.9 * math.exp(-i / 8) + 0.2 for i in range(20)]  # 1.1 … 0.29: not round numbers


@dataclass
class Family:
    parent: Run
    children: list[Run]


@pytest.fixture(scope="module")
def tracking(seeded_server: tuple[Any, Seeded]) -> TrackingService:
    tracking: TrackingService = seeded_server[0].platform.tracking
    return tracking


@pytest.fixture(scope="module")
def family(tracking: TrackingService, seeded: Seeded) -> Family:
    """A sweep: a parent with a loss curve and single final values, and two children."""
    start = T0 + 10 * 3_600_000
    parent = tracking.create_run(
        seeded.experiment_id,
        name="sweep",
        start_time=start,
        params={"grid": "lr", "folds": 2},
        tags={"team": "growth"},
        actor="test",
    )
    points = [Metric("loss", value, i, start + 5_000 + i * 1_000) for i, value in enumerate(LOSS)]
    points += [Metric("final_auc", 0.93, 19, start + 30_000), Metric("test_f1", 0.81, 19, start + 30_000)]
    tracking.log_batch(parent.id, metrics=points, actor="test")
    children = []
    for fold in range(2):
        child = tracking.create_run(
            seeded.experiment_id,
            name=f"fold-{fold}",
            parent_run_id=parent.id,
            start_time=start + fold,
            actor="test",
        )
        tracking.log_batch(child.id, metrics=[Metric("auc", 0.9 + fold / 100, 0, start)], actor="test")
        tracking.end_run(child.id, RunStatus.FINISHED, end_time=start + 60_000, actor="test")
        children.append(tracking.get_run(child.id))
    tracking.end_run(parent.id, RunStatus.FINISHED, end_time=start + 60_000, actor="test")
    return Family(tracking.get_run(parent.id), children)


def open_run(page: Any, run_id: str, width: int) -> list[Any]:
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"/runs/{run_id}")
    figures = page.locator("figure.chart")
    page.wait_for_function(
        "n => document.querySelectorAll(\"figure.chart[data-state='ready']\").length === n",
        arg=figures.count(),
    )
    assert page.locator("figure.chart[data-state='error']").count() == 0
    return [figures.nth(i) for i in range(figures.count())]


def no_sideways_scroll(page: Any) -> bool:
    return bool(
        page.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    )


def box(page: Any, selector: str) -> dict[str, float]:
    found: dict[str, float] = page.locator(selector).bounding_box()
    return found


@pytest.mark.parametrize("width", WIDTHS)
def test_summary_leads_and_single_values_are_a_table(page: Any, family: Family, width: int) -> None:
    figures = open_run(page, family.parent.id, width)
    assert [f.get_attribute("data-key") for f in figures] == ["loss"]  # no one-dot charts
    rows = page.locator("#metrics-table tbody tr")
    kinds = dict(
        zip(
            rows.evaluate_all("rs => rs.map(r => r.dataset.key)"),
            rows.evaluate_all("rs => rs.map(r => r.dataset.kind)"),
            strict=True,
        )
    )
    assert kinds == {"final_auc": "single", "loss": "history", "test_f1": "single"}
    assert page.locator("#metrics-table tr[data-key='final_auc'] td.num").inner_text() == "0.93"
    assert page.locator("#metrics-table tr[data-key='test_f1'] td.num").inner_text() == "0.81"

    # The table shows every row: its box does not cut it off.
    wrap = page.locator("#metrics-table").locator("xpath=..")
    assert wrap.evaluate("w => w.scrollHeight <= w.clientHeight && w.scrollWidth <= w.clientWidth")
    for key in kinds:
        assert page.locator(f"#metrics-table tr[data-key='{key}']").is_visible()

    # Params and tags sit beside the metrics, above the charts, in the first screen.
    metrics, params, tags = box(page, "#metrics-table"), box(page, "#params-table"), box(page, "#tags-table")
    charts = box(page, "#charts-card")
    assert params["x"] > metrics["x"] + metrics["width"] - 1  # to the right, not below
    assert params["y"] < metrics["y"] + metrics["height"]
    assert params["y"] + params["height"] < 900 and tags["y"] < 900
    assert max(params["y"], tags["y"], metrics["y"]) < charts["y"]
    assert page.locator("#params-table tr[data-key='folds'] td").inner_text() == "2"
    assert page.locator("#tags-table tr[data-key='team'] td").inner_text() == "growth"
    assert no_sideways_scroll(page)
    page.screenshot(path=f"/tmp/ui-run-summary-{width}.png", full_page=True)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_y_axis_fits_the_data(page: Any, family: Family, base_url: str, width: int) -> None:
    (loss,) = open_run(page, family.parent.id, width)
    low, high = min(LOSS), max(LOSS)
    span = high - low
    y_min, y_max = float(loss.get_attribute("data-y-min")), float(loss.get_attribute("data-y-max"))
    # Every point is inside, and the margin is small: no widening to round numbers (0 or 1.2 here).
    assert low - 0.05 * span <= y_min <= low
    assert high <= y_max <= high + 0.05 * span
    # The attribute is uPlot's own scale, not a copy kept beside it.
    assert loss.evaluate("f => [f.plimsollChart.scales.y.min, f.plimsollChart.scales.y.max]") == [
        y_min,
        y_max,
    ]
    assert float(loss.get_attribute("data-x-min")) == 0 and float(loss.get_attribute("data-x-max")) == 19
    assert loss.get_attribute("data-y-scale") == "linear"
    history = httpx.get(f"{base_url}/api/v1/runs/{family.parent.id}/metrics/loss/history").json()
    assert history["values"] == pytest.approx(LOSS)
    assert no_sideways_scroll(page)


@pytest.mark.parametrize("width", WIDTHS)
def test_log_scale_x_axis_and_smoothing_change_the_chart(page: Any, family: Family, width: int) -> None:
    (loss,) = open_run(page, family.parent.id, width)
    start = family.parent.start_time

    page.check(".chart-log")
    assert loss.get_attribute("data-y-scale") == "log"
    assert loss.evaluate("f => f.plimsollChart.scales.y.distr") == 3
    y_min, y_max = float(loss.get_attribute("data-y-min")), float(loss.get_attribute("data-y-max"))
    assert min(LOSS) / 1.2 <= y_min <= min(LOSS) and max(LOSS) <= y_max <= max(LOSS) * 1.2

    page.select_option(".chart-x-axis", "wall")
    assert loss.get_attribute("data-x-axis") == "wall"
    assert loss.evaluate("f => f.plimsollChart.scales.x.time") is True
    assert float(loss.get_attribute("data-x-min")) == (start + 5_000) / 1000
    assert float(loss.get_attribute("data-x-max")) == (start + 24_000) / 1000

    page.select_option(".chart-x-axis", "relative")
    assert loss.get_attribute("data-x-axis") == "relative"
    assert float(loss.get_attribute("data-x-min")) == 5  # seconds since the run started
    assert float(loss.get_attribute("data-x-max")) == 24
    loss.locator(".u-over").hover(position={"x": 60, "y": 60})
    assert loss.locator(".tooltip").inner_text().startswith("+")  # the tooltip speaks the axis' units

    page.uncheck(".chart-log")
    assert loss.get_attribute("data-y-scale") == "linear"
    smoothing = page.locator(".chart-smoothing")
    smoothing.evaluate("s => { s.value = '0.9'; s.dispatchEvent(new Event('change')); }")
    assert page.locator(".chart-toolbar output").inner_text() == "0.90"
    smoothed, raw = loss.evaluate("f => [f.plimsollChart.data[1], f.plimsollChart.data[2]]")
    assert raw == pytest.approx(LOSS)  # the raw line stays, faded, behind the smoothed one
    assert smoothed[0] == pytest.approx(LOSS[0])  # debiased: starts at the first value
    assert smoothed[-1] > LOSS[-1]  # and lags behind a falling curve
    assert no_sideways_scroll(page)


@pytest.mark.parametrize("width", WIDTHS)
def test_a_parent_lists_its_children(page: Any, family: Family, width: int) -> None:
    open_run(page, family.parent.id, width)
    rows = page.locator("#child-runs tbody tr")
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.runId)") == [c.id for c in family.children]
    assert page.locator("#child-runs tbody td.col-name a").all_inner_texts() == ["fold-0", "fold-1"]
    assert page.locator("#child-runs tbody td[data-key='auc']").all_inner_texts() == ["0.9", "0.91"]
    assert page.locator("#child-runs tbody .badge").all_inner_texts() == ["FINISHED", "FINISHED"]
    assert no_sideways_scroll(page)
    page.locator("#child-runs a", has_text="fold-1").click()
    page.wait_for_url(f"**/runs/{family.children[1].id}")
    page.locator(f"#overview a[href='/runs/{family.parent.id}']").click()  # back up: "Parent run"
    page.wait_for_url(f"**/runs/{family.parent.id}")


def test_a_run_without_children_has_no_children_section(page: Any, seeded: Seeded) -> None:
    open_run(page, seeded.run("baseline").id, 1400)
    assert page.locator("#child-runs").count() == 0
    assert page.locator("#live-indicator").is_hidden()  # a finished run is not followed


@pytest.mark.parametrize("width", WIDTHS)
def test_a_running_run_is_followed_without_a_reload(
    page: Any, tracking: TrackingService, seeded: Seeded, width: int
) -> None:
    run = tracking.create_run(seeded.experiment_id, name=f"live-{width}", actor="test")
    tracking.log_batch(
        run.id, metrics=[Metric("loss", 1 / (i + 1), i, T0 + i) for i in range(5)], actor="test"
    )
    tracking.log_batch(run.id, metrics=[Metric("lr", 0.1, 0, T0)], actor="test")
    (loss,) = open_run(page, run.id, width)
    assert page.locator("#metrics-table tr[data-key='lr']").get_attribute("data-kind") == "single"
    page.evaluate("() => { window.__samePage = true; }")  # gone if the page reloads
    page.wait_for_function("() => document.getElementById('live-indicator').dataset.live === 'on'")
    assert page.locator("#live-indicator").is_visible()

    # New points, a second value of `lr`, and a new metric while the page is open.
    tracking.log_batch(
        run.id,
        metrics=[Metric("loss", 1 / (i + 1), i, T0 + i) for i in range(5, 12)]
        + [Metric("lr", 0.05, 10, T0 + 10), Metric("epoch_time", 3.5, 0, T0)],
        actor="test",
    )
    page.wait_for_function(
        "() => document.querySelector(\"figure.chart[data-key='loss'] .legend li\").dataset.points === '12'",
        timeout=15_000,
    )
    assert float(loss.get_attribute("data-x-max")) == 11
    assert float(loss.get_attribute("data-y-min")) <= 1 / 12  # the new low point is in range
    page.wait_for_function(
        "() => document.querySelector(\"figure.chart[data-key='lr'][data-state='ready']\") !== null",
        timeout=15_000,
    )
    assert page.locator("#metrics-table tr[data-key='lr']").get_attribute("data-kind") == "history"
    assert page.locator("#metrics-table tr[data-key='loss'] td.num").inner_text() == "0.0833333"
    new_row = page.locator("#metrics-table tr[data-key='epoch_time']")
    assert new_row.get_attribute("data-kind") == "single" and new_row.locator("td.num").inner_text() == "3.5"
    assert page.locator("figure.chart[data-key='epoch_time']").count() == 0
    assert page.locator("#metrics-table tbody tr").evaluate_all("rs => rs.map(r => r.dataset.key)") == [
        "epoch_time",
        "loss",
        "lr",
    ]

    tracking.end_run(run.id, RunStatus.FINISHED, actor="test")
    page.wait_for_function(
        "() => document.getElementById('live-indicator').dataset.live === 'ended'", timeout=15_000
    )
    assert page.locator("#run-status .badge").inner_text().lower() == "finished"
    assert page.locator("#overview-status").inner_text() == "finished"
    assert page.evaluate("() => window.__samePage") is True
    assert no_sideways_scroll(page)

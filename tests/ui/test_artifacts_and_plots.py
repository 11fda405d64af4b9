"""Artifact previews and the compare page's plots across runs, in a real browser.

The module seeds, on top of the shared fixture, one run with an artifact of each kind a preview
knows; each preview page is checked for what a person would look for (the first CSV row's cells,
the Markdown heading, a `<script>` shown as text and never run), the downloads over HTTP for their
name and type, and the compare page's ECharts instances for one line per run and one point per run
that has both chosen values."""

from __future__ import annotations

import io
import math
import struct
import zlib
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from ui_support import Seeded

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("ui")]

WIDTHS = [1400, 1024]

MARKDOWN = b"""# Training report

The run reached **0.92** accuracy.

<script>window.__markdownRan = true</script>

| split | acc |
|-------|-----|
| val   | 0.92 |
"""
SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20">'
    b'<script>window.parent.__svgRan = true</script><rect width="40" height="20" fill="teal"/></svg>'
)
LONG_LOG = b"".join(b"step %06d loss=0.5\n" % i for i in range(20_000))  # ~370 KiB
ODD_NAME = 'reports/résumé "final".txt'


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x20\x80\xc0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _parquet() -> bytes:
    table = pa.table({"user": [f"u{i:03d}" for i in range(150)], "churned": [i % 3 == 0 for i in range(150)]})
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


ARTIFACTS: dict[str, bytes] = {
    "notes/README.md": MARKDOWN,
    "logs/train.log": b"epoch 1 loss=0.9\nepoch 2 loss=0.5\n",
    "logs/long.log": LONG_LOG,
    "config/params.yaml": b"lr: 0.01  # tuned\noptimizer: adam\n",
    "metrics.json": b'{"acc": 0.92, "classes": ["stay", "leave"]}',
    "data/sample.csv": b"customer,tenure,churned\n"
    + b"".join(b"c%03d,%d,%s\n" % (i, i * 2, b"yes" if i % 2 else b"no") for i in range(250)),
    "data/users.parquet": _parquet(),
    "plots/roc.png": _png(30, 12),
    "plots/diagram.svg": SVG,
    "model/weights.bin": b"\x00\x01\x02weights" * 50,
    ODD_NAME: b"fine\n",
}


@pytest.fixture(scope="module")
def run_id(seeded_server: tuple[Any, Seeded]) -> str:
    server, seeded = seeded_server
    run = seeded.run("big-lr")
    for path, data in ARTIFACTS.items():
        server.platform.tracking.log_artifact(run.id, path, data, actor="test")
    return run.id


def preview_url(run_id: str, path: str) -> str:
    return f"/runs/{run_id}/artifacts/{quote(path)}"


def no_horizontal_overflow(page: Any) -> bool:
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


def open_preview(page: Any, run_id: str, path: str, width: int = 1400) -> Any:
    page.set_viewport_size({"width": width, "height": 900})
    response = page.goto(preview_url(run_id, path))
    assert response.status == 200
    assert page.locator("h1").inner_text() == path.rsplit("/", 1)[-1]
    return page.locator("#preview")


# -- previews ------------------------------------------------------------------------------------


def test_run_page_links_each_artifact_to_its_preview_and_its_download(page: Any, run_id: str) -> None:
    page.goto(f"/runs/{run_id}")
    row = page.locator("#artifacts-table tr[data-path='data/sample.csv']")
    assert (
        row.locator("a.download").get_attribute("href") == f"/api/v1/runs/{run_id}/artifacts/data/sample.csv"
    )
    row.get_by_role("link", name="data/sample.csv", exact=True).click()
    page.wait_for_url(f"**{preview_url(run_id, 'data/sample.csv')}")
    assert page.locator("#preview").get_attribute("data-kind") == "csv"


@pytest.mark.parametrize("width", WIDTHS)
def test_csv_preview_is_a_table_of_the_first_rows(page: Any, run_id: str, width: int) -> None:
    preview = open_preview(page, run_id, "data/sample.csv", width)
    headers = preview.locator("#preview-table thead th").all_inner_texts()
    assert headers == ["customer", "tenure", "churned"]
    assert preview.locator("#preview-table tbody tr").first.locator("td").all_inner_texts() == [
        "c000",
        "0",
        "no",
    ]
    assert preview.locator("#preview-table tbody tr").count() == 100
    assert "Showing the first 100 of 250 rows." in preview.locator(".preview-note").inner_text()
    assert no_horizontal_overflow(page)


def test_parquet_preview_is_a_table_of_the_first_rows(page: Any, run_id: str) -> None:
    preview = open_preview(page, run_id, "data/users.parquet")
    assert preview.locator("#preview-table thead th").all_inner_texts() == ["user", "churned"]
    assert preview.locator("#preview-table tbody tr").nth(1).locator("td").all_inner_texts() == [
        "u001",
        "False",
    ]
    assert "Showing the first 100 of 150 rows." in preview.locator(".preview-note").inner_text()


@pytest.mark.parametrize("width", WIDTHS)
def test_markdown_is_rendered_and_its_script_shown_as_text_not_run(
    page: Any, run_id: str, width: int
) -> None:
    preview = open_preview(page, run_id, "notes/README.md", width)
    assert preview.locator(".markdown h2").inner_text() == "Training report"
    assert preview.locator(".markdown strong").inner_text() == "0.92"
    assert preview.locator(".markdown td").all_inner_texts() == ["val", "0.92"]
    assert "<script>window.__markdownRan = true</script>" in preview.inner_text()
    assert preview.locator("script").count() == 0
    assert page.evaluate("() => window.__markdownRan === undefined")
    assert no_horizontal_overflow(page)


def test_text_and_a_long_log_cut_with_a_note(page: Any, run_id: str) -> None:
    preview = open_preview(page, run_id, "logs/train.log")
    assert preview.locator("pre").inner_text() == "epoch 1 loss=0.9\nepoch 2 loss=0.5\n"
    assert preview.locator(".preview-note").count() == 0
    preview = open_preview(page, run_id, "logs/long.log")
    note = preview.locator(".preview-note")
    assert note.inner_text().startswith(f"Showing the first 256.0 KiB of {len(LONG_LOG) / 1024:.1f} KiB.")
    assert note.get_by_role("link", name="Download the whole file").is_visible()
    text = preview.locator("pre").inner_text()
    assert text.startswith("step 000000 loss=0.5\n") and text.endswith(" loss=0.5\n")
    assert "step 019999" not in text
    assert no_horizontal_overflow(page)


def test_json_and_yaml_are_highlighted(page: Any, run_id: str) -> None:
    preview = open_preview(page, run_id, "metrics.json")
    assert preview.locator(".highlight .nt").first.inner_text() == '"acc"'
    assert preview.locator(".highlight .mf").first.inner_text() == "0.92"
    # Highlighted by the stylesheet's classes: keys and numbers in different colours.
    colours = preview.evaluate(
        """el => ["nt", "mf"].map(c => getComputedStyle(el.querySelector(".highlight ." + c)).color)"""
    )
    assert colours[0] != colours[1]
    preview = open_preview(page, run_id, "config/params.yaml")
    assert preview.locator(".highlight .nt").all_inner_texts()[:2] == ["lr", "optimizer"]
    assert preview.locator(".highlight .c1").inner_text() == "# tuned"


@pytest.mark.parametrize("width", WIDTHS)
def test_images_are_shown_and_an_svg_runs_no_script(page: Any, run_id: str, width: int) -> None:
    for path, natural_width in [("plots/roc.png", 30), ("plots/diagram.svg", 40)]:
        preview = open_preview(page, run_id, path, width)
        image = preview.locator("img.preview-image")
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
        assert image.evaluate("img => img.naturalWidth") == natural_width
    assert page.evaluate("() => window.__svgRan === undefined")
    assert no_horizontal_overflow(page)


def test_binary_files_get_a_download_link_and_no_preview(page: Any, run_id: str) -> None:
    preview = open_preview(page, run_id, "model/weights.bin")
    assert preview.get_attribute("data-kind") == "binary"
    assert "No preview for this kind of file." in preview.locator("#no-preview").inner_text()
    with page.expect_download() as download_info:
        preview.get_by_role("link", name="Download weights.bin").click()
    assert download_info.value.suggested_filename == "weights.bin"


def test_environment_and_git_diff_previews(page: Any, seeded: Seeded) -> None:
    run = seeded.run("tuned-lr")  # the fixture recorded both, as the SDK does
    preview = open_preview(page, run.id, "plimsoll/environment.json")
    assert preview.locator("#packages tbody th").all_inner_texts() == ["numpy", "scikit-learn"]
    preview = open_preview(page, run.id, "plimsoll/git.diff")
    assert preview.locator(".diff-add").inner_text() == "+lr = 0.01"
    assert preview.locator(".diff-remove").inner_text() == "-lr = 0.001"


def test_an_unknown_artifact_is_a_friendly_404(page: Any, run_id: str, console: Any) -> None:
    console.expect_http_error = True
    response = page.goto(preview_url(run_id, "no/such/file.txt"))
    assert response.status == 404
    assert "has no artifact 'no/such/file.txt'" in page.locator(".error-message").inner_text()


# -- downloads -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "media_type"),
    [
        ("data/sample.csv", "text/csv; charset=utf-8"),
        ("plots/roc.png", "image/png"),
        ("plots/diagram.svg", "image/svg+xml"),
        ("data/users.parquet", "application/vnd.apache.parquet"),
        ("notes/README.md", "text/markdown; charset=utf-8"),
        ("model/weights.bin", "application/octet-stream"),
        (ODD_NAME, "text/plain; charset=utf-8"),
    ],
)
def test_downloads_carry_the_file_name_and_type(
    base_url: str, run_id: str, path: str, media_type: str
) -> None:
    response = httpx.get(f"{base_url}/api/v1/runs/{run_id}/artifacts/{quote(path)}")
    assert response.status_code == 200
    assert response.content == ARTIFACTS[path]
    assert response.headers["content-type"] == media_type
    assert response.headers["x-content-type-options"] == "nosniff"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment; ")
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == path.rsplit("/", 1)[-1]
    assert "sandbox" in response.headers["content-security-policy"]


# -- compare: parallel coordinates and scatter ---------------------------------------------------

COMPARED = ["baseline", "tuned-lr", "big-lr", "diverged", "long-run", "fraud-xgb"]


def has(seeded: Seeded, name: str, param: str, metric: str) -> bool:
    run = seeded.run(name)
    return param in run.params and math.isfinite(run.metrics.get(metric, math.nan))


def chart_option(page: Any, element_id: str) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """id => {
              const option = echarts.getInstanceByDom(document.getElementById(id)).getOption();
              return {series: option.series.map(s => ({type: s.type, data: s.data})),
                      parallelAxis: option.parallelAxis || [], xAxis: option.xAxis || [], yAxis: option.yAxis || []};
            }""",
            element_id,
        )
    )


def open_compare(page: Any, seeded: Seeded, names: list[str], width: int) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    page.add_init_script(
        """window.__violations = [];
        document.addEventListener("securitypolicyviolation", e => window.__violations.push(e.violatedDirective));"""
    )
    ids = ",".join(seeded.run(name).id for name in names)
    assert page.goto(f"/compare?runs={ids}").status == 200
    page.wait_for_function(  # each plot the page has (one run: no parallel plot, nothing differs)
        """() => ["parallel-plot", "scatter-plot", "single-plot"].every(id =>
             !document.getElementById(id) ||
             (typeof echarts !== "undefined" && echarts.getInstanceByDom(document.getElementById(id))))"""
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_draws_parallel_coordinates_and_a_scatter(page: Any, seeded: Seeded, width: int) -> None:
    open_compare(page, seeded, COMPARED, width)
    parallel = chart_option(page, "parallel-plot")
    assert [s["type"] for s in parallel["series"]] == ["parallel"]
    lines = parallel["series"][0]["data"]
    assert len(lines) == len(COMPARED)  # one line per run
    axes = {axis["name"]: axis for axis in parallel["parallelAxis"]}
    assert list(axes) == [
        "batch_size",
        "depth",
        "epochs",
        "lr",
        "optimizer",
        "acc",
    ]
    assert axes["lr"]["type"] == "value"
    assert axes["optimizer"]["type"] == "category"
    assert set(axes["optimizer"]["data"]) == {"adam", "sgd", "(none)"}  # fraud-xgb has none
    ordered = sorted(COMPARED, key=lambda name: seeded.run(name).start_time)
    page_names = page.locator("#compare-runs tbody th a").all_inner_texts()
    big_lr = lines[page_names.index("big-lr")]
    assert big_lr["name"] == "big-lr" and big_lr["value"][3] == 0.1
    assert len(ordered) == len(page_names)

    scatter = chart_option(page, "scatter-plot")
    # It starts with the first numeric param that differs against the first metric.
    assert scatter["xAxis"][0]["name"] == "batch_size" and scatter["yAxis"][0]["name"] == "acc"
    points = scatter["series"][0]["data"]
    with_both = [n for n in COMPARED if has(seeded, n, "batch_size", "acc")]
    assert len(points) == len(with_both) == 5
    assert sorted(p["name"] for p in points) == sorted(with_both)
    assert page.locator("#scatter-count").inner_text() == "5 of 6 runs (1 lack one of the two values)"

    assert page.evaluate("() => window.__violations") == []
    assert no_horizontal_overflow(page)
    page.screenshot(path=f"/tmp/ui-compare-plots-{width}.png", full_page=True)


def test_pickers_change_the_plots(page: Any, seeded: Seeded) -> None:
    open_compare(page, seeded, COMPARED, 1400)
    page.select_option("#scatter-x", label="depth")
    page.select_option("#scatter-y", label="auc")
    scatter = chart_option(page, "scatter-plot")
    assert scatter["xAxis"][0]["name"] == "depth" and scatter["yAxis"][0]["name"] == "auc"
    assert [p["name"] for p in scatter["series"][0]["data"]] == ["fraud-xgb"]
    page.select_option("#scatter-x", label="optimizer")
    page.select_option("#scatter-y", label="loss")
    scatter = chart_option(page, "scatter-plot")
    assert scatter["xAxis"][0]["type"] == "category"
    # diverged's last loss is NaN: no point for it, nor for fraud-xgb (no optimizer, no loss).
    expected = sorted(n for n in COMPARED if has(seeded, n, "optimizer", "loss"))
    assert expected == ["baseline", "big-lr", "long-run", "tuned-lr"]
    assert sorted(p["name"] for p in scatter["series"][0]["data"]) == expected

    page.select_option("#parallel-metric", label="loss")
    axes = chart_option(page, "parallel-plot")["parallelAxis"]
    assert axes[-1]["name"] == "loss"
    # Hovering a point shows a plain-text tooltip (richText: no HTML, so nothing the CSP refuses).
    box = page.locator("#parallel-plot").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert page.evaluate("() => window.__violations") == []


def test_compare_with_one_run_speaks_in_the_singular(page: Any, seeded: Seeded) -> None:
    open_compare(page, seeded, ["baseline"], 1400)
    assert page.title().startswith("Compare 1 run ·")
    assert page.locator(".page-head p").inner_text().startswith("1 run · ")
    assert page.locator("#parallel-plot").count() == 0
    assert page.locator("#parallel-none").inner_text() == "No parameter differs between runs: there is one."
    assert page.locator("#parallel-same").inner_text().startswith("This run: batch_size = 32")
    assert len(chart_option(page, "scatter-plot")["series"][0]["data"]) == 1


def test_parallel_axes_leave_out_the_params_every_run_shares(page: Any, seeded: Seeded) -> None:
    open_compare(page, seeded, ["baseline", "tuned-lr", "big-lr"], 1400)
    axes = [axis["name"] for axis in chart_option(page, "parallel-plot")["parallelAxis"]]
    assert axes == ["batch_size", "lr", "optimizer", "acc"]  # epochs is 60 in all three
    assert page.locator("#parallel-same").inner_text() == "All 3 runs: epochs = 60"
    assert page.locator("#parallel-not-drawn").count() == 0


def test_single_values_are_bars_not_one_dot_charts(page: Any, seeded: Seeded) -> None:
    open_compare(page, seeded, COMPARED, 1024)
    # acc and loss have a history in every run: charts; fraud-xgb's auc is one point: bars.
    charts = page.locator("figure.chart").evaluate_all("fs => fs.map(f => f.dataset.key)")
    assert charts == ["acc", "loss"]
    assert page.locator("#compare-metrics tr[data-key='auc']").count() == 1  # still in the table
    assert page.locator("#single-metric option").all_inner_texts() == ["auc"]
    bars = chart_option(page, "single-plot")
    assert [s["type"] for s in bars["series"]] == ["bar"]
    values = {bar["name"]: bar["value"] for bar in bars["series"][0]["data"]}
    assert values == {name: 0.9 if name == "fraud-xgb" else "-" for name in values}
    assert len(values) == len(COMPARED)
    assert bars["yAxis"][0]["data"] == page.locator("#compare-runs tbody th a").all_inner_texts()
    box = page.locator("#single-plot").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert page.evaluate("() => window.__violations") == []
    assert no_horizontal_overflow(page)

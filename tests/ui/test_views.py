"""The UI without a browser: formatting, view shaping, and the HTTP contract of the pages
(HTML errors for pages, JSON errors still for the API, nothing fetched from another host)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from plimsoll.platform import Platform
from plimsoll.server.app import create_app
from plimsoll.server.ui import formatting, views
from plimsoll.tracking.entities import Run, run_id_list

UI_DIR = Path(views.__file__).resolve().parent


def make_run(name: str, params: dict[str, str], metrics: dict[str, float]) -> Run:
    return Run(
        id=f"{len(name):032x}",
        experiment_id="e" * 32,
        experiment="exp",
        project="default",
        name=name,
        status="FINISHED",
        start_time=0,
        end_time=1000,
        parent_run_id=None,
        user="u",
        lifecycle_stage="active",
        params=params,
        metrics=metrics,
    )


def test_timestamps_are_utc_and_readable() -> None:
    assert formatting.timestamp(1_767_225_600_000) == "2026-01-01 00:00:00 UTC"
    assert formatting.iso_timestamp(1_767_225_600_123) == "2026-01-01T00:00:00.123+00:00"
    assert formatting.timestamp(None) == "—"


@pytest.mark.parametrize(
    ("start", "end", "text"),
    [(0, 250, "250 ms"), (0, 4_200, "4.2 s"), (0, 185_000, "3 m 05 s"), (0, 7_620_000, "2 h 07 m")],
)
def test_durations(start: int, end: int, text: str) -> None:
    assert formatting.duration(start, end) == text


def test_numbers_and_sizes() -> None:
    assert formatting.number(0.8712345678) == "0.871235"
    assert formatting.number(math.nan) == "NaN"
    assert formatting.number(-math.inf) == "−∞"
    assert formatting.number(1.5e-7) == "1.5000e-07"
    assert formatting.filesize(900) == "900 B"
    assert formatting.filesize(3 * 1024 * 1024) == "3.0 MiB"


def test_operands_quote_keys_the_search_language_cannot_read_bare() -> None:
    assert views.operand("metrics", "acc") == "metrics.acc"
    assert views.operand("metrics", "val.acc") == "metrics.val.acc"
    assert views.operand("metrics", "val-loss") == "metrics.`val-loss`"
    assert views.operand("params", "a`b") == "params.`a``b`"


def test_run_id_list_keeps_order_and_drops_repeats() -> None:
    assert run_id_list(["a,b", "c", "a, ,d"]) == ["a", "b", "c", "d"]


def test_runs_table_headers_toggle_their_sort() -> None:
    runs = [make_run("one", {"lr": "0.1"}, {"acc": 0.5}), make_run("three", {"lr": "0.2"}, {"acc": 0.7})]
    table = views.runs_table(
        runs,
        path="/runs",
        keep={"filter": "params.lr > 0"},
        order_by="metrics.acc DESC",
        with_experiment=True,
    )
    by_key = {(c.kind, c.key): c for c in table.columns}
    acc = by_key[("metric", "acc")]
    assert acc.sort == "descending"
    assert acc.sort_url == "/runs?filter=params.lr+%3E+0&order_by=metrics.acc+ASC"
    assert by_key[("param", "lr")].sort == "none"
    assert by_key[("param", "lr")].sort_url == "/runs?filter=params.lr+%3E+0&order_by=params.lr+ASC"
    assert by_key[("start_time", "")].sort == "none"
    assert ("experiment", "") in by_key

    default = views.runs_table(runs, path="/runs", keep={}, order_by="", with_experiment=False)
    started = next(c for c in default.columns if c.kind == "start_time")
    assert started.sort == "descending"  # what the service sorts by when nothing is asked
    assert started.sort_url == "/runs?order_by=start_time+ASC"


def test_comparison_marks_differing_params() -> None:
    runs = [
        make_run("a", {"lr": "0.1", "epochs": "5"}, {"loss": math.nan}),
        make_run("bb", {"lr": "0.2", "epochs": "5"}, {"loss": math.nan}),
    ]
    result = views.comparison(runs, {runs[1].id: ["loss"]})
    assert [(row.key, row.differs) for row in result.params] == [("epochs", False), ("lr", True)]
    assert [(row.key, row.differs) for row in result.metrics] == [("loss", False)]  # NaN equals NaN here
    assert [key for key, _series in result.charts] == ["loss"]  # a history in one run is enough
    assert [s["color"] for s in result.charts[0][1]] == [0, 1]
    assert result.single_metrics == []


def test_comparison_charts_only_metrics_with_a_history() -> None:
    runs = [
        make_run("a", {"lr": "0.1"}, {"loss": 0.5, "acc": 0.9, "f1": 0.8}),
        make_run("bb", {"lr": "0.2"}, {"loss": 0.4, "acc": 0.91}),
    ]
    result = views.comparison(runs, {runs[0].id: ["loss"], runs[1].id: []})
    assert [key for key, _series in result.charts] == ["loss"]
    assert result.single_metrics == ["acc", "f1"]
    assert [row.key for row in result.metrics] == ["acc", "f1", "loss"]  # the table has them all


@pytest.fixture
def client(sqlite_platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(sqlite_platform), base_url="http://localhost") as test_client:
        yield test_client


def test_pages_answer_html_and_the_api_keeps_json(client: TestClient) -> None:
    unknown = "0123456789abcdef0123456789abcdef"
    page = client.get(f"/runs/{unknown}")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "not found" in page.text
    api = client.get(f"/api/v1/runs/{unknown}")
    assert api.status_code == 404
    assert api.json()["error"]["code"] == "NOT_FOUND"
    assert client.get("/", follow_redirects=False).headers["location"] == "/experiments"
    assert "No experiments yet" in client.get("/experiments").text
    assert (
        client.get("/static/charts.js")
        .headers["content-type"]
        .startswith(("text/javascript", "application/javascript"))
    )
    bad_size = client.get("/runs?page_size=lots")
    assert bad_size.status_code == 400
    assert "page_size: must be a whole number" in bad_size.text


def test_nothing_is_loaded_from_another_host() -> None:
    """Air-gapped: templates and static files reference only this server."""
    external = re.compile(
        r"""(?:src|href)\s*=\s*["']?(?:https?:)?//|@import\s+url\(\s*["']?(?:https?:)?//|fetch\(\s*["']https?:"""
    )
    for path in sorted(UI_DIR.rglob("*")):
        if path.suffix in {".html", ".css", ".js"}:
            assert not external.search(path.read_text()), f"{path.name} loads something from another host"


def test_run_tree_puts_children_under_their_parent_on_the_page() -> None:
    def run(name: str, parent: str | None = None) -> Run:
        return replace(
            make_run(name, {}, {}), id=name * 4, parent_run_id=None if parent is None else parent * 4
        )

    runs = [run("kid1", "root"), run("root"), run("gran", "kid1"), run("kid2", "root"), run("orph", "gone")]
    rows = views.run_tree(runs)
    assert [(r.run.name, r.depth, r.children, r.parent_id) for r in rows] == [
        ("root", 0, 2, None),
        ("kid1", 1, 1, "root" * 4),
        ("gran", 2, 0, "kid1" * 4),
        ("kid2", 1, 0, "root" * 4),
        ("orph", 0, 0, None),  # its parent is not on this page
    ]
    loop = [run("aaaa", "bbbb"), run("bbbb", "aaaa")]  # no root: shown flat, nothing lost
    assert sorted(r.run.name for r in views.run_tree(loop)) == ["aaaa", "bbbb"]


def test_lifecycle_links_keep_the_page_and_say_which_is_current() -> None:
    keep = {"filter": "params.lr > 0", "page_size": "10", "view": ""}
    links = views.lifecycle_links("/runs", keep, "name ASC")
    assert [(link.label, link.current) for link in links] == [
        ("Active", True),
        ("Active and deleted", False),
        ("Deleted", False),
    ]
    assert links[1].href == "/runs?page_size=10&filter=params.lr+%3E+0&view=all&order_by=name+ASC"
    assert "lifecycle_stage+%3D+%27deleted%27" in links[2].href
    deleted = views.lifecycle_links("/runs", {"filter": views.DELETED_FILTER, "view": "all"}, "")
    assert [link.current for link in deleted] == [False, False, True]
    assert deleted[0].href == "/runs"  # leaving "Deleted" drops its filter


def test_child_runs_show_common_metrics_and_link_to_the_rest() -> None:
    parent = make_run("parent", {}, {})
    children = [make_run("a" * n, {}, {"auc": 0.9, "f1": 0.8, f"only{n}": 1.0}) for n in range(1, 4)]
    shown = views.child_runs(children, parent=parent, more=False)
    assert shown.runs == children and shown.all_url is None
    assert shown.metric_keys[:2] == ["auc", "f1"]  # what every child has comes first
    more = views.child_runs(children, parent=parent, more=True)
    assert more.all_url == views.url(
        f"/experiments/{parent.experiment_id}", filter=f"attributes.parent_run_id = '{parent.id}'"
    )

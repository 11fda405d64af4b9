"""The dataset and lineage pages end to end: a real server over a platform holding two versions of
the California housing data (real drift between them), a run that trained on the first and wrote
scores, a run that evaluated on the scores; Debian's Chromium. What a person checks by looking:
the datasets are listed, a version's profile is drawn column by column, the runs that read it are
named, the diff gives the drift verdicts, and the lineage graph draws the flow and opens a node."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pandera.pandas as pa
import pytest

from plimsoll.client import Client
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("ui")]

DATA = "/work/shared/data"
FEATURES = ["MedInc", "HouseAge", "AveRooms", "Population", "Latitude", "Longitude"]


@dataclass
class Seeded:
    trained: str  # the run that read housing@1 and wrote housing-scores@1
    evaluated: str  # the run that read housing-scores@1 and housing@2


def _frame(name: str) -> pd.DataFrame:
    frame = pd.read_csv(f"{DATA}/california_housing_{name}.csv.gz")[FEATURES]
    frame["region"] = pd.cut(
        frame["Latitude"], [0, 34, 36, 38, 50], labels=["south", "la", "central", "north"]
    )
    return frame.astype({"region": str})


@pytest.fixture(scope="module")
def data_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Seeded]]:
    platform = Platform(home=tmp_path_factory.mktemp("ui-data") / ".plimsoll").startup()
    server = LiveServer(platform)
    client = Client(server.url)
    reference = client.datasets.register("housing", _frame("reference"), description="2020 reference")
    client.datasets.register("housing", _frame("analysis"), description="2021 analysis")
    # The 2021 analysis period reaches further north than a schema written for 2020 allows.
    northern = pa.DataFrameSchema({"Latitude": pa.Column(float, pa.Check.le(41.0))})
    client.datasets.validate("housing@2", northern)
    with client.start_run("housing", name="train", capture=False) as trained:
        trained.log_input(reference, context="training")
        scores = client.datasets.register("housing-scores", pd.DataFrame({"score": [0.1, 0.7, 0.4]}))
    with client.start_run("housing", name="evaluate", capture=False) as evaluated:
        evaluated.log_input(scores, context="evaluation")
        evaluated.log_input("housing@2", context="test")
    client.close()
    try:
        yield server, Seeded(trained.id, evaluated.id)
    finally:
        server.stop()
        platform.close()


@pytest.fixture(scope="module")
def base_url(data_server: tuple[Any, Seeded]) -> str:
    return str(data_server[0].url)


@pytest.fixture(scope="module")
def seeded(data_server: tuple[Any, Seeded]) -> Seeded:
    return data_server[1]


def test_datasets_are_listed_with_their_newest_version(page: Any) -> None:
    page.goto("/experiments")
    page.locator("nav.sidebar").get_by_role("link", name="Datasets").click()
    page.wait_for_url("**/datasets")
    rows = page.locator("#datasets tbody tr")
    assert [r.get_attribute("data-dataset") for r in rows.all()] == ["housing", "housing-scores"]
    housing = page.locator("#datasets tr[data-dataset='housing']")
    assert housing.locator("td").nth(1).inner_text() == "2"
    assert "8,232" in housing.inner_text()  # the analysis period's rows
    housing.get_by_role("link", name="housing").click()
    page.wait_for_url("**/datasets/housing?project=default")
    assert page.locator("h1").inner_text().split() == ["housing", "@2"]


def test_a_versions_profile_is_drawn_column_by_column(page: Any, seeded: Seeded) -> None:
    page.goto("/datasets/housing?version=1")
    page.wait_for_function("document.body.dataset.chartsReady === '7'")
    columns = page.locator("#profile .profile-column")
    assert [c.get_attribute("data-column") for c in columns.all()] == [*FEATURES, "region"]
    assert page.locator(".profile-column[data-kind='numeric'] canvas").count() == 6
    region = page.locator(".profile-column[data-column='region']")
    assert region.get_attribute("data-kind") == "categorical" and "distinct4" in region.inner_text().replace(
        "\n", ""
    )
    latitude = page.locator(".profile-column[data-column='Latitude']").inner_text()
    assert "33.33" in latitude and "41.82" in latitude  # min and max of the 2020 reference
    assert page.locator("#versions tr.current").get_attribute("data-version") == "1"
    runs = page.locator("#version-runs tbody tr")
    assert [r.get_attribute("data-run-id") for r in runs.all()] == [seeded.trained]
    assert runs.first.inner_text().split("\t") == ["train", "read", "training"]


def test_the_diff_gives_the_drift_verdict_of_each_column(page: Any) -> None:
    page.goto("/datasets/housing")
    page.locator("#versions a.diff-link").click()
    page.wait_for_url("**/datasets/housing/diff?**")
    page.wait_for_function("document.body.dataset.chartsReady === '1'")
    summary = page.locator("#diff-summary").inner_text()
    assert "rows 5,832 → 8,232" in summary
    verdicts = {
        row.get_attribute("data-column"): row.get_attribute("data-drifted")
        for row in page.locator("#drift tbody tr").all()
    }
    assert set(verdicts) == {*FEATURES, "region"}
    assert verdicts["Latitude"] == verdicts["Longitude"] == verdicts["region"] == "yes"
    assert "no" in verdicts.values()  # real drift, not in every column
    assert page.locator("#file-changes tr[data-path='data.parquet'] td").nth(1).inner_text() == "changed"


def test_the_lineage_graph_draws_the_flow_and_opens_a_node(page: Any, seeded: Seeded) -> None:
    page.goto("/datasets/housing?version=1")
    page.locator("#lineage-link").click()
    page.wait_for_url("**/lineage?**")
    page.wait_for_function("document.getElementById('lineage-graph').dataset.ready === 'true'")
    drawn = page.evaluate(
        """() => ({
          nodes: window.plimsollLineage.nodes().map(n => n.id()).sort(),
          edges: window.plimsollLineage.edges().map(e => e.data('label')).sort(),
          start: window.plimsollLineage.nodes('.start').map(n => n.id()),
        })"""
    )
    assert drawn["nodes"] == sorted(
        ["dataset:housing@1", f"run:{seeded.trained}", "dataset:housing-scores@1", f"run:{seeded.evaluated}"]
    )
    assert drawn["edges"] == ["produced", "used (evaluation)", "used (training)"]
    assert drawn["start"] == ["dataset:housing@1"]
    # Data flows left to right: the dataset is drawn left of the run that read it.
    x = page.evaluate(
        "([a, b]) => [a, b].map(id => window.plimsollLineage.getElementById(id).position('x'))",
        ["dataset:housing@1", f"run:{seeded.trained}"],
    )
    assert x[0] < x[1]
    # Clicking a node opens its page.
    page.evaluate("id => window.plimsollLineage.getElementById(id).emit('tap')", f"run:{seeded.evaluated}")
    page.wait_for_url(f"**/runs/{seeded.evaluated}", wait_until="domcontentloaded")


def test_the_lineage_page_offers_the_datasets_and_names_a_bad_node(page: Any, console: Any) -> None:
    page.goto("/lineage")
    starts = [a.inner_text() for a in page.locator("#lineage-starts a").all()]
    assert starts == ["dataset:housing@2", "dataset:housing-scores@1"]
    console.expect_http_error = True
    page.goto("/lineage?node=dataset:housing@9")
    assert page.locator("h1").inner_text() == "Not found"
    assert "dataset:housing@9" in page.locator("main").inner_text()


def test_a_failed_validation_shows_on_the_versions_and_says_what_failed(page: Any) -> None:
    page.goto("/datasets/housing")
    badges = {
        row.get_attribute("data-version"): row.locator("td.validation").inner_text().strip().lower()
        for row in page.locator("#versions tbody tr").all()
    }
    assert badges == {"2": "failed", "1": "—"}
    card = page.locator("#validation")
    assert card.get_attribute("data-passed") == "no"
    cells = page.locator("#validation-failures tbody tr").first.locator("td").all_inner_texts()
    assert cells[0] == "Latitude" and cells[1] == "less_than_or_equal_to(41.0)"
    assert int(cells[2].replace(",", "")) > 0 and "data.parquet: " in cells[3]

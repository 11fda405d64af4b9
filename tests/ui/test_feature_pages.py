"""The feature pages end to end: a real server over a platform holding two features of the
California housing data, one of them changed once, and a skew check of the 2020 reference
against the 2021 analysis period (real drift); Debian's Chromium. What a person checks by looking:
the features are listed with their latest verdicts and a chart of them, a feature's page shows
its versions, its source and its checks with the two sides drawn, and its lineage opens."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from plimsoll.client import Client
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("ui")]

DATA = "/work/shared/data"
CODE = """
def rooms_per_person(df):
    return df["AveRooms"] / df["AveOccup"]


def income_band(df):
    return (df["MedInc"] // {step}).clip(upper=4).astype(int).map(lambda band: f"band{{band}}")
"""


def _module(folder: Path, step: int) -> Any:
    folder.mkdir(parents=True)
    path = folder / "housing_features.py"
    path.write_text(CODE.format(step=step))
    spec = importlib.util.spec_from_file_location(f"housing_features_{step}", path)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


@pytest.fixture(scope="module")
def feature_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    home = tmp_path_factory.mktemp("ui-features")
    platform = Platform(home=home / ".plimsoll").startup()
    server = LiveServer(platform)
    client = Client(server.url)
    first, second = _module(home / "v1", 3), _module(home / "v2", 2)
    client.features.register(
        "rooms_per_person", first.rooms_per_person, dtype="float64", inputs=["AveRooms", "AveOccup"]
    )
    client.features.register("income_band", first.income_band, dtype="string", inputs=["MedInc"])
    client.features.register("income_band", second.income_band, dtype="string", inputs=["MedInc"])
    reference = pd.read_csv(f"{DATA}/california_housing_reference.csv.gz")
    analysis = pd.read_csv(f"{DATA}/california_housing_analysis.csv.gz")
    client.features.skew(reference, analysis, ["rooms_per_person", "income_band"])
    client.close()
    try:
        yield server
    finally:
        server.stop()
        platform.close()


@pytest.fixture(scope="module")
def base_url(feature_server: Any) -> str:
    return str(feature_server.url)


def test_features_are_listed_with_their_latest_verdict(page: Any) -> None:
    page.goto("/experiments")
    page.locator("nav.sidebar").get_by_role("link", name="Features").click()
    page.wait_for_url("**/features")
    page.wait_for_function("document.body.dataset.chartsReady === '1'")
    rows = page.locator("#features tbody tr")
    assert [r.get_attribute("data-feature") for r in rows.all()] == ["income_band", "rooms_per_person"]
    band = page.locator("#features tr[data-feature='income_band']")
    assert band.locator("td").nth(1).inner_text() == "2"
    assert "skewed" in band.locator("td.verdict").inner_text().lower()
    assert page.locator("#skew-chart canvas").count() == 1
    band.get_by_role("link", name="income_band").click()
    page.wait_for_url("**/features/income_band?project=default")
    assert page.locator("h1").inner_text().split() == ["income_band", "@2"]


def test_a_features_page_shows_its_versions_source_and_checks(page: Any) -> None:
    page.goto("/features/income_band?version=1")
    page.wait_for_function("document.body.dataset.chartsReady === '1'")
    assert page.locator("#versions tr.current").get_attribute("data-version") == "1"
    changed = page.locator("#versions tr[data-version='2'] td").nth(4).inner_text()
    assert changed == "source"
    assert "// 3" in page.locator("#source").inner_text()
    checks = page.locator("#skew-checks tbody tr")
    assert checks.count() == 1 and checks.first.get_attribute("data-verdict") == "skewed"
    assert page.locator("#shift-chart canvas").count() == 1
    page.locator("#lineage-link").click()
    page.wait_for_url("**/lineage?**")
    page.wait_for_function("document.getElementById('lineage-graph').dataset.ready === 'true'")
    start = page.evaluate("() => window.plimsollLineage.nodes('.start').map(n => n.id())")
    assert start == ["feature:income_band@1"]

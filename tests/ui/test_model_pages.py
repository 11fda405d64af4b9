"""The model registry's pages end to end: a real server over a platform holding a model with three
versions trained by three runs, owners, a protected production alias and a staging alias that
both moved, and a second model to roll back; Debian's Chromium. What a person checks by looking:
the models are listed with the versions their aliases hold, a model's page shows its versions,
aliases and owners and draws every alias's history on a timeline, a version's page says what it
is and that nothing has evaluated it yet, a rollback through the form moves the alias and the
history shows it, and a wrong address is the 404 page naming what is missing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from ui_support import Console

from plimsoll.model_registry.service import RegistryService
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("ui")]

OWNERS = {"training": "ml-team", "incident_response": "oncall"}
TIMELINE = "document.getElementById('alias-timeline')"


@dataclass
class Seeded:
    runs: dict[str, str] = field(default_factory=dict)  # run name -> id


def _registry(platform: Platform) -> RegistryService:
    service = platform.model_registry
    assert isinstance(service, RegistryService)
    return service


def _trained(platform: Platform, name: str, weights: bytes) -> str:
    experiment = platform.tracking.get_or_create_experiment("churn", actor="ada")
    run = platform.tracking.create_run(experiment.id, name=name, actor="ada")
    platform.tracking.log_artifact(run.id, "model/model.skops", weights, actor="ada")
    platform.tracking.log_artifact(run.id, "model/MLmodel.json", b'{"flavor": "sklearn"}', actor="ada")
    return run.id


@pytest.fixture(scope="module")
def model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, Seeded]]:
    platform = Platform(home=tmp_path_factory.mktemp("ui-models") / ".plimsoll").startup()
    registry = _registry(platform)
    seeded = Seeded()
    registry.create_model("churn", description="Who leaves next quarter", owners=OWNERS, actor="ada")
    for number in (1, 2, 3):
        run_id = _trained(platform, f"train-{number}", b"weights %d" % number * 100)
        seeded.runs[f"train-{number}"] = run_id
        registry.register_version(
            "churn", run_id=run_id, artifact_path="model", flavor="sklearn", actor="ada"
        )
    registry.set_alias("churn", "production", 1, reason="first release", actor="ada")
    registry.set_alias("churn", "staging", 2, reason="candidate", actor="bo")
    registry.set_alias("churn", "production", 2, reason="retrained", actor="bo")
    registry.set_alias("churn", "staging", 3, reason="better recall", actor="bo")
    registry.set_alias("churn", "production", 3, reason="better recall, checked", actor="cy")
    registry.protect_alias("churn", "production", actor="ada")
    # A second model, whose aliases the rollback tests move.
    for number in (1, 2):
        run_id = _trained(platform, f"fraud-{number}", b"fraud %d" % number)
        registry.register_version("fraud", run_id=run_id, artifact_path="model", actor="ada")
    registry.set_alias("fraud", "production", 1, reason="first", actor="ada")
    registry.set_alias("fraud", "production", 2, reason="second", actor="ada")
    registry.set_alias("fraud", "staging", 1, reason="first", actor="ada")
    registry.set_alias("fraud", "staging", 2, reason="second", actor="ada")
    registry.create_model("no-versions-yet", actor="ada")
    server = LiveServer(platform)
    try:
        yield server, seeded
    finally:
        server.stop()
        platform.close()


@pytest.fixture(scope="module")
def base_url(model_server: tuple[LiveServer, Seeded]) -> str:
    return str(model_server[0].url)


@pytest.fixture(scope="module")
def seeded(model_server: tuple[LiveServer, Seeded]) -> Seeded:
    return model_server[1]


def _cells(row: Any) -> list[str]:
    return [cell.strip() for cell in row.locator("td").all_inner_texts()]


def test_models_are_listed_with_the_version_each_alias_holds(page: Any) -> None:
    page.goto("/experiments")
    nav = page.locator("nav.sidebar")
    assert "Release" in [t.strip() for t in nav.locator(".nav-title").all_text_contents()]
    nav.get_by_role("link", name="Models").click()
    page.wait_for_url("**/models")
    assert page.locator("a.nav-link.active").inner_text() == "Models"
    rows = page.locator("#models tbody tr")
    assert [r.get_attribute("data-model") for r in rows.all()] == ["churn", "fraud", "no-versions-yet"]
    churn = page.locator("#models tr[data-model='churn']")
    assert churn.locator("td.latest").inner_text() == "3"
    tags = churn.locator("td.aliases .alias-tag")
    assert [t.inner_text() for t in tags.all()] == ["production → 3", "staging → 3"]
    assert "training: ml-team" in churn.inner_text() and "incident response: oncall" in churn.inner_text()
    assert "Who leaves next quarter" in churn.inner_text()
    empty = page.locator("#models tr[data-model='no-versions-yet']")
    assert empty.locator("td.latest").inner_text() == "—" and empty.locator("td.aliases").inner_text() == "—"
    churn.get_by_role("link", name="churn").click()
    page.wait_for_url("**/models/churn?project=default")
    assert page.locator("h1").inner_text() == "churn"


def test_a_models_page_shows_versions_aliases_owners_and_the_alias_timeline(
    page: Any, seeded: Seeded
) -> None:
    page.goto("/models/churn")
    page.wait_for_function("document.body.dataset.chartsReady === '1'")
    assert page.locator("#description").inner_text() == "Who leaves next quarter"
    owners = {
        d.get_attribute("data-role"): d.locator("dd").inner_text()
        for d in page.locator("#owners > div").all()
    }
    assert owners == OWNERS
    versions = page.locator("#versions tbody tr")
    assert [r.get_attribute("data-version") for r in versions.all()] == ["3", "2", "1"]
    three = _cells(page.locator("#versions tr[data-version='3']"))
    assert [three[0], *three[2:5]] == ["3", "sklearn", "2", "921 B"]  # 900 bytes of weights, 21 of JSON
    tags = page.locator("#versions tr[data-version='3'] .alias-tag")
    assert [t.get_attribute("data-alias") for t in tags.all()] == ["production", "staging"]
    assert three[5] == seeded.runs["train-3"][-8:] and three[-1] == "ada"
    run_link = page.locator("#versions tr[data-version='3'] a.run-link")
    assert run_link.get_attribute("href") == f"/runs/{seeded.runs['train-3']}"
    # The aliases, the protected one marked; with auth off the local user may roll back.
    aliases = page.locator("#alias-table tbody tr")
    assert [(r.get_attribute("data-alias"), r.get_attribute("data-version")) for r in aliases.all()] == [
        ("production", "3"),
        ("staging", "3"),
    ]
    production = page.locator("#alias-table tr[data-alias='production']")
    assert production.get_attribute("data-protected") == "yes"
    assert production.locator(".badge.protected").inner_text().lower() == "protected"
    assert production.locator("summary").inner_text() == "Roll back to 2"
    # The timeline: a lane per alias, a span per version held, a marker per move; its canvas drawn.
    assert page.locator("#alias-timeline canvas").count() == 1
    drawn = page.evaluate(
        f"""() => {{
          const option = echarts.getInstanceByDom({TIMELINE}).getOption();
          return {{
            lanes: option.yAxis[0].data,
            spans: option.series[0].data.map(d => [d[0], d[3]]),
            moves: option.series[1].data.length,
            tip: option.series[1].tooltip.formatter({{dataIndex: 0}}),
          }};
        }}"""
    )
    assert drawn["lanes"] == ["production", "staging"]
    assert drawn["spans"] == [[0, 1], [0, 2], [0, 3], [1, 2], [1, 3]]
    assert drawn["moves"] == 5
    assert drawn["tip"].startswith("production set to 1\nby ada, 20") and drawn["tip"].endswith(
        "why: first release"
    )
    # The history as a table too, newest first, with who and why.
    history = page.locator("#alias-history tbody tr")
    assert history.count() == 5
    newest = _cells(history.first)
    assert newest[1:] == ["production", "set", "2", "3", "cy", "better recall, checked"]


def test_the_lineage_link_opens_the_latest_version_and_its_node_opens_the_version_page(
    page: Any, seeded: Seeded
) -> None:
    page.goto("/models/churn")
    page.locator("#lineage-link").click()
    page.wait_for_url("**/lineage?**")
    page.wait_for_function("document.getElementById('lineage-graph').dataset.ready === 'true'")
    drawn = page.evaluate(
        """() => ({
          nodes: window.plimsollLineage.nodes().map(n => n.id()).sort(),
          start: window.plimsollLineage.nodes('.start').map(n => n.id()),
        })"""
    )
    assert drawn["start"] == ["model:churn/3"]
    assert drawn["nodes"] == sorted(["model:churn/3", f"run:{seeded.runs['train-3']}"])
    page.evaluate("id => window.plimsollLineage.getElementById(id).emit('tap')", "model:churn/3")
    page.wait_for_url("**/models/churn/versions/3?project=default", wait_until="domcontentloaded")


def test_a_version_page_says_what_it_is_and_shows_no_evaluation_it_does_not_have(
    page: Any, seeded: Seeded
) -> None:
    page.goto("/models/churn")
    page.locator("#versions tr[data-version='3'] td").first.get_by_role("link").click()
    page.wait_for_url("**/models/churn/versions/3?project=default")
    assert page.locator("h1").inner_text().split() == ["churn", "/3"]
    held = page.locator("#held-aliases .alias-tag")
    assert [t.get_attribute("data-alias") for t in held.all()] == ["production", "staging"]
    assert page.locator("#held-aliases .badge.protected").count() == 1
    facts = {
        d.get_attribute("data-fact"): d.locator("dd").inner_text()
        for d in page.locator("#version-facts > div").all()
    }
    assert facts["run"] == f"train-3 {seeded.runs['train-3'][-8:]}"
    assert facts["artifact"] == "model" and facts["flavor"] == "sklearn"
    assert len(facts["digest"]) == 64
    assert facts["created"].endswith("UTC by ada")
    page.locator("#files summary").click()
    assert [r.get_attribute("data-path") for r in page.locator("#files tbody tr").all()] == [
        "model/MLmodel.json",
        "model/model.skops",
    ]
    # Evaluation and gates do not exist yet: said plainly, nothing made up.
    assert page.locator("#evaluation").inner_text().split("\n")[-1] == "No evaluation yet."
    assert page.locator("#gates").inner_text().split("\n")[-1] == "No gate results yet."
    moves = page.locator("#version-moves tbody tr")
    assert [(r.get_attribute("data-alias"), r.get_attribute("data-action")) for r in moves.all()] == [
        ("production", "set"),
        ("staging", "set"),
    ]
    # An older version, held by no alias.
    page.goto("/models/churn/versions/1")
    assert page.locator("#held-aliases").inner_text() == "No alias holds this version."
    assert page.locator("#version-facts [data-fact='run'] dd").inner_text().startswith("train-1 ")


def test_a_rollback_through_the_form_moves_the_alias_and_the_history_shows_it(page: Any) -> None:
    page.goto("/models/fraud")
    page.wait_for_function("document.body.dataset.chartsReady === '1'")
    row = page.locator("#alias-table tr[data-alias='production']")
    assert row.get_attribute("data-version") == "2"
    row.locator("summary").click()
    row.locator("input[name=reason]").fill("latency regression in 2")
    with page.expect_navigation():
        row.get_by_role("button", name="Roll back production from 2 to 1").click()
    assert page.url.endswith("/models/fraud?project=default&notice=rolled-back#aliases")
    page.wait_for_function("document.body.dataset.chartsReady === '1'")
    assert "Rolled back." in page.locator("#notice").inner_text()
    row = page.locator("#alias-table tr[data-alias='production']")
    assert row.get_attribute("data-version") == "1"
    assert row.locator("summary").inner_text() == "Roll back to 2"  # and back again, if need be
    newest = _cells(page.locator("#alias-history tbody tr").first)
    assert newest[1:] == ["production", "rolled back", "2", "1", "local", "latency regression in 2"]
    spans = page.evaluate(f"() => echarts.getInstanceByDom({TIMELINE}).getOption().series[0].data.length")
    assert spans == 5  # production held 1, 2, then 1 again; staging 1, then 2
    # The moves are drawn lane by lane, oldest first; each one's tooltip says what, who and why.
    tips = page.evaluate(
        f"""() => {{
          const moves = echarts.getInstanceByDom({TIMELINE}).getOption().series[1];
          return moves.data.map((d, i) => moves.tooltip.formatter({{dataIndex: i}}));
        }}"""
    )
    assert tips[2].startswith("production rolled back from 2 to 1\nby local, ")
    assert tips[2].endswith("\nwhy: latency regression in 2")
    assert tips[4].startswith("staging moved from 1 to 2")


_POST = """async ([path, fields]) => {
  const answer = await fetch(path, {method: "POST", body: new URLSearchParams(fields)});
  return [answer.status, await answer.text()];
}"""


def test_a_rollback_without_a_reason_or_from_a_stale_page_is_refused_beside_the_form(
    page: Any, console: Console
) -> None:
    console.expect_http_error = True
    page.goto("/models/fraud")
    path = "/models/fraud/aliases/staging/rollback?project=default"
    status, _ = page.evaluate(_POST, [path, {"reason": "  ", "expected": "2"}])
    assert status == 400
    # The page read staging at 1, someone moved it to 2 since: refused, not rolled back from 2.
    status, _ = page.evaluate(_POST, [path, {"reason": "from a stale page", "expected": "1"}])
    assert status == 409
    # What the person sees when the form itself is posted that way.
    row = page.locator("#alias-table tr[data-alias='staging']")
    row.locator("summary").click()
    page.evaluate(
        "() => document.querySelector(\"form[data-alias='staging'] input[name=expected]\").value = '1'"
    )
    row.locator("input[name=reason]").fill("from a stale page")
    with page.expect_navigation():
        row.get_by_role("button", name="Roll back staging from 2 to 1").click()
    error = page.locator("#alias-table tr[data-alias='staging'] .field-error")
    assert "holds version 2, not 1" in error.inner_text()
    assert page.locator("#alias-table tr[data-alias='staging']").get_attribute("data-version") == "2"
    assert page.locator("#alias-table tr[data-alias='staging'] input[name=reason]").input_value() == (
        "from a stale page"
    )
    # The history is as it was: no move was made.
    staging = page.locator("#alias-history tbody tr[data-alias='staging']")
    assert [r.get_attribute("data-action") for r in staging.all()] == ["set", "set"]


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/models/nope", 404, "model 'nope' not found in project 'default'"),
        ("/models/churn/versions/9", 404, "model 'churn' has no version 9 in project 'default'"),
        ("/models/nope/versions/1", 404, "model 'nope' not found in project 'default'"),
        ("/models/churn/versions/two", 400, "version must be a whole number from 1"),
        ("/models/churn?project=nowhere", 404, "model 'churn' not found in project 'nowhere'"),
    ],
)
def test_a_wrong_address_is_the_error_page_naming_what_is_missing(
    page: Any, console: Console, path: str, status: int, message: str
) -> None:
    console.expect_http_error = True
    response = page.goto(path)
    assert response.status == status
    assert page.locator(".error-page").get_attribute("data-status") == str(status)
    assert message in page.locator(".error-message").inner_text()
    assert "Traceback" not in page.content()

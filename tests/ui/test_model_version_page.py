"""A model version's page end to end, with authentication on: a real server, Debian's Chromium,
people signing in through the form. The data is made as a person would make it: scikit-learn
models logged and registered through the SDK over HTTP by their author, evaluated through the SDK
on a registered dataset (a slice column, a sensitive feature with a group too small to use),
release policies on three aliases, and promotions of the newest version requested by an approver
(who may therefore not approve them), their gates run by the job's function.

What is checked by looking: the evaluation's metrics (whatever the evaluation holds) and its
charts drawn (ROC, precision-recall, calibration with its diagonal, the confusion matrix, the bars
per slice and per group with their intervals) under the CSP without an error; a regression's
metrics and slices without curves; each gate's status with its evidence, and a tampered decision
shown loudly; the approvers' buttons shown to approvers only; a self-approval and a rejection
without a comment refused beside the form with nothing changed; an approval by another approver
moving the alias; a rejection ending the promotion."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.linear_model import LogisticRegression, Ridge
from ui_support import Console, browser_tab

from plimsoll.client import Client
from plimsoll.core.auth.entities import Role
from plimsoll.core.errors import NotFound
from plimsoll.evaluation.entities import Cost, Evaluation, Latency
from plimsoll.gates.entities import Promotion
from plimsoll.gates.service import canonical
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer
from plimsoll.server.ui.formatting import number

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("ui")]

PASSWORD = "a passphrase long enough"
AUTHOR = "ada"  # a contributor: logs, registers and evaluates the models
REQUESTER = "cy"  # an approver who requests the promotions: may not approve them
APPROVERS = ("bea", "dan")
VIEWER = "vic"
FEATURES = ["x1", "x2"]
# Three aliases, one promotion each: approved (production), rejected (staging), and one that
# stays open for the refusals (canary).
POLICY = """\
alias: {alias}
approvals: {{required: {required}}}
gates:
  - {{name: auc, metric: roc_auc, min: 0.7}}
  - {{name: accuracy-by-region, metric: accuracy, slice: region, min: 0.5, min_slice_size: 50}}
  - {{name: parity, fairness: demographic_parity_difference, max: 0.5, severity: warning}}
  - {{name: latency, latency: single_p99_ms, max: 5, severity: warning}}
"""
ALIASES = {"production": 1, "staging": 1, "canary": 2}
# A page's CSP violations, recorded by the browser itself (as tests/ui/test_csp.py does).
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""
OPTION = "id => echarts.getInstanceByDom(document.getElementById(id)).getOption()"


@dataclass
class World:
    server: LiveServer
    platform: Platform
    evaluations: dict[str, Evaluation] = field(default_factory=dict)
    promotions: dict[str, Promotion] = field(default_factory=dict)  # by alias
    tampered: str = ""  # a decision of churn/1 changed in the database

    @property
    def url(self) -> str:
        return str(self.server.url)


def customers(n: int = 800, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    frame["region"] = rng.choice(["north", "south", "east"], n)
    frame["gender"] = rng.choice(["f", "m", "x"], n, p=[0.5, 0.48, 0.02])
    frame["churned"] = (frame["x1"] + 0.7 * rng.normal(size=n) > 0).astype(int)
    frame["spend"] = 50 + 10 * frame["x1"] - 5 * frame["x2"] + rng.normal(size=n)
    return frame


def _people(platform: Platform) -> None:
    auth = platform.auth
    roles = {AUTHOR: Role.CONTRIBUTOR, REQUESTER: Role.APPROVER, VIEWER: Role.VIEWER}
    roles |= {name: Role.APPROVER for name in APPROVERS}
    for name, role in roles.items():
        auth.create_user(name, actor="root")
        auth.grant("default", name, role, actor="root")
        auth.sign_in.set_password(name, PASSWORD, actor="root")


def _logged(sdk: Client, model: Any, frame: pd.DataFrame, name: str) -> str:
    with sdk.start_run(experiment=name) as run:
        logged = run.log_model(model, input_example=frame[FEATURES].head(3), register_as=name)
    assert logged.version is not None
    return logged.version.ref


def _evidence(evaluation: Evaluation) -> dict[str, Any]:
    """What the gates judge, read from the evaluation (a CI job would send the same)."""
    parity = evaluation.fairness["gender"].metrics["demographic_parity_difference"]
    return {
        "metrics": {"roc_auc": evaluation.metrics["roc_auc"]},
        "slices": {
            "region": {
                value: {"count": s.rows, "metrics": {"accuracy": s.metrics["accuracy"]}}
                for value, s in evaluation.slices["region"].items()
            }
        },
        "fairness": {"demographic_parity_difference": parity.to_dict()},
        "latency": {"single_p99_ms": 12.0},
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    platform = Platform(home=tmp_path_factory.mktemp("ui-version") / ".plimsoll", auth=True).startup()
    platform.auth.bootstrap_admin("root")
    _people(platform)
    server = LiveServer(platform)
    world = World(server, platform)
    frame = customers()
    secret = platform.auth.create_token(AUTHOR, actor="root").secret
    sdk = Client(server.url, token=secret, flush_interval=0.05)
    try:
        dataset = sdk.datasets.register("customers", frame).ref
        common: dict[str, Any] = {"target": "churned", "features": FEATURES, "dataset": dataset}
        classification = {**common, "task": "classification", "slices": "region", "sensitive": ["gender"]}
        weak = LogisticRegression(C=0.001).fit(frame[FEATURES], frame["churned"])
        weak_ref = _logged(sdk, weak, frame, "churn")
        world.evaluations["weak"] = sdk.evaluate(weak, frame, model=weak_ref, **classification)
        strong = LogisticRegression().fit(frame[FEATURES], frame["churned"])
        strong_ref = _logged(sdk, strong, frame, "churn")
        world.evaluations["first"] = sdk.evaluate(
            strong, frame.head(400), model=strong_ref, description="on the first half", **classification
        )
        world.evaluations["strong"] = sdk.evaluate(
            strong,
            frame,
            model=strong_ref,
            latency=Latency(0.4, 1.2, 3.0, 7.5, 1000),
            cost=Cost(model_bytes=900, cpu_seconds=0.3, predictions=800),
            **classification,
        )
        price = Ridge().fit(frame[FEATURES], frame["spend"])
        price_ref = _logged(sdk, price, frame, "price")
        world.evaluations["price"] = sdk.evaluate(
            price,
            frame,
            model=price_ref,
            task="regression",
            slices="region",
            target="spend",
            features=FEATURES,
        )
    finally:
        sdk.close()
    gates = platform.gates
    for alias, required in ALIASES.items():
        gates.set_policy("churn", alias, POLICY.format(alias=alias, required=required), actor="root")
        asked = gates.promote(
            "churn", 2, to=alias, evidence=_evidence(world.evaluations["strong"]), actor=REQUESTER
        )
        world.promotions[alias] = gates.run_gates(asked.id)  # the job (this server runs no worker)
        assert world.promotions[alias].status == "awaiting_approval", world.promotions[alias]
    # A CI check of churn/1 whose stored record someone with the database changed afterwards.
    checked = gates.check(
        "churn/1",
        POLICY.format(alias="production", required=1),
        _evidence(world.evaluations["weak"]),
        actor="ci",
    )
    flipped = "failed" if checked.verdict == "passed" else "passed"
    forged = canonical({**checked.body(), "verdict": flipped})
    with platform.db.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE gate_decisions SET body = :body, verdict = :verdict WHERE id = :id"),
            {"body": forged, "verdict": flipped, "id": checked.id},
        )
    world.tampered = checked.id
    try:
        yield world
    finally:
        server.stop()
        platform.close()


@pytest.fixture(scope="module")
def base_url(world: World) -> str:
    return world.url


@pytest.fixture(scope="module")
def sessions() -> dict[str, Any]:
    """Each person's cookies once they signed in (`storage_state`), so each signs in once."""
    return {}


@contextmanager
def signed_in(
    browser: Any, world: World, console: Console, sessions: dict[str, Any], name: str
) -> Iterator[Any]:
    """A tab of `name`, who signed in through the sign-in form (in the first tab they opened)."""
    if name not in sessions:
        with browser_tab(browser, world.url, console) as tab:
            tab.goto("/sign-in")
            tab.fill("input[name=name]", name)
            tab.fill("input[name=password]", PASSWORD)
            with tab.expect_navigation():
                tab.click("button[type=submit]")
            assert name in tab.locator(".sidebar-foot .who-name").inner_text()
            sessions[name] = tab.context.storage_state()
    with browser_tab(browser, world.url, console, storage_state=sessions[name]) as tab:
        tab.add_init_script(RECORD_VIOLATIONS)
        yield tab


TabOf = Callable[[str], AbstractContextManager[Any]]


@pytest.fixture
def tab_of(browser: Any, world: World, console: Console, sessions: dict[str, Any]) -> TabOf:
    """`with tab_of("bea") as tab:` a tab of bea's, signed in."""
    return lambda name: signed_in(browser, world, console, sessions, name)


def _open(tab: Any, path: str) -> None:
    response = tab.goto(path)
    assert response.status == 200, path
    tab.wait_for_function("() => document.body.dataset.evaluationReady === '1'")


def _row(tab: Any, promotion: Promotion) -> Any:
    return tab.locator(f"#promotion-table tr[data-promotion='{promotion.id}']")


def test_the_evaluation_shows_its_metrics_and_draws_its_charts(tab_of: TabOf, world: World) -> None:
    shown = world.evaluations["strong"]
    with tab_of(VIEWER) as tab:
        _open(tab, "/models/churn/versions/2")
        about = tab.locator("#evaluation-about")
        assert about.get_attribute("data-evaluation") == shown.id  # the newest
        # Every metric the evaluation holds, in its order, as the tables show numbers.
        rows = tab.locator("#evaluation-metrics tbody tr")
        assert [r.get_attribute("data-measure") for r in rows.all()] == list(shown.metrics)
        assert [r.locator("td").inner_text() for r in rows.all()] == [
            number(v) for v in shown.metrics.values()
        ]
        latency = tab.locator("#evaluation-latency tbody tr")
        assert [r.get_attribute("data-measure") for r in latency.all()] == [
            "single_p50_ms",
            "single_p99_ms",
            "batch_p50_ms",
            "batch_p99_ms",
            "batch_size",
        ]
        assert (
            tab.locator("#evaluation-cost tr[data-measure='cpu_seconds_per_1000'] td").inner_text() == "0.375"
        )
        # The dataset version evaluated, and the evaluation's node in the lineage graph.
        assert tab.locator("#evaluation-dataset").inner_text() == shown.dataset
        assert tab.locator("#evaluation-dataset").get_attribute("href") == (
            "/datasets/customers?project=default&version=1"
        )
        lineage = tab.locator("#evaluation-lineage").get_attribute("href")
        assert lineage == f"/lineage?project=default&node=evaluation%3A{shown.id}"
        # Every chart is drawn on a canvas.
        charts = ["roc-chart", "pr-chart", "calibration-chart", "confusion-chart", "slice-chart-0"]
        charts.append("fairness-chart-0")
        for chart in charts:
            box = tab.locator(f"#{chart}")
            assert box.get_attribute("data-drawn") == "yes", chart
            assert box.locator("canvas").count() >= 1, chart
        curves = shown.curves
        assert curves is not None
        roc = tab.evaluate(OPTION, "roc-chart")
        assert len(roc["series"][0]["data"]) == len(curves.roc)
        assert roc["series"][1]["data"] == [[0, 0], [1, 1]]  # chance
        calibration = tab.evaluate(OPTION, "calibration-chart")
        assert calibration["series"][1]["data"] == [[0, 0], [1, 1]]  # perfect calibration
        assert len(calibration["series"][0]["data"]) == sum(1 for b in curves.calibration if b[2])
        confusion = tab.evaluate(OPTION, "confusion-chart")
        assert confusion["series"][0]["type"] == "heatmap"
        assert sum(cell[2] for cell in confusion["series"][0]["data"]) == shown.rows
        # Per slice: a bar per value, labelled with its rows; the metric is chosen in the select.
        region = shown.slices["region"]
        bars = tab.evaluate(OPTION, "slice-chart-0")
        assert bars["yAxis"][0]["data"] == [f"{v} ({s.rows} rows)" for v, s in region.items()]
        first, second = list(next(iter(region.values())).metrics)[:2]
        assert bars["series"][0]["name"] == first
        tab.locator("select[data-chart='slice-0']").select_option(second)
        bars = tab.evaluate(OPTION, "slice-chart-0")
        assert bars["series"][0]["name"] == second
        assert [d["value"] for d in bars["series"][0]["data"]] == [s.metrics[second] for s in region.values()]
        # Per group: the rate and its interval; the group too small to use drawn, and said so.
        gender = shown.fairness["gender"]
        groups = tab.evaluate(OPTION, "fairness-chart-0")
        labels = groups["yAxis"][0]["data"]
        assert labels[list(gender.groups).index("x")].endswith("rows, not used)")
        rate = groups["series"][0]["name"]
        intervals = [[g.metrics[rate].lower, g.metrics[rate].upper] for g in gender.groups.values()]
        assert [d[1:] for d in groups["series"][1]["data"]] == intervals
        measures = tab.locator(".fairness[data-feature='gender'] .fairness-measures tbody tr")
        assert [r.get_attribute("data-measure") for r in measures.all()] == list(gender.metrics)
        # A viewer reads the promotions, without the approvers' buttons.
        assert tab.locator("#promotion-table tbody tr").count() == 3
        assert tab.locator(".decide, .approve-form, .reject-form").count() == 0
        assert tab.get_by_role("button", name="Approve").count() == 0
        # The other evaluation of this version is a link away.
        older = world.evaluations["first"]
        tab.locator("#evaluation-list summary").click()
        with tab.expect_navigation():
            tab.locator(f"#evaluation-list li[data-evaluation='{older.id}'] a").click()
        assert f"evaluation={older.id}" in tab.url
        tab.wait_for_function("() => document.body.dataset.evaluationReady === '1'")
        assert tab.locator("#evaluation-about").get_attribute("data-evaluation") == older.id
        assert tab.locator(".evaluation-description").inner_text() == "on the first half"
        assert tab.evaluate("window.__violations") == []


def test_a_regression_shows_its_metrics_and_slices_without_curves(tab_of: TabOf, world: World) -> None:
    shown = world.evaluations["price"]
    with tab_of(VIEWER) as tab:
        _open(tab, "/models/price/versions/1")
        assert tab.locator("#evaluation-about").get_attribute("data-task") == "regression"
        rows = tab.locator("#evaluation-metrics tbody tr")
        assert [r.get_attribute("data-measure") for r in rows.all()] == list(shown.metrics)
        assert tab.locator("#evaluation-curves, #roc-chart, .fairness").count() == 0
        assert tab.locator("#slice-chart-0 canvas").count() == 1
        bars = tab.evaluate(OPTION, "slice-chart-0")
        assert bars["series"][0]["name"] == next(iter(shown.metrics))
        # Nothing has run gates on it, and it is in no promotion.
        assert tab.locator("#gates").inner_text().split("\n")[-1] == "No gate results yet."
        assert tab.locator("#promotions").count() == 0


def test_each_gate_shows_its_status_and_evidence_and_a_tampered_decision_is_shouted(
    tab_of: TabOf, world: World
) -> None:
    production = world.promotions["production"]
    strong = world.evaluations["strong"]
    with tab_of(VIEWER) as tab:
        _open(tab, "/models/churn/versions/2")
        decision = tab.locator(f"#decision-{production.decision}")
        assert decision.get_attribute("data-verdict") == "pending"
        assert decision.get_attribute("data-integrity") == "verified"
        assert tab.locator("#integrity-alarm, .integrity-alarm").count() == 0
        results = decision.locator("table.gate-results tbody tr")
        assert [
            (r.get_attribute("data-gate"), r.get_attribute("data-status"), r.get_attribute("data-severity"))
            for r in results.all()
        ] == [
            ("auc", "passed", "blocking"),
            ("accuracy-by-region", "passed", "blocking"),
            ("parity", "passed", "warning"),
            ("latency", "failed", "warning"),
        ]

        def evidence(gate: str) -> dict[str, str]:
            items = decision.locator(f"tr[data-gate='{gate}'] dl.evidence > div")
            return {i.get_attribute("data-key"): i.locator("dd").inner_text() for i in items.all()}

        auc = evidence("auc")
        assert (auc["measure"], auc["value"], auc["min"]) == (
            "roc_auc",
            number(strong.metrics["roc_auc"]),
            "0.7",
        )
        assert (evidence("latency")["value"], evidence("latency")["max"]) == ("12", "5")
        by_region = evidence("accuracy-by-region")
        assert (by_region["slice"], by_region["judged"], by_region["failing"]) == ("region", "3", "{}")
        why = decision.locator("tr[data-gate='latency'] td.reason").inner_text()
        assert why == "single_p99_ms is 12, not at most 5"
        # The decision a promotion is waiting on is linked from its row.
        link = _row(tab, production).locator("a[href^='#decision-']")
        assert link.get_attribute("href") == f"#decision-{production.decision}"

        # churn/1: a check's record changed in the database, shown as such at the top and in place.
        _open(tab, "/models/churn/versions/1")
        assert (
            "1 release decision of this version does not verify"
            in tab.locator("#integrity-alarm").inner_text()
        )
        forged = tab.locator(f"#decision-{world.tampered}")
        assert forged.get_attribute("data-integrity") == "tampered"
        alarm = forged.locator(".integrity-alarm")
        assert alarm.get_attribute("role") == "alert"
        assert "Tampered: the signature does not match the stored record" in alarm.inner_text()


@pytest.mark.parametrize(("person", "sees"), [(VIEWER, False), (AUTHOR, False), ("bea", True)])
def test_the_approvers_buttons_are_shown_to_approvers_only(
    tab_of: TabOf, world: World, person: str, sees: bool
) -> None:
    canary = world.promotions["canary"]
    with tab_of(person) as tab:
        _open(tab, "/models/churn/versions/2")
        row = _row(tab, canary)
        assert row.get_attribute("data-status") == "awaiting_approval"
        assert row.get_by_role("button", name="Approve").count() == int(sees)
        assert row.get_by_role("button", name="Reject").count() == int(sees)


def test_a_self_approval_is_refused_beside_the_form_and_changes_nothing(
    tab_of: TabOf, world: World, console: Console
) -> None:
    console.expect_http_error = True
    canary = world.promotions["canary"]
    with tab_of(REQUESTER) as tab:
        _open(tab, "/models/churn/versions/2")
        row = _row(tab, canary)
        row.locator(".approve-form input[name=comment]").fill("mine, but fine")
        with tab.expect_navigation() as navigation:
            row.get_by_role("button", name="Approve").click()
        assert navigation.value.status == 403
        error = _row(tab, canary).locator(".field-error")
        assert error.get_attribute("data-action") == "approve"
        assert (
            f"'{REQUESTER}' requested this promotion: the requester cannot approve it" in error.inner_text()
        )
        assert (
            _row(tab, canary).locator(".approve-form input[name=comment]").input_value() == "mine, but fine"
        )
        assert "Traceback" not in tab.content()
    assert world.platform.gates.get_promotion(canary.id).approvals == ()
    with pytest.raises(NotFound):
        world.platform.model_registry.get_version("churn@canary")


def test_a_rejection_without_a_comment_is_refused_naming_the_field(
    tab_of: TabOf, world: World, console: Console
) -> None:
    console.expect_http_error = True
    canary = world.promotions["canary"]
    with tab_of("bea") as tab:
        _open(tab, "/models/churn/versions/2")
        row = _row(tab, canary)
        row.locator(".reject-form input[name=comment]").fill("   ")
        with tab.expect_navigation() as navigation:
            row.get_by_role("button", name="Reject").click()
        assert navigation.value.status == 400
        row = _row(tab, canary)
        assert row.locator(".field-error").inner_text() == "Comment is required: say why"
        assert row.locator(".reject-form input[name=comment]").get_attribute("aria-invalid") == "true"
        assert row.get_attribute("data-status") == "awaiting_approval"
    assert world.platform.gates.get_promotion(canary.id).status == "awaiting_approval"


def test_an_approval_by_another_approver_moves_the_alias(tab_of: TabOf, world: World) -> None:
    production = world.promotions["production"]
    registry = world.platform.model_registry
    with pytest.raises(NotFound):
        registry.get_version("churn@production")
    with tab_of("bea") as tab:
        _open(tab, "/models/churn/versions/2")
        row = _row(tab, production)
        row.locator(".approve-form input[name=comment]").fill("numbers hold up")
        with tab.expect_navigation():
            row.get_by_role("button", name="Approve").click()
        assert tab.url.endswith("/models/churn/versions/2?project=default&notice=promoted#promotions")
        tab.wait_for_function("() => document.body.dataset.evaluationReady === '1'")
        assert "the alias moved" in tab.locator("#notice").inner_text()
        row = _row(tab, production)
        assert row.get_attribute("data-status") == "promoted"
        assert row.locator(".approval-list li").inner_text().startswith("bea, ")
        assert row.locator(".decide").count() == 0
        assert [a.get_attribute("data-alias") for a in tab.locator("#held-aliases .alias-tag").all()] == [
            "production"
        ]
        assert tab.locator(f"#decision-{production.decision}").get_attribute("data-verdict") == "passed"
    assert registry.get_version("churn@production").version == 2
    moved = registry.alias_history("churn", "production")[0]
    assert (moved.version, moved.actor) == (2, "bea")


def test_a_rejection_with_a_comment_ends_the_promotion(tab_of: TabOf, world: World) -> None:
    staging = world.promotions["staging"]
    with tab_of("dan") as tab:
        _open(tab, "/models/churn/versions/2")
        row = _row(tab, staging)
        row.locator(".reject-form input[name=comment]").fill("wait for the holiday data")
        with tab.expect_navigation():
            row.get_by_role("button", name="Reject").click()
        assert "notice=rejected" in tab.url
        row = _row(tab, staging)
        assert row.get_attribute("data-status") == "rejected"
        assert "wait for the holiday data" in row.locator("td.reason").last.inner_text()
        assert tab.locator(f"#decision-{staging.decision}").get_attribute("data-verdict") == "rejected"
    assert world.platform.gates.get_promotion(staging.id).closed_by == "dan"


def test_an_evaluation_of_another_version_is_not_shown_as_this_ones(
    tab_of: TabOf, world: World, console: Console
) -> None:
    console.expect_http_error = True
    other = world.evaluations["weak"]  # of churn/1
    with tab_of(VIEWER) as tab:
        response = tab.goto(f"/models/churn/versions/2?evaluation={other.id}")
        assert response.status == 404
        assert tab.locator(".error-message").inner_text() == f"evaluation '{other.id}' is not of churn/2"
        response = tab.goto("/models/churn/versions/2?evaluation=newest")
        assert response.status == 400
        assert "evaluation: must be 32 lowercase hexadecimal" in tab.locator(".error-message").inner_text()

"""A watched column's distribution, reference against current, from stored summaries alone (what
the monitor page draws): the three shapes on hand-made summaries, then the service and its route,
embedded and over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from plimsoll import stats
from plimsoll.client import Client
from plimsoll.core.errors import InvalidParameter, NotFound
from plimsoll.monitoring.distributions import OTHER_LABELS, OTHER_VALUES, histograms

DAY_MS = 86_400_000
T0 = 1_780_000_000_000 - 1_780_000_000_000 % DAY_MS  # a UTC midnight


def _numbers(values: np.ndarray, reference: stats.ColumnSummary | None = None) -> stats.NumericSummary:
    found = stats.summarize_column(values, reference=reference)
    assert isinstance(found, stats.NumericSummary)
    return found


def test_numbers_are_counted_exactly_on_the_references_own_edges() -> None:
    rng = np.random.default_rng(0)
    reference = _numbers(rng.normal(0, 1, 20_000))
    current = _numbers(np.concatenate([rng.normal(1, 1, 3_000), [np.nan] * 7]), reference)
    found = histograms(reference, current)
    assert found["kind"] == "numeric"
    edges = found["edges"]
    assert 40 <= len(edges) - 1 <= 50 and edges == sorted(edges)
    assert set(edges) <= set(reference.edges.tolist())  # every display edge is one of the reference's
    for side, summary in ((found["reference"], reference), (found["current"], current)):
        assert side["finite"] == summary.finite_count
        assert side["below"] + sum(side["counts"]) + side["above"] == summary.finite_count
        assert all(isinstance(c, int) for c in side["counts"])  # exact, not read between edges
    assert found["current"]["missing"] == 7
    # Each count is what numpy counts in the same bins of the raw values.
    raw = np.random.default_rng(0).normal(0, 1, 20_000)
    inside = [int(((raw > a) & (raw <= b)).sum()) for a, b in itertools.pairwise(edges)]
    assert found["reference"]["counts"] == inside
    assert found["reference"]["below"] == int((raw <= edges[0]).sum())
    # The bulk moved right: more of the current than of the reference sits above the median bin.
    middle = len(edges) // 2
    share = [sum(s["counts"][middle:]) / s["finite"] for s in (found["reference"], found["current"])]
    assert share[1] > share[0] + 0.2


def test_few_valued_numbers_are_bars_and_labels_the_reference_never_saw_are_marked() -> None:
    reference = _numbers(np.array([0, 1, 1, 2, 2, 2, 3] * 100, dtype=float))
    current = _numbers(np.array([1, 2, 2, 5, 5], dtype=float), reference)
    found = histograms(reference, current)
    assert found["kind"] == "discrete"
    assert found["labels"] == ["0", "1", "2", "3", OTHER_VALUES]
    assert found["reference"]["counts"] == [100, 200, 300, 100, 0]
    assert found["current"]["counts"] == [0, 1, 2, 0, 2]  # 5 was never a reference value

    labels = stats.summarize_column(pd.Series(["a"] * 50 + ["b"] * 30 + [None] * 5, dtype=object))
    later = stats.summarize_column(pd.Series(["a"] * 5 + ["z"] * 10, dtype=object), reference=labels)
    assert isinstance(labels, stats.CategoricalSummary) and isinstance(later, stats.CategoricalSummary)
    found = histograms(labels, later)
    assert found["kind"] == "categorical"
    # By the larger of each label's two shares: z is two thirds of the current, a 62.5% of the reference.
    assert found["labels"] == ["z", "a", "b", OTHER_LABELS]
    assert found["unseen"] == [True, False, False, False]
    assert found["reference"]["counts"] == [0, 50, 30, 0] and found["reference"]["missing"] == 5
    assert found["current"]["counts"] == [10, 5, 0, 0]
    kept = histograms(labels, later, max_labels=1)
    assert kept["labels"] == ["z", OTHER_LABELS] and kept["current"]["counts"] == [10, 5]


def test_the_reference_alone_and_a_side_of_another_kind() -> None:
    reference = _numbers(np.random.default_rng(1).exponential(size=5_000))
    alone = histograms(reference, None)
    assert alone["current"] is None and sum(alone["reference"]["counts"]) > 0
    other = stats.summarize_column(pd.Series(["x", "y"], dtype=object))
    mixed = histograms(reference, other)
    assert mixed["current"] is None and "categorical values" in mixed["note"]
    empty = histograms(_numbers(np.array([np.nan, np.nan])), None)
    assert empty["edges"] == [] and empty["reference"]["missing"] == 2


# -- the service and its route ------------------------------------------------------------------------


def _frame(rows: int, *, shift: float, seed: int, new_plan: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    plans = ["basic", "pro", "team", "enterprise"] if new_plan else ["basic", "pro", "team"]
    frame = pd.DataFrame(
        {
            "tenure": rng.normal(shift, 1.0, rows),
            "children": rng.integers(0, 4, rows).astype(float),
            "plan": rng.choice(plans, rows),
        }
    )
    frame["score"] = 1 / (1 + np.exp(-frame.tenure))
    frame["prediction"] = (frame.score > 0.5).astype(int)
    return frame


@pytest.fixture
def churn(sdk: Client) -> Client:
    """A monitor `churn-prod` on churn@production with two daily windows: the first like the
    reference, the second with tenure moved up one standard deviation and a new plan."""
    with sdk.start_run(experiment="churn") as run:
        run.log_text("weights", "model/weights.txt")
    sdk.registry.register("churn", run_id=run.id, artifact_path="model")
    sdk.registry.set_alias("churn", "production", 1)
    reference = _frame(4_000, shift=0.0, seed=0)
    reference["churned"] = reference.prediction
    sdk.datasets.register("churn-ref", reference)
    for day, frame in enumerate(
        (_frame(1_000, shift=0.0, seed=1), _frame(1_000, shift=1.0, seed=2, new_plan=True))
    ):
        sdk.log_predictions(
            "churn@production",
            frame[["tenure", "children", "plan"]],
            frame.prediction,
            scores=frame.score,
            timestamps=[T0 + day * DAY_MS + i * 60_000 for i in range(len(frame))],
        )
    sdk.monitoring.flush()
    spec = {
        "kind": "dataset",
        "dataset": "churn-ref@1",
        "target": "churned",
        "prediction": "prediction",
        "score": "score",
    }
    sdk.monitors.create(
        "churn-prod", "churn@production", spec, features=["tenure", "children", "plan"], every="1d"
    )
    sdk.monitors.backfill("churn-prod", T0, T0 + 2 * DAY_MS)
    sdk.monitors.create("churn-new", "churn@production", spec, features=["tenure"], every="1d")
    return sdk


def test_a_features_distribution_in_the_newest_window_a_chosen_one_and_merged(churn: Client) -> None:
    newest = churn.monitors.distribution("churn-prod", "tenure")
    assert newest["windows"] == 1 and newest["since"] == T0 + DAY_MS and newest["rows"] == 1_000
    assert newest["histogram"]["kind"] == "numeric" and newest["histogram"]["current"]["finite"] == 1_000
    assert newest["drift"]["drifted"] is True and newest["drift"]["method"] == "ks"

    first = churn.monitors.distribution("churn-prod", "tenure", since=T0, until=T0 + 1)
    assert first["windows"] == 1 and first["since"] == T0 and first["drift"]["drifted"] is False

    both = churn.monitors.distribution("churn-prod", "tenure", since=T0, until=T0 + 2 * DAY_MS)
    assert both["windows"] == 2 and both["rows"] == 2_000 and both["until"] == T0 + 2 * DAY_MS
    current = both["histogram"]["current"]
    assert current["finite"] == 2_000 == current["below"] + sum(current["counts"]) + current["above"]
    assert both["drift"]["drifted"] is True  # the two days merged still differ from the reference

    plans = churn.monitors.distribution("churn-prod", "plan")
    histogram = plans["histogram"]
    assert histogram["kind"] == "categorical"
    assert dict(zip(histogram["labels"], histogram["unseen"], strict=True))["enterprise"] is True
    children = churn.monitors.distribution("churn-prod", "children")
    assert children["histogram"]["kind"] == "discrete" and children["histogram"]["labels"][:4] == [
        "0",
        "1",
        "2",
        "3",
    ]
    score = churn.monitors.distribution("churn-prod", "__score")
    assert score["drift"]["column"] == "__score"  # the model's output: the prediction drift's verdict

    empty = churn.monitors.distribution("churn-new", "tenure")
    assert empty["windows"] == 0 and empty["histogram"]["current"] is None and empty["drift"] is None


def test_a_distribution_asked_badly_names_the_field(churn: Client) -> None:
    with pytest.raises(NotFound, match="not watched"):
        churn.monitors.distribution("churn-prod", "income")
    with pytest.raises(InvalidParameter) as raised:
        churn.monitors.distribution("churn-prod", "tenure", since=T0)
    assert raised.value.field == "until"
    with pytest.raises(InvalidParameter) as raised:
        churn.monitors.distribution("churn-prod", "tenure", since=T0, until=T0)
    assert raised.value.field == "until"
    with pytest.raises(NotFound):
        churn.monitors.distribution("nobody", "tenure")

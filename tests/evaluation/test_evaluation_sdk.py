"""`pl.evaluate` / `client.evaluations` embedded and over HTTP, on SQLite and PostgreSQL: a plain
scikit-learn model evaluated where the data is, the result stored, linked between the model
version and the dataset version in the lineage graph, compared champion against challenger;
latency and cost injected (never timed here); refusals arrive as the same errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression, Ridge

from plimsoll.client import Client
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.evaluation.entities import Cost, Evaluation, Latency

FEATURES = ["x1", "x2"]


def customers(n: int = 3_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    frame["region"] = rng.choice(["north", "south", "east"], n)
    frame["gender"] = rng.choice(["f", "m", "x"], n, p=[0.5, 0.495, 0.005])
    frame["churned"] = (frame["x1"] + rng.normal(size=n) > 0).astype(int)
    return frame


def registered_model(sdk: Client) -> str:
    with sdk.start_run(experiment="churn") as run:
        run.log_text("weights", "model/weights.txt")
    return sdk.registry.register("churn", run_id=run.id, artifact_path="model").ref


def test_a_scikit_learn_model_evaluated_stored_and_linked(sdk: Client) -> None:
    frame = customers()
    model = LogisticRegression().fit(frame[FEATURES], frame["churned"])
    ref = registered_model(sdk)
    dataset = sdk.datasets.register("customers", frame).ref
    found = sdk.evaluate(
        model,
        frame,
        task="classification",
        target="churned",
        features=FEATURES,
        slices="region",
        sensitive=["gender"],
        model=ref,
        dataset=dataset,
        latency=Latency(0.4, 1.2, 3.0, 7.5, 1000),
        cost=Cost(model_bytes=900, cpu_seconds=0.3, predictions=3000),
        price_per_1000=0.002,
    )
    assert isinstance(found, Evaluation) and (found.model, found.dataset) == ("churn/1", dataset)
    proba = model.predict_proba(frame[FEATURES])[:, 1]
    assert found.metrics["roc_auc"] == pytest.approx(skm.roc_auc_score(frame["churned"], proba), abs=1e-12)
    assert found.metrics["accuracy"] == pytest.approx(
        skm.accuracy_score(frame["churned"], model.predict(frame[FEATURES])), abs=1e-12
    )
    assert set(found.slices["region"]) == {"east", "north", "south"}
    gender = found.fairness["gender"]
    assert gender.small_groups == ["x"] and gender.groups["x"].rows < 30
    assert found.latency == Latency(0.4, 1.2, 3.0, 7.5, 1000)
    assert found.cost == Cost(900, 0.3, 3000, 0.002)
    assert sdk.evaluations.get(found.id) == found
    assert [e.id for e in sdk.evaluations.list(model="churn")] == [found.id]
    assert [e.id for e in sdk.evaluations.list(dataset="customers")] == [found.id]

    graph = sdk.lineage.upstream(found.node)
    sources = {(e.source, e.role, e.context) for e in graph.edges if e.target == found.node}
    assert sources == {("model:churn/1", "used", "evaluation"), (f"dataset:{dataset}", "used", "evaluation")}


def test_champion_against_challenger_on_the_same_data(sdk: Client) -> None:
    frame = customers()
    weak = LogisticRegression().fit(frame[["x2"]], frame["churned"])
    strong = LogisticRegression().fit(frame[FEATURES], frame["churned"])
    common = {"task": "classification", "target": "churned", "sensitive": "gender"}
    champion = sdk.evaluate(weak, frame, features=["x2"], **common)
    challenger = sdk.evaluations.evaluate(strong, frame, features=FEATURES, **common)
    comparison = sdk.evaluations.compare(champion, challenger.id)
    assert comparison.metrics["roc_auc"].better == "challenger"
    assert {"roc_auc", "accuracy", "log_loss"} <= set(comparison.challenger_wins)
    other = sdk.evaluate(strong, frame.head(2_000), features=FEATURES, **common)
    with pytest.raises(Conflict, match="same data"):
        sdk.evaluations.compare(champion, other)


def test_a_regression_and_a_plain_function(sdk: Client) -> None:
    frame = customers()
    model = Ridge().fit(frame[FEATURES], frame["x1"] * 3 + 1)
    frame["spend"] = frame["x1"] * 3 + 1 + np.random.default_rng(1).normal(size=len(frame))
    found = sdk.evaluate(model, frame, task="regression", target="spend", features=FEATURES, slices="region")
    assert found.metrics["rmse"] == pytest.approx(
        skm.root_mean_squared_error(frame["spend"], model.predict(frame[FEATURES])), abs=1e-9
    )
    as_function = sdk.evaluate(
        lambda rows: 1 / (1 + np.exp(-rows["x1"].to_numpy())),
        frame,
        task="classification",
        target="churned",
        features=FEATURES,
    )
    assert as_function.metrics["roc_auc"] == pytest.approx(
        skm.roc_auc_score(frame["churned"], frame["x1"]), abs=1e-12
    )


def test_refusals_arrive_as_the_same_errors(sdk: Client) -> None:
    frame = customers(500)
    model = LogisticRegression().fit(frame[FEATURES], frame["churned"])
    with pytest.raises(InvalidParameter) as refused:
        sdk.evaluate(model, frame, task="classification", target="label", features=FEATURES)
    assert refused.value.field == "target"
    with pytest.raises(InvalidParameter) as refused:
        sdk.evaluate(model, frame, task="ranking", target="churned")
    assert refused.value.field == "task"
    with pytest.raises(InvalidParameter) as refused:
        sdk.evaluate(model, frame, task="classification", target="churned", features=FEATURES, slices="city")
    assert refused.value.field == "slices"
    single = frame.assign(churned=1)
    found = sdk.evaluate(
        lambda rows: np.full(len(rows), 0.7),
        single,
        task="classification",
        target="churned",
        features=FEATURES,
    )
    assert found.metrics["roc_auc"] is None  # one class: undefined, not a number, and said why
    assert found.notes == ("roc_auc undefined: y_true holds a single class ('1'); ranking needs both",)
    with pytest.raises(NotFound, match="model 'churn'"):
        sdk.evaluate(
            model, frame, task="classification", target="churned", features=FEATURES, model="churn/4"
        )
    with pytest.raises(InvalidParameter) as refused:
        sdk.evaluate(model, frame, task="classification", target="churned", features=FEATURES, latency="fast")
    assert refused.value.field == "latency"

"""EvaluationService on SQLite and PostgreSQL: an evaluation is stored as computed, read back
whole, listed by model, linked in the lineage graph between the model version and the dataset
version, audited and published; champion and challenger are compared on the same data only;
bad input is named."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from plimsoll.core import audit
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.evaluation.compute import evaluate_arrays
from plimsoll.evaluation.entities import Cost, Latency, NewEvaluation
from plimsoll.evaluation.service import EvaluationService
from plimsoll.platform import Platform

P = "default"


def service_of(platform: Platform) -> EvaluationService:
    service = platform.evaluation
    assert isinstance(service, EvaluationService)
    return service


def computed(seed: int = 0, *, noise: float = 0.6, n: int = 2_000) -> NewEvaluation:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    score = np.clip((1 - noise) * y + noise * np.random.default_rng(seed).random(n), 0, 1)
    region = rng.choice(np.array(["north", "south"]), n)
    group = rng.choice(np.array(["f", "m"]), n)
    return evaluate_arrays(
        "classification", y, y_score=score, slices={"region": region}, sensitive={"gender": group}
    )


def registered_model(platform: Platform, name: str = "churn") -> str:
    experiment = platform.tracking.get_or_create_experiment("churn", actor="ada")
    run = platform.tracking.create_run(experiment.id, name="train", actor="ada")
    platform.tracking.log_artifact(run.id, "model/model.pkl", name.encode(), actor="ada")
    return platform.model_registry.register_version(
        name, run_id=run.id, artifact_path="model", actor="ada"
    ).ref  # type: ignore[no-any-return]


def test_an_evaluation_is_stored_whole_listed_by_model_audited_and_published(platform: Platform) -> None:
    evaluations = service_of(platform)
    ref = registered_model(platform)
    given = replace(
        computed(),
        model=ref,
        latency=Latency(1.5, 4.0, 12.0, 30.0, 1000),
        cost=Cost(model_bytes=2048, cpu_seconds=1.0, predictions=2000, price_per_1000=0.01),
        description="nightly",
    )
    stored = evaluations.record(given, actor="ada")
    assert (stored.model, stored.created_by, stored.rows) == ("churn/1", "ada", 2000)
    assert stored.cost is not None and stored.cost.cpu_seconds_per_1000 == 0.5
    again = evaluations.get(stored.id)
    assert again == stored
    assert again.fairness["gender"].metrics == given.fairness["gender"].metrics
    assert again.curves is not None and len(again.curves.roc) <= 200
    other = evaluations.record(computed(1), actor="bo")  # no model named
    assert [e.id for e in evaluations.list()] == [other.id, stored.id]
    assert [e.id for e in evaluations.list(model="churn")] == [stored.id]
    assert [e.id for e in evaluations.list(model="churn/1")] == [stored.id]
    assert evaluations.list(model="churn/2") == []

    with platform.db.read() as conn:
        entries = [e for e in audit.list_events(conn) if e.action == "evaluation.record"]
    assert {e.resource_id for e in entries} == {stored.id, other.id}
    page = platform.outbox.follow(None, ["evaluation.recorded"], 100, project=P)
    assert [e.payload["evaluation_id"] for e in page.events] == [stored.id, other.id]
    assert page.events[0].payload["model"] == "churn/1"


def test_the_evaluation_is_a_lineage_node_used_by_nothing_using_the_model_version(platform: Platform) -> None:
    evaluations = service_of(platform)
    ref = registered_model(platform)
    platform.model_registry.set_alias("churn", "production", 1, actor="ada")
    stored = evaluations.record(replace(computed(), model="churn@production"), actor="ada")
    assert stored.model == ref  # the alias resolved to the version it held
    upstream = platform.lineage.upstream(P, stored.node)
    assert {n.id for n in upstream.nodes} >= {stored.node, "model:churn/1"}
    edge = next(e for e in upstream.edges if e.target == stored.node)
    assert (edge.source, edge.role, edge.context) == ("model:churn/1", "used", "evaluation")
    downstream = platform.lineage.downstream(P, "model:churn/1")
    assert stored.node in {n.id for n in downstream.nodes}


def test_champion_and_challenger_are_compared_on_the_same_data_only(platform: Platform) -> None:
    evaluations = service_of(platform)
    champion = evaluations.record(replace(computed(0, noise=0.7), latency=Latency(2.0, 9.0)), actor="ada")
    challenger = evaluations.record(replace(computed(0, noise=0.5), latency=Latency(3.0, 8.0)), actor="ada")
    comparison = evaluations.compare(champion.id, challenger.id)
    auc = comparison.metrics["roc_auc"]
    assert auc.better == "challenger" and auc.delta is not None and auc.delta > 0
    assert comparison.metrics["log_loss"].better == "challenger"
    assert comparison.metrics["single_p50_ms"].better == "champion"
    assert comparison.metrics["single_p99_ms"].better == "challenger"
    assert "gender.demographic_parity_difference" in comparison.metrics
    assert "roc_auc" in comparison.challenger_wins
    elsewhere = evaluations.record(computed(0, n=1_500), actor="ada")
    with pytest.raises(Conflict, match="not evaluated on the same data"):
        evaluations.compare(champion.id, elsewhere.id)
    rng = np.random.default_rng(0)
    regression = evaluations.record(
        evaluate_arrays("regression", rng.normal(size=2_000), y_pred=rng.normal(size=2_000)), actor="ada"
    )
    with pytest.raises(Conflict, match="regression"):
        evaluations.compare(champion.id, regression.id)


def test_refusals_name_what_is_wrong(platform: Platform) -> None:
    evaluations = service_of(platform)
    good = computed()
    with pytest.raises(NotFound, match="model 'churn' not found"):
        evaluations.record(replace(good, model="churn/1"), actor="ada")
    with pytest.raises(InvalidParameter, match="must name a version") as refused:
        evaluations.record(replace(good, model="churn"), actor="ada")
    assert refused.value.field == "model"
    with pytest.raises(NotFound, match="dataset"):
        evaluations.record(replace(good, dataset="customers@1"), actor="ada")
    with pytest.raises(InvalidParameter, match="not a classification metric") as refused:
        evaluations.record(replace(good, metrics={"mae": 1.0}), actor="ada")
    assert refused.value.field == "metrics"
    with pytest.raises(InvalidParameter, match="finite number") as refused:
        evaluations.record(replace(good, metrics={"accuracy": float("nan")}), actor="ada")
    assert refused.value.field == "metrics.accuracy"
    with pytest.raises(InvalidParameter, match="digest") as refused:
        evaluations.record(replace(good, labels_digest="abc"), actor="ada")
    with pytest.raises(InvalidParameter, match="must be one of") as refused:
        evaluations.record(replace(good, task="ranking"), actor="ada")
    assert refused.value.field == "task"
    with pytest.raises(InvalidParameter, match="must not be negative") as refused:
        evaluations.record(replace(good, latency=Latency(single_p50_ms=-1.0)), actor="ada")
    assert refused.value.field == "latency.single_p50_ms"
    with pytest.raises(NotFound, match="evaluation"):
        evaluations.get("0" * 32)
    with pytest.raises(NotFound, match="project 'nowhere'"):
        evaluations.record(replace(good, project="nowhere"), actor="ada")
    assert evaluations.list() == []

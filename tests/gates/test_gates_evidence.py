"""The gates judge what `pl.evaluate` stored, embedded and over HTTP, on SQLite and PostgreSQL: a
version's newest evaluation is its evidence (metrics, slices with their sizes, fairness on its
bootstrap bound, latency, cost, the evaluation's dataset), and the newest evaluation of the
version an alias holds is the baseline of a change gate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pytest
from sklearn.linear_model import LogisticRegression

from plimsoll.client import Client
from plimsoll.evaluation.entities import Cost, Latency

FEATURES = ["x1", "x2"]
POLICY = """\
model: churn
alias: production
gates:
  - {name: auc, metric: roc_auc, min: 0.7}
  - {name: auc-change, metric: roc_auc, max_regression: 0.01}
  - {name: recall-by-region, metric: recall, slice: region, min: 0.5, min_slice_size: 100}
  - {name: parity, fairness: demographic_parity_difference, max: 0.5}
  - {name: latency, latency: single_p99_ms, max: 5, severity: warning}
  - {name: cost, cost: price_per_1000, max: 0.01}
  - {name: data, datasets: [evaluation]}
"""


def customers(n: int = 4_000, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n)})
    frame["region"] = rng.choice(["north", "south", "tiny"], n, p=[0.5, 0.49, 0.01])
    frame["gender"] = rng.choice(["f", "m"], n)
    frame["churned"] = (frame["x1"] + 0.5 * rng.normal(size=n) > 0).astype(int)
    return frame


def versions(sdk: Client, count: int) -> list[str]:
    refs = []
    for number in range(count):
        with sdk.start_run(experiment="churn") as run:
            run.log_text(f"weights {number}", "model/weights.txt")
        refs.append(sdk.registry.register("churn", run_id=run.id, artifact_path="model").ref)
    return refs


def test_a_promotion_gated_on_the_stored_evaluations(sdk: Client) -> None:
    frame = customers()
    schema = pa.DataFrameSchema({"churned": pa.Column(int, pa.Check.isin([0, 1]))})
    holdout = sdk.datasets.register("churn-holdout", frame, schema=schema).ref
    champion_ref, challenger_ref = versions(sdk, 2)
    champion = LogisticRegression().fit(frame[FEATURES], frame["churned"])
    weak = LogisticRegression().fit(frame[["x2"]], frame["churned"])
    common = {
        "task": "classification",
        "target": "churned",
        "slices": "region",
        "sensitive": "gender",
        "dataset": holdout,
        "cost": Cost(model_bytes=900, cpu_seconds=0.3, predictions=4_000),
        "price_per_1000": 0.002,
    }
    held = sdk.evaluate(champion, frame, features=FEATURES, model=champion_ref, **common)
    sdk.registry.set_alias("churn", "production", 1, reason="first release")

    # No evaluation of the challenger yet: no evidence, so the metric gates fail for want of it.
    unmeasured = sdk.gates.check("churn", 2, policy=POLICY)
    assert unmeasured.verdict == "failed"
    assert {r.gate: r.status for r in unmeasured.results}["auc"] == "failed"

    challenger = sdk.evaluate(
        weak,
        frame,
        features=["x2"],
        model=challenger_ref,
        latency=Latency(0.5, 9.0, 2.0, 4.0, 1000),
        **common,
    )
    decision = sdk.gates.check("churn", 2, policy=POLICY)
    results = {r.gate: r for r in decision.results}
    assert decision.evidence["source"] == challenger.node
    assert decision.baseline == 1
    assert decision.baseline_evidence == held.node
    # The weak model's AUC is near 0.5: below the threshold and far below the champion's.
    assert results["auc"].status == "failed"
    assert results["auc"].evidence["value"] == pytest.approx(challenger.metrics["roc_auc"])
    assert results["auc-change"].status == "failed"
    assert results["auc-change"].evidence["baseline"] == pytest.approx(held.metrics["roc_auc"])
    # The slice of 40 rows is listed but not judged.
    assert "tiny" in str(results["recall-by-region"].evidence)
    parity = challenger.fairness["gender"].metrics["demographic_parity_difference"]
    assert results["parity"].status == "passed"
    assert results["parity"].evidence["upper"] == pytest.approx(parity.upper)
    assert (results["latency"].status, results["latency"].severity) == ("failed", "warning")
    assert results["cost"].status == "passed"
    assert results["data"].status == "passed"
    assert decision.data_digests["evaluation"].startswith(f"{holdout} ")
    assert decision.verdict == "failed"

    # A better challenger, evaluated later, is what the next gate run reads.
    better = sdk.evaluate(champion, frame, features=FEATURES, model=challenger_ref, **common)
    again = sdk.gates.check("churn", 2, policy=POLICY)
    assert again.evidence["source"] == better.node
    assert {r.gate: r.status for r in again.results}["auc"] == "passed"
    assert {r.gate: r.status for r in again.results}["auc-change"] == "passed"
    assert again.verdict == "passed"

"""The demo's release: the best run's model, from registration to production, through the gates.

    from plimsoll import Client
    from plimsoll.demo import run_demo
    from plimsoll.release_demo import release_best

    with Client() as client:
        release = release_best(client, run_demo(client))

The best run's model (logged by its run) is registered as a version of `MODEL`, loaded back from
the registry (its digest checked), evaluated on the held-out test set (a dataset version of its
own) with slices by tumour size, latency and cost measured; `POLICY` guards the protected alias
`production`; a promotion is requested, its gates run as a background job, and a second person,
`REVIEWER`, holding the approver role, approves it: the alias moves. The author of a version can
never approve it, so on the embedded store the demo makes the reviewer a user of its own (whoever
holds the store's files may act as any of its users). Over HTTP it cannot sign in as somebody
else: the promotion waits for an approver (`plimsoll models approve ID`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from plimsoll.core.errors import Conflict

if TYPE_CHECKING:
    import pandas as pd

    from plimsoll.client import Client
    from plimsoll.demo import DemoData, DemoResult
    from plimsoll.evaluation.entities import Evaluation
    from plimsoll.gates.entities import Decision, Promotion
    from plimsoll.model_registry.entities import ModelVersion

MODEL = "breast-cancer-classifier"
ALIAS = "production"
REVIEWER = "demo-reviewer"
DEMO_ACTOR = "plimsoll-demo"  # who the audit log says made the reviewer
SIZE_COLUMN = "tumour_size"  # a slice: small or large by mean radius (the training set's median)
# The latency gate only warns: latency is measured on whatever machine runs the demo.
POLICY = f"""\
model: {MODEL}
alias: {ALIAS}
approvals:
  required: 1
  expires_after: 7d
gates:
  - name: auc
    metric: roc_auc
    min: 0.95
  - name: no-auc-regression
    metric: roc_auc
    max_regression: 0.01
  - name: recall-by-size
    metric: recall
    slice: {SIZE_COLUMN}
    min: 0.85
    min_slice_size: 20
  - name: calibration
    metric: expected_calibration_error
    max: 0.1
  - name: latency
    latency: single_p99_ms
    max: 50
    severity: warning
  - name: data
    datasets: [training, evaluation]
"""
Step = Callable[[str], None]
"""Called with what the release is doing now."""


@dataclass(frozen=True)
class Release:
    version: ModelVersion
    evaluation: Evaluation
    promotion: Promotion
    decision: Decision | None

    @property
    def promoted(self) -> bool:
        return self.promotion.status == "promoted"


def release_best(client: Client, result: DemoResult, *, step: Step | None = None) -> Release:
    """Register, evaluate, gate, approve and promote the best run's model (see the module)."""
    return release_run(
        client,
        result,
        result.best.id,
        description=f"the best of the demo's settings ({result.best.name}) by validation ROC AUC",
        comment="the demo's best model",
        guard=True,
        step=step,
    )


def release_run(
    client: Client,
    result: DemoResult,
    run_id: str,
    *,
    description: str,
    comment: str,
    guard: bool = False,
    step: Step | None = None,
) -> Release:
    """Register the model run `run_id` logged, evaluate it on the test set and request its
    promotion to `ALIAS` (the gates run as a job; on the embedded store the reviewer approves).
    `guard`: first set the release policy on the alias and protect it."""
    say = step or (lambda _: None)
    project = result.experiment.project
    say("registering the best run's model" if guard else "registering the run's model")
    version = client.registry.register(
        MODEL, run_id=run_id, artifact_path="model", description=description, project=project
    )
    say(f"evaluating {version.ref} on {result.test.ref}")
    model = client.registry.load(version.ref, project=project)
    evaluation = client.evaluate(
        model,
        evaluation_frame(result.data),
        task="classification",
        target="benign",
        features=result.data.features,
        slices=SIZE_COLUMN,
        model=version.ref,
        dataset=result.test.ref,
        latency=True,
        cost=True,
        price_per_cpu_hour=0.05,
        description="the held-out test set, never seen while choosing the setting",
        project=project,
    )
    if guard:
        say(f"guarding {MODEL}@{ALIAS} with the release policy")
        client.gates.set_policy(MODEL, ALIAS, POLICY, project=project)
        client.registry.protect(MODEL, ALIAS, project=project)
    say(f"requesting the promotion of {version.ref} to {ALIAS}: the gates run as a job")
    promotion = client.gates.promote(MODEL, version.version, to=ALIAS, comment=comment, project=project)
    promotion = _gates_run(client, promotion.id)
    if promotion.status == "awaiting_approval" and client.platform is not None:
        say(f"approving as {REVIEWER}, a second person holding the approver role")
        promotion = _approve_as_reviewer(client, promotion.id, project)
    decision = None if promotion.decision is None else client.gates.decision(promotion.decision)
    return Release(version, evaluation, promotion, decision)


def evaluation_frame(data: DemoData) -> pd.DataFrame:
    """The test set as the model sees it, with the label as 0/1 (`benign`, as the models learnt
    it) and the slice column (not an input of the model)."""
    median_radius = float(np.median(data.x_train["mean radius"]))
    size = np.where(data.x_test["mean radius"] > median_radius, "large", "small")
    return data.x_test.assign(benign=data.y_test, **{SIZE_COLUMN: size})


def _gates_run(client: Client, promotion_id: str) -> Promotion:
    """The promotion once its gates have run: by the server's workers over HTTP, by a worker of
    this process on the embedded store (started for the while)."""
    if client.platform is None:
        return client.gates.wait(promotion_id)
    background = client.platform.start_background(threads=1)
    try:
        return client.gates.wait(promotion_id)
    finally:
        background.stop()


def _approve_as_reviewer(client: Client, promotion_id: str, project: str) -> Promotion:
    platform = client.platform
    assert platform is not None
    with contextlib.suppress(Conflict):  # made by an earlier demo
        platform.auth.create_user(REVIEWER, actor=DEMO_ACTOR)
    if platform.auth.role_of(REVIEWER, project) is None:
        platform.auth.grant(project, REVIEWER, "approver", actor=DEMO_ACTOR)
    approved: Promotion = platform.gates.approve(
        promotion_id, comment="read the evaluation and the gates: fine for a demo", actor=REVIEWER
    )
    return approved

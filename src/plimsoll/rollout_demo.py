"""The demo's serving: the promoted model behind a model server, then a worse version's canary,
rolled back by the rollout's own analysis.

    from plimsoll.rollout_demo import roll_out
    rollout = roll_out(client, result, release)

The deployment `DEPLOYMENT` serves `breast-cancer-classifier@production` (it follows the alias)
under a rollout policy short enough for a demo (`POLICY`). A real model server replica
(`plimsoll.serving.app.build_app`, the app `plimsoll serve` runs) serves it in this process,
driven over an in-process ASGI transport: it asks the deployment's routing, loads the versions
through the registry, logs every answer to monitoring and reports its traffic. The tumours it
is sent come from the new imaging device of `plimsoll.operate_demo`.

Version 2 is `SLIM`: a logistic regression on 5 of the 30 measurements (cheaper to collect), two of
them the texture and smoothness readings the new device reads higher. It is worse on purpose. On
the held-out test set (the old device's readings) it passes every release gate; the gates cannot
see the new device. Its promotion moves the alias, the deployment rolls it out as a canary at
50 %, the diagnoses come back through the server's `/feedback`, and the `serving.rollout` job's
analysis compares the canary with the stable version on this traffic: its accuracy and its
predictions fail, so it is rolled back automatically: the traffic returns to version 1 and the
alias moves back, as `system:serving`, under the promotion's decision.

The analysis judges a step once it has lasted `analysis_window_s` (10 s at least). Rather than
wait, the demo runs the job with the serving service's clock moved that far on (`CLOCK_NOTE`);
every request, label and report it judges was really sent and logged. Embedded store only: over
HTTP the demo's promotion waits for a person's approval, and the server runs the job itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import httpx
    from starlette.applications import Starlette

    from plimsoll.client import Client
    from plimsoll.demo import DemoResult
    from plimsoll.release_demo import Release
    from plimsoll.serving.entities import Deployment, HistoryEntry

DEPLOYMENT = "breast-cancer-api"
REPLICA = "demo-replica"
SLIM_RUN = "gb-5-measurements"
SLIM = ("mean texture", "worst texture", "mean smoothness", "worst smoothness", "worst radius")
POLICY = {
    "steps": [50, 100],
    "analysis_window_s": 10,  # the shortest the policy takes
    "min_requests": 40,
    "quality_metric": "accuracy",
    "max_quality_drop": 0.02,
    "drift_alpha": 0.01,
}
ROWS_PER_REQUEST = 5
STABLE_REQUESTS = 20  # before the canary
CANARY_REQUESTS = 120  # while it runs, at 50 %
CLOCK_NOTE = "the demo moved the rollout's clock on by the analysis window instead of waiting"
Step = Callable[[str], None]


@dataclass(frozen=True)
class Rollout:
    deployment: Deployment
    history: list[HistoryEntry]  # the newest first
    slim: Release  # version 2's release
    answered: dict[tuple[int, str], int]  # requests answered, by (version, role)
    labelled: int  # diagnoses sent back through /feedback
    verdicts: dict[str, int]  # what the rollout job did
    holder: int  # the version the alias holds at the end

    @property
    def rolled_back(self) -> HistoryEntry | None:
        return next((h for h in self.history if h.action == "rolled_back"), None)


def roll_out(client: Client, result: DemoResult, release: Release, *, step: Step | None = None) -> Rollout:
    """Deploy the promoted model, serve traffic, release the slim version and watch its canary
    rolled back (see the module). The embedded store only (`client.platform`)."""
    from plimsoll.release_demo import ALIAS, MODEL

    if client.platform is None:
        raise RuntimeError("the serving demo runs on the embedded store only")
    say = step or (lambda _: None)
    project = result.experiment.project
    say(f"deploying {MODEL}@{ALIAS} as {DEPLOYMENT}")
    client.deployments.deploy(
        DEPLOYMENT,
        model=f"{MODEL}@{ALIAS}",
        policy=POLICY,
        reason="the demo's model server",
        project=project,
    )
    return asyncio.run(_serve(client, result, release, say))


async def _serve(client: Client, result: DemoResult, release: Release, say: Step) -> Rollout:
    import httpx

    from plimsoll.cli.serve import loader, reporter, routing_source
    from plimsoll.release_demo import ALIAS, MODEL, release_run
    from plimsoll.serving.app import Options, build_app

    project = result.experiment.project
    app = build_app(
        routing_source(client, project, DEPLOYMENT, model=None),
        loader(client, project, MODEL),
        client.monitoring,
        options=Options(poll_interval=0.05, report_interval=0.5, replica=REPLICA),
        report=reporter(client, project, DEPLOYMENT, REPLICA),
    )
    rng = np.random.default_rng(11)
    answered: dict[tuple[int, str], int] = {}
    labelled = 0
    async with (
        _running(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://replica") as http,
    ):
        await _ready(http, app, client.deployments.get(DEPLOYMENT, project=project).revision)
        say(f"serving {DEPLOYMENT}: the new device's tumours, version 1")
        for _ in range(STABLE_REQUESTS):
            await _ask(http, result, rng, answered)

        say(f"releasing version 2 ({len(SLIM)} of the 30 measurements) through the same gates")
        slim_run = train_slim(client, result)
        slim = release_run(
            client,
            result,
            slim_run,
            description=f"a logistic regression on {len(SLIM)} of the 30 measurements: cheaper to "
            "collect; worse on purpose (the demo's canary to roll back)",
            comment="a slimmer model: 5 measurements instead of 30",
        )
        deployment = client.deployments.get(DEPLOYMENT, project=project)
        if slim.promoted:
            deployment = _canary_started(client, project, slim.version.version)
            await _ready(http, app, deployment.revision)
            say(
                f"a canary of version {slim.version.version} at {deployment.canary_weight:g}%, labels coming back"
            )
            for _ in range(CANARY_REQUESTS):
                labelled += await _ask(http, result, rng, answered, label=True)
            await _drained(app, client)
            say("the rollout's analysis (the serving.rollout job)")
            verdicts = _analysed(client, POLICY["analysis_window_s"])  # type: ignore[arg-type]
            deployment = client.deployments.get(DEPLOYMENT, project=project)
            await _ready(http, app, deployment.revision)
            for _ in range(5):  # the replica serves version 1 alone again
                await _ask(http, result, rng, answered)
        else:
            verdicts = {}
    holder = client.registry.get(f"{MODEL}@{ALIAS}", project=project).version
    return Rollout(
        deployment,
        client.deployments.history(DEPLOYMENT, project=project),
        slim,
        answered,
        labelled,
        verdicts,
        holder,
    )


def train_slim(client: Client, result: DemoResult) -> str:
    """Version 2's run: a logistic regression on the `SLIM` measurements only, standardised (a
    pipeline that takes all 30 and keeps 5), trained and validated on the demo's split (logged as its inputs)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from plimsoll.demo import MODEL_CARD, SEED, final_metrics, register_data

    data = result.data
    train, validation, _ = register_data(client, data, project=result.experiment.project)
    model = Pipeline(
        [
            ("keep", ColumnTransformer([("measurements", "passthrough", list(SLIM))])),
            ("scale", StandardScaler()),
            ("classify", LogisticRegression(random_state=SEED)),
        ]
    ).fit(data.x_train, data.y_train)
    params = {
        "model": "sklearn.linear_model.LogisticRegression",
        "features": ", ".join(SLIM),
        "n_train": len(data.y_train),
        "random_state": SEED,
    }
    tags = {
        "demo": "true",
        "model_family": "logistic_regression",
        "dataset": "breast_cancer",
        "worse": "true",
    }
    with client.start_run(result.experiment.name, name=SLIM_RUN, params=params, tags=tags) as run:
        run.log_input(train, context="training")
        run.log_input(validation, context="validation")
        run.log_metrics(final_metrics(data.y_val, model.predict_proba(data.x_val)[:, 1]))
        run.log_model(model, "model", input_example=data.x_val.head(5), card=MODEL_CARD)
        return run.id


@contextmanager
def _background(client: Client) -> Iterator[None]:
    assert client.platform is not None
    background = client.platform.start_background(threads=1)
    try:
        yield
    finally:
        background.stop()


def _canary_started(client: Client, project: str, version: int, wait_s: float = 60.0) -> Deployment:
    """The deployment once the `serving` consumer has acted on the alias's move (a worker of this
    process runs it for the while)."""
    deadline = time.monotonic() + wait_s
    with _background(client):
        while True:
            deployment = client.deployments.get(DEPLOYMENT, project=project)
            if deployment.canary == version or time.monotonic() > deadline:
                return deployment
            time.sleep(0.05)


def _analysed(client: Client, window_s: int) -> dict[str, int]:
    """The `serving.rollout` job's work, run now with the service's clock `window_s` on: the
    step has then lasted its analysis window (`CLOCK_NOTE`)."""
    assert client.platform is not None
    service = client.platform.service("serving")
    clock = service.clock
    service.clock = lambda: clock() + window_s * 1000
    try:
        return dict(service.roll_out())
    finally:
        service.clock = clock


class _running:
    """The app's lifespan (its replica's poller, log writer and reporter threads), entered and
    left as an ASGI server would."""

    def __init__(self, app: Starlette) -> None:
        self.context = app.router.lifespan_context(app)

    async def __aenter__(self) -> None:
        await self.context.__aenter__()

    async def __aexit__(self, *exc: Any) -> None:
        await self.context.__aexit__(*exc)


async def _ready(http: httpx.AsyncClient, app: Starlette, revision: int, wait_s: float = 30.0) -> None:
    """Until the replica serves `revision` of the deployment (or later)."""
    deadline = time.monotonic() + wait_s
    replica = app.state.replica
    while True:
        served = replica.served
        if served is not None and served.routing.revision >= revision:
            answer = await http.get("/readyz")
            if answer.status_code == 200:
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the replica did not serve revision {revision} of {DEPLOYMENT}")
        await asyncio.sleep(0.02)


async def _ask(
    http: httpx.AsyncClient,
    result: DemoResult,
    rng: np.random.Generator,
    answered: dict[tuple[int, str], int],
    *,
    label: bool = False,
) -> int:
    """One request of new-device tumours; with `label`, their diagnoses sent back after."""
    from plimsoll.operate_demo import _day

    frame, truth = _day(result.data, rng, drifted=True, rows=ROWS_PER_REQUEST)
    answer = await http.post("/invocations", json={"dataframe_split": frame.to_dict(orient="split")})
    answer.raise_for_status()
    key = (int(answer.headers["x-plimsoll-version"]), answer.headers["x-plimsoll-role"])
    answered[key] = answered.get(key, 0) + 1
    if not label:
        return 0
    ids = answer.json()["prediction_ids"]
    sent = await http.post("/feedback", json={"ids": ids, "labels": [int(t) for t in truth]})
    sent.raise_for_status()
    return len(ids)


async def _drained(app: Starlette, client: Client, wait_s: float = 30.0) -> None:
    """Every answer handed to monitoring and written, every request reported."""
    replica = app.state.replica
    deadline = time.monotonic() + wait_s
    while replica.gauges()["plimsoll_serving_log_queued_rows"] and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    await asyncio.to_thread(client.monitoring.flush)
    await asyncio.to_thread(replica.report_now)

"""A deployment served: `plimsoll serve NAME` without `--model` asks the deployments service for
its routing, follows a canary started with `plimsoll deploy`, reports its traffic (which the
rollout reads back) and logs every answer under the deployment and the role that gave it."""

from __future__ import annotations

import time

import pytest
from test_model_server import Served, data, sdk  # noqa: F401 (the module's fixture)

from plimsoll.cli.serve import loader, reporter, routing_source
from plimsoll.client import Client
from plimsoll.core.errors import InvalidParameter
from plimsoll.serving.app import Options, build_app


def test_a_replica_serves_its_deployment_and_reports_what_it_answered(sdk: Client) -> None:  # noqa: F811
    sdk.registry.set_alias("churn", "production", 1)
    sdk.deployments.deploy("churn-api", model="churn@production")
    app = build_app(
        routing_source(sdk, "default", "churn-api", model=None),
        loader(sdk, "default", "churn"),
        sdk.monitoring,
        options=Options(poll_interval=0.05, report_interval=0.1, replica="replica-a"),
        report=reporter(sdk, "default", "churn-api", "replica-a"),
    )
    served = Served(app)
    try:
        assert served.ready()["ready"]
        body = {"dataframe_records": data(1, 5).to_dict(orient="records")}
        answers = [served.http.post("/invocations", json=body) for _ in range(10)]
        assert {
            (a.status_code, a.headers["x-plimsoll-version"], a.headers["x-plimsoll-role"]) for a in answers
        } == {(200, "1", "stable")}
        revision = served.replica.served.routing.revision  # type: ignore[union-attr]
        sdk.deployments.deploy("churn-api", model="churn@production", canary=2, weight=50)
        deadline = time.monotonic() + 10
        while served.replica.served.routing.revision == revision:  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the replica did not pick up the canary"
            time.sleep(0.02)
        roles = {}
        for _ in range(60):
            answer = served.http.post("/invocations", json=body)
            assert answer.status_code == 200
            roles[answer.headers["x-plimsoll-role"]] = answer.headers["x-plimsoll-version"]
        assert roles == {"stable": "1", "canary": "2"}
    finally:
        served.stop()  # the last traffic is reported on the way out
    counted = {(t.version, t.role): t.requests for t in sdk.deployments.traffic("churn-api")}
    assert sum(counted.values()) == 70 and counted[(1, "stable")] >= 10 and counted[(2, "canary")] > 0
    sdk.monitoring.flush(30)
    logged = {
        role: sdk.monitoring.read("predictions", model="churn", deployment="churn-api", role=role).num_rows
        for role in ("stable", "canary")
    }
    assert logged == {"stable": counted[(1, "stable")], "canary": counted[(2, "canary")]}


def test_a_deployment_brings_its_own_canary_and_shadow(sdk: Client) -> None:  # noqa: F811
    with pytest.raises(InvalidParameter) as refused:
        routing_source(sdk, "default", "churn-api", model=None, shadow="churn/2")
    assert refused.value.field == "--model"

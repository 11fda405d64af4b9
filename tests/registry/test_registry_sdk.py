"""`client.registry` embedded and over HTTP, on SQLite and PostgreSQL: the same calls give the
same answers, and refusals arrive as the same errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from plimsoll.client import Client
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound, PermissionDenied


def trained(sdk: Client, weights: str) -> str:
    with sdk.start_run(experiment="churn") as run:
        run.log_text(weights, "model/weights.txt")
        run.log_text("{}", "model/MLmodel.json")
    return run.id


def test_register_alias_history_and_rollback(sdk: Client) -> None:
    first_run = trained(sdk, "one")
    first = sdk.registry.register("churn", run_id=first_run, artifact_path="model", flavor="sklearn")
    assert (first.ref, first.files, first.flavor, first.run_id) == ("churn/1", 2, "sklearn", first_run)
    assert sdk.registry.register("churn", run_id=first_run, artifact_path="model") == first
    second = sdk.registry.register("churn", run_id=trained(sdk, "two"), artifact_path="model")

    before = sdk.registry.set_alias("churn", "production", 1, reason="first release")
    sdk.registry.set_alias("churn", "production", 2, reason="retrained", expected=1)
    with pytest.raises(Conflict, match="holds version 2, not 1"):
        sdk.registry.set_alias("churn", "production", 1, expected=1)
    assert sdk.registry.get("churn@production") == sdk.registry.get("churn/2")
    assert sdk.registry.get("churn").aliases == ("production",)
    assert [v.version for v in sdk.registry.versions("churn")] == [2, 1]
    assert [m.name for m in sdk.registry.list()] == ["churn"]

    at_first = datetime.fromtimestamp(before.at / 1000, tz=UTC)
    assert sdk.registry.history("churn", "production", at=at_first).version == 1
    assert sdk.registry.history("churn", "production").version == second.version
    with pytest.raises(Conflict, match="holds version 2, not 1"):
        sdk.registry.rollback("churn", "production", expected=1)  # read before the last move
    back = sdk.registry.rollback("churn", "production", reason="regression", expected=2)
    assert (back.version, back.previous, back.action) == (1, 2, "rollback")
    assert [m.reason for m in sdk.registry.history("churn", "production").moves] == [
        "regression",
        "retrained",
        "first release",
    ]

    # Protected, the alias moves forward only through a promotion; lifted, by hand again.
    sdk.registry.protect("churn", "production")
    with pytest.raises(Conflict, match="protected: it moves only through a promotion"):
        sdk.registry.set_alias("churn", "production", 2)
    sdk.registry.protect("churn", "production", False)
    assert sdk.registry.set_alias("churn", "production", 2, expected=1).version == 2

    # Who may roll it back is the alias's own list.
    access = sdk.registry.set_access("churn", "production", rollback=["oncall"])
    assert (access.alias, access.rollback, access.request) == ("production", ("oncall",), ())
    with pytest.raises(PermissionDenied, match="may not rollback churn@production"):
        sdk.registry.rollback("churn", "production")
    sdk.registry.set_access("churn", "production")
    assert sdk.registry.rollback("churn", "production").version == 1


def test_refusals_arrive_as_the_same_errors(sdk: Client) -> None:
    run_id = trained(sdk, "one")
    with pytest.raises(NotFound, match="no artifact 'weights'"):
        sdk.registry.register("churn", run_id=run_id, artifact_path="weights")
    sdk.registry.register("churn", run_id=run_id, artifact_path="model")
    with pytest.raises(NotFound, match="no alias 'production'"):
        sdk.registry.get("churn@production")
    with pytest.raises(InvalidParameter, match="lowercase word") as refused:
        sdk.registry.get("churn@Production")
    assert refused.value.field == "ref"
    with pytest.raises(InvalidParameter, match="timezone-aware"):
        sdk.registry.history("churn", "production", at=datetime(2026, 12, 1))
    with pytest.raises(NotFound, match="no version 7"):
        sdk.registry.set_alias("churn", "production", 7)

"""A run's parent is a run of its own project: one that exists, or one created in the same batch.
A parent in another project is refused in the same words as one that does not exist."""

from __future__ import annotations

import httpx
import pytest

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.ids import new_id
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer
from plimsoll.tracking.entities import RunCreate, RunWrites


def test_a_parent_must_be_a_run_of_the_same_project(platform: Platform) -> None:
    tracking = platform.tracking
    platform.projects.create("other", actor="local")
    here = tracking.create_experiment("here", actor="local").id
    there = tracking.create_experiment("there", project="other", actor="local").id
    parent = tracking.create_run(here, actor="local").id
    elsewhere = tracking.create_run(there, actor="local").id

    child = tracking.create_run(here, parent_run_id=parent, actor="local")
    assert child.parent_run_id == parent

    refusals = []
    for wrong in (new_id(), elsewhere):
        with pytest.raises(InvalidParameter) as refused:
            tracking.create_run(here, parent_run_id=wrong, actor="local")
        assert refused.value.field == "parent_run_id"
        refusals.append(refused.value.message.replace(wrong, "<id>"))
    assert refusals[0] == refusals[1]  # nothing tells that the other project's run exists
    run_id = new_id()
    with pytest.raises(InvalidParameter, match="its own parent"):
        tracking.create_run(here, run_id=run_id, parent_run_id=run_id, actor="local")


def test_a_parent_created_in_the_same_batch_counts(platform: Platform) -> None:
    tracking = platform.tracking
    experiment = tracking.create_experiment("e", actor="local").id
    parent, child = new_id(), new_id()
    tracking.ingest(
        [
            RunWrites(run_id=child, create=RunCreate(experiment, None, parent, None)),
            RunWrites(run_id=parent, create=RunCreate(experiment, None, None, None)),
        ],
        actor="local",
    )
    assert tracking.get_run(child).parent_run_id == parent


def test_over_http_an_unknown_parent_is_a_400(platform: Platform, live_server: LiveServer) -> None:
    experiment = platform.tracking.create_experiment("e", actor="local").id
    with httpx.Client(base_url=live_server.url) as client:
        answer = client.post("/api/v1/runs", json={"experiment_id": experiment, "parent_run_id": new_id()})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["details"]["field"] == "parent_run_id"

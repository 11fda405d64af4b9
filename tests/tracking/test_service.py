"""TrackingService rules, on SQLite and PostgreSQL."""

from __future__ import annotations

import math

import pytest

from plimsoll.core import audit
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.core.ids import new_id
from plimsoll.platform import Platform
from plimsoll.tracking.entities import Metric, RunEnd, RunStatus, RunWrites
from plimsoll.tracking.service import TrackingService

ME = "alice"


@pytest.fixture
def tracking(platform: Platform) -> TrackingService:
    return platform.tracking


def test_default_project_and_experiment_lifecycle(tracking: TrackingService) -> None:
    created = tracking.create_experiment("churn", description="why", tags={"team": "growth"}, actor=ME)
    assert created.project == "default"
    assert tracking.get_experiment(created.id).tags == {"team": "growth"}
    with pytest.raises(Conflict, match="already exists"):
        tracking.create_experiment("churn", actor=ME)
    renamed = tracking.rename_experiment(created.id, "churn-v2", actor=ME)
    assert renamed.name == "churn-v2"
    assert tracking.find_experiment("churn") is None
    tracking.delete_experiment(created.id, actor=ME)
    assert [e.name for e in tracking.list_experiments()] == []
    assert [e.name for e in tracking.list_experiments(view="deleted")] == ["churn-v2"]
    tracking.restore_experiment(created.id, actor=ME)
    assert [e.name for e in tracking.list_experiments()] == ["churn-v2"]


def test_unknown_ids_are_not_found(tracking: TrackingService) -> None:
    with pytest.raises(NotFound):
        tracking.get_experiment(new_id())
    with pytest.raises(NotFound):
        tracking.get_run(new_id())
    with pytest.raises(NotFound):
        tracking.create_experiment("x", project="nope", actor=ME)
    with pytest.raises(InvalidParameter, match="run_id"):
        tracking.get_run("../etc/passwd")


def test_runs_params_metrics_tags(tracking: TrackingService) -> None:
    experiment = tracking.create_experiment("e", actor=ME)
    parent = tracking.create_run(experiment.id, name="parent", actor=ME)
    run = tracking.create_run(experiment.id, parent_run_id=parent.id, params={"lr": "0.1"}, actor=ME)
    assert run.status == RunStatus.RUNNING and run.parent_run_id == parent.id and run.name
    tracking.log_batch(
        run.id,
        params={"lr": "0.1", "depth": "3"},  # the same value again is fine
        tags={"team": "a"},
        metrics=[
            Metric("loss", v, step, 1000 + step) for step, v in enumerate([3.0, math.nan, math.inf, 1.0])
        ],
        actor=ME,
    )
    with pytest.raises(Conflict, match="immutable"):
        tracking.log_batch(run.id, params={"lr": "0.2"}, actor=ME)
    got = tracking.get_run(run.id)
    assert got.params == {"lr": "0.1", "depth": "3"}
    assert got.tags == {"team": "a"}
    assert got.metrics == {"loss": 1.0}
    history = tracking.get_metric_history(run.id, "loss")
    assert history.steps == [0, 1, 2, 3]
    assert history.values[0] == 3.0 and math.isnan(history.values[1]) and history.values[2] == math.inf
    ended = tracking.end_run(run.id, "FAILED", actor=ME)
    assert ended.status == "FAILED" and ended.end_time is not None
    with pytest.raises(Conflict, match="has ended"):
        tracking.log_batch(run.id, metrics=[Metric("loss", 0.5)], actor=ME)
    with pytest.raises(InvalidParameter, match="status"):
        tracking.end_run(parent.id, "DONE", actor=ME)


def test_latest_metric_is_highest_step_then_timestamp(tracking: TrackingService) -> None:
    run = tracking.create_run(tracking.create_experiment("e", actor=ME).id, actor=ME)
    tracking.log_batch(run.id, metrics=[Metric("m", 5.0, 10, 1), Metric("m", 1.0, 2, 99)], actor=ME)
    tracking.log_batch(run.id, metrics=[Metric("m", 7.0, 10, 2), Metric("n", math.nan, 0, 0)], actor=ME)
    metrics = tracking.get_run(run.id).metrics
    assert metrics["m"] == 7.0 and math.isnan(metrics["n"])


def test_batch_ids_make_ingest_idempotent(tracking: TrackingService) -> None:
    experiment = tracking.create_experiment("e", actor=ME)
    run_id, batch_id = new_id(), new_id()
    writes = RunWrites(
        run_id=run_id,
        create=__import__("plimsoll.tracking.entities", fromlist=["RunCreate"]).RunCreate(experiment.id, "r"),
        metrics=[Metric("loss", float(i), i, i) for i in range(10)],
        end=RunEnd(RunStatus.FINISHED),
    )
    first = tracking.ingest([writes], batch_id=batch_id, actor=ME)
    again = tracking.ingest([writes], batch_id=batch_id, actor=ME)
    assert first.applied and not again.applied
    assert len(tracking.get_metric_history(run_id, "loss").steps) == 10
    assert tracking.get_run(run_id).status == "FINISHED"


def test_a_rejected_batch_writes_nothing(tracking: TrackingService) -> None:
    experiment = tracking.create_experiment("e", actor=ME)
    good = tracking.create_run(experiment.id, params={"a": "1"}, actor=ME)
    other = tracking.create_run(experiment.id, actor=ME)
    with pytest.raises(Conflict):
        tracking.ingest(
            [
                RunWrites(other.id, metrics=[Metric("x", 1.0)]),
                RunWrites(good.id, params={"a": "2"}),
            ],
            actor=ME,
        )
    assert tracking.get_run(other.id).metrics == {}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"params": {"../x": "1"}}, "params"),
        ({"params": {"k": "v" * 6001}}, "params.k"),
        ({"tags": {"": "v"}}, "tags"),
        ({"metrics": [Metric("/abs", 1.0)]}, "metrics.key"),
        ({"metrics": [Metric("m", 1.0, 2**63)]}, "metrics.m.step"),
        ({"metrics": [Metric("m", 1.0, 0, -1)]}, "metrics.m.timestamp"),
        ({"metrics": [Metric("m", 1.0)] * 100_001}, "metrics"),
    ],
)
def test_bad_input_names_the_field_and_keeps_data(
    tracking: TrackingService, kwargs: dict, field: str
) -> None:
    run = tracking.create_run(tracking.create_experiment("e", actor=ME).id, params={"keep": "me"}, actor=ME)
    with pytest.raises(InvalidParameter) as caught:
        tracking.log_batch(run.id, actor=ME, **kwargs)
    assert caught.value.field == field
    assert tracking.get_run(run.id).params == {"keep": "me"}


@pytest.mark.parametrize("name", ["", " x", "a/b", "..", "x" * 257, "tab\tname"])
def test_bad_experiment_names(tracking: TrackingService, name: str) -> None:
    with pytest.raises(InvalidParameter, match="name"):
        tracking.create_experiment(name, actor=ME)


def test_history_downsampling_keeps_min_max_last(tracking: TrackingService) -> None:
    run = tracking.create_run(tracking.create_experiment("e", actor=ME).id, actor=ME)
    values = [math.sin(i / 50) + (5.0 if i == 333 else 0.0) for i in range(2000)]
    tracking.log_batch(run.id, metrics=[Metric("m", v, i, i) for i, v in enumerate(values)], actor=ME)
    sampled = tracking.get_metric_history(run.id, "m", max_points=100)
    assert sampled.downsampled and len(sampled.steps) <= 100 and sampled.total_points == 2000
    assert sampled.maxs is not None and sampled.mins is not None
    assert max(sampled.maxs) == pytest.approx(max(values))  # the spike survives downsampling
    assert min(sampled.mins) == pytest.approx(min(values))
    assert sampled.steps[-1] == 1999 and sampled.values[-1] == pytest.approx(values[-1])


def test_keys_with_history_are_those_with_a_second_point(tracking: TrackingService) -> None:
    run = tracking.create_run(tracking.create_experiment("e", actor=ME).id, actor=ME)
    other = tracking.create_run(tracking.create_experiment("f", actor=ME).id, actor=ME)
    tracking.log_batch(
        run.id,
        metrics=[
            Metric("final_acc", 0.9, 0, 1),
            Metric("loss", 1.0, 0, 1),
            Metric("loss", 0.5, 1, 2),
            Metric("same_step", 1.0, 3, 1),
            Metric("same_step", 2.0, 3, 2),  # two points at one step are still two points
            Metric("gap", math.nan, 0, 1),
            Metric("gap", 1.0, 1, 2),
        ],
        actor=ME,
    )
    tracking.log_batch(
        other.id, metrics=[Metric("final_acc", v, i, i) for i, v in enumerate([1.0, 2.0])], actor=ME
    )
    assert tracking.list_metric_keys(run.id) == ["final_acc", "gap", "loss", "same_step"]
    assert tracking.list_metric_keys_with_history(run.id) == ["gap", "loss", "same_step"]
    # The same point logged again is stored once: still a single value.
    tracking.log_batch(run.id, metrics=[Metric("final_acc", 0.9, 0, 1)], actor=ME)
    assert "final_acc" not in tracking.list_metric_keys_with_history(run.id)
    assert tracking.list_metric_keys_with_history(other.id) == ["final_acc"]
    # Several runs at once (the compare page), each asked-for run in the answer, in the order asked.
    bare = tracking.create_run(tracking.create_experiment("g", actor=ME).id, actor=ME)
    by_run = tracking.metric_keys_with_history_by_run([other.id, run.id, bare.id])
    assert by_run == {other.id: ["final_acc"], run.id: ["gap", "loss", "same_step"], bare.id: []}
    assert list(by_run) == [other.id, run.id, bare.id]
    assert tracking.metric_keys_with_history_by_run([]) == {}
    with pytest.raises(InvalidParameter, match="run_ids"):
        tracking.metric_keys_with_history_by_run(["not an id"])


def test_history_pages_with_a_hard_cap(tracking: TrackingService, monkeypatch: pytest.MonkeyPatch) -> None:
    import plimsoll.tracking.service.history as service_module

    monkeypatch.setattr(service_module, "MAX_HISTORY_POINTS", 7)
    run = tracking.create_run(tracking.create_experiment("e", actor=ME).id, actor=ME)
    for tie in (1, 2, 5, 20):  # points per step: page boundaries fall inside runs of equal steps
        key = f"m{tie}"
        tracking.log_batch(run.id, metrics=[Metric(key, float(i), i // tie, i) for i in range(20)], actor=ME)
        seen: list[float] = []
        token = None
        while True:
            page = tracking.get_metric_history(run.id, key, page_token=token)
            assert len(page.values) <= 7
            seen.extend(page.values)
            token = page.next_page_token
            if token is None:
                break
        assert seen == [float(i) for i in range(20)]


def test_search_runs_end_to_end(tracking: TrackingService) -> None:
    experiment = tracking.create_experiment("e", actor=ME)
    for i in range(12):
        run = tracking.create_run(experiment.id, name=f"r{i}", params={"lr": str(0.01 * i)}, actor=ME)
        tracking.log_batch(run.id, metrics=[Metric("acc", i / 12)], tags={"even": str(i % 2 == 0)}, actor=ME)
    page = tracking.search_runs(
        experiment_ids=[experiment.id],
        filter="params.lr > 0.02 AND tags.even = 'True'",
        order_by=["metrics.acc DESC"],
        max_results=3,
    )
    assert [r.name for r in page.runs] == ["r10", "r8", "r6"]
    rest = tracking.search_runs(
        experiment_ids=[experiment.id],
        filter="params.lr > 0.02 AND tags.even = 'True'",
        order_by=["metrics.acc DESC"],
        max_results=3,
        page_token=page.next_page_token,
    )
    assert [r.name for r in rest.runs] == ["r4"] and rest.next_page_token is None


def test_deleted_runs_are_hidden_and_restorable(tracking: TrackingService) -> None:
    experiment = tracking.create_experiment("e", actor=ME)
    run = tracking.create_run(experiment.id, actor=ME)
    tracking.delete_run(run.id, actor=ME)
    assert tracking.search_runs(experiment_ids=[experiment.id]).runs == []
    tracking.restore_run(run.id, actor=ME)
    assert [r.id for r in tracking.search_runs(experiment_ids=[experiment.id]).runs] == [run.id]


def test_run_counts_leave_out_deleted_runs(tracking: TrackingService) -> None:
    busy, empty = tracking.create_experiment("busy", actor=ME), tracking.create_experiment("empty", actor=ME)
    made = [tracking.create_run(busy.id, actor=ME) for _ in range(3)]
    tracking.delete_run(made[0].id, actor=ME)
    assert tracking.run_counts([busy.id, empty.id]) == {busy.id: 2, empty.id: 0}
    assert tracking.run_counts([]) == {}


def test_artifacts_roundtrip_and_path_safety(platform: Platform) -> None:
    tracking = platform.tracking
    run = tracking.create_run(tracking.create_experiment("e", actor=ME).id, actor=ME)
    tracking.log_artifact(run.id, "model/weights.bin", b"\x00\x01", actor=ME)
    tracking.log_artifact(run.id, "model/card.md", b"# card", actor=ME)
    tracking.log_artifact(run.id, "notes.txt", b"# card", actor=ME)
    assert [a.path for a in tracking.list_artifacts(run.id, "model")] == [
        "model/card.md",
        "model/weights.bin",
    ]
    card = tracking.get_artifact(run.id, "model/card.md")
    assert platform.blobs.get_bytes(card.digest) == b"# card"
    assert card.digest == tracking.get_artifact(run.id, "notes.txt").digest  # stored once
    for bad in ["../x", "/etc/passwd", "a//b", "a/./b", "C:/x", "a\\b"]:
        with pytest.raises(InvalidParameter, match="path"):
            tracking.log_artifact(run.id, bad, b"x", actor=ME)


def test_every_state_change_is_audited_in_an_intact_chain(platform: Platform) -> None:
    tracking = platform.tracking
    experiment = tracking.create_experiment("e", actor=ME)
    run = tracking.create_run(experiment.id, params={"a": "1"}, tags={"t": "x"}, actor="bob")
    tracking.end_run(run.id, actor="bob")
    tracking.rename_experiment(experiment.id, "e2", actor=ME)
    with platform.db.read() as conn:
        events = audit.list_events(conn)
        intact, broken = audit.verify_chain(conn)
    actions = [(e.actor, e.action) for e in events]
    assert ("alice", "experiment.create") in actions
    assert ("bob", "run.create") in actions and ("bob", "run.log_params") in actions
    assert ("bob", "run.end") in actions and ("alice", "experiment.rename") in actions
    logged = next(e for e in events if e.action == "run.log_params")
    assert set(logged.after) == {"a"} and logged.after["a"].startswith("blake3:")  # digests, never values
    rename = next(e for e in events if e.action == "experiment.rename")
    assert rename.before["name"] == "e" and rename.after["name"] == "e2"
    assert intact and broken is None
    with platform.db.write() as conn:
        conn.execute(audit.audit_events.update().where(audit.audit_events.c.seq == 2).values(actor="mallory"))
    with platform.db.read() as conn:
        assert audit.verify_chain(conn) == (False, 2)


def test_projects_are_namespaces(platform: Platform, tracking: TrackingService) -> None:
    projects = platform.projects
    assert projects.list() == ["default"]
    projects.create("fraud", description="card fraud", actor=ME)
    with pytest.raises(Conflict):
        projects.create("fraud", actor=ME)
    with pytest.raises(InvalidParameter, match="name"):
        projects.create("a/b", actor=ME)
    with pytest.raises(NotFound, match="project 'nowhere' not found"):
        tracking.create_experiment("churn", project="nowhere", actor=ME)
    tracking.create_experiment("churn", project="fraud", actor=ME)
    tracking.create_experiment("churn", actor=ME)  # the same name in another project is fine
    assert [e.project for e in tracking.list_experiments(project="fraud")] == ["fraud"]
    assert projects.list() == ["default", "fraud"]


def test_old_batch_ids_are_pruned(tracking: TrackingService) -> None:
    run = tracking.create_run(tracking.create_experiment("e", actor=ME).id, actor=ME)
    first, second = new_id(), new_id()
    tracking.log_batch(run.id, metrics=[Metric("m", 1.0)], batch_id=first, actor=ME)
    assert tracking.prune_batch_ids(keep_ms=3_600_000) == 0  # recent ids are kept
    assert tracking.prune_batch_ids(keep_ms=-1000) == 1  # "older than a second from now": all
    tracking.log_batch(run.id, metrics=[Metric("m", 2.0, 1)], batch_id=second, actor=ME)
    assert (
        tracking.log_batch(run.id, metrics=[Metric("m", 2.0, 1)], batch_id=second, actor=ME).applied is False
    )

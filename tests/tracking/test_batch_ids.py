"""Batch ids are the sender's own, and a batch needs a role whatever it holds.

A write batch's id makes it idempotent: a retry is acknowledged, not applied twice. Ids used to be
one namespace for every user, and an empty batch touched no project, so it needed no role: a user
with no role at all could send an empty batch under another user's future id and that user's
real batch was then acknowledged and dropped. Now ids are remembered per actor, and a batch that
names no project still needs the role in some project. Auth on, two users, both backends.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from plimsoll.core.auth.entities import Role
from plimsoll.core.ids import new_id
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer
from plimsoll.tracking.entities import MetricColumns, RunWrites

pytestmark = pytest.mark.auth_on  # the conftest `platform` (and `live_server`) with auth on


def _client(server: LiveServer, secret: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {secret}"}, timeout=10)


def _user(platform: Platform, name: str, **roles: Role) -> str:
    platform.auth.create_user(name, actor="root")
    for project, role in roles.items():
        platform.auth.grant(project, name, role, actor="root")
    return platform.auth.create_token(name, actor="root").secret


def _points(run_id: str, count: int) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "metrics": {
            "keys": ["loss"] * count,
            "values": [float(i) for i in range(count)],
            "steps": list(range(count)),
            "timestamps": [1] * count,
        },
    }


def test_a_batch_id_burnt_by_another_user_does_not_drop_a_batch(
    platform: Platform, live_server: LiveServer
) -> None:
    platform.auth.bootstrap_admin("root")
    platform.projects.create("mine", actor="root")
    experiment = platform.tracking.create_experiment("e", project="default", actor="root").id
    alice = _user(platform, "alice", default=Role.CONTRIBUTOR)
    mallory = _user(platform, "mallory", mine=Role.CONTRIBUTOR)
    run_id = platform.tracking.create_run(experiment, actor="alice").id
    batch_id = new_id()  # one alice's SDK is about to use (ids travel in logs, proxies, dumps)

    with _client(live_server, mallory) as client:
        burnt = client.post("/api/v1/runs/ingest", json={"batch_id": batch_id, "runs": []})
        assert burnt.status_code == 200, burnt.text
        assert burnt.json()["applied"] is True  # mallory's own batch of that id, and nothing else

    with _client(live_server, alice) as client:
        sent = client.post("/api/v1/runs/ingest", json={"batch_id": batch_id, "runs": [_points(run_id, 10)]})
        assert sent.status_code == 200, sent.text
        assert sent.json()["applied"] is True
        retried = client.post(
            "/api/v1/runs/ingest", json={"batch_id": batch_id, "runs": [_points(run_id, 10)]}
        )
        assert retried.json()["applied"] is False  # alice's own retry is still acknowledged once

    history = platform.tracking.get_metric_history(run_id, "loss")
    assert history.steps == list(range(10))


def test_an_empty_batch_still_needs_a_role(platform: Platform, live_server: LiveServer) -> None:
    platform.auth.bootstrap_admin("root")
    nobody = _user(platform, "nobody")
    viewer = _user(platform, "viewer", default=Role.VIEWER)
    contributor = _user(platform, "contributor", default=Role.CONTRIBUTOR)
    body = {"batch_id": new_id(), "runs": []}

    with _client(live_server, nobody) as client:
        refused = client.post("/api/v1/runs/ingest", json=body)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"]["code"] == "PERMISSION_DENIED"
        assert "holds no role anywhere" in refused.json()["error"]["message"]
    with _client(live_server, viewer) as client:
        refused = client.post("/api/v1/runs/ingest", json=body)
        assert refused.status_code == 403, refused.text
        assert (
            "needs role contributor in the project this request names, and holds it in no project (holds viewer"
            in refused.text
        )
    with _client(live_server, contributor) as client:
        assert client.post("/api/v1/runs/ingest", json=body).status_code == 200


def test_batch_ids_are_per_actor_in_the_service(platform: Platform) -> None:
    tracking = platform.tracking
    experiment = tracking.create_experiment("e", actor="local").id
    run_id = tracking.create_run(experiment, actor="local").id
    batch_id = new_id()

    def send(actor: str, value: float) -> bool:
        writes = RunWrites(run_id=run_id, metrics=MetricColumns(["m"], [value], [0], [1]))
        return tracking.ingest([writes], batch_id=batch_id, actor=actor).applied

    assert send("ann", 1.0) is True
    assert send("ann", 1.0) is False
    assert send("bob", 2.0) is True
    assert sorted(tracking.get_metric_history(run_id, "m").values) == [1.0, 2.0]


def test_the_migration_gives_recorded_batch_ids_their_sender(platform: Platform) -> None:
    """Ids recorded before 0007c knew no actor: the creator of their run sent them, as a rule."""
    from alembic import command

    from plimsoll.core.migrate import alembic_config

    experiment = platform.tracking.create_experiment("e", actor="ann").id
    run_id = platform.tracking.create_run(experiment, actor="ann").id
    config = alembic_config(platform.db, platform.schema)
    command.downgrade(config, "0006")
    try:
        with platform.db.write() as conn:
            conn.exec_driver_sql(
                "INSERT INTO ingest_batches (id, run_id, created_at) VALUES "
                f"('{'a' * 32}', '{run_id}', 1), ('{'b' * 32}', NULL, 2)"
            )
    finally:
        command.upgrade(config, "heads")
    with platform.db.read() as conn:
        rows = sorted(conn.exec_driver_sql("SELECT actor, id, run_id FROM ingest_batches").all())
    assert rows == [("ann", "a" * 32, run_id), ("local", "b" * 32, None)]


def test_batch_ids_are_pruned_by_a_scheduled_job(platform: Platform) -> None:
    """Declared in tracking's descriptor, scheduled hourly; a worker runs it when it is due."""
    import time

    from plimsoll.core.ids import now_ms
    from plimsoll.maintenance import GC_JOB
    from plimsoll.tracking import PRUNE_BATCH_IDS_JOB
    from plimsoll.tracking.service.runs import BATCH_ID_RETENTION_MS

    schedules = {schedule.name: schedule for schedule in platform.jobs.list_schedules()}
    assert schedules[PRUNE_BATCH_IDS_JOB].kind == PRUNE_BATCH_IDS_JOB
    platform.jobs.delete_schedule(GC_JOB)  # garbage collection prunes them too: not this time

    tracking = platform.tracking
    run_id = tracking.create_run(tracking.create_experiment("e", actor="ann").id, actor="ann").id
    old, recent = new_id(), new_id()
    for batch_id in (old, recent):
        tracking.ingest([RunWrites(run_id=run_id, tags={"t": batch_id})], batch_id=batch_id, actor="ann")
    with platform.db.write() as conn:
        conn.exec_driver_sql(
            f"UPDATE ingest_batches SET created_at = {now_ms() - BATCH_ID_RETENTION_MS - 1000} WHERE id = '{old}'"
        )

    later = now_ms() + 2 * 3600 * 1000  # an hourly schedule is due by then
    platform.jobs.clock = lambda: later
    background = platform.start_background()
    try:
        deadline = time.monotonic() + 60
        while not [
            job for job in platform.jobs.list(kinds=[PRUNE_BATCH_IDS_JOB]).jobs if job.state == "succeeded"
        ]:
            assert time.monotonic() < deadline, "the scheduled prune did not run within a minute"
            time.sleep(0.05)
    finally:
        background.stop()
    with platform.db.read() as conn:
        kept = [row[0] for row in conn.exec_driver_sql("SELECT id FROM ingest_batches")]
    assert kept == [recent]

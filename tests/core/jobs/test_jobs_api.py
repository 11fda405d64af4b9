"""The jobs' JSON API and pages over a real server with auth on, on both backends: what the
routes answer (filters, paging, a job's shape, errors naming their field) and who may call them
(reads: a role in some project; retry and cancel: site admins)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from plimsoll.core.auth.entities import Role
from plimsoll.core.jobs import Job, JobService
from plimsoll.platform import Platform

UNKNOWN_ID = "0123456789abcdef0123456789abcdef"


def _handler(service: object, payload: object, context: object) -> None:
    """Never run: no worker runs in these tests."""


@pytest.fixture
def platform(database_url: str, tmp_path: Path) -> Iterator[Platform]:
    """Overrides the conftest `platform` (and so what `live_server` serves): auth on."""
    instance = Platform(store_url=database_url, blobs_url=str(tmp_path / "blobs"), auth=True).startup()
    instance.jobs.registry.register("report", _handler)
    instance.jobs.registry.register("export", _handler, max_attempts=1)
    try:
        yield instance
    finally:
        instance.close()


class World:
    def __init__(self, platform: Platform, url: str) -> None:
        self.url = url
        self.jobs: JobService = platform.jobs
        auth = platform.auth
        self.root = auth.bootstrap_admin("root").secret
        auth.create_user("vera", actor="root")
        auth.grant("default", "vera", Role.VIEWER, actor="root")
        self.viewer = auth.create_token("vera", actor="root").secret
        auth.create_user("nobody", actor="root")
        self.nobody = auth.create_token("nobody", actor="root").secret

    def client(self, secret: str | None) -> httpx.Client:
        headers = {} if secret is None else {"Authorization": f"Bearer {secret}"}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def dead(self, error: str = "boom") -> str:
        job = self.jobs.enqueue("export", {"to": "x"})
        (claim,) = self.jobs.claim("api-test", ["export"], 1, 30.0)
        self.jobs.fail(claim.lease_token, error)
        return job.id


@pytest.fixture
def world(platform: Platform, live_server: Any) -> World:
    return World(platform, live_server.url)


def _error(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert error["code"] == code
    return error


def test_a_job_is_every_field_of_the_entity(world: World) -> None:
    job_id = world.dead("ValueError: no\nsecond line")
    with world.client(world.root) as client:
        body = client.get(f"/api/v1/jobs/{job_id}").json()
    assert body == world.jobs.get(job_id).to_dict()
    assert Job.from_dict(body) == world.jobs.get(job_id)
    assert body["state"] == "dead" and body["last_error"] == "ValueError: no\nsecond line"
    assert (
        isinstance(body["created_at"], int)
        and body["finished_at"] >= body["started_at"] >= body["created_at"]
    )


def test_list_filters_pages_and_names_bad_fields(world: World) -> None:
    queued = [world.jobs.enqueue("report", {"i": i}).id for i in range(3)]
    dead = world.dead()
    with world.client(world.viewer) as client:
        everything = client.get("/api/v1/jobs").json()
        assert [j["id"] for j in everything["jobs"]] == sorted([*queued, dead], reverse=True)
        assert everything["next_page_token"] is None
        only_dead = client.get("/api/v1/jobs", params={"state": "dead"}).json()["jobs"]
        assert [j["id"] for j in only_dead] == [dead]
        both = client.get("/api/v1/jobs", params=[("state", "dead"), ("state", "queued")]).json()["jobs"]
        assert len(both) == 4
        by_kind = client.get("/api/v1/jobs", params=[("kind", "export"), ("kind", "other")]).json()["jobs"]
        assert [j["id"] for j in by_kind] == [dead]
        seen: list[str] = []
        token = None
        while True:
            params = {"page_size": 3, **({"page_token": token} if token else {})}
            page = client.get("/api/v1/jobs", params=params).json()
            seen += [j["id"] for j in page["jobs"]]
            token = page["next_page_token"]
            if token is None:
                break
        assert seen == [j["id"] for j in everything["jobs"]]
        bad = client.get("/api/v1/jobs", params={"state": "sleeping"})
        assert _error(bad, 400, "INVALID_PARAMETER")["details"]["field"] == "state"
        bad = client.get("/api/v1/jobs", params={"page_size": 0})
        assert _error(bad, 400, "INVALID_PARAMETER")["details"]["field"] == "page_size"
        bad = client.get("/api/v1/jobs", params={"page_token": "garbage"})
        assert _error(bad, 400, "INVALID_PARAMETER")["details"]["field"] == "page_token"
        assert _error(client.get(f"/api/v1/jobs/{UNKNOWN_ID}"), 404, "NOT_FOUND")
        bad = client.get("/api/v1/jobs/not-an-id")
        assert _error(bad, 400, "INVALID_PARAMETER")["details"]["field"] == "job_id"


def test_schedules(world: World) -> None:
    world.jobs.upsert_schedule("nightly", "0 3 * * *", "report", {"p": 1})
    with world.client(world.viewer) as client:
        schedules = client.get("/api/v1/jobs/schedules").json()["schedules"]
    # The platform's own scheduled jobs are beside it: garbage collection, audit verification,
    # batch id pruning, the incidents' sweep of what silences held, the monitors' tick, the
    # deployments' rollout analysis.
    assert {s["name"] for s in schedules} == {
        "nightly",
        "maintenance.gc",
        "audit.verify",
        "tracking.prune_batch_ids",
        "incidents.sweep",
        "monitoring.tick",
        "serving.rollout",
    }
    (schedule,) = [s for s in schedules if s["name"] == "nightly"]
    assert schedule == world.jobs.get_schedule("nightly").to_dict()
    assert (schedule["cron"], schedule["kind"], schedule["last_tick_at"]) == ("0 3 * * *", "report", None)


def test_retry_and_cancel_follow_the_service_rules(world: World) -> None:
    dead = world.dead()
    queued = world.jobs.enqueue("report").id
    with world.client(world.root) as admin:
        retried = admin.post(f"/api/v1/jobs/{dead}/retry")
        assert retried.status_code == 200, retried.text
        assert (retried.json()["state"], retried.json()["attempts"]) == ("queued", 0)
        assert _error(admin.post(f"/api/v1/jobs/{queued}/retry"), 409, "CONFLICT")
        cancelled = admin.post(f"/api/v1/jobs/{queued}/cancel").json()
        assert cancelled["state"] == "cancelled" and cancelled["cancel_requested"] is True
        assert _error(admin.post(f"/api/v1/jobs/{UNKNOWN_ID}/cancel"), 404, "NOT_FOUND")


def test_who_may_read_and_who_may_handle_jobs(world: World) -> None:
    job_id = world.dead()
    reads = ["/api/v1/jobs", "/api/v1/jobs/schedules", f"/api/v1/jobs/{job_id}", "/jobs", f"/jobs/{job_id}"]
    with world.client(None) as anonymous:
        for path in reads:
            assert anonymous.get(path).status_code == 401, path
    with world.client(world.nobody) as nobody:  # signed in, but no role in any project
        for path in reads:
            assert nobody.get(path).status_code == 403, path
    with world.client(world.viewer) as viewer:
        for path in reads:
            assert viewer.get(path).status_code == 200, path
        for action in ("retry", "cancel"):
            _error(viewer.post(f"/api/v1/jobs/{job_id}/{action}"), 403, "PERMISSION_DENIED")
    assert world.jobs.get(job_id).state.value == "dead"  # nothing changed
    with world.client(world.root) as admin:
        assert admin.post(f"/api/v1/jobs/{job_id}/retry").status_code == 200
        assert admin.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 200

"""`plimsoll jobs list|show|retry|cancel` on a real embedded store, and over HTTP against a real
server. Jobs are enqueued and moved through their states with the platform's JobService (no
worker runs: the tests decide what each attempt did)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import cli, ok_json

from plimsoll.cli import _output, jobs
from plimsoll.core.jobs import JobService
from plimsoll.platform import Platform

REPO_ROOT = Path(__file__).resolve().parents[2]
UNKNOWN_ID = "0123456789abcdef0123456789abcdef"
JOB_KEYS = {
    "id", "kind", "payload", "state", "attempts", "max_attempts", "run_after", "timeout_ms",
    "concurrency_key", "concurrency_limit", "dedupe_key", "lease_owner", "lease_expires_at",
    "heartbeat_at", "cancel_requested", "progress", "result", "last_error", "created_at",
    "started_at", "finished_at", "duration_ms",
}  # fmt: skip


def _handler(service: object, payload: object, context: object) -> None:
    """Never run here: no worker is started."""


def seed(service: JobService) -> dict[str, str]:
    """A queued `report`, a dead `export` (its only attempt failed) and a succeeded `report`."""
    service.registry.register("report", _handler)
    service.registry.register("export", _handler, max_attempts=1)
    ids = {}
    ids["succeeded"] = service.enqueue("report", {"n": 0}).id
    (claim,) = service.claim("cli-test", ["report"], 1, 30.0)
    service.complete(claim.lease_token, {"rows": 42})
    ids["dead"] = service.enqueue("export", {"to": "s3://bucket/x"}).id
    (claim,) = service.claim("cli-test", ["export"], 1, 30.0)
    service.fail(claim.lease_token, "ValueError: the bucket is gone\n  at line 3")
    ids["queued"] = service.enqueue("report", {"n": 1}).id
    return ids


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("PLIMSOLL_URL", "PLIMSOLL_STORE", "PLIMSOLL_BLOBS", "PLIMSOLL_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PLIMSOLL_HOME", str(tmp_path / ".plimsoll"))
    return tmp_path / ".plimsoll"


@pytest.fixture
def seeded(home: Path) -> Iterator[dict[str, str]]:
    platform = Platform(home=home).startup()
    try:
        yield seed(platform.jobs)
    finally:
        platform.close()


def newest_first(*job_ids: str) -> list[str]:
    """The order of `jobs list`: by id, descending (ids are time-ordered to the millisecond; jobs
    enqueued within one millisecond have no order of their own)."""
    return sorted(job_ids, reverse=True)


def test_list_json_newest_first_with_every_field(seeded: dict[str, str]) -> None:
    listed = ok_json("jobs", "list")["jobs"]
    assert [job["id"] for job in listed] == newest_first(*seeded.values())
    assert all(set(job) == JOB_KEYS for job in listed)
    by_id = {job["id"]: job for job in listed}
    dead = by_id[seeded["dead"]]
    assert (dead["state"], dead["attempts"], dead["max_attempts"]) == ("dead", 1, 1)
    assert dead["last_error"].startswith("ValueError: the bucket is gone")
    assert dead["duration_ms"] is not None and dead["duration_ms"] >= 0
    assert by_id[seeded["queued"]]["duration_ms"] is None
    assert by_id[seeded["succeeded"]]["result"] == {"rows": 42}


def test_list_filters_by_state_kind_and_count(seeded: dict[str, str]) -> None:
    assert [j["id"] for j in ok_json("jobs", "list", "--state", "dead")["jobs"]] == [seeded["dead"]]
    both = ok_json("jobs", "list", "-s", "queued", "-s", "succeeded")["jobs"]
    assert [j["id"] for j in both] == newest_first(seeded["queued"], seeded["succeeded"])
    assert [j["id"] for j in ok_json("jobs", "list", "--kind", "export")["jobs"]] == [seeded["dead"]]
    assert [j["id"] for j in ok_json("jobs", "list", "-n", "1")["jobs"]] == newest_first(*seeded.values())[:1]
    assert ok_json("jobs", "list", "--kind", "nothing")["jobs"] == []


def test_list_table(seeded: dict[str, str]) -> None:
    result = cli("jobs", "list")
    assert result.exit_code == 0, result.output
    for job_id in seeded.values():
        assert job_id in result.stdout
    assert "ValueError: the bucket is gone" in result.stdout
    assert "1/1" in result.stdout and "dead" in result.stdout and "queued" in result.stdout
    assert cli("jobs", "list", "--state", "cancelled").stdout.strip() == "No jobs."


def test_a_bad_state_is_a_usage_error(seeded: dict[str, str]) -> None:
    result = cli("jobs", "list", "--state", "sleeping")
    assert result.exit_code == _output.EXIT_USAGE
    assert "state: must be among" in result.stderr


def test_show_json_and_table(seeded: dict[str, str]) -> None:
    shown = ok_json("jobs", "show", seeded["dead"])
    assert shown["payload"] == {"to": "s3://bucket/x"}
    assert shown["last_error"] == "ValueError: the bucket is gone\n  at line 3"
    result = cli("jobs", "show", seeded["dead"].upper())
    assert result.exit_code == 0, result.output
    assert "export" in result.stdout and "s3://bucket/x" in result.stdout
    assert "at line 3" in result.stdout  # the whole error, every line


@pytest.mark.parametrize(
    ("ref", "code", "message"),
    [
        (UNKNOWN_ID, _output.EXIT_NOT_FOUND, "not found"),
        ("nope", _output.EXIT_USAGE, "job_id"),
    ],
)
def test_an_unknown_or_malformed_id(seeded: dict[str, str], ref: str, code: int, message: str) -> None:
    for command in ("show", "retry", "cancel"):
        result = cli("jobs", command, ref)
        assert result.exit_code == code, (command, result.output)
        assert message in result.stderr


def test_retry_and_cancel(seeded: dict[str, str]) -> None:
    result = cli("jobs", "retry", seeded["dead"])
    assert result.exit_code == 0, result.output
    assert "Queued again" in result.stdout and "queued" in result.stdout
    again = ok_json("jobs", "show", seeded["dead"])
    assert (again["state"], again["attempts"]) == ("queued", 0)
    # A queued job that never failed has nothing to retry: a conflict, exit code 4.
    refused = cli("jobs", "retry", seeded["queued"])
    assert refused.exit_code == _output.EXIT_CONFLICT
    assert "only dead, cancelled or failed jobs are retried" in refused.stderr
    cancelled = ok_json("jobs", "cancel", seeded["queued"])
    assert cancelled["state"] == "cancelled" and cancelled["cancel_requested"] is True
    ended = cli("jobs", "cancel", seeded["succeeded"])
    assert ended.exit_code == _output.EXIT_CONFLICT
    assert "already ended succeeded" in ended.stderr


def test_every_jobs_command_is_documented() -> None:
    text = (REPO_ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for command in jobs.app.registered_commands:
        assert f"plimsoll jobs {command.name}" in text


def test_the_same_commands_over_http(live_server: Any, platform: Platform, home: Path) -> None:
    ids = seed(platform.jobs)
    url = ("--url", live_server.url)
    listed = ok_json("jobs", "list", "--state", "dead", "--state", "queued", *url)["jobs"]
    assert [job["id"] for job in listed] == newest_first(ids["queued"], ids["dead"])
    assert ok_json("jobs", "show", ids["succeeded"], *url)["result"] == {"rows": 42}
    assert ok_json("jobs", "retry", ids["dead"], *url)["state"] == "queued"
    assert ok_json("jobs", "cancel", ids["dead"], *url)["state"] == "cancelled"
    refused = cli("jobs", "retry", ids["succeeded"], *url)
    assert refused.exit_code == _output.EXIT_CONFLICT
    bad = cli("jobs", "list", "--state", "sleeping", *url)
    assert bad.exit_code == _output.EXIT_USAGE
    assert "state: must be among" in bad.stderr
    assert not home.exists()  # --url won: nothing was written to the embedded store

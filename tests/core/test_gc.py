"""Retention and garbage collection, on both backends: deleted runs purged after the retention,
unreferenced blobs swept after their grace period, referenced ones never; a dry run changes nothing."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from plimsoll.cli.main import app
from plimsoll.core.errors import NotFound
from plimsoll.core.ids import now_ms
from plimsoll.maintenance import GC_JOB, collect_garbage
from plimsoll.platform import Platform

ME = "alice"
DAY_MS = 24 * 3600 * 1000


def _run_with_artifact(platform: Platform, content: bytes) -> tuple[str, str]:
    tracking = platform.tracking
    experiment = tracking.get_or_create_experiment("gc", actor=ME)
    run = tracking.create_run(experiment.id, actor=ME)
    artifact = tracking.log_artifact(run.id, "model.bin", content, actor=ME)
    return run.id, artifact.digest


def test_deleted_runs_and_their_blobs_go_after_the_retention(platform: Platform) -> None:
    kept_run, kept_blob = _run_with_artifact(platform, b"the model we keep")
    gone_run, gone_blob = _run_with_artifact(platform, b"the model of a deleted run")
    platform.tracking.delete_run(gone_run, actor=ME)
    later = now_ms() + 31 * DAY_MS  # past the 30-day retention and the blobs' grace period

    soon = collect_garbage(platform)  # today: the deleted run is within its retention
    assert soon.purged["tracking"]["runs"] == [] and soon.blobs == []
    assert platform.blobs.exists(gone_blob)  # referenced by a deleted, not yet purged run

    preview = collect_garbage(platform, dry_run=True, now=later)
    assert preview.purged["tracking"]["runs"] == [gone_run]
    assert preview.blobs == []  # still referenced while the run exists
    assert platform.tracking.get_run(gone_run).lifecycle_stage == "deleted"

    report = collect_garbage(platform, now=later)
    assert report.purged["tracking"]["runs"] == [gone_run]
    with pytest.raises(NotFound):
        platform.tracking.get_run(gone_run)
    # The run's rows went first, so its blob was unreferenced when the sweep came.
    assert report.blobs == [gone_blob]
    assert not platform.blobs.exists(gone_blob)
    assert platform.blobs.exists(kept_blob)
    assert platform.tracking.get_run(kept_run).lifecycle_stage == "active"


def test_a_fresh_unreferenced_blob_is_kept_for_its_grace_period(platform: Platform) -> None:
    orphan = platform.blobs.put_bytes(b"stored a moment before the row that refers to it").digest
    assert collect_garbage(platform).blobs == []
    assert platform.blobs.exists(orphan)
    assert collect_garbage(platform, dry_run=True, now=now_ms() + 2 * DAY_MS).blobs == [orphan]
    assert platform.blobs.exists(orphan)  # a dry run deletes nothing


def test_spools_a_crashed_put_left_behind_go_after_the_grace_period(
    platform: Platform, tmp_path: Path
) -> None:
    _, stored = _run_with_artifact(platform, b"a model stored whole")
    root = tmp_path / "blobs"
    blob_folder = next(root.glob(f"??/??/{stored}")).parent
    # What a process killed mid-put leaves: spool files beside a blob's final name and in .tmp.
    beside = blob_folder / ".plimsoll-blob-beside"
    spooled = root / ".tmp" / ".plimsoll-blob-large"
    for spool in (beside, spooled):
        spool.parent.mkdir(exist_ok=True)
        spool.write_bytes(b"half a content")

    assert collect_garbage(platform).spools == 0  # young: a put may still be writing it
    assert collect_garbage(platform, dry_run=True, now=now_ms() + 2 * DAY_MS).spools == 2
    assert beside.exists() and spooled.exists()
    report = collect_garbage(platform, now=now_ms() + 2 * DAY_MS)
    assert report.spools == 2 and not beside.exists() and not spooled.exists()
    assert report.blobs == [] and platform.blobs.exists(stored)  # a spool is never taken for a blob


def test_restoring_a_run_stops_its_purge(platform: Platform) -> None:
    run_id, _ = _run_with_artifact(platform, b"x")
    platform.tracking.delete_run(run_id, actor=ME)
    platform.tracking.restore_run(run_id, actor=ME)
    assert collect_garbage(platform, now=now_ms() + 90 * DAY_MS).purged["tracking"]["runs"] == []


def test_gc_is_a_job_scheduled_daily(platform: Platform) -> None:
    schedule = platform.jobs.get_schedule(GC_JOB)
    assert schedule.kind == GC_JOB and schedule.enabled
    assert GC_JOB in platform.jobs.registry.kinds()


def test_plimsoll_gc_dry_run_lists_what_would_go(
    tmp_path: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / ".plimsoll"  # type: ignore[operator]
    monkeypatch.setenv("PLIMSOLL_HOME", str(home))
    monkeypatch.delenv("PLIMSOLL_URL", raising=False)
    monkeypatch.setenv("PLIMSOLL_RETENTION_DAYS", "0")
    platform = Platform().startup()
    try:
        run_id, _ = _run_with_artifact(platform, b"y")
        platform.tracking.delete_run(run_id, actor=ME)
    finally:
        platform.close()
    result = CliRunner().invoke(app, ["gc", "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.output)
    assert report["dry_run"] is True and report["purged"]["tracking"]["runs"] == [run_id]
    result = CliRunner().invoke(app, ["gc"])
    assert result.exit_code == 0, result.output
    assert "purged 1 runs" in result.output

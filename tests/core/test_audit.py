"""The audit log proves what it claims, on SQLite and PostgreSQL: someone who can write the database
but does not hold the audit key tampers with it as well as they can (deleting rows from its end or
its middle, editing rows and computing every hash again, forging checkpoints), and verification
names the first bad row. What the proof cannot show (the newest rows deleted after the last
checkpoint) is pinned here too, as docs/security.md states it."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from plimsoll.core import audit
from plimsoll.core.audit.chain import GENESIS_HASH, body_of, digest
from plimsoll.core.audit.keys import Keyring, rotate
from plimsoll.core.audit.store import audit_checkpoints, audit_events
from plimsoll.core.config import Settings
from plimsoll.core.db import Database
from plimsoll.core.errors import Conflict, InvalidParameter
from plimsoll.core.jobs import JobState, Worker
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

ME = "alice"


def wait_for(condition: Callable[[], bool], *, timeout_s: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached within {timeout_s} s")
        time.sleep(0.02)


def _log_some(platform: Platform, runs: int = 3) -> None:
    """A few changes, each a few audit rows."""
    tracking = platform.tracking
    experiment = tracking.create_experiment(f"e{os.urandom(3).hex()}", actor=ME)
    for _ in range(runs):
        run = tracking.create_run(experiment.id, params={"lr": "0.1"}, actor=ME)
        tracking.end_run(run.id, actor=ME)


def _seqs(platform: Platform) -> list[int]:
    with platform.db.read() as conn:
        return [
            int(seq)
            for seq in conn.execute(sa.select(audit_events.c.seq).order_by(audit_events.c.seq)).scalars()
        ]


def _checkpointed_log(platform: Platform) -> tuple[list[int], int]:
    """A log checkpointed part way, with rows after the checkpoint: (every seq, the checkpoint's)."""
    _log_some(platform)
    checked = platform.audit.verify_and_record()
    assert checked.ok, checked.problem
    _log_some(platform)
    seqs = _seqs(platform)
    assert checked.head_seq is not None and checked.head_seq < seqs[-1]
    return seqs, checked.head_seq


def _rehash_from(platform: Platform, seq: int, *, clear_signatures: bool = False) -> None:
    """What someone without the key can do after changing row `seq`: compute every hash again from
    there on (and, if they like, remove the signatures they cannot compute)."""
    with platform.db.write() as conn:
        rows = conn.execute(sa.select(audit_events).order_by(audit_events.c.seq)).all()
        prev_hash = GENESIS_HASH
        for row in rows:
            if row.seq >= seq:
                values: dict[str, Any] = {"prev_hash": prev_hash, "hash": digest(prev_hash, body_of(row))}
                if clear_signatures:
                    values |= {"key_id": None, "mac": None}
                conn.execute(audit_events.update().where(audit_events.c.seq == row.seq).values(**values))
                prev_hash = values["hash"]
            else:
                prev_hash = row.hash


def _failed_at(platform: Platform, seq: int, words: str) -> None:
    outcome = platform.audit.verify()
    assert not outcome.ok
    assert outcome.first_bad_seq == seq, outcome.problem
    assert outcome.problem is not None and f"row {seq}" in outcome.problem and words in outcome.problem


# -- an intact log --------------------------------------------------------------------------------


def test_an_intact_log_verifies_and_is_checkpointed(platform: Platform) -> None:
    _log_some(platform)
    seqs = _seqs(platform)
    first = platform.audit.verify_and_record()
    assert first.ok and first.rows_checked == len(seqs) and first.head_seq == seqs[-1]
    _log_some(platform)
    second = platform.audit.verify_and_record()
    assert second.ok and second.anchor_seq == seqs[-1] and second.checkpoints_checked == 1
    status = platform.audit.status()
    assert (status.last_ok, status.failures, status.checkpoints) == (True, 0, 2)
    with platform.db.read() as conn:
        rows = conn.execute(sa.select(audit_events.c.key_id, audit_events.c.mac)).all()
    assert rows and all(
        row.key_id == platform.audit.keyring.signing.id and len(row.mac) == 64 for row in rows
    )
    assert platform.audit.verify_and_record().ok
    assert platform.audit.status().checkpoints == 2  # the log did not grow: no new checkpoint


# -- what is detected -----------------------------------------------------------------------------


@pytest.mark.parametrize("back", [0, 2])
def test_truncating_the_tail_back_to_a_checkpoint_is_detected(platform: Platform, back: int) -> None:
    _every, anchor = _checkpointed_log(platform)
    cut = anchor - back
    with platform.db.write() as conn:
        conn.execute(audit_events.delete().where(audit_events.c.seq >= cut))
    _failed_at(platform, anchor, "deleted from the end")


def test_truncating_the_tail_then_writing_on_is_detected(platform: Platform) -> None:
    """New rows after a truncation reuse the freed numbers (SQLite) or not (PostgreSQL): either
    way the checkpointed row is gone."""
    _every, anchor = _checkpointed_log(platform)
    with platform.db.write() as conn:
        conn.execute(audit_events.delete().where(audit_events.c.seq >= anchor - 1))
    _log_some(platform, runs=4)
    outcome = platform.audit.verify()
    assert not outcome.ok and outcome.first_bad_seq == anchor and outcome.checkpoint_id is not None


@pytest.mark.parametrize("where", ["covered", "after the checkpoint"])
def test_editing_a_row_and_rehashing_is_detected_at_that_row(platform: Platform, where: str) -> None:
    seqs, anchor = _checkpointed_log(platform)
    target = seqs[1] if where == "covered" else anchor + 1
    with platform.db.write() as conn:
        conn.execute(audit_events.update().where(audit_events.c.seq == target).values(actor="mallory"))
    _failed_at(platform, target, "was changed")
    _rehash_from(platform, target)  # every hash is right again; the signatures cannot be
    _failed_at(platform, target, "does not carry a valid signature")


def test_editing_a_row_rehashing_and_removing_the_signatures_is_detected(platform: Platform) -> None:
    seqs, anchor = _checkpointed_log(platform)
    with platform.db.write() as conn:
        conn.execute(audit_events.update().where(audit_events.c.seq == seqs[1]).values(actor="mallory"))
    _rehash_from(platform, seqs[1], clear_signatures=True)
    # Unsigned rows are allowed only where a checkpoint covers them, and this one no longer matches.
    _failed_at(platform, anchor, "not the row checkpoint")


def test_editing_an_unchecked_row_without_signatures_is_detected(platform: Platform) -> None:
    _every, anchor = _checkpointed_log(platform)
    with platform.db.write() as conn:
        conn.execute(audit_events.update().where(audit_events.c.seq == anchor + 2).values(action="nothing"))
    _rehash_from(platform, anchor + 2, clear_signatures=True)
    _failed_at(platform, anchor + 2, "is not signed")


@pytest.mark.parametrize("where", ["covered", "after the checkpoint"])
def test_deleting_a_middle_row_is_detected(platform: Platform, where: str) -> None:
    seqs, anchor = _checkpointed_log(platform)
    victim = seqs[2] if where == "covered" else anchor + 1
    following = seqs[seqs.index(victim) + 1]
    with platform.db.write() as conn:
        conn.execute(audit_events.delete().where(audit_events.c.seq == victim))
    _failed_at(platform, following, "does not follow")
    _rehash_from(platform, following)  # the chain mended over the gap, without the key
    _failed_at(platform, following, "does not carry a valid signature")


def test_deleting_the_checkpointed_row_and_mending_the_chain_is_detected(platform: Platform) -> None:
    _every, anchor = _checkpointed_log(platform)
    with platform.db.write() as conn:
        conn.execute(audit_events.delete().where(audit_events.c.seq == anchor))
    _rehash_from(platform, anchor + 1, clear_signatures=True)
    outcome = platform.audit.verify()
    assert not outcome.ok and outcome.first_bad_seq == anchor and "missing" in (outcome.problem or "")


def test_a_forged_checkpoint_is_detected(platform: Platform) -> None:
    seqs, _anchor = _checkpointed_log(platform)
    # Pretend the log was checkpointed up to its end, to cover rows written later without the key.
    with platform.db.read() as conn:
        head_hash = conn.execute(
            sa.select(audit_events.c.hash).where(audit_events.c.seq == seqs[-1])
        ).scalar_one()
    with platform.db.write() as conn:
        conn.execute(audit_checkpoints.update().values(seq=seqs[-1], hash=head_hash))
    outcome = platform.audit.verify()
    assert not outcome.ok and outcome.checkpoint_id is not None and outcome.first_bad_seq is None
    assert "does not carry a valid signature" in (outcome.problem or "")


def test_rows_written_without_the_key_are_detected(platform: Platform) -> None:
    _checkpointed_log(platform)
    bare = Database(platform.settings.resolved_store_url)  # a process with no key ring at all
    try:
        with bare.write() as conn:
            audit.record(conn, [audit.AuditEntry("mallory", "user.create", "user", "mallory")])
    finally:
        bare.dispose()
    forged = _seqs(platform)[-1]
    _failed_at(platform, forged, "is not signed")


def test_rows_signed_with_another_key_are_named_with_that_key(platform: Platform, tmp_path: Path) -> None:
    _checkpointed_log(platform)
    stranger = Platform(
        store_url=platform.settings.resolved_store_url,
        blobs_url=str(tmp_path / "blobs"),
        audit_key_file=tmp_path / "another.key",
    ).startup()
    try:
        stranger.projects.create("elsewhere", actor="mallory")
        stranger_key = stranger.audit.keyring.signing.id
    finally:
        stranger.close()
    outcome = platform.audit.verify()
    assert not outcome.ok and outcome.first_bad_seq == _seqs(platform)[-1]
    assert f"signed with key {stranger_key}" in (outcome.problem or "")


# -- what is not, as documented -------------------------------------------------------------------


def test_deleting_only_rows_after_the_last_checkpoint_goes_unseen(platform: Platform) -> None:
    """The documented limit: without the key, nothing can be added or changed, but the newest rows,
    those no checkpoint covers yet, can be deleted without a trace in the database."""
    _every, anchor = _checkpointed_log(platform)
    with platform.db.write() as conn:
        conn.execute(audit_events.delete().where(audit_events.c.seq > anchor))
    assert platform.audit.verify().ok


# -- the scheduled check: an event and a metric ----------------------------------------------------


def test_a_failed_scheduled_verification_is_an_event_and_a_metric(platform: Platform) -> None:
    schedule = platform.jobs.get_schedule(audit.VERIFY_JOB)
    assert (schedule.kind, schedule.cron, schedule.enabled) == (audit.VERIFY_JOB, audit.VERIFY_SCHEDULE, True)
    assert "audit.verification_failed" in platform.catalog
    seqs, _anchor = _checkpointed_log(platform)
    with platform.db.write() as conn:
        conn.execute(audit_events.update().where(audit_events.c.seq == seqs[1]).values(after='{"x":1}'))
    server = LiveServer(platform)
    try:
        with Worker(platform.jobs, threads=1, poll_interval_s=0.05) as _worker:
            job = platform.jobs.enqueue(audit.VERIFY_JOB)
            wait_for(lambda: platform.jobs.get(job.id).state == JobState.SUCCEEDED, what="verified")
        result = platform.jobs.get(job.id).result
        assert result["ok"] is False and result["first_bad_seq"] == seqs[1]
        (event,) = platform.outbox.follow(types=["audit.verification_failed"]).events
        assert event.payload["first_bad_seq"] == seqs[1] and f"row {seqs[1]}" in event.payload["problem"]
        assert event.actor == "system" and event.project is None
        metrics = httpx.get(f"{server.url}/metrics").text
    finally:
        server.stop()
    assert "plimsoll_audit_verification_failures_total 1.0" in metrics
    assert "plimsoll_audit_last_verification_ok 0.0" in metrics
    assert "plimsoll_audit_checkpoints 1.0" in metrics  # a failed check writes no checkpoint


def test_metrics_show_a_passing_verification(platform: Platform) -> None:
    server = LiveServer(platform)
    try:
        before = httpx.get(f"{server.url}/metrics").text
        _log_some(platform)
        platform.audit.verify_and_record()
        after = httpx.get(f"{server.url}/metrics").text
    finally:
        server.stop()
    assert "plimsoll_audit_verification_failures_total 0.0" in before
    assert "plimsoll_audit_last_verification_ok" not in before  # never verified yet
    assert "plimsoll_audit_last_verification_ok 1.0" in after


def test_garbage_collection_forgets_old_successes_and_keeps_failures(platform: Platform) -> None:
    from plimsoll.maintenance import collect_garbage

    _log_some(platform)
    platform.audit.verify_and_record()
    with platform.db.write() as conn:
        conn.execute(audit_events.update().where(audit_events.c.seq == _seqs(platform)[0]).values(actor="x"))
    platform.audit.verify_and_record()
    report = collect_garbage(platform, now=2**62)
    assert report.purged["audit"] == {"verifications": 1}
    status = platform.audit.status()
    assert (status.failures, status.last_ok) == (1, False)


# -- keys: the file, rotation, adoption -----------------------------------------------------------


def test_the_key_file_is_made_owner_only_under_the_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PLIMSOLL_AUDIT_KEY_FILE")
    old_umask = os.umask(0o022)
    try:
        home = tmp_path / "data" / ".plimsoll"
        platform = Platform(Settings.from_env(), home=home).startup()
        key_id = platform.audit.keyring.signing.id
        platform.close()
    finally:
        os.umask(old_umask)
    key_file = home / "audit.key"
    assert key_file.stat().st_mode & 0o777 == 0o600 and home.stat().st_mode & 0o777 == 0o700
    assert key_id not in key_file.read_text()  # the file holds the key; rows hold only its id
    again = Platform(Settings.from_env(), home=home)
    try:
        assert again.audit.keyring.signing.id == key_id and not again.audit.keyring.created
    finally:
        again.close()


def test_the_key_file_setting_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "secrets" / "plimsoll-audit.key"
    monkeypatch.setenv("PLIMSOLL_AUDIT_KEY_FILE", str(elsewhere))
    platform = Platform(Settings.from_env(), home=tmp_path / ".plimsoll")
    platform.close()
    assert elsewhere.is_file() and not (tmp_path / ".plimsoll" / "audit.key").exists()


def test_a_bad_key_file_names_its_line_and_never_its_content(tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    path.write_text("# comment\n" + "ab" * 32 + "\nnot-a-key-but-a-secret-like-thing\n")
    with pytest.raises(InvalidParameter) as caught:
        Keyring.load_or_create(path)
    assert "line 3" in caught.value.message and "secret-like" not in caught.value.message
    assert caught.value.field == "PLIMSOLL_AUDIT_KEY_FILE"


def test_a_rotated_key_signs_new_rows_and_the_old_one_still_verifies(
    platform: Platform, audit_key_file: Path, tmp_path: Path
) -> None:
    key_file = tmp_path / "rotating.key"
    key_file.write_bytes(audit_key_file.read_bytes())
    first = Platform(
        store_url=platform.settings.resolved_store_url, blobs_url=str(tmp_path / "b"), audit_key_file=key_file
    )
    try:
        _log_some(first)
        assert first.audit.verify_and_record().ok
        new_key = rotate(key_file)
        assert key_file.stat().st_mode & 0o777 == 0o600
        second = Platform(
            store_url=platform.settings.resolved_store_url,
            blobs_url=str(tmp_path / "b"),
            audit_key_file=key_file,
        )
        try:
            _log_some(second)  # signed with the new key
            with second.db.read() as conn:
                newest = conn.execute(
                    sa.select(audit_events.c.key_id).order_by(audit_events.c.seq.desc())
                ).first()
            assert newest is not None and newest.key_id == new_key.id
            assert second.audit.verify().ok
            assert first.audit.verify().ok  # the key file is read again: the new key is known
        finally:
            second.close()
    finally:
        first.close()
    assert platform.audit.verify().ok is False  # the session's ring never had the new key


def _legacy_log(platform: Platform) -> None:
    """Rows as an earlier version wrote them: unsigned, with no checkpoint."""
    _log_some(platform)
    with platform.db.write() as conn:
        conn.execute(audit_events.update().values(key_id=None, mac=None))
        conn.execute(audit_checkpoints.delete())


def test_a_new_key_adopts_a_log_written_before_signing(platform: Platform, tmp_path: Path) -> None:
    _legacy_log(platform)
    rows = len(_seqs(platform))
    upgraded = Platform(
        store_url=platform.settings.resolved_store_url,
        blobs_url=str(tmp_path / "blobs"),
        audit_key_file=tmp_path / "new.key",
    ).startup()
    try:
        assert upgraded.audit.keyring.created
        outcome = upgraded.audit.verify()
        assert outcome.ok and outcome.rows_checked == rows + 1 and outcome.anchor_seq == _seqs(platform)[-1]
        with upgraded.db.read() as conn:
            adoption = audit.list_events(conn, resource_type="audit_log")
        assert [event.action for event in adoption] == ["audit.adopt"]
    finally:
        upgraded.close()


def test_an_existing_key_never_adopts_a_log_stripped_of_its_proof(platform: Platform) -> None:
    """Removing every signature and checkpoint does not get a tampered log re-adopted at start."""
    _legacy_log(platform)
    again = Platform(store_url=platform.settings.resolved_store_url, blobs_url=platform.blobs.url).startup()
    try:
        assert not again.audit.keyring.created
        _failed_at(again, _seqs(platform)[0], "is not signed")
        adopted = again.audit.adopt(actor="cli-admin", reason="upgraded from 0.x with a provisioned key")
        assert adopted.ok
    finally:
        again.close()


def test_a_lost_key_is_replaced_by_adopting_the_log(platform: Platform, tmp_path: Path) -> None:
    _checkpointed_log(platform)
    replaced = Platform(
        store_url=platform.settings.resolved_store_url,
        blobs_url=str(tmp_path / "blobs"),
        audit_key_file=tmp_path / "replacement.key",
    ).startup()
    try:
        assert not replaced.audit.verify().ok  # rows signed by a key it does not hold
        outcome = replaced.audit.adopt(actor="cli-admin", reason="the old key was lost with its disk")
        assert outcome.ok and outcome.unchecked_checkpoints == 1
    finally:
        replaced.close()


def test_adoption_cannot_mend_a_broken_chain(platform: Platform) -> None:
    seqs, _anchor = _checkpointed_log(platform)
    with platform.db.write() as conn:
        conn.execute(audit_events.delete().where(audit_events.c.seq == seqs[1]))
    with pytest.raises(Conflict, match=f"row {seqs[2]} does not follow"):
        platform.audit.adopt(actor="cli-admin", reason="hide it")

"""The job engine's rules on both backends, with a clock moved by hand."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from jobs_support import ManualClock

from plimsoll.core.db import Database
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.core.jobs import HandlerRegistry, JobService, JobState, store


def test_enqueue_claim_complete(jobs: JobService) -> None:
    job = jobs.enqueue("echo", {"x": 1})
    assert (job.state, job.attempts, job.payload) == (JobState.QUEUED, 0, {"x": 1})

    [claim] = jobs.claim("w1", ["echo"], 10, lease_s=30)
    running = jobs.get(job.id)
    assert running.state == JobState.RUNNING
    assert running.attempts == 1 and running.lease_owner == "w1"
    assert running.lease_expires_at == running.started_at + 30_000  # type: ignore[operator]
    assert jobs.claim("w2", ["echo"], 10, lease_s=30) == []

    assert jobs.complete(claim.lease_token, {"ok": True}) == JobState.SUCCEEDED
    done = jobs.get(job.id)
    assert done.state == JobState.SUCCEEDED and done.result == {"ok": True}
    assert done.lease_owner is None and done.finished_at is not None
    assert jobs.complete(claim.lease_token, "again") is None  # the lease is gone


def test_claim_takes_only_its_kinds_and_due_jobs(jobs: JobService, clock: ManualClock) -> None:
    later = jobs.enqueue("echo", 1, delay_s=10)
    other = jobs.enqueue("fail", 2)
    assert [c.job.id for c in jobs.claim("w", ["echo"], 10, 30)] == []
    clock.advance(10)
    assert [c.job.id for c in jobs.claim("w", ["echo"], 10, 30)] == [later.id]
    assert jobs.get(other.id).state == JobState.QUEUED


def test_enqueue_checks_its_arguments(jobs: JobService) -> None:
    with pytest.raises(InvalidParameter, match="kind") as unknown:
        jobs.enqueue("nope")
    assert unknown.value.field == "kind"
    with pytest.raises(InvalidParameter, match="payload"):
        jobs.enqueue("echo", {1, 2})
    with pytest.raises(InvalidParameter, match=r"max_attempts.*100"):
        jobs.enqueue("echo", max_attempts=1000)
    with pytest.raises(InvalidParameter, match="concurrency_limit"):
        jobs.enqueue("echo", concurrency_limit=2)
    with pytest.raises(InvalidParameter, match="job_id"):
        jobs.get("not-an-id")
    with pytest.raises(NotFound):
        jobs.get("0" * 32)


def test_failures_back_off_exponentially_then_dead_letter(jobs: JobService, clock: ManualClock) -> None:
    job = jobs.enqueue("echo", None)  # max_attempts 3, backoff 1 s doubling, jittered to 50-100 %
    for attempt, ceiling_ms in [(1, 1000), (2, 2000)]:
        [claim] = jobs.claim("w", ["echo"], 1, 30)
        assert claim.job.attempts == attempt
        assert jobs.fail(claim.lease_token, f"boom {attempt}") == JobState.QUEUED
        waiting = jobs.get(job.id)
        assert waiting.last_error == f"boom {attempt}"
        assert clock.now + ceiling_ms // 2 <= waiting.run_after <= clock.now + ceiling_ms
        assert jobs.claim("w", ["echo"], 1, 30) == []  # not before its backoff
        clock.advance(ceiling_ms / 1000)
    [claim] = jobs.claim("w", ["echo"], 1, 30)
    assert jobs.fail(claim.lease_token, "boom 3") == JobState.DEAD
    dead = jobs.get(job.id)
    assert (dead.state, dead.attempts, dead.last_error) == (JobState.DEAD, 3, "boom 3")
    assert jobs.list(states=["dead"]).jobs == [dead]  # kept and visible
    clock.advance(3600)
    assert jobs.claim("w", ["echo"], 1, 30) == []

    again = jobs.retry(job.id)
    assert (again.state, again.attempts) == (JobState.QUEUED, 0)
    [claim] = jobs.claim("w", ["echo"], 1, 30)
    assert jobs.complete(claim.lease_token, None) == JobState.SUCCEEDED
    with pytest.raises(Conflict):
        jobs.retry(job.id)


def test_retry_runs_a_job_waiting_out_its_backoff_now(jobs: JobService, clock: ManualClock) -> None:
    job = jobs.enqueue("echo", None)
    [claim] = jobs.claim("w", ["echo"], 1, 30)
    jobs.fail(claim.lease_token, "boom")
    assert jobs.retry(job.id).run_after == clock.now
    assert [c.job.id for c in jobs.claim("w", ["echo"], 1, 30)] == [job.id]


def test_cancel_queued_is_immediate(jobs: JobService) -> None:
    job = jobs.enqueue("echo", None)
    cancelled = jobs.cancel(job.id)
    assert cancelled.state == JobState.CANCELLED and cancelled.finished_at is not None
    assert jobs.claim("w", ["echo"], 1, 30) == []
    assert jobs.cancel(job.id).state == JobState.CANCELLED  # idempotent
    assert jobs.retry(job.id).state == JobState.QUEUED


def test_cancel_running_is_passed_through_the_heartbeat(jobs: JobService) -> None:
    job = jobs.enqueue("echo", None)
    [claim] = jobs.claim("w", ["echo"], 1, 30)
    assert jobs.renew([claim.lease_token], 30) == {claim.lease_token: False}
    asked = jobs.cancel(job.id)
    assert asked.state == JobState.RUNNING and asked.cancel_requested
    assert jobs.renew([claim.lease_token], 30) == {claim.lease_token: True}
    assert jobs.fail(claim.lease_token, "stopped: cancel requested") == JobState.CANCELLED
    assert jobs.get(job.id).state == JobState.CANCELLED


def test_cancel_of_a_finished_job_conflicts(jobs: JobService) -> None:
    job = jobs.enqueue("echo", None)
    [claim] = jobs.claim("w", ["echo"], 1, 30)
    jobs.complete(claim.lease_token, None)
    with pytest.raises(Conflict, match="succeeded"):
        jobs.cancel(job.id)


def test_dedupe_key_makes_one_job(jobs: JobService) -> None:
    first = jobs.enqueue("echo", {"v": 1}, dedupe_key="nightly:2026-12-06")
    second = jobs.enqueue("echo", {"v": 2}, dedupe_key="nightly:2026-12-06")
    assert second.id == first.id and second.payload == {"v": 1}
    assert len(jobs.list().jobs) == 1
    assert jobs.enqueue("echo", None, dedupe_key="other").id != first.id


def test_per_key_concurrency_limit(jobs: JobService) -> None:
    # Claimed in (run_after, id) order; all are due at once here, so in id order.
    ids = sorted(jobs.enqueue("echo", n, concurrency_key="gpu", concurrency_limit=2).id for n in range(4))
    free = jobs.enqueue("echo", "free")
    claims = jobs.claim("w", ["echo"], 10, 30)
    assert sorted(c.job.id for c in claims) == sorted([*ids[:2], free.id])
    assert jobs.claim("w", ["echo"], 10, 30) == []
    jobs.complete(claims[0].lease_token, None)
    assert [c.job.id for c in jobs.claim("w", ["echo"], 10, 30)] == [ids[2]]


def test_kind_concurrency_default(jobs: JobService) -> None:
    for n in range(3):
        jobs.enqueue("one_at_a_time", n)
    [claim] = jobs.claim("w", ["one_at_a_time"], 10, 30)
    assert claim.job.concurrency_key == "kind:one_at_a_time"
    assert jobs.claim("w2", ["one_at_a_time"], 10, 30) == []


def test_expired_lease_is_reclaimed_and_the_old_holder_fenced(jobs: JobService, clock: ManualClock) -> None:
    job = jobs.enqueue("echo", None)
    [lost] = jobs.claim("dead-worker", ["echo"], 1, lease_s=1)
    clock.advance(0.5)
    assert jobs.claim("w2", ["echo"], 1, 1) == []  # lease still valid
    clock.advance(1)
    [again] = jobs.claim("w2", ["echo"], 1, 30)
    assert again.job.id == job.id and again.job.attempts == 2
    assert "dead-worker stopped heartbeating" in (again.job.last_error or "")
    assert jobs.complete(lost.lease_token, "late") is None
    assert jobs.fail(lost.lease_token, "late") is None
    assert jobs.renew([lost.lease_token], 30) == {}
    assert jobs.complete(again.lease_token, "ok") == JobState.SUCCEEDED
    assert jobs.get(job.id).result == "ok"


def test_expired_lease_without_attempts_left_is_dead(jobs: JobService, clock: ManualClock) -> None:
    job = jobs.enqueue("echo", None, max_attempts=1)
    jobs.claim("w", ["echo"], 1, lease_s=1)
    clock.advance(2)
    assert jobs.claim("w", ["echo"], 1, 30) == []
    assert jobs.get(job.id).state == JobState.DEAD


def test_release_gives_the_attempt_back(jobs: JobService) -> None:
    job = jobs.enqueue("echo", None)
    [claim] = jobs.claim("w", ["echo"], 1, 30)
    assert jobs.release(claim.lease_token)
    released = jobs.get(job.id)
    assert (released.state, released.attempts, released.lease_owner) == (JobState.QUEUED, 0, None)


def test_progress_is_saved_while_held(jobs: JobService) -> None:
    job = jobs.enqueue("echo", None)
    [claim] = jobs.claim("w", ["echo"], 1, 30)
    jobs.save_progress(claim.lease_token, {"step": 3})
    assert jobs.get(job.id).progress == {"step": 3}


def test_prune_deletes_only_old_finished_jobs(jobs: JobService, clock: ManualClock) -> None:
    old_done = jobs.enqueue("echo", None)
    [claim] = jobs.claim("w", ["echo"], 1, 30)
    jobs.complete(claim.lease_token, None)
    old_cancelled = jobs.cancel(jobs.enqueue("echo", None).id)
    waiting = jobs.enqueue("echo", None, delay_s=10 * 86400)
    clock.advance(8 * 86400)
    recent = jobs.cancel(jobs.enqueue("echo", None).id)
    assert jobs.prune(timedelta(days=7)) == 2
    remaining = {job.id for job in jobs.list().jobs}
    assert remaining == {waiting.id, recent.id}
    assert old_done.id not in remaining and old_cancelled.id not in remaining
    with pytest.raises(InvalidParameter, match="older_than"):
        jobs.prune(timedelta(days=-1))


def test_list_filters_and_pages(jobs: JobService) -> None:
    ids = [jobs.enqueue("echo", n).id for n in range(5)]
    fail_id = jobs.enqueue("fail", None).id
    jobs.cancel(ids[0])
    seen: list[str] = []
    token = None
    while True:
        page = jobs.list(kinds=["echo"], page_size=2, page_token=token)
        seen += [job.id for job in page.jobs]
        token = page.next_page_token
        if token is None:
            break
    assert seen == sorted(ids, reverse=True)  # by id: time-ordered to the millisecond, exact paging
    assert [job.id for job in jobs.list(states=[JobState.CANCELLED]).jobs] == [ids[0]]
    assert [job.id for job in jobs.list(kinds=["fail"]).jobs] == [fail_id]
    with pytest.raises(InvalidParameter, match=r"page_size.*1000"):
        jobs.list(page_size=5000)
    with pytest.raises(InvalidParameter, match="states"):
        jobs.list(states=["bogus"])
    with pytest.raises(InvalidParameter, match="page_token"):
        jobs.list(page_token="garbage")


def test_schedule_fires_once_per_tick_and_once_after_downtime(jobs: JobService, clock: ManualClock) -> None:
    schedule = jobs.upsert_schedule("report", "*/5 * * * *", "echo", {"r": 1})
    assert schedule.next_tick_at == clock.now + 300_000  # T0 is on the hour: the next is at :05
    assert jobs.fire_due_schedules() == []
    clock.advance(300)
    [first] = jobs.fire_due_schedules()
    assert jobs.fire_due_schedules() == []
    fired = jobs.get(first)
    assert fired.payload == {"r": 1} and fired.dedupe_key == f"schedule:report:{clock.now}"
    clock.advance(3600 + 60)  # twelve ticks missed: only the latest fires
    [second] = jobs.fire_due_schedules()
    assert jobs.get(second).dedupe_key == f"schedule:report:{clock.now - 60_000}"
    assert jobs.get_schedule("report").last_tick_at == clock.now - 60_000
    assert len(jobs.list().jobs) == 2


def test_schedule_ticks_fire_once_across_services(
    db: Database, registry: HandlerRegistry, clock: ManualClock
) -> None:
    replicas = [JobService(Database(db.url), registry, clock=clock) for _ in range(3)]
    try:
        replicas[0].upsert_schedule("every-second", "* * * * * */1", "echo", None)
        for _ in range(5):
            clock.advance(1)
            fired = [job_id for replica in replicas for job_id in replica.fire_due_schedules()]
            assert len(fired) == 1
        assert len(replicas[0].list().jobs) == 5
    finally:
        for replica in replicas:
            replica.db.dispose()


def test_schedule_put_in_place_by_two_writers_at_once_is_no_conflict(
    db: Database, registry: HandlerRegistry, clock: ManualClock
) -> None:
    """Replicas starting together each put the capabilities' schedules in place: the one whose
    insert finds the other's (uncommitted when it read) updates it instead of failing its start."""
    other = JobService(Database(db.url), registry, clock=clock)
    try:
        with other.db.write() as conn:
            store.insert_schedule(conn, _schedule_row("nightly", "0 3 * * *", clock.now))
            racing = ThreadPoolExecutor(max_workers=1)
            put = racing.submit(
                JobService(db, registry, clock=clock).upsert_schedule, "nightly", "0 4 * * *", "echo"
            )
            time.sleep(0.2)  # the racer has read (PostgreSQL) or waits for the lock (SQLite)
        schedule = put.result(timeout=30)
        racing.shutdown()
        assert (schedule.name, schedule.cron) == ("nightly", "0 4 * * *")
        assert [s.cron for s in other.list_schedules()] == ["0 4 * * *"]
    finally:
        other.db.dispose()


def _schedule_row(name: str, cron: str, now: int) -> dict[str, object]:
    return {
        "name": name,
        "cron": cron,
        "kind": "echo",
        "payload": "null",
        "enabled": True,
        "next_tick_at": now + 60_000,
        "created_at": now,
        "updated_at": now,
    }


def test_schedule_upsert_disable_delete(jobs: JobService, clock: ManualClock) -> None:
    with pytest.raises(InvalidParameter, match="cron"):
        jobs.upsert_schedule("bad", "every day", "echo")
    with pytest.raises(InvalidParameter, match="kind"):
        jobs.upsert_schedule("bad", "* * * * *", "nope")
    jobs.upsert_schedule("s", "* * * * *", "echo", enabled=False)
    clock.advance(600)
    assert jobs.fire_due_schedules() == []
    enabled = jobs.upsert_schedule("s", "* * * * *", "echo", enabled=True)
    assert enabled.next_tick_at > clock.now  # ticks missed while disabled do not fire
    assert [s.name for s in jobs.list_schedules()] == ["s"]
    jobs.delete_schedule("s")
    with pytest.raises(NotFound):
        jobs.get_schedule("s")
    with pytest.raises(NotFound):
        jobs.delete_schedule("s")


def test_expired_lease_of_a_job_asked_to_cancel_ends_cancelled(jobs: JobService, clock: ManualClock) -> None:
    job = jobs.enqueue("echo", None)
    jobs.claim("w", ["echo"], 1, lease_s=1)
    jobs.cancel(job.id)
    clock.advance(2)
    assert jobs.claim("w", ["echo"], 1, 30) == []
    assert jobs.get(job.id).state == JobState.CANCELLED


def test_retry_of_running_or_queued_job_conflicts(jobs: JobService) -> None:
    job = jobs.enqueue("echo", None)
    with pytest.raises(Conflict, match="queued"):
        jobs.retry(job.id)
    jobs.claim("w", ["echo"], 1, 30)
    with pytest.raises(Conflict, match="running"):
        jobs.retry(job.id)


def test_unserialisable_result_is_kept_as_text(jobs: JobService) -> None:
    job = jobs.enqueue("echo", None)
    [claim] = jobs.claim("w", ["echo"], 1, 30)
    jobs.complete(claim.lease_token, {1, 2})
    assert jobs.get(job.id).result == {"unserialisable_result": "{1, 2}"}


def test_payload_limit_is_named(jobs: JobService) -> None:
    with pytest.raises(InvalidParameter, match="1048576") as error:
        jobs.enqueue("echo", "x" * (1024 * 1024 + 1))
    assert error.value.field == "payload"


def test_schedule_of_a_kind_this_process_lacks_is_left_to_others(
    db: Database, registry: HandlerRegistry, clock: ManualClock
) -> None:
    narrow = HandlerRegistry()
    narrow.register("other", "job_handlers:record")
    without_echo = JobService(db, narrow, clock=clock)
    with_echo = JobService(db, registry, clock=clock)
    with_echo.upsert_schedule("s", "* * * * *", "echo")
    clock.advance(60)
    assert without_echo.fire_due_schedules() == []
    assert len(with_echo.fire_due_schedules()) == 1


def test_enqueue_in_commits_with_the_callers_transaction(jobs: JobService, db: Database) -> None:
    class Undo(Exception):
        pass

    with pytest.raises(Undo), db.write() as conn:
        jobs.enqueue_in(conn, "echo", "rolled back", dedupe_key="tx")
        raise Undo
    assert jobs.list().jobs == []
    with db.write() as conn:
        job_id = jobs.enqueue_in(conn, "echo", "kept", dedupe_key="tx", max_attempts=1)
    kept = jobs.get(job_id)
    assert (kept.payload, kept.max_attempts) == ("kept", 1)

"""Runs: create, read, end, delete and restore them; apply the SDK's write batches; search them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from plimsoll.core.audit import AuditEntry
from plimsoll.core.errors import Conflict, NotFound
from plimsoll.core.ids import new_id, now_ms
from plimsoll.core.validation import check_count, check_int, check_key, check_storable
from plimsoll.tracking import store
from plimsoll.tracking.entities import (
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_PER_BATCH,
    MAX_RUNS_PER_BATCH,
    MAX_TAGS_PER_BATCH,
    LifecycleStage,
    Metric,
    MetricColumns,
    Run,
    RunCreate,
    RunEnd,
    RunPage,
    RunStatus,
    RunWrites,
    check_run_writes,
    parse_run_status,
)
from plimsoll.tracking.service.base import ServiceBase, check_run_id
from plimsoll.tracking.service.ingest import apply_batch

MAX_SEARCH_RESULTS = 1000
BATCH_ID_RETENTION_MS = 7 * 24 * 3600 * 1000
PURGE_CHUNK = 200  # runs purged in one transaction: short write locks, a bounded number of event locks


@dataclass(frozen=True)
class IngestResult:
    batch_id: str
    applied: bool  # False: this batch id was applied before (a retry); nothing was written twice
    runs: int
    metrics: int


class RunOps(ServiceBase):
    def create_run(
        self,
        experiment_id: str,
        *,
        run_id: str | None = None,
        name: str | None = None,
        parent_run_id: str | None = None,
        start_time: int | None = None,
        tags: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        actor: str,
    ) -> Run:
        writes = RunWrites(
            run_id=new_id() if run_id is None else run_id,  # "" is refused, not replaced
            create=RunCreate(experiment_id, name, parent_run_id, start_time),
            tags=dict(tags or {}),
            params=dict(params or {}),
        )
        self.ingest([writes], actor=actor)
        return self.get_run(writes.run_id)

    def get_run(self, run_id: str) -> Run:
        check_run_id("run_id", run_id)
        with self.db.read() as conn:
            found = self._runs(conn, [run_id])
        if not found:
            raise NotFound(f"run {run_id!r} not found")
        return found[0]

    def get_runs(self, run_ids: list[str]) -> list[Run]:
        """Runs in the order asked; unknown ids are a NotFound naming them."""
        for run_id in run_ids:
            check_run_id("run_ids", run_id)
        with self.db.read() as conn:
            found = {run.id: run for run in self._runs(conn, run_ids)}
        missing = [run_id for run_id in run_ids if run_id not in found]
        if missing:
            raise NotFound(f"runs not found: {', '.join(missing)}")
        return [found[run_id] for run_id in run_ids]

    def run_projects(self, run_ids: Iterable[str]) -> dict[str, str]:
        """The project of each of these runs that exists, by run id."""
        with self.db.read() as conn:
            return store.run_projects(conn, run_ids)

    def end_run(
        self,
        run_id: str,
        status: RunStatus | str = RunStatus.FINISHED,
        *,
        end_time: int | None = None,
        actor: str,
    ) -> Run:
        writes = RunWrites(
            run_id=check_run_id("run_id", run_id), end=RunEnd(parse_run_status(status), end_time)
        )
        self.ingest([writes], actor=actor)
        return self.get_run(run_id)

    def delete_run(self, run_id: str, *, actor: str) -> Run:
        """Soft delete: hidden from searches until restored (and purged after the retention period)."""
        return self._set_run_lifecycle(run_id, LifecycleStage.DELETED, actor=actor)

    def restore_run(self, run_id: str, *, actor: str) -> Run:
        return self._set_run_lifecycle(run_id, LifecycleStage.ACTIVE, actor=actor)

    def resume_run(self, run_id: str, *, actor: str) -> Run:
        """Open an ended run for more logging: RUNNING again, its end time cleared (audited as
        `run.resume`, published as `run.resumed`). Only asked for explicitly (the SDK's
        `resume_run`): logging to an ended run is otherwise a Conflict. A running run is left as
        it is; a deleted one must be restored first."""
        check_run_id("run_id", run_id)
        with self._change(actor) as change:
            found = self._runs(change.conn, [run_id])
            if not found:
                raise NotFound(f"run {run_id!r} not found")
            run = found[0]
            if run.lifecycle_stage == LifecycleStage.DELETED:
                raise Conflict(f"run {run_id!r} is deleted; restore it before resuming it")
            if run.status == RunStatus.RUNNING:
                return run
            if not store.reopen_run(change.conn, run_id, run.status):
                raise Conflict(f"run {run_id!r} changed while it was being resumed; try again")
            change.audit(
                AuditEntry(
                    actor,
                    "run.resume",
                    "run",
                    run_id,
                    run.project,
                    {"status": run.status, "end_time": run.end_time},
                    {"status": RunStatus.RUNNING.value, "end_time": None},
                )
            )
            change.emit(
                "run.resumed",
                f"run:{run_id}",
                {
                    "run_id": run_id,
                    "experiment_id": run.experiment_id,
                    "project": run.project,
                    "ended_as": run.status,
                },
                project=run.project,
            )
        return self.get_run(run_id)

    def _set_run_lifecycle(self, run_id: str, stage: LifecycleStage, *, actor: str) -> Run:
        check_run_id("run_id", run_id)
        verb = "delete" if stage is LifecycleStage.DELETED else "restore"
        with self._change(actor) as change:
            before = self._runs(change.conn, [run_id])
            if not before:
                raise NotFound(f"run {run_id!r} not found")
            deleted_at = now_ms() if stage is LifecycleStage.DELETED else None
            if not store.set_lifecycle_stage(change.conn, run_id, stage.value, deleted_at):
                raise NotFound(f"run {run_id!r} not found")
            change.audit(
                AuditEntry(
                    actor,
                    f"run.{verb}",
                    "run",
                    run_id,
                    before[0].project,
                    {"lifecycle_stage": before[0].lifecycle_stage},
                    {"lifecycle_stage": stage.value},
                )
            )
            change.emit(
                f"run.{verb}d",  # deleted, restored
                f"run:{run_id}",
                {"run_id": run_id, "experiment_id": before[0].experiment_id, "project": before[0].project},
                project=before[0].project,
            )
        return self.get_run(run_id)

    def delete_tag(self, run_id: str, key: str, *, actor: str) -> None:
        check_run_id("run_id", run_id)
        check_key("key", key)
        with self._change(actor) as change:
            run = self._runs(change.conn, [run_id])
            if not run:
                raise NotFound(f"run {run_id!r} not found")
            if key not in run[0].tags:
                raise NotFound(f"run {run_id!r} has no tag {key!r}")
            store.delete_tags(change.conn, run_id, [key])
            change.audit(
                AuditEntry(
                    actor, "run.delete_tag", "run", run_id, run[0].project, {key: run[0].tags[key]}, None
                )
            )

    def log_batch(
        self,
        run_id: str,
        *,
        metrics: Iterable[Metric] | MetricColumns = (),
        params: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
        batch_id: str | None = None,
        actor: str,
    ) -> IngestResult:
        columns = metrics if isinstance(metrics, MetricColumns) else MetricColumns.of(metrics)
        writes = RunWrites(run_id=run_id, params=dict(params or {}), tags=dict(tags or {}), metrics=columns)
        return self.ingest([writes], batch_id=batch_id, actor=actor)

    def ingest(self, batch: list[RunWrites], *, batch_id: str | None = None, actor: str) -> IngestResult:
        """Apply one client batch atomically. With a `batch_id` it is idempotent: a batch that was
        already applied is acknowledged again without writing anything twice. Batch ids are the
        actor's own: the same id from another user is another batch."""
        _check_batch(batch)
        if batch_id is not None:
            check_run_id("batch_id", batch_id)
        total_metrics = sum(len(writes.metrics) for writes in batch)
        with self._change(actor) as change:
            now = now_ms()
            if batch_id is not None and not store.claim_batch(
                change.conn, actor, batch_id, batch[0].run_id if batch else None, now
            ):
                return IngestResult(batch_id, applied=False, runs=len(batch), metrics=total_metrics)
            # Without authentication nobody is known, so a run is recorded as the user the client
            # names (embedded and over HTTP alike); with it, as the token's user, whatever it says.
            apply_batch(change, batch, now, trust_claimed_user=not self.settings.auth)
        return IngestResult(batch_id or "", applied=True, runs=len(batch), metrics=total_metrics)

    def purge_expired(self, older_than_ms: int, *, dry_run: bool = False) -> dict[str, list[str] | int]:
        """Garbage collection's share of tracking: runs deleted before `older_than_ms` go for good
        (with everything logged to them), a few hundred a transaction, and batch ids older than a
        week are forgotten. With `dry_run`, only says what would go."""
        with self.db.read() as conn:
            doomed = store.runs_deleted_before(conn, older_than_ms)
        if dry_run:
            return {"runs": [run_id for run_id, _ in doomed], "batch_ids": 0}
        purged: list[str] = []
        for start in range(0, len(doomed), PURGE_CHUNK):
            chunk = doomed[start : start + PURGE_CHUNK]
            with self._change("gc") as change:
                gone = store.purge_runs(change.conn, [run_id for run_id, _ in chunk], older_than_ms)
                for run_id, project in chunk:
                    if run_id in gone:
                        purged.append(run_id)
                        change.audit(
                            AuditEntry(
                                "gc", "run.purge", "run", run_id, project, {"lifecycle_stage": "deleted"}
                            )
                        )
                        payload = {"run_id": run_id, "project": project}
                        change.emit("run.purged", f"run:{run_id}", payload, project=project)
        return {"runs": purged, "batch_ids": self.prune_batch_ids()}

    def prune_batch_ids(self, *, keep_ms: int = BATCH_ID_RETENTION_MS) -> int:
        """Forget batch ids older than `keep_ms`: a client retries within minutes, not days, and the
        table would otherwise grow by one row per batch forever. Returns how many were dropped."""
        with self.db.write() as conn:
            return store.prune_batches(conn, now_ms() - keep_ms)

    def search_runs(
        self,
        *,
        experiment_ids: list[str] | None = None,
        filter: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
        include_deleted: bool = False,
        project: str | None = None,
    ) -> RunPage:
        """A page of runs matching `filter`, in `order_by` order, from `experiment_ids` (None: every
        experiment of `project`, or of every project when that is None too)."""
        check_int("max_results", max_results, minimum=1, maximum=MAX_SEARCH_RESULTS)
        if filter is not None:
            check_storable("filter", filter)
        for index, order in enumerate(order_by or ()):
            check_storable(f"order_by.{index}", order)
        for experiment_id in experiment_ids or ():
            check_run_id("experiment_ids", experiment_id)
        # Named experiments are searched wherever they are; `project` narrows only "every experiment".
        project = project if experiment_ids is None else None
        with self.db.read() as conn:
            run_ids, next_cursor = store.search_page(
                conn,
                experiment_ids=experiment_ids,
                filter_text=filter,
                order_by=order_by,
                max_results=max_results,
                cursor=page_token,
                include_deleted=include_deleted,
                project=project,
            )
            found = self._runs(conn, run_ids)
        return RunPage(runs=found, next_page_token=next_cursor)


def prune_batch_ids_job(service: RunOps, _payload: Any, _context: Any) -> dict[str, int]:
    """The `tracking.prune_batch_ids` job (hourly): forget batch ids past their retention, so the
    table holds about a week of batches whatever the garbage collection schedule."""
    return {"batch_ids": service.prune_batch_ids()}


def _check_batch(batch: list[RunWrites]) -> None:
    check_count("runs", len(batch), MAX_RUNS_PER_BATCH)
    check_count("metrics", sum(len(w.metrics) for w in batch), MAX_METRICS_PER_BATCH)
    check_count("params", sum(len(w.params) for w in batch), MAX_PARAMS_PER_BATCH)
    check_count("tags", sum(len(w.tags) for w in batch), MAX_TAGS_PER_BATCH)
    for writes in batch:
        writes.params = {
            key: value if isinstance(value, str) else str(value) for key, value in writes.params.items()
        }
        check_run_writes(writes)

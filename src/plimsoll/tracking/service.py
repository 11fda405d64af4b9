"""Tracking operations: the rules live here, once. Routes, the SDK and the CLI all call these."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
from sqlalchemy import Connection, RowMapping

from plimsoll.core import audit
from plimsoll.core.audit import AuditEntry
from plimsoll.core.blobs import BlobStore
from plimsoll.core.db import Database
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.core.events import Event, EventBus
from plimsoll.core.ids import is_id, new_id, now_ms
from plimsoll.core.projects import DEFAULT_PROJECT, insert_project, list_projects, project_exists
from plimsoll.core.validation import (
    INT64_MAX,
    INT64_MIN,
    MAX_DESCRIPTION_LENGTH,
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    check_artifact_path,
    check_count,
    check_id,
    check_int,
    check_key,
    check_name,
    check_text,
)
from plimsoll.tracking import store
from plimsoll.tracking.entities import (
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_PER_BATCH,
    MAX_RUNS_PER_BATCH,
    MAX_TAGS_PER_BATCH,
    Artifact,
    Experiment,
    LifecycleStage,
    Metric,
    MetricColumns,
    MetricHistory,
    Run,
    RunCreate,
    RunEnd,
    RunPage,
    RunStatus,
    RunWrites,
    parse_run_status,
)
from plimsoll.tracking.ingest import BatchEffects, apply_batch

MAX_SEARCH_RESULTS = 1000
BATCH_ID_RETENTION_MS = 7 * 24 * 3600 * 1000
MAX_HISTORY_POINTS = 100_000
DEFAULT_HISTORY_POINTS = 100_000


@dataclass(frozen=True)
class IngestResult:
    batch_id: str
    applied: bool  # False: this batch id was applied before (a retry); nothing was written twice
    runs: int
    metrics: int


def check_run_id(field: str, value: Any) -> str:
    return check_id(field, value)


def _param_text(key: str, value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    return check_text(f"params.{key}", text, max_length=MAX_PARAM_VALUE_LENGTH)


class TrackingService:
    def __init__(self, db: Database, blobs: BlobStore, events: EventBus) -> None:
        self.db = db
        self.blobs = blobs
        self.events = events

    @contextmanager
    def _write(self, actor: str) -> Iterator[tuple[Connection, list[AuditEntry], list[Event]]]:
        """One transaction; audit entries recorded in it, events published after it commits."""
        entries: list[AuditEntry] = []
        events: list[Event] = []
        with self.db.write() as conn:
            yield conn, entries, events
            audit.record(conn, entries)
        for event in events:
            self.events.publish(event)

    # -- experiments ---------------------------------------------------------------------------

    def create_experiment(
        self,
        name: str,
        *,
        project: str = DEFAULT_PROJECT,
        description: str = "",
        tags: dict[str, str] | None = None,
        actor: str,
    ) -> Experiment:
        check_name("name", name)
        check_text("description", description, max_length=MAX_DESCRIPTION_LENGTH)
        tag_values = self._check_tags(tags or {})
        with self._write(actor) as (conn, entries, events):
            self._require_project(conn, project)
            if store.experiment_rows(
                conn, (store.experiments.c.project == project) & (store.experiments.c.name == name)
            ):
                raise Conflict(f"experiment {name!r} already exists in project {project!r}")
            now = now_ms()
            row: dict[str, Any] = {
                "id": new_id(),
                "project": project,
                "name": name,
                "description": description,
                "lifecycle_stage": LifecycleStage.ACTIVE.value,
                "created_at": now,
                "updated_at": now,
            }
            conn.execute(store.experiments.insert().values(**row))
            store.set_experiment_tags(conn, row["id"], tag_values)
            experiment = Experiment(**row, tags=tag_values)
            entries.append(
                AuditEntry(
                    actor, "experiment.create", "experiment", row["id"], project, None, experiment.to_dict()
                )
            )
            events.append(
                Event("experiment.created", {"experiment_id": row["id"], "project": project}, actor)
            )
        return experiment

    def get_or_create_experiment(
        self, name: str, *, project: str = DEFAULT_PROJECT, actor: str
    ) -> Experiment:
        found = self.find_experiment(name, project=project)
        if found is not None:
            if found.lifecycle_stage == LifecycleStage.DELETED:
                raise Conflict(f"experiment {name!r} is deleted; restore it or choose another name")
            return found
        try:
            return self.create_experiment(name, project=project, actor=actor)
        except Conflict:
            # Another process created it between our look-up and insert.
            found = self.find_experiment(name, project=project)
            if found is None:
                raise
            return found

    def find_experiment(self, name: str, *, project: str = DEFAULT_PROJECT) -> Experiment | None:
        with self.db.read() as conn:
            rows = store.experiment_rows(
                conn, (store.experiments.c.project == project) & (store.experiments.c.name == name)
            )
            return self._experiments(conn, rows)[0] if rows else None

    def get_experiment(self, experiment_id: str) -> Experiment:
        with self.db.read() as conn:
            return self._experiment(conn, experiment_id)

    def resolve_experiment(self, ref: str, *, project: str = DEFAULT_PROJECT) -> Experiment:
        """An experiment by id or, failing that, by name."""
        if is_id(ref):
            try:
                return self.get_experiment(ref)
            except NotFound:
                pass
        found = self.find_experiment(ref, project=project)
        if found is None:
            raise NotFound(f"experiment {ref!r} not found in project {project!r}")
        return found

    def list_experiments(self, *, project: str = DEFAULT_PROJECT, view: str = "active") -> list[Experiment]:
        stages = {"active": ["active"], "deleted": ["deleted"], "all": ["active", "deleted"]}
        if view not in stages:
            raise InvalidParameter("view", f"must be one of {sorted(stages)}, got {view!r}")
        with self.db.read() as conn:
            rows = store.experiment_rows(
                conn,
                (store.experiments.c.project == project)
                & store.experiments.c.lifecycle_stage.in_(stages[view]),
            )
            return self._experiments(conn, rows)

    def run_counts(self, experiment_ids: list[str]) -> dict[str, int]:
        """How many runs (not deleted) each experiment holds."""
        with self.db.read() as conn:
            return store.run_counts(conn, experiment_ids)

    def rename_experiment(self, experiment_id: str, new_name: str, *, actor: str) -> Experiment:
        check_name("name", new_name)
        return self._update_experiment(experiment_id, {"name": new_name}, "experiment.rename", actor)

    def delete_experiment(self, experiment_id: str, *, actor: str) -> Experiment:
        return self._update_experiment(
            experiment_id, {"lifecycle_stage": "deleted"}, "experiment.delete", actor
        )

    def restore_experiment(self, experiment_id: str, *, actor: str) -> Experiment:
        return self._update_experiment(
            experiment_id, {"lifecycle_stage": "active"}, "experiment.restore", actor
        )

    def _update_experiment(
        self, experiment_id: str, values: dict[str, Any], action: str, actor: str
    ) -> Experiment:
        with self._write(actor) as (conn, entries, events):
            before = self._experiment(conn, experiment_id)
            if "name" in values and values["name"] != before.name:
                clash = store.experiment_rows(
                    conn,
                    (store.experiments.c.project == before.project)
                    & (store.experiments.c.name == values["name"]),
                )
                if clash:
                    raise Conflict(
                        f"experiment {values['name']!r} already exists in project {before.project!r}"
                    )
            conn.execute(
                store.experiments.update()
                .where(store.experiments.c.id == experiment_id)
                .values(**values, updated_at=now_ms())
            )
            after = self._experiment(conn, experiment_id)
            entries.append(
                AuditEntry(
                    actor,
                    action,
                    "experiment",
                    experiment_id,
                    before.project,
                    before.to_dict(),
                    after.to_dict(),
                )
            )
            events.append(
                Event(
                    f"{action}d",  # experiment.renamed, .deleted, .restored
                    {"experiment_id": experiment_id},
                    actor,
                )
            )
        return after

    def _experiment(self, conn: Connection, experiment_id: str) -> Experiment:
        rows = store.experiment_rows(conn, store.experiments.c.id == experiment_id)
        if not rows:
            raise NotFound(f"experiment {experiment_id!r} not found")
        return self._experiments(conn, rows)[0]

    def _experiments(self, conn: Connection, rows: list[RowMapping]) -> list[Experiment]:
        tags = store.experiment_tags_of(conn, [row["id"] for row in rows])
        return [Experiment(**dict(row), tags=tags[row["id"]]) for row in rows]

    @staticmethod
    def _require_project(conn: Connection, project: str) -> None:
        if not project_exists(conn, project):
            raise NotFound(f"project {project!r} not found")

    # -- runs ----------------------------------------------------------------------------------

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
            run_id=run_id or new_id(),
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

    def set_run_lifecycle(self, run_id: str, stage: LifecycleStage, *, actor: str) -> Run:
        check_run_id("run_id", run_id)
        with self._write(actor) as (conn, entries, events):
            before = self._runs(conn, [run_id])
            if not before:
                raise NotFound(f"run {run_id!r} not found")
            conn.execute(
                store.runs.update().where(store.runs.c.id == run_id).values(lifecycle_stage=stage.value)
            )
            entries.append(
                AuditEntry(
                    actor,
                    f"run.{'delete' if stage is LifecycleStage.DELETED else 'restore'}",
                    "run",
                    run_id,
                    before[0].project,
                    {"lifecycle_stage": before[0].lifecycle_stage},
                    {"lifecycle_stage": stage.value},
                )
            )
            events.append(Event(f"run.{stage.value}", {"run_id": run_id}, actor))
        return self.get_run(run_id)

    def delete_tag(self, run_id: str, key: str, *, actor: str) -> None:
        check_run_id("run_id", run_id)
        check_key("key", key)
        with self._write(actor) as (conn, entries, _events):
            run = self._runs(conn, [run_id])
            if not run:
                raise NotFound(f"run {run_id!r} not found")
            if key not in run[0].tags:
                raise NotFound(f"run {run_id!r} has no tag {key!r}")
            store.delete_tags(conn, run_id, [key])
            entries.append(
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
        already applied is acknowledged again without writing anything twice."""
        self._check_batch(batch)
        if batch_id is not None:
            check_run_id("batch_id", batch_id)
        total_metrics = sum(len(writes.metrics) for writes in batch)
        with self._write(actor) as (conn, entries, events):
            now = now_ms()
            if batch_id is not None and not store.claim_batch(
                conn, batch_id, batch[0].run_id if batch else None, now
            ):
                return IngestResult(batch_id, applied=False, runs=len(batch), metrics=total_metrics)
            effects = BatchEffects(actor)
            apply_batch(conn, batch, now, effects)
            entries.extend(effects.entries)
            events.extend(effects.events)
        return IngestResult(batch_id or "", applied=True, runs=len(batch), metrics=total_metrics)

    def _check_batch(self, batch: list[RunWrites]) -> None:
        check_count("runs", len(batch), MAX_RUNS_PER_BATCH)
        check_count("metrics", sum(len(w.metrics) for w in batch), MAX_METRICS_PER_BATCH)
        check_count("params", sum(len(w.params) for w in batch), MAX_PARAMS_PER_BATCH)
        check_count("tags", sum(len(w.tags) for w in batch), MAX_TAGS_PER_BATCH)
        for writes in batch:
            check_run_id("run_id", writes.run_id)
            for key, value in writes.params.items():
                check_key("params", key)
                writes.params[key] = _param_text(key, value)
            writes.tags = self._check_tags(writes.tags)
            self._check_metrics(writes.metrics)
            if writes.create is not None:
                if writes.create.name is not None:
                    check_name("run_name", writes.create.name)
                if writes.create.parent_run_id is not None:
                    check_run_id("parent_run_id", writes.create.parent_run_id)
                if writes.create.start_time is not None:
                    check_int("start_time", writes.create.start_time, minimum=0)
            if writes.end is not None and writes.end.end_time is not None:
                check_int("end_time", writes.end.end_time, minimum=0)

    @staticmethod
    def _check_metrics(columns: MetricColumns) -> None:
        """Per distinct key, and per column with C-speed checks: batches carry many thousands of
        points, and only a failing column is walked point by point to name the culprit."""
        count = len(columns.keys)
        if not len(columns.values) == len(columns.steps) == len(columns.timestamps) == count:
            raise InvalidParameter("metrics", "keys, values, steps and timestamps must have the same length")
        if not count:
            return
        for key in set(columns.keys):
            check_key("metrics.key", key)
        steps, stamps = columns.steps, columns.timestamps
        if not all(type(step) is int for step in steps) or min(steps) < INT64_MIN or max(steps) > INT64_MAX:
            for key, step in zip(columns.keys, steps, strict=True):
                check_int(f"metrics.{key}.step", step)
        if not all(type(stamp) is int for stamp in stamps) or min(stamps) < 0 or max(stamps) > INT64_MAX:
            for key, stamp in zip(columns.keys, stamps, strict=True):
                check_int(f"metrics.{key}.timestamp", stamp, minimum=0)
        if not all(type(value) is float for value in columns.values):
            for key, value in zip(columns.keys, columns.values, strict=True):
                if type(value) is not float:
                    raise InvalidParameter(f"metrics.{key}.value", f"must be a float, got {value!r}")

    @staticmethod
    def _check_tags(values: dict[str, str]) -> dict[str, str]:
        for key, value in values.items():
            check_key("tags", key)
            check_text(f"tags.{key}", value, max_length=MAX_TAG_VALUE_LENGTH)
        return values

    def _runs(self, conn: Connection, run_ids: list[str]) -> list[Run]:
        by_id = {fields[0]: Run(*fields) for fields in store.run_details(conn, run_ids)}
        return [by_id[run_id] for run_id in run_ids if run_id in by_id]

    # -- search --------------------------------------------------------------------------------

    def search_runs(
        self,
        *,
        experiment_ids: list[str] | None = None,
        filter: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 100,
        page_token: str | None = None,
        include_deleted: bool = False,
    ) -> RunPage:
        from plimsoll.tracking import search

        check_int("max_results", max_results, minimum=1, maximum=MAX_SEARCH_RESULTS)
        with self.db.read() as conn:
            query, sort_keys, fingerprint = search.build_search_query(
                experiment_ids=experiment_ids,
                filter_text=filter,
                order_by=order_by,
                max_results=max_results,
                cursor=page_token,
                include_deleted=include_deleted,
                driver=search.choose_driver(conn, experiment_ids, filter),
            )
            rows = list(conn.execute(query))
            page = rows[:max_results]
            found = self._runs(conn, [row.id for row in page])
        next_cursor = None
        if len(rows) > max_results:
            last = page[-1]
            next_cursor = search.encode_cursor(
                search.sort_values(dict(last._mapping), sort_keys), last.id, fingerprint
            )
        return RunPage(runs=found, next_cursor=next_cursor)

    # -- metric history ------------------------------------------------------------------------

    def get_metric_history(
        self,
        run_id: str,
        key: str,
        *,
        max_points: int | None = None,
        page_token: str | None = None,
    ) -> MetricHistory:
        """Full history in pages of at most MAX_HISTORY_POINTS, or, with `max_points`, the whole
        history downsampled to at most that many buckets (each with min, max and last)."""
        check_run_id("run_id", run_id)
        check_key("key", key)
        if max_points is not None:
            check_int("max_points", max_points, minimum=2, maximum=MAX_HISTORY_POINTS)
        after = _decode_history_cursor(page_token) if page_token else None
        with self.db.read() as conn:
            if not store.run_status(conn, [run_id]):
                raise NotFound(f"run {run_id!r} not found")
            if max_points is not None:
                points = store.read_metric_points(conn, run_id, key, after=None, limit=INT64_MAX)
                return _downsample(run_id, key, points, max_points)
            points = store.read_metric_points(conn, run_id, key, after=after, limit=MAX_HISTORY_POINTS + 1)
            more = len(points.steps) > MAX_HISTORY_POINTS
            cursor = (
                store.point_cursor(conn, run_id, key, after=after, offset=MAX_HISTORY_POINTS - 1)
                if more
                else None
            )
        cut = slice(0, MAX_HISTORY_POINTS)
        return MetricHistory(
            run_id=run_id,
            key=key,
            steps=points.steps[cut],
            timestamps=points.timestamps[cut],
            values=points.values[cut],
            total_points=min(len(points.steps), MAX_HISTORY_POINTS),
            next_cursor=None if cursor is None else f"{cursor[0]}:{cursor[1]}",
        )

    def prune_batch_ids(self, *, keep_ms: int = BATCH_ID_RETENTION_MS) -> int:
        """Forget batch ids older than `keep_ms`: a client retries within minutes, not days, and the
        table would otherwise grow by one row per batch forever. Returns how many were dropped."""
        with self.db.write() as conn:
            return store.prune_batches(conn, now_ms() - keep_ms)

    def list_metric_keys(self, run_id: str) -> list[str]:
        check_run_id("run_id", run_id)
        with self.db.read() as conn:
            return store.metric_keys_of(conn, run_id)

    # -- artifacts -----------------------------------------------------------------------------

    def log_artifact(self, run_id: str, path: str, content: IO[bytes] | bytes, *, actor: str) -> Artifact:
        """Store a file of a run. Allowed after the run ended (reports and evaluations often come
        later, as in MLflow), not on a deleted run."""
        check_run_id("run_id", run_id)
        check_artifact_path("path", path)
        self._require_live_run(run_id)  # before storing anything: no orphan blobs for unknown runs
        ref = self.blobs.put_bytes(content) if isinstance(content, bytes) else self.blobs.put_file(content)
        with self._write(actor) as (conn, entries, _events):
            self._require_live_run(run_id, conn)
            row: dict[str, Any] = {
                "run_id": run_id,
                "path": path,
                "digest": ref.digest,
                "size": ref.size,
                "created_at": now_ms(),
            }
            store.upsert_artifact(conn, row)
            entries.append(AuditEntry(actor, "run.log_artifact", "run", run_id, None, None, row))
        return Artifact(path=path, size=ref.size, digest=ref.digest, created_at=row["created_at"])

    def _require_live_run(self, run_id: str, conn: Connection | None = None) -> None:
        if conn is None:
            with self.db.read() as reader:
                return self._require_live_run(run_id, reader)
        state = store.run_status(conn, [run_id]).get(run_id)
        if state is None:
            raise NotFound(f"run {run_id!r} not found")
        if state[1] == LifecycleStage.DELETED:
            raise Conflict(f"run {run_id!r} is deleted; restore it before adding artifacts")
        return None

    def iter_artifact(self, artifact: Artifact, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        """The artifact's bytes in chunks; the digest is verified when the stream ends."""
        with self.blobs.open(artifact.digest) as stream:
            while chunk := stream.read(chunk_size):
                yield chunk

    def read_artifact(self, run_id: str, path: str, *, max_bytes: int) -> tuple[bytes, bool]:
        """Up to `max_bytes` of an artifact, and whether it was cut short (for previews)."""
        artifact = self.get_artifact(run_id, path)
        with self.blobs.open(artifact.digest) as stream:
            content = stream.read(max_bytes)
        return content, artifact.size > max_bytes

    def create_project(self, name: str, *, description: str = "", actor: str) -> str:
        """A new namespace for experiments (and, later, datasets and models), with its own roles."""
        check_name("name", name, max_length=128)
        check_text("description", description, max_length=MAX_DESCRIPTION_LENGTH)
        with self._write(actor) as (conn, entries, events):
            if project_exists(conn, name):
                raise Conflict(f"project {name!r} already exists")
            insert_project(conn, name, description, now_ms())
            entries.append(
                AuditEntry(actor, "project.create", "project", name, name, None, {"description": description})
            )
            events.append(Event("project.created", {"project": name}, actor))
        return name

    def list_projects(self) -> list[str]:
        with self.db.read() as conn:
            return list_projects(conn)

    def list_artifacts(self, run_id: str, prefix: str | None = None) -> list[Artifact]:
        check_run_id("run_id", run_id)
        if prefix:
            check_artifact_path("path", prefix.rstrip("/"))
        with self.db.read() as conn:
            if not store.run_status(conn, [run_id]):
                raise NotFound(f"run {run_id!r} not found")
            rows = store.artifact_rows(conn, run_id, prefix.rstrip("/") if prefix else None)
        return [
            Artifact(path=r["path"], size=r["size"], digest=r["digest"], created_at=r["created_at"])
            for r in rows
        ]

    def get_artifact(self, run_id: str, path: str) -> Artifact:
        check_artifact_path("path", path)
        for artifact in self.list_artifacts(run_id, path):
            if artifact.path == path:
                return artifact
        raise NotFound(f"run {run_id!r} has no artifact {path!r}")


def _decode_history_cursor(token: str) -> tuple[int, int]:
    try:
        step, point_id = token.split(":")
        return int(step), int(point_id)
    except ValueError:
        raise InvalidParameter("page_token", "is not a cursor this endpoint returned") from None


def _downsample(run_id: str, key: str, points: store.PointColumns, max_points: int) -> MetricHistory:
    total = len(points.steps)
    steps = np.asarray(points.steps, dtype=np.int64)
    stamps = np.asarray(points.timestamps, dtype=np.int64)
    values = np.asarray(points.values, dtype=np.float64)
    if total <= max_points:
        return MetricHistory(
            run_id, key, steps.tolist(), stamps.tolist(), values.tolist(), total_points=total
        )
    # Equal-width buckets over the step range; points are in step order so buckets are contiguous.
    span = int(steps[-1] - steps[0]) + 1
    bucket = np.floor((steps - steps[0]).astype(np.float64) * max_points / span).astype(np.int64)
    starts = np.flatnonzero(np.r_[True, bucket[1:] != bucket[:-1]])
    ends = np.r_[starts[1:], total] - 1
    with np.errstate(invalid="ignore"):
        finite = np.where(np.isnan(values), np.inf, values)
        mins = np.minimum.reduceat(finite, starts)
        maxs = np.maximum.reduceat(np.where(np.isnan(values), -np.inf, values), starts)
    all_nan = np.isposinf(mins) & np.isneginf(maxs)
    mins[all_nan] = np.nan
    maxs[all_nan] = np.nan
    return MetricHistory(
        run_id=run_id,
        key=key,
        steps=steps[ends].tolist(),
        timestamps=stamps[ends].tolist(),
        values=values[ends].tolist(),
        downsampled=True,
        mins=mins.tolist(),
        maxs=maxs.tolist(),
        total_points=total,
    )

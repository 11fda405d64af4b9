"""Applying a client batch: the write path of tracking, done in bulk.

A batch names up to hundreds of runs, each with a creation, params, tags, metric points and an end.
It is applied in phases across all its runs (one statement per phase, not per run), in the order
a single run needs: create, params, tags, metrics, end. The caller owns the transaction, so a
batch lands whole or not at all."""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

import numpy as np
from blake3 import blake3

from plimsoll.core.audit import AuditEntry
from plimsoll.core.changes import Change
from plimsoll.core.db import Connection
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.tracking import store
from plimsoll.tracking.entities import (
    LifecycleStage,
    MetricColumns,
    RunStatus,
    RunWrites,
    refuse_param_changes,
)
from plimsoll.tracking.names import random_run_name


def _audit(change: Change, action: str, run_id: str, before: object = None, after: object = None) -> None:
    change.audit(AuditEntry(change.actor, action, "run", run_id, None, before, after))


def apply_batch(
    change: Change, batch: list[RunWrites], now: int, *, trust_claimed_user: bool = False
) -> None:
    conn = change.conn
    run_ids = [writes.run_id for writes in batch]
    if len(set(run_ids)) != len(run_ids):
        raise InvalidParameter("runs", "a batch names each run at most once; merge its writes")
    states = store.run_status(conn, run_ids)
    created = _create_runs(
        conn,
        [w for w in batch if w.create is not None and w.run_id not in states],
        now,
        change,
        trust_claimed_user,
    )
    states.update({run_id: (RunStatus.RUNNING.value, LifecycleStage.ACTIVE.value) for run_id in created})
    for writes in batch:
        _check_can_write(writes, states)
    _apply_params(conn, {w.run_id: w.params for w in batch if w.params}, created, change)
    _apply_tags(conn, {w.run_id: w.tags for w in batch if w.tags}, change)
    _apply_metrics(conn, {w.run_id: w.metrics for w in batch if w.metrics}, created)
    _apply_ends(conn, [w for w in batch if w.end is not None], states, created, now, change)


def _create_runs(
    conn: Connection, creating: list[RunWrites], now: int, change: Change, trust_claimed_user: bool
) -> dict[str, str]:
    """Insert the runs; the project of each, by run id. A run's user is the actor, or, when
    `trust_claimed_user` (authentication off), the user its creation names, if it names one."""
    experiments: dict[str, tuple[str, str, str]] = {}
    rows: list[dict[str, object]] = []
    for writes in creating:
        assert writes.create is not None
        experiment_id = writes.create.experiment_id
        if experiment_id not in experiments:
            state = store.experiment_state(conn, experiment_id)
            if state is None:
                raise NotFound(f"experiment {experiment_id!r} not found")
            experiments[experiment_id] = state
        name, project, stage = experiments[experiment_id]
        if stage != LifecycleStage.ACTIVE:
            raise Conflict(f"experiment {name!r} is deleted; runs cannot be started in it")
        row = {
            "id": writes.run_id,
            "experiment_id": experiment_id,
            "name": writes.create.name or random_run_name(),
            "status": RunStatus.RUNNING.value,
            "start_time": writes.create.start_time or now,
            "end_time": None,
            "parent_run_id": writes.create.parent_run_id,
            "user": writes.create.user if trust_claimed_user and writes.create.user else change.actor,
            "lifecycle_stage": LifecycleStage.ACTIVE.value,
        }
        rows.append(row)
        change.audit(AuditEntry(change.actor, "run.create", "run", writes.run_id, project, None, row))
        change.emit(
            "run.created",
            f"run:{writes.run_id}",
            {
                "run_id": writes.run_id,
                "experiment_id": experiment_id,
                "name": row["name"],
                "project": project,
            },
            project=project,
        )
    created = {str(row["id"]): experiments[str(row["experiment_id"])][1] for row in rows}
    _check_parents(conn, creating, created)
    store.insert_runs(conn, rows)
    return created


def _check_parents(conn: Connection, creating: list[RunWrites], created: dict[str, str]) -> None:
    """A parent is a run of the child's own project: this batch's, or one that exists. A parent in
    another project is refused in the same words as one that does not exist, so that the answer
    does not tell whether a run exists where the caller may not look."""
    wanted = {w.create.parent_run_id for w in creating if w.create and w.create.parent_run_id}
    if not wanted:
        return
    projects = {**store.run_projects(conn, wanted - created.keys()), **created}
    for writes in creating:
        assert writes.create is not None
        parent = writes.create.parent_run_id
        project = created[writes.run_id]
        if parent == writes.run_id:
            raise InvalidParameter("parent_run_id", f"run {parent!r} cannot be its own parent")
        if parent is not None and projects.get(parent) != project:
            raise InvalidParameter("parent_run_id", f"{parent!r} is not a run of project {project!r}")


def _check_can_write(writes: RunWrites, states: dict[str, tuple[str, str]]) -> None:
    if writes.run_id not in states:
        raise NotFound(f"run {writes.run_id!r} not found")
    status, stage = states[writes.run_id]
    if not (writes.params or writes.tags or writes.metrics):
        return
    if status != RunStatus.RUNNING:
        raise Conflict(f"run {writes.run_id!r} has ended ({status}); nothing more can be logged to it")
    if stage == LifecycleStage.DELETED:
        raise Conflict(f"run {writes.run_id!r} is deleted; restore it before logging to it")


def _apply_params(
    conn: Connection, by_run: dict[str, dict[str, str]], created: Collection[str], change: Change
) -> None:
    older = [run_id for run_id in by_run if run_id not in created]
    held = store.params_of_runs(conn, older)
    new: dict[str, dict[str, str]] = {}
    for run_id, values in by_run.items():
        refuse_param_changes(run_id, values, held.get(run_id, {}))
        new[run_id] = {k: v for k, v in values.items() if k not in held.get(run_id, {})}
    store.insert_params(
        conn,
        [
            {"run_id": run_id, "key": k, "value": v, "num_value": _as_number(v)}
            for run_id, values in new.items()
            for k, v in values.items()
        ],
    )
    # Read back: on PostgreSQL a concurrent writer may have inserted the same key first (our insert
    # then did nothing), and only now can we see which value won. New runs have no such writer.
    raced = [run_id for run_id in older if new.get(run_id)]
    for run_id, stored in store.params_of_runs(conn, raced).items():
        refuse_param_changes(run_id, by_run[run_id], stored)
    for run_id, values in new.items():
        if values:
            # Keys and digests only: a value logged by mistake (a secret) must stay removable,
            # and the audit log is append-only.
            _audit(change, "run.log_params", run_id, after=_digests(values))


def _apply_tags(conn: Connection, by_run: dict[str, dict[str, str]], change: Change) -> None:
    store.upsert_tags(
        conn,
        [
            {"run_id": run_id, "key": k, "value": v}
            for run_id, values in by_run.items()
            for k, v in values.items()
        ],
    )
    for run_id, values in by_run.items():
        _audit(change, "run.set_tags", run_id, after=_digests(values))


def _apply_metrics(conn: Connection, by_run: dict[str, MetricColumns], created: Collection[str]) -> None:
    if not by_run:
        return
    wanted = {(run_id, key) for run_id, columns in by_run.items() for key in set(columns.keys)}
    series = store.series_ids(conn, wanted, known_new={run_id for run_id in by_run if run_id in created})
    rows: list[tuple[int, int, int, float | None, bool]] = []
    latest = []
    for run_id, columns in by_run.items():
        keys, values, steps, stamps = columns.keys, columns.values, columns.steps, columns.timestamps
        own = {key: series[run_id, key] for key in set(keys)}
        ids = list(map(own.__getitem__, keys))
        nans = [value != value for value in values]
        stored = (
            [None if nan else value for value, nan in zip(values, nans, strict=True)] if any(nans) else values
        )
        rows.extend(zip(ids, steps, stamps, stored, nans, strict=True))
        for index in _latest_per_series(ids, steps, stamps):
            latest.append(
                {
                    "run_id": run_id,
                    "key": keys[index],
                    "step": steps[index],
                    "timestamp": stamps[index],
                    "value": stored[index],
                    "is_nan": nans[index],
                }
            )
    store.insert_metric_points(conn, rows)
    store.upsert_latest_metrics(conn, latest)


def _latest_per_series(ids: list[int], steps: list[int], stamps: list[int]) -> list[int]:
    """Index of each series' point with the highest (step, timestamp), the last one on ties."""
    if len(ids) < 64:
        best: dict[int, int] = {}
        for index, series_id in enumerate(ids):
            held = best.get(series_id)
            if held is None or (steps[index], stamps[index]) >= (steps[held], stamps[held]):
                best[series_id] = index
        return list(best.values())
    # Vectorised for large batches: sort by (series, step, timestamp, position), keep each run's end.
    codes = np.asarray(ids, dtype=np.int64)
    order = np.lexsort(
        (np.arange(len(ids)), np.asarray(stamps, dtype=np.int64), np.asarray(steps, dtype=np.int64), codes)
    )
    ends = np.r_[codes[order][1:] != codes[order][:-1], True]
    return [int(i) for i in order[ends]]


def _apply_ends(
    conn: Connection,
    ending: list[RunWrites],
    states: dict[str, tuple[str, str]],
    created: dict[str, str],
    now: int,
    change: Change,
) -> None:
    rows: list[dict[str, Any]] = []
    for writes in ending:
        assert writes.end is not None
        status = states[writes.run_id][0]
        if status == writes.end.status.value:
            continue  # ending again the same way (a retry) changes nothing
        if status != RunStatus.RUNNING:
            raise Conflict(
                f"run {writes.run_id!r} already ended as {status}; it cannot end again as {writes.end.status}"
            )
        end_time = writes.end.end_time or now
        rows.append({"run_id": writes.run_id, "status": writes.end.status.value, "end_time": end_time})
        _audit(
            change,
            "run.end",
            writes.run_id,
            {"status": status},
            {"status": writes.end.status.value, "end_time": end_time},
        )
    store.end_runs(conn, rows)
    # A run created in this batch (the SDK sends a short run whole) has its project at hand.
    older = [row["run_id"] for row in rows if row["run_id"] not in created]
    projects = {**created, **(store.run_projects(conn, older) if older else {})}
    for row in rows:
        project = projects[row["run_id"]]
        payload = {**row, "project": project}
        change.emit("run.ended", f"run:{row['run_id']}", payload, project=project)


def _digests(values: dict[str, str]) -> dict[str, str]:
    return {key: "blake3:" + blake3(value.encode()).hexdigest()[:16] for key, value in values.items()}


def _as_number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None

"""Metric histories: read back whole in pages, or downsampled for a chart."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from plimsoll.core.db import Connection
from plimsoll.core.errors import InvalidParameter, NotFound
from plimsoll.core.validation import INT64_MAX, check_int, check_key, parse_int_text
from plimsoll.tracking import store
from plimsoll.tracking.entities import MetricHistory
from plimsoll.tracking.service.base import ServiceBase, check_run_id

MAX_HISTORY_POINTS = 100_000
MAX_RUNS_PER_HISTORY_LOOKUP = 1000  # one IN list: well under SQLite's bound-parameter limit


class HistoryOps(ServiceBase):
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
                if not points.steps:
                    _refuse_unknown_key(conn, run_id, key)
                return _downsample(run_id, key, points, max_points)
            points = store.read_metric_points(conn, run_id, key, after=after, limit=MAX_HISTORY_POINTS + 1)
            if not points.steps and after is None:
                _refuse_unknown_key(conn, run_id, key)
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
            next_page_token=None if cursor is None else _encode_history_cursor(cursor),
        )

    def list_metric_keys(self, run_id: str) -> list[str]:
        check_run_id("run_id", run_id)
        with self.db.read() as conn:
            return store.metric_keys_of(conn, run_id)

    def list_metric_keys_with_history(self, run_id: str) -> list[str]:
        """The run's metric keys with more than one point: those a chart can draw as a curve (a key
        with one point is a single value, better read in a table)."""
        check_run_id("run_id", run_id)
        with self.db.read() as conn:
            return store.keys_with_history_of(conn, run_id)

    def metric_keys_with_history_by_run(self, run_ids: Sequence[str]) -> dict[str, list[str]]:
        """`list_metric_keys_with_history` for several runs in one read (a compare page's charts):
        every run asked for is in the answer, one without such keys (or unknown) with none."""
        for run_id in run_ids:
            check_run_id("run_ids", run_id)
        if len(run_ids) > MAX_RUNS_PER_HISTORY_LOOKUP:
            raise InvalidParameter(
                "run_ids", f"has {len(run_ids)} runs; the limit is {MAX_RUNS_PER_HISTORY_LOOKUP}"
            )
        with self.db.read() as conn:
            found = store.keys_with_history_by_run(conn, run_ids)
        return {run_id: found.get(run_id, []) for run_id in run_ids}


MAX_KEYS_NAMED = 20


def _refuse_unknown_key(conn: Connection, run_id: str, key: str) -> None:
    """A key the run has no points for is a NotFound that names the keys it has (a typo's usual
    cure), checked only once a read came back empty so that a history read costs no more."""
    keys = store.metric_keys_of(conn, run_id)
    if key in keys:
        return
    if not keys:
        raise NotFound(f"run {run_id!r} has no metric {key!r}: it has logged no metrics")
    named = ", ".join(repr(k) for k in keys[:MAX_KEYS_NAMED])
    more = f" and {len(keys) - MAX_KEYS_NAMED} more" if len(keys) > MAX_KEYS_NAMED else ""
    raise NotFound(
        f"run {run_id!r} has no metric {key!r}; its metrics are {named}{more}",
        details={"run_id": run_id, "key": key, "keys": keys[:MAX_KEYS_NAMED]},
    )


def _encode_history_cursor(key: store.PointKey) -> str:
    step, stamp, is_nan, value = key
    return f"{step}:{stamp}:{'nan' if is_nan else repr(value)}"


def _decode_history_cursor(token: str) -> store.PointKey:
    """What `_encode_history_cursor` wrote, read strictly (64-bit integers in ASCII digits, a
    number or `nan`), so that no token reaches the database as something it cannot bind."""
    parts = token.split(":")
    if len(parts) == 3:
        try:
            step = parse_int_text("page_token", parts[0])
            stamp = parse_int_text("page_token", parts[1], minimum=0)
        except InvalidParameter:
            pass
        else:
            if parts[2] == "nan":
                return step, stamp, True, None
            try:
                value = float(parts[2])
            except ValueError:
                value = math.nan
            if not math.isnan(value):
                return step, stamp, False, value
    raise InvalidParameter("page_token", "is not a cursor this endpoint returned")


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

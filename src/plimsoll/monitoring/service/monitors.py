"""Monitors: create one on a model alias against a reference (profiled once, stored as a blob),
read them, change their rules, delete them."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

import orjson

from plimsoll.core.audit import AuditEntry
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.core.ids import new_id
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_name, printable
from plimsoll.model_registry.entities import check_model_name, parse_model_ref
from plimsoll.monitoring import store
from plimsoll.monitoring.entities import (
    LABEL_COLUMN,
    PREDICTION_COLUMN,
    RESERVED_PREFIX,
    SCORE_COLUMN,
)
from plimsoll.monitoring.rules import Rule, check_rules, default_rules
from plimsoll.monitoring.service.traffic import TrafficOps
from plimsoll.monitoring.specs import (
    MAX_SEGMENTS,
    MAX_WINDOW_ROWS,
    MIN_WINDOW_MS,
    TASKS,
    Monitor,
    Reference,
    check_features,
    check_monitor_name,
    check_reference,
    parse_duration,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from plimsoll.monitoring.windows import ReferenceProfile

MAX_MONITORS_LISTED = 1_000
MAX_CLASSES = 50  # a target with more distinct values than this is a regression's
_PROFILES_CACHED = 64


class MonitorOps(TrafficOps):
    # -- creating ----------------------------------------------------------------------------------

    def create_monitor(
        self,
        name: str,
        model: str,
        reference: Any,
        *,
        features: builtins.list[str] | None = None,
        every: str | int | None = "1d",
        window_rows: int | None = None,
        delay: str | int = 0,
        start: int | None = None,
        segment_by: str = "",
        max_segments: int = 10,
        alpha: float = 0.05,
        task: str | None = None,
        multivariate: bool = False,
        rules: builtins.list[Any] | None = None,
        extra_rules: builtins.list[Any] | None = None,
        project: str = DEFAULT_PROJECT,
        actor: str,
    ) -> Monitor:
        """A monitor on `model` (`NAME@ALIAS`) against `reference` (`specs.check_reference`),
        with windows by time (`every`) or by count (`window_rows`). `rules` replaces the default
        rules, `extra_rules` adds to them."""
        from plimsoll.monitoring.windows import profile_reference, profile_to_bytes

        check_name("project", project)
        name = check_monitor_name("name", name)
        model_name, alias = _alias_ref(model)
        ref = check_reference("reference", reference)
        every_ms, rows = _window(every, window_rows)
        delay_ms = parse_duration("delay", delay, maximum_ms=7 * 86_400_000)
        if (
            not isinstance(max_segments, int)
            or isinstance(max_segments, bool)
            or not 1 <= max_segments <= MAX_SEGMENTS
        ):
            raise InvalidParameter("max_segments", f"must be a whole number from 1 to {MAX_SEGMENTS}")
        if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 0.5:
            raise InvalidParameter(
                "alpha", f"must be a number above 0 and below 0.5; got {printable(alpha)!r}"
            )
        if task is not None and task not in TASKS:
            raise InvalidParameter("task", f"must be one of {', '.join(TASKS)}; got {printable(task)!r}")
        if segment_by:
            segment_by = check_features("segment_by", [segment_by])[0]
        # The rules asked for are checked before anything is read: a typo costs nothing.
        asked_rules = None if rules is None else check_rules("rules", rules)
        asked_extra = None if extra_rules is None else check_rules("extra_rules", extra_rules)
        with self.db.read() as conn:
            self.projects.require_in(conn, project)
            if store.monitor_row(conn, project, name) is not None:
                raise Conflict(f"monitor {name!r} exists in project {project!r}")
        self.registry.get_version(f"{model_name}@{alias}", project=project)
        table, ref, evaluated = self._reference_table(ref, model_name, alias, project)
        task = task or evaluated or _guess_task(table, ref.target)
        watched = _features(table, features, ref.target, segment_by)
        profile = profile_reference(table, watched, target=ref.target, task=task)
        metrics = dict(profile.metrics)
        chosen = _rules(task, profile, asked_rules, asked_extra)
        created = self.clock()
        spec = {
            "reference": ref.to_dict(),
            "features": list(watched),
            "every_ms": every_ms,
            "window_rows": rows,
            "delay_ms": delay_ms,
            "start": _first_start(created if start is None else start, every_ms),
            "segment_by": segment_by,
            "max_segments": max_segments,
            "alpha": float(alpha),
            "task": task,
            "rules": [rule.to_dict() for rule in chosen],
            "multivariate": bool(multivariate),
        }
        digest = self.blobs.put_bytes(profile_to_bytes(profile)).digest
        row = {
            "id": new_id(),
            "project": project,
            "name": name,
            "model": model_name,
            "alias": alias,
            "spec": orjson.dumps(spec).decode(),
            "profile_digest": digest,
            "reference_rows": table.num_rows,
            "reference_metrics": orjson.dumps(metrics).decode(),
            "created_by": actor,
            "created_at": created,
            "updated_at": created,
            "last_window_end": spec["start"],
            "last_run_at": 0,
            "last_error": "",
            "stale": 0,
        }
        with self._change(actor) as change:
            if not store.insert_monitor(change.conn, row):
                raise Conflict(f"monitor {name!r} exists in project {project!r}")
            change.audit(
                AuditEntry(
                    actor,
                    "monitor.create",
                    "monitor",
                    name,
                    project,
                    None,
                    {"model": f"{model_name}@{alias}", **spec},
                )
            )
        return self.get_monitor(name, project=project)

    def _reference_table(
        self, ref: Reference, model: str, alias: str, project: str
    ) -> tuple[pa.Table, Reference, str | None]:
        """The reference's rows, the reference as resolved (an evaluation's dataset named), and
        the task an evaluation recorded."""
        if ref.kind == "traffic":
            return self._traffic_reference(ref, model, alias, project), ref, None
        task = None
        if ref.kind == "evaluation":
            version = self.registry.get_version(f"{model}@{alias}", project=project)
            if self.evaluation is None:
                raise InvalidParameter("reference", "evaluation is not available on this server")
            found = self.evaluation.list(model=f"{model}/{version.version}", project=project, limit=1)
            if not found or not found[0].dataset:
                raise InvalidParameter(
                    "reference",
                    f"{model}/{version.version} has no evaluation on a registered dataset: evaluate it, "
                    "or give a dataset (dataset:NAME@VERSION) or a stretch of traffic",
                )
            task = found[0].task if found[0].task in TASKS else None
            ref = Reference(
                "dataset",
                dataset=found[0].dataset,
                target=ref.target,
                prediction=ref.prediction,
                score=ref.score,
            )
        if self.data is None:
            raise InvalidParameter("reference", "datasets are not available on this server")
        name, _, number = ref.dataset.rpartition("@")
        if not number.isdigit():
            raise InvalidParameter("reference.dataset", f"must be NAME@VERSION; got {ref.dataset!r}")
        table = self.data.read_table(name, int(number), project=project)
        for field_name in ("target", "prediction", "score"):
            column = getattr(ref, field_name)
            if column and column not in table.column_names:
                raise InvalidParameter(
                    f"reference.{field_name}",
                    f"{column!r} is not a column of {ref.dataset}: {', '.join(table.column_names[:20])}",
                )
        renamed = {ref.prediction: PREDICTION_COLUMN, ref.score: SCORE_COLUMN}
        table = table.rename_columns([renamed.get(c, c) if c else c for c in table.column_names])
        return table, ref, task

    def _traffic_reference(self, ref: Reference, model: str, alias: str, project: str) -> pa.Table:
        """The alias's logged rows from `since` to `until`, their labels joined as `__label`."""
        table = self.alias_rows(model, alias, ref.since, ref.until, project=project)
        if table.num_rows == 0:
            raise InvalidParameter(
                "reference.since",
                f"{model}@{alias} logged no predictions between {ref.since} and {ref.until}",
            )
        labels = self.labels_for(model, table, since=ref.since, project=project)
        if labels is not None and labels.num_rows:
            from plimsoll.monitoring.windows import latest_labels

            table = table.join(latest_labels(labels), keys="__id", join_type="left outer")
        return table

    # -- reading -----------------------------------------------------------------------------------

    def get_monitor(self, name: str, *, project: str = DEFAULT_PROJECT) -> Monitor:
        check_name("project", project)
        name = check_monitor_name("name", name)
        with self.db.read() as conn:
            row = store.monitor_row(conn, project, name)
        if row is None:
            raise NotFound(f"monitor {name!r} not found in project {project!r}")
        return monitor_of(row)

    def monitor_project(self, name: str, project: str = DEFAULT_PROJECT) -> str:
        return self.get_monitor(name, project=project).project

    def list_monitors(
        self, *, model: str | None = None, project: str | None = DEFAULT_PROJECT
    ) -> builtins.list[Monitor]:
        if project is not None:
            check_name("project", project)
        if model is not None:
            model = check_model_name("model", model)
        with self.db.read() as conn:
            if project is not None:
                self.projects.require_in(conn, project)
            rows = store.monitor_rows(conn, project, model)
        return [monitor_of(row) for row in rows[:MAX_MONITORS_LISTED]]

    def profile(self, monitor: Monitor) -> ReferenceProfile:
        """The monitor's reference profile (read once per process: it never changes)."""
        from plimsoll.monitoring.windows import profile_from_bytes

        with self.db.read() as conn:
            row = store.monitor_by_id(conn, monitor.id)
        if row is None:
            raise NotFound(f"monitor {monitor.name!r} was deleted")
        digest = row["profile_digest"]
        cache: dict[str, ReferenceProfile] = self.__dict__.setdefault("_profiles", {})
        if digest not in cache:
            if len(cache) >= _PROFILES_CACHED:
                cache.pop(next(iter(cache)))
            cache[digest] = profile_from_bytes(self.blobs.get_bytes(digest))
        return cache[digest]

    # -- changing ----------------------------------------------------------------------------------

    def set_rules(
        self, name: str, rules: builtins.list[Any], *, project: str = DEFAULT_PROJECT, actor: str
    ) -> Monitor:
        """Replace a monitor's rules (windows computed from now on use them)."""
        monitor = self.get_monitor(name, project=project)
        chosen = check_rules("rules", rules)
        with self.db.read() as conn:
            row = store.monitor_row(conn, project, monitor.name)
        assert row is not None
        spec = orjson.loads(row["spec"])
        spec["rules"] = [rule.to_dict() for rule in chosen]
        with self._change(actor) as change:
            store.update_monitor(
                change.conn, monitor.id, spec=orjson.dumps(spec).decode(), updated_at=self.clock()
            )
            change.audit(
                AuditEntry(
                    actor, "monitor.rules", "monitor", monitor.name, project, None, {"rules": spec["rules"]}
                )
            )
        return self.get_monitor(name, project=project)

    def delete_monitor(self, name: str, *, project: str = DEFAULT_PROJECT, actor: str) -> None:
        monitor = self.get_monitor(name, project=project)
        with self._change(actor) as change:
            store.delete_monitor(change.conn, monitor.id)
            change.audit(
                AuditEntry(actor, "monitor.delete", "monitor", monitor.name, project, monitor.to_dict(), None)
            )


def monitor_of(row: Any) -> Monitor:
    spec = orjson.loads(row["spec"])
    return Monitor(
        id=row["id"],
        project=row["project"],
        name=row["name"],
        model=row["model"],
        alias=row["alias"],
        reference=Reference.from_dict(spec["reference"]),
        features=tuple(spec["features"]),
        every_ms=int(spec["every_ms"]),
        window_rows=int(spec["window_rows"]),
        delay_ms=int(spec["delay_ms"]),
        start=int(spec["start"]),
        segment_by=spec["segment_by"],
        max_segments=int(spec["max_segments"]),
        alpha=float(spec["alpha"]),
        task=spec["task"],
        rules=tuple(Rule.from_dict(rule) for rule in spec["rules"]),
        multivariate=bool(spec.get("multivariate", False)),
        reference_rows=int(row["reference_rows"]),
        reference_metrics=orjson.loads(row["reference_metrics"]),
        created_by=row["created_by"],
        created_at=int(row["created_at"]),
        updated_at=int(row["updated_at"]),
        last_window_end=int(row["last_window_end"]),
        last_run_at=int(row["last_run_at"]),
        last_error=row["last_error"],
        stale=bool(row["stale"]),
    )


def _alias_ref(model: str) -> tuple[str, str]:
    name, version, alias = parse_model_ref("model", model)
    if alias is None or version is not None:
        raise InvalidParameter(
            "model",
            f"must be NAME@ALIAS: a monitor follows whichever version the alias holds; got {printable(model)!r}",
        )
    return name, alias


def _window(every: str | int | None, rows: int | None) -> tuple[int, int]:
    if rows is not None:
        if isinstance(rows, bool) or not isinstance(rows, int) or not 100 <= rows <= MAX_WINDOW_ROWS:
            raise InvalidParameter("window_rows", f"must be a whole number from 100 to {MAX_WINDOW_ROWS:,}")
        return 0, rows
    if every is None:
        raise InvalidParameter("every", "is required when windows are not by count (window_rows)")
    return parse_duration("every", every, minimum_ms=MIN_WINDOW_MS), 0


def _first_start(at: int, every_ms: int) -> int:
    """Windows by time are aligned to UTC (a day starts at midnight); by count, start at `at`."""
    return at - at % every_ms if every_ms else at


def _guess_task(table: pa.Table, target: str) -> str:
    import pyarrow as pa
    import pyarrow.compute as pc

    column = (
        table.column(target)
        if target and target in table.column_names
        else (table.column(PREDICTION_COLUMN) if PREDICTION_COLUMN in table.column_names else None)
    )
    if column is None:
        return "classification"
    if pa.types.is_floating(column.type):
        distinct = pc.count_distinct(column).as_py()
        values = column.drop_null().to_numpy()
        whole = bool(len(values)) and bool(((values % 1) == 0).all())
        return "classification" if whole and distinct <= MAX_CLASSES else "regression"
    if pa.types.is_integer(column.type):
        return "classification" if pc.count_distinct(column).as_py() <= MAX_CLASSES else "regression"
    return "classification"


def _features(
    table: pa.Table, asked: builtins.list[str] | None, target: str, segment_by: str
) -> tuple[str, ...]:
    if asked:
        chosen = check_features("features", asked)
        missing = [name for name in chosen if name not in table.column_names]
        if missing:
            raise InvalidParameter(
                "features", f"{', '.join(map(repr, missing[:5]))} not in the reference's columns"
            )
        return chosen
    skip = {target, segment_by, PREDICTION_COLUMN, SCORE_COLUMN, LABEL_COLUMN}
    chosen = tuple(c for c in table.column_names if c not in skip and not c.startswith(RESERVED_PREFIX))
    if not chosen:
        raise InvalidParameter("features", "the reference has no feature columns to watch")
    return chosen


def _rules(
    task: str, profile: ReferenceProfile, rules: tuple[Rule, ...] | None, extra: tuple[Rule, ...] | None
) -> tuple[Rule, ...]:
    if rules is not None:
        chosen = rules
    else:
        primary = "accuracy" if task == "classification" else "mae"
        chosen = default_rules(task, primary)
        if task == "regression":
            # Realised error 20% above the reference's is worth a page; no reference, no rule.
            base = profile.metrics.get("mae")
            chosen = tuple(
                Rule.from_dict({**r.to_dict(), "threshold": 0.2 * base})
                if r.name == "performance_drop" and base
                else r
                for r in chosen
                if r.name != "performance_drop" or base
            )
    if extra:
        chosen = check_rules("rules", [*(r.to_dict() for r in chosen), *(r.to_dict() for r in extra)])
    return chosen

"""Tracking's domain types: experiments, runs and what runs log. No I/O."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any, NamedTuple

from plimsoll.core.errors import Conflict, InvalidParameter
from plimsoll.core.validation import (
    INT64_MAX,
    INT64_MIN,
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    check_id,
    check_int,
    check_key,
    check_name,
    check_text,
)

# What one write batch may carry (the server refuses more; the SDK splits to stay under).
MAX_RUNS_PER_BATCH = 1000
MAX_METRICS_PER_BATCH = 100_000
MAX_PARAMS_PER_BATCH = 10_000
MAX_TAGS_PER_BATCH = 10_000


class RunStatus(StrEnum):
    RUNNING = "RUNNING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"

    @property
    def is_terminal(self) -> bool:
        return self is not RunStatus.RUNNING


def parse_run_status(value: RunStatus | str) -> RunStatus:
    """The status a run ends with: FINISHED, FAILED or KILLED (RUNNING is no end)."""
    try:
        status = RunStatus(value)
    except ValueError:
        status = None
    if status is None or not status.is_terminal:
        ends = [s.value for s in RunStatus if s.is_terminal]
        raise InvalidParameter("status", f"a run ends as one of {ends}, not {value!r}")
    return status


class LifecycleStage(StrEnum):
    ACTIVE = "active"
    DELETED = "deleted"


# Which experiments a listing shows, by the `view` the API, SDK and CLI accept.
EXPERIMENT_VIEWS: dict[str, tuple[str, ...]] = {
    "active": (LifecycleStage.ACTIVE.value,),
    "deleted": (LifecycleStage.DELETED.value,),
    "all": (LifecycleStage.ACTIVE.value, LifecycleStage.DELETED.value),
}


def check_view(view: str) -> tuple[str, ...]:
    """The lifecycle stages an experiment listing's `view` shows; InvalidParameter naming `view`."""
    if view not in EXPERIMENT_VIEWS:
        raise InvalidParameter("view", f"must be one of {list(EXPERIMENT_VIEWS)}, got {view!r}")
    return EXPERIMENT_VIEWS[view]


# Tags that Plimsoll (or MLflow, for runs moved in) sets itself; shown apart from the user's.
SYSTEM_TAG_PREFIXES = ("plimsoll.", "mlflow.")
# Where a run's captured environment and uncommitted git changes are stored as artifacts.
ENVIRONMENT_ARTIFACT = "plimsoll/environment.json"
DIFF_ARTIFACT = "plimsoll/git.diff"


@dataclass(frozen=True)
class Experiment:
    id: str
    project: str
    name: str
    description: str
    lifecycle_stage: str
    created_at: int
    updated_at: int
    tags: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Metric(NamedTuple):
    """One point of a metric. A tuple, not a dataclass: batches carry tens of thousands."""

    key: str
    value: float
    step: int = 0
    timestamp: int = 0


@dataclass(frozen=True)
class Run:
    id: str
    experiment_id: str
    experiment: str
    project: str
    name: str
    status: str
    start_time: int
    end_time: int | None
    parent_run_id: str | None
    user: str
    lifecycle_stage: str
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        # Shallow by design (dataclasses.asdict deep-copies): search answers build hundreds of these.
        body = {name: getattr(self, name) for name in _RUN_FIELDS}
        body["params"], body["metrics"], body["tags"] = dict(self.params), dict(self.metrics), dict(self.tags)
        return body

    def to_json(self) -> dict[str, Any]:
        """`to_dict` with metric values JSON can carry (NaN and infinities as strings)."""
        body = self.to_dict()
        if not all(map(math.isfinite, self.metrics.values())):
            body["metrics"] = {key: encode_float(value) for key, value in self.metrics.items()}
        return body


_RUN_FIELDS = tuple(f.name for f in fields(Run))


@dataclass(frozen=True)
class RunPage:
    runs: list[Run]
    next_page_token: str | None


@dataclass(frozen=True)
class MetricHistory:
    """A metric's points in step order. When downsampled, each point stands for one bucket of steps
    and carries the bucket's min, max and last value (`values` holds the last)."""

    run_id: str
    key: str
    steps: list[int]
    timestamps: list[int]
    values: list[float]
    downsampled: bool = False
    mins: list[float] | None = None
    maxs: list[float] | None = None
    total_points: int = 0
    next_page_token: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "key": self.key,
            "steps": self.steps,
            "timestamps": self.timestamps,
            "values": encode_floats(self.values),
            "downsampled": self.downsampled,
            "mins": None if self.mins is None else encode_floats(self.mins),
            "maxs": None if self.maxs is None else encode_floats(self.maxs),
            "total_points": self.total_points,
            "next_page_token": self.next_page_token,
        }


@dataclass(frozen=True)
class Artifact:
    path: str
    size: int
    digest: str
    created_at: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class MetricColumns:
    """Metric points as parallel columns: how batches travel and are stored. Tens of thousands of
    points per batch make one object per point the dominant cost, so the write path has none."""

    keys: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    timestamps: list[int] = field(default_factory=list)

    @classmethod
    def of(cls, points: Iterable[Metric]) -> MetricColumns:
        columns = cls()
        for point in points:
            columns.append(point.key, point.value, point.step, point.timestamp)
        return columns

    def append(self, key: str, value: float, step: int, timestamp: int) -> None:
        self.keys.append(key)
        self.values.append(value)
        self.steps.append(step)
        self.timestamps.append(timestamp)

    def extend(self, other: MetricColumns) -> None:
        self.keys.extend(other.keys)
        self.values.extend(other.values)
        self.steps.extend(other.steps)
        self.timestamps.extend(other.timestamps)

    def split(self, count: int) -> tuple[MetricColumns, MetricColumns]:
        """The first `count` points, and the rest."""
        head = MetricColumns(
            self.keys[:count], self.values[:count], self.steps[:count], self.timestamps[:count]
        )
        rest = MetricColumns(
            self.keys[count:], self.values[count:], self.steps[count:], self.timestamps[count:]
        )
        return head, rest

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self) -> Iterator[Metric]:
        return map(Metric, self.keys, self.values, self.steps, self.timestamps)


@dataclass
class RunWrites:
    """What one client batch does to one run, applied atomically and in this order:
    create the run (if asked), params, tags, metrics, then end it (if asked)."""

    run_id: str
    create: RunCreate | None = None
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: MetricColumns = field(default_factory=MetricColumns)
    end: RunEnd | None = None

    def __post_init__(self) -> None:
        points: object = self.metrics
        if isinstance(points, list):  # a list of Metric points, for convenience
            self.metrics = MetricColumns.of(points)


@dataclass(frozen=True)
class RunCreate:
    experiment_id: str
    name: str | None = None
    parent_run_id: str | None = None
    start_time: int | None = None
    # Who the client says it is (the SDK sends its OS user). Recorded as the run's user only
    # where nobody is authenticated; with authentication on, the token's user is recorded.
    user: str | None = None


@dataclass(frozen=True)
class RunEnd:
    status: RunStatus
    end_time: int | None = None


def encode_float(value: float) -> float | str:
    """JSON has no NaN or infinities; they travel as the strings 'NaN', 'Infinity', '-Infinity'."""
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def encode_floats(values: list[float]) -> list[float | str]:
    if all(map(math.isfinite, values)):
        return values  # type: ignore[return-value]  # the common case: nothing to encode, no copy
    return [encode_float(v) for v in values]


def run_id_list(values: list[str]) -> list[str]:
    """Run ids from a query such as `?runs=a,b&runs=c`, in order, without repeats or blanks."""
    ids: list[str] = []
    for value in values:
        for part in value.split(","):
            part = part.strip()
            if part and part not in ids:
                ids.append(part)
    return ids


def refuse_param_changes(run_id: str, values: dict[str, str], held: dict[str, str]) -> None:
    """Params are immutable: the same value again is fine, another one is a Conflict naming the
    param. The service checks what is stored; the SDK, what it still holds unsent."""
    for key, value in values.items():
        if key in held and held[key] != value:
            raise Conflict(
                f"param {key!r} of run {run_id} is already {held[key]!r}; params are immutable, "
                f"so it cannot become {value!r} (log a new key or start a new run)",
                details={"field": f"params.{key}"},
            )


# -- what a write may carry: checked by the service for every client, and by the SDK at the call ---
# One set of rules in one place, so that the SDK refuses exactly what the server would, on the
# user's own line, instead of a batch failing later for every run in it.


def check_params(values: dict[str, str]) -> dict[str, str]:
    for key, value in values.items():
        check_key("params", key)
        check_text(f"params.{key}", value, max_length=MAX_PARAM_VALUE_LENGTH)
    return values


def check_tags(values: dict[str, str]) -> dict[str, str]:
    for key, value in values.items():
        check_key("tags", key)
        check_text(f"tags.{key}", value, max_length=MAX_TAG_VALUE_LENGTH)
    return values


def check_metric_key(key: str) -> str:
    return check_key("metrics.key", key)


def check_metric_step(key: str, step: Any) -> int:
    return check_int(f"metrics.{key}.step", step)


def check_metric_timestamp(key: str, timestamp: Any) -> int:
    return check_int(f"metrics.{key}.timestamp", timestamp, minimum=0)


def check_metric_columns(columns: MetricColumns) -> None:
    """The point-by-point rules above, per distinct key and per column with C-speed checks: batches
    carry many thousands of points, and only a failing column is walked to name the culprit."""
    count = len(columns.keys)
    if not len(columns.values) == len(columns.steps) == len(columns.timestamps) == count:
        raise InvalidParameter("metrics", "keys, values, steps and timestamps must have the same length")
    if not count:
        return
    for key in set(columns.keys):
        check_metric_key(key)
    steps, stamps = columns.steps, columns.timestamps
    if not all(type(step) is int for step in steps) or min(steps) < INT64_MIN or max(steps) > INT64_MAX:
        for key, step in zip(columns.keys, steps, strict=True):
            check_metric_step(key, step)
    if not all(type(stamp) is int for stamp in stamps) or min(stamps) < 0 or max(stamps) > INT64_MAX:
        for key, stamp in zip(columns.keys, stamps, strict=True):
            check_metric_timestamp(key, stamp)
    if not all(type(value) is float for value in columns.values):
        for key, value in zip(columns.keys, columns.values, strict=True):
            if type(value) is not float:
                raise InvalidParameter(f"metrics.{key}.value", f"must be a float, got {value!r}")


def check_run_start(name: str | None, parent_run_id: str | None, start_time: int | None) -> None:
    """What a new run is given by its caller (the SDK checks these before it knows the experiment)."""
    if name is not None:
        check_name("run_name", name)
    if parent_run_id is not None:
        check_id("parent_run_id", parent_run_id)
    if start_time is not None:
        check_int("start_time", start_time, minimum=0)


def check_run_create(create: RunCreate) -> RunCreate:
    # The experiment id too, before a repeated batch id is acknowledged: a retry is the same batch,
    # so a malformed one is refused as it was the first time.
    check_id("experiment_id", create.experiment_id)
    check_run_start(create.name, create.parent_run_id, create.start_time)
    if create.user is not None:
        check_run_user(create.user)
    return create


MAX_RUN_USER_LENGTH = 128  # a user name's limit (core.auth)


def check_run_user(user: str) -> str:
    return check_name("user", user, max_length=MAX_RUN_USER_LENGTH)


def check_run_writes(writes: RunWrites) -> None:
    """Everything one batch does to one run, by the rules above (params already as text)."""
    check_id("run_id", writes.run_id)
    check_params(writes.params)
    check_tags(writes.tags)
    check_metric_columns(writes.metrics)
    if writes.create is not None:
        check_run_create(writes.create)
    if writes.end is not None and writes.end.end_time is not None:
        check_int("end_time", writes.end.end_time, minimum=0)

"""Evaluations: typed records and the checks of what a client sends (no I/O).

An evaluation is computed where the data is (the SDK, `plimsoll.evaluation.compute`) and stored as
sent: the server checks its shape and limits, not its arithmetic. It holds the task's metrics on
the whole table, per slice (a column's values) and, for classification, per group of each
sensitive feature with the fairness quantities and their bootstrap intervals; what the charts
need (ROC and PR curves of at most `MAX_CURVE_POINTS` points, calibration bins, the confusion
matrix); latency and cost as measured (or given); the model version and dataset version it
evaluated, which link it in the lineage graph (`model:NAME/VERSION -> evaluation:ID <-
dataset:NAME@VERSION`); and the digest of the true labels, so that champion and challenger are
compared only on the same data.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.validation import (
    INT64_MAX,
    MAX_DESCRIPTION_LENGTH,
    check_int,
    check_name,
    check_text,
    printable,
)
from plimsoll.gates import vocabulary

# The metrics of each task, in the order a table shows them: the names (and which way each is
# better) are the release gates' vocabulary, so that a policy gates on what was measured.
CLASSIFICATION_LABEL_METRICS = tuple(vocabulary.CLASSIFICATION_LABEL_METRICS)
CLASSIFICATION_SCORE_METRICS = tuple(vocabulary.CLASSIFICATION_SCORE_METRICS)
CLASSIFICATION_METRICS = CLASSIFICATION_LABEL_METRICS + CLASSIFICATION_SCORE_METRICS
REGRESSION_METRICS = tuple(vocabulary.REGRESSION_METRICS)
# A group's rates that the fairness quantities are built from.
GROUP_RATES = ("selection_rate", "true_positive_rate", "false_positive_rate")
FAIRNESS_METRICS = tuple(vocabulary.FAIRNESS_METRICS)

TASKS: dict[str, tuple[str, ...]] = {
    "classification": CLASSIFICATION_METRICS,
    "regression": REGRESSION_METRICS,
}
ALL_METRICS: tuple[str, ...] = CLASSIFICATION_METRICS + REGRESSION_METRICS
# A group's metrics under a sensitive feature: its rates (with intervals) and its accuracy.
GROUP_METRICS: tuple[str, ...] = (*GROUP_RATES, "accuracy")
# Which way is better, for a comparison: +1 higher, -1 lower.
DIRECTION: dict[str, int] = {
    name: 1 if vocabulary.higher_is_better(name) else -1
    for name in (*ALL_METRICS, *FAIRNESS_METRICS, *vocabulary.LATENCY_METRICS, *vocabulary.COST_METRICS)
}

MAX_SLICE_COLUMNS = 20
MAX_SLICE_VALUES = 100  # values of one slice column (or groups of one sensitive feature)
MAX_SENSITIVE = 10
MAX_CURVE_POINTS = 200
MAX_CALIBRATION_BINS = 100
MAX_COLUMN_LENGTH = 256
MAX_VALUE_LENGTH = 256
MAX_LABEL_LENGTH = 256
MAX_RESAMPLES = 10_000
MAX_NOTES = 50
MAX_NOTE_LENGTH = 1000
MAX_EVALUATIONS_LISTED = 1000
DEFAULT_EVALUATIONS_LISTED = 50
DIGEST_PATTERN = r"^[0-9a-f]{64}$"
_DIGEST = re.compile(DIGEST_PATTERN)


def finite_or_none(value: Any) -> float | None:
    """A float JSON carries: None for None, NaN and the infinities."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(frozen=True)
class Interval:
    """A point estimate and its bootstrap interval (None where undefined or not computed)."""

    value: float | None
    lower: float | None = None
    upper: float | None = None

    def to_dict(self) -> dict[str, float | None]:
        return asdict(self)

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Interval:
        return cls(body.get("value"), body.get("lower"), body.get("upper"))


@dataclass(frozen=True)
class SliceValue:
    """The task's metrics on the rows holding one value of a slice column."""

    rows: int
    metrics: dict[str, float | None]

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "metrics": dict(self.metrics)}

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> SliceValue:
        return cls(int(body["rows"]), dict(body.get("metrics") or {}))


@dataclass(frozen=True)
class Group:
    """One group of a sensitive feature: its rows, its rates with their bootstrap intervals, and
    whether it was `used` (False: fewer rows than the minimum group size; reported, but left out
    of the fairness quantities and their intervals)."""

    rows: int
    used: bool
    metrics: dict[str, Interval]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "used": self.used,
            "metrics": {name: m.to_dict() for name, m in self.metrics.items()},
        }

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Group:
        metrics = {name: Interval.from_dict(m) for name, m in (body.get("metrics") or {}).items()}
        return cls(int(body["rows"]), bool(body["used"]), metrics)


@dataclass(frozen=True)
class Fairness:
    """Fairness across the groups of one sensitive feature: Fairlearn's demographic parity
    difference and ratio and equalized odds difference over the groups used, each with its
    bootstrap interval; `note` says why a quantity is undefined (fewer than two groups used)."""

    groups: dict[str, Group]
    metrics: dict[str, Interval]
    min_group_size: int
    note: str | None = None

    @property
    def small_groups(self) -> list[str]:
        """The groups reported but not used: fewer rows than `min_group_size`."""
        return [name for name, group in self.groups.items() if not group.used]

    def to_dict(self) -> dict[str, Any]:
        return {
            "groups": {name: g.to_dict() for name, g in self.groups.items()},
            "metrics": {name: m.to_dict() for name, m in self.metrics.items()},
            "min_group_size": self.min_group_size,
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Fairness:
        return cls(
            {name: Group.from_dict(g) for name, g in (body.get("groups") or {}).items()},
            {name: Interval.from_dict(m) for name, m in (body.get("metrics") or {}).items()},
            int(body["min_group_size"]),
            body.get("note"),
        )


@dataclass(frozen=True)
class Curves:
    """What the charts draw, for binary classification: the ROC curve as (false positive rate, true
    positive rate, threshold) and the PR curve as (recall, precision, threshold) points, at most
    MAX_CURVE_POINTS each (the first point's threshold, +inf, is None); calibration bins as (lower
    edge, upper edge, rows, mean score, fraction positive); the confusion matrix [[TN, FP], [FN,
    TP]] with the negative and positive labels."""

    roc: tuple[tuple[float | None, ...], ...] = ()
    pr: tuple[tuple[float | None, ...], ...] = ()
    calibration: tuple[tuple[float | None, ...], ...] = ()
    confusion: tuple[tuple[int, ...], ...] = ()
    labels: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "roc": [list(p) for p in self.roc],
            "pr": [list(p) for p in self.pr],
            "calibration": [list(b) for b in self.calibration],
            "confusion": [list(r) for r in self.confusion],
            "labels": list(self.labels),
        }

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Curves:
        return cls(
            tuple(tuple(p) for p in body.get("roc") or ()),
            tuple(tuple(p) for p in body.get("pr") or ()),
            tuple(tuple(b) for b in body.get("calibration") or ()),
            tuple(tuple(r) for r in body.get("confusion") or ()),
            tuple(body.get("labels") or ()),
        )


@dataclass(frozen=True)
class Latency:
    """Prediction latency in milliseconds: one row at a time and in batches of `batch_size` rows,
    the median and 99th percentile of each. Measured where the model runs (`measure_latency`), or
    given: a gate's test injects it rather than timing the machine it runs on."""

    single_p50_ms: float | None = None
    single_p99_ms: float | None = None
    batch_p50_ms: float | None = None
    batch_p99_ms: float | None = None
    batch_size: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Latency:
        return cls(**{k: body.get(k) for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Cost:
    """What predicting costs: the model's size in bytes, the CPU-seconds the evaluation's
    `predictions` took, and a price per 1,000 predictions (configured: given as such, or worked
    out from a price per CPU-hour by `measure_cost`)."""

    model_bytes: int | None = None
    cpu_seconds: float | None = None
    predictions: int | None = None
    price_per_1000: float | None = None

    @property
    def cpu_seconds_per_1000(self) -> float | None:
        if self.cpu_seconds is None or not self.predictions:
            return None
        return self.cpu_seconds / self.predictions * 1000

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cpu_seconds_per_1000": self.cpu_seconds_per_1000}

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Cost:
        return cls(**{k: body.get(k) for k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Bootstrap:
    """How the intervals were drawn: resamples, the central confidence and the seed."""

    resamples: int
    confidence: float
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Bootstrap:
        return cls(int(body["resamples"]), float(body["confidence"]), int(body["seed"]))


@dataclass(frozen=True)
class NewEvaluation:
    """What the SDK sends: a computed evaluation, before the server gives it an id and links it."""

    task: str
    rows: int
    labels_digest: str
    metrics: dict[str, float | None]
    project: str = "default"
    model: str | None = None  # NAME/VERSION (or NAME@ALIAS, resolved when stored)
    dataset: str | None = None  # NAME@VERSION (or NAME, its latest)
    slices: dict[str, dict[str, SliceValue]] = field(default_factory=dict)
    fairness: dict[str, Fairness] = field(default_factory=dict)
    curves: Curves | None = None
    latency: Latency | None = None
    cost: Cost | None = None
    bootstrap: Bootstrap | None = None
    threshold: float | None = None
    description: str = ""
    notes: tuple[str, ...] = ()  # why a metric of the whole table is undefined (None)

    def body(self) -> dict[str, Any]:
        """The JSON the route reads."""
        return {
            "task": self.task,
            "rows": self.rows,
            "labels_digest": self.labels_digest,
            "metrics": dict(self.metrics),
            "project": self.project,
            "model": self.model,
            "dataset": self.dataset,
            "slices": {c: {v: s.to_dict() for v, s in values.items()} for c, values in self.slices.items()},
            "fairness": {name: f.to_dict() for name, f in self.fairness.items()},
            "curves": None if self.curves is None else self.curves.to_dict(),
            "latency": None if self.latency is None else self.latency.to_dict(),
            "cost": None if self.cost is None else _cost_body(self.cost),
            "bootstrap": None if self.bootstrap is None else self.bootstrap.to_dict(),
            "threshold": self.threshold,
            "description": self.description,
            "notes": list(self.notes),
        }

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> NewEvaluation:
        return cls(
            task=body["task"],
            rows=int(body["rows"]),
            labels_digest=body["labels_digest"],
            metrics=dict(body.get("metrics") or {}),
            project=body.get("project") or "default",
            model=body.get("model"),
            dataset=body.get("dataset"),
            slices={
                column: {value: SliceValue.from_dict(s) for value, s in values.items()}
                for column, values in (body.get("slices") or {}).items()
            },
            fairness={name: Fairness.from_dict(f) for name, f in (body.get("fairness") or {}).items()},
            curves=None if body.get("curves") is None else Curves.from_dict(body["curves"]),
            latency=None if body.get("latency") is None else Latency.from_dict(body["latency"]),
            cost=None if body.get("cost") is None else Cost.from_dict(body["cost"]),
            bootstrap=None if body.get("bootstrap") is None else Bootstrap.from_dict(body["bootstrap"]),
            threshold=body.get("threshold"),
            description=body.get("description") or "",
            notes=tuple(body.get("notes") or ()),
        )


def _cost_body(cost: Cost) -> dict[str, Any]:
    return {k: v for k, v in cost.to_dict().items() if k != "cpu_seconds_per_1000"}


@dataclass(frozen=True)
class Evaluation:
    """A stored evaluation. `model` is the exact version evaluated (`NAME/VERSION`), `dataset` the
    exact dataset version (`NAME@VERSION`), when given; `node` its lineage node."""

    id: str
    project: str
    task: str
    rows: int
    labels_digest: str
    metrics: dict[str, float | None]
    model: str | None
    dataset: str | None
    slices: dict[str, dict[str, SliceValue]]
    fairness: dict[str, Fairness]
    curves: Curves | None
    latency: Latency | None
    cost: Cost | None
    bootstrap: Bootstrap | None
    threshold: float | None
    description: str
    created_by: str
    created_at: int
    notes: tuple[str, ...] = ()

    @property
    def node(self) -> str:
        return f"evaluation:{self.id}"

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v:.4g}" for k, v in list(self.metrics.items())[:3] if v is not None)
        of = f" of {self.model}" if self.model else ""
        on = f" on {self.dataset}" if self.dataset else ""
        return f"<Evaluation {self.id[-8:]} {self.task}{of}{on}: {shown}>"

    def to_dict(self) -> dict[str, Any]:
        body = NewEvaluation(
            self.task,
            self.rows,
            self.labels_digest,
            self.metrics,
            self.project,
            self.model,
            self.dataset,
            self.slices,
            self.fairness,
            self.curves,
            self.latency,
            self.cost,
            self.bootstrap,
            self.threshold,
            self.description,
            self.notes,
        ).body()
        if self.cost is not None:
            body["cost"] = self.cost.to_dict()
        return {"id": self.id, **body, "created_by": self.created_by, "created_at": self.created_at}

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Evaluation:
        new = NewEvaluation.from_body(body)
        return cls(
            id=body["id"],
            project=new.project,
            task=new.task,
            rows=new.rows,
            labels_digest=new.labels_digest,
            metrics=new.metrics,
            model=new.model,
            dataset=new.dataset,
            slices=new.slices,
            fairness=new.fairness,
            curves=new.curves,
            latency=new.latency,
            cost=new.cost,
            bootstrap=new.bootstrap,
            threshold=new.threshold,
            description=new.description,
            created_by=body["created_by"],
            created_at=int(body["created_at"]),
            notes=new.notes,
        )

    def measurements(self) -> dict[str, float | None]:
        """Every number a comparison (or a gate) reads, by name: the metrics, each sensitive
        feature's fairness quantities (`FEATURE.demographic_parity_difference`), latency and cost."""
        found: dict[str, float | None] = dict(self.metrics)
        for feature, fairness in self.fairness.items():
            for name, interval in fairness.metrics.items():
                found[f"{feature}.{name}"] = interval.value
        if self.latency is not None:
            found.update({k: v for k, v in self.latency.to_dict().items() if k != "batch_size"})
        if self.cost is not None:
            found["model_bytes"] = None if self.cost.model_bytes is None else float(self.cost.model_bytes)
            found["cpu_seconds_per_1000"] = self.cost.cpu_seconds_per_1000
            found["price_per_1000"] = self.cost.price_per_1000
        return found

    def evidence(self) -> dict[str, Any]:
        """This evaluation as the release gates' evidence (the JSON shape of
        `plimsoll.gates.entities.Evidence`): the defined metrics, each slice's rows and metrics,
        each fairness measure over the sensitive feature where it is least favourable to the model
        (with its bootstrap interval), latency, cost, and the dataset version as `evaluation`."""
        confidence = None if self.bootstrap is None else self.bootstrap.confidence
        fairness: dict[str, dict[str, float]] = {}
        for name in FAIRNESS_METRICS:
            measured = [f.metrics[name] for f in self.fairness.values() if name in f.metrics]
            worst = _least_favourable(name, [m for m in measured if m.value is not None])
            if worst is not None:
                fairness[name] = {
                    key: number
                    for key, number in (*asdict(worst).items(), ("confidence", confidence))
                    if number is not None
                }
        measurements = self.measurements()
        return {
            "metrics": _defined(self.metrics),
            "slices": {
                column: {
                    value: {"count": found.rows, "metrics": _defined(found.metrics)}
                    for value, found in values.items()
                }
                for column, values in self.slices.items()
            },
            "fairness": fairness,
            "latency": _defined({k: measurements.get(k) for k in vocabulary.LATENCY_METRICS}),
            "cost": _defined({k: measurements.get(k) for k in vocabulary.COST_METRICS}),
            "datasets": {} if self.dataset is None else {"evaluation": self.dataset},
            "source": self.node,
        }


def _defined(numbers: Mapping[str, float | None]) -> dict[str, float]:
    return {name: number for name, number in numbers.items() if number is not None}


def _least_favourable(name: str, measured: list[Interval]) -> Interval | None:
    """Of one fairness measure over several sensitive features, the one a gate would judge
    hardest: the highest upper bound where lower is better, the lowest lower bound otherwise."""
    if not measured:
        return None
    if DIRECTION[name] < 0:
        return max(measured, key=lambda m: m.upper if m.upper is not None else m.value or 0.0)
    return min(measured, key=lambda m: m.lower if m.lower is not None else m.value or 0.0)


@dataclass(frozen=True)
class MetricChange:
    """One number of a champion against a challenger: `better` names the side it favours
    ("champion", "challenger" or "tie"; None where either is undefined or no direction is known)."""

    champion: float | None
    challenger: float | None
    delta: float | None
    better: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> MetricChange:
        return cls(body.get("champion"), body.get("challenger"), body.get("delta"), body.get("better"))


@dataclass(frozen=True)
class Comparison:
    """Champion against challenger, evaluated on the same data (the same true labels, row for row):
    each number both have, with the challenger's change and the side it favours."""

    champion: Evaluation
    challenger: Evaluation
    metrics: dict[str, MetricChange]

    @property
    def challenger_wins(self) -> list[str]:
        return [name for name, change in self.metrics.items() if change.better == "challenger"]

    @property
    def champion_wins(self) -> list[str]:
        return [name for name, change in self.metrics.items() if change.better == "champion"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "champion": self.champion.to_dict(),
            "challenger": self.challenger.to_dict(),
            "metrics": {name: change.to_dict() for name, change in self.metrics.items()},
        }

    @classmethod
    def from_dict(cls, body: Mapping[str, Any]) -> Comparison:
        return cls(
            Evaluation.from_dict(body["champion"]),
            Evaluation.from_dict(body["challenger"]),
            {name: MetricChange.from_dict(c) for name, c in body["metrics"].items()},
        )


def compare_measurements(champion: Evaluation, challenger: Evaluation) -> dict[str, MetricChange]:
    """Every number both evaluations hold, in the champion's order."""
    ours, theirs = champion.measurements(), challenger.measurements()
    found: dict[str, MetricChange] = {}
    for name, before in ours.items():
        if name not in theirs:
            continue
        after = theirs[name]
        delta = None if before is None or after is None else after - before
        direction = DIRECTION.get(name.rpartition(".")[2])
        better = None
        if delta is not None and direction is not None:
            better = "tie" if delta == 0 else "challenger" if delta * direction > 0 else "champion"
        found[name] = MetricChange(before, after, delta, better)
    return found


# -- checks ------------------------------------------------------------------------------------------


def check_task(field_name: str, value: Any) -> str:
    if value not in TASKS:
        raise InvalidParameter(field_name, f"must be one of {', '.join(TASKS)}; got {printable(value)!r}")
    return str(value)


def check_number(field_name: str, value: Any, *, nullable: bool = True) -> float | None:
    """A finite number (or None where `nullable`): what a JSON number is."""
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        allowed = "a finite number or null" if nullable else "a finite number"
        raise InvalidParameter(field_name, f"must be {allowed}, got {printable(value)!r}")
    return float(value)


def _check_count(field_name: str, value: Any, *, nullable: bool = False) -> int | None:
    if value is None and nullable:
        return None
    return check_int(field_name, value, minimum=0, maximum=INT64_MAX)


def _check_label(field_name: str, value: Any, max_length: int) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidParameter(field_name, f"must be a non-empty string, got {printable(value)!r}")
    return check_text(field_name, value, max_length=max_length)


def _check_metrics(field_name: str, metrics: Any, allowed: tuple[str, ...], task: str) -> None:
    if not isinstance(metrics, Mapping):
        raise InvalidParameter(
            field_name, f"must be an object of metric -> number, got {type(metrics).__name__}"
        )
    for name, value in metrics.items():
        if name not in allowed:
            raise InvalidParameter(
                field_name, f"{printable(name)!r} is not a {task} metric; they are: {', '.join(allowed)}"
            )
        check_number(f"{field_name}.{name}", value)


def _check_interval(field_name: str, interval: Any) -> None:
    if not isinstance(interval, Interval):
        raise InvalidParameter(field_name, f"must be an Interval, got {type(interval).__name__}")
    for part in ("value", "lower", "upper"):
        check_number(f"{field_name}.{part}", getattr(interval, part))


def _check_points(field_name: str, points: Any, width: int, limit: int, *, counts: bool = False) -> None:
    if len(points) > limit:
        raise InvalidParameter(field_name, f"has {len(points)} points; the limit is {limit}")
    for index, point in enumerate(points):
        if len(point) != width:
            raise InvalidParameter(f"{field_name}[{index}]", f"must have {width} numbers, got {len(point)}")
        for position, value in enumerate(point):
            where = f"{field_name}[{index}][{position}]"
            if counts:
                _check_count(where, value)
            else:
                check_number(where, value)


def check_new_evaluation(new: NewEvaluation) -> NewEvaluation:
    """Every field of a computed evaluation, naming the field and its limit."""
    if not isinstance(new, NewEvaluation):
        raise InvalidParameter("evaluation", f"must be a NewEvaluation, got {type(new).__name__}")
    task = check_task("task", new.task)
    check_name("project", new.project)
    check_int("rows", new.rows, minimum=1, maximum=INT64_MAX)
    if not isinstance(new.labels_digest, str) or not _DIGEST.match(new.labels_digest):
        raise InvalidParameter("labels_digest", "must be a BLAKE3 digest: 64 lowercase hexadecimal digits")
    allowed = TASKS[task]
    _check_metrics("metrics", new.metrics, allowed, task)
    if new.model is not None:
        _check_label("model", new.model, MAX_LABEL_LENGTH)
    if new.dataset is not None:
        _check_label("dataset", new.dataset, MAX_LABEL_LENGTH)
    check_text("description", new.description, max_length=MAX_DESCRIPTION_LENGTH)
    check_number("threshold", new.threshold)
    if len(new.notes) > MAX_NOTES:
        raise InvalidParameter("notes", f"has {len(new.notes)} notes; the limit is {MAX_NOTES}")
    for index, note in enumerate(new.notes):
        check_text(f"notes[{index}]", note, max_length=MAX_NOTE_LENGTH)
    if len(new.slices) > MAX_SLICE_COLUMNS:
        raise InvalidParameter("slices", f"has {len(new.slices)} columns; the limit is {MAX_SLICE_COLUMNS}")
    for column, values in new.slices.items():
        where = f"slices.{printable(column)}"
        _check_label("slices", column, MAX_COLUMN_LENGTH)
        if len(values) > MAX_SLICE_VALUES:
            raise InvalidParameter(where, f"has {len(values)} values; the limit is {MAX_SLICE_VALUES}")
        for value, found in values.items():
            inner = f"{where}.{printable(value)}"
            _check_label(where, value, MAX_VALUE_LENGTH)
            if not isinstance(found, SliceValue):
                raise InvalidParameter(inner, f"must be a SliceValue, got {type(found).__name__}")
            _check_count(f"{inner}.rows", found.rows)
            _check_metrics(f"{inner}.metrics", found.metrics, allowed, task)
    if new.fairness and task != "classification":
        raise InvalidParameter("fairness", "is measured for classification only; use slices for regression")
    if len(new.fairness) > MAX_SENSITIVE:
        raise InvalidParameter("fairness", f"has {len(new.fairness)} features; the limit is {MAX_SENSITIVE}")
    for feature, fairness in new.fairness.items():
        _check_fairness(feature, fairness)
    if new.curves is not None:
        if task != "classification":
            raise InvalidParameter("curves", "are drawn for classification only")
        _check_curves(new.curves)
    if new.latency is not None:
        if not isinstance(new.latency, Latency):
            raise InvalidParameter("latency", f"must be a Latency, got {type(new.latency).__name__}")
        for name in ("single_p50_ms", "single_p99_ms", "batch_p50_ms", "batch_p99_ms"):
            _check_nonnegative(f"latency.{name}", getattr(new.latency, name))
        if new.latency.batch_size is not None:
            check_int("latency.batch_size", new.latency.batch_size, minimum=1, maximum=INT64_MAX)
    if new.cost is not None:
        if not isinstance(new.cost, Cost):
            raise InvalidParameter("cost", f"must be a Cost, got {type(new.cost).__name__}")
        _check_count("cost.model_bytes", new.cost.model_bytes, nullable=True)
        _check_count("cost.predictions", new.cost.predictions, nullable=True)
        _check_nonnegative("cost.cpu_seconds", new.cost.cpu_seconds)
        _check_nonnegative("cost.price_per_1000", new.cost.price_per_1000)
    if new.bootstrap is not None:
        if not isinstance(new.bootstrap, Bootstrap):
            raise InvalidParameter("bootstrap", f"must be a Bootstrap, got {type(new.bootstrap).__name__}")
        check_int("bootstrap.resamples", new.bootstrap.resamples, minimum=1, maximum=MAX_RESAMPLES)
        confidence = check_number("bootstrap.confidence", new.bootstrap.confidence, nullable=False)
        if confidence is None or not 0.0 < confidence < 1.0:
            raise InvalidParameter("bootstrap.confidence", f"must be within (0, 1), got {confidence!r}")
        check_int("bootstrap.seed", new.bootstrap.seed, minimum=0, maximum=INT64_MAX)
    return new


def _check_nonnegative(field_name: str, value: Any) -> None:
    number = check_number(field_name, value)
    if number is not None and number < 0:
        raise InvalidParameter(field_name, f"must not be negative, got {number}")


def _check_fairness(feature: str, fairness: Any) -> None:
    where = f"fairness.{printable(feature)}"
    _check_label("fairness", feature, MAX_COLUMN_LENGTH)
    if not isinstance(fairness, Fairness):
        raise InvalidParameter(where, f"must be a Fairness, got {type(fairness).__name__}")
    check_int(f"{where}.min_group_size", fairness.min_group_size, minimum=1, maximum=INT64_MAX)
    if fairness.note is not None:
        check_text(f"{where}.note", fairness.note, max_length=MAX_DESCRIPTION_LENGTH)
    if len(fairness.groups) > MAX_SLICE_VALUES:
        raise InvalidParameter(
            f"{where}.groups", f"has {len(fairness.groups)} groups; the limit is {MAX_SLICE_VALUES}"
        )
    for name, interval in fairness.metrics.items():
        if name not in FAIRNESS_METRICS:
            raise InvalidParameter(
                f"{where}.metrics", f"{printable(name)!r} is not one of {', '.join(FAIRNESS_METRICS)}"
            )
        _check_interval(f"{where}.metrics.{name}", interval)
    for value, group in fairness.groups.items():
        inner = f"{where}.groups.{printable(value)}"
        _check_label(f"{where}.groups", value, MAX_VALUE_LENGTH)
        if not isinstance(group, Group):
            raise InvalidParameter(inner, f"must be a Group, got {type(group).__name__}")
        _check_count(f"{inner}.rows", group.rows)
        if not isinstance(group.used, bool):
            raise InvalidParameter(f"{inner}.used", f"must be true or false, got {printable(group.used)!r}")
        for name, interval in group.metrics.items():
            if name not in GROUP_METRICS:
                raise InvalidParameter(
                    f"{inner}.metrics", f"{printable(name)!r} is not one of {', '.join(GROUP_METRICS)}"
                )
            _check_interval(f"{inner}.metrics.{name}", interval)


def _check_curves(curves: Any) -> None:
    if not isinstance(curves, Curves):
        raise InvalidParameter("curves", f"must be Curves, got {type(curves).__name__}")
    _check_points("curves.roc", curves.roc, 3, MAX_CURVE_POINTS)
    _check_points("curves.pr", curves.pr, 3, MAX_CURVE_POINTS)
    _check_points("curves.calibration", curves.calibration, 5, MAX_CALIBRATION_BINS)
    _check_points("curves.confusion", curves.confusion, 2, 2, counts=True)
    if len(curves.labels) > 2:
        raise InvalidParameter("curves.labels", f"has {len(curves.labels)} labels; binary has 2")
    for index, label in enumerate(curves.labels):
        check_text(f"curves.labels[{index}]", label, max_length=MAX_VALUE_LENGTH)

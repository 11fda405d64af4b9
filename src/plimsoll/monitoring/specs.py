"""Monitors and their windows as records, and the checks of what a user asks for (no I/O).

A monitor watches a model alias's traffic (the rows of whichever version held the alias, served as
the stable version or by no deployment: a canary's and a shadow's rows never mix in) against a
reference, window after window:

    reference   where "normal" comes from: a registered dataset version, the newest evaluation of
                the version the alias holds, or a stretch of the alias's own logged traffic
    features    the columns to watch (default: every feature of the reference that is logged)
    window      by time (`every`, aligned to UTC: "1h", "1d") or by count (`rows`)
    delay       how long after a window ends it is computed (rows logged late still count)
    segment_by  a column whose values (the most frequent `max_segments`) each get their own results
    multivariate  a domain classifier on every window too (seconds a window: off by default)
    rules       what breaks a window (`rules.Rule`); default rules ship with every monitor
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.validation import check_name, check_text, printable
from plimsoll.monitoring.rules import Rule

REFERENCE_KINDS = ("dataset", "evaluation", "traffic")
TASKS = ("classification", "regression")
MAX_FEATURES = 500
MAX_SEGMENTS = 50
MAX_RULES = 100
MIN_WINDOW_MS = 60_000  # a minute
MAX_WINDOW_MS = 366 * 86_400_000
MAX_WINDOW_ROWS = 10_000_000
MAX_WINDOWS_PER_RUN = 10_000
_DURATION = re.compile(r"^(0|[1-9][0-9]{0,5})(s|m|h|d|w)$")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}


@dataclass(frozen=True, slots=True)
class Reference:
    """Where a monitor's "normal" comes from. `target` is the reference's label column (a
    dataset's), `prediction` and `score` its columns holding the model's answers and scores
    (`__prediction` and `__score` when present), for prediction drift, the reference's metrics
    and the label-free estimate's calibration."""

    kind: str
    dataset: str = ""  # NAME@VERSION, for kind "dataset"
    target: str = ""
    prediction: str = ""
    score: str = ""
    since: int = 0  # epoch ms, for kind "traffic"
    until: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Reference:
        return cls(**{name: body[name] for name in cls.__dataclass_fields__ if name in body})


@dataclass(frozen=True, slots=True)
class Monitor:
    id: str
    project: str
    name: str
    model: str
    alias: str
    reference: Reference
    features: tuple[str, ...]
    every_ms: int  # 0 for windows by count
    window_rows: int  # 0 for windows by time
    delay_ms: int
    start: int  # epoch ms: the first window's start
    segment_by: str
    max_segments: int
    alpha: float
    task: str
    rules: tuple[Rule, ...]
    multivariate: bool
    reference_rows: int
    reference_metrics: dict[str, float]
    created_by: str
    created_at: int
    updated_at: int
    last_window_end: int  # epoch ms; `start` until a window is computed
    last_run_at: int
    last_error: str
    stale: bool
    url: str = field(init=False)

    def __post_init__(self) -> None:
        # The monitor's page in the web UI (server/ui/monitors.py), as a path on the server.
        path = f"/monitors/{quote(self.name, safe='')}?project={quote(self.project, safe='')}"
        object.__setattr__(self, "url", path)

    @property
    def ref(self) -> str:
        return f"{self.model}@{self.alias}"

    def describe_window(self) -> str:
        return format_duration(self.every_ms) if self.every_ms else f"{self.window_rows:,} rows"

    def to_dict(self) -> dict[str, Any]:
        body = {name: getattr(self, name) for name in self.__dataclass_fields__}
        body["reference"] = self.reference.to_dict()
        body["features"] = list(self.features)
        body["rules"] = [rule.to_dict() for rule in self.rules]
        return body

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> Monitor:
        values = {name: body[name] for name in cls.__dataclass_fields__ if name != "url"}
        values["reference"] = Reference.from_dict(body["reference"])
        values["features"] = tuple(body["features"])
        values["rules"] = tuple(Rule.from_dict(rule) for rule in body["rules"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class MonitorWindow:
    """One window's results for one segment ("" for all the monitor's traffic). `values` are the
    monitored values rules compare (`rules.VALUES`), `signals` each rule's verdict."""

    id: str
    monitor_id: str
    segment: str
    start: int
    end: int
    rows: int
    version: int | None
    drift: dict[str, Any]
    quality: dict[str, Any]
    performance: dict[str, Any]
    outcomes: dict[str, Any]
    values: dict[str, float | None]
    signals: tuple[dict[str, Any], ...]
    computed_at: int
    labels_at: int  # when realised performance was last brought up to date

    @property
    def breaking(self) -> list[dict[str, Any]]:
        return [signal for signal in self.signals if signal["active"]]

    def to_dict(self) -> dict[str, Any]:
        body = {name: getattr(self, name) for name in self.__dataclass_fields__}
        body["signals"] = list(self.signals)
        return body

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> MonitorWindow:
        values = {name: body[name] for name in cls.__dataclass_fields__}
        values["signals"] = tuple(body["signals"])
        return cls(**values)


def parse_duration(
    field_name: str, value: Any, *, minimum_ms: int = 0, maximum_ms: int = MAX_WINDOW_MS
) -> int:
    """ "90s", "5m", "1h", "1d", "2w" (or a number of milliseconds) as milliseconds."""
    if isinstance(value, bool):
        raise InvalidParameter(field_name, f"must be a duration such as '1h' or '1d'; got {value!r}")
    if isinstance(value, int):
        ms = value
    else:
        found = _DURATION.fullmatch(value.strip()) if isinstance(value, str) else None
        if found is None:
            raise InvalidParameter(
                field_name,
                f"must be a duration such as '30m', '1h', '1d' or '1w'; got {printable(value)[:40]!r}",
            )
        ms = int(found.group(1)) * _UNIT_MS[found.group(2)]
    if not minimum_ms <= ms <= maximum_ms:
        raise InvalidParameter(
            field_name,
            f"must be between {format_duration(minimum_ms)} and {format_duration(maximum_ms)}; "
            f"got {format_duration(ms) if ms > 0 else ms}",
        )
    return ms


def format_duration(ms: int) -> str:
    if ms == 0:
        return "0s"
    for unit in ("w", "d", "h", "m", "s"):
        if ms % _UNIT_MS[unit] == 0:
            return f"{ms // _UNIT_MS[unit]}{unit}"
    return f"{ms}ms"


def check_reference(field_name: str, value: Any) -> Reference:
    """A reference given as a dict, or as text: "dataset:NAME@VERSION", "evaluation",
    "traffic:SINCE..UNTIL" (epoch ms)."""
    body = _reference_body(field_name, value)
    unknown = sorted(set(body) - set(Reference.__dataclass_fields__))
    if unknown:
        raise InvalidParameter(f"{field_name}.{unknown[0]}", "is not a reference field")
    kind = body.get("kind")
    if kind not in REFERENCE_KINDS:
        raise InvalidParameter(
            f"{field_name}.kind", f"must be one of {', '.join(REFERENCE_KINDS)}; got {printable(kind)!r}"
        )
    target, prediction, score = (
        check_text(f"{field_name}.{name}", body.get(name) or "", max_length=256)
        for name in ("target", "prediction", "score")
    )
    if kind == "dataset":
        dataset = body.get("dataset")
        if not isinstance(dataset, str) or "@" not in dataset:
            raise InvalidParameter(
                f"{field_name}.dataset", f"must be NAME@VERSION; got {printable(dataset)!r}"
            )
        return Reference("dataset", dataset=dataset, target=target, prediction=prediction, score=score)
    if kind == "traffic":
        since, until = body.get("since"), body.get("until")
        if not isinstance(since, int) or not isinstance(until, int) or not 0 <= since < until:
            raise InvalidParameter(
                f"{field_name}.until",
                f"traffic needs 0 <= since < until in epoch ms; got {since!r}..{until!r}",
            )
        return Reference("traffic", target=target or "__label", since=since, until=until)
    return Reference("evaluation", target=target, prediction=prediction, score=score)


def _reference_body(field_name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, Reference):
        return value.to_dict()
    if isinstance(value, dict):
        return value
    if not isinstance(value, str):
        raise InvalidParameter(field_name, "must be an object with a `kind` (dataset, evaluation or traffic)")
    kind, _, rest = value.partition(":")
    if kind == "dataset":
        return {"kind": kind, "dataset": rest}
    if kind == "traffic":
        since, _, until = rest.partition("..")
        if not since.isdigit() or not until.isdigit():
            raise InvalidParameter(field_name, f"traffic needs SINCE..UNTIL in epoch ms; got {rest[:60]!r}")
        return {"kind": kind, "since": int(since), "until": int(until)}
    return {"kind": kind}


def check_features(field_name: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise InvalidParameter(field_name, "must be a list of column names")
    if len(value) > MAX_FEATURES:
        raise InvalidParameter(field_name, f"names {len(value)} columns; at most {MAX_FEATURES}")
    names = tuple(check_text(f"{field_name}[{i}]", name, max_length=256) for i, name in enumerate(value))
    if len(set(names)) != len(names):
        raise InvalidParameter(field_name, "names a column twice")
    return names


def check_monitor_name(field_name: str, value: Any) -> str:
    return check_name(field_name, value, max_length=200)

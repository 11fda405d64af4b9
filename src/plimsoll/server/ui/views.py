"""View models: what the templates show, shaped from tracking entities. No HTTP, no HTML.

runs_table()            columns of a runs table and how each header toggles `order_by`
comparison()            several runs side by side: params (differences marked), metrics, charts
comparison_plots()      the same runs as columns for the parallel-coordinates and scatter plots
code_and_environment()  git state, interpreter and packages a run recorded
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

from plimsoll.core.errors import InvalidParameter
from plimsoll.tracking.entities import (
    DIFF_ARTIFACT,
    ENVIRONMENT_ARTIFACT,
    SYSTEM_TAG_PREFIXES,
    Artifact,
    Run,
)
from plimsoll.tracking.search_language import DEFAULT_ORDER_BY, OrderItem, parse_order_item
from plimsoll.tracking.service import TrackingService

MAX_PARAM_COLUMNS = 6
MAX_METRIC_COLUMNS = 6
MAX_SHOWN_ARTIFACT_BYTES = 1024 * 1024

_PLAIN_KEY = re.compile(r"[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)*")

Sort = Literal["ascending", "descending", "none"]


def url(path: str, **params: str) -> str:
    """`path?a=1&b=2`, leaving out empty parameters."""
    query = urlencode({key: value for key, value in params.items() if value})
    return f"{path}?{query}" if query else path


def operand(prefix: str, key: str) -> str:
    """A search-language operand for a key: `metrics.acc`, or quoted as metrics.`val loss`."""
    if _PLAIN_KEY.fullmatch(key):
        return f"{prefix}.{key}"
    return f"{prefix}.`{key.replace('`', '``')}`"


def is_system_tag(key: str) -> bool:
    return key.startswith(SYSTEM_TAG_PREFIXES)


# -- runs table ----------------------------------------------------------------------------------


ColumnKind = Literal["name", "status", "start_time", "duration", "experiment", "param", "metric"]


@dataclass(frozen=True)
class Column:
    label: str
    kind: ColumnKind
    key: str = ""
    sort_url: str | None = None  # None: not sortable
    sort: Sort = "none"

    @property
    def arrow(self) -> str:
        return {"ascending": "▲", "descending": "▼", "none": ""}[self.sort]


@dataclass(frozen=True)
class RunsTable:
    columns: list[Column]
    order_by: str


def _sorted_by(order_by: str) -> OrderItem | None:
    """What the page sorts by (the search's default when none is given); None if unparseable."""
    try:
        return parse_order_item(order_by.strip() or DEFAULT_ORDER_BY[0])
    except InvalidParameter:
        return None


def _direction(sorted_by: OrderItem | None, entity: str, key: str) -> Sort:
    if sorted_by is None or (sorted_by.operand.entity, sorted_by.operand.key) != (entity, key):
        return "none"
    return "descending" if sorted_by.descending else "ascending"


def _sortable(
    label: str,
    kind: ColumnKind,
    entity: str,
    key: str,
    *,
    path: str,
    keep: dict[str, str],
    sorted_by: OrderItem | None,
    descending_first: bool,
) -> Column:
    sort = _direction(sorted_by, entity, key)
    if sort == "ascending":
        descending = True
    elif sort == "descending":
        descending = False
    else:
        descending = descending_first
    expression = key if entity == "attribute" else operand(f"{entity}s", key)
    target = f"{expression} {'DESC' if descending else 'ASC'}"
    return Column(label, kind, key if entity != "attribute" else "", url(path, **keep, order_by=target), sort)


def _common_keys(mappings: list[dict[str, Any]], limit: int, must: str | None) -> list[str]:
    """The keys most runs have (at most `limit`), alphabetically; `must` is kept if present."""
    counts = Counter(key for mapping in mappings for key in mapping)
    chosen = sorted(counts, key=lambda k: (-counts[k], k))[:limit]
    if must is not None and must in counts and must not in chosen:
        chosen[-1:] = [must]
    return sorted(chosen)


def runs_table(
    runs: list[Run], *, path: str, keep: dict[str, str], order_by: str, with_experiment: bool
) -> RunsTable:
    """The columns for these runs: name, status, start, duration, then the params and latest
    metrics most of them have. Each sortable header links to the same page (with the query
    parameters in `keep`, such as the filter) sorted by it, or the other way if it already is."""
    sorted_by = _sorted_by(order_by)
    common: dict[str, Any] = {"path": path, "keep": keep, "sorted_by": sorted_by}
    columns = [
        _sortable("Name", "name", "attribute", "name", descending_first=False, **common),
        _sortable("Status", "status", "attribute", "status", descending_first=False, **common),
        _sortable("Started", "start_time", "attribute", "start_time", descending_first=True, **common),
        Column("Duration", "duration"),
    ]
    if with_experiment:
        columns.insert(1, Column("Experiment", "experiment"))
    keyed: list[tuple[ColumnKind, list[dict[str, Any]], int, bool]] = [
        ("param", [run.params for run in runs], MAX_PARAM_COLUMNS, False),
        ("metric", [run.metrics for run in runs], MAX_METRIC_COLUMNS, True),
    ]
    for kind, values, limit, descending_first in keyed:
        shown = sorted_by.operand.key if sorted_by and sorted_by.operand.entity == kind else None
        for key in _common_keys(values, limit, shown):
            columns.append(_sortable(key, kind, kind, key, descending_first=descending_first, **common))
    return RunsTable(columns, order_by)


# -- charts and comparison -----------------------------------------------------------------------


def chart_series(run: Run, color: int) -> dict[str, Any]:
    """What charts.js needs to fetch and draw one run's series."""
    return {"run": run.id, "label": run.name or run.id[:8], "color": color}


@dataclass(frozen=True)
class Row:
    key: str
    values: list[Any]
    differs: bool


@dataclass(frozen=True)
class Comparison:
    runs: list[Run]
    series: list[dict[str, Any]]
    params: list[Row]
    metrics: list[Row]
    charts: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)

    @property
    def differing_params(self) -> int:
        return sum(row.differs for row in self.params)


def _same(values: list[Any]) -> bool:
    first = values[0]
    for value in values[1:]:
        both_nan = (
            isinstance(value, float) and isinstance(first, float) and math.isnan(value) and math.isnan(first)
        )
        if value != first and not both_nan:
            return False
    return True


def _row(key: str, values: list[Any]) -> Row:
    return Row(key, values, len(values) > 1 and not _same(values))


def comparison(runs: list[Run]) -> Comparison:
    series = [chart_series(run, index) for index, run in enumerate(runs)]
    param_keys = sorted({key for run in runs for key in run.params})
    metric_keys = sorted({key for run in runs for key in run.metrics})
    params = [_row(key, [run.params.get(key) for run in runs]) for key in param_keys]
    metrics = [_row(key, [run.metrics.get(key) for run in runs]) for key in metric_keys]
    charts = [
        (key, [s for s, run in zip(series, runs, strict=True) if key in run.metrics]) for key in metric_keys
    ]
    return Comparison(runs, series, params, metrics, charts)


def _number(value: Any) -> float | None:
    """A finite number from a param's text or a metric's value; None for anything else."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _plot_column(source: str, row: Row) -> dict[str, Any]:
    present = [value for value in row.values if value is not None]
    numbers = [_number(value) for value in row.values]
    numeric = source == "metric" or all(_number(value) is not None for value in present)
    values: list[Any] = numbers if numeric else [None if v is None else str(v) for v in row.values]
    return {"source": source, "key": row.key, "numeric": numeric, "values": values}


def comparison_plots(comparison: Comparison) -> dict[str, Any]:
    """What compare-plots.js draws the parallel coordinates and the scatter from: each param and
    metric as a column of one value per run (None where a run has none; NaN and infinities are
    None too, as JSON has no word for them). A param is numeric when all its values are numbers."""
    columns = [_plot_column("param", row) for row in comparison.params]
    columns += [_plot_column("metric", row) for row in comparison.metrics]
    metrics = [i for i, column in enumerate(columns) if column["source"] == "metric"]
    # The scatter starts with the first numeric param that differs against the first metric.
    differing = [i for i, row in enumerate(comparison.params) if row.differs and columns[i]["numeric"]]
    x = (differing or [i for i in range(len(columns)) if i not in metrics[:1]] or [0])[0]
    y = (metrics or [i for i in range(len(columns)) if i != x] or [0])[0]
    return {
        "runs": [{"id": s["run"], "label": s["label"], "color": s["color"]} for s in comparison.series],
        "columns": columns,
        "metric": metrics[0] if metrics else -1,
        "x": x,
        "y": y,
    }


# -- code and environment ------------------------------------------------------------------------


@dataclass(frozen=True)
class DiffLine:
    kind: Literal["add", "remove", "hunk", "file", "context"]
    text: str


@dataclass(frozen=True)
class CodeAndEnvironment:
    facts: list[tuple[str, str]]
    packages: list[tuple[str, str]] | None = None
    environment_text: str | None = None  # shown raw when it is not the document the SDK writes
    diff: list[DiffLine] | None = None
    diff_truncated: bool = False

    @property
    def empty(self) -> bool:
        return (
            not self.facts and self.packages is None and self.environment_text is None and self.diff is None
        )


_FACTS = (
    ("plimsoll.git.commit", "Git commit"),
    ("plimsoll.git.branch", "Branch"),
    ("plimsoll.git.remote", "Remote"),
    ("plimsoll.git.dirty", "Uncommitted changes"),
    ("plimsoll.source", "Entry point"),
    ("plimsoll.python", "Python"),
    ("plimsoll.platform", "Platform"),
)


def environment_packages(document: Any) -> list[tuple[str, str]] | None:
    if not isinstance(document, dict) or not isinstance(document.get("packages"), list):
        return None
    packages = []
    for item in document["packages"]:
        if not isinstance(item, dict):
            return None
        packages.append((str(item.get("name", "?")), str(item.get("version", ""))))
    return packages


def diff_line(line: str) -> DiffLine:
    if line.startswith(("+++", "---", "diff --git", "index ")):
        return DiffLine("file", line)
    if line.startswith("@@"):
        return DiffLine("hunk", line)
    if line.startswith("+"):
        return DiffLine("add", line)
    if line.startswith("-"):
        return DiffLine("remove", line)
    return DiffLine("context", line)


def code_and_environment(
    tracking: TrackingService, run: Run, artifacts: list[Artifact]
) -> CodeAndEnvironment:
    facts = [(label, run.tags[key]) for key, label in _FACTS if key in run.tags]
    by_path = {artifact.path: artifact for artifact in artifacts}
    packages = environment_text = diff = None
    truncated = False
    if ENVIRONMENT_ARTIFACT in by_path:
        data, cut = tracking.read_artifact(run.id, ENVIRONMENT_ARTIFACT, max_bytes=MAX_SHOWN_ARTIFACT_BYTES)
        try:
            packages = None if cut else environment_packages(json.loads(data))
        except ValueError:
            packages = None
        if packages is None:
            environment_text = data.decode(errors="replace")
    if DIFF_ARTIFACT in by_path:
        data, truncated = tracking.read_artifact(run.id, DIFF_ARTIFACT, max_bytes=MAX_SHOWN_ARTIFACT_BYTES)
        diff = [diff_line(line) for line in data.decode(errors="replace").splitlines()]
    return CodeAndEnvironment(facts, packages, environment_text, diff, truncated)

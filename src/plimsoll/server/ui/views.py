"""View models: what the templates show, shaped from tracking entities. No HTTP, no HTML.

runs_table()            columns of a runs table and how each header toggles `order_by`
child_runs()            a parent run's children, with the metrics most of them have
comparison()            several runs side by side: params (differences marked), metrics, charts
comparison_plots()      the same runs as columns for the parallel-coordinates and scatter plots
code_and_environment()  git state, interpreter and packages a run recorded
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
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
from plimsoll.tracking.run_columns import KeyColumn, choose_columns
from plimsoll.tracking.search_language import DEFAULT_ORDER_BY, OrderItem, parse_order_item
from plimsoll.tracking.service import TrackingService

MAX_CHILD_METRIC_COLUMNS = 4
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
    hidden: bool = False  # hidden until the reader shows it with the column picker
    pinned: bool = False  # sorted or filtered on: always shown

    @property
    def arrow(self) -> str:
        return {"ascending": "▲", "descending": "▼", "none": ""}[self.sort]

    @property
    def id(self) -> str:
        """What the column picker remembers: `status`, `param:lr`, `metric:roc_auc`."""
        return f"{self.kind}:{self.key}" if self.key else self.kind


@dataclass(frozen=True)
class TreeRow:
    """A run in the table's tree: nested runs follow their parent when it is on the same page."""

    run: Run
    depth: int = 0
    children: int = 0  # direct children on this page
    parent_id: str | None = None  # the parent's id when it is on this page


@dataclass(frozen=True)
class RunsTable:
    columns: list[Column]
    order_by: str
    rows: list[TreeRow] = field(default_factory=list)
    constant: list[tuple[KeyColumn, str | float]] = field(default_factory=list)  # same in every run


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
    hidden: bool = False,
    pinned: bool = False,
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
    column_key = key if entity != "attribute" else ""
    return Column(label, kind, column_key, url(path, **keep, order_by=target), sort, hidden, pinned)


def runs_table(
    runs: list[Run],
    *,
    path: str,
    keep: dict[str, str],
    order_by: str,
    with_experiment: bool,
    filter: str = "",
) -> RunsTable:
    """The columns for these runs, by `choose_columns` (the rule the CLI uses too): name, then the
    params and metrics sorted or filtered on, then those that differ between the runs; status and
    times; then, hidden until picked, the keys with one value in every run (also summarised once,
    in `constant`). Each sortable header links to the same page (with the query parameters in
    `keep`, such as the filter) sorted by it, or the other way if it already is."""
    sorted_by = _sorted_by(order_by)
    common: dict[str, Any] = {"path": path, "keep": keep, "sorted_by": sorted_by}
    choice = choose_columns(runs, order_by=[order_by] if order_by.strip() else [], filter=filter)
    pinned = set(choice.pinned)

    def key_column(column: KeyColumn, hidden: bool) -> Column:
        return _sortable(
            column.key,
            column.kind,
            column.kind,
            column.key,
            descending_first=column.kind == "metric",
            hidden=hidden,
            pinned=column in pinned,
            **common,
        )

    columns = [_sortable("Name", "name", "attribute", "name", descending_first=False, **common)]
    if with_experiment:
        columns.append(Column("Experiment", "experiment"))
    columns.append(_sortable("Status", "status", "attribute", "status", descending_first=False, **common))
    columns += [key_column(column, hidden=False) for column in choice.shown]
    columns += [
        _sortable("Started", "start_time", "attribute", "start_time", descending_first=True, **common),
        Column("Duration", "duration"),
    ]
    columns += [key_column(column, hidden=True) for column, _ in choice.constant]
    return RunsTable(columns, order_by, run_tree(runs), choice.constant)


# The filter behind the "Deleted" view: the search language says it, so the reader sees how.
DELETED_FILTER = "lifecycle_stage = 'deleted'"


@dataclass(frozen=True)
class ViewLink:
    label: str
    href: str
    current: bool


def lifecycle_links(path: str, keep: dict[str, str], order_by: str) -> list[ViewLink]:
    """Active runs (the default), active and deleted ones, deleted ones only (to restore them)."""
    with_deleted = keep.get("view") == "all"
    own_filter = keep.get("filter", "")
    only_deleted = with_deleted and own_filter == DELETED_FILTER
    others = {key: value for key, value in keep.items() if key not in ("view", "filter")}
    kept_filter = "" if only_deleted else own_filter
    return [
        ViewLink("Active", url(path, **others, filter=kept_filter, order_by=order_by), not with_deleted),
        ViewLink(
            "Active and deleted",
            url(path, **others, filter=kept_filter, view="all", order_by=order_by),
            with_deleted and not only_deleted,
        ),
        ViewLink(
            "Deleted", url(path, **others, filter=DELETED_FILTER, view="all", order_by=order_by), only_deleted
        ),
    ]


def run_tree(runs: list[Run]) -> list[TreeRow]:
    """The runs in page order, each followed by its children on the page (depth first). A run whose
    parent is on another page (or deleted, or filtered out) starts a tree of its own."""
    on_page = {run.id for run in runs}
    children: dict[str, list[Run]] = {}
    for run in runs:
        if run.parent_run_id in on_page and run.parent_run_id != run.id:
            children.setdefault(run.parent_run_id, []).append(run)
    rows: list[TreeRow] = []
    placed: set[str] = set()

    def place(run: Run, depth: int, parent_id: str | None) -> None:
        placed.add(run.id)
        below = [child for child in children.get(run.id, []) if child.id not in placed]
        rows.append(TreeRow(run, depth, len(below), parent_id))
        for child in below:
            if child.id not in placed:
                place(child, depth + 1, run.id)

    for run in runs:
        if run.parent_run_id not in on_page or run.parent_run_id == run.id:
            place(run, 0, None)
    for run in runs:  # a cycle of parents has no root: show its runs flat rather than lose them
        if run.id not in placed:
            place(run, 0, None)
    return rows


# -- charts and comparison -----------------------------------------------------------------------


def chart_series(run: Run, color: int) -> dict[str, Any]:
    """What charts.js needs to fetch and draw one run's series (`start`: where relative time is 0)."""
    return {"run": run.id, "label": run.name or run.id[:8], "color": color, "start": run.start_time}


# -- child runs ----------------------------------------------------------------------------------


def _common_keys(mappings: list[dict[str, Any]], limit: int) -> list[str]:
    """The keys most runs have (at most `limit`), alphabetically."""
    counts = Counter(key for mapping in mappings for key in mapping)
    return sorted(sorted(counts, key=lambda k: (-counts[k], k))[:limit])


@dataclass(frozen=True)
class ChildRuns:
    runs: list[Run]
    metric_keys: list[str]
    all_url: str | None  # the parent's experiment page, filtered to its children, when more exist


def children_filter(run_id: str) -> str:
    """The search-language filter for a run's children (ids are hex: nothing to quote)."""
    return f"attributes.parent_run_id = '{run_id}'"


def child_runs(runs: list[Run], *, parent: Run, more: bool) -> ChildRuns:
    """The children shown on a parent's page. The link to the rest stays inside the parent's
    experiment: the all-runs page needs a role in every project, this one only in the parent's."""
    keys = _common_keys([run.metrics for run in runs], MAX_CHILD_METRIC_COLUMNS)
    all_url = url(f"/experiments/{parent.experiment_id}", filter=children_filter(parent.id)) if more else None
    return ChildRuns(runs, keys, all_url)


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
    """A history chart per metric with more than one point in at least one run."""
    single_metrics: list[str] = field(default_factory=list)
    """The metrics with one point in every run that has them: read in the table, not as curves."""

    @property
    def differing_params(self) -> int:
        return sum(row.differs for row in self.params)


def comparison(runs: list[Run], history_keys: Mapping[str, Sequence[str]]) -> Comparison:
    """`history_keys`: each run's metric keys with more than one point (the tracking service's
    `metric_keys_with_history_by_run`). What differs is `choose_columns`' rule, as in a runs table."""
    series = [chart_series(run, index) for index, run in enumerate(runs)]
    choice = choose_columns(runs)
    differs = set(choice.shown)
    param_keys = sorted({key for run in runs for key in run.params})
    metric_keys = sorted({key for run in runs for key in run.metrics})
    params = [
        Row(key, [run.params.get(key) for run in runs], KeyColumn("param", key) in differs)
        for key in param_keys
    ]
    metrics = [
        Row(key, [run.metrics.get(key) for run in runs], KeyColumn("metric", key) in differs)
        for key in metric_keys
    ]
    with_history = {key for run in runs for key in history_keys.get(run.id, ())}
    charts = [
        (key, [s for s, run in zip(series, runs, strict=True) if key in run.metrics])
        for key in metric_keys
        if key in with_history
    ]
    single = [key for key in metric_keys if key not in with_history]
    return Comparison(runs, series, params, metrics, charts, single)


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


MAX_PARALLEL_PARAMS = 12  # more axes than this and their names cannot be read at a laptop's width


def _most_present(columns: list[dict[str, Any]], candidates: list[int]) -> int | None:
    """The candidate column with a value in the most runs; ties go to the first (they are sorted
    by key)."""
    if not candidates:
        return None
    return max(candidates, key=lambda i: (sum(v is not None for v in columns[i]["values"]), -i))


def comparison_plots(comparison: Comparison) -> dict[str, Any]:
    """What compare-plots.js draws the parallel coordinates, the scatter and the bars of single
    values from: each param and metric as a column of one value per run (None where a run has
    none; NaN and infinities are None too, as JSON has no word for them). A param is numeric when
    all its values are numbers.

    The parallel plot's axes are the params that differ (at most MAX_PARALLEL_PARAMS), then a
    metric; the params every run shares are in `same`, said once under it. The scatter starts with
    the numeric param most runs have among those with two values or more (ties: by name) against
    the metric most runs have (ties: by name), so that it shows as many runs as it can."""
    columns = [_plot_column("param", row) for row in comparison.params]
    columns += [_plot_column("metric", row) for row in comparison.metrics]
    metrics = [i for i, column in enumerate(columns) if column["source"] == "metric"]
    differing = [i for i, row in enumerate(comparison.params) if row.differs]
    numeric_differing = [i for i in differing if columns[i]["numeric"]]
    # A param that differs only by being absent from some runs draws its points on one vertical line.
    spread = [i for i in numeric_differing if len({v for v in columns[i]["values"] if v is not None}) > 1]
    metric = _most_present(columns, metrics)
    x = _most_present(columns, spread or numeric_differing)
    if x is None:
        x = ([i for i in range(len(columns)) if i != metric] or [0])[0]
    y = metric if metric is not None else ([i for i in range(len(columns)) if i != x] or [0])[0]
    single = set(comparison.single_metrics)
    return {
        "runs": [{"id": s["run"], "label": s["label"], "color": s["color"]} for s in comparison.series],
        "columns": columns,
        "parallel": differing[:MAX_PARALLEL_PARAMS],
        "not_drawn": [columns[i]["key"] for i in differing[MAX_PARALLEL_PARAMS:]],
        "same": [(row.key, row.values[0]) for row in comparison.params if not row.differs],
        "metric": -1 if metric is None else metric,
        "single": [i for i in metrics if columns[i]["key"] in single],
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

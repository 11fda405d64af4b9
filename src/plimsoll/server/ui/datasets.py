"""The data capability's pages: `/datasets` (the datasets of a project), `/datasets/{name}` (its
versions; one version's schema, profile charts and the runs that read or wrote it) and
`/datasets/{name}/diff` (two versions side by side: files, columns, rows and the drift verdict on
each column). Each asks the data and lineage services and renders one template; what a chart
needs is shaped here (`profile_columns`) and drawn by static/datasets.js with ECharts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote

import numpy as np
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.data.entities import DatasetVersion, parse_version
from plimsoll.data.service import DatasetService
from plimsoll.lineage.entities import Edge
from plimsoll.server.ui import views
from plimsoll.server.ui.pages import PageRoute, render

HISTOGRAM_BINS = 30
# The histogram spans these quantiles: a long tail would otherwise squeeze the body into one bar.
HISTOGRAM_RANGE = (0.01, 0.99)
TOP_LABELS = 12
RUNS_SHOWN = 200  # runs that read or wrote one version; the lineage page has them all

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _data(request: Request) -> DatasetService:
    return cast(DatasetService, request.app.state.platform.service("data"))


@router.get("/datasets", response_class=HTMLResponse)
def datasets_page(request: Request, project: str = DEFAULT_PROJECT) -> HTMLResponse:
    found = _data(request).list_datasets(project=project)
    return render(request, "datasets.html", {"active": "datasets", "project": project, "datasets": found})


@router.get("/datasets/{name}", response_class=HTMLResponse)
def dataset_page(
    request: Request, name: str, project: str = DEFAULT_PROJECT, version: str = ""
) -> HTMLResponse:
    data = _data(request)
    shown = data.get_version(name, parse_version("version", version) if version else None, project=project)
    versions = data.list_versions(name, project=project)
    profile = data.read_profile(shown)
    context = {
        "active": "datasets",
        "project": project,
        "name": name,
        "versions": list(reversed(versions)),
        "shown": shown,  # `version` is the UI's own, for the static files' addresses
        "columns": profile_columns(shown, profile),
        "runs": _runs_of(request, shown),
        "validation": next(iter(data.list_validations(shown.name, shown.version, project=project)), None),
        "version_url": _version_url,
        "diff_url": lambda old, new: views.url(
            f"{dataset_path(name)}/diff", project=project, old=str(old.version), new=str(new.version)
        ),
        "lineage_url": views.url("/lineage", project=project, node=f"dataset:{shown.ref}"),
    }
    return render(request, "dataset.html", context)


@router.get("/datasets/{name}/diff", response_class=HTMLResponse)
def dataset_diff_page(
    request: Request, name: str, old: str, new: str = "latest", project: str = DEFAULT_PROJECT
) -> HTMLResponse:
    data = _data(request)
    before = data.get_version(name, parse_version("old", old), project=project)
    after = data.get_version(name, parse_version("new", new), project=project)
    found = data.diff(before, after)
    drift = found.drift
    rows = [] if drift is None else [r.to_dict() for r in drift.ranked()]
    context = {
        "active": "datasets",
        "project": project,
        "name": name,
        "diff": found,
        "drift": drift,
        "drift_rows": rows,
        "chart": {"columns": [r["column"] for r in rows], "severity": [r["severity"] for r in rows]},
        "version_url": _version_url,
    }
    return render(request, "dataset_diff.html", context)


def dataset_path(name: str) -> str:
    """A dataset's page: its name may hold `?`, `#`, `%` or spaces, so it is quoted whole."""
    return f"/datasets/{quote(name, safe='')}"


def _version_url(version: DatasetVersion) -> str:
    return views.url(dataset_path(version.name), project=version.project, version=str(version.version))


@dataclass(frozen=True)
class RunLink:
    run_id: str
    label: str
    role: str  # "read" or "wrote"
    context: str | None


def _runs_of(request: Request, version: DatasetVersion) -> list[RunLink]:
    """The runs that read the version (one step downstream) or wrote it (one step upstream)."""
    lineage = request.app.state.platform.services.get("lineage")
    if lineage is None:  # a platform built without the lineage capability
        return []
    node = f"dataset:{version.ref}"
    read = lineage.downstream(version.project, node, depth=1, limit=RUNS_SHOWN)
    wrote = lineage.upstream(version.project, node, depth=1, limit=RUNS_SHOWN)
    labels = {n.id: n.label for n in [*read.nodes, *wrote.nodes]}
    links = [
        _run_link(edge, edge.target, "read", labels) for edge in read.edges if edge.target.startswith("run:")
    ]
    links += [
        _run_link(edge, edge.source, "wrote", labels)
        for edge in wrote.edges
        if edge.source.startswith("run:")
    ]
    return links


def _run_link(edge: Edge, node: str, role: str, labels: dict[str, str]) -> RunLink:
    return RunLink(node.removeprefix("run:"), labels.get(node, node), role, edge.context)


def profile_columns(version: DatasetVersion, profile: Any) -> list[dict[str, Any]]:
    """One entry per column of the schema: its type, and where the version has a profile, its
    counts and what its chart draws (a histogram of numbers over equal widths, or the most
    frequent labels)."""
    types = {column.name: column.type for column in version.schema or ()}
    names = list(types) if profile is None else list(dict.fromkeys([*types, *profile.columns]))
    columns = []
    for name in names:
        summary = None if profile is None else profile.columns.get(name)
        entry: dict[str, Any] = {"name": name, "type": types.get(name, ""), "kind": None}
        if summary is not None and summary.kind == "numeric":
            entry.update(_numeric(summary))
        elif summary is not None:
            entry.update(_categorical(summary))
        columns.append(entry)
    return columns


def _numeric(summary: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "kind": "numeric",
        "rows": summary.row_count,
        "missing": summary.missing_count,
        "mean": summary.mean,
        "std": summary.std,
        "minimum": summary.minimum,
        "median": summary.quantile(0.5),
        "maximum": summary.maximum,
        "chart": None,
    }
    low, high = (summary.quantile(q) for q in HISTOGRAM_RANGE)
    if low is None or high is None:
        return entry
    if high <= low:
        low, high = summary.minimum, summary.maximum
    if high <= low:  # one value: one bar
        entry["chart"] = {"type": "bars", "labels": [_short_number(low)], "counts": [summary.finite_count]}
        return entry
    # Counts at or below each edge, read at equal steps by interpolating inside the profile's bins.
    edges = summary.edges
    at_edges = np.cumsum(summary.counts)[: len(edges)]
    steps = np.linspace(low, high, HISTOGRAM_BINS + 1)
    cumulative = np.interp(steps, edges, at_edges, left=0.0, right=float(summary.finite_count))
    counts = np.maximum(np.diff(cumulative), 0.0)
    entry["chart"] = {
        "type": "histogram",
        "labels": [_short_number(float(x)) for x in steps[:-1]],
        "counts": [round(float(c), 1) for c in counts],
        "range": [_short_number(low), _short_number(high)],
    }
    return entry


def _categorical(summary: Any) -> dict[str, Any]:
    order = np.argsort(-summary.counts, kind="stable")[:TOP_LABELS]
    labels = [str(summary.categories[i]) for i in order]
    counts = [int(summary.counts[i]) for i in order]
    rest = summary.present_count - sum(counts)
    if rest > 0:
        labels.append("(other labels)")
        counts.append(int(rest))
    return {
        "kind": "categorical",
        "rows": summary.row_count,
        "missing": summary.missing_count,
        "distinct": summary.distinct_count,
        "distinct_exact": not summary.truncated,
        "chart": {"type": "bars", "labels": labels, "counts": counts},
    }


def _short_number(value: float) -> str:
    return f"{value:.4g}"

"""Monitoring's pages: `/monitors` (a project's monitors: the model alias each watches, its window,
its state, and what its newest window holds and breaks) and `/monitors/{name}` (one monitor: its
reference, window and rules; drift per feature over time as a heat map, a feature's distribution
against the reference's, realised and estimated performance with the estimate's band, label
coverage and lag, business outcomes beside the model's metric, data quality with examples, and
every rule's verdict per window). Each asks the monitoring service and renders one template; what
the charts need is shaped in monitor_view.py and drawn by static/monitor.js with ECharts. A
feature clicked in the heat map is fetched from `GET /api/v1/monitors/{name}/distribution`."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from plimsoll.core.errors import InvalidParameter, NotFound
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.monitoring.service import MonitoringService
from plimsoll.monitoring.specs import Monitor, MonitorWindow, format_duration
from plimsoll.server.ui import monitor_view, views
from plimsoll.server.ui.model_evidence import dataset_url
from plimsoll.server.ui.models import model_path
from plimsoll.server.ui.pages import PageRoute, render

WINDOWS_SHOWN = 366  # a year of daily windows; older ones a page back (`?before=`)
EXAMPLES_SHOWN = 20  # data-quality problems of the newest window listed with their example ids

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _monitoring(request: Request) -> MonitoringService:
    return cast(MonitoringService, request.app.state.platform.service("monitoring"))


def monitor_path(name: str) -> str:
    return f"/monitors/{quote(name, safe='')}"


@router.get("/monitors", response_class=HTMLResponse)
def monitors_page(request: Request, project: str = DEFAULT_PROJECT) -> HTMLResponse:
    monitoring = _monitoring(request)
    rows = []
    for monitor, newest in monitoring.latest(project=project):
        whole = next((w for w in newest if w.segment == ""), None)
        rows.append(
            {
                "monitor": monitor,
                "state": monitor_view.state_of(monitor, whole),
                "newest": whole,
                "breaking": [] if whole is None else whole.breaking,
                "segments_breaking": sorted({w.segment for w in newest if w.segment and w.breaking}),
                "url": views.url(monitor_path(monitor.name), project=project),
                "model_url": views.url(model_path(monitor.model), project=project),
            }
        )
    context = {"active": "monitors", "project": project, "rows": rows, "describe": describe_reference}
    return render(request, "monitors.html", context)


@router.get("/monitors/{name}", response_class=HTMLResponse)
def monitor_page(
    request: Request, name: str, project: str = DEFAULT_PROJECT, segment: str = "", before: str = ""
) -> HTMLResponse:
    """`?segment=VALUE` shows one segment's windows; `?before=START` the windows before START
    (epoch ms), a page back."""
    monitoring = _monitoring(request)
    monitor = monitoring.get_monitor(name, project=project)
    segments = monitoring.segments_of(name, project=project)
    if segment and segment not in segments:
        raise NotFound(f"monitor {name!r} has no window of segment {segment!r}")
    until = _before(before)
    shown = monitoring.windows(
        name, until=until, segment=segment, project=project, limit=WINDOWS_SHOWN, newest_first=True
    )
    windows = list(reversed(shown))
    newest = windows[-1] if windows else None
    current = newest
    if until is not None:  # a page back: the state is still the newest window's
        found = monitoring.windows(name, segment=segment, project=project, limit=1, newest_first=True)
        current = found[0] if found else None
    page = monitor_path(name)
    charts = monitor_view.chart_data(monitor, windows)
    context: dict[str, Any] = {
        "active": "monitors",
        "project": project,
        "monitor": monitor,
        "segment": segment,
        "segments": segments,
        "segment_url": lambda value: views.url(page, project=project, segment=value),
        "state": monitor_view.state_of(monitor, current),
        "windows": windows,
        "newest": newest,
        "older_url": views.url(page, project=project, segment=segment, before=str(windows[0].start))
        if len(windows) == WINDOWS_SHOWN
        else None,
        "newer_url": views.url(page, project=project, segment=segment) if until is not None else None,
        "rules": monitor_view.rule_rows(monitor, windows),
        "reference": describe_reference(monitor),
        "reference_url": dataset_url(monitor.reference.dataset, project)
        if monitor.reference.dataset
        else None,
        "model_url": views.url(model_path(monitor.model), project=project),
        "delay": format_duration(monitor.delay_ms),
        "charts": charts,
        "has": _has(charts),
        "examples": list((newest.quality.get("examples") or {}).items())[:EXAMPLES_SHOWN] if newest else [],
        "distribution": _first_distribution(monitoring, monitor, windows, segment),
        "distribution_url": f"/api/v1/monitors/{quote(name, safe='')}/distribution",
        "alerts": _alerts_of(request, monitor),
    }
    return render(request, "monitor.html", context)


ALERTS_SHOWN = 50


def _alerts_of(request: Request, monitor: Any) -> list[Any] | None:
    """The alerts made from this monitor's signals (None when the incidents capability is not
    installed): firing and pending first."""
    incidents = request.app.state.platform.services.get("incidents")
    if incidents is None:
        return None
    found = incidents.list_alerts(project=monitor.project, model=monitor.model, limit=500)
    mine = [alert for alert in found if alert.monitor_id == monitor.id]
    order = {"firing": 0, "pending": 1, "resolved": 2}
    return sorted(mine, key=lambda a: (order.get(a.state, 3), -(a.last_seen or 0)))[:ALERTS_SHOWN]


def describe_reference(monitor: Monitor) -> str:
    ref = monitor.reference
    if ref.kind == "dataset":
        return f"dataset {ref.dataset}"
    if ref.kind == "traffic":
        return f"its own traffic from {_day(ref.since)} to {_day(ref.until)}"
    return "the evaluation data of the version"


def _day(ms: int) -> str:
    from plimsoll.server.ui.formatting import timestamp

    return timestamp(ms)[:16] + " UTC"


def _before(text: str) -> int | None:
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise InvalidParameter("before", f"must be a window's start in epoch milliseconds, got {text[:40]!r}")
    return int(text)


def _has(charts: dict[str, Any]) -> dict[str, bool]:
    """Which charts have something to draw (the others say why they are empty)."""
    performance = charts["performance"]
    return {
        "windows": bool(charts["windows"]),
        "drift": bool(charts["drift"]["cells"]),
        "performance": bool(performance["realised"] or performance["estimated"]),
        "labels": any(v is not None and v > 0 for v in charts["labels"]["coverage"]),
        "outcomes": bool(charts["outcomes"]["names"]),
        "quality": any(v is not None for values in charts["quality"].values() for v in values),
    }


def _first_distribution(
    monitoring: MonitoringService, monitor: Monitor, windows: list[MonitorWindow], segment: str
) -> dict[str, Any]:
    """What the distribution chart shows before a click: the newest window's most drifted feature
    (or the first watched one) against the reference; the reference alone before any window."""
    newest = windows[-1] if windows else None
    ranked = (newest.drift.get("ranked") or []) if newest else []
    feature = ranked[0] if ranked else monitor.features[0]
    since, until = (newest.start, newest.start + 1) if newest else (None, None)
    return monitoring.feature_distribution(
        monitor.name, feature, since=since, until=until, segment=segment, project=monitor.project
    )

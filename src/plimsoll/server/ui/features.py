"""The features capability's pages: `/features` (a project's features, each with its latest skew
verdict, and a chart of those verdicts' severity) and `/features/{name}` (its versions, the
shown version's source, and the skew checks that looked at it, the latest drawn as the two sides'
quantiles or label shares). Each asks the features service and renders one template; what a chart
needs is shaped here and drawn by static/features.js with ECharts."""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.data.entities import parse_version
from plimsoll.feature_registry.entities import FeatureSkew, FeatureVersion
from plimsoll.feature_registry.service import FeatureService
from plimsoll.server.ui import views
from plimsoll.server.ui.pages import PageRoute, render

CHECKS_SHOWN = 20  # of one feature, newest first; `plimsoll features checks` lists them all

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _features(request: Request) -> FeatureService:
    return cast(FeatureService, request.app.state.platform.service("feature_registry"))


@router.get("/features", response_class=HTMLResponse)
def features_page(request: Request, project: str = DEFAULT_PROJECT) -> HTMLResponse:
    service = _features(request)
    found = service.list_features(project=project)
    latest = service.latest_verdicts(project=project)
    rows = [(feature, latest.get(feature.name)) for feature in found]
    checked = [(f.name, verdict.result) for f, verdict in rows if verdict is not None]
    chart = {
        "features": [name for name, _ in checked],
        "severity": [result.severity for _, result in checked],
        "verdicts": [result.verdict for _, result in checked],
    }
    context = {
        "active": "features",
        "project": project,
        "rows": rows,
        "chart": chart,
        "feature_url": lambda name: views.url(feature_path(name), project=project),
    }
    return render(request, "features.html", context)


@router.get("/features/{name}", response_class=HTMLResponse)
def feature_page(
    request: Request, name: str, project: str = DEFAULT_PROJECT, version: str = ""
) -> HTMLResponse:
    service = _features(request)
    shown = service.get_version(name, parse_version("version", version) if version else None, project=project)
    versions = service.list_versions(name, project=project)
    checks = service.list_skew_checks(project=project, feature=name, limit=CHECKS_SHOWN)
    history = [(check, check[name]) for check in checks]
    context = {
        "active": "features",
        "project": project,
        "name": name,
        "shown": shown,
        "versions": list(reversed(versions)),
        "history": history,
        "chart": None if not history else shift_chart(history[0][1]),
        "version_url": lambda v: _version_url(v),
        "lineage_url": views.url("/lineage", project=project, node=f"feature:{shown.ref}"),
    }
    return render(request, "feature.html", context)


def feature_path(name: str) -> str:
    """A feature's page: its name may hold `?`, `#`, `%` or spaces, so it is quoted whole."""
    return f"/features/{quote(name, safe='')}"


def _version_url(version: FeatureVersion) -> str:
    return views.url(feature_path(version.name), project=version.project, version=str(version.version))


def shift_chart(result: FeatureSkew) -> dict[str, Any] | None:
    """What the latest check's chart draws: a number's quantiles on each side, or the shares of
    the labels that moved most; None when the check has neither (a kind mismatch)."""
    quantiles = result.shift.get("quantiles")
    if quantiles:
        return {
            "type": "quantiles",
            "labels": [f"q{label}" for label in quantiles],
            "training": [pair["training"] for pair in quantiles.values()],
            "serving": [pair["serving"] for pair in quantiles.values()],
        }
    shares = result.shift.get("shares")
    if shares:
        return {
            "type": "shares",
            "labels": [share["label"] for share in shares],
            "training": [share["training"] for share in shares],
            "serving": [share["serving"] for share in shares],
        }
    return None

"""What the deployments' pages show, shaped from the serving service's records with no I/O: a
deployment's state in words, its versions and weights, its rollout's steps, the checks of its
last analysis (value, threshold, status), its history lines, and the request-rate and latency
series of its traffic per version and role (drawn by static/deployment.js with uPlot)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from plimsoll.serving.entities import (
    CANARY,
    PAUSED,
    ROLE_CANARY,
    ROLE_SHADOW,
    ROLE_STABLE,
    ROLLED_BACK,
    STABLE,
    SYSTEM_ACTOR,
    Deployment,
    HistoryEntry,
    TrafficStats,
)

ROLE_ORDER = {ROLE_STABLE: 0, ROLE_CANARY: 1, ROLE_SHADOW: 2}
# What a history line's action reads as.
ACTION_WORDS = {
    "created": "created",
    "updated": "updated",
    "canary_started": "canary started",
    "step_advanced": "step advanced",
    "paused": "paused",
    "resumed": "resumed",
    "promoted": "promoted",
    "rolled_back": "rolled back",
    "load_failed": "load failed",
}
# The fields of `before`/`after` a history line shows when they changed, and their words.
CHANGED_FIELDS = (
    ("state", "state"),
    ("stable", "stable"),
    ("canary", "canary"),
    ("canary_weight", "weight"),
    ("shadow", "shadow"),
    ("step", "step"),
    ("sticky_key", "sticky key"),
    ("follows", "follows"),
)


@dataclass(frozen=True)
class State:
    key: str  # stable | canary | paused | rolled_back
    label: str  # "canary at 25%"
    detail: str  # the deployment's reason (why paused, why rolled back)


def state_of(deployment: Deployment) -> State:
    if deployment.state == CANARY:
        return State(CANARY, f"canary at {deployment.canary_weight:g}%", deployment.reason)
    if deployment.state == PAUSED:
        by = "" if deployment.paused_by in (None, SYSTEM_ACTOR) else f" by {deployment.paused_by}"
        waiting = deployment.paused_by is None
        label = "waiting for data" if waiting else f"paused{by}"
        return State(PAUSED, label, deployment.reason)
    if deployment.state == ROLLED_BACK:
        return State(ROLLED_BACK, "rolled back", deployment.reason)
    return State(STABLE, "stable", deployment.reason)


def actor_label(actor: str) -> str:
    return "automatic" if actor == SYSTEM_ACTOR else actor


@dataclass(frozen=True)
class Share:
    """One version's part of the requests, for the weight bar."""

    role: str
    version: int
    weight: float  # percent of the requests it answers (a shadow: a copy of each, 0)


def shares(deployment: Deployment) -> list[Share]:
    found: list[Share] = []
    canary = deployment.canary_weight if deployment.canary is not None else 0.0
    if deployment.stable is not None:
        found.append(Share(ROLE_STABLE, deployment.stable, 100.0 - canary if canary < 100 else 0.0))
    if deployment.canary is not None:
        found.append(
            Share(ROLE_CANARY, deployment.canary, canary if deployment.stable is not None else 100.0)
        )
    if deployment.shadow is not None:
        found.append(Share(ROLE_SHADOW, deployment.shadow, 0.0))
    return found


def steps_of(deployment: Deployment) -> list[dict[str, Any]]:
    """The policy's steps, each `done`, `current` or `todo` (all done once stable after a
    promotion; none current without a canary)."""
    rolling = deployment.canary is not None
    return [
        {
            "weight": weight,
            "status": ("done" if i < deployment.step else "current" if i == deployment.step else "todo")
            if rolling
            else "todo",
        }
        for i, weight in enumerate(deployment.policy.steps)
    ]


def step_time(deployment: Deployment, now: int) -> dict[str, Any] | None:
    """How long the current step has lasted against the analysis window (None without a canary)."""
    if deployment.canary is None or deployment.step_started_at is None:
        return None
    window = deployment.policy.analysis_window_s * 1000
    spent = max(0, now - deployment.step_started_at)
    return {
        "spent_ms": spent,
        "window_ms": window,
        "spent": span(spent),
        "window": span(window),
        "fraction": min(1.0, spent / window) if window else 1.0,
        "due": spent >= window,
    }


def span(ms: int) -> str:
    """`45 s`, `5 min`, `2 h 05 min`, `3 d 4 h`: how long a step has lasted, or its window."""
    seconds = ms // 1000
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} h {minutes % 60:02d} min"
    return f"{hours // 24} d {hours % 24} h"


def last_analysis(history: Sequence[HistoryEntry]) -> HistoryEntry | None:
    """The newest history line that carries an analysis."""
    return next((line for line in history if line.analysis), None)


# The checks a page lists, in order, with what the policy sets for each.
CHECKS = (
    ("requests", "Requests"),
    ("error_rate", "Error rate"),
    ("latency_p99", "p99 latency"),
    ("predictions", "Prediction drift"),
    ("shadow_agreement", "Shadow agreement"),
    ("quality", "Realised quality"),
)


def check_rows(deployment: Deployment, analysis: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Each check of the rollout analysis: its value, threshold and status (`passed`, `failed`,
    `waiting`, `skipped`), and those the policy does not ask for as `not judged`. A check the
    analysis did not reach (too few requests to judge the error rate) is `waiting`."""
    found = {c.get("name"): c for c in (analysis or {}).get("checks", []) if isinstance(c, dict)}
    rows = []
    for name, label in CHECKS:
        check = found.get(name)
        threshold = _threshold(deployment, name, check)
        asked = threshold is not None or name in ("requests", "error_rate", "predictions")
        if check is not None:
            status, detail, value = (
                str(check.get("status")),
                str(check.get("detail", "")),
                _value(name, check),
            )
        elif not asked:
            status, detail, value = "not_judged", "the policy does not ask for it", None
        elif analysis is None:
            status, detail, value = "none", "no analysis yet", None
        else:
            status, detail, value = "waiting", "not judged until the requests are enough", None
        rows.append(
            {
                "name": name,
                "label": label,
                "status": status,
                "detail": detail,
                "value": value,
                "threshold": threshold,
            }
        )
    return rows


def _canary_requests(analysis: dict[str, Any] | None) -> int | None:
    canary = (analysis or {}).get("canary")
    requests = canary.get("requests") if isinstance(canary, dict) else None
    return requests if isinstance(requests, int) and not isinstance(requests, bool) else None


def _threshold(deployment: Deployment, name: str, check: dict[str, Any] | None) -> str | None:
    policy = deployment.policy
    if name == "requests":
        return f"at least {policy.min_requests:,}"
    if name == "error_rate":
        stable = check.get("stable") if check else None
        if isinstance(stable, int | float):
            limit = min(policy.max_error_rate, stable + policy.max_error_rate_increase)
            return f"at most {limit:.2%}"
        return f"at most {policy.max_error_rate:.2%} (and +{policy.max_error_rate_increase:.2%} over stable)"
    if name == "latency_p99":
        return None if policy.max_p99_ms is None else f"at most {policy.max_p99_ms:g} ms"
    if name == "predictions":
        return f"not drifted at alpha {policy.drift_alpha:g}"
    if name == "shadow_agreement":
        if policy.min_shadow_agreement is None or deployment.shadow is None:
            return None
        return f"at least {policy.min_shadow_agreement:.1%}"
    if name == "quality":
        if policy.quality_metric is None:
            return None
        return f"{policy.quality_metric} at most {policy.max_quality_drop:g} below stable"
    return None


def _value(name: str, check: dict[str, Any], analysis_requests: int | None = None) -> str | None:
    def number(key: str) -> float | None:
        value = check.get(key)
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None

    if name == "requests":
        counted = analysis_requests
        return None if counted is None else f"{counted:,} canary"
    if name == "error_rate":
        canary, stable = number("canary"), number("stable")
        if canary is None:
            return None
        return f"{canary:.2%}" + ("" if stable is None else f" (stable {stable:.2%})")
    if name == "latency_p99":
        canary = number("canary")
        return None if canary is None else f"{canary:g} ms"
    if name == "predictions":
        statistic = number("statistic")
        return None if statistic is None else f"{check.get('method', '')} {statistic:.4g}".strip()
    if name == "shadow_agreement":
        value = number("value")
        return None if value is None else f"{value:.1%}"
    if name == "quality":
        canary, stable = number("canary"), number("stable")
        if canary is None:
            return None
        return f"{canary:.4f}" + ("" if stable is None else f" (stable {stable:.4f})")
    return None


def history_rows(history: Sequence[HistoryEntry]) -> list[dict[str, Any]]:
    """Each history line as the page shows it: who (the rollout job as "automatic"), the action
    in words, and what changed, before → after."""
    rows = []
    for line in history:
        changes = []
        for key, label in CHANGED_FIELDS:
            before, after = line.before.get(key), line.after.get(key)
            if key in line.after and (before != after or not line.before):
                if not line.before and after in (None, 0, 0.0, False, "") and key != "state":
                    continue
                changes.append({"field": label, "before": _shown(key, before), "after": _shown(key, after)})
        verdict = (line.analysis or {}).get("verdict")
        rows.append(
            {
                "line": line,
                "actor": actor_label(line.actor),
                "automatic": line.actor == SYSTEM_ACTOR,
                "action": ACTION_WORDS.get(line.action, line.action.replace("_", " ")),
                "changes": changes,
                "verdict": verdict if isinstance(verdict, str) else None,
                "created": not line.before,
            }
        )
    return rows


def _shown(key: str, value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if key == "canary_weight" and isinstance(value, int | float):
        return f"{value:g}%"
    if key in ("stable", "canary", "shadow"):
        return f"v{value}"
    if key == "state":
        return str(value).replace("_", " ")
    return str(value)


# -- traffic ---------------------------------------------------------------------------------------


def totals(stats: Sequence[TrafficStats]) -> dict[str, Any]:
    """Requests and errors of every version and role added up (shadows left out: their answers
    are never returned), and the error rate."""
    served = [s for s in stats if s.role != ROLE_SHADOW]
    requests = sum(s.requests for s in served)
    errors = sum(s.errors for s in served)
    return {"requests": requests, "errors": errors, "error_rate": errors / requests if requests else None}


def traffic_charts(stats: Sequence[TrafficStats], since: int, until: int, bucket_ms: int) -> dict[str, Any]:
    """The request-rate and latency charts' data: one x value per bucket from `since` to `until`
    (seconds since the epoch, as uPlot reads time), and per version and role its requests per
    second (0 where it answered nothing between its first and last report, null outside) and p50/p99 latency in ms (null there: a gap)."""
    first = since - since % bucket_ms
    xs = list(range(first, until, bucket_ms))
    index = {start: i for i, start in enumerate(xs)}
    keys = sorted({(s.version, s.role) for s in stats}, key=lambda k: (ROLE_ORDER.get(k[1], 9), k[0]))
    series = []
    for version, role in keys:
        rate: list[float | None] = [0.0] * len(xs)
        errors: list[float | None] = [0.0] * len(xs)
        p50: list[float | None] = [None] * len(xs)
        p99: list[float | None] = [None] * len(xs)
        requests, reported = 0, []
        for s in stats:
            if (s.version, s.role) != (version, role) or s.since not in index:
                continue
            i = index[s.since]
            rate[i] = round(s.requests / (bucket_ms / 1000), 6)
            errors[i] = round(s.errors / (bucket_ms / 1000), 6)
            p50[i] = s.latency_quantile(0.5)
            p99[i] = s.latency_quantile(0.99)
            requests += s.requests
            reported.append(i)
        if reported:  # before its first report and after its last it was not running: a gap
            for i in [*range(min(reported)), *range(max(reported) + 1, len(xs))]:
                rate[i] = errors[i] = None
        series.append(
            {
                "label": f"v{version} {role}",
                "version": version,
                "role": role,
                "requests": requests,
                "rate": rate,
                "errors": errors,
                "p50": p50,
                "p99": p99,
            }
        )
    return {"x": [x // 1000 for x in xs], "bucket_s": bucket_ms // 1000, "series": series}

"""A watched column's distribution, reference against current, from stored summaries alone.

feature_distribution(name, feature, since=, until=, segment=)
    the reference's histogram of `feature` and that of the newest window (neither `since` nor
    `until`), or of the windows starting from `since` to before `until` merged (one window: its
    start, and its start + 1), on the same bins (`monitoring.distributions`); with the column's
    drift verdict for that stretch. No row is read: each window's summary is a blob.
"""

from __future__ import annotations

from typing import Any

from plimsoll.core.errors import InvalidParameter, NotFound
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import INT64_MAX, check_int, check_text
from plimsoll.monitoring import store
from plimsoll.monitoring.service.checking import CheckingOps, _window_of
from plimsoll.monitoring.specs import MonitorWindow

MAX_WINDOWS_MERGED = 10_000


class DistributionOps(CheckingOps):
    def feature_distribution(
        self,
        name: str,
        feature: str,
        *,
        since: int | None = None,
        until: int | None = None,
        segment: str = "",
        project: str = DEFAULT_PROJECT,
    ) -> dict[str, Any]:
        """`feature`'s histogram in the reference and in the windows chosen (see the module)."""
        from plimsoll import stats
        from plimsoll.monitoring.distributions import histograms
        from plimsoll.monitoring.windows import compare_merged
        from plimsoll.stats.merge import merge_columns

        monitor = self.get_monitor(name, project=project)
        feature = check_text("feature", feature, max_length=256)
        segment = check_text("segment", segment, max_length=300)
        profile = self.profile(monitor)
        watched = list(profile.summary.columns)
        if feature not in watched:  # no such distribution: as an unknown record, a 404
            raise NotFound(
                f"feature {feature!r} is not watched by monitor {name!r}; it watches {', '.join(watched[:20])}"
            )
        if (since is None) != (until is None):
            raise InvalidParameter("until", "give both since and until, or neither (the newest window)")
        if since is not None and until is not None:
            check_int("since", since, minimum=0, maximum=INT64_MAX)
            check_int("until", until, minimum=0, maximum=INT64_MAX)
            if until <= since:
                raise InvalidParameter("until", f"must be after since ({since}); got {until}")
        with self.db.read() as conn:
            rows = store.window_rows(
                conn,
                monitor.id,
                segment=segment,
                since=since,
                until=until,
                limit=1 if since is None else MAX_WINDOWS_MERGED,
                newest_first=since is None,
            )
        found = [_window_of(row) for row in rows]
        summaries = self.stored_summaries(rows)
        kind = profile.summary.columns[feature].kind
        # A window's column of another kind than the reference's (rare: values of the wrong type
        # are nulls by then) is left out; histograms() says so when no window of the kind is left.
        columns = [s.columns[feature] for s in summaries if feature in s.columns]
        same = [c for c in columns if c.kind == kind]
        current = merge_columns(same, column=feature) if same else (columns[0] if columns else None)
        body: dict[str, Any] = {
            "monitor": monitor.name,
            "feature": feature,
            "segment": segment,
            "since": min((w.start for w in found), default=since),
            "until": max((w.end for w in found), default=until),
            "windows": len(found),
            "rows": sum(w.rows for w in found),
            "drift": None,
            "histogram": histograms(profile.summary.columns[feature], current),
        }
        if len(found) == 1:
            body["drift"] = _verdict(found[0], feature)
        elif len(summaries) > 1 and current is not None:
            alpha = float(found[0].drift.get("alpha", monitor.alpha))
            try:
                merged = compare_merged(stats.merge(summaries), profile, alpha)
            except stats.PlimsollStatsError:  # windows that watched other columns do not merge whole
                merged = {}
            body["drift"] = _verdict_in(merged, feature)
        return body


def _verdict(window: MonitorWindow, feature: str) -> dict[str, Any] | None:
    return _verdict_in(window.drift, feature)


def _verdict_in(drift: dict[str, Any], feature: str) -> dict[str, Any] | None:
    """The column's drift result in a window's (or a merged stretch's) drift: a feature's, or the
    prediction's (`__score` or `__prediction`)."""
    if feature in (drift.get("features") or {}):
        result: dict[str, Any] = drift["features"][feature]
        return result
    prediction = drift.get("prediction") or {}
    if prediction.get("column") == feature:
        return dict(prediction)
    untested = (drift.get("untested") or {}).get(feature)
    return None if untested is None else {"untested": untested}

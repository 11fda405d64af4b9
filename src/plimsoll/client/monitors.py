"""`client.monitors` (and `pl.monitors`): monitors on a model alias, embedded or remote.

    monitor = pl.monitors.create("churn-prod", "churn@production",
                                 reference="dataset:churn-train@3", every="1d")
    pl.monitors.run("churn-prod")                # the windows that are due (the server's
                                                  # scheduler does so every minute)
    result = pl.monitors.check("churn-prod")      # the newest window and the rules it breaks
    result.passed, result.firing
    pl.monitors.windows("churn-prod")[-1].drift["ranked"]

docs/monitoring.md explains references, windows, segments, rules and their defaults.
"""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import TYPE_CHECKING, Any

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.monitoring.rules import Rule
from plimsoll.monitoring.specs import Monitor, MonitorWindow, Reference

if TYPE_CHECKING:
    from plimsoll.client.transport import Transport


class MonitorCheck:
    """What `check` found: the windows, `firing` (rules active for their `for_windows`),
    `active` (every rule broken), and `passed` (nothing firing)."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.monitor = Monitor.from_dict(body["monitor"])
        self.windows = [MonitorWindow.from_dict(w) for w in body["windows"]]
        self.firing: list[dict[str, Any]] = body["firing"]
        self.active: list[dict[str, Any]] = body["active"]
        self.passed: bool = body["passed"]
        self.body = body

    def to_dict(self) -> dict[str, Any]:
        return self.body

    def __repr__(self) -> str:
        verdict = (
            "passed" if self.passed else f"firing: {', '.join(sorted({s['rule'] for s in self.firing}))}"
        )
        return f"<MonitorCheck {self.monitor.name}: {len(self.windows)} windows, {verdict}>"


class Monitors:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def __repr__(self) -> str:
        return "<plimsoll monitors>"

    def create(
        self,
        name: str,
        model: str,
        reference: str | dict[str, Any] | Reference,
        *,
        features: builtins.list[str] | None = None,
        every: str | None = "1d",
        window_rows: int | None = None,
        delay: str = "0s",
        start: int | datetime | None = None,
        segment_by: str = "",
        max_segments: int = 10,
        alpha: float = 0.05,
        task: str | None = None,
        multivariate: bool = False,
        rules: builtins.list[dict[str, Any] | Rule] | None = None,
        extra_rules: builtins.list[dict[str, Any] | Rule] | None = None,
        project: str = DEFAULT_PROJECT,
    ) -> Monitor:
        """A monitor on `model` (`NAME@ALIAS`) against `reference`: `"dataset:NAME@VERSION"`,
        `"evaluation"` (the newest evaluation's dataset), `"traffic:SINCE..UNTIL"`, or a dict
        with `kind`, `dataset`, `target`, `prediction`, `score`, `since`, `until`. Windows by
        time (`every`: "1h", "1d") or by count (`window_rows`); `rules` replace the defaults,
        `extra_rules` add to them."""
        args: dict[str, Any] = {
            "model": model,
            "reference": _reference(reference),
            "features": features,
            "every": None if window_rows is not None else every,
            "window_rows": window_rows,
            "delay": delay,
            "start": _ms("start", start),
            "segment_by": segment_by,
            "max_segments": max_segments,
            "alpha": alpha,
            "task": task,
            "multivariate": multivariate,
            "rules": _rules(rules),
            "extra_rules": _rules(extra_rules),
        }
        return Monitor.from_dict(self._transport.monitors_call("create", project, name, args))

    def get(self, name: str, *, project: str = DEFAULT_PROJECT) -> Monitor:
        return Monitor.from_dict(self._transport.monitors_call("get", project, name, {}))

    def list(self, *, model: str | None = None, project: str = DEFAULT_PROJECT) -> builtins.list[Monitor]:
        found = self._transport.monitors_call("list", project, None, {"model": model})
        return [Monitor.from_dict(m) for m in found["monitors"]]

    def delete(self, name: str, *, project: str = DEFAULT_PROJECT) -> None:
        self._transport.monitors_call("delete", project, name, {})

    def set_rules(
        self, name: str, rules: builtins.list[dict[str, Any] | Rule], *, project: str = DEFAULT_PROJECT
    ) -> Monitor:
        """Replace the monitor's rules; windows computed from now on use them."""
        found = self._transport.monitors_call("rules", project, name, {"rules": _rules(rules)})
        return Monitor.from_dict(found)

    def run(self, name: str, *, project: str = DEFAULT_PROJECT) -> builtins.list[MonitorWindow]:
        """Compute the windows that are due now; their signals are published (alerts follow)."""
        found = self._transport.monitors_call("run", project, name, {})
        return [MonitorWindow.from_dict(w) for w in found["windows"]]

    def backfill(
        self, name: str, since: int | datetime, until: int | datetime, *, project: str = DEFAULT_PROJECT
    ) -> builtins.list[MonitorWindow]:
        """Compute (again) the windows from `since` to `until`; they are not published."""
        args = {"since": _ms("since", since), "until": _ms("until", until)}
        found = self._transport.monitors_call("backfill", project, name, args)
        return [MonitorWindow.from_dict(w) for w in found["windows"]]

    def check(
        self,
        name: str,
        *,
        since: int | datetime | None = None,
        until: int | datetime | None = None,
        project: str = DEFAULT_PROJECT,
    ) -> MonitorCheck:
        """The windows from `since` to `until` (the newest when neither is given), computed where
        missing, and the rules they break."""
        args = {"since": _ms("since", since), "until": _ms("until", until)}
        return MonitorCheck(self._transport.monitors_call("check", project, name, args))

    def windows(
        self,
        name: str,
        *,
        since: int | datetime | None = None,
        until: int | datetime | None = None,
        segment: str | None = "",
        limit: int = 10_000,
        newest_first: bool = False,
        project: str = DEFAULT_PROJECT,
    ) -> builtins.list[MonitorWindow]:
        """Stored windows: of all traffic (segment ""), one segment's, or every segment's (None)."""
        args = {
            "since": _ms("since", since),
            "until": _ms("until", until),
            "segment": segment,
            "limit": limit,
            "newest_first": newest_first,
        }
        found = self._transport.monitors_call("windows", project, name, args)
        return [MonitorWindow.from_dict(w) for w in found["windows"]]

    def merged(
        self,
        name: str,
        since: int | datetime,
        until: int | datetime,
        *,
        segment: str = "",
        project: str = DEFAULT_PROJECT,
    ) -> dict[str, Any]:
        """A stretch's drift from its windows' stored summaries merged, reading no row."""
        args = {"since": _ms("since", since), "until": _ms("until", until), "segment": segment}
        found: dict[str, Any] = self._transport.monitors_call("merged", project, name, args)
        return found

    def distribution(
        self,
        name: str,
        feature: str,
        *,
        since: int | datetime | None = None,
        until: int | datetime | None = None,
        segment: str = "",
        project: str = DEFAULT_PROJECT,
    ) -> dict[str, Any]:
        """`feature`'s histogram in the reference and in the newest window (or the windows from
        `since` to `until`, merged), on the same bins, with its drift verdict; reading no row."""
        args = {
            "feature": feature,
            "since": _ms("since", since),
            "until": _ms("until", until),
            "segment": segment,
        }
        found: dict[str, Any] = self._transport.monitors_call("distribution", project, name, args)
        return found


def _ms(field_name: str, value: int | datetime | None) -> int | None:
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise InvalidParameter(field_name, "a datetime needs a time zone (e.g. tzinfo=UTC)")
        return int(value.timestamp() * 1000)
    raise InvalidParameter(
        field_name, f"must be epoch milliseconds or a datetime; got {type(value).__name__}"
    )


def _reference(value: str | dict[str, Any] | Reference) -> dict[str, Any]:
    from plimsoll.monitoring.specs import check_reference

    found = check_reference("reference", value)
    return {k: v for k, v in found.to_dict().items() if v not in ("", 0)}


def _rules(rules: builtins.list[dict[str, Any] | Rule] | None) -> builtins.list[dict[str, Any]] | None:
    if rules is None:
        return None
    return [rule.to_dict() if isinstance(rule, Rule) else rule for rule in rules]

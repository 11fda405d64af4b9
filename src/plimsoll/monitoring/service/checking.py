"""Running monitors: windows computed, stored and published, labels caught up, staleness found.

run_monitor(name)            every window that is due, each stored with its signals and published
                             as `monitor.checked` (the `monitoring.run` job; `monitoring.tick`,
                             every minute, queues it for every due monitor and checks staleness)
backfill(name, since, until) windows of the past, computed (again) and stored, not published
check(name, since, until)    the windows of a stretch (computed when missing) and the rules they
                             break: what `plimsoll monitors check` reports and exits on
windows(name, ...)           stored windows; merged(name, since, until): a stretch's drift from
                             its windows' summaries alone (a day from its hours)

A window reads only its own rows: the alias's predictions in its time range (of the version that
held the alias at each moment, served as the stable version or by no deployment), their labels
and outcomes. Adding a window never reads another window's rows; labels arriving later bring the
recent windows' performance up to date (`LABEL_HORIZON_MS`).
"""

from __future__ import annotations

import builtins
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from plimsoll.core.errors import InvalidParameter, PlimsollError
from plimsoll.core.ids import new_id
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_int
from plimsoll.monitoring import store
from plimsoll.monitoring.entities import TS_COLUMN
from plimsoll.monitoring.rules import Rule, signal, stale_rule
from plimsoll.monitoring.service.monitors import MonitorOps, monitor_of
from plimsoll.monitoring.service.traffic import MAX_SEGMENTS_READ
from plimsoll.monitoring.specs import MAX_WINDOWS_PER_RUN, Monitor, MonitorWindow

if TYPE_CHECKING:
    import pyarrow as pa

    from plimsoll import stats
    from plimsoll.monitoring.windows import Findings, ReferenceProfile

LABEL_HORIZON_MS = 30 * 86_400_000  # labels arriving later than this after a window are not joined
STALE_COUNT_WINDOW_MS = 2 * 3_600_000  # a count-window monitor is stale after 2 h without a run
WINDOW_WORKERS = 2  # windows computed at once: each holds its rows in memory until stored


@dataclass(frozen=True)
class MonitorCheck:
    """The windows of a stretch and the rules they break: `firing` holds the signals active for
    their rule's `for_windows`, `active` every active one."""

    monitor: Monitor
    windows: tuple[MonitorWindow, ...]

    @property
    def active(self) -> builtins.list[dict[str, Any]]:
        return [{**s, "start": w.start, "segment": w.segment} for w in self.windows for s in w.breaking]

    @property
    def firing(self) -> builtins.list[dict[str, Any]]:
        return [s for s in self.active if s["consecutive"] >= s["for_windows"]]

    @property
    def passed(self) -> bool:
        return not self.firing

    def to_dict(self) -> dict[str, Any]:
        return {
            "monitor": self.monitor.to_dict(),
            "windows": [w.to_dict() for w in self.windows],
            "passed": self.passed,
            "firing": self.firing,
            "active": self.active,
        }


class CheckingOps(MonitorOps):
    # -- running -----------------------------------------------------------------------------------

    def run_monitor(
        self, name: str, *, project: str = DEFAULT_PROJECT, actor: str = "system"
    ) -> builtins.list[MonitorWindow]:
        """Compute every window that is due (time windows whose end plus the delay has passed;
        full count windows), store them, publish their signals; then bring recent windows'
        realised performance up to date with labels that arrived since."""
        monitor = self.get_monitor(name, project=project)
        try:
            computed = self._run(monitor, actor)
            self._refresh_labels(self.get_monitor(name, project=project), actor)
        except Exception as exc:
            with self._change(actor) as change:
                store.update_monitor(
                    change.conn, monitor.id, last_error=_describe(exc)[:2000], last_run_at=self.clock()
                )
            raise
        return computed

    def _run(self, monitor: Monitor, actor: str) -> builtins.list[MonitorWindow]:
        profile = self.profile(monitor)
        horizon = self.clock() - monitor.delay_ms
        if monitor.every_ms:
            due = max(0, (horizon - monitor.last_window_end) // monitor.every_ms)
            count = min(due, MAX_WINDOWS_PER_RUN)
            starts = [monitor.last_window_end + i * monitor.every_ms for i in range(count)]
            computed = self._windows(monitor, profile, starts, actor, publish=True)
            end = monitor.last_window_end + count * monitor.every_ms
        else:
            computed, end = self._count_windows(monitor, profile, horizon, actor)
        with self._change(actor) as change:
            store.update_monitor(
                change.conn, monitor.id, last_window_end=end, last_run_at=self.clock(), last_error=""
            )
        return computed

    def _count_windows(
        self, monitor: Monitor, profile: ReferenceProfile, horizon: int, actor: str
    ) -> tuple[builtins.list[MonitorWindow], int]:
        """Windows of `window_rows` rows each, from the cursor on; a window never splits a
        millisecond (rows logged in the same one stay together), and a partial one waits."""
        import numpy as np

        cursor = monitor.last_window_end
        table = self.alias_rows(monitor.model, monitor.alias, cursor, horizon, project=monitor.project)
        computed: builtins.list[MonitorWindow] = []
        at = 0
        times = (
            np.asarray(table.column(TS_COLUMN), dtype=np.int64) if table.num_rows else np.zeros(0, np.int64)
        )
        while table.num_rows - at >= monitor.window_rows and len(computed) < MAX_WINDOWS_PER_RUN:
            stop = at + monitor.window_rows
            last = int(times[stop - 1])
            stop = int(np.searchsorted(times, last, side="right"))
            start, end = int(times[at]), last + 1
            computed += self._window(
                monitor, profile, start, end, actor, publish=True, rows=table.slice(at, stop - at)
            )
            cursor, at = end, stop
        return computed, cursor

    def backfill(
        self, name: str, since: int, until: int, *, project: str = DEFAULT_PROJECT, actor: str
    ) -> builtins.list[MonitorWindow]:
        """Compute (again) the time windows from `since` to `until` (aligned to the monitor's
        windows) and store them; backfilled windows are not published (they describe the past:
        nobody should be paged for them), and a monitor's cursor moves forward only."""
        monitor = self.get_monitor(name, project=project)
        starts = self._starts(monitor, since, until)
        profile = self.profile(monitor)
        computed = self._windows(monitor, profile, starts, actor, publish=False)
        if starts and starts[-1] + monitor.every_ms > monitor.last_window_end:
            with self._change(actor) as change:
                store.update_monitor(change.conn, monitor.id, last_window_end=starts[-1] + monitor.every_ms)
        return computed

    def check(
        self,
        name: str,
        *,
        since: int | None = None,
        until: int | None = None,
        project: str = DEFAULT_PROJECT,
        actor: str,
    ) -> MonitorCheck:
        """The windows from `since` to `until` (the newest complete window when neither is
        given), computed where missing, with the rules they break."""
        monitor = self.get_monitor(name, project=project)
        if since is None and until is None:
            stored = self.windows(name, project=project, limit=1, newest_first=True)
            if stored:
                since = stored[0].start
            elif monitor.every_ms:
                end = self.clock() - monitor.delay_ms
                since = end - end % monitor.every_ms - monitor.every_ms
            else:
                raise InvalidParameter("since", "the monitor has no window yet: run it first")
            until = since + 1
        if since is None or until is None:
            raise InvalidParameter("until", "give both since and until, or neither (the newest window)")
        if monitor.every_ms:
            have = {w.start for w in self.windows(name, since=since, until=until, project=project)}
            missing = [s for s in self._starts(monitor, since, until) if s not in have]
            profile = self.profile(monitor) if missing else None
            if profile is not None:
                self._windows(monitor, profile, missing, actor, publish=False)
        found = self.windows(name, since=since, until=until, project=project, segment=None)
        return MonitorCheck(monitor, tuple(found))

    def _starts(self, monitor: Monitor, since: int, until: int) -> builtins.list[int]:
        if not monitor.every_ms:
            raise InvalidParameter("since", "windows by count cannot be chosen by time: run the monitor")
        for field_name, value in (("since", since), ("until", until)):
            check_int(field_name, value, minimum=0)
        if until <= since:
            return []  # an empty stretch: nothing to compute
        first = since - since % monitor.every_ms
        starts = list(range(first, until, monitor.every_ms))
        if len(starts) > MAX_WINDOWS_PER_RUN:
            raise InvalidParameter(
                "since", f"asks for {len(starts):,} windows; at most {MAX_WINDOWS_PER_RUN:,} at once"
            )
        return starts

    # -- one window --------------------------------------------------------------------------------

    def _window(
        self,
        monitor: Monitor,
        profile: ReferenceProfile,
        start: int,
        end: int,
        actor: str,
        *,
        publish: bool,
        rows: pa.Table | None = None,
    ) -> builtins.list[MonitorWindow]:
        version, parts = self._compute(monitor, profile, start, end, rows)
        return self._store_window(monitor, start, end, version, parts, actor, publish=publish)

    def _windows(
        self,
        monitor: Monitor,
        profile: ReferenceProfile,
        starts: builtins.list[int],
        actor: str,
        *,
        publish: bool,
    ) -> builtins.list[MonitorWindow]:
        """Time windows starting at `starts`: computed a few at once (reading Parquet, NumPy and
        the engine leave the interpreter's lock), stored in order, each after the one before (a
        rule's run of windows reads the previous window's signals)."""
        from concurrent.futures import ThreadPoolExecutor

        computed: builtins.list[MonitorWindow] = []
        with ThreadPoolExecutor(max_workers=WINDOW_WORKERS, thread_name_prefix="plimsoll-window") as pool:
            found = pool.map(
                lambda start: (start, self._compute(monitor, profile, start, start + monitor.every_ms, None)),
                starts,
            )
            for start, (version, parts) in found:
                end = start + monitor.every_ms
                computed += self._store_window(monitor, start, end, version, parts, actor, publish=publish)
        return computed

    def _compute(
        self, monitor: Monitor, profile: ReferenceProfile, start: int, end: int, rows: pa.Table | None
    ) -> tuple[int | None, builtins.list[tuple[str, Findings]]]:
        """One window's findings, for all its traffic and each segment; nothing stored."""
        import pyarrow.compute as pc

        from plimsoll.monitoring.windows import assess

        table = (
            rows
            if rows is not None
            else self.alias_rows(
                monitor.model, monitor.alias, start, end, project=monitor.project, ordered=False
            )
        )
        version = self.holder_at(monitor.model, monitor.alias, end - 1, project=monitor.project)
        # A window's labels and outcomes are those that arrived within the label horizon after it:
        # a backfill of old windows reads what each one can join, not every later label.
        horizon, project = end + LABEL_HORIZON_MS, monitor.project
        labels = self.labels_for(monitor.model, table, since=start, until=horizon, project=project)
        outcomes = self.outcomes_for(monitor.model, table, since=start, until=horizon, project=project)

        def findings(part: pa.Table, alpha: float) -> Findings:
            return assess(
                part,
                profile,
                task=monitor.task,
                alpha=alpha,
                labels=labels,
                outcomes=outcomes,
                multivariate=monitor.multivariate,
            )

        parts: builtins.list[tuple[str, Findings]] = [("", findings(table, monitor.alpha))]
        if monitor.segment_by and monitor.segment_by in table.column_names and table.num_rows:
            text = pc.cast(table.column(monitor.segment_by), "string")
            counts = pc.value_counts(text.drop_null()).to_pylist()
            values = [c["values"] for c in sorted(counts, key=lambda c: (-c["counts"], c["values"]))]
            values = values[: monitor.max_segments]
            # False alarms are controlled across segments too: each segment's tests run at
            # alpha / (number of segments), so all of them together keep the monitor's alpha.
            alpha = monitor.alpha / max(len(values), 1)
            for value in values:
                part = table.filter(pc.equal(text, value))
                parts.append((value, findings(part, alpha)))
        unmatched, examples = self.unmatched_labels(
            monitor.model, start, end, project=monitor.project, horizon_ms=LABEL_HORIZON_MS
        )
        for _, found in parts[:1]:
            found.performance.update(unmatched_labels=unmatched, unmatched_examples=examples)
            found.values["labels.unmatched"] = float(unmatched)
        return version, parts

    def _store_window(
        self,
        monitor: Monitor,
        start: int,
        end: int,
        version: int | None,
        parts: builtins.list[tuple[str, Findings]],
        actor: str,
        *,
        publish: bool,
    ) -> builtins.list[MonitorWindow]:
        from plimsoll import stats

        now = self.clock()
        rows = []
        with self.db.read() as conn:
            previous = {seg: store.previous_window(conn, monitor.id, seg, start) for seg, _ in parts}
        for segment, findings in parts:
            before = _consecutive(previous[segment], start)
            signals = [
                signal(rule, findings.values.get(rule.value), before.get(rule.name, 0))
                for rule in monitor.rules
                if rule.value != "staleness_s"
            ]
            digest = (
                None
                if findings.summary is None
                else self.blobs.put_bytes(stats.to_bytes(findings.summary)).digest
            )
            results = {
                "drift": findings.drift,
                "quality": findings.quality,
                "performance": findings.performance,
                "outcomes": findings.outcomes,
                "values": findings.values,
                "signals": signals,
            }
            rows.append(
                {
                    "id": new_id(),
                    "monitor_id": monitor.id,
                    "segment": segment,
                    "start": start,
                    "end": end,
                    "rows": findings.rows,
                    "version": version,
                    "summary_digest": digest,
                    "results": orjson.dumps(results, option=orjson.OPT_SERIALIZE_NUMPY).decode(),
                    "computed_at": now,
                    "labels_at": now,
                }
            )
        with self._change(actor) as change:
            for row in rows:
                store.replace_window(change.conn, row)
                if publish:
                    self._publish(
                        change,
                        monitor,
                        version,
                        str(row["segment"]),
                        (start, end),
                        orjson.loads(str(row["results"]))["signals"],
                    )
        return [_window_of(row) for row in rows]

    def _publish(
        self,
        change: Any,
        monitor: Monitor,
        version: int | None,
        segment: str,
        window: tuple[int, int] | None,
        signals: builtins.list[dict[str, Any]],
    ) -> None:
        payload = {
            "project": monitor.project,
            "monitor": monitor.name,
            "monitor_id": monitor.id,
            "model": monitor.model,
            "alias": monitor.alias,
            "version": version,
            "segment": {"column": monitor.segment_by, "value": segment} if segment else None,
            "window": None if window is None else {"start": window[0], "end": window[1]},
            "checked_at": self.clock(),
            "signals": signals,
            "url": monitor.url,
        }
        change.emit("monitor.checked", f"monitor:{monitor.id}", payload, project=monitor.project)

    # -- labels arriving late ----------------------------------------------------------------------

    def _refresh_labels(self, monitor: Monitor, actor: str) -> int:
        """Recompute the performance of recent windows that labels (or outcomes) logged since
        they were last computed concern; how many windows changed."""
        from plimsoll.monitoring.windows import assess

        now = self.clock()
        since = now - LABEL_HORIZON_MS
        with self.db.read() as conn:
            recent = [
                _window_of(row) for row in store.window_rows(conn, monitor.id, segment=None, since=since)
            ]
            newest = 0
            for kind in ("labels", "outcomes"):
                for name in (monitor.model, ""):
                    for row in store.segment_rows(
                        conn,
                        monitor.project,
                        kind,
                        model=name,
                        version=None,
                        deployment=None,
                        role=None,
                        since=since,
                        until=None,
                        limit=MAX_SEGMENTS_READ,
                    ):
                        newest = max(newest, int(row["created_at"]))
        stale = [w for w in recent if w.labels_at < newest and w.rows]
        if not stale:
            return 0
        profile = self.profile(monitor)
        changed = 0
        for start in sorted({w.start for w in stale}):
            window = [w for w in stale if w.start == start]
            table = self.alias_rows(
                monitor.model, monitor.alias, start, window[0].end, project=monitor.project
            )
            horizon, project = window[0].end + LABEL_HORIZON_MS, monitor.project
            labels = self.labels_for(monitor.model, table, since=start, until=horizon, project=project)
            outcomes = self.outcomes_for(monitor.model, table, since=start, until=horizon, project=project)
            for found in window:
                part = table
                if found.segment:
                    import pyarrow.compute as pc

                    part = table.filter(
                        pc.equal(pc.cast(table.column(monitor.segment_by), "string"), found.segment)
                    )
                findings = assess(
                    part, profile, task=monitor.task, alpha=monitor.alpha, labels=labels, outcomes=outcomes
                )
                self._update_performance(monitor, found, findings, actor)
                changed += 1
        return changed

    def _update_performance(
        self, monitor: Monitor, window: MonitorWindow, findings: Findings, actor: str
    ) -> None:
        """A window's performance, outcomes and the signals that read them, brought up to date;
        published again when a signal changed."""
        values = {
            **window.values,
            **{
                k: v
                for k, v in findings.values.items()
                if k.startswith(("labels.", "performance.", "outcomes."))
            },
        }
        with self.db.read() as conn:
            before = _consecutive(
                store.previous_window(conn, monitor.id, window.segment, window.start), window.start
            )
        signals = [
            signal(rule, values.get(rule.value), before.get(rule.name, 0))
            for rule in monitor.rules
            if rule.value != "staleness_s"
        ]
        results = {
            "drift": window.drift,
            "quality": window.quality,
            "performance": findings.performance,
            "outcomes": findings.outcomes,
            "values": values,
            "signals": signals,
        }
        with self._change(actor) as change:
            store.update_window(
                change.conn,
                window.id,
                results=orjson.dumps(results, option=orjson.OPT_SERIALIZE_NUMPY).decode(),
                labels_at=self.clock(),
            )
            if [s["active"] for s in signals] != [s["active"] for s in window.signals]:
                self._publish(
                    change, monitor, window.version, window.segment, (window.start, window.end), signals
                )

    # -- the scheduler -----------------------------------------------------------------------------

    def tick(self) -> dict[str, int]:
        """Every minute: queue a `monitoring.run` job for each monitor with a window due, and
        publish `monitor_stale` when a monitor falls (or stops being) two periods behind."""
        if self.jobs is None:
            return {"queued": 0, "stale": 0}
        now = self.clock()
        queued = stale = 0
        with self.db.read() as conn:
            monitors = [monitor_of(row) for row in store.monitor_rows(conn, None)]
        for monitor in monitors:
            due = (
                monitor.last_window_end + monitor.every_ms + monitor.delay_ms <= now
                if monitor.every_ms
                else True
            )
            if due:
                self.jobs.enqueue(
                    "monitoring.run",
                    {"monitor": monitor.id},
                    dedupe_key=f"monitoring.run:{monitor.id}:{monitor.last_window_end}:{now // 60_000}",
                    max_attempts=3,
                )
                queued += 1
            stale += self._check_staleness(monitor, now)
        return {"queued": queued, "stale": stale}

    def _check_staleness(self, monitor: Monitor, now: int) -> int:
        if monitor.every_ms:
            rule = stale_rule(monitor.every_ms)
            # Behind from when its next window was due, or from its creation: a monitor made with a
            # start in the past is not stale while its first run catches up.
            due = max(monitor.last_window_end + monitor.every_ms + monitor.delay_ms, monitor.created_at)
            behind = (now - due) / 1000
        else:
            rule = stale_rule(STALE_COUNT_WINDOW_MS)
            rule = Rule.from_dict({**rule.to_dict(), "threshold": STALE_COUNT_WINDOW_MS / 1000})
            behind = (now - max(monitor.last_run_at, monitor.created_at)) / 1000
        found = signal(rule, max(behind, 0.0), 0)
        if found["active"] == monitor.stale:
            return 0
        if monitor.last_error:
            found["annotations"]["description"] = f"The last run failed: {monitor.last_error[:500]}"
        with self._change("system") as change:
            store.update_monitor(change.conn, monitor.id, stale=int(found["active"]))
            self._publish(change, monitor, None, "", None, [found])
        return 1

    # -- reading windows ---------------------------------------------------------------------------

    def windows(
        self,
        name: str,
        *,
        since: int | None = None,
        until: int | None = None,
        segment: str | None = "",
        project: str = DEFAULT_PROJECT,
        limit: int = 10_000,
        newest_first: bool = False,
    ) -> builtins.list[MonitorWindow]:
        """Stored windows from `since` to before `until`, oldest first: of all traffic (segment
        ""), one segment's, or every segment's (None)."""
        monitor = self.get_monitor(name, project=project)
        check_int("limit", limit, minimum=1, maximum=10_000)
        with self.db.read() as conn:
            rows = store.window_rows(
                conn,
                monitor.id,
                segment=segment,
                since=since,
                until=until,
                limit=limit,
                newest_first=newest_first,
            )
        return [_window_of(row) for row in rows]

    def segments_of(self, name: str, *, project: str = DEFAULT_PROJECT) -> builtins.list[str]:
        monitor = self.get_monitor(name, project=project)
        with self.db.read() as conn:
            return [s for s in store.segment_values(conn, monitor.id) if s]

    def merged(
        self, name: str, since: int, until: int, *, segment: str = "", project: str = DEFAULT_PROJECT
    ) -> dict[str, Any]:
        """A stretch's drift computed from its windows' stored summaries (merged: exact for
        counts and histograms), without reading a row: a day from its hours, a month from its days."""
        from plimsoll import stats
        from plimsoll.monitoring.windows import compare_merged

        monitor = self.get_monitor(name, project=project)
        with self.db.read() as conn:
            rows = store.window_rows(conn, monitor.id, segment=segment, since=since, until=until)
        found = [_window_of(row) for row in rows]
        summaries = self.stored_summaries(rows)
        body: dict[str, Any] = {
            "since": since,
            "until": until,
            "windows": len(found),
            "rows": sum(w.rows for w in found),
        }
        if summaries:
            merged = stats.merge(summaries)
            assert isinstance(merged, stats.TableSummary)
            body["drift"] = compare_merged(merged, self.profile(monitor), monitor.alpha)
        return body

    def stored_summaries(self, rows: builtins.list[Any]) -> builtins.list[stats.TableSummary]:
        """The summaries stored with these window rows (an empty window stores none)."""
        from plimsoll import stats

        found = [
            stats.from_bytes(self.blobs.get_bytes(row["summary_digest"]))
            for row in rows
            if row["summary_digest"]
        ]
        return [summary for summary in found if isinstance(summary, stats.TableSummary)]


def _consecutive(previous: Any, start: int) -> dict[str, int]:
    """How many windows in a row each rule was active just before the window at `start` (0 when
    the window before is not adjacent: a gap breaks the run)."""
    if previous is None or int(previous["end"]) != start:
        return {}
    signals = orjson.loads(previous["results"]).get("signals", [])
    return {s["rule"]: int(s["consecutive"]) for s in signals}


def _window_of(row: Any) -> MonitorWindow:
    results = orjson.loads(row["results"]) if isinstance(row["results"], str) else row["results"]
    return MonitorWindow(
        id=row["id"],
        monitor_id=row["monitor_id"],
        segment=row["segment"],
        start=int(row["start"]),
        end=int(row["end"]),
        rows=int(row["rows"]),
        version=None if row["version"] is None else int(row["version"]),
        drift=results["drift"],
        quality=results["quality"],
        performance=results["performance"],
        outcomes=results["outcomes"],
        values=results["values"],
        signals=tuple(results["signals"]),
        computed_at=int(row["computed_at"]),
        labels_at=int(row["labels_at"]),
    )


def _describe(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, PlimsollError) else f"{type(exc).__name__}: {exc}"


def run_monitor_job(service: CheckingOps, payload: Any, context: Any) -> dict[str, Any]:
    """The `monitoring.run` job: the monitor's due windows (safe to run again)."""
    with service.db.read() as conn:
        row = store.monitor_by_id(conn, str(payload["monitor"]))
    if row is None:
        return {"monitor": payload["monitor"], "deleted": True}
    started = time.perf_counter()
    computed = service.run_monitor(row["name"], project=row["project"])
    return {
        "monitor": row["name"],
        "windows": len(computed),
        "seconds": round(time.perf_counter() - started, 3),
    }


def tick_job(service: CheckingOps, payload: Any, context: Any) -> dict[str, int]:
    """The `monitoring.tick` job, every minute."""
    return service.tick()


class LatestOps(CheckingOps):
    def latest(
        self, *, project: str = DEFAULT_PROJECT
    ) -> builtins.list[tuple[Monitor, builtins.list[MonitorWindow]]]:
        """Each monitor of the project with its newest window of every segment (for /metrics)."""
        found = []
        for monitor in self.list_monitors(project=project):
            with self.db.read() as conn:
                newest = store.window_rows(conn, monitor.id, segment="", limit=1, newest_first=True)
                rows = (
                    store.window_rows(
                        conn,
                        monitor.id,
                        segment=None,
                        since=int(newest[0]["start"]),
                        until=int(newest[0]["start"]) + 1,
                    )
                    if newest
                    else []
                )
            found.append((monitor, [_window_of(row) for row in rows]))
        return found

"""Alerts: the event consumer that turns monitors' signals and the platform's problems into alerts,
their state machine, what is announced, and reading them back.

The state machine, per fingerprint (docs/alerts.md):

    inactive ──active──▶ pending ──consecutive ≥ for_windows and active for ≥ for_s──▶ firing
       ▲                    │ inactive                                               │ inactive
       └────────────────────┘                                                       ▼
                                                        resolved ──active──▶ pending (the next firing)

A monitor's check reports every rule's signal; an open alert of that monitor and segment the
check no longer reports (its rule was removed, or the alias moved to another version) ends as if
its rule held. A platform problem fires at once, and a repeat of it counts in its value; a human
resolves it. One check (or problem) is one transaction: the alerts, their transitions, what is
announced (`alert.fired`, `alert.resolved`) and the incidents it opens or joins. Events are
handled at least once: an alert remembers the last event that changed it and ignores that event
and older ones.

An alert is announced when it fires unless an active silence matches it or another firing alert
inhibits it; a held alert is announced as soon as neither holds any more (the next check of its
scope, a silence expired or deleted, the sweep job every few minutes). The end of a firing is
announced exactly when its start was.
"""

from __future__ import annotations

import builtins
import json
from typing import Any

from plimsoll.core.audit import AuditEntry
from plimsoll.core.changes import Change
from plimsoll.core.db import Connection
from plimsoll.core.errors import Conflict, NotFound
from plimsoll.core.ids import new_id
from plimsoll.core.outbox import Event
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_name
from plimsoll.incidents import store
from plimsoll.incidents.entities import (
    ALERT_STATES,
    FIRING,
    INACTIVE,
    MAX_LIST,
    OPEN_ALERT_STATES,
    PENDING,
    RESOLVED,
    Alert,
    check_choice,
    optional_text,
)
from plimsoll.incidents.events import ALERT_FIRED, ALERT_RESOLVED
from plimsoll.incidents.matchers import fingerprint
from plimsoll.incidents.service.base import (
    PLATFORM,
    SYSTEM_ACTOR,
    ServiceBase,
    check_limit,
    check_record_id,
    dumps,
)
from plimsoll.incidents.signals import (
    MONITOR_CHECKED,
    Check,
    PlatformProblem,
    Signal,
    platform_problem,
    read_check,
)

GONE = "no longer reported by its monitor (the rule was removed, or the alias moved to another version)"


class AlertOps(ServiceBase):
    # -- the consumer ------------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """The `incidents` consumer: a monitor's check, or a platform event that needs a human."""
        if event.type == MONITOR_CHECKED:
            self._on_check(event)
            return
        problem = platform_problem(event.type, event.payload)
        if problem is not None:
            self._on_problem(event, problem)

    def _on_check(self, event: Event) -> None:
        check = read_check(event.payload, event.created_at)
        with self._change(SYSTEM_ACTOR) as change:
            self._lock(change, check.project)
            conn = change.conn
            reported: dict[str, tuple[Signal, dict[str, str]]] = {}
            for signal in check.signals:
                labels = check.labels(signal)
                # one rule with the same labels twice: the first counts
                reported.setdefault(fingerprint(labels), (signal, labels))
            seen = set(reported)
            rows = store.alerts_by_fingerprint(conn, sorted(seen))
            for print_, (signal, labels) in reported.items():
                row = rows.get(print_)
                if row is not None and int(row["last_event_id"]) >= event.id:
                    continue
                self._observe(change, row, check, signal, labels, print_, event.id)
            scope = (check.project, check.monitor_id, check.segment_column, check.segment_value)
            # Only a window's check speaks for every rule: a staleness check leaves the rest be.
            for row in store.open_alerts_of_monitor(conn, *scope) if check.windowed else ():
                if row["fingerprint"] not in seen and int(row["last_event_id"]) < event.id:
                    self._clear(change, row, check.checked_at, event.id, GONE)
            self._release_held(change, check.project)

    def _observe(
        self,
        change: Change,
        row: Any,
        check: Check,
        signal: Signal,
        labels: dict[str, str],
        print_: str,
        event_id: int,
    ) -> None:
        conn, at, now = change.conn, check.checked_at, self.clock()
        if row is None and not signal.active:
            return
        if row is not None and not signal.active:
            if row["state"] in OPEN_ALERT_STATES:
                self._clear(change, row, at, event_id, "its rule held again")
            return
        values: dict[str, Any] = {
            "labels": dumps(labels),
            "annotations": dumps(signal.annotations),
            "severity": signal.severity,
            "model": check.model,
            "alias": check.alias,
            "version": check.version,
            "monitor": check.monitor,
            "monitor_url": check.url,
            "value": signal.value,
            "op": signal.op,
            "threshold": signal.threshold,
            "for_windows": signal.for_windows,
            "for_s": signal.for_s,
            "consecutive": signal.consecutive,
            "last_seen": at,
            "last_event_id": event_id,
            "updated_at": now,
        }
        if row is None:
            alert_id = new_id()
            state, firing, active_since = PENDING, 0, at
            store.insert_alert(
                conn,
                {
                    **values,
                    "id": alert_id,
                    "fingerprint": print_,
                    "project": check.project,
                    "source": "monitor",
                    "rule": signal.rule,
                    "state": state,
                    "monitor_id": check.monitor_id,
                    "segment_column": check.segment_column,
                    "segment_value": check.segment_value,
                    "active_since": at,
                    "starts_at": None,
                    "ends_at": None,
                    "firing": 0,
                    "notified": False,
                    "incident_id": None,
                    "created_at": now,
                },
            )
            store.insert_transition(conn, alert_id, 1, PENDING, at, signal.value)
        else:
            alert_id, state, firing = row["id"], row["state"], int(row["firing"])
            active_since = int(row["active_since"] or at)
            if state in (RESOLVED, INACTIVE):
                state, active_since = PENDING, at
                store.insert_transition(conn, alert_id, firing + 1, PENDING, at, signal.value)
        values |= {"state": state, "active_since": active_since}
        held_long_enough = at - active_since >= signal.for_s * 1000
        if state == PENDING and signal.consecutive >= signal.for_windows and held_long_enough:
            firing += 1
            values |= {
                "state": FIRING,
                "firing": firing,
                "starts_at": at,
                "ends_at": None,
                "notified": False,
                "incident_id": None,
            }
            store.insert_transition(conn, alert_id, firing, FIRING, at, signal.value)
        store.update_alert(conn, alert_id, values)

    def _clear(self, change: Change, row: Any, at: int, event_id: int, note: str) -> None:
        """A pending alert becomes inactive, a firing one resolved (announced if its firing was)."""
        values = {"consecutive": 0, "last_seen": at, "last_event_id": event_id, "updated_at": self.clock()}
        if row["state"] == PENDING:
            store.insert_transition(
                change.conn, row["id"], int(row["firing"]) + 1, INACTIVE, at, row["value"], note
            )
            store.update_alert(change.conn, row["id"], {**values, "state": INACTIVE})
        elif row["state"] == FIRING:
            self._end(change, row, at, note, values)

    def _end(
        self, change: Change, row: Any, at: int, note: str, values: dict[str, Any] | None = None
    ) -> None:
        """End a firing: resolved at `at`, and announced if its start was."""
        values = {**(values or {}), "state": RESOLVED, "ends_at": at, "updated_at": self.clock()}
        store.insert_transition(change.conn, row["id"], int(row["firing"]), RESOLVED, at, row["value"], note)
        store.update_alert(change.conn, row["id"], values)
        if row["notified"]:
            alert = self._alert({**row, **values})
            change.emit(ALERT_RESOLVED, f"alert:{alert.id}", _payload(alert), project=alert.project)

    def _on_problem(self, event: Event, problem: PlatformProblem) -> None:
        print_ = fingerprint(problem.labels)
        at, now = event.created_at, self.clock()
        with self._change(SYSTEM_ACTOR) as change:
            self._lock(change, None)
            conn = change.conn
            row = store.alert_by_fingerprint(conn, print_)
            if row is not None and int(row["last_event_id"]) >= event.id:
                return
            values: dict[str, Any] = {
                "labels": dumps(problem.labels),
                "annotations": dumps(problem.annotations),
                "last_seen": at,
                "last_event_id": event.id,
                "updated_at": now,
            }
            if row is not None and row["state"] == FIRING:
                # The same problem again while its alert fires: counted, not announced again.
                store.update_alert(conn, row["id"], {**values, "value": float(row["value"] or 0) + 1})
                return
            firing = 1 if row is None else int(row["firing"]) + 1
            values |= {
                "state": FIRING,
                "value": 1.0,
                "consecutive": 1,
                "active_since": at,
                "starts_at": at,
                "ends_at": None,
                "firing": firing,
                "notified": False,
                "incident_id": None,
            }
            if row is None:
                alert_id = new_id()
                store.insert_alert(conn, {**values, **_platform_row(alert_id, print_, problem, now)})
            else:
                alert_id = row["id"]
                store.update_alert(conn, alert_id, values)
            store.insert_transition(conn, alert_id, firing, FIRING, at, 1.0, event.type)
            self._release_held(change, None)

    # -- announcing --------------------------------------------------------------------------------

    def _release_held(self, change: Change, project: str | None) -> int:
        """Announce every firing alert of the scope (a project, the platform with None) whose firing
        was held (silenced or inhibited) and that nothing mutes now; how many."""
        scope = PLATFORM if project is None else project
        held = store.held_alerts(change.conn, scope)
        if not held:
            return 0
        now = self.clock()
        muting = self._mutes(change.conn, scope, now)
        count = 0
        for row in held:
            if not muting.mutes(row["id"], json.loads(row["labels"])):
                self._announce(change, row, now)
                count += 1
        return count

    def _announce(self, change: Change, row: Any, now: int) -> None:
        alert = self._alert(row)
        change.emit(ALERT_FIRED, f"alert:{alert.id}", _payload(alert), project=alert.project)
        incident_id = self._join_incident(change, alert, now)
        store.update_alert(change.conn, alert.id, {"notified": True, "incident_id": incident_id})

    # -- what users call ---------------------------------------------------------------------------

    def list_alerts(
        self,
        *,
        project: str = DEFAULT_PROJECT,
        platform: bool = False,
        state: str | None = None,
        model: str | None = None,
        limit: int = 100,
    ) -> builtins.list[Alert]:
        """A project's alerts (the platform's own with `platform`), the most recently changed
        first; `state` one of pending, firing, resolved, inactive (None: all but inactive)."""
        states = (
            (check_choice("state", state, ALERT_STATES),)
            if state is not None
            else (PENDING, FIRING, RESOLVED)
        )
        if model is not None:
            check_name("model", model)
        check_limit(limit, MAX_LIST)
        now = self.clock()
        with self.db.read() as conn:
            scope = self._scope(conn, project, platform)
            rows = store.alert_rows(conn, scope, states=states, model=model, limit=limit)
            return self._shown(conn, scope, rows, now)

    def get_alert(self, alert_id: str) -> Alert:
        """An alert with its history (every transition of every firing)."""
        check_record_id("alert_id", alert_id, "alert")
        now = self.clock()
        with self.db.read() as conn:
            row = store.alert_row(conn, alert_id)
            if row is None:
                raise NotFound(f"alert {alert_id!r} not found")
            history = store.transitions(conn, [alert_id]).get(alert_id, [])
            (shown,) = self._shown(conn, row["project"], [row], now, history=history)
        return shown

    def alert_project(self, alert_id: str) -> str | None:
        """The project an alert belongs to, None for a platform alert (for the permission guard)."""
        return self.get_alert(alert_id).project

    def resolve_alert(self, alert_id: str, *, comment: str = "", actor: str) -> Alert:
        """End a platform alert's firing by hand (its incident's resolution does too); a monitor's
        alert ends when its rule holds again."""
        check_record_id("alert_id", alert_id, "alert")
        comment = optional_text("comment", comment)
        now = self.clock()
        scope = self.alert_project(alert_id)
        with self._change(actor) as change:
            self._lock(change, scope)
            row = store.alert_row(change.conn, alert_id, for_update=True)
            if row is None:
                raise NotFound(f"alert {alert_id!r} not found")
            if row["source"] == "monitor":
                raise Conflict(
                    f"alert {alert_id} is a monitor's: it resolves when its monitor sees the rule hold "
                    "again (silence it meanwhile: `plimsoll silences create`)"
                )
            if row["state"] != FIRING:
                raise Conflict(f"alert {alert_id} is {row['state']}, not firing")
            note = f"resolved by {actor}" + (f": {comment}" if comment else "")
            self._end(change, row, now, note)
            change.audit(
                AuditEntry(
                    actor,
                    "alert.resolve",
                    "alert",
                    alert_id,
                    None,
                    {"state": FIRING},
                    {"state": RESOLVED, "comment": comment},
                )
            )
        return self.get_alert(alert_id)

    def _shown(
        self, conn: Connection, scope: str, rows: builtins.list[Any], now: int, *, history: Any = ()
    ) -> builtins.list[Alert]:
        """The alerts as shown now: for an open one, the silences and the alert that mute it."""
        muting = self._mutes(conn, scope, now) if any(r["state"] in OPEN_ALERT_STATES for r in rows) else None
        shown = []
        for row in rows:
            silenced: builtins.list[str] = []
            inhibited = None
            if muting is not None and row["state"] in OPEN_ALERT_STATES:
                labels = json.loads(row["labels"])
                silenced = muting.silenced_by(labels)
                inhibited = muting.inhibited_by(row["id"], labels)
            shown.append(self._alert(row, history=history, silenced_by=silenced, inhibited_by=inhibited))
        return shown


def _payload(alert: Alert) -> dict[str, Any]:
    """The `alert.fired` / `alert.resolved` payload (events.AlertChanged)."""
    resolved = alert.state == RESOLVED
    return {
        "alert": alert.id,
        "rule": alert.rule,
        "status": RESOLVED if resolved else FIRING,
        "severity": alert.severity,
        "fingerprint": alert.fingerprint,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "starts_at": alert.starts_at if alert.starts_at is not None else alert.created_at,
        "ends_at": alert.ends_at if resolved else None,
        "value": alert.value,
        "url": alert.url,
    }


def _platform_row(alert_id: str, print_: str, problem: PlatformProblem, now: int) -> dict[str, Any]:
    return {
        "id": alert_id,
        "fingerprint": print_,
        "project": PLATFORM,
        "source": problem.source,
        "rule": problem.labels["alertname"],
        "severity": problem.labels["severity"],
        "model": "",
        "alias": "",
        "version": None,
        "monitor": "",
        "monitor_id": "",
        "segment_column": "",
        "segment_value": "",
        "op": "",
        "threshold": None,
        "for_windows": 1,
        "for_s": 0,
        "monitor_url": "",
        "created_at": now,
    }

"""What every part of the incidents service shares: its parts and clock, one way to write, the
records read back from rows, and whether an alert is muted now (silenced, or inhibited by another
firing alert)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from plimsoll.core.capability import Parts
from plimsoll.core.changes import Change, changing
from plimsoll.core.db import Connection
from plimsoll.core.errors import InvalidParameter
from plimsoll.core.ids import is_id, now_ms
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_name, printable
from plimsoll.incidents import store
from plimsoll.incidents.entities import Alert, Incident, Silence, Transition
from plimsoll.incidents.matchers import DEFAULT_INHIBITION, Inhibition, Matcher, matches_all, muted_by

SYSTEM_ACTOR = "system"
PLATFORM = ""  # the `project` a platform record is stored with


class ServiceBase:
    def __init__(self, parts: Parts) -> None:
        self.db = parts.db
        self.events = parts.events
        self.projects = parts.projects
        self.public_url = (parts.settings.public_url or "").rstrip("/") or None
        self.registry = parts.services.get("model_registry")
        self.lineage = parts.services.get("lineage")
        self.gates = parts.services.get("gates")
        self.data = parts.services.get("data")
        self.clock: Callable[[], int] = now_ms  # ms since the epoch; tests move time by hand
        self._timeline_sources: list[Any] = []

    def _change(self, actor: str) -> Any:
        return changing(self.db, self.events, actor)

    @staticmethod
    def _lock(change: Change, project: str | None) -> None:
        """Before anything else in a change to a scope's alerts (store.lock_scope)."""
        store.lock_scope(change.conn, PLATFORM if project is None else project)

    def _url(self, path: str) -> str | None:
        """An absolute link to a page of this server, when its public URL is known."""
        return None if self.public_url is None else self.public_url + path

    # -- what one part calls of another (defined by the mixin named) ------------------------------

    def _join_incident(self, change: Change, alert: Alert, now: int) -> str:  # incidents.IncidentOps
        raise NotImplementedError

    def _end(
        self, change: Change, row: Any, at: int, note: str, values: dict[str, Any] | None = None
    ) -> None:
        raise NotImplementedError  # alerts.AlertOps

    def _release_held(self, change: Change, project: str | None) -> int:
        raise NotImplementedError  # alerts.AlertOps

    def get_incident(self, incident_id: str) -> Incident:
        raise NotImplementedError  # incidents.IncidentOps

    # -- where a record lives ----------------------------------------------------------------------

    def _scope(self, conn: Connection, project: str | None, platform: bool) -> str:
        """The stored `project` of a request for a project's records, or the platform's."""
        if platform:
            return PLATFORM
        name = check_name("project", project if project is not None else DEFAULT_PROJECT)
        self.projects.require_in(conn, name)
        return name

    # -- records from rows -------------------------------------------------------------------------

    def _alert(
        self,
        row: Any,
        *,
        history: Sequence[Any] = (),
        silenced_by: Iterable[str] = (),
        inhibited_by: str | None = None,
    ) -> Alert:
        return Alert(
            id=row["id"],
            fingerprint=row["fingerprint"],
            project=_project(row["project"]),
            source=row["source"],
            rule=row["rule"],
            severity=row["severity"],
            state=row["state"],
            labels=json.loads(row["labels"]),
            annotations=json.loads(row["annotations"]),
            model=row["model"],
            alias=row["alias"],
            version=None if row["version"] is None else int(row["version"]),
            monitor=row["monitor"],
            monitor_id=row["monitor_id"],
            segment_column=row["segment_column"],
            segment_value=row["segment_value"],
            value=row["value"],
            op=row["op"],
            threshold=row["threshold"],
            for_windows=int(row["for_windows"]),
            for_s=int(row["for_s"]),
            consecutive=int(row["consecutive"]),
            active_since=_int(row["active_since"]),
            starts_at=_int(row["starts_at"]),
            ends_at=_int(row["ends_at"]),
            last_seen=int(row["last_seen"]),
            firing=int(row["firing"]),
            notified=bool(row["notified"]),
            incident=row["incident_id"],
            monitor_url=row["monitor_url"],
            url=self._url(f"/alerts/{row['id']}"),
            created_at=int(row["created_at"]),
            updated_at=int(row["updated_at"]),
            silenced_by=tuple(silenced_by),
            inhibited_by=inhibited_by,
            history=tuple(_transition(t) for t in history),
        )

    # -- muted now ---------------------------------------------------------------------------------

    def _silences(self, conn: Connection, scope: str, now: int) -> list[Silence]:
        """The scope's silences in force at `now`."""
        return [
            s
            for s in (_silence(row) for row in store.silence_rows(conn, scope, ending_after=now))
            if s.active(now)
        ]

    def _inhibitions(self, conn: Connection, scope: str) -> list[Inhibition]:
        """The rule every platform ships, then the scope's own."""
        return [DEFAULT_INHIBITION, *(_inhibition(row) for row in store.inhibition_rows(conn, scope))]

    def _mutes(self, conn: Connection, scope: str, now: int) -> Muting:
        return Muting(
            self._silences(conn, scope, now),
            self._inhibitions(conn, scope),
            [(alert_id, json.loads(labels)) for alert_id, labels in store.firing_labels(conn, scope)],
        )


class Muting:
    """What mutes an alert of one scope now: its silences in force, its inhibition rules, and
    its firing alerts (the possible sources of inhibition)."""

    def __init__(
        self, silences: list[Silence], rules: list[Inhibition], firing: list[tuple[str, dict[str, str]]]
    ) -> None:
        self.silences = silences
        self.rules = rules
        self.firing = firing

    def silenced_by(self, labels: dict[str, str]) -> list[str]:
        return [s.id for s in self.silences if matches_all(s.matchers, labels)]

    def inhibited_by(self, alert_id: str, labels: dict[str, str]) -> str | None:
        return muted_by(self.rules, labels, alert_id, self.firing)

    def mutes(self, alert_id: str, labels: dict[str, str]) -> bool:
        return bool(self.silenced_by(labels)) or self.inhibited_by(alert_id, labels) is not None

    def now_firing(self, alert_id: str, labels: dict[str, str]) -> None:
        """Count a newly firing alert among the sources."""
        if all(found != alert_id for found, _ in self.firing):
            self.firing.append((alert_id, labels))

    def not_firing(self, alert_id: str) -> None:
        self.firing = [(found, labels) for found, labels in self.firing if found != alert_id]


# -- helpers ---------------------------------------------------------------------------------------


def check_record_id(field: str, value: Any, what: str) -> str:
    """The id of a `what`: 32 lowercase hex digits."""
    if not isinstance(value, str) or not is_id(value):
        raise InvalidParameter(field, f"must be the id of a {what}: 32 hex digits, got {printable(value)!r}")
    return value


def check_limit(limit: Any, maximum: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise InvalidParameter(
            "limit", f"must be a whole number from 1 to {maximum}, got {printable(limit)!r}"
        )
    return limit


def _project(stored: str) -> str | None:
    return None if stored == PLATFORM else stored


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _transition(row: Any) -> Transition:
    return Transition(int(row["firing"]), row["state"], int(row["at"]), row["value"], row["note"])


def _silence(row: Any) -> Silence:
    return Silence(
        id=row["id"],
        project=_project(row["project"]),
        matchers=tuple(Matcher(**m) for m in json.loads(row["matchers"])),
        starts_at=int(row["starts_at"]),
        ends_at=int(row["ends_at"]),
        comment=row["comment"],
        created_by=row["created_by"],
        created_at=int(row["created_at"]),
        expired_by=row["expired_by"],
        expired_at=_int(row["expired_at"]),
    )


def _inhibition(row: Any) -> Inhibition:
    return Inhibition(
        id=row["id"],
        project=_project(row["project"]),
        source=tuple(Matcher(**m) for m in json.loads(row["source"])),
        target=tuple(Matcher(**m) for m in json.loads(row["target"])),
        equal=tuple(json.loads(row["equal"])),
        comment=row["comment"],
        created_by=row["created_by"],
        created_at=int(row["created_at"]),
    )


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

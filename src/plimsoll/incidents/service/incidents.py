"""Incidents: opened (or joined) by announced alerts, one open incident per model (and one for the
platform's own alerts), assigned to the model's owner, acknowledged, annotated and resolved by
people; each alert and incident is a node of the lineage graph, linked to the model version it
concerns."""

from __future__ import annotations

import builtins
import logging
from typing import Any

from plimsoll.core.audit import AuditEntry
from plimsoll.core.changes import Change
from plimsoll.core.db import Connection
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.core.ids import new_id
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_name
from plimsoll.incidents import store
from plimsoll.incidents.entities import (
    ACKNOWLEDGED,
    FIRING,
    INCIDENT_STATES,
    MAX_LIST,
    MAX_TEXT,
    OPEN,
    OPEN_INCIDENT_STATES,
    OWNER_ROLES,
    RESOLVED,
    Alert,
    Incident,
    IncidentAlert,
    Note,
    check_choice,
    check_said,
    optional_text,
    worst,
)
from plimsoll.incidents.events import INCIDENT_ACKNOWLEDGED, INCIDENT_OPENED, INCIDENT_RESOLVED
from plimsoll.incidents.service.base import (
    PLATFORM,
    SYSTEM_ACTOR,
    ServiceBase,
    _int,
    _project,
    check_limit,
    check_record_id,
)

log = logging.getLogger("plimsoll.incidents")

MAX_INCIDENT_ALERTS = 200  # the firings an incident's page lists (the newest)


class IncidentOps(ServiceBase):
    # -- opened by alerts --------------------------------------------------------------------------

    def _join_incident(self, change: Change, alert: Alert, now: int) -> str:
        """The open incident of the alert's model (or the platform's) that this firing joins, opened
        if there is none; its id."""
        conn, scope = change.conn, alert.project or PLATFORM
        row = store.open_incident(conn, scope, alert.model)
        if row is not None:
            linked = store.alert_joined(conn, row["id"], alert.id)  # an earlier firing joined it
            store.add_incident_alert(conn, row["id"], alert.id, alert.firing, now)
            store.update_incident(
                conn, row["id"], {"severity": worst(row["severity"], alert.severity), "updated_at": now}
            )
            if not linked:
                self._link(change, alert, row["id"])
            return str(row["id"])
        incident_id = new_id()
        owner, role = self._owner(alert.project, alert.model)
        values = {
            "id": incident_id,
            "project": scope,
            "model": alert.model,
            "version": alert.version,
            "title": alert.summary[:500],
            "severity": alert.severity,
            "state": OPEN,
            "owner": owner,
            "owner_role": role,
            "opened_at": now,
            "resolution": "",
            "updated_at": now,
        }
        store.insert_incident(conn, values)
        store.add_incident_alert(conn, incident_id, alert.id, alert.firing, now)
        payload = {
            "incident": incident_id,
            "project": alert.project,
            "model": alert.model,
            "version": alert.version,
            "title": values["title"],
            "severity": alert.severity,
            "owner": owner,
            "alerts": [alert.id],
            "opened_at": now,
            "url": self._url(f"/incidents/{incident_id}"),
        }
        change.emit(INCIDENT_OPENED, f"incident:{incident_id}", payload, project=alert.project)
        change.audit(
            AuditEntry(SYSTEM_ACTOR, "incident.open", "incident", incident_id, alert.project, None, payload)
        )
        self._link(change, alert, incident_id, opened=str(values["title"]))
        return incident_id

    def _owner(self, project: str | None, model: str) -> tuple[str | None, str | None]:
        """Who a model's incident goes to: its owner for the first of OWNER_ROLES it names."""
        if project is None or not model or self.registry is None:
            return None, None
        try:
            owners = self.registry.get_model(model, project=project).owners
        except (NotFound, InvalidParameter):
            return None, None
        for role in OWNER_ROLES:
            if owners.get(role):
                return str(owners[role]), role
        return None, None

    def _link(self, change: Change, alert: Alert, incident_id: str, *, opened: str | None = None) -> None:
        """Alert and incident as lineage nodes: model version → alert → incident, model version →
        incident (a project's, when the platform has lineage and the alert names a version)."""
        if self.lineage is None or alert.project is None:
            return
        try:
            self._link_nodes(change, alert, incident_id, opened)
        except (InvalidParameter, Conflict) as refused:  # checked before any write: nothing to undo
            log.warning("alert %s: not linked in the lineage graph: %s", alert.id, refused)

    def _link_nodes(self, change: Change, alert: Alert, incident_id: str, opened: str | None) -> None:
        assert self.lineage is not None
        project = str(alert.project)
        incident = f"incident:{incident_id}"
        if opened is not None:
            attributes = {"model": alert.model, "severity": alert.severity}
            self.lineage.record(change, incident, project=project, label=opened[:500], attributes=attributes)
        attributes = {"rule": alert.rule, "severity": alert.severity, "monitor": alert.monitor}
        self.lineage.record(
            change, f"alert:{alert.id}", project=project, label=alert.summary[:500], attributes=attributes
        )
        self.lineage.link(change, f"alert:{alert.id}", incident, "used", project=project)
        if alert.model and alert.version is not None:
            model = f"model:{alert.model}/{alert.version}"
            self.lineage.link(change, model, f"alert:{alert.id}", "used", project=project)
            self.lineage.link(change, model, incident, "used", project=project)

    # -- what people do ----------------------------------------------------------------------------

    def acknowledge(self, incident_id: str, *, comment: str = "", actor: str) -> Incident:
        """Say you are on it: open → acknowledged (a comment becomes a note)."""
        check_record_id("incident_id", incident_id, "incident")
        comment = optional_text("comment", comment)
        now = self.clock()
        with self._change(actor) as change:
            row = self._locked(change.conn, incident_id)
            if row["state"] != OPEN:
                by = row["resolved_by"] if row["state"] == RESOLVED else row["acknowledged_by"]
                raise Conflict(f"incident {incident_id} is {row['state']} already (by {by})")
            store.update_incident(
                change.conn,
                incident_id,
                {"state": ACKNOWLEDGED, "acknowledged_by": actor, "acknowledged_at": now, "updated_at": now},
            )
            if comment:
                store.insert_note(change.conn, incident_id, actor, comment, now)
            project = _project(row["project"])
            payload = {
                "incident": incident_id,
                "project": project,
                "model": row["model"],
                "by": actor,
                "at": now,
            }
            change.emit(INCIDENT_ACKNOWLEDGED, f"incident:{incident_id}", payload, project=project)
            change.audit(
                AuditEntry(
                    actor,
                    "incident.acknowledge",
                    "incident",
                    incident_id,
                    project,
                    {"state": OPEN},
                    {"state": ACKNOWLEDGED, "comment": comment},
                )
            )
        return self.get_incident(incident_id)

    def resolve(self, incident_id: str, *, comment: str = "", actor: str) -> Incident:
        """Close an incident (only people do): open or acknowledged → resolved, saying how in
        `comment`. A platform incident's firing alerts end with it; a monitor's alerts end when
        their rules hold again (one that fires again later opens a new incident)."""
        check_record_id("incident_id", incident_id, "incident")
        comment = optional_text("comment", comment)
        now = self.clock()
        scope = self.incident_project(incident_id)  # its platform alerts may end
        with self._change(actor) as change:
            self._lock(change, scope)
            row = self._locked(change.conn, incident_id)
            if row["state"] == RESOLVED:
                raise Conflict(f"incident {incident_id} is resolved already (by {row['resolved_by']})")
            store.update_incident(
                change.conn,
                incident_id,
                {
                    "state": RESOLVED,
                    "resolved_by": actor,
                    "resolved_at": now,
                    "resolution": comment,
                    "updated_at": now,
                },
            )
            if row["project"] == PLATFORM:
                self._end_platform_alerts(
                    change, incident_id, now, f"resolved with incident {incident_id} by {actor}"
                )
            project = _project(row["project"])
            payload = {
                "incident": incident_id,
                "project": project,
                "model": row["model"],
                "by": actor,
                "at": now,
                "resolution": comment,
            }
            change.emit(INCIDENT_RESOLVED, f"incident:{incident_id}", payload, project=project)
            change.audit(
                AuditEntry(
                    actor,
                    "incident.resolve",
                    "incident",
                    incident_id,
                    project,
                    {"state": row["state"]},
                    {"state": RESOLVED, "resolution": comment},
                )
            )
        return self.get_incident(incident_id)

    def add_note(self, incident_id: str, text: str, *, actor: str) -> Note:
        """A note on the incident's timeline (also once it is resolved: what was learned)."""
        check_record_id("incident_id", incident_id, "incident")
        text = check_said("text", text, max_length=MAX_TEXT)
        now = self.clock()
        with self._change(actor) as change:
            row = self._locked(change.conn, incident_id)
            store.insert_note(change.conn, incident_id, actor, text, now)
            store.update_incident(change.conn, incident_id, {"updated_at": now})
            change.audit(
                AuditEntry(
                    actor,
                    "incident.note",
                    "incident",
                    incident_id,
                    _project(row["project"]),
                    None,
                    {"text": text},
                )
            )
        return Note(actor, text, now)

    def _end_platform_alerts(self, change: Change, incident_id: str, now: int, note: str) -> None:
        pairs = store.incident_alert_rows(change.conn, [incident_id]).get(incident_id, [])
        ids = sorted({p["alert_id"] for p in pairs})
        for alert_id in ids:
            row = store.alert_row(change.conn, alert_id, for_update=True)
            if row is not None and row["state"] == FIRING and row["incident_id"] == incident_id:
                self._end(change, row, now, note)

    def _locked(self, conn: Connection, incident_id: str) -> Any:
        row = store.incident_row(conn, incident_id, for_update=True)
        if row is None:
            raise NotFound(f"incident {incident_id!r} not found")
        return row

    # -- reading -----------------------------------------------------------------------------------

    def list_incidents(
        self,
        *,
        project: str = DEFAULT_PROJECT,
        platform: bool = False,
        state: str | None = None,
        model: str | None = None,
        limit: int = 100,
    ) -> builtins.list[Incident]:
        """A project's incidents (the platform's with `platform`), the newest first; `state` open,
        acknowledged or resolved, or `open` and `acknowledged` both with "unresolved"."""
        if state == "unresolved":
            states: tuple[str, ...] = OPEN_INCIDENT_STATES
        elif state is not None:
            states = (check_choice("state", state, (*INCIDENT_STATES, "unresolved")),)
        else:
            states = ()
        if model is not None:
            check_name("model", model)
        check_limit(limit, MAX_LIST)
        with self.db.read() as conn:
            scope = self._scope(conn, project, platform)
            rows = store.incident_rows(conn, scope, states=states, model=model, limit=limit)
            return self._incidents(conn, rows, details=False)

    def get_incident(self, incident_id: str) -> Incident:
        """An incident with its alerts (each firing that joined it) and notes."""
        check_record_id("incident_id", incident_id, "incident")
        with self.db.read() as conn:
            row = store.incident_row(conn, incident_id)
            if row is None:
                raise NotFound(f"incident {incident_id!r} not found")
            (incident,) = self._incidents(conn, [row], details=True)
        return incident

    def incident_project(self, incident_id: str) -> str | None:
        """The project an incident belongs to, None for a platform incident (the guard's)."""
        check_record_id("incident_id", incident_id, "incident")
        with self.db.read() as conn:
            row = store.incident_row(conn, incident_id)
        if row is None:
            raise NotFound(f"incident {incident_id!r} not found")
        return _project(row["project"])

    def _incidents(
        self, conn: Connection, rows: builtins.list[Any], *, details: bool
    ) -> builtins.list[Incident]:
        ids = [row["id"] for row in rows]
        joined = store.incident_alert_rows(conn, ids)
        pairs = [
            (j["alert_id"], int(j["firing"]))
            for found in joined.values()
            for j in found[-MAX_INCIDENT_ALERTS:]
        ]
        alerts = store.alert_rows_by_id(conn, sorted({alert_id for alert_id, _ in pairs}))
        times: dict[tuple[str, int], dict[str, int]] = {}
        if details:
            for t in store.firing_transitions(conn, pairs):
                times.setdefault((t["alert_id"], int(t["firing"])), {})[t["state"]] = int(t["at"])
        made = []
        for row in rows:
            members = []
            for j in joined.get(row["id"], [])[-MAX_INCIDENT_ALERTS:]:
                alert = alerts.get(j["alert_id"])
                if alert is None:
                    continue
                firing = int(j["firing"])
                current = firing == int(alert["firing"])
                at = times.get((j["alert_id"], firing), {})
                starts = at.get(FIRING, _int(alert["starts_at"]) if current else None)
                ends = at.get(RESOLVED) if details else (_int(alert["ends_at"]) if current else None)
                members.append(
                    IncidentAlert(
                        alert=alert["id"],
                        firing=firing,
                        rule=alert["rule"],
                        severity=alert["severity"],
                        summary=self._alert(alert).summary,
                        state=alert["state"] if current else RESOLVED,
                        joined_at=int(j["joined_at"]),
                        starts_at=starts,
                        ends_at=ends,
                        version=_int(alert["version"]),
                    )
                )
            notes = (
                [Note(n["author"], n["text"], int(n["at"])) for n in store.note_rows(conn, row["id"])]
                if details
                else []
            )
            made.append(_incident(row, members, notes, self._url(f"/incidents/{row['id']}")))
        return made


def _incident(
    row: Any, alerts: builtins.list[IncidentAlert], notes: builtins.list[Note], url: str | None
) -> Incident:
    return Incident(
        id=row["id"],
        project=_project(row["project"]),
        model=row["model"],
        version=_int(row["version"]),
        title=row["title"],
        severity=row["severity"],
        state=row["state"],
        owner=row["owner"],
        owner_role=row["owner_role"],
        opened_at=int(row["opened_at"]),
        acknowledged_by=row["acknowledged_by"],
        acknowledged_at=_int(row["acknowledged_at"]),
        resolved_by=row["resolved_by"],
        resolved_at=_int(row["resolved_at"]),
        resolution=row["resolution"],
        updated_at=int(row["updated_at"]),
        alerts=tuple(alerts),
        notes=tuple(notes),
        url=url,
    )

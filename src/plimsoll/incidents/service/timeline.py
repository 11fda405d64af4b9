"""An incident's timeline: its own story (opened, the firings of its alerts, acknowledged, notes,
resolved) and, for a model's incident, what changed around the model from a week before it opened
until it was resolved: alias moves and the versions registered (the registry), release-gate
decisions (gates) and new versions of the datasets its versions were trained on (data).

Each of those is a `TimelineSource`, read through the capability's own service: the registry
keeps every alias move for good, gates every decision, data every version, so a timeline does not
depend on how long the outbox keeps its events. A capability added later (deployments) plugs its
own in with `add_timeline_source`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from plimsoll.core.errors import PlimsollError
from plimsoll.incidents import store
from plimsoll.incidents.entities import (
    FIRING,
    RESOLVED,
    TIMELINE_BEFORE_MS,
    Incident,
    Timeline,
    TimelineEntry,
)
from plimsoll.incidents.service.base import ServiceBase

log = logging.getLogger("plimsoll.incidents")

# `source(incident, start, end)`: what happened around a model's incident between start and end
# (epoch ms), as timeline entries.
TimelineSource = Callable[[Incident, int, int], list[TimelineEntry]]
MAX_SOURCE_ENTRIES = 200  # from one source
MAX_DATASETS = 20  # whose versions are looked for


class TimelineOps(ServiceBase):
    def add_timeline_source(self, source: TimelineSource) -> None:
        """Plug in what another capability knows about a model's incident (deployments will)."""
        self._timeline_sources.append(source)

    def timeline(self, incident_id: str) -> Timeline:
        incident = self.get_incident(incident_id)
        start = incident.opened_at - TIMELINE_BEFORE_MS
        end = (
            incident.resolved_at
            if incident.resolved_at is not None
            else max(self.clock(), incident.opened_at)
        )
        entries = self._own(incident)
        if incident.model and incident.project is not None:
            sources: list[TimelineSource] = [
                self._alias_moves,
                self._model_versions,
                self._decisions,
                self._data_versions,
            ]
            for source in [*sources, *self._timeline_sources]:
                try:
                    found = source(incident, start, end)
                except PlimsollError as error:  # a model deleted since, say: the rest still shows
                    log.warning("incident %s: a timeline source failed: %s", incident.id, error)
                    continue
                entries += [e for e in found if start <= e.at <= end][:MAX_SOURCE_ENTRIES]
        entries.sort(key=lambda e: (e.at, e.kind))
        return Timeline(incident.id, start, end, tuple(entries))

    def _own(self, incident: Incident) -> list[TimelineEntry]:
        about = incident.model or "the platform"
        entries = [
            TimelineEntry(
                incident.opened_at,
                "incident_opened",
                f"Incident opened on {about}",
                incident.title,
                "",
                f"incident:{incident.id}",
            )
        ]
        pairs = [(a.alert, a.firing) for a in incident.alerts]
        with self.db.read() as conn:
            transitions = store.firing_transitions(conn, pairs)
        summaries = {a.alert: a for a in incident.alerts}
        for t in transitions:
            member = summaries[t["alert_id"]]
            if t["state"] not in (FIRING, RESOLVED):
                continue  # pending and cleared: the alert's own page shows them
            kind = "alert_fired" if t["state"] == FIRING else "alert_resolved"
            verb = "fired" if t["state"] == FIRING else "resolved"
            value = "" if t["value"] is None else f" (value {t['value']:g})"
            detail = member.summary + value + (f": {t['note']}" if t["note"] else "")
            entries.append(
                TimelineEntry(
                    int(t["at"]),
                    kind,
                    f"{member.rule} {verb} [{member.severity}]",
                    detail,
                    "",
                    f"alert:{member.alert}",
                )
            )
        if incident.acknowledged_at is not None:
            entries.append(
                TimelineEntry(
                    incident.acknowledged_at,
                    "acknowledged",
                    "Acknowledged",
                    "",
                    incident.acknowledged_by or "",
                )
            )
        entries += [TimelineEntry(n.at, "note", "Note", n.text, n.author) for n in incident.notes]
        if incident.resolved_at is not None:
            entries.append(
                TimelineEntry(
                    incident.resolved_at,
                    "incident_resolved",
                    "Resolved",
                    incident.resolution,
                    incident.resolved_by or "",
                )
            )
        return entries

    # -- the built-in sources ----------------------------------------------------------------------

    def _alias_moves(self, incident: Incident, start: int, end: int) -> list[TimelineEntry]:
        if self.registry is None:
            return []
        moves = self.registry.alias_history(incident.model, project=incident.project)
        found = []
        for move in moves:
            target = "removed" if move.version is None else f"v{move.version}"
            was = "" if move.previous is None else f" (was v{move.previous})"
            ref = "" if move.version is None else f"model:{move.model}/{move.version}"
            title = f"{move.model}@{move.alias} → {target}{was}"
            detail = move.action + (f": {move.reason}" if move.reason else "")
            found.append(TimelineEntry(int(move.at), "alias_moved", title, detail, move.actor, ref))
        return found

    def _model_versions(self, incident: Incident, start: int, end: int) -> list[TimelineEntry]:
        if self.registry is None:
            return []
        versions = self.registry.list_versions(incident.model, project=incident.project)
        return [
            TimelineEntry(
                int(v.created_at),
                "model_version",
                f"{v.name} v{v.version} registered",
                v.description,
                v.created_by,
                f"model:{v.name}/{v.version}",
            )
            for v in versions
            if start <= v.created_at <= end
        ]

    def _decisions(self, incident: Incident, start: int, end: int) -> list[TimelineEntry]:
        if self.gates is None:
            return []
        decisions = self.gates.decisions(incident.model, project=incident.project, limit=500)
        found = []
        for d in decisions:
            failed = [r.gate for r in d.results if getattr(r, "status", "") == "failed"]
            detail = f"{d.purpose} for {d.alias}" + (f"; failed: {', '.join(failed)}" if failed else "")
            title = f"Gates {d.verdict} for {d.model} v{d.version} → {d.alias}"
            found.append(
                TimelineEntry(
                    int(d.decided_at), "gate_decision", title, detail, d.created_by, f"decision:{d.id}"
                )
            )
        return found

    def _data_versions(self, incident: Incident, start: int, end: int) -> list[TimelineEntry]:
        """New versions of the datasets the incident's model versions were trained on."""
        if self.data is None or self.registry is None:
            return []
        versions = {a.version for a in incident.alerts if a.version is not None}
        if incident.version is not None:
            versions.add(incident.version)
        names: list[str] = []
        for number in sorted(versions):
            model = self.registry.get_version(f"{incident.model}/{number}", project=incident.project)
            names += [ref.rpartition("@")[0] for ref in model.datasets]
        found = []
        for name in list(dict.fromkeys(names))[:MAX_DATASETS]:
            for v in self.data.list_versions(name, project=incident.project):
                if start <= v.created_at <= end:
                    rows = "" if v.rows is None else f"{v.rows} rows"
                    found.append(
                        TimelineEntry(
                            int(v.created_at),
                            "data_version",
                            f"{v.name}@{v.version} registered",
                            rows,
                            v.created_by,
                            f"dataset:{v.name}@{v.version}",
                        )
                    )
        return found

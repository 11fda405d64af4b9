"""Alerts and incidents: the rules, once.

on_event(event)                           the `incidents` consumer: monitor.checked and the
                                          platform's problems (audit, webhooks, jobs) → alerts
list_alerts / get_alert / resolve_alert   alerts as shown now (silenced, inhibited); a platform
                                          alert resolved by hand
create_silence / list_silences / expire_silence
create_inhibition / list_inhibitions / delete_inhibition
list_incidents / get_incident             incidents with their alerts and notes
acknowledge / resolve / add_note          what people do with an incident
timeline(incident_id)                     what happened around it
sweep()                                   the `incidents.sweep` job: announce what silences held

base        the parts and clock, rows read back, what mutes an alert now
alerts      the consumer, the alert state machine, announcing, reading alerts
incidents   opening and joining incidents, owners, lineage, acknowledge / resolve / notes
silences    silences, inhibition rules, the sweep
timeline    an incident's timeline and its sources (registry, gates, data; pluggable)
"""

from __future__ import annotations

from plimsoll.incidents.service.alerts import AlertOps
from plimsoll.incidents.service.base import SYSTEM_ACTOR
from plimsoll.incidents.service.incidents import IncidentOps
from plimsoll.incidents.service.silences import SilenceOps, run_sweep
from plimsoll.incidents.service.timeline import TimelineOps, TimelineSource


class IncidentService(AlertOps, IncidentOps, SilenceOps, TimelineOps):
    """Alerts, silences, inhibition rules and incidents; built by the platform from its `Parts`."""


__all__ = ["SYSTEM_ACTOR", "IncidentService", "TimelineSource", "run_sweep"]

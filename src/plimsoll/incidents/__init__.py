"""Alerts and incidents: the signals monitors publish (`monitor.checked`) and the platform's own
problems become alerts (pending → firing → resolved, deduplicated by fingerprint, silenced or
inhibited), announced through the webhooks (`alert.fired`, `alert.resolved`), and gathered into
incidents per model that people acknowledge, annotate and resolve. docs/alerts.md."""

from __future__ import annotations

from pathlib import Path

from plimsoll.core.capability import Capability, CliGroup, Consumer, JobKind, NavItem
from plimsoll.incidents.signals import CONSUMED

SWEEP_JOB = "incidents.sweep"

CAPABILITY = Capability(
    name="incidents",
    title="Alerts and incidents",
    tables="plimsoll.incidents.store:TABLES",
    migrations=Path(__file__).with_name("migrations"),
    service="plimsoll.incidents.service:IncidentService",
    router="plimsoll.incidents.api:router",
    permissions="plimsoll.incidents.permissions:PERMISSIONS",
    pages="plimsoll.server.ui.incidents:router",
    nav=(
        NavItem("Operate", "alerts", "Alerts", "/alerts", rank=-2),
        NavItem("Operate", "incidents", "Incidents", "/incidents", rank=-1),
    ),
    cli=(
        CliGroup("alerts", "plimsoll.cli.alerts:app"),
        CliGroup("silences", "plimsoll.cli.alerts:silences_app"),
        CliGroup("inhibitions", "plimsoll.cli.alerts:inhibitions_app"),
        CliGroup("incidents", "plimsoll.cli.incidents:app"),
    ),
    events="plimsoll.incidents.events:EVENTS",
    # Every few minutes: a silence that ends by itself lets what it held be announced.
    jobs=(
        JobKind(
            SWEEP_JOB,
            "plimsoll.incidents.service:run_sweep",
            max_attempts=1,
            timeout_s=120,
            concurrency=1,
            schedule="*/5 * * * *",
        ),
    ),
    # One consumer, in work mode: each event is turned into alerts once across the replicas.
    consumers=(Consumer("incidents", "on_event", types=CONSUMED),),
)

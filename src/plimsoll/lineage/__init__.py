"""Lineage: the graph of what was made from what (dataset versions, runs, model versions,
deployments, and the kinds later capabilities add), recorded by the other capabilities through its
service and walked with recursive SQL; and the runs' OpenLineage events (`openlineage`), exported
or posted to a receiver as runs start and end. docs/lineage.md."""

from __future__ import annotations

from pathlib import Path

from plimsoll.core.capability import Capability, CliGroup, Consumer, NavItem
from plimsoll.core.outbox import Backoff

CAPABILITY = Capability(
    name="lineage",
    title="Lineage",
    tables="plimsoll.lineage.store:TABLES",
    migrations=Path(__file__).with_name("migrations"),
    service="plimsoll.lineage.service:LineageService",
    router="plimsoll.lineage.api:router",
    permissions="plimsoll.lineage.permissions:PERMISSIONS",
    pages="plimsoll.server.ui.lineage:router",
    nav=(NavItem("Data", "lineage", "Lineage", "/lineage", rank=1),),
    cli=(CliGroup("lineage", "plimsoll.cli.lineage:app"),),
    # Posts a run's OpenLineage events when PLIMSOLL_OPENLINEAGE_URL names a receiver (else each
    # event is passed over at once). A receiver that is down is retried for about half an hour (1 s,
    # doubling to 5 minutes between attempts) before the event is parked for replay.
    consumers=(
        Consumer(
            "openlineage",
            "emit_openlineage",
            types=("run.created", "run.ended", "run.resumed"),
            backoff=Backoff(initial_ms=1_000, factor=2.0, max_ms=300_000, max_attempts=15),
        ),
    ),
)

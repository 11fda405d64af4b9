"""Append-only, hash-chained audit log of every state change: who, what, when, before -> after.

Each event's hash covers the previous event's hash and the event's own canonical JSON (`chain`);
each event is also signed (HMAC) with the server's audit key, kept in a file outside the database
(`keys`), and the log is checkpointed with signed checkpoints on a schedule (`service`, the
`audit.verify` job). Verification (`verify`, `plimsoll audit verify`) then detects any event
changed, inserted, reordered or deleted, except the newest ones deleted after the last checkpoint
(docs/security.md). Events are written in the same transaction as the change they describe: both
land, or neither does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plimsoll.core.audit.chain import GENESIS_HASH
from plimsoll.core.audit.entities import AuditEntry, AuditEvent, Checkpoint, Verification
from plimsoll.core.capability import Capability, CliGroup, JobKind
from plimsoll.core.lazy import lazy_exports

if TYPE_CHECKING:
    from plimsoll.core.audit.store import (
        TABLES,
        audit_checkpoints,
        audit_events,
        audit_verifications,
        list_events,
        record,
        verify_chain,
    )

# The store's names bring SQLAlchemy; the descriptor, read by every CLI command, does not need it.
__getattr__ = lazy_exports(
    __name__,
    {
        name: "plimsoll.core.audit.store"
        for name in (
            "TABLES",
            "audit_checkpoints",
            "audit_events",
            "audit_verifications",
            "list_events",
            "record",
            "verify_chain",
        )
    },
)

VERIFY_JOB = "audit.verify"
# Hourly: the rows newer than the last checkpoint are what someone with only the database can
# delete unseen (docs/security.md), so the schedule bounds that window to about an hour.
VERIFY_SCHEDULE = "41 * * * *"

CAPABILITY = Capability(
    name="audit",
    title="Audit log",
    tables="plimsoll.core.audit.store:TABLES",
    cli=(CliGroup("audit", "plimsoll.cli.audit:app"),),
    events="plimsoll.core.audit.events:EVENTS",
    jobs=(
        JobKind(
            VERIFY_JOB,
            "plimsoll.core.audit.jobs:verify",
            max_attempts=3,
            timeout_s=6 * 3600,
            concurrency=1,
            schedule=VERIFY_SCHEDULE,
        ),
    ),
    # Successful verifications older than the retention are forgotten; failures are kept.
    retention="purge_verifications",
)

__all__ = [
    "CAPABILITY",
    "GENESIS_HASH",
    "TABLES",
    "VERIFY_JOB",
    "VERIFY_SCHEDULE",
    "AuditEntry",
    "AuditEvent",
    "Checkpoint",
    "Verification",
    "audit_checkpoints",
    "audit_events",
    "audit_verifications",
    "list_events",
    "record",
    "verify_chain",
]

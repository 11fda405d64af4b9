"""Append-only, hash-chained audit log of every state change: who, what, when, before -> after.

Each event's hash covers the previous event's hash and the event's own canonical JSON, so any
edit, deletion or reordering of stored events breaks `verify_chain`. Events are written in the
same transaction as the change they describe: both land, or neither does.
"""

from __future__ import annotations

from plimsoll.core.audit.entities import AuditEntry, AuditEvent
from plimsoll.core.audit.store import GENESIS_HASH, TABLES, audit_events, list_events, record, verify_chain

__all__ = [
    "GENESIS_HASH",
    "TABLES",
    "AuditEntry",
    "AuditEvent",
    "audit_events",
    "list_events",
    "record",
    "verify_chain",
]

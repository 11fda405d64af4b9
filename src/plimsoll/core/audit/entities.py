"""What the audit log records: an entry to append, and an event as stored."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class AuditEntry:
    """One state change to record: who did what to which resource, and its state before and after."""

    actor: str
    action: str
    resource_type: str
    resource_id: str
    project: str | None = None
    before: Any = None
    after: Any = None


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    ts: int
    actor: str
    action: str
    resource_type: str
    resource_id: str
    project: str | None
    before: Any
    after: Any
    prev_hash: str
    hash: str

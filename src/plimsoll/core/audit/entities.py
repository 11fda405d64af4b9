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


@dataclass(frozen=True)
class Checkpoint:
    """The server's signed statement that the log, up to and including row `seq`, hashed to
    `hash` when it was made. Rows at or before it cannot change without breaking it."""

    id: int
    seq: int
    hash: str
    created_at: int
    key_id: str
    signature: str


@dataclass(frozen=True)
class Verification:
    """What a walk of the whole log found. `ok` is False at the first problem, which `problem`
    describes and `first_bad_seq` (a row) or `checkpoint_id` (a checkpoint) names."""

    ok: bool
    started_at: int
    finished_at: int
    rows_checked: int
    checkpoints_checked: int
    head_seq: int | None  # the last row walked (None: the log is empty)
    head_hash: str | None
    anchor_seq: int | None = None  # the row the newest checkpoint covers
    first_bad_seq: int | None = None
    checkpoint_id: int | None = None
    problem: str | None = None
    # Checkpoints signed with keys no longer in the ring, older than one that is: not checked.
    unchecked_checkpoints: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "rows_checked": self.rows_checked,
            "checkpoints_checked": self.checkpoints_checked,
            "unchecked_checkpoints": self.unchecked_checkpoints,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "anchor_seq": self.anchor_seq,
            "first_bad_seq": self.first_bad_seq,
            "checkpoint_id": self.checkpoint_id,
            "problem": self.problem,
        }


@dataclass(frozen=True)
class AuditStatus:
    """The outcome of the last recorded verification, and how many have failed (for /metrics)."""

    last_ok: bool | None  # None: never verified
    last_finished_at: int | None
    failures: int
    checkpoints: int

"""The events the audit log publishes."""

from __future__ import annotations

from pydantic import BaseModel

from plimsoll.core.outbox import EventType


class VerificationFailed(BaseModel):
    problem: str  # names the first bad row (or checkpoint) and what is wrong with it
    first_bad_seq: int | None
    checkpoint_id: int | None
    rows_checked: int
    verified_at: int  # ms since the epoch


EVENTS = (
    EventType(
        "audit.verification_failed",
        "A verification of the audit log found a row or checkpoint that is missing, changed or not "
        "signed by the server's audit key (docs/security.md).",
        VerificationFailed,
    ),
)

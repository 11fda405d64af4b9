"""The events release gates publish, with their payloads (the catalog validates each). A move of
the alias itself is the registry's `alias.moved` (with `action` "promote" and the decision)."""

from __future__ import annotations

from pydantic import BaseModel

from plimsoll.core.outbox import EventType


class PromotionRequested(BaseModel):
    promotion: str
    model: str
    version: int
    alias: str
    project: str
    requested_by: str
    comment: str


class PromotionApproved(BaseModel):
    promotion: str
    model: str
    version: int
    alias: str
    project: str
    approver: str
    comment: str
    expires_at: int


class PromotionRejected(BaseModel):
    promotion: str
    model: str
    version: int
    alias: str
    project: str
    rejected_by: str
    comment: str


class PromotionDecided(BaseModel):
    promotion: str
    model: str
    version: int
    alias: str
    project: str
    decision: str
    verdict: str  # "passed", "failed" or "pending" (gates passed, approvals awaited)
    status: str  # the promotion's: "failed", "awaiting_approval" or "promoted"
    failed: list[str]  # the blocking gates that failed
    warnings: list[str]  # the warning gates that failed


EVENTS = (
    EventType(
        "promotion.requested",
        "Someone asked for a model version to be promoted to an alias; its release gates will run.",
        PromotionRequested,
    ),
    EventType(
        "promotion.approved",
        "An approver approved a promotion whose gates passed (the approval expires at `expires_at`).",
        PromotionApproved,
    ),
    EventType(
        "promotion.rejected",
        "An approver rejected an open promotion, with a comment.",
        PromotionRejected,
    ),
    EventType(
        "promotion.decided",
        "A promotion's gates ran (verdict failed, or pending approvals), or it completed and moved "
        "its alias (status promoted).",
        PromotionDecided,
    ),
)

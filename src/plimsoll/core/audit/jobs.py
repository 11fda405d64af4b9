"""The `audit.verify` job: the whole log checked on a schedule, and checkpointed when it holds."""

from __future__ import annotations

from typing import Any

from plimsoll.core.audit.service import AuditService
from plimsoll.core.jobs import JobContext


def verify(service: AuditService, _payload: Any, context: JobContext) -> dict[str, Any]:
    outcome = service.verify_and_record(
        progress=lambda done, total: context.progress({"rows_checked": done, "rows": total})
    )
    return outcome.to_dict()

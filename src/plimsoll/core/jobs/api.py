"""Background jobs over HTTP under /api/v1: list and read them, retry and cancel one, and the cron
schedules. Thin translations to JobService calls; the rules (which states may be retried or
cancelled, page sizes, ids) stay in the service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.http import QueryInt, json_response, service_of
from plimsoll.core.jobs.entities import JobPage, JobState
from plimsoll.core.jobs.rules import MAX_PAGE_SIZE
from plimsoll.core.jobs.service import JobService
from plimsoll.core.wire import Id, between, one_of

router = APIRouter(prefix="/api/v1", tags=["jobs"])

Jobs = Annotated[JobService, Depends(service_of("jobs"))]


@router.get("/jobs")
def list_jobs(
    jobs: Jobs,
    state: Annotated[list[Annotated[str, one_of(JobState)]], Query()] = [],  # noqa: B006 (FastAPI copies the default)
    kind: Annotated[list[str], Query()] = [],  # noqa: B006
    page_size: Annotated[QueryInt, between(1, MAX_PAGE_SIZE)] = 100,
    page_token: Id | None = None,
) -> Response:
    """Newest first; `state` and `kind` may be repeated (any of them matches)."""
    try:
        page: JobPage = jobs.list(states=state, kinds=kind, page_size=page_size, page_token=page_token)
    except InvalidParameter as exc:
        if exc.field != "states":
            raise
        raise InvalidParameter("state", exc.message.removeprefix("states: ")) from None
    return json_response(
        {"jobs": [job.to_dict() for job in page.jobs], "next_page_token": page.next_page_token}
    )


# Declared before /jobs/{job_id}, which would otherwise take "schedules" for an id.
@router.get("/jobs/schedules")
def list_schedules(jobs: Jobs) -> Response:
    return json_response({"schedules": [schedule.to_dict() for schedule in jobs.list_schedules()]})


@router.get("/jobs/{job_id}")
def get_job(job_id: Id, jobs: Jobs) -> Response:
    return json_response(jobs.get(job_id).to_dict())


@router.post("/jobs/{job_id}/retry")
def retry_job(job_id: Id, jobs: Jobs) -> Response:
    return json_response(jobs.retry(job_id).to_dict())


@router.post("/jobs/{job_id}/cancel")
def cancel_job(job_id: Id, jobs: Jobs) -> Response:
    return json_response(jobs.cancel(job_id).to_dict())

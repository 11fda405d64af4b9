"""The background jobs' pages: `/jobs` (the jobs, newest first, filtered by state through links and
paged with the service's page token; and the cron schedules) and `/jobs/{job_id}` (one job: its
timeline, payload, progress, result and whole last error). Read-only: retrying and cancelling are
for site admins, through the API or `plimsoll jobs retry|cancel`."""

from __future__ import annotations

import json
from typing import Any, cast

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from plimsoll.core.errors import InvalidParameter, NotFound
from plimsoll.core.ids import is_id
from plimsoll.core.jobs import JobService, JobState
from plimsoll.server.ui import views
from plimsoll.server.ui.pages import PageRoute, render

JOBS_PAGE_SIZE = 50
STATES = [state.value for state in JobState]
ERROR_PREVIEW = 120  # characters of the last error the table shows; the job's page has it all

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _jobs(request: Request) -> JobService:
    return cast(JobService, request.app.state.platform.service("jobs"))


@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(request: Request, state: str = "", page_token: str = "") -> HTMLResponse:
    if state and state not in STATES:  # named as this page's parameter, not the service's
        raise InvalidParameter("state", f"must be among {STATES}, got {state!r}")
    jobs = _jobs(request)
    page = jobs.list(states=[state] if state else [], page_size=JOBS_PAGE_SIZE, page_token=page_token or None)
    path = request.url.path
    context = {
        "active": "jobs",
        "jobs": page.jobs,
        "state": state,
        "states": STATES,
        "state_urls": {s.value: views.url(path, state=s.value) for s in JobState},
        "all_url": path,
        "paged": bool(page_token),
        "first_url": views.url(path, state=state),
        "next_url": None
        if page.next_page_token is None
        else views.url(path, state=state, page_token=page.next_page_token),
        "schedules": jobs.list_schedules(),
        "error_preview": ERROR_PREVIEW,
    }
    return render(request, "jobs.html", context)


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: str) -> HTMLResponse:
    if not is_id(job_id):  # a malformed id names no job: "not found", not "invalid parameter"
        raise NotFound(f"job {job_id!r} not found")
    job = _jobs(request).get(job_id)
    context = {
        "active": "jobs",
        "job": job,
        "payload": _pretty(job.payload),
        "progress": None if job.progress is None else _pretty(job.progress),
        "result": None if job.result is None else _pretty(job.result),
    }
    return render(request, "job.html", context)


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)

"""`plimsoll jobs list|show|retry|cancel`: the platform's background jobs through the SDK, as Rich
tables or `--json`."""

from __future__ import annotations

import time
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from plimsoll.cli._output import (
    JsonOption,
    UrlOption,
    console,
    format_time,
    open_client,
    print_json,
)
from plimsoll.core.formatting import format_duration_ms
from plimsoll.core.jobs.entities import Job

app = typer.Typer(help="Background jobs: list them, show one, retry or cancel one.", no_args_is_help=True)

STATE_STYLES = {
    "queued": "blue",
    "running": "cyan",
    "succeeded": "green",
    "dead": "red",
    "cancelled": "magenta",
}
ERROR_WIDTH = 60

JobId = Annotated[str, typer.Argument(help="The job's id (32 hex digits, as `jobs list` shows).")]


def job_json(job: Job) -> dict[str, Any]:
    """One job in the stable `--json` shape (docs/cli.md): the API's shape plus `duration_ms`;
    keys are only ever added."""
    duration = None
    if job.started_at is not None and job.finished_at is not None:
        duration = max(0, job.finished_at - job.started_at)
    return {**job.to_dict(), "duration_ms": duration}


def state_text(job: Job) -> Text:
    text = Text(job.state.value, style=STATE_STYLES.get(job.state.value, ""))
    if job.cancel_requested and not job.finished:
        text.append(" (cancelling)", style="dim")
    return text


def job_duration(job: Job, now_ms: int) -> str:
    if job.started_at is None:
        return "—"
    end = job.finished_at if job.finished_at is not None else now_ms
    text = format_duration_ms(max(0, end - job.started_at))
    return text if job.finished_at is not None else text + "…"


def first_line(error: str | None, width: int = ERROR_WIDTH) -> str:
    if not error:
        return ""
    line = error.strip().splitlines()[0] if error.strip() else ""
    return line if len(line) <= width else line[: width - 1] + "…"


@app.command("list")
def list_jobs(
    state: Annotated[
        list[str] | None,
        typer.Option(
            "--state",
            "-s",
            help="queued, running, succeeded, dead or cancelled (repeat for several).",
            show_default=False,
        ),
    ] = None,
    kind: Annotated[
        list[str] | None,
        typer.Option("--kind", "-k", help="A job kind (repeat for several).", show_default=False),
    ] = None,
    max_results: Annotated[int, typer.Option("--max-results", "-n", help="At most this many jobs.")] = 100,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """List background jobs, newest first."""
    with open_client(url) as client:
        jobs = client.list_jobs(state=state or None, kind=kind or None, max_results=max_results)
    if json_output:
        print_json({"jobs": [job_json(job) for job in jobs]})
        return
    if not jobs:
        console.print("No jobs.")
        return
    now = int(time.time() * 1000)
    table = Table()
    table.add_column("id", no_wrap=True, min_width=32)  # the id is what one copies: never cut
    table.add_column("kind", overflow="fold")
    table.add_column("state", no_wrap=True)
    table.add_column("attempts", justify="right")
    table.add_column("created", no_wrap=True)
    table.add_column("duration", justify="right", no_wrap=True)
    table.add_column("last error", overflow="ellipsis", max_width=ERROR_WIDTH)
    for job in jobs:
        table.add_row(
            job.id,
            Text(job.kind),
            state_text(job),
            f"{job.attempts}/{job.max_attempts}",
            format_time(job.created_at),
            job_duration(job, now),
            Text(first_line(job.last_error), style="red"),
        )
    console.print(table)


@app.command("show")
def show_job(job_id: JobId, json_output: JsonOption = False, url: UrlOption = None) -> None:
    """Show one job: state, attempts, times, payload, progress, result and its whole last error."""
    with open_client(url) as client:
        job = client.get_job(job_id.strip().lower())
    if json_output:
        print_json(job_json(job))
        return
    overview = Table.grid(padding=(0, 2))
    overview.add_column(style="bold")
    overview.add_column()
    overview.add_row("job", Text(job.kind, style="bold"))
    overview.add_row("id", job.id)
    overview.add_row("state", state_text(job))
    overview.add_row("attempts", f"{job.attempts}/{job.max_attempts}")
    overview.add_row("created", format_time(job.created_at))
    overview.add_row("run after", format_time(job.run_after))
    overview.add_row("started", format_time(job.started_at))
    overview.add_row("finished", format_time(job.finished_at))
    overview.add_row("duration", job_duration(job, int(time.time() * 1000)))
    if job.lease_owner:
        overview.add_row("worker", Text(job.lease_owner))
    if job.concurrency_key:
        overview.add_row("concurrency", Text(f"{job.concurrency_key} (at most {job.concurrency_limit})"))
    if job.dedupe_key:
        overview.add_row("dedupe key", Text(job.dedupe_key))
    for label, value in (("payload", job.payload), ("progress", job.progress), ("result", job.result)):
        if value is not None:
            overview.add_row(label, Text(_compact(value)))
    console.print(overview)
    if job.last_error:
        console.print(Text("last error:", style="bold"))
        console.print(Text(job.last_error, style="red"), soft_wrap=True)


@app.command("retry")
def retry_job(job_id: JobId, json_output: JsonOption = False, url: UrlOption = None) -> None:
    """Queue a dead or cancelled job again (or run one waiting out a backoff now); exit code 4 for
    any other job. Site admins only on a server with auth."""
    with open_client(url) as client:
        job = client.retry_job(job_id.strip().lower())
    _report("Queued again", job, json_output)


@app.command("cancel")
def cancel_job(job_id: JobId, json_output: JsonOption = False, url: UrlOption = None) -> None:
    """Cancel a queued job, or ask a running one to stop; exit code 4 for a job that already ended.
    Site admins only on a server with auth."""
    with open_client(url) as client:
        job = client.cancel_job(job_id.strip().lower())
    action = "Cancellation requested for" if job.state.value == "running" else "Cancelled"
    _report(action, job, json_output)


def _report(action: str, job: Job, json_output: bool) -> None:
    if json_output:
        print_json(job_json(job))
        return
    console.print(f"{action} job [bold]{escape(job.kind)}[/] ({job.id}): ", state_text(job), sep="")


def _compact(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()

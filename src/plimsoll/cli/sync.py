"""`plimsoll sync`: send the writes that SDK processes left in the spool (docs/sdk.md)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from plimsoll.cli._output import (
    JsonOption,
    UrlOption,
    console,
    err_console,
    exit_code,
    fail,
    open_client,
    print_json,
)


def sync(
    url: UrlOption = None,
    timeout: Annotated[
        float,
        typer.Option("--timeout", help="Give up after this many seconds without an acknowledgement."),
    ] = 60.0,
    json_output: JsonOption = False,
) -> None:
    """Send what SDK processes could not deliver before they ended (kept in PLIMSOLL_SPOOL_DIR,
    by default ~/.plimsoll/spool) to the server, showing progress. A process that logs to the
    server sends them by itself; this does it now."""
    from plimsoll.client.spool import spooled_destinations
    from plimsoll.core.config import Settings

    with open_client(url) as client:
        if json_output:
            report = client.send_spooled(stall=timeout)
        else:
            columns = (TextColumn("sending spooled batches"), BarColumn(), MofNCompleteColumn())
            with Progress(*columns, console=err_console, transient=True) as progress:
                task = progress.add_task("sync", total=None)
                report = client.send_spooled(
                    stall=timeout,
                    progress=lambda done, total: progress.update(task, completed=done, total=total),
                )
    elsewhere = {
        destination: files
        for destination, files in spooled_destinations(Settings.from_env().resolved_spool_dir).items()
        if destination != report.destination
    }
    if json_output:
        print_json({**report.to_dict(), "other_destinations": elsewhere})
    else:
        console.print(
            f"{report.destination}: sent {report.batches} batches from {report.files} spool files "
            f"({report.runs} runs, {report.metrics} metric points, {report.artifacts} artifacts)"
        )
        for failure in report.failures:
            console.print(f"  refused: {failure.error.message}", style="red")
        for destination, files in elsewhere.items():
            console.print(f"{files} spool files wait for {destination} (plimsoll sync --url {destination})")
    if report.failures:
        first = report.failures[0].error
        if json_output:
            raise typer.Exit(exit_code(first))
        fail(
            f"{len(report.failures)} spooled writes were refused; the first: {first.message}",
            exit_code(first),
        )

"""What every CLI command shares: the common options, opening a client, turning errors into exit
codes, the `--json` documents and the small formatters of the Rich tables.

Exit codes (stable; documented in docs/cli.md):

    0  success
    1  any other error (an internal error on the server, a bug)
    2  usage or validation error: a bad option or argument, a bad filter (INVALID_PARAMETER)
    3  not found (NOT_FOUND)
    4  conflict, e.g. the name is taken (CONFLICT)
    5  not signed in or not allowed (UNAUTHENTICATED, PERMISSION_DENIED)
    6  a gate failed (GATE_FAILED)
    7  the server is unreachable or unavailable (UNAVAILABLE)
    8  `plimsoll audit verify`: the audit log does not verify
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import click
import orjson
import typer
from rich.console import Console
from rich.text import Text

from plimsoll.core.errors import (
    Conflict,
    GateFailed,
    InvalidParameter,
    NotFound,
    PermissionDenied,
    PlimsollError,
    Unauthenticated,
    Unavailable,
)
from plimsoll.core.formatting import format_duration_ms
from plimsoll.core.projects import DEFAULT_PROJECT

if TYPE_CHECKING:
    from plimsoll.client import Client
    from plimsoll.tracking.entities import Artifact, Experiment, Run

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_CONFLICT = 4
EXIT_DENIED = 5
EXIT_GATE_FAILED = 6
EXIT_UNAVAILABLE = 7
EXIT_VERIFICATION_FAILED = 8

# Most specific first: PayloadTooLarge is an InvalidParameter, and so exits 2.
EXIT_CODES: tuple[tuple[type[PlimsollError], int], ...] = (
    (InvalidParameter, EXIT_USAGE),
    (NotFound, EXIT_NOT_FOUND),
    (Conflict, EXIT_CONFLICT),
    (Unauthenticated, EXIT_DENIED),
    (PermissionDenied, EXIT_DENIED),
    (GateFailed, EXIT_GATE_FAILED),
    (Unavailable, EXIT_UNAVAILABLE),
)

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        help="Server URL (http://...) or database URL; default: $PLIMSOLL_URL, else the embedded store.",
        show_default=False,
    ),
]
ProjectOption = Annotated[str, typer.Option("--project", help="Project the experiments live in.")]
PROJECT_DEFAULT = DEFAULT_PROJECT
JsonOption = Annotated[bool, typer.Option("--json", help="Print a JSON document for scripts.")]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def exit_code(error: PlimsollError) -> int:
    for cls, code in EXIT_CODES:
        if isinstance(error, cls):
            return code
    return EXIT_ERROR


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print `message` in red on stderr and exit with `code`."""
    err_console.print(Text(f"Error: {message}", style="red"), soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def errors_to_exit() -> Iterator[None]:
    """Turn a `PlimsollError` (or anything unexpected) into a red message and an exit code; never a
    traceback. Typer's own exits pass through."""
    try:
        yield
    except (click.exceptions.Exit, typer.Exit, click.ClickException, click.Abort):
        raise
    except PlimsollError as exc:
        fail(exc.message, exit_code(exc))
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except Exception as exc:  # the CLI's contract: a message and an exit code, not a traceback
        fail(f"unexpected {type(exc).__name__}: {exc}", EXIT_ERROR)


@contextmanager
def open_client(url: str | None) -> Iterator[Client]:
    """A `plimsoll.Client` for `--url` (else PLIMSOLL_URL, else the embedded store), closed after;
    errors inside the block become exit codes."""
    with errors_to_exit():
        from plimsoll.client.client import Client, check_target_url

        if url:
            check_target_url("--url", url)
        client = Client(url)
        try:
            yield client
        finally:
            client.close()


# -- JSON ------------------------------------------------------------------------------------------


def print_json(document: Any) -> None:
    typer.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())


def run_json(run: Run) -> dict[str, Any]:
    """One run in the stable `--json` shape (docs/cli.md): the API's shape plus `duration_ms`;
    keys are only ever added."""
    duration = None if run.end_time is None else max(0, run.end_time - run.start_time)
    return {**run.to_json(), "duration_ms": duration}


def experiment_json(experiment: Experiment) -> dict[str, Any]:
    return experiment.to_dict()


def artifact_json(artifact: Artifact) -> dict[str, Any]:
    return artifact.to_dict()


# -- human formatting ------------------------------------------------------------------------------

STATUS_STYLES = {"RUNNING": "cyan", "FINISHED": "green", "FAILED": "red", "KILLED": "magenta"}


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


def format_time(millis: int | None) -> str:
    if millis is None:
        return "—"
    return datetime.fromtimestamp(millis / 1000).strftime("%Y-%m-%d %H:%M:%S")


def format_duration(run: Run, now_ms: int) -> str:
    end = run.end_time if run.end_time is not None else now_ms
    text = format_duration_ms(end - run.start_time)
    return text if run.end_time is not None else text + "…"


def format_metric(value: float | None) -> str:
    if value is None:
        return "—"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return f"{value:.4g}"


def format_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    amount, unit = size / 1024, "KB"
    for bigger in ("MB", "GB"):
        if amount < 1024:
            break
        amount, unit = amount / 1024, bigger
    return f"{amount:.1f} {unit}"

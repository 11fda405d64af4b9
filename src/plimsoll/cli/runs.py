"""`plimsoll runs list|show|compare|delete|restore`: runs through the SDK, as Rich tables or `--json`.
A run is named by its id or its short id (the last 8 digits, which lists show); the tracking
service resolves a short id among the runs the caller may see."""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from plimsoll.cli._output import (
    PROJECT_DEFAULT,
    JsonOption,
    ProjectOption,
    UrlOption,
    artifact_json,
    console,
    format_duration,
    format_metric,
    format_size,
    format_time,
    open_client,
    print_json,
    run_json,
    status_text,
)
from plimsoll.core.errors import InvalidParameter
from plimsoll.core.ids import short_id
from plimsoll.tracking.entities import SYSTEM_TAG_PREFIXES, encode_float
from plimsoll.tracking.run_columns import ColumnChoice, KeyColumn, choose_columns

if TYPE_CHECKING:
    from plimsoll.tracking.entities import Run

app = typer.Typer(help="Runs: list, show, compare, delete and restore them.", no_args_is_help=True)
RunRef = Annotated[str, typer.Argument(help="Run id, or its short id (the last 8 digits `runs list` shows).")]

FIXED_HEADERS = ("name", "id", "status", "start", "duration")
MAX_NAME_WIDTH = 24
KEY_WIDTH = 16
MAX_KEY_COLUMNS = 12


@app.command("list")
def list_runs(
    experiment: Annotated[
        list[str] | None,
        typer.Option(
            "--experiment", "-e", help="Experiment name or id (repeat for several).", show_default=False
        ),
    ] = None,
    filter: Annotated[
        str | None,
        typer.Option(
            "--filter",
            "-f",
            help="Filter, e.g. \"metrics.acc > 0.9 AND params.lr = '0.1'\" (docs/search.md).",
        ),
    ] = None,
    order_by: Annotated[
        list[str] | None,
        typer.Option(
            "--order-by", "-o", help="Sort key, e.g. 'metrics.acc DESC' (repeatable).", show_default=False
        ),
    ] = None,
    max_results: Annotated[
        int, typer.Option("--max-results", "-n", min=1, help="At most this many runs.")
    ] = 100,
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """List runs, newest first unless --order-by says otherwise."""
    with open_client(url) as client:
        runs = client.search_runs(
            list(experiment) if experiment else None,
            filter=filter,
            order_by=order_by,
            max_results=max_results,
            project=project,
        )
    if json_output:
        print_json({"runs": [run_json(run) for run in runs]})
        return
    if not runs:
        console.print("No runs.")
        return
    console.print(_runs_table(runs, console.width, order_by=order_by or [], filter=filter))


def _runs_table(runs: list[Run], width: int, *, order_by: list[str], filter: str | None) -> Table:
    now = int(time.time() * 1000)
    rows = [
        [run.name, short_id(run.id), run.status, format_start(run.start_time), format_duration(run, now)]
        for run in runs
    ]
    fixed = [min(MAX_NAME_WIDTH, max(len(row[0]) for row in rows))] + [
        max(len(header), *(len(row[i]) for row in rows)) for i, header in enumerate(FIXED_HEADERS) if i
    ]
    choice = choose_columns(runs, order_by=order_by, filter=filter)
    keys, hidden = pick_key_columns(runs, choice, width - sum(fixed) - 3 * len(fixed) - 1)
    table = Table(caption=_caption(keys, hidden, choice, len(runs)), caption_justify="left")
    table.add_column("name", max_width=MAX_NAME_WIDTH, overflow="ellipsis", no_wrap=True)
    table.add_column("id", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("start", no_wrap=True)
    table.add_column("duration", justify="right", no_wrap=True)
    for column in keys:
        if column.kind == "param":
            table.add_column(
                Text(column.key, style="blue"), overflow="ellipsis", no_wrap=True, max_width=KEY_WIDTH
            )
        else:
            table.add_column(
                Text(column.key, style="green"), justify="right", no_wrap=True, max_width=KEY_WIDTH
            )
    for run, row in zip(runs, rows, strict=True):
        table.add_row(
            Text(row[0]),
            row[1],
            status_text(run.status),
            row[3],
            row[4],
            *[_key_cell(run, column) for column in keys],
        )
    return table


def format_start(millis: int) -> str:
    """Month, day and minute: the year is in `runs show` and --json."""
    return datetime.fromtimestamp(millis / 1000).strftime("%m-%d %H:%M")


def _key_cell(run: Run, column: KeyColumn) -> Text | str:
    if column.kind == "param":
        return Text(run.params.get(column.key, "—"))
    return format_metric(run.metrics.get(column.key))


def _caption(keys: list[KeyColumn], hidden: int, choice: ColumnChoice, count: int) -> Text:
    caption = Text()
    if choice.constant:
        caption.append("this run: " if count == 1 else f"all {count} runs: ", style="bold")
        for index, (column, value) in enumerate(choice.constant):
            if index:
                caption.append(" · ")
            text = value if isinstance(value, str) else format_metric(value)
            caption.append(column.key, style="blue" if column.kind == "param" else "green")
            caption.append(f" = {_clip(text)}")
        caption.append("\n")
    if keys:
        caption.append("after duration: ")
        if any(column.kind == "param" for column in keys):
            caption.append("params", style="blue").append(", ")
        if any(column.kind == "metric" for column in keys):
            caption.append("metrics (latest)", style="green").append(", ")
        caption.right_crop(2)
        caption.append(". ")
    if hidden:
        caption.append(f"{hidden} more params/metrics left out: see `runs show ID` or --json.")
    return caption


def _clip(text: str) -> str:
    return text if len(text) <= KEY_WIDTH * 2 else text[: KEY_WIDTH * 2 - 1] + "…"


def pick_key_columns(runs: list[Run], choice: ColumnChoice, room: int) -> tuple[list[KeyColumn], int]:
    """The params and metrics to show as columns: those `choose_columns` shows (sorted or filtered
    on, then those that differ), in its order, as many as fit in `room` characters. Keys with one
    value in every run are said once in the caption instead. Answers (the columns, how many that
    differ were left out)."""
    chosen: list[KeyColumn] = []
    left_out = 0
    for column in choice.shown:
        if len(chosen) == MAX_KEY_COLUMNS:
            left_out += 1
            continue
        if column.kind == "param":
            texts = [run.params[column.key] for run in runs if column.key in run.params]
        else:
            texts = [format_metric(run.metrics[column.key]) for run in runs if column.key in run.metrics]
        need = min(KEY_WIDTH, max(len(column.key), 1, *(len(text) for text in texts))) + 3
        if need > room:
            left_out += 1
            continue
        room -= need
        chosen.append(column)
    return chosen, left_out


@app.command("show")
def show_run(
    run_id: RunRef,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Show one run: overview, params, latest metrics, tags and artifacts."""
    with open_client(url) as client:
        run = client.get_run(run_id)
        artifacts = client.list_artifacts(run.id)
    if json_output:
        print_json({**run_json(run), "artifacts": [artifact_json(a) for a in artifacts]})
        return

    overview = Table.grid(padding=(0, 2))
    overview.add_column(style="bold")
    overview.add_column()
    now = int(time.time() * 1000)
    overview.add_row("run", Text(run.name, style="bold"))
    overview.add_row("id", run.id)
    overview.add_row("experiment", Text(f"{run.experiment}  ({run.experiment_id})"))
    overview.add_row("project", Text(run.project))
    overview.add_row("status", status_text(run.status))
    overview.add_row("user", Text(run.user))
    overview.add_row("start", format_time(run.start_time))
    overview.add_row("end", format_time(run.end_time))
    overview.add_row("duration", format_duration(run, now))
    if run.parent_run_id:
        overview.add_row("parent", run.parent_run_id)
    if run.lifecycle_stage != "active":
        overview.add_row("lifecycle", Text(run.lifecycle_stage, style="red"))
    console.print(overview)

    console.print(_pairs("Params", sorted(run.params.items())))
    console.print(
        _pairs(
            "Metrics (latest)", [(k, format_metric(v)) for k, v in sorted(run.metrics.items())], right=True
        )
    )
    tags = sorted(run.tags.items(), key=lambda item: (item[0].startswith(SYSTEM_TAG_PREFIXES), item[0]))
    console.print(_pairs("Tags", tags, dim=lambda key: key.startswith(SYSTEM_TAG_PREFIXES)))
    files = Table(title="Artifacts", title_justify="left")
    files.add_column("path")
    files.add_column("size", justify="right")
    files.add_column("digest", style="dim")
    for artifact in artifacts:
        files.add_row(Text(artifact.path), format_size(artifact.size), artifact.digest[:16])
    console.print(files if artifacts else Text("Artifacts: none", style="dim"))


def _pairs(title: str, rows: list[tuple[str, str]], *, right: bool = False, dim: Any = None) -> Table | Text:
    if not rows:
        return Text(f"{title}: none", style="dim")
    table = Table(title=title, title_justify="left")
    table.add_column("key")
    table.add_column("value", justify="right" if right else "left", overflow="fold")
    for key, value in rows:
        table.add_row(Text(key), Text(value), style="dim" if dim is not None and dim(key) else None)
    return table


@app.command("compare")
def compare_runs(
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids (or their last 8 digits).")],
    only_diff: Annotated[bool, typer.Option("--only-diff", help="Show only rows that differ.")] = False,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Params and latest metrics of runs side by side; rows that differ are highlighted."""
    with open_client(url) as client:
        if len(run_ids) < 2:
            raise InvalidParameter("run_ids", f"compare needs at least 2 runs, got {len(run_ids)}")
        runs = [client.get_run(ref) for ref in run_ids]
    params = {
        key: [run.params.get(key) for run in runs] for key in sorted({k for r in runs for k in r.params})
    }
    metrics = {
        key: [None if key not in run.metrics else encode_float(run.metrics[key]) for run in runs]
        for key in sorted({k for r in runs for k in r.metrics})
    }
    differing_params = [key for key, values in params.items() if len(set(values)) > 1]
    differing_metrics = [key for key, values in metrics.items() if len(set(values)) > 1]
    if json_output:
        print_json(
            {
                "runs": [run_json(run) for run in runs],
                "params": params,
                "metrics": metrics,
                "differences": {"params": differing_params, "metrics": differing_metrics},
            }
        )
        return

    def side_by_side(title: str, rows: dict[str, list[Any]], differing: list[str], numeric: bool) -> None:
        shown = [key for key in rows if key in differing or not only_diff]
        if not shown:
            console.print(Text(f"{title}: {'no differences' if rows else 'none'}", style="dim"))
            return
        table = Table(title=title, title_justify="left")
        table.add_column("key")
        for run in runs:
            table.add_column(Text(f"{run.name}\n{short_id(run.id)}"), justify="right" if numeric else "left")
        for key in shown:
            values = rows[key]
            cells = [_cell(value, numeric) for value in values]
            table.add_row(
                Text(key), *[Text(cell) for cell in cells], style="bold yellow" if key in differing else None
            )
        console.print(table)

    side_by_side("Params", params, differing_params, numeric=False)
    side_by_side("Metrics (latest)", metrics, differing_metrics, numeric=True)
    console.print(
        Text(
            f"{len(differing_params)} params and {len(differing_metrics)} metrics differ (highlighted).",
            style="dim",
        )
    )


def _cell(value: Any, numeric: bool) -> str:
    if value is None:
        return "—"
    if numeric and isinstance(value, float | int):
        return format_metric(float(value))
    return str(value)


@app.command("delete")
def delete_run(run_id: RunRef, json_output: JsonOption = False, url: UrlOption = None) -> None:
    """Delete a run: hidden from lists and searches, kept until restored (or purged after the
    retention period)."""
    with open_client(url) as client:
        _report("Deleted", client.delete_run(run_id), json_output)


@app.command("restore")
def restore_run(run_id: RunRef, json_output: JsonOption = False, url: UrlOption = None) -> None:
    """Restore a deleted run."""
    with open_client(url) as client:
        _report("Restored", client.restore_run(run_id), json_output)


def _report(action: str, run: Run, json_output: bool) -> None:
    if json_output:
        print_json(run_json(run))
        return
    console.print(Text.assemble(f"{action} run ", (run.name, "bold"), f" ({run.id})."))

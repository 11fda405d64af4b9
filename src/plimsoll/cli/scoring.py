"""`plimsoll score MODEL DATASET`: batch scoring through the SDK, with a progress bar, as Rich
output or `--json`. A top-level verb (the monitoring capability's `CliCommand`), beside which
monitoring's command groups live in modules of their own."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from plimsoll.cli._output import (
    PROJECT_DEFAULT,
    JsonOption,
    UrlOption,
    console,
    err_console,
    format_size,
    open_client,
    print_json,
)
from plimsoll.monitoring.entities import DEFAULT_SCORING_BATCH

ProjectOption = Annotated[str, typer.Option("--project", help="Project the model and the dataset live in.")]


def score(
    model: Annotated[str, typer.Argument(help="The model: NAME@ALIAS, NAME/VERSION or NAME (its latest).")],
    dataset: Annotated[str, typer.Argument(help="The dataset version: NAME@VERSION, or NAME (its latest).")],
    output: Annotated[
        str | None,
        typer.Option("--output", help="The dataset the predictions become a version of.", show_default=False),
    ] = None,
    id_column: Annotated[
        str | None,
        typer.Option(
            "--id-column", help="The column whose values are the predictions' ids.", show_default=False
        ),
    ] = None,
    feature: Annotated[
        list[str] | None,
        typer.Option(
            "--feature", help="A column the model takes, in order (repeatable); default: its signature's."
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option("--batch-size", help="Rows predicted, written and logged at a time.")
    ] = DEFAULT_SCORING_BATCH,
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Predict every row of DATASET with MODEL: the predictions become a dataset version (default
    `<dataset>-scored-by-<model>`) linked in the lineage graph, and are logged as the model's
    predictions, so that a batch model is monitored like a served one."""
    with open_client(url) as client, progress_bar(not json_output) as report:
        scoring = client.monitoring.score(
            model,
            dataset,
            output=output,
            id_column=id_column,
            features=feature or None,
            batch_size=batch_size,
            project=project,
            progress=report,
        )
    if json_output:
        print_json(scoring.to_dict())
        return
    logged = (
        f"logged in {scoring.batches} batches ({scoring.segments} new segments)"
        if scoring.segments
        else f"already logged ({scoring.batches} batches): nothing logged twice"
    )
    alias = f" ({scoring.alias})" if scoring.alias else ""
    console.print(
        Text(
            f"{scoring.rows:,} rows of {scoring.dataset} scored by {scoring.model}{alias} in "
            f"{scoring.seconds:.1f} s\n  predictions: {scoring.output}\n  {logged}"
        )
    )


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Any]:
    """A Rich progress bar on stderr, one line a phase: reading the dataset's files, scoring its
    rows, storing the output; none for `--json` or when stderr is not a terminal."""
    if not enabled or not err_console.is_terminal:
        yield None
        return
    tasks: dict[str, TaskID] = {}
    with Progress(
        TextColumn("{task.description:>10}"),
        BarColumn(),
        TextColumn("{task.fields[amount]}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:

        def report(phase: str, done: int, total: int) -> None:
            amount = (
                f"{done:,}/{total:,} rows"
                if phase == "scoring"
                else f"{format_size(done)}/{format_size(total)}"
            )
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total or None, amount=amount)
            bar.update(tasks[phase], completed=done, total=total or None, amount=amount)

        yield report

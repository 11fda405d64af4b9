"""`plimsoll demo`: train real scikit-learn models, log every run, show the best."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from plimsoll.cli._output import (
    UrlOption,
    console,
    format_metric,
    open_client,
)
from plimsoll.core.ids import short_id

UI_URL = "http://127.0.0.1:8765"
TABLE_METRICS = ("accuracy", "f1", "roc_auc", "log_loss")


def demo(
    experiment: Annotated[
        str, typer.Option("--experiment", "-e", help="Experiment to log the runs to.")
    ] = "demo",
    url: UrlOption = None,
) -> None:
    """Train scikit-learn models on a bundled dataset over a small grid and log everything."""
    from plimsoll.demo import BEST_METRIC, GRID, run_demo

    with open_client(url) as client:
        with Progress(
            TextColumn("[bold]{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        ) as bar:
            task = bar.add_task("training", total=len(GRID))

            def advance(done: int, total: int, label: str) -> None:
                bar.update(task, completed=done, total=total, description=label)

            result = run_demo(client, experiment=experiment, progress=advance)
        remote = client.url.startswith(("http://", "https://"))
        base = client.url.rstrip("/") if remote else UI_URL

    table = Table(title=Text(f"Runs in {result.experiment.name!r}, best {BEST_METRIC} first"))
    table.add_column("#", justify="right")
    table.add_column("run", no_wrap=True)
    table.add_column("id", no_wrap=True)
    for key in TABLE_METRICS:
        table.add_column(key, justify="right", style="bold" if key == BEST_METRIC else None)
    for rank, run in enumerate(result.runs, start=1):
        table.add_row(
            str(rank),
            Text(run.name),
            short_id(run.id),
            *[format_metric(run.metrics.get(key)) for key in TABLE_METRICS],
            style="green" if rank == 1 else None,
        )
    console.print(table)
    page = f"{base}/experiments/{result.experiment.id}"
    if remote:
        console.print(f"Open {page} to see the runs and their curves.")
    else:
        console.print(f"Logged to the embedded store. Run `plimsoll server`, then open {page}")
    console.print(f"Next: plimsoll runs show {short_id(result.best.id)}")

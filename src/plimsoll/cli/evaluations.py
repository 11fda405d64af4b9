"""`plimsoll evaluations list|show|compare`: stored evaluations through the SDK, as Rich output or
`--json`. An evaluation is computed in Python, where the model and the data are
(`pl.evaluate`); the CLI reads them and compares champion with challenger."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from plimsoll.cli._output import (
    PROJECT_DEFAULT,
    JsonOption,
    UrlOption,
    console,
    format_time,
    open_client,
    print_json,
)
from plimsoll.evaluation.entities import Evaluation

app = typer.Typer(
    help="Evaluations: a model's metrics on data, per slice, fairness, latency and cost; champion vs challenger.",
    no_args_is_help=True,
)

ProjectOption = Annotated[str, typer.Option("--project", help="Project the evaluations live in.")]
SHOWN_METRICS = 4


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


@app.command("list")
def list_evaluations(
    model: Annotated[
        str | None, typer.Option("--model", help="Of this model (NAME or NAME/VERSION).")
    ] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="On this dataset version (NAME@VERSION).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many, newest first.")] = 50,
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """List a project's evaluations, newest first."""
    with open_client(url) as client:
        found = client.evaluations.list(model=model, dataset=dataset, limit=limit, project=project)
    if json_output:
        print_json({"evaluations": [e.to_dict() for e in found]})
        return
    if not found:
        console.print(f"No evaluations in project {project!r}.")
        return
    table = Table()
    for column in ("id", "task", "model", "dataset", "rows", "metrics", "created"):
        table.add_column(column, overflow="fold")
    for evaluation in found:
        shown = list(evaluation.metrics.items())[:SHOWN_METRICS]
        table.add_row(
            evaluation.id,
            evaluation.task,
            evaluation.model or "—",
            evaluation.dataset or "—",
            str(evaluation.rows),
            ", ".join(f"{k} {_number(v)}" for k, v in shown),
            format_time(evaluation.created_at),
        )
    console.print(table)


@app.command("show")
def show(
    evaluation_id: Annotated[str, typer.Argument(help="The evaluation's id.")],
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Show an evaluation: its metrics, slices, fairness, latency and cost."""
    with open_client(url) as client:
        found = client.evaluations.get(evaluation_id, project=project)
    if json_output:
        print_json(found.to_dict())
        return
    _show(found)


def _show(evaluation: Evaluation) -> None:
    console.print(
        f"[bold]{evaluation.task}[/] evaluation {evaluation.id} of {evaluation.model or 'a model'} on "
        f"{evaluation.dataset or 'a table'}: {evaluation.rows} rows, by {evaluation.created_by}, "
        f"{format_time(evaluation.created_at)}"
    )
    metrics = Table(title="metrics")
    metrics.add_column("metric")
    metrics.add_column("value", justify="right")
    for name, value in evaluation.metrics.items():
        metrics.add_row(name, _number(value))
    console.print(metrics)
    for column, values in evaluation.slices.items():
        sliced = Table(title=f"slices by {column}")
        names = list(evaluation.metrics)
        for heading in (column, "rows", *names):
            sliced.add_column(heading)
        for label, part in values.items():
            sliced.add_row(label, str(part.rows), *(_number(part.metrics.get(n)) for n in names))
        console.print(sliced)
    for feature, fairness in evaluation.fairness.items():
        table = Table(title=f"fairness by {feature} (groups of at least {fairness.min_group_size} rows)")
        for heading in ("quantity", "value", "interval"):
            table.add_column(heading)
        for name, interval in fairness.metrics.items():
            table.add_row(
                name, _number(interval.value), f"[{_number(interval.lower)}, {_number(interval.upper)}]"
            )
        console.print(table)
        if fairness.note:
            console.print(fairness.note)
    if evaluation.latency is not None:
        latency = evaluation.latency
        console.print(
            f"latency: one row p50 {_number(latency.single_p50_ms)} ms, p99 {_number(latency.single_p99_ms)} ms; "
            f"batches of {latency.batch_size or '—'} p50 {_number(latency.batch_p50_ms)} ms, "
            f"p99 {_number(latency.batch_p99_ms)} ms"
        )
    if evaluation.cost is not None:
        cost = evaluation.cost
        console.print(
            f"cost: model {cost.model_bytes if cost.model_bytes is not None else '—'} bytes, "
            f"{_number(cost.cpu_seconds_per_1000)} CPU-seconds and {_number(cost.price_per_1000)} per 1,000 predictions"
        )


@app.command("compare")
def compare(
    champion: Annotated[str, typer.Argument(help="The champion's evaluation id.")],
    challenger: Annotated[str, typer.Argument(help="The challenger's evaluation id.")],
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Compare two evaluations made on the same data: each number, its change and the side it favours."""
    with open_client(url) as client:
        found = client.evaluations.compare(champion, challenger, project=project)
    if json_output:
        print_json(found.to_dict())
        return
    table = Table(title=f"champion {champion} against challenger {challenger}")
    for heading in ("metric", "champion", "challenger", "change", "better"):
        table.add_column(heading)
    for name, change in found.metrics.items():
        table.add_row(
            name,
            _number(change.champion),
            _number(change.challenger),
            "—" if change.delta is None else f"{change.delta:+.4g}",
            change.better or "—",
        )
    console.print(table)

"""`plimsoll experiments list|create`: experiments through the SDK, as Rich tables or `--json`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from plimsoll.cli._output import (
    PROJECT_DEFAULT,
    JsonOption,
    ProjectOption,
    UrlOption,
    console,
    experiment_json,
    format_time,
    open_client,
    print_json,
)
from plimsoll.tracking.entities import Experiment

app = typer.Typer(help="Experiments: list, create, rename, delete and restore them.", no_args_is_help=True)


@app.command("list")
def list_experiments(
    view: Annotated[
        str, typer.Option("--view", help="Which experiments: active, deleted or all.")
    ] = "active",
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """List the experiments of a project."""
    with open_client(url) as client:
        experiments = client.list_experiments(project=project, view=view)
    if json_output:
        print_json({"experiments": [experiment_json(e) for e in experiments]})
        return
    if not experiments:
        console.print(f"No experiments in project {project!r}.")
        return
    table = Table()
    table.add_column("name", overflow="fold")
    table.add_column("id", no_wrap=True)
    table.add_column("created", no_wrap=True)
    if view != "active":
        table.add_column("lifecycle")
    table.add_column("description", overflow="ellipsis", max_width=40)
    for experiment in experiments:
        stage = Text(
            experiment.lifecycle_stage, style="red" if experiment.lifecycle_stage != "active" else ""
        )
        table.add_row(
            Text(experiment.name),
            experiment.id,
            format_time(experiment.created_at)[:16],
            *([stage] if view != "active" else []),
            Text(experiment.description),
        )
    console.print(table)


@app.command("create")
def create_experiment(
    name: Annotated[str, typer.Argument(help="Name, unique in the project.")],
    description: Annotated[str, typer.Option("--description", "-d", help="What it is for.")] = "",
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Create an experiment (exit code 4 if the name is taken)."""
    with open_client(url) as client:
        experiment = client.create_experiment(name, project=project, description=description)
    if json_output:
        print_json(experiment_json(experiment))
        return
    console.print(
        f"Created experiment [bold]{escape(experiment.name)}[/] ({experiment.id}) in project {escape(project)!r}."
    )


ExperimentRef = Annotated[
    str, typer.Argument(help="Experiment id, its short id (the last 8 digits) or its name.")
]


def _report(action: str, experiment: Experiment, json_output: bool) -> None:
    if json_output:
        print_json(experiment_json(experiment))
        return
    console.print(f"{action} experiment [bold]{escape(experiment.name)}[/] ({experiment.id}).")


@app.command("rename")
def rename_experiment(
    experiment: ExperimentRef,
    new_name: Annotated[str, typer.Argument(help="The new name, unique in the project.")],
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Rename an experiment (exit code 4 if the new name is taken)."""
    with open_client(url) as client:
        _report("Renamed", client.rename_experiment(experiment, new_name, project=project), json_output)


@app.command("delete")
def delete_experiment(
    experiment: ExperimentRef,
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Delete an experiment: hidden from lists and searches, kept until restored."""
    with open_client(url) as client:
        _report("Deleted", client.delete_experiment(experiment, project=project), json_output)


@app.command("restore")
def restore_experiment(
    experiment: ExperimentRef,
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Restore a deleted experiment."""
    with open_client(url) as client:
        _report("Restored", client.restore_experiment(experiment, project=project), json_output)

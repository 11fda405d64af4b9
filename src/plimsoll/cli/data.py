"""`plimsoll data add|list|show|get`: dataset versions through the SDK, as Rich output or `--json`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TransferSpeedColumn
from rich.table import Table
from rich.text import Text

from plimsoll.cli._output import (
    PROJECT_DEFAULT,
    JsonOption,
    UrlOption,
    console,
    err_console,
    errors_to_exit,
    fail,
    format_size,
    format_time,
    open_client,
    print_json,
)
from plimsoll.core.errors import InvalidParameter
from plimsoll.data.entities import DatasetVersion

app = typer.Typer(
    help="Datasets: register versions of files and tables, list, show and get them.", no_args_is_help=True
)

ProjectOption = Annotated[str, typer.Option("--project", help="Project the datasets live in.")]
PROFILE_COLUMNS_SHOWN = 30


def version_json(version: DatasetVersion) -> dict[str, Any]:
    return version.to_dict()


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Any]:
    """A Rich progress bar on stderr (one line per phase: hashing, uploading, writing), or none
    for `--json` and when stderr is not a terminal."""
    if not enabled or not err_console.is_terminal:
        yield None
        return
    tasks: dict[str, TaskID] = {}
    with Progress(
        TextColumn("{task.description:>10}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        console=err_console,
        transient=True,
    ) as bar:

        def report(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = bar.add_task(phase, total=total or None)
            bar.update(tasks[phase], completed=done, total=total or None)

        yield report


def _tags(pairs: list[str]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key:
            raise InvalidParameter("--tag", f"must be KEY=VALUE, got {pair!r}")
        tags[key] = value
    return tags


@app.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The dataset's name (no '@', '/' or ':').")],
    path: Annotated[str, typer.Argument(help="A file, a folder, or an fsspec URL (s3://bucket/prefix).")],
    by_reference: Annotated[
        bool, typer.Option("--by-reference", help="Leave the files where they are; record their digests.")
    ] = False,
    description: Annotated[str | None, typer.Option("--description", help="What this version is.")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="A tag KEY=VALUE (repeatable).")] = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Register PATH as a version of dataset NAME (the same content gives back its version)."""
    with errors_to_exit():
        tags = _tags(tag or [])
    with open_client(url) as client, progress_bar(not json_output) as report:
        version = client.datasets.register(
            name,
            path,
            description=description,
            tags=tags,
            by_reference=by_reference,
            project=project,
            progress=report,
        )
    if json_output:
        print_json(version_json(version))
        return
    console.print(
        Text(
            f"{version.ref}  {version.digest[:16]}  {version.files} files, {format_size(version.bytes)}"
            + ("" if version.rows is None else f", {version.rows} rows")
        )
    )


@app.command("list")
def list_datasets(
    json_output: JsonOption = False, url: UrlOption = None, project: ProjectOption = PROJECT_DEFAULT
) -> None:
    """List the datasets of a project, each with its latest version."""
    with open_client(url) as client:
        found = client.datasets.list(project=project)
    if json_output:
        print_json({"datasets": [d.to_dict() for d in found]})
        return
    if not found:
        console.print(f"No datasets in project {project!r}.")
        return
    table = Table()
    for column in ("name", "latest", "files", "size", "rows", "registered"):
        table.add_column(column, overflow="fold")
    for dataset in found:
        latest = dataset.latest
        table.add_row(
            Text(dataset.name),
            str(latest.version),
            str(latest.files),
            format_size(latest.bytes),
            "" if latest.rows is None else str(latest.rows),
            format_time(latest.created_at)[:16],
        )
    console.print(table)


@app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="NAME (the latest version) or NAME@VERSION.")],
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Show a version: its identity, schema and a short profile of each column."""
    with open_client(url) as client:
        version = client.datasets.get(ref, project=project)
        profile = client.datasets.profile(version)
    if json_output:
        document = version_json(version)
        document["profile"] = None if profile is None else _profile_json(profile)
        print_json(document)
        return
    console.print(Text(f"{version.ref}  ({version.project})", style="bold"))
    facts = [
        ("digest", version.digest),
        ("files", str(version.files)),
        ("size", format_size(version.bytes)),
        ("rows", "" if version.rows is None else str(version.rows)),
        ("registered", f"{format_time(version.created_at)} by {version.created_by}"),
        ("run", version.run_id or ""),
        ("by reference", version.source_url or "" if version.by_reference else "no"),
        ("validation", version.validation or "not validated"),
        ("description", version.description),
        ("tags", ", ".join(f"{k}={v}" for k, v in sorted(version.tags.items()))),
    ]
    for label, value in facts:
        if value:
            console.print(Text(f"{label:>13}  {value}"))
    if version.schema is None:
        return
    columns = _profile_json(profile) if profile is not None else {}
    table = Table(title="schema and profile")
    for column in ("column", "type", "missing", "min", "mean", "max", "distinct / top"):
        table.add_column(column, overflow="fold")
    for field in version.schema[:PROFILE_COLUMNS_SHOWN]:
        summary = columns.get(field.name, {})
        table.add_row(
            Text(field.name),
            field.type,
            _text(summary.get("missing")),
            _text(summary.get("min")),
            _text(summary.get("mean")),
            _text(summary.get("max")),
            _text(summary.get("top")),
        )
    console.print(table)
    if len(version.schema) > PROFILE_COLUMNS_SHOWN:
        console.print(
            f"... and {len(version.schema) - PROFILE_COLUMNS_SHOWN} more columns (--json shows all)"
        )


def _profile_json(profile: Any) -> dict[str, dict[str, Any]]:
    from plimsoll.stats import CategoricalSummary

    shown: dict[str, dict[str, Any]] = {}
    for name, summary in profile.columns.items():
        if isinstance(summary, CategoricalSummary):
            top = sorted(summary.as_dict().items(), key=lambda item: -item[1])[:3]
            shown[name] = {
                "kind": "categorical",
                "missing": summary.missing_count,
                "distinct": summary.distinct_count,
                "top": ", ".join(f"{label} ({count})" for label, count in top),
            }
        else:
            shown[name] = {
                "kind": "numeric",
                "missing": summary.missing_count,
                "min": summary.minimum,
                "mean": summary.mean,
                "max": summary.maximum,
                "std": summary.std,
            }
    return shown


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@app.command("diff")
def diff(
    old: Annotated[str, typer.Argument(help="NAME@VERSION to compare from.")],
    new: Annotated[str, typer.Argument(help="NAME@VERSION (or NAME, the latest) to compare to.")],
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """What changed between two versions: files added, removed or changed; columns added, removed
    or retyped; rows; and, where both are tabular, the drift verdict on every column."""
    with open_client(url) as client:
        found = client.datasets.diff(old, new, project=project)
    if json_output:
        print_json(found.to_dict())
        return
    if found.old.rows != found.new.rows:
        console.print(f"rows: {_count(found.old.rows)} -> {_count(found.new.rows)}")
    if not found.files and not (found.columns_added or found.columns_removed or found.columns_retyped):
        console.print(f"{found.old.ref} and {found.new.ref} hold the same files.")
    marks = {"added": ("+", "green"), "removed": ("-", "red"), "changed": ("~", "yellow")}
    for change in found.files:
        mark, style = marks[change.kind]
        sizes = " -> ".join(format_size(e.size) for e in (change.old, change.new) if e is not None)
        console.print(Text(f"{mark} {change.path}  ({sizes})", style=style))
    for column in found.columns_added:
        console.print(Text(f"+ column {column.name}: {column.type}", style="green"))
    for column in found.columns_removed:
        console.print(Text(f"- column {column.name}: {column.type}", style="red"))
    for before, after in found.columns_retyped:
        console.print(Text(f"~ column {before.name}: {before.type} -> {after.type}", style="yellow"))
    if found.drift is not None and found.drift.columns:
        table = Table(
            title=f"drift, {found.old.ref} as the reference (alpha {found.drift.alpha}, {found.drift.correction})"
        )
        for heading in ("column", "test", "statistic", "p-value", "verdict"):
            table.add_column(heading, justify="right" if heading in ("statistic", "p-value") else "left")
        for result in found.drift.ranked():
            verdict = Text("drifted", style="bold red") if result.drifted else Text("no drift", style="green")
            table.add_row(
                result.column, result.method, f"{result.statistic:.4g}", f"{result.p_value:.3g}", verdict
            )
        console.print(table)


def _count(rows: int | None) -> str:
    return "-" if rows is None else f"{rows:,}"


@app.command("get")
def get(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION (or NAME for the latest).")],
    destination: Annotated[Path, typer.Argument(help="The folder to write the version's files into.")],
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Write the version's files into DESTINATION: the exact bytes, each verified against its digest."""
    with open_client(url) as client, progress_bar(not json_output) as report:
        version = client.datasets.get(ref, project=project)
        written = client.datasets.download(version, destination, progress=report)
    if json_output:
        print_json({**version_json(version), "destination": str(written)})
        return
    console.print(
        Text(f"{version.ref}: {version.files} files, {format_size(version.bytes)} written to {written}")
    )


@app.command("delete")
def delete(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION: the version to delete.")],
    force: Annotated[
        bool,
        typer.Option("--force", help="Delete it even though a model version or deployment depends on it."),
    ] = False,
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Delete one version (project admins). Its contents go at the next `plimsoll gc` unless another
    version holds them; it stays in the lineage graph, marked deleted. Refused while a model version
    or a deployment depends on it, unless --force."""
    with open_client(url) as client:
        deleted = client.datasets.delete(ref, force=force, project=project)
    if json_output:
        print_json(version_json(deleted))
        return
    console.print(f"Deleted {deleted.ref} ({deleted.files:,} files, {format_size(deleted.bytes)}).")


@app.command("validate")
def validate(
    ref: Annotated[str, typer.Argument(help="NAME@VERSION (or NAME for the latest).")],
    schema: Annotated[Path, typer.Argument(help="A pandera schema in YAML (DataFrameSchema.to_yaml()).")],
    min_rows: Annotated[int | None, typer.Option("--min-rows", help="Fewest rows in all its files.")] = None,
    max_rows: Annotated[int | None, typer.Option("--max-rows", help="Most rows in all its files.")] = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Check the version's tabular files against a pandera schema and store the outcome. Exits 1
    when a check failed, after naming each one with how many values failed and a few of them."""
    with open_client(url) as client:
        done = client.datasets.validate(ref, schema, min_rows=min_rows, max_rows=max_rows, project=project)
    if json_output:
        print_json(done.to_dict())
    elif done.passed:
        console.print(
            f"[green]passed[/]: {done.dataset}@{done.version}, {done.rows:,} rows, every check held."
        )
    else:
        table = Table(title=f"{done.dataset}@{done.version} failed validation ({done.rows:,} rows)")
        for heading in ("column", "check", "failed", "for example"):
            table.add_column(heading, justify="right" if heading == "failed" else "left")
        for failure in done.failures:
            table.add_row(
                failure.column or "(table)",
                failure.check,
                f"{failure.failures:,}",
                "; ".join(failure.examples[:3]),
            )
        console.print(table)
    if not done.passed:
        raise typer.Exit(1)


__all__ = ["app", "fail"]

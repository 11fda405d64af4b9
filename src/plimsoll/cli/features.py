"""`plimsoll features list|versions|show|skew|checks|check`: feature definitions and skew checks
through the SDK, as Rich output or `--json`.

The CLI runs no transformation (it has none: a feature's function lives in the user's code), so
`skew` compares data that already holds each feature's values as a column named after it: dataset
versions (their stored profiles) or Parquet and CSV files.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from plimsoll.cli._output import (
    PROJECT_DEFAULT,
    JsonOption,
    UrlOption,
    console,
    err_console,
    format_time,
    open_client,
    print_json,
)
from plimsoll.feature_registry.entities import FeatureSkew, FeatureVersion, SkewCheck

app = typer.Typer(
    help="Features: definitions registered from Python, their versions, and training/serving skew checks.",
    no_args_is_help=True,
)

ProjectOption = Annotated[str, typer.Option("--project", help="Project the features live in.")]
SHOWN_LABELS = 3


@app.command("list")
def list_features(
    json_output: JsonOption = False, url: UrlOption = None, project: ProjectOption = PROJECT_DEFAULT
) -> None:
    """List the features of a project, each with its latest version."""
    with open_client(url) as client:
        found = client.features.list(project=project)
    if json_output:
        print_json({"features": [f.to_dict() for f in found]})
        return
    if not found:
        console.print(f"No features in project {project!r}.")
        return
    table = Table()
    for column in ("name", "latest", "dtype", "inputs", "source hash", "registered"):
        table.add_column(column, overflow="fold")
    for feature in found:
        latest = feature.latest
        table.add_row(
            Text(feature.name),
            str(latest.version),
            latest.dtype,
            Text(", ".join(latest.inputs)),
            latest.source_hash[:16],
            format_time(latest.created_at)[:16],
        )
    console.print(table)


@app.command("versions")
def versions(
    name: Annotated[str, typer.Argument(help="The feature's name.")],
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """List a feature's versions, each with what changed from the one before."""
    with open_client(url) as client:
        found = client.features.versions(name, project=project)
    if json_output:
        print_json({"versions": [v.to_dict() for v in found]})
        return
    table = Table()
    for column in ("version", "dtype", "inputs", "source hash", "changed", "registered"):
        table.add_column(column, overflow="fold")
    for version in found:
        table.add_row(
            str(version.version),
            version.dtype,
            Text(", ".join(version.inputs)),
            version.source_hash[:16],
            ", ".join(version.changes) or ("new" if version.version == 1 else ""),
            f"{format_time(version.created_at)[:16]} by {version.created_by}",
        )
    console.print(table)


@app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="NAME (the latest version) or NAME@VERSION.")],
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Show a version: its dtype, inputs, source and hash, and the feature's latest skew check."""
    with open_client(url) as client:
        version = client.features.get(ref, project=project)
        latest = next(iter(client.features.checks(feature=version.name, limit=1, project=project)), None)
    if json_output:
        print_json({**version.to_dict(), "latest_check": None if latest is None else latest.to_dict()})
        return
    _print_version(version)
    if latest is None:
        console.print("\nNo skew check has looked at this feature yet.")
        return
    found = latest[version.name]
    console.print(
        Text(
            f"\nlatest skew check {latest.id} ({format_time(latest.created_at)[:16]}): "
            f"{found.ref} {found.verdict}, {latest.training.label} against {latest.serving.label}"
        )
    )


def _print_version(version: FeatureVersion) -> None:
    console.print(Text(f"{version.ref}  ({version.project})", style="bold"))
    facts = [
        ("dtype", version.dtype),
        ("inputs", ", ".join(version.inputs)),
        ("function", version.function),
        ("source hash", version.source_hash),
        ("changed", ", ".join(version.changes)),
        ("registered", f"{format_time(version.created_at)} by {version.created_by}"),
        ("description", version.description),
    ]
    for label, value in facts:
        if value:
            console.print(Text(f"{label:>12}  {value}"))
    console.print(Syntax(version.source, "python", theme="ansi_dark", background_color="default"))


@contextmanager
def _working(enabled: bool, what: str) -> Iterator[None]:
    """A spinner on stderr while the sides are read and profiled (not for --json, nor when
    stderr is not a terminal)."""
    if not enabled or not err_console.is_terminal:
        yield
        return
    with err_console.status(what):
        yield


def _side(text: str) -> Any:
    """A file that exists is read as one; anything else names a dataset version."""
    path = Path(text)
    return path if path.is_file() else text


@app.command("skew")
def skew(
    features: Annotated[list[str], typer.Argument(help="The features to check: NAME or NAME@VERSION.")],
    training: Annotated[
        str,
        typer.Option(
            "--training", help="Training-time data: a dataset version (NAME[@VERSION]) or a Parquet/CSV file."
        ),
    ],
    serving: Annotated[
        str,
        typer.Option(
            "--serving", help="Serving-time data: a dataset version (NAME[@VERSION]) or a Parquet/CSV file."
        ),
    ],
    alpha: Annotated[
        float, typer.Option("--alpha", help="The level of the drift tests, across the features.")
    ] = 0.05,
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Compare each feature's training-time values with its serving-time values and store the
    check. Both sides must hold a column named after each feature. Exits 1 when a feature is skewed."""
    with open_client(url) as client, _working(not json_output, "profiling and comparing…"):
        check = client.features.skew(_side(training), _side(serving), features, alpha=alpha, project=project)
    _print_check(check, json_output)
    if check.skewed:
        raise typer.Exit(1)


@app.command("checks")
def checks(
    feature: Annotated[
        str | None, typer.Option("--feature", help="Only the checks that looked at this feature.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="How many, the newest first.")] = 20,
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """List the project's skew checks, newest first."""
    with open_client(url) as client:
        found = client.features.checks(feature=feature, limit=limit, project=project)
    if json_output:
        print_json({"checks": [c.to_dict() for c in found]})
        return
    if not found:
        console.print(f"No skew checks in project {project!r}.")
        return
    table = Table()
    for column in ("id", "when", "features", "skewed", "training", "serving"):
        table.add_column(column, overflow="fold")
    for check in found:
        table.add_row(
            check.id,
            format_time(check.created_at)[:16],
            str(len(check.features)),
            Text(", ".join(check.skewed) or "none", style="bold red" if check.skewed else "green"),
            Text(check.training.label),
            Text(check.serving.label),
        )
    console.print(table)


@app.command("check")
def check(
    check_id: Annotated[str, typer.Argument(help="The check's id (`features checks` lists them).")],
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Show one skew check: each feature's verdict and by how much it moved."""
    with open_client(url) as client:
        found = client.features.check(check_id, project=project)
    _print_check(found, json_output)


def _print_check(check: SkewCheck, json_output: bool) -> None:
    if json_output:
        print_json(check.to_dict())
        return
    title = (
        f"skew check {check.id}: {check.training.label} ({check.training.rows:,} rows) against "
        f"{check.serving.label} ({check.serving.rows:,} rows), alpha {check.alpha} ({check.correction})"
    )
    table = Table(title=title)
    for heading in ("feature", "verdict", "test", "statistic", "p-value", "threshold", "severity", "shift"):
        table.add_column(
            heading,
            justify="right" if heading in ("statistic", "p-value", "threshold", "severity") else "left",
        )
    order = {ref: index for index, ref in enumerate(check.skewed)}
    for found in sorted(check.features, key=lambda f: (order.get(f.ref, len(order)), f.feature)):
        table.add_row(
            Text(found.ref),
            _verdict(found),
            found.method or "",
            _number(found.statistic),
            _number(found.p_value),
            _number(found.threshold),
            _number(found.severity),
            Text(_shift(found)),
        )
    console.print(table)
    if check.skewed:
        console.print(Text(f"skewed: {', '.join(check.skewed)}", style="bold red"))
    else:
        console.print(Text("no feature is skewed.", style="green"))


def _verdict(found: FeatureSkew) -> Text:
    styles = {"skewed": "bold red", "consistent": "green", "untested": "yellow"}
    return Text(found.verdict, style=styles.get(found.verdict, ""))


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"


def _shift(found: FeatureSkew) -> str:
    """By how much, in a few words: the mean's move, or the labels whose share moved most."""
    parts: list[str] = []
    if found.reason:
        parts.append(found.reason)
    mean = found.shift.get("mean")
    if mean and mean.get("training") is not None and mean.get("serving") is not None:
        parts.append(f"mean {mean['training']:.4g} -> {mean['serving']:.4g}")
    for share in (found.shift.get("shares") or [])[:SHOWN_LABELS]:
        if share.get("delta"):
            parts.append(f"{share['label']} {share['training']:.1%} -> {share['serving']:.1%}")
    if found.shift.get("new_label_count"):
        parts.append(f"{found.shift['new_label_count']} new labels")
    missing = found.shift.get("missing") or {}
    if missing.get("delta"):
        parts.append(f"missing {missing['training']:.1%} -> {missing['serving']:.1%}")
    return "; ".join(parts)

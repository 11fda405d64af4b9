"""`plimsoll models list|show|register|alias|rollback|history|approve-types|trust|promote|approve|
reject`: the model registry and its promotions through the SDK, as Rich output or `--json`. A
version is `NAME/VERSION`, `NAME@ALIAS` or `NAME` (the latest)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table
from rich.text import Text

from plimsoll.cli._output import (
    EXIT_ERROR,
    EXIT_USAGE,
    PROJECT_DEFAULT,
    JsonOption,
    UrlOption,
    console,
    fail,
    format_size,
    format_time,
    open_client,
    print_json,
)
from plimsoll.model_registry.entities import AliasMove, ModelVersion

if TYPE_CHECKING:
    from plimsoll.gates.entities import Promotion

app = typer.Typer(
    help="Models: versions registered from runs, aliases per environment and their history.",
    no_args_is_help=True,
)

ProjectOption = Annotated[str, typer.Option("--project", help="Project the models live in.")]
NameArgument = Annotated[str, typer.Argument(help="The model's name.", show_default=False)]
AliasArgument = Annotated[str, typer.Argument(help="The alias: production, staging, ...", show_default=False)]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why: kept in the alias's history.")]
ExpectedOption = Annotated[
    int | None,
    typer.Option("--expected", min=1, help="Only if the alias holds this version now.", show_default=False),
]


@app.command("list")
def list_models(
    json_output: JsonOption = False, url: UrlOption = None, project: ProjectOption = PROJECT_DEFAULT
) -> None:
    """List the models of a project, each with its latest version."""
    with open_client(url) as client:
        found = client.registry.list(project=project)
    if json_output:
        print_json({"models": [m.to_dict() for m in found]})
        return
    if not found:
        console.print(f"No models in project {project!r}.")
        return
    table = Table()
    for column in ("name", "latest", "created", "description"):
        table.add_column(column, overflow="fold")
    for model in found:
        latest = "" if model.latest_version is None else str(model.latest_version)
        table.add_row(Text(model.name), latest, format_time(model.created_at)[:16], Text(model.description))
    console.print(table)


@app.command("show")
def show(
    ref: Annotated[str, typer.Argument(help="NAME (every version), NAME/VERSION or NAME@ALIAS.")],
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Show a model's versions and the aliases each holds, or one version."""
    with open_client(url) as client:
        if "/" in ref or "@" in ref:
            versions = [client.registry.get(ref, project=project)]
        else:
            versions = client.registry.versions(ref, project=project)
    if json_output:
        print_json(
            versions[0].to_dict()
            if "/" in ref or "@" in ref
            else {"versions": [v.to_dict() for v in versions]}
        )
        return
    if "/" in ref or "@" in ref:
        _print_version(versions[0])
        return
    table = Table()
    for column in ("version", "aliases", "flavor", "files", "size", "run", "registered"):
        table.add_column(column, overflow="fold")
    for version in versions:
        table.add_row(
            Text(version.ref),
            Text(", ".join(version.aliases)),
            version.flavor,
            str(version.files),
            format_size(version.bytes),
            version.run_id or "",
            f"{format_time(version.created_at)[:16]} by {version.created_by}",
        )
    console.print(table)


@app.command("register")
def register(
    name: NameArgument,
    run_id: Annotated[str, typer.Option("--run", help="The run that logged the model.", show_default=False)],
    artifact_path: Annotated[
        str,
        typer.Option("--artifact-path", help="Where in the run's artifacts the model is (a file or folder)."),
    ] = "model",
    flavor: Annotated[
        str | None,
        typer.Option(
            "--flavor",
            help="How the model is loaded (left out: its manifest.json says; python_function without one).",
            show_default=False,
        ),
    ] = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Register a new version of NAME from a run's artifact (the same artifact: the same version)."""
    with open_client(url) as client:
        version = client.registry.register(
            name, run_id=run_id, artifact_path=artifact_path, flavor=flavor, project=project
        )
    if json_output:
        print_json(version.to_dict())
        return
    console.print(
        Text(
            f"{version.ref}  {version.files} files, {format_size(version.bytes)}, digest {version.artifact_digest[:16]}"
        )
    )


@app.command("alias")
def set_alias(
    name: NameArgument,
    alias: AliasArgument,
    version: Annotated[
        int, typer.Argument(min=1, help="The version the alias will point at.", show_default=False)
    ],
    reason: ReasonOption = "",
    expected: ExpectedOption = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Point ALIAS at VERSION (a protected alias moves only through a promotion)."""
    with open_client(url) as client:
        move = client.registry.set_alias(
            name, alias, version, reason=reason, expected=expected, project=project
        )
    _print_move(move, json_output)


@app.command("rollback")
def rollback(
    name: NameArgument,
    alias: AliasArgument,
    reason: ReasonOption = "",
    expected: ExpectedOption = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Point ALIAS back at the version it held before its current one."""
    with open_client(url) as client:
        move = client.registry.rollback(name, alias, reason=reason, expected=expected, project=project)
    _print_move(move, json_output)


@app.command("history")
def history(
    name: NameArgument,
    alias: Annotated[str, typer.Option("--alias", help="The alias whose moves to show.", show_default=False)],
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="A time (ISO 8601 with a zone, e.g. 2026-12-01T10:00:00Z): the version held then.",
            show_default=False,
        ),
    ] = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """An alias's moves, newest first: who moved it to which version, when and why."""
    when = _instant(at) if at is not None else None
    with open_client(url) as client:
        found = client.registry.history(name, alias, at=when, project=project)
    if json_output:
        print_json({"version": found.version, "moves": [m.to_dict() for m in found.moves]})
        return
    held = "none" if found.version is None else f"{name}/{found.version}"
    console.print(
        Text(f"{name}@{alias} {'held' if at else 'holds'} {held}{f' at {at}' if at else ''}", style="bold")
    )
    table = Table()
    for column in ("when", "action", "version", "previous", "by", "reason"):
        table.add_column(column, overflow="fold")
    for move in found.moves:
        table.add_row(
            format_time(move.at),
            move.action,
            "" if move.version is None else str(move.version),
            "" if move.previous is None else str(move.previous),
            Text(move.actor),
            Text(move.reason),
        )
    console.print(table)


@app.command("approve-types")
def approve_types(
    ref: Annotated[str, typer.Argument(help="NAME/VERSION (or NAME@ALIAS).", show_default=False)],
    types: Annotated[
        list[str],
        typer.Argument(help="Every type the version needs (`models show` lists them).", show_default=False),
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why: kept in the audit log.")] = "",
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Approve the types a version's skops file holds beyond skops' defaults, so that it loads
    (project admins; once per version)."""
    with open_client(url) as client:
        version = client.registry.approve_types(ref, types, reason=reason, project=project)
    if json_output:
        print_json(version.to_dict())
        return
    count = len(version.needed_types)
    plural = "" if count == 1 else "s"
    console.print(Text(f"{version.ref}: {count} type{plural} approved by {version.types_approved_by}"))


@app.command("trust")
def trust(
    ref: Annotated[str, typer.Argument(help="NAME/VERSION (or NAME@ALIAS).", show_default=False)],
    reason: Annotated[str, typer.Option("--reason", help="Why: kept in the audit log.")] = "",
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Trust a version's pickle, so that it loads: read its imports first (`models show`); loading
    runs the code they name (project admins; once per version)."""
    with open_client(url) as client:
        version = client.registry.trust(ref, reason=reason, project=project)
    if json_output:
        print_json(version.to_dict())
        return
    console.print(Text(f"{version.ref}: trusted by {version.trusted_by}"))


def _print_version(version: ModelVersion) -> None:
    """One version: where it came from, what it takes, what it is for, what loading waits for."""
    console.print(Text(f"{version.ref}  {version.flavor}", style="bold"))
    lines = [
        ("run", version.run_id or ""),
        ("artifact", f"{version.artifact_path} ({version.files} files, {format_size(version.bytes)})"),
        ("digest", version.artifact_digest),
        ("aliases", ", ".join(version.aliases)),
        ("datasets", ", ".join(version.datasets)),
        ("registered", f"{format_time(version.created_at)[:16]} by {version.created_by}"),
    ]
    if version.signature is not None:
        inputs = ", ".join(f"{c.name}: {c.type}" for c in version.signature.inputs)
        outputs = ", ".join(f"{c.name}: {c.type}" for c in version.signature.outputs)
        lines += [("inputs", inputs), ("outputs", outputs)]
    if version.card is not None:
        lines += [(key.replace("_", " "), value) for key, value in version.card.to_dict().items() if value]
    if version.needed_types:
        state = f"approved by {version.types_approved_by}" if version.types_approved_by else "NOT APPROVED"
        lines.append(("needed types", f"{', '.join(version.needed_types)} ({state})"))
    if version.pickle_imports is not None:
        state = f"trusted by {version.trusted_by}" if version.trusted_by else "NOT TRUSTED"
        lines.append(("pickle imports", f"{', '.join(version.pickle_imports)} ({state})"))
    table = Table(show_header=False, box=None)
    table.add_column(style="dim")
    table.add_column(overflow="fold")
    for label, value in lines:
        if value:
            table.add_row(label, Text(value))
    console.print(table)


def _instant(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--at: {text!r} is not an ISO 8601 time (e.g. 2026-12-01T10:00:00Z)", EXIT_USAGE)
    if when.tzinfo is None:
        fail(f"--at: {text!r} has no time zone; add one (Z for UTC, or e.g. +01:00)", EXIT_USAGE)
    return when


def _print_move(move: AliasMove, json_output: bool) -> None:
    if json_output:
        print_json(move.to_dict())
        return
    before = "" if move.previous is None else f" (was {move.previous})"
    console.print(Text(f"{move.model}@{move.alias} -> {move.version}{before}"))


PromotionArgument = Annotated[str, typer.Argument(help="The promotion's id.", show_default=False)]
CommentOption = Annotated[str, typer.Option("--comment", help="A comment, kept with the answer.")]


@app.command("promote")
def promote(
    name: NameArgument,
    version: Annotated[int, typer.Argument(min=1, help="The version to promote.", show_default=False)],
    to: Annotated[str, typer.Option("--to", help="The alias, e.g. production.", show_default=False)],
    comment: CommentOption = "",
    evidence: Annotated[
        Path | None,
        typer.Option(
            "--evidence",
            help="A JSON file of what was measured (default: the evidence recorded for the version).",
            show_default=False,
        ),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait/--no-wait", help="Wait for the gates to run (a worker runs them).")
    ] = True,
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Request the promotion of VERSION to an alias: the server runs the alias's release gates,
    then waits for the approvals its policy requires, or moves the alias. Exit 1 if the gates failed."""
    from plimsoll.cli.gates import read_evidence

    document = read_evidence(evidence)
    with open_client(url) as client:
        promotion = client.gates.promote(
            name, version, to=to, comment=comment, evidence=document, project=project
        )
        if wait:
            promotion = client.gates.wait(promotion.id)
    _print_promotion(promotion, json_output)
    if promotion.status == "failed":
        raise typer.Exit(EXIT_ERROR)


@app.command("approve")
def approve(
    promotion_id: PromotionArgument,
    comment: CommentOption = "",
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Approve a promotion whose gates passed (approvers; not its requester nor the version's
    author). The last approval needed moves the alias."""
    with open_client(url) as client:
        promotion = client.gates.approve(promotion_id, comment=comment)
    _print_promotion(promotion, json_output)


@app.command("reject")
def reject(
    promotion_id: PromotionArgument,
    comment: Annotated[str, typer.Option("--comment", help="Why (required).", show_default=False)],
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Reject an open promotion, saying why (approvers)."""
    with open_client(url) as client:
        promotion = client.gates.reject(promotion_id, comment=comment)
    _print_promotion(promotion, json_output)


def _print_promotion(promotion: Promotion, json_output: bool) -> None:
    if json_output:
        print_json(promotion.to_dict())
        return
    approvals = (
        f", {len(promotion.approvals)} of {promotion.approvals_required} approvals"
        if promotion.approvals_required
        else ""
    )
    console.print(
        Text(f"promotion {promotion.id}: {promotion.ref} -> {promotion.alias}: {promotion.status}{approvals}")
    )
    if promotion.outcome:
        console.print(Text(promotion.outcome))

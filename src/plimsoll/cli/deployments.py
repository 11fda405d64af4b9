"""`plimsoll deploy NAME --model M@ALIAS ...` and `plimsoll deployments list|show|history|rollback|
pause|resume`: deployments through the SDK, as Rich tables or `--json`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from plimsoll.cli._output import (
    PROJECT_DEFAULT,
    JsonOption,
    UrlOption,
    console,
    format_time,
    open_client,
    print_json,
)
from plimsoll.core.ids import now_ms
from plimsoll.serving.entities import DEFAULT_ENVIRONMENT, Deployment

app = typer.Typer(
    help="Deployments: list them, show one, its history; roll back, pause or resume a rollout.",
    no_args_is_help=True,
)

Name = Annotated[str, typer.Argument(help="The deployment's name.")]
Project = Annotated[str, typer.Option("--project", help="The project the deployment belongs to.")]
Reason = Annotated[str, typer.Option("--reason", "-m", help="Why (kept on the history line).")]
STATE_STYLES = {"stable": "green", "canary": "cyan", "paused": "yellow", "rolled_back": "red"}


def _state(deployment: Deployment) -> Text:
    return Text(deployment.state, style=STATE_STYLES.get(deployment.state, ""))


def _version(value: int | None) -> str:
    return "-" if value is None else str(value)


def _canary(deployment: Deployment) -> str:
    if deployment.canary is None:
        return "-"
    return f"{deployment.canary} ({deployment.canary_weight:g}%)"


def _show(deployment: Deployment) -> None:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("deployment", Text(deployment.name, style="bold"))
    grid.add_row("serves", Text(f"{deployment.ref} in {deployment.environment}"))
    grid.add_row("state", _state(deployment))
    grid.add_row("stable", _version(deployment.stable))
    grid.add_row("canary", _canary(deployment))
    grid.add_row("shadow", _version(deployment.shadow))
    if deployment.sticky_key:
        grid.add_row("sticky key", Text(deployment.sticky_key))
    grid.add_row("follows alias", "yes" if deployment.follows else "no")
    grid.add_row("steps", " → ".join(f"{s:g}%" for s in deployment.policy.steps))
    if deployment.reason:
        grid.add_row("reason", Text(deployment.reason))
    if deployment.decision:
        grid.add_row("decision", deployment.decision)
    grid.add_row("revision", str(deployment.revision))
    grid.add_row("updated", format_time(deployment.updated_at))
    console.print(grid)


def deploy(
    name: Name,
    model: Annotated[str, typer.Option("--model", help="MODEL@ALIAS: the model and the alias it serves.")],
    canary: Annotated[
        int | None, typer.Option("--canary", help="A version to roll out as a canary.", show_default=False)
    ] = None,
    weight: Annotated[
        float | None,
        typer.Option(
            "--weight", help="The canary's percent of requests (default: the first step).", show_default=False
        ),
    ] = None,
    shadow: Annotated[
        int | None,
        typer.Option(
            "--shadow",
            help="A version receiving a copy of each request (its answer is logged).",
            show_default=False,
        ),
    ] = None,
    sticky_key: Annotated[
        str | None,
        typer.Option(
            "--sticky-key",
            help="A request field whose value keeps a caller on one version.",
            show_default=False,
        ),
    ] = None,
    environment: Annotated[str, typer.Option("--environment", help="Where it runs.")] = DEFAULT_ENVIRONMENT,
    no_follow: Annotated[
        bool, typer.Option("--no-follow", help="Do not roll out a new holder of the alias as a canary.")
    ] = False,
    reason: Reason = "",
    project: Project = PROJECT_DEFAULT,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Create or update a deployment serving MODEL@ALIAS, with an optional canary and shadow."""
    with open_client(url) as client:
        made = client.deployments.deploy(
            name,
            model=model,
            environment=environment,
            canary=canary,
            weight=weight,
            shadow=shadow,
            sticky_key=sticky_key,
            follows=not no_follow,
            reason=reason,
            project=project,
        )
    if json_output:
        print_json(made.to_dict())
        return
    _show(made)


@app.command("list")
def list_deployments(
    model: Annotated[
        str | None, typer.Option("--model", help="One model's deployments.", show_default=False)
    ] = None,
    environment: Annotated[
        str | None, typer.Option("--environment", help="One environment's deployments.", show_default=False)
    ] = None,
    project: Project = PROJECT_DEFAULT,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """List a project's deployments."""
    with open_client(url) as client:
        found = client.deployments.list(model=model, environment=environment, project=project)
    if json_output:
        print_json({"deployments": [d.to_dict() for d in found]})
        return
    if not found:
        console.print("No deployments.")
        return
    table = Table()
    for column in ("name", "environment", "serves", "state", "stable", "canary", "shadow", "updated"):
        table.add_column(column, overflow="fold")
    for d in found:
        table.add_row(
            Text(d.name),
            Text(d.environment),
            Text(d.ref),
            _state(d),
            _version(d.stable),
            _canary(d),
            _version(d.shadow),
            format_time(d.updated_at),
        )
    console.print(table)


@app.command("show")
def show(
    name: Name, project: Project = PROJECT_DEFAULT, json_output: JsonOption = False, url: UrlOption = None
) -> None:
    """Show a deployment: what it serves, its rollout and why it stands where it does."""
    with open_client(url) as client:
        found = client.deployments.get(name, project=project)
    if json_output:
        print_json(found.to_dict())
        return
    _show(found)


@app.command("history")
def history(
    name: Name,
    max_results: Annotated[int, typer.Option("--max-results", "-n", help="At most this many.")] = 100,
    project: Project = PROJECT_DEFAULT,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """A deployment's history, the newest first: who changed what and why."""
    with open_client(url) as client:
        found = client.deployments.history(name, project=project, limit=max_results)
    if json_output:
        print_json({"history": [h.to_dict() for h in found]})
        return
    table = Table()
    for column in ("when", "action", "who", "stable", "canary", "reason"):
        table.add_column(column, overflow="fold")
    for h in found:
        canary = h.after.get("canary")
        weight = h.after.get("canary_weight") or 0
        table.add_row(
            format_time(h.at),
            Text(h.action),
            Text(h.actor),
            _version(h.after.get("stable")),
            "-" if canary is None else f"{canary} ({weight:g}%)",
            Text(h.reason),
        )
    console.print(table)


def _act(verb: str, name: str, reason: str, project: str, json_output: bool, url: str | None) -> None:
    with open_client(url) as client:
        found = getattr(client.deployments, verb)(name, reason=reason, project=project)
    if json_output:
        print_json(found.to_dict())
        return
    console.print(
        f"Deployment {found.name}: {found.state} (stable {_version(found.stable)}, canary {_canary(found)})."
    )


@app.command("rollback")
def rollback(
    name: Name,
    reason: Reason = "",
    project: Project = PROJECT_DEFAULT,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Switch the canary off and send every request to the stable version (the alias moves back
    when it had moved to the canary)."""
    _act("rollback", name, reason, project, json_output, url)


@app.command("pause")
def pause(
    name: Name,
    reason: Reason = "",
    project: Project = PROJECT_DEFAULT,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Hold a rollout where it stands until `resume`."""
    _act("pause", name, reason, project, json_output, url)


@app.command("resume")
def resume(
    name: Name,
    reason: Reason = "",
    project: Project = PROJECT_DEFAULT,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Let a paused rollout go on."""
    _act("resume", name, reason, project, json_output, url)


@app.command("traffic")
def traffic(
    name: Name,
    minutes: Annotated[int, typer.Option("--minutes", help="Over the last this many minutes.")] = 60,
    project: Project = PROJECT_DEFAULT,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Requests, errors and latency per version and role, as the model server's replicas reported."""
    with open_client(url) as client:
        until = now_ms()
        found = client.deployments.traffic(
            name, since=max(0, until - minutes * 60_000), until=until, project=project
        )
    if json_output:
        print_json({"traffic": [t.to_dict() for t in found]})
        return
    if not found:
        console.print("No traffic reported.")
        return
    table = Table()
    for column in ("version", "role", "requests", "errors", "error rate", "p50 ms", "p99 ms"):
        table.add_column(column, justify="right")
    for t in found:
        rate, p50, p99 = t.error_rate, t.latency_quantile(0.5), t.latency_quantile(0.99)
        table.add_row(
            str(t.version),
            t.role,
            str(t.requests),
            str(t.errors),
            "-" if rate is None else f"{rate:.2%}",
            "-" if p50 is None else f"{p50:g}",
            "-" if p99 is None else f"{p99:g}",
        )
    console.print(table)

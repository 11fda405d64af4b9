"""`plimsoll incidents list|show|ack|resolve|note`: incidents through the SDK, as Rich tables or
`--json`."""

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
from plimsoll.cli.alerts import SEVERITY_STYLES, STATE_STYLES, Limit, Platform, Project, styled
from plimsoll.incidents.entities import Incident

app = typer.Typer(
    help="Incidents: list them, show one with its timeline, acknowledge, note, resolve.", no_args_is_help=True
)

IncidentId = Annotated[
    str, typer.Argument(help="The incident's id (32 hex digits, as `incidents list` shows).")
]
Comment = Annotated[
    str, typer.Option("--comment", "-m", help="What to say (kept as a note, or the resolution).")
]


def owner(incident: Incident) -> Text:
    if incident.owner is None:
        return Text("unassigned", style="yellow")
    return Text(f"{incident.owner} ({(incident.owner_role or '').replace('_', ' ')})")


@app.command("list")
def list_incidents(
    state: Annotated[
        str | None,
        typer.Option(
            "--state",
            "-s",
            help="open, acknowledged, resolved or unresolved (default: all).",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="One model's incidents.", show_default=False)
    ] = None,
    project: Project = PROJECT_DEFAULT,
    platform: Platform = False,
    max_results: Limit = 100,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """List incidents, the newest first."""
    with open_client(url) as client:
        found = client.incidents.list(
            state=state, model=model, project=project, platform=platform, limit=max_results
        )
    if json_output:
        print_json({"incidents": [i.to_dict() for i in found]})
        return
    if not found:
        console.print("No incidents.")
        return
    table = Table()
    table.add_column("id", no_wrap=True, min_width=32)
    table.add_column("title", overflow="fold")
    table.add_column("state", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("model", overflow="fold")
    table.add_column("owner", overflow="fold")
    table.add_column("alerts", justify="right")
    table.add_column("opened", no_wrap=True)
    for i in found:
        model_text = "platform" if not i.model else i.model + ("" if i.version is None else f" v{i.version}")
        table.add_row(
            i.id,
            Text(i.title),
            styled(i.state, STATE_STYLES),
            styled(i.severity, SEVERITY_STYLES),
            Text(model_text),
            owner(i),
            str(len(i.alerts)),
            format_time(i.opened_at),
        )
    console.print(table)


@app.command("show")
def show_incident(incident_id: IncidentId, json_output: JsonOption = False, url: UrlOption = None) -> None:
    """Show an incident: owner, state, its alerts, notes and timeline."""
    with open_client(url) as client:
        incident = client.incidents.get(incident_id.strip().lower())
        timeline = client.incidents.timeline(incident.id)
    if json_output:
        print_json({**incident.to_dict(), "timeline": timeline.to_dict()})
        return
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("incident", Text(incident.title, style="bold"))
    grid.add_row("id", incident.id)
    grid.add_row("state", styled(incident.state, STATE_STYLES))
    grid.add_row("severity", styled(incident.severity, SEVERITY_STYLES))
    grid.add_row(
        "model",
        Text(incident.model or "the platform")
        + Text("" if incident.version is None else f" v{incident.version}"),
    )
    grid.add_row("owner", owner(incident))
    grid.add_row("opened", format_time(incident.opened_at))
    if incident.acknowledged_by:
        grid.add_row("acknowledged", f"{format_time(incident.acknowledged_at)} by {incident.acknowledged_by}")
    if incident.resolved_by:
        grid.add_row(
            "resolved",
            f"{format_time(incident.resolved_at)} by {incident.resolved_by}: {incident.resolution}",
        )
    console.print(grid)
    alerts = Table(title="alerts")
    for column in ("alert", "rule", "severity", "now", "fired", "ended"):
        alerts.add_column(column, overflow="fold")
    for a in incident.alerts:
        alerts.add_row(
            f"{a.alert} #{a.firing}",
            Text(a.rule),
            styled(a.severity, SEVERITY_STYLES),
            styled(a.state, STATE_STYLES),
            format_time(a.starts_at),
            format_time(a.ends_at),
        )
    console.print(alerts)
    table = Table(title="timeline")
    for column in ("when", "what", "who", "detail"):
        table.add_column(column, overflow="fold")
    for e in timeline.entries:
        table.add_row(format_time(e.at), Text(e.title), Text(e.actor), Text(e.detail))
    console.print(table)


@app.command("ack")
def acknowledge(
    incident_id: IncidentId, comment: Comment = "", json_output: JsonOption = False, url: UrlOption = None
) -> None:
    """Acknowledge an open incident: you are on it (exit code 4 if it is not open)."""
    with open_client(url) as client:
        incident = client.incidents.acknowledge(incident_id.strip().lower(), comment=comment)
    if json_output:
        print_json(incident.to_dict())
        return
    console.print(f"Incident {incident.id} acknowledged by {incident.acknowledged_by}.")


@app.command("resolve")
def resolve(
    incident_id: IncidentId, comment: Comment = "", json_output: JsonOption = False, url: UrlOption = None
) -> None:
    """Resolve an incident, saying how (exit code 4 if it is resolved already)."""
    with open_client(url) as client:
        incident = client.incidents.resolve(incident_id.strip().lower(), comment=comment)
    if json_output:
        print_json(incident.to_dict())
        return
    console.print(f"Incident {incident.id} resolved by {incident.resolved_by}.")


@app.command("note")
def note(
    incident_id: IncidentId,
    text: Annotated[str, typer.Argument(help="The note.")],
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Add a note to an incident's timeline."""
    with open_client(url) as client:
        added = client.incidents.note(incident_id.strip().lower(), text)
    if json_output:
        print_json(added.to_dict())
        return
    console.print(f"Note added by {added.author}.")

"""`plimsoll alerts list|show|resolve`, `plimsoll silences create|list|expire` and
`plimsoll inhibitions create|list|delete`: alerts and what keeps them from being announced,
through the SDK, as Rich tables or `--json`."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from plimsoll.cli._output import (
    PROJECT_DEFAULT,
    JsonOption,
    UrlOption,
    console,
    format_metric,
    format_time,
    open_client,
    print_json,
)
from plimsoll.incidents.entities import Alert, Silence
from plimsoll.incidents.matchers import Inhibition

app = typer.Typer(help="Alerts: list them, show one, resolve a platform alert.", no_args_is_help=True)
silences_app = typer.Typer(
    help="Silences: hold back the announcements of matching alerts.", no_args_is_help=True
)
inhibitions_app = typer.Typer(
    help="Inhibition rules: a firing alert mutes the alerts it explains.", no_args_is_help=True
)

STATE_STYLES = {
    "firing": "bold red",
    "pending": "yellow",
    "resolved": "green",
    "inactive": "dim",
    "open": "bold red",
    "acknowledged": "yellow",
    "active": "cyan",
    "expired": "dim",
}
SEVERITY_STYLES = {"critical": "bold red", "warning": "yellow", "info": "cyan"}

Project = Annotated[str, typer.Option("--project", help="The project whose records these are.")]
Platform = Annotated[
    bool,
    typer.Option("--platform", help="The platform's own (audit, webhooks, jobs) instead of a project's."),
]
AlertId = Annotated[str, typer.Argument(help="The alert's id (32 hex digits, as `alerts list` shows).")]
Limit = Annotated[int, typer.Option("--max-results", "-n", help="At most this many.")]


def styled(value: str, styles: dict[str, str]) -> Text:
    return Text(value, style=styles.get(value, ""))


def alert_state(alert: Alert) -> Text:
    text = styled(alert.state, STATE_STYLES)
    if alert.silenced_by:
        text.append(" silenced", style="dim")
    if alert.inhibited_by:
        text.append(" inhibited", style="dim")
    return text


def about(alert: Alert) -> str:
    segment = f" [{alert.segment_column}={alert.segment_value}]" if alert.segment_column else ""
    return alert.about + segment


@app.command("list")
def list_alerts(
    state: Annotated[
        str | None,
        typer.Option(
            "--state",
            "-s",
            help="pending, firing, resolved or inactive (default: all but inactive).",
            show_default=False,
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="One model's alerts.", show_default=False)
    ] = None,
    project: Project = PROJECT_DEFAULT,
    platform: Platform = False,
    max_results: Limit = 100,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """List alerts, the most recently changed first; silenced and inhibited ones are marked."""
    with open_client(url) as client:
        alerts = client.alerts.list(
            state=state, model=model, project=project, platform=platform, limit=max_results
        )
    if json_output:
        print_json({"alerts": [a.to_dict() for a in alerts]})
        return
    if not alerts:
        console.print("No alerts.")
        return
    table = Table()
    table.add_column("id", no_wrap=True, min_width=32)
    table.add_column("alert", overflow="fold")
    table.add_column("state", no_wrap=True)
    table.add_column("severity", no_wrap=True)
    table.add_column("about", overflow="fold")
    table.add_column("value", justify="right")
    table.add_column("since", no_wrap=True)
    for a in alerts:
        since = a.starts_at if a.state in ("firing", "resolved") else a.active_since
        value = format_metric(a.value) + (f" {a.condition}" if a.condition else "")
        table.add_row(
            a.id,
            Text(a.rule),
            alert_state(a),
            styled(a.severity, SEVERITY_STYLES),
            Text(about(a)),
            value,
            format_time(since),
        )
    console.print(table)


@app.command("show")
def show_alert(alert_id: AlertId, json_output: JsonOption = False, url: UrlOption = None) -> None:
    """Show one alert: what it is about, its labels and annotations, and its history."""
    with open_client(url) as client:
        alert = client.alerts.get(alert_id.strip().lower())
    if json_output:
        print_json(alert.to_dict())
        return
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("alert", Text(alert.rule, style="bold"))
    grid.add_row("id", alert.id)
    grid.add_row("state", alert_state(alert))
    grid.add_row("severity", styled(alert.severity, SEVERITY_STYLES))
    grid.add_row("summary", Text(alert.summary))
    grid.add_row("about", Text(about(alert)))
    if alert.monitor:
        grid.add_row("monitor", Text(alert.monitor))
    grid.add_row(
        "value", format_metric(alert.value) + (f" (rule {alert.condition})" if alert.condition else "")
    )
    grid.add_row("firings", str(alert.firing))
    grid.add_row("started", format_time(alert.starts_at))
    grid.add_row("ended", format_time(alert.ends_at))
    grid.add_row("incident", alert.incident or "—")
    grid.add_row("fingerprint", alert.fingerprint)
    grid.add_row("labels", Text(", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()))))
    for key, value in sorted(alert.annotations.items()):
        grid.add_row(key, Text(value))
    console.print(grid)
    history = Table(title="history")
    for column in ("when", "firing", "state", "value", "note"):
        history.add_column(column)
    for t in alert.history:
        history.add_row(
            format_time(t.at),
            str(t.firing),
            styled(t.state, STATE_STYLES),
            format_metric(t.value),
            Text(t.note),
        )
    console.print(history)


@app.command("resolve")
def resolve_alert(
    alert_id: AlertId,
    comment: Annotated[str, typer.Option("--comment", "-m", help="Why it is resolved.")] = "",
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """End a platform alert's firing (a monitor's alert ends when its rule holds: exit code 4)."""
    with open_client(url) as client:
        alert = client.alerts.resolve(alert_id.strip().lower(), comment=comment)
    if json_output:
        print_json(alert.to_dict())
        return
    console.print(f"Resolved alert {alert.id} ({alert.rule}).")


# -- silences --------------------------------------------------------------------------------------


@silences_app.command("create")
def create_silence(
    matcher: Annotated[
        list[str],
        typer.Option(
            "--match",
            "-m",
            help="LABEL=VALUE, LABEL!=VALUE, LABEL=~REGEX or LABEL!~REGEX (repeat).",
            show_default=False,
        ),
    ],
    comment: Annotated[str, typer.Option("--comment", "-c", help="Why (required).", show_default=False)],
    hours: Annotated[float, typer.Option("--hours", help="How long it lasts.")] = 2.0,
    project: Project = PROJECT_DEFAULT,
    platform: Platform = False,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Hold back the announcements of the alerts the matchers match, for `--hours`."""
    with open_client(url) as client:
        silence = client.alerts.silence(
            matcher, comment=comment, hours=hours, project=project, platform=platform
        )
    if json_output:
        print_json(silence.to_dict())
        return
    console.print(
        f"Silence {silence.id} until {format_time(silence.ends_at)}: "
        + ", ".join(str(m) for m in silence.matchers)
    )


@silences_app.command("list")
def list_silences(
    state: Annotated[
        str | None,
        typer.Option("--state", "-s", help="pending, active or expired (default: all).", show_default=False),
    ] = None,
    project: Project = PROJECT_DEFAULT,
    platform: Platform = False,
    max_results: Limit = 100,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """List silences, the newest first."""
    with open_client(url) as client:
        silences = client.alerts.silences(state=state, project=project, platform=platform, limit=max_results)
    now = int(time.time() * 1000)
    if json_output:
        print_json({"silences": [s.to_dict() for s in silences]})
        return
    if not silences:
        console.print("No silences.")
        return
    table = Table()
    for column in ("id", "matchers", "state", "starts", "ends", "by", "comment"):
        table.add_column(
            column, overflow="fold", no_wrap=column == "id", min_width=32 if column == "id" else None
        )
    for s in silences:
        table.add_row(
            s.id,
            Text(", ".join(str(m) for m in s.matchers)),
            styled(_state(s, now), STATE_STYLES),
            format_time(s.starts_at),
            format_time(s.ends_at),
            Text(s.created_by),
            Text(s.comment),
        )
    console.print(table)


def _state(silence: Silence, now: int) -> str:
    return silence.state(now)


@silences_app.command("expire")
def expire_silence(
    silence_id: Annotated[str, typer.Argument(help="The silence's id.")],
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """End a silence now: what it held back is announced."""
    with open_client(url) as client:
        silence = client.alerts.expire_silence(silence_id.strip().lower())
    if json_output:
        print_json(silence.to_dict())
        return
    console.print(f"Silence {silence.id} ended.")


# -- inhibition rules ------------------------------------------------------------------------------


@inhibitions_app.command("create")
def create_inhibition(
    source: Annotated[
        list[str],
        typer.Option("--source", help="A matcher of the muting alert (repeat).", show_default=False),
    ],
    target: Annotated[
        list[str],
        typer.Option("--target", help="A matcher of the muted alerts (repeat).", show_default=False),
    ],
    equal: Annotated[
        list[str] | None,
        typer.Option("--equal", help="A label both must share (repeat).", show_default=False),
    ] = None,
    comment: Annotated[str, typer.Option("--comment", "-c", help="Why.")] = "",
    project: Project = PROJECT_DEFAULT,
    platform: Platform = False,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Add a rule: while an alert matching --source fires, those matching --target that share the
    --equal labels are not announced (project admins)."""
    with open_client(url) as client:
        rule = client.alerts.inhibit(
            source, target, equal=equal or [], comment=comment, project=project, platform=platform
        )
    if json_output:
        print_json(rule.to_dict())
        return
    console.print(f"Inhibition rule {rule.id}: {_describe(rule)}")


@inhibitions_app.command("list")
def list_inhibitions(
    project: Project = PROJECT_DEFAULT,
    platform: Platform = False,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """List the inhibition rules: the built-in `default`, then the scope's own."""
    with open_client(url) as client:
        rules = client.alerts.inhibitions(project=project, platform=platform)
    if json_output:
        print_json({"inhibitions": [r.to_dict() for r in rules]})
        return
    table = Table()
    for column in ("id", "rule", "by", "comment"):
        table.add_column(column, overflow="fold")
    for r in rules:
        table.add_row(r.id, Text(_describe(r)), Text(r.created_by), Text(r.comment))
    console.print(table)


@inhibitions_app.command("delete")
def delete_inhibition(
    inhibition_id: Annotated[str, typer.Argument(help="The rule's id.")],
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Delete a rule (not the built-in `default`)."""
    with open_client(url) as client:
        rule = client.alerts.delete_inhibition(inhibition_id.strip().lower())
    if json_output:
        print_json(rule.to_dict())
        return
    console.print(f"Inhibition rule {rule.id} deleted.")


def _describe(rule: Inhibition) -> str:
    source = ", ".join(str(m) for m in rule.source)
    target = ", ".join(str(m) for m in rule.target)
    equal = f" with equal {', '.join(rule.equal)}" if rule.equal else ""
    return f"{source} mutes {target}{equal}"

"""`plimsoll monitors create|list|show|run|backfill|check`: monitors on a model alias through the
SDK. `check` exits 1 when a window breaks a rule (firing: active for its `for_windows`), and can
write a self-contained HTML report and the JSON, for CI and for sharing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from plimsoll.cli._output import (
    EXIT_ERROR,
    PROJECT_DEFAULT,
    JsonOption,
    UrlOption,
    console,
    fail,
    format_time,
    open_client,
    print_json,
)
from plimsoll.monitoring.specs import Monitor, MonitorWindow

app = typer.Typer(
    help="Monitors: each window of a model alias's traffic against a reference — drift, performance, data quality.",
    no_args_is_help=True,
)

ProjectOption = Annotated[str, typer.Option("--project", help="Project the monitor lives in.")]
SinceOption = Annotated[
    str | None,
    typer.Option("--since", help="From this time: 2026-12-01, 2026-12-01T06:00 (UTC) or epoch ms."),
]
UntilOption = Annotated[
    str | None, typer.Option("--until", help="To before this time (same forms as --since).")
]


def _when(field_name: str, text: str | None) -> int | None:
    if text is None:
        return None
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{field_name}: {text!r} is not a date, a date and time, or epoch milliseconds", 2)
    return int((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp() * 1000)


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.3g}"


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The monitor's name (unique in its project).")],
    model: Annotated[str, typer.Argument(help="The model alias to watch: NAME@ALIAS.")],
    reference: Annotated[
        str,
        typer.Option(
            "--reference", help="dataset:NAME@VERSION, evaluation, or traffic:SINCE..UNTIL (epoch ms)."
        ),
    ],
    target: Annotated[str, typer.Option("--target", help="The reference's label column.")] = "",
    prediction: Annotated[str, typer.Option("--prediction", help="The reference's prediction column.")] = "",
    score: Annotated[str, typer.Option("--score", help="The reference's score column.")] = "",
    features: Annotated[
        list[str] | None, typer.Option("--feature", help="A column to watch (repeat; default: all).")
    ] = None,
    every: Annotated[str, typer.Option("--every", help="Window length: 1h, 1d, 1w.")] = "1d",
    window_rows: Annotated[
        int | None, typer.Option("--window-rows", help="Windows of this many rows instead of by time.")
    ] = None,
    delay: Annotated[str, typer.Option("--delay", help="Wait this long after a window ends.")] = "0s",
    segment_by: Annotated[str, typer.Option("--segment-by", help="Results per value of this column.")] = "",
    alpha: Annotated[
        float, typer.Option("--alpha", help="False-alarm level of a window's drift test.")
    ] = 0.05,
    rules_file: Annotated[
        Path | None, typer.Option("--rules", help="A JSON file of rules replacing the defaults.")
    ] = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Create a monitor on a model alias against a reference."""
    from plimsoll.monitoring.specs import check_reference

    ref: dict[str, Any] = {
        k: v for k, v in check_reference("reference", reference).to_dict().items() if v not in ("", 0)
    }
    ref.update({k: v for k, v in (("target", target), ("prediction", prediction), ("score", score)) if v})
    rules = json.loads(rules_file.read_text()) if rules_file is not None else None
    with open_client(url) as client:
        monitor = client.monitors.create(
            name,
            model,
            ref,
            features=features or None,
            every=every,
            window_rows=window_rows,
            delay=delay,
            segment_by=segment_by,
            alpha=alpha,
            rules=rules,
            project=project,
        )
    if json_output:
        print_json(monitor.to_dict())
        return
    console.print(
        f"Monitor [bold]{monitor.name}[/] watches {monitor.ref} ({monitor.task}) in windows of "
        f"{monitor.describe_window()}: {len(monitor.features)} features, {len(monitor.rules)} rules, "
        f"reference of {monitor.reference_rows:,} rows."
    )


@app.command("list")
def list_monitors(
    model: Annotated[str | None, typer.Option("--model", help="Of this model (NAME).")] = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """List a project's monitors."""
    with open_client(url) as client:
        found = client.monitors.list(model=model, project=project)
    if json_output:
        print_json({"monitors": [m.to_dict() for m in found]})
        return
    if not found:
        console.print(f"No monitors in project {project!r}.")
        return
    table = Table()
    for column in ("name", "watches", "window", "features", "rules", "up to", "state"):
        table.add_column(column, overflow="fold")
    for monitor in found:
        table.add_row(
            monitor.name,
            monitor.ref,
            monitor.describe_window(),
            str(len(monitor.features)),
            str(len(monitor.rules)),
            format_time(monitor.last_window_end),
            _state(monitor),
        )
    console.print(table)


def _state(monitor: Monitor) -> str:
    if monitor.last_error:
        return f"[red]failing[/]: {monitor.last_error[:80]}"
    return "[yellow]stale[/]" if monitor.stale else "ok"


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="The monitor's name.")],
    windows: Annotated[int, typer.Option("--windows", help="Show this many newest windows.")] = 10,
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Show a monitor, its rules and its newest windows."""
    with open_client(url) as client:
        monitor = client.monitors.get(name, project=project)
        found = client.monitors.windows(name, limit=windows, newest_first=True, project=project)
    if json_output:
        print_json({"monitor": monitor.to_dict(), "windows": [w.to_dict() for w in found]})
        return
    console.print(
        f"[bold]{monitor.name}[/] watches {monitor.ref} ({monitor.task}), windows of {monitor.describe_window()}, "
        f"alpha {monitor.alpha}; state {_state(monitor)}"
    )
    rules = Table(title="rules")
    for column in ("rule", "condition", "severity"):
        rules.add_column(column)
    for rule in monitor.rules:
        rules.add_row(rule.name, rule.describe(), rule.severity)
    console.print(rules)
    _windows_table(list(reversed(found)), monitor)


def _windows_table(found: list[MonitorWindow], monitor: Monitor) -> None:
    if not found:
        console.print("No windows yet: `plimsoll monitors run` or `backfill`.")
        return
    metric = "accuracy" if monitor.task == "classification" else "mae"
    table = Table(title="windows")
    for column in (
        "start",
        "segment",
        "rows",
        "drifted",
        "top drift",
        metric,
        "estimated",
        "labels",
        "broken",
    ):
        table.add_column(column, overflow="fold")
    for window in found:
        values = window.values
        table.add_row(
            format_time(window.start),
            window.segment or "all",
            f"{window.rows:,}",
            _number(values.get("drift.share")),
            ", ".join(window.drift.get("ranked", [])[:3]) or "—",
            _number(values.get(f"performance.{metric}")),
            _number(values.get(f"performance.{metric}.estimated")),
            _number(values.get("labels.coverage")),
            ", ".join(s["rule"] for s in window.breaking) or "—",
        )
    console.print(table)


@app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="The monitor's name.")],
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Compute the windows that are due now (the server's scheduler does so every minute)."""
    with open_client(url) as client:
        with console.status(f"Computing {name}'s due windows…"):
            computed = client.monitors.run(name, project=project)
        monitor = client.monitors.get(name, project=project)
    if json_output:
        print_json({"windows": [w.to_dict() for w in computed]})
        return
    console.print(f"{len(computed)} windows computed.")
    _windows_table(computed, monitor)


@app.command("backfill")
def backfill(
    name: Annotated[str, typer.Argument(help="The monitor's name.")],
    since: SinceOption = None,
    until: UntilOption = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Compute (again) the windows of a stretch of the past; they raise no alerts."""
    start, end = _when("since", since), _when("until", until)
    if start is None or end is None:
        fail("backfill needs --since and --until", 2)
    with open_client(url) as client:
        with console.status(f"Computing {name}'s windows…"):
            computed = client.monitors.backfill(name, start, end, project=project)
        monitor = client.monitors.get(name, project=project)
    if json_output:
        print_json({"windows": [w.to_dict() for w in computed]})
        return
    console.print(f"{len(computed)} windows computed.")
    _windows_table(computed, monitor)


@app.command("check")
def check(
    name: Annotated[str, typer.Argument(help="The monitor's name.")],
    since: SinceOption = None,
    until: UntilOption = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Write a self-contained HTML report here.")
    ] = None,
    json_file: Annotated[Path | None, typer.Option("--json-file", help="Write the JSON result here.")] = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Check a stretch of windows (the newest by default) against the monitor's rules; exit 1
    when a rule fires."""
    from plimsoll.cli.monitor_report import render

    with open_client(url) as client, console.status(f"Checking {name}…"):
        found = client.monitors.check(
            name, since=_when("since", since), until=_when("until", until), project=project
        )
    body = found.to_dict()
    if report is not None:
        report.write_text(render(body), encoding="utf-8")
    if json_file is not None:
        json_file.write_text(json.dumps(body, indent=2), encoding="utf-8")
    if json_output:
        print_json(body)
    else:
        _windows_table(found.windows, found.monitor)
        if found.passed:
            console.print(f"[green]passed[/]: no rule fires in {len(found.windows)} windows.")
        else:
            for signal in found.firing:
                console.print(
                    f"[red]{signal['rule']}[/] ({signal['severity']}) in the window of {format_time(signal['start'])}"
                    f"{' (' + signal['segment'] + ')' if signal['segment'] else ''}: {signal['value']} "
                    f"{signal['op']} {signal['threshold']:g} for {signal['consecutive']} windows"
                )
        if report is not None:
            console.print(f"Report: {report}")
    if not found.passed:
        raise typer.Exit(EXIT_ERROR)

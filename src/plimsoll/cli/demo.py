"""`plimsoll demo`: train real scikit-learn models, log every run, show the best, and release it:
registered, evaluated on the held-out test set, gated, approved by a second person, promoted."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

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

if TYPE_CHECKING:
    from plimsoll.operate_demo import Operation
    from plimsoll.release_demo import Release
    from plimsoll.rollout_demo import Rollout

UI_URL = "http://127.0.0.1:8765"
# What `release_best` says it is doing, in order: the release's progress bar counts them.
RELEASE_STEPS = ("register", "evaluate", "guard", "promote", "approve")
# And what `operate` says, in order.
OPERATE_STEPS = ("score the reference", "log traffic", "monitor", "alert")
# And what `roll_out` says.
SERVE_STEPS = ("deploy", "serve", "release version 2", "canary", "analyse")
STATUS_STYLES = {"passed": "green", "failed": "red", "skipped": "yellow", "waived": "yellow"}
TABLE_METRICS = ("accuracy", "f1", "roc_auc", "log_loss")


def demo(
    experiment: Annotated[
        str, typer.Option("--experiment", "-e", help="Experiment to log the runs to.")
    ] = "demo",
    url: UrlOption = None,
) -> None:
    """Train scikit-learn models on a bundled dataset over a small grid and log everything; then
    register the best, evaluate it on a held-out test set, run its release gates, approve it as a
    second person and promote it to production."""
    from plimsoll.demo import BEST_METRIC, GRID, run_demo
    from plimsoll.release_demo import release_best

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
            releasing = bar.add_task("release", total=len(RELEASE_STEPS))

            started: list[str] = []

            def release_step(label: str) -> None:
                bar.update(releasing, completed=len(started), description=label[:40])
                started.append(label)

            release = release_best(client, result, step=release_step)
            bar.update(releasing, completed=len(RELEASE_STEPS), description="released")
            operation = None
            if release.promoted:
                from plimsoll.operate_demo import operate

                running = bar.add_task("production", total=len(OPERATE_STEPS))
                steps: list[str] = []

                def operate_step(label: str) -> None:
                    bar.update(running, completed=len(steps), description=label[:40])
                    steps.append(label)

                operation = operate(client, result, release, step=operate_step)
                bar.update(running, completed=len(OPERATE_STEPS), description="monitored")
            rollout = None
            if release.promoted and client.platform is not None:
                from plimsoll.rollout_demo import roll_out

                serving = bar.add_task("serving", total=len(SERVE_STEPS))
                said: list[str] = []

                def serve_step(label: str) -> None:
                    bar.update(serving, completed=len(said), description=label[:40])
                    said.append(label)

                rollout = roll_out(client, result, release, step=serve_step)
                bar.update(serving, completed=len(SERVE_STEPS), description="served")
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
    console.print(_gates_table(release))
    console.print(_release_line(release))
    page = f"{base}/experiments/{result.experiment.id}"
    if remote:
        console.print(f"Open {page} to see the runs and their curves.")
    else:
        console.print(f"Logged to the embedded store. Run `plimsoll server`, then open {page}")
    if operation is not None:
        console.print(_operation_line(operation))
    if rollout is not None:
        console.print(_rollout_lines(rollout))
    console.print(f"Next: plimsoll runs show {short_id(result.best.id)}")
    console.print(f"      open {base}/models/{release.version.name}/versions/{release.version.version}")


def _gates_table(release: Release) -> Table:
    evaluation = release.evaluation
    table = Table(
        title=Text(f"Release gates of {release.version.ref} on {evaluation.dataset} ({evaluation.rows} rows)")
    )
    for column in ("gate", "severity", "status", "why"):
        table.add_column(column)
    results = () if release.decision is None else release.decision.results
    for result in results:
        table.add_row(
            result.gate,
            result.severity,
            Text(result.status, style=STATUS_STYLES.get(result.status, "")),
            result.reason,
        )
    return table


def _release_line(release: Release) -> Text:
    promotion = release.promotion
    if release.promoted:
        approvers = ", ".join(a.approver for a in promotion.approvals) or "nobody (none required)"
        return Text(
            f"{promotion.model}@{promotion.alias} now holds version {promotion.version} "
            f"(approved by {approvers}).",
            style="green",
        )
    if promotion.status == "awaiting_approval":
        return Text(
            f"Promotion {promotion.id} awaits an approver: plimsoll models approve {promotion.id}",
            style="yellow",
        )
    return Text(f"Promotion {promotion.id} {promotion.status}: {promotion.outcome}", style="red")


def _operation_line(operation: Operation) -> Text:
    monitor = operation.monitor
    firing = ", ".join(operation.firing) or "none"
    text = (
        f"In production: {len(operation.windows)} days of traffic on {monitor.ref}; a new imaging device "
        f"drifted {operation.drifted_days} of them; rules firing: {firing}. "
        f"See: plimsoll monitors show {monitor.name}"
    )
    incident = operation.incident
    if incident is not None:
        owner = incident.owner or "nobody (the model names no owner)"
        text += (
            f"\nIncident {incident.id} opened for {owner}: {incident.title} "
            f"({len(incident.alerts)} alerts). See: plimsoll incidents show {incident.id}"
        )
    return Text(text, style="yellow" if operation.firing else "green")


def _rollout_lines(rollout: Rollout) -> Text:
    from plimsoll.rollout_demo import CLOCK_NOTE, DEPLOYMENT, SLIM

    deployment = rollout.deployment
    answered = rollout.answered
    requests = sum(answered.values())
    served = ", ".join(f"version {v} ({role}) {n}" for (v, role), n in sorted(answered.items()))
    lines = [
        f"Served: {DEPLOYMENT}, a model server replica of {deployment.ref}, answered {requests} "
        f"requests of the new device's tumours: {served}."
    ]
    slim = rollout.slim
    if not slim.promoted:
        lines.append(f"Version {slim.version.version} was not promoted ({slim.promotion.status}): no canary.")
        return Text("\n".join(lines), style="yellow")
    lines.append(
        f"Version {slim.version.version} reads {len(SLIM)} of the 30 measurements (worse on purpose): "
        "it passed the gates on the old device's test set and went out as a canary; "
        f"{rollout.labelled} diagnoses came back through /feedback."
    )
    back = rollout.rolled_back
    if back is None:
        lines.append(
            f"The rollout's analysis did not roll it back: {deployment.state} ({deployment.reason})."
        )
        return Text("\n".join(lines), style="yellow")
    failed = (back.analysis or {}).get("failed", [])
    lines.append("The rollout's analysis failed it: " + "; ".join(failed) + f" ({CLOCK_NOTE}).")
    lines.append(
        f"Rolled back automatically by {back.actor}: {deployment.ref} holds version {rollout.holder} "
        f"again, under the promotion's decision {back.decision}. "
        f"See: plimsoll deployments history {DEPLOYMENT}"
    )
    return Text("\n".join(lines), style="yellow")

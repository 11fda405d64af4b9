"""`plimsoll gates check|policy|waive|decision|verify|promotions`: release gates through the SDK.

`plimsoll gates check --model NAME --version V --policy gates.yaml` exits 0 when every blocking
gate passed and 1 when one failed (2 for a usage error: a policy that does not parse names its
line), and writes a Markdown report (`--markdown`, for a pull request's comment) and JUnit XML
(`--junit`, for a CI system's test report). Promotions themselves are `plimsoll models
promote|approve|reject`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.table import Table
from rich.text import Text

from plimsoll.cli._output import (
    EXIT_ERROR,
    EXIT_USAGE,
    EXIT_VERIFICATION_FAILED,
    PROJECT_DEFAULT,
    JsonOption,
    UrlOption,
    console,
    errors_to_exit,
    fail,
    format_time,
    open_client,
    print_json,
)

if TYPE_CHECKING:
    from plimsoll.gates.entities import Decision, Promotion

app = typer.Typer(
    help="Release gates: run a policy's gates (CI), set policies, waive a gate, read decisions.",
    no_args_is_help=True,
)
policy_app = typer.Typer(help="The policy that guards an alias of a model.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")

ProjectOption = Annotated[str, typer.Option("--project", help="Project the model lives in.")]
MarkdownOption = Annotated[
    Path | None,
    typer.Option("--markdown", help="Write a Markdown report here (a PR comment).", show_default=False),
]
JunitOption = Annotated[
    Path | None, typer.Option("--junit", help="Write JUnit XML here (a CI test report).", show_default=False)
]
STATUS_STYLES = {"passed": "green", "failed": "red", "skipped": "yellow", "waived": "magenta"}


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"{what}: cannot read {path}: {getattr(exc, 'strerror', None) or exc}", EXIT_USAGE)


def read_evidence(path: Path | None) -> dict[str, Any] | None:
    """The evidence file's JSON document (docs/gates.md shows its shape)."""
    if path is None:
        return None
    try:
        document = orjson.loads(path.read_bytes())
    except OSError as exc:
        fail(f"--evidence: cannot read {path}: {exc.strerror}", EXIT_USAGE)
    except orjson.JSONDecodeError as exc:
        fail(f"--evidence: {path} is not JSON: {exc}", EXIT_USAGE)
    if not isinstance(document, dict):
        fail(f"--evidence: {path} must hold a JSON object", EXIT_USAGE)
    return document


def check_policy_text(text: str, path: Path) -> None:
    """Parse the policy here first, so that an error names the file and its line."""
    from plimsoll.core.errors import InvalidParameter
    from plimsoll.gates.policy import parse_policy

    try:
        parse_policy(text, str(path))
    except InvalidParameter as exc:
        fail(exc.message, EXIT_USAGE)


def write_reports(decision: Decision, markdown: Path | None, junit: Path | None) -> None:
    from plimsoll.gates import reports

    with errors_to_exit():
        if markdown is not None:
            markdown.write_text(reports.markdown(decision), encoding="utf-8")
        if junit is not None:
            junit.write_text(reports.junit(decision), encoding="utf-8")


def print_decision(decision: Decision) -> None:
    style = {"passed": "green", "failed": "red"}.get(decision.verdict, "yellow")
    console.print(
        Text(f"{decision.model}/{decision.version} -> {decision.alias}: ", style="bold")
        + Text(decision.verdict, style=f"bold {style}")
        + Text(f"  (decision {decision.id}, signature {decision.integrity})")
    )
    table = Table()
    for column in ("gate", "kind", "severity", "status", "why"):
        table.add_column(column, overflow="fold")
    for result in decision.results:
        status = (
            result.status if not (result.status == "failed" and result.severity == "warning") else "warning"
        )
        table.add_row(
            Text(result.gate),
            result.kind,
            result.severity,
            Text(status, style=STATUS_STYLES.get(result.status, "")),
            Text(result.reason),
        )
    console.print(table)
    if decision.problem:
        console.print(Text(f"The record does not verify: {decision.problem}", style="bold red"))


@app.command("check")
def check(
    model: Annotated[str, typer.Option("--model", help="The model's name.", show_default=False)],
    policy: Annotated[Path, typer.Option("--policy", help="The policy (YAML).", show_default=False)],
    version: Annotated[
        int | None,
        typer.Option("--version", min=1, help="The version (default: the latest).", show_default=False),
    ] = None,
    evidence: Annotated[
        Path | None,
        typer.Option(
            "--evidence",
            help="A JSON file of what was measured (default: the evidence recorded for the version).",
            show_default=False,
        ),
    ] = None,
    markdown: MarkdownOption = None,
    junit: JunitOption = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Run POLICY's gates on a version now: exit 0 when every blocking gate passed, 1 when one
    failed. The signed decision is stored on the server."""
    text = read_text(policy, "--policy")
    check_policy_text(text, policy)
    document = read_evidence(evidence)
    with open_client(url) as client:
        decision = client.gates.check(model, version, policy=text, evidence=document, project=project)
    write_reports(decision, markdown, junit)
    if json_output:
        print_json(decision.to_dict())
    else:
        print_decision(decision)
    if decision.verdict == "failed":
        raise typer.Exit(EXIT_ERROR)


@app.command("decision")
def show_decision(
    decision_id: Annotated[str, typer.Argument(help="The decision's id.", show_default=False)],
    markdown: MarkdownOption = None,
    junit: JunitOption = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
) -> None:
    """Show a decision, checked against its signature (exit 8 when it does not verify)."""
    with open_client(url) as client:
        decision = client.gates.decision(decision_id)
    write_reports(decision, markdown, junit)
    if json_output:
        print_json(decision.to_dict())
    else:
        print_decision(decision)
    if decision.integrity != "verified":
        raise typer.Exit(EXIT_VERIFICATION_FAILED)


@app.command("verify")
def verify(
    json_output: JsonOption = False, url: UrlOption = None, project: ProjectOption = PROJECT_DEFAULT
) -> None:
    """Check every decision of the project against its signature; exit 8 naming those that do not
    verify (changed outside Plimsoll)."""
    with open_client(url) as client:
        outcome = client.gates.verify(project=project)
    if json_output:
        print_json(outcome.to_dict())
    elif outcome.ok:
        console.print(f"{outcome.checked} decisions of project {project!r} verify.")
    for decision in outcome.problems:
        if not json_output:
            console.print(
                Text(
                    f"decision {decision.id} ({decision.ref} -> {decision.alias}): {decision.problem}",
                    style="red",
                )
            )
    if not outcome.ok:
        raise typer.Exit(EXIT_VERIFICATION_FAILED)


@policy_app.command("set")
def set_policy(
    name: Annotated[str, typer.Argument(help="The model's name.", show_default=False)],
    alias: Annotated[str, typer.Argument(help="The alias the policy guards.", show_default=False)],
    path: Annotated[Path, typer.Argument(help="The policy (YAML).", show_default=False)],
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Set the policy guarding promotions of NAME to ALIAS (project admins)."""
    text = read_text(path, "POLICY")
    check_policy_text(text, path)
    with open_client(url) as client:
        stored = client.gates.set_policy(name, alias, text, project=project)
    if json_output:
        print_json(stored.to_dict())
        return
    console.print(Text(f"{name}@{alias} is guarded by policy {stored.digest[:16]}"))


@policy_app.command("show")
def show_policy(
    name: Annotated[str, typer.Argument(help="The model's name.", show_default=False)],
    alias: Annotated[str, typer.Argument(help="The alias.", show_default=False)],
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Print the policy guarding NAME@ALIAS."""
    with open_client(url) as client:
        stored = client.gates.policy(name, alias, project=project)
    if json_output:
        print_json(stored.to_dict())
        return
    typer.echo(stored.text, nl=not stored.text.endswith("\n"))


@app.command("waive")
def waive(
    name: Annotated[str, typer.Argument(help="The model's name.", show_default=False)],
    version: Annotated[int, typer.Argument(min=1, help="The version.", show_default=False)],
    alias: Annotated[
        str, typer.Option("--alias", help="The alias whose policy holds the gate.", show_default=False)
    ],
    gate: Annotated[str, typer.Option("--gate", help="The gate's name in the policy.", show_default=False)],
    reason: Annotated[str, typer.Option("--reason", help="Why it may fail (required).", show_default=False)],
    hours: Annotated[int, typer.Option("--hours", min=1, help="How long the waiver lasts.")] = 24,
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """Let one failed gate through for VERSION's promotions to ALIAS for a time (approvers)."""
    with open_client(url) as client:
        waiver = client.gates.waive(name, version, alias, gate, reason=reason, hours=hours, project=project)
    if json_output:
        print_json(waiver.to_dict())
        return
    console.print(
        Text(
            f"gate {gate!r} of {name}@{alias} waived for {name}/{version} until {format_time(waiver.expires_at)}"
        )
    )


@app.command("promotions")
def promotions(
    name: Annotated[
        str | None, typer.Argument(help="The model's name (default: every model).", show_default=False)
    ] = None,
    alias: Annotated[
        str | None, typer.Option("--alias", help="Only those to this alias.", show_default=False)
    ] = None,
    json_output: JsonOption = False,
    url: UrlOption = None,
    project: ProjectOption = PROJECT_DEFAULT,
) -> None:
    """List promotions, newest first."""
    with open_client(url) as client:
        found = client.gates.promotions(name, alias=alias, project=project)
    if json_output:
        print_json({"promotions": [p.to_dict() for p in found]})
        return
    print_promotions(found)


def print_promotions(found: list[Promotion]) -> None:
    table = Table()
    for column in ("id", "version", "alias", "status", "approvals", "requested", "outcome"):
        table.add_column(column, overflow="fold")
    for promotion in found:
        table.add_row(
            promotion.id,
            Text(promotion.ref),
            promotion.alias,
            promotion.status,
            f"{len(promotion.approvals)}/{promotion.approvals_required}",
            f"{format_time(promotion.requested_at)[:16]} by {promotion.requested_by}",
            Text(promotion.outcome),
        )
    console.print(table)

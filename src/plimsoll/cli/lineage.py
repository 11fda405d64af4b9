"""`plimsoll lineage upstream|downstream|impact|link`: the lineage graph through the SDK, as a
Rich tree or table, or `--json` (the API's document). A run may be named by its short id.
`plimsoll lineage export --openlineage`: the runs' OpenLineage events, one JSON document a line."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.table import Table
from rich.tree import Tree

from plimsoll.cli._output import (
    EXIT_USAGE,
    PROJECT_DEFAULT,
    JsonOption,
    UrlOption,
    console,
    err_console,
    fail,
    open_client,
    print_json,
)
from plimsoll.core.errors import InvalidParameter
from plimsoll.lineage.entities import (
    DEFAULT_NODE_LIMIT,
    EDGE_CONTEXTS,
    EDGE_ROLES,
    MAX_DEPTH,
    MAX_NODE_LIMIT,
    Direction,
    Graph,
    Node,
)

app = typer.Typer(
    help="Lineage: what a node was made from, what was made from it, what a change affects.",
    no_args_is_help=True,
)

NodeArgument = Annotated[
    str,
    typer.Argument(
        help="A node id: dataset:NAME@VERSION, run:ID (or its short id), model:NAME/VERSION, deployment:NAME.",
        show_default=False,
    ),
]
DepthOption = Annotated[
    int | None,
    typer.Option(
        "--depth", min=1, max=MAX_DEPTH, help="At most this many steps (default: all).", show_default=False
    ),
]
ProjectOption = Annotated[str, typer.Option("--project", help="The project whose graph to read.")]
LimitOption = Annotated[
    int, typer.Option("--limit", min=1, max=MAX_NODE_LIMIT, help="At most this many nodes in the answer.")
]


@app.command("upstream")
def upstream(
    node: NodeArgument,
    depth: DepthOption = None,
    limit: LimitOption = DEFAULT_NODE_LIMIT,
    json_output: JsonOption = False,
    project: ProjectOption = PROJECT_DEFAULT,
    url: UrlOption = None,
) -> None:
    """What NODE was made from."""
    _walk("upstream", node, depth, limit, json_output, project, url)


@app.command("downstream")
def downstream(
    node: NodeArgument,
    depth: DepthOption = None,
    limit: LimitOption = DEFAULT_NODE_LIMIT,
    json_output: JsonOption = False,
    project: ProjectOption = PROJECT_DEFAULT,
    url: UrlOption = None,
) -> None:
    """What was made from NODE."""
    _walk("downstream", node, depth, limit, json_output, project, url)


@app.command("impact")
def impact(
    node: NodeArgument,
    limit: LimitOption = DEFAULT_NODE_LIMIT,
    json_output: JsonOption = False,
    project: ProjectOption = PROJECT_DEFAULT,
    url: UrlOption = None,
) -> None:
    """The runs, model versions and deployments a change to NODE affects."""
    with open_client(url) as client:
        found = client.lineage.impact(node, limit=limit, project=project)
    if json_output:
        print_json(found.to_dict())
        return
    if not found.impacted:
        console.print(f"Nothing downstream of {escape(found.node)} is a run, model version or deployment.")
        return
    table = Table(title=f"Impact of {escape(found.node)}")
    table.add_column("kind", no_wrap=True)
    table.add_column("id", overflow="fold")
    table.add_column("label", overflow="fold")
    table.add_column("deleted", no_wrap=True)
    for item in found.impacted:
        table.add_row(item.kind, escape(item.id), escape(item.label), "yes" if item.tombstoned else "")
    console.print(table)
    if found.truncated:
        counts = ", ".join(f"{count:,} {kind}" for kind, count in found.counts.items())
        console.print(
            f"[dim]The first {len(found.impacted):,} of {found.total:,} ({counts}); --limit shows more.[/]"
        )


@app.command("link")
def link(
    source: Annotated[str, typer.Argument(help="The node data flows from.", show_default=False)],
    target: Annotated[str, typer.Argument(help="The node data flows to.", show_default=False)],
    role: Annotated[str, typer.Option("--role", help=f"One of {', '.join(EDGE_ROLES)}.", show_default=False)],
    context: Annotated[
        str | None,
        typer.Option("--context", help=f"For `used`: {', '.join(EDGE_CONTEXTS)}.", show_default=False),
    ] = None,
    json_output: JsonOption = False,
    project: ProjectOption = PROJECT_DEFAULT,
    url: UrlOption = None,
) -> None:
    """Link SOURCE -> TARGET (nodes are created if new; linking again changes nothing)."""
    with open_client(url) as client:
        edge = client.lineage.link(source, target, role, context, project=project)
    if json_output:
        print_json(edge.to_dict())
        return
    how = edge.role if edge.context is None else f"{edge.role} ({edge.context})"
    console.print(f"Linked {escape(edge.source)} -> {escape(edge.target)}: {escape(how)}.")


@app.command("export")
def export(
    openlineage: Annotated[
        bool,
        typer.Option(
            "--openlineage",
            help="As OpenLineage run events, one JSON document a line (the one format so far).",
        ),
    ] = False,
    run: Annotated[
        str | None,
        typer.Option("--run", help="Only this run's events (its id or short id).", show_default=False),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write to this file (default: standard output).", show_default=False
        ),
    ] = None,
    project: ProjectOption = PROJECT_DEFAULT,
    url: UrlOption = None,
) -> None:
    """The runs' lineage for other tools: each run's OpenLineage events (START, then COMPLETE,
    FAIL or ABORT once it ended) with the dataset versions it used and produced, oldest run first."""
    if not openlineage:
        fail("name the format to export in: --openlineage (the one format so far)", EXIT_USAGE)
    with open_client(url) as client:
        events = client.lineage.openlineage_events(run=run, project=project)
        if output is None:
            _write_lines(events, sys.stdout)
            return
        written = _write_file(events, output)
    err_console.print(f"Wrote {written:,} OpenLineage events to {escape(str(output))}.")


def _write_lines(events: Iterable[dict[str, Any]], out: IO[str]) -> int:
    count = 0
    for event in events:
        out.write(orjson.dumps(event).decode() + "\n")
        count += 1
    out.flush()
    return count


def _write_file(events: Iterable[dict[str, Any]], path: Path) -> int:
    """Written beside `path` and moved over it once whole: an export that fails half way (the
    server gone, a run refused) leaves whatever `path` held before, not half a file."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        with partial.open("w", encoding="utf-8") as out:
            count = _write_lines(events, out)
        os.replace(partial, path)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise InvalidParameter("--output", f"cannot write {path}: {error.strerror or error}") from None
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return count


def _walk(
    direction: Direction,
    node: str,
    depth: int | None,
    limit: int,
    json_output: bool,
    project: str,
    url: str | None,
) -> None:
    with open_client(url) as client:
        walk = client.lineage.upstream if direction == "upstream" else client.lineage.downstream
        graph = walk(node, depth=depth, limit=limit, project=project)
    if json_output:
        print_json(graph.to_dict())
        return
    console.print(_tree(graph, downstream=direction == "downstream"))
    if graph.truncated:
        console.print(
            f"[dim]{len(graph.nodes):,} of {graph.total:,} nodes; --limit or --depth for others.[/]"
        )


def _tree(graph: Graph, *, downstream: bool) -> Tree:
    """The walk as a tree from its start; a node reached again (the graph is no tree) is shown
    once in full and after that by its id, marked, so a cycle ends."""
    by_id = {node.id: node for node in graph.nodes}
    next_of: dict[str, list[tuple[str, str]]] = {}
    for edge in graph.edges:
        here, there = (edge.source, edge.target) if downstream else (edge.target, edge.source)
        how = edge.role if edge.context is None else f"{edge.role}, {edge.context}"
        next_of.setdefault(here, []).append((there, how))
    start = graph.nodes[0]
    root = Tree(_label(start))
    shown = {start.id}
    pending = [(root, start.id)]
    while pending:
        branch, node_id = pending.pop(0)
        for there, how in sorted(next_of.get(node_id, [])):
            if there in shown:
                branch.add(f"[dim]{escape(there)} ({escape(how)}; shown above)[/]")
                continue
            shown.add(there)
            pending.append((branch.add(f"{_label(by_id[there])} [dim]({escape(how)})[/]"), there))
    return root


def _label(node: Node) -> str:
    text = f"[bold]{escape(node.id)}[/]"
    if node.label != node.key:
        text += f" {escape(node.label)}"
    return text + (" [red](deleted)[/]" if node.tombstoned else "")

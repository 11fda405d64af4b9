"""`client.lineage`: the lineage graph's walks and links, embedded or over HTTP alike.

A node is named by its id (`dataset:NAME@VERSION`, `run:ID`, `model:NAME/VERSION`,
`deployment:NAME`; docs/lineage.md). A run may also be named by its short id, the last digits the
UI and `plimsoll runs list` show: the tracking service resolves it among the runs the caller may
see before the lineage service is asked.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from plimsoll.core.ids import is_short_id
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.lineage.entities import DEFAULT_EXPORT_PAGE, DEFAULT_NODE_LIMIT, Direction, Edge, Graph, Impact

if TYPE_CHECKING:
    from plimsoll.client.transport import Transport


class Lineage:
    def __init__(self, transport: Transport) -> None:
        self._transport = transport

    def upstream(
        self,
        node: str,
        *,
        depth: int | None = None,
        limit: int = DEFAULT_NODE_LIMIT,
        project: str = DEFAULT_PROJECT,
    ) -> Graph:
        """Where `node` came from, within `depth` steps (all when None), at most `limit` nodes
        (`graph.truncated` says when there were more, `graph.total` how many)."""
        return self._walk("upstream", node, depth, limit, project)

    def downstream(
        self,
        node: str,
        *,
        depth: int | None = None,
        limit: int = DEFAULT_NODE_LIMIT,
        project: str = DEFAULT_PROJECT,
    ) -> Graph:
        """What was made from `node`, within `depth` steps (all when None), at most `limit` nodes."""
        return self._walk("downstream", node, depth, limit, project)

    def impact(self, node: str, *, limit: int = DEFAULT_NODE_LIMIT, project: str = DEFAULT_PROJECT) -> Impact:
        """The runs, model versions and deployments downstream of `node`: `counts` by kind, and
        the first `limit` of them."""
        return self._transport.lineage_impact(project, self._whole(node), limit)

    def link(
        self,
        source: str,
        target: str,
        role: str,
        context: str | None = None,
        *,
        project: str = DEFAULT_PROJECT,
    ) -> Edge:
        """The edge `source` -> `target` (the way data flows: `used`, `produced`, `derived`);
        its nodes are created if new, and linking again changes nothing."""
        return self._transport.lineage_link(project, self._whole(source), self._whole(target), role, context)

    def openlineage_events(
        self, *, run: str | None = None, project: str = DEFAULT_PROJECT, page_size: int = DEFAULT_EXPORT_PAGE
    ) -> Iterator[dict[str, Any]]:
        """The OpenLineage run events (JSON documents, as the spec describes them) of `run` (an id
        or short id), or of every run of `project`, oldest first, read a page of `page_size` runs
        at a time: START, then COMPLETE, FAIL or ABORT once a run ended. docs/lineage.md."""
        run_id = None if run is None else self._transport.resolve_run_id(run)
        return self._openlineage_pages(project, run_id, page_size)

    def _openlineage_pages(
        self, project: str, run_id: str | None, page_size: int
    ) -> Iterator[dict[str, Any]]:
        token: str | None = None
        while True:
            page = self._transport.lineage_openlineage(project, run_id, token, page_size)
            yield from page.events
            token = page.next_page_token
            if token is None:
                return

    def _walk(self, direction: Direction, node: str, depth: int | None, limit: int, project: str) -> Graph:
        return self._transport.lineage_walk(direction, project, self._whole(node), depth, limit)

    def _whole(self, node: str) -> str:
        """`node`, with a run's short id replaced by its whole id."""
        if isinstance(node, str) and node.startswith("run:"):
            key = node.removeprefix("run:")
            if is_short_id(key) and len(key.strip()) < 32:
                return f"run:{self._transport.resolve_run_id(key)}"
        return node

"""The lineage graph's rules, once: recording nodes and edges, tombstones, and the walks.

Other capabilities record their lineage inside their own change, so that a dataset version and
the edge from its parent commit together or not at all:

    lineage = parts.services["lineage"]
    with changing(db, outbox, actor) as change:
        ...                                         # the capability's own rows
        lineage.link(change, "dataset:raw@3", "dataset:clean@1", "derived", project=project)

`record`, `link` and `tombstone` take that open change; `add_edge` opens one of its own (the
API's and the SDK's entry point). The walks (`upstream`, `downstream`, `impact`, `dependents`)
are recursive SQL in the store. A run's lineage lives in its experiment's project, checked
through the tracking service.

The runs' OpenLineage events (`openlineage_events`, and the `openlineage` consumer,
`emit_openlineage`, which posts them as runs start and end) are built by `lineage.openlineage`
from a run, the dataset versions the graph says it used and produced, and what the data
capability's describer (`add_describer`) says of each: their columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from plimsoll.core.audit import AuditEntry
from plimsoll.core.capability import Parts
from plimsoll.core.changes import Change, changing
from plimsoll.core.db import Connection
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.core.ids import now_ms
from plimsoll.core.validation import MAX_NAME_LENGTH, check_id, check_int, check_name, check_text
from plimsoll.lineage import store
from plimsoll.lineage.entities import (
    DEFAULT_EXPORT_PAGE,
    DEFAULT_NODE_LIMIT,
    IMPACT_KINDS,
    MAX_DEPTH,
    MAX_EXPORT_PAGE,
    MAX_LABEL_LENGTH,
    MAX_NODE_LIMIT,
    NODE_KINDS,
    DatasetFacts,
    Edge,
    Graph,
    Impact,
    Node,
    NodeRef,
    OpenLineagePage,
    RunDataset,
    check_attributes,
    check_context,
    check_kinds,
    check_role,
    parse_node,
)
from plimsoll.lineage.openlineage import (
    END_STATES,
    INSTALL_HINT,
    STATE_OF_EVENT,
    Emitter,
    namespace_of,
    require_client,
    run_event,
    run_events,
    to_dict,
)

if TYPE_CHECKING:
    from openlineage.client.event_v2 import RunEvent

    from plimsoll.core.outbox import Event
    from plimsoll.tracking.entities import Run

# (project, the alias form of a node) -> the node it stands for today, in its exact form
Resolver = Callable[[str, NodeRef], NodeRef | str]
# (project, the keys of nodes of a kind) -> what the capability keeping them knows of each
Describer = Callable[[str, Sequence[str]], Mapping[str, DatasetFacts]]


class LineageService:
    def __init__(self, parts: Parts) -> None:
        self.db = parts.db
        self.events = parts.events
        self.projects = parts.projects
        self.tracking = parts.services["tracking"]
        self._resolvers: dict[str, Resolver] = {}
        self._describers: dict[str, Describer] = {}
        self.openlineage = parts.settings.openlineage
        self.openlineage_namespace = namespace_of(self.openlineage.namespace, parts.settings.public_url)
        self._emitter: Emitter | None = None
        if self.openlineage.url:
            # Refused at start, not event by event: a server told to post events that cannot
            # would otherwise park every one of them.
            try:
                require_client()
            except Conflict:
                raise InvalidParameter(
                    "PLIMSOLL_OPENLINEAGE_URL",
                    f"is set, but the OpenLineage client (openlineage-python) is not installed: {INSTALL_HINT}",
                ) from None

    def add_resolver(self, kind: str, resolve: Resolver) -> None:
        """Let `kind`'s alias form (`model:NAME@ALIAS`) name a node: the registry plugs in here,
        so lineage never imports it. The resolver answers with the exact node, or raises."""
        check_kinds("kind", [kind])
        self._resolvers[kind] = resolve

    def exact(self, project: str, ref: NodeRef | str, *, field: str = "node") -> NodeRef:
        """`ref` parsed, and resolved to an exact node if it is an alias."""
        parsed = parse_node(field, ref)
        if parsed.alias is None:
            return parsed
        resolve = self._resolvers.get(parsed.kind)
        if resolve is None:
            raise InvalidParameter(
                field,
                f"{parsed.id!r} names an alias, and aliases of {parsed.kind} are not known yet: "
                f"name a version ('{parsed.kind}:NAME/VERSION')",
            )
        resolved = parse_node(field, resolve(project, parsed))
        if resolved.alias is not None or resolved.kind != parsed.kind:
            raise InvalidParameter(
                field, f"{parsed.id!r} resolved to {resolved.id!r}, not a {parsed.kind} version"
            )
        return resolved

    # -- inside a caller's change ------------------------------------------------------------------

    def record(
        self,
        change: Change,
        ref: NodeRef | str,
        *,
        project: str,
        label: str | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> Node:
        """The node `ref` names in `project`, created if new; a label or attributes given replace
        the stored ones. Idempotent: recording it again as it is changes nothing."""
        node = self.exact(project, ref)
        if label is not None:
            check_text("label", label, max_length=MAX_LABEL_LENGTH)
        if attributes is not None:
            attributes = check_attributes("attributes", attributes)
        row = self._node(change, project, node, "node", label=label, attributes=attributes)
        return _node(row)

    def link(
        self,
        change: Change,
        source: NodeRef | str,
        target: NodeRef | str,
        role: str,
        context: str | None = None,
        *,
        project: str,
    ) -> Edge:
        """The edge `source` -> `target` (the way data flows) with `role`, its nodes created if
        new. Idempotent; the same edge with another context is a Conflict."""
        source_ref = self.exact(project, source, field="from")
        target_ref = self.exact(project, target, field="to")
        check_role("role", role)
        check_context("context", context)
        if source_ref == target_ref:
            raise InvalidParameter(
                "to", f"{target_ref.id!r} is the node the edge comes from: a node is not its own lineage"
            )
        source_row = self._node(change, project, source_ref, "from")
        target_row = self._node(change, project, target_ref, "to")
        edge = Edge(source_ref.id, target_ref.id, role, context)
        exists, stored = store.edge_context(change.conn, source_row["id"], target_row["id"], role)
        if exists:
            if stored != context:
                raise Conflict(
                    f"{source_ref.id!r} -> {target_ref.id!r} ({role}) is already linked with context "
                    f"{stored!r}, not {context!r}"
                )
            return edge
        row = {
            "source_id": source_row["id"],
            "target_id": target_row["id"],
            "role": role,
            "context": context,
            "created_at": now_ms(),
        }
        if store.insert_edge_if_absent(change.conn, row):
            resource = f"{source_row['id']}>{target_row['id']}:{role}"
            change.audit(
                AuditEntry(
                    change.actor, "lineage.link", "lineage_edge", resource, project, None, edge.to_dict()
                )
            )
        return edge

    def tombstone(self, change: Change, ref: NodeRef | str, *, project: str) -> Node | None:
        """Mark the node deleted: it stays in the graph, so what was made from it still says
        from what. None if the graph never held it."""
        return self._set_tombstone(change, ref, project, deleted=True)

    def restore(self, change: Change, ref: NodeRef | str, *, project: str) -> Node | None:
        """Undo `tombstone` (the thing it stands for exists again). None if the graph never held it."""
        return self._set_tombstone(change, ref, project, deleted=False)

    def _set_tombstone(
        self, change: Change, ref: NodeRef | str, project: str, *, deleted: bool
    ) -> Node | None:
        node = self.exact(project, ref)
        row = store.node_by_key(change.conn, project, node.kind, node.key)
        if row is None:
            return None
        if (row["tombstoned_at"] is not None) != deleted:
            before = _node(row).to_dict()
            row = {**row, "tombstoned_at": now_ms() if deleted else None}
            store.update_node(change.conn, row["id"], {"tombstoned_at": row["tombstoned_at"]})
            action = "lineage.tombstone" if deleted else "lineage.restore"
            change.audit(
                AuditEntry(
                    change.actor,
                    action,
                    "lineage_node",
                    str(row["id"]),
                    project,
                    before,
                    _node(row).to_dict(),
                )
            )
        return _node(row)

    # -- in a change of its own --------------------------------------------------------------------

    def add_edge(
        self,
        source: NodeRef | str,
        target: NodeRef | str,
        role: str,
        context: str | None = None,
        *,
        project: str,
        actor: str,
    ) -> Edge:
        """`link`, for a caller without an open change (the API, the SDK)."""
        check_name("project", project, max_length=MAX_NAME_LENGTH)
        with changing(self.db, self.events, actor) as change:
            self.projects.require_in(change.conn, project)
            return self.link(change, source, target, role, context, project=project)

    # -- walks -------------------------------------------------------------------------------------

    def upstream(
        self, project: str, node: NodeRef | str, depth: int | None = None, limit: int = DEFAULT_NODE_LIMIT
    ) -> Graph:
        """Where `node` came from: every node it was made from, within `depth` steps (None: all),
        the first `limit` of them (the answer says when it was cut)."""
        return self._walk(project, node, depth, limit, downstream=False)

    def downstream(
        self, project: str, node: NodeRef | str, depth: int | None = None, limit: int = DEFAULT_NODE_LIMIT
    ) -> Graph:
        """What was made from `node`, within `depth` steps (None: all), the first `limit` of them."""
        return self._walk(project, node, depth, limit, downstream=True)

    def impact(self, project: str, node: NodeRef | str, limit: int = DEFAULT_NODE_LIMIT) -> Impact:
        """Every run, model version and deployment downstream of `node`, directly or through data
        derived from it (tombstoned ones too, marked): how many of each kind, and the first
        `limit` of them by kind and key."""
        start = self.exact(project, node)
        check_int("limit", limit, minimum=1, maximum=MAX_NODE_LIMIT)
        with self.db.read() as conn:
            row = self._existing(conn, project, start)
            found, counts = store.reachable(
                conn, row["id"], downstream=True, kinds=IMPACT_KINDS, live_only=False, limit=limit
            )
        nodes = [_node_of(found_row) for found_row in found]
        return Impact(start.id, nodes, counts, sum(counts.values()) > len(nodes))

    def dependents(self, project: str, ref: NodeRef | str, kinds: Iterable[str]) -> list[Node]:
        """The live (not tombstoned) nodes of `kinds` downstream of `ref`: what depends on it, all
        of them. Empty when the graph does not hold `ref`. Garbage collection asks this before it
        sweeps data ("data a registered model depends on is never swept")."""
        start = self.exact(project, ref)
        wanted = check_kinds("kinds", kinds)
        with self.db.read() as conn:
            row = store.node_by_key(conn, project, start.kind, start.key)
            if row is None or not wanted:
                return []
            found, _ = store.reachable(conn, row["id"], downstream=True, kinds=wanted, live_only=True)
        return [_node_of(found_row) for found_row in found]

    def _walk(
        self, project: str, node: NodeRef | str, depth: int | None, limit: int, *, downstream: bool
    ) -> Graph:
        start = self.exact(project, node)
        if depth is not None:
            check_int("depth", depth, minimum=1, maximum=MAX_DEPTH)
        check_int("limit", limit, minimum=1, maximum=MAX_NODE_LIMIT)
        with self.db.read() as conn:
            row = self._existing(conn, project, start)
            node_rows, edge_rows, total = store.walk(
                conn, row["id"], downstream=downstream, depth=depth, limit=limit
            )
        start_id = row["id"]
        # The start first, then by kind and key (the store keeps which; the order is the answer's).
        node_rows.sort(key=lambda found: (found[0] != start_id, found[2], found[3]))
        nodes = [_node_of(found) for found in node_rows]
        ids = {found[0]: node.id for found, node in zip(node_rows, nodes, strict=True)}
        edges = [Edge(ids[source], ids[target], role, context) for source, target, role, context in edge_rows]
        edges.sort(key=lambda edge: (edge.source, edge.target, edge.role))
        return Graph(nodes, edges, total > len(nodes), total)

    def _existing(self, conn: Connection, project: str, node: NodeRef) -> dict[str, Any]:
        check_name("project", project, max_length=MAX_NAME_LENGTH)
        row = store.node_by_key(conn, project, node.kind, node.key)
        if row is None:
            self.projects.require_in(conn, project)
            raise NotFound(f"node {node.id!r} is not in the lineage graph of project {project!r}")
        return row

    def _node(
        self,
        change: Change,
        project: str,
        node: NodeRef,
        field: str,
        *,
        label: str | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        conn = change.conn
        row = store.node_by_key(conn, project, node.kind, node.key)
        if row is None:
            default_label = self._run_label(project, node, field) if node.kind == "run" else node.key
            new = {
                "project": project,
                "kind": node.kind,
                "key": node.key,
                "label": label if label is not None else default_label,
                "attributes": attributes or {},
                "created_at": now_ms(),
                "tombstoned_at": None,
            }
            inserted = store.insert_node_if_absent(conn, new)
            row = store.node_by_key(conn, project, node.kind, node.key)
            assert row is not None
            if inserted:  # else another writer recorded it meanwhile, and audited it
                _audit_node(change, "lineage.record", project, None, row)
            return row
        changes = {
            name: value
            for name, value in (("label", label), ("attributes", attributes))
            if value is not None and value != row[name]
        }
        if changes:
            before = _node(row).to_dict()
            store.update_node(conn, row["id"], changes)
            row = {**row, **changes}
            _audit_node(change, "lineage.record", project, before, row)
        return row

    # -- OpenLineage --------------------------------------------------------------------------------

    def add_describer(self, kind: str, describe: Describer) -> None:
        """Let the capability that keeps `kind`'s things say what the graph's node does not hold
        (a dataset version's columns), for the OpenLineage events: data plugs in here, so lineage
        never imports it."""
        check_kinds("kind", [kind])
        self._describers[kind] = describe

    def openlineage_events(
        self,
        project: str,
        *,
        run_id: str | None = None,
        page_token: str | None = None,
        page_size: int = DEFAULT_EXPORT_PAGE,
    ) -> OpenLineagePage:
        """OpenLineage run events of one run (`run_id`) or of a page of `page_size` runs of
        `project`, oldest first: START, and COMPLETE, FAIL or ABORT once the run ended, each with
        the dataset versions the run used and produced. `next_page_token` pages on."""
        check_name("project", project, max_length=MAX_NAME_LENGTH)
        check_int("page_size", page_size, minimum=1, maximum=MAX_EXPORT_PAGE)
        page_token = page_token or None  # an empty one asks for the first page, as no token does
        require_client()
        if run_id is not None:
            check_id("run_id", run_id)
            if page_token is not None:
                raise InvalidParameter(
                    "page_token",
                    "pages through a project's runs; the events of one run (run_id) are one page",
                )
            return OpenLineagePage([to_dict(e) for e in self._export([self._run_in(project, run_id)])])
        with self.db.read() as conn:
            self.projects.require_in(conn, project)
        page = self.tracking.search_runs(
            project=project,
            order_by=["attributes.start_time ASC"],
            max_results=page_size,
            page_token=page_token,
        )
        return OpenLineagePage([to_dict(e) for e in self._export(page.runs)], page.next_page_token)

    def emit_openlineage(self, event: Event) -> None:
        """The `openlineage` consumer: post the OpenLineage event a run's start, end or resumption
        stands for to the configured receiver; nothing when none is configured. A failure raises,
        so that the outbox retries the event (and parks it after its attempts, listed, replayable)."""
        if not self.openlineage.url:
            return
        payload = event.payload
        state = STATE_OF_EVENT.get(event.type) or END_STATES.get(str(payload.get("status")))
        if state is None:
            return
        try:
            run = self.tracking.get_run(str(payload["run_id"]))
        except NotFound:
            return  # purged since: nothing is left to tell of it
        # The time the run's record gives (the same on a redelivery), not the time of posting.
        at_ms = {"START": run.start_time, "RUNNING": event.created_at}.get(state, payload.get("end_time"))
        datasets, facts = self._datasets(run.project, [run.id])
        built = run_event(
            run,
            state,
            int(at_ms or event.created_at),
            datasets.get(run.id, []),
            facts,
            namespace=self.openlineage_namespace,
        )
        self._emitter_for_receiver().emit(built)

    def _emitter_for_receiver(self) -> Emitter:
        if self._emitter is None:
            assert self.openlineage.url is not None
            self._emitter = Emitter(self.openlineage.url, self.openlineage.endpoint, self.openlineage.api_key)
        return self._emitter

    def _run_in(self, project: str, run_id: str) -> Run:
        try:
            run: Run = self.tracking.get_run(run_id)
        except NotFound:
            pass
        else:
            if run.project == project:
                return run
        raise NotFound(f"run {run_id!r} not found in project {project!r}")

    def _export(self, runs: Sequence[Run]) -> list[RunEvent]:
        by_project: dict[str, list[Run]] = {}
        for run in runs:
            by_project.setdefault(run.project, []).append(run)
        found: dict[str, tuple[dict[str, list[RunDataset]], Mapping[str, DatasetFacts]]] = {
            project: self._datasets(project, [run.id for run in of_project])
            for project, of_project in by_project.items()
        }
        events: list[RunEvent] = []
        for run in runs:
            datasets, facts = found[run.project]
            events += run_events(run, datasets.get(run.id, []), facts, namespace=self.openlineage_namespace)
        return events

    def _datasets(
        self, project: str, run_ids: Sequence[str]
    ) -> tuple[dict[str, list[RunDataset]], Mapping[str, DatasetFacts]]:
        """The dataset versions each run used and produced, by run id, and what the data
        capability says of each (by node key)."""
        with self.db.read() as conn:
            rows = store.run_datasets(conn, project, run_ids)
        by_run: dict[str, list[RunDataset]] = {}
        for run_id, role, key, context, attributes, tombstoned_at in rows:
            found = RunDataset(
                run_id, role, key, context, store.attributes(attributes), tombstoned_at is not None
            )
            by_run.setdefault(run_id, []).append(found)
        describe = self._describers.get("dataset")
        keys = sorted({found.key for datasets in by_run.values() for found in datasets})
        return by_run, (describe(project, keys) if describe is not None and keys else {})

    def _run_label(self, project: str, node: NodeRef, field: str) -> str:
        """A run's name, once it is known to be a run of `project` (its experiment's project)."""
        try:
            runs = self.tracking.get_runs([node.key])
        except NotFound:
            runs = []
        if not runs or runs[0].project != project:
            raise NotFound(
                f"{field}: run {node.key!r} not found in project {project!r} (a run's lineage lives in "
                "its experiment's project)"
            )
        return str(runs[0].name)


def _audit_node(
    change: Change, action: str, project: str, before: dict[str, Any] | None, row: dict[str, Any]
) -> None:
    """The audit entry of a change to a node: what it was (None when new) and what it is."""
    change.audit(
        AuditEntry(
            change.actor, action, "lineage_node", str(row["id"]), project, before, _node(row).to_dict()
        )
    )


def _node_of(row: Any) -> Node:
    """A node from a walk's row: (id, created_at, kind, key, label, attributes, tombstoned_at)."""
    _, created_at, kind, key, label, attributes, tombstoned_at = row
    return Node(
        kind,
        key,
        label,
        store.attributes(attributes),
        int(created_at),
        None if tombstoned_at is None else int(tombstoned_at),
    )


def _node(row: dict[str, Any]) -> Node:
    return Node(
        row["kind"],
        row["key"],
        row["label"],
        dict(row["attributes"] or {}),
        int(row["created_at"]),
        None if row["tombstoned_at"] is None else int(row["tombstoned_at"]),
    )


__all__ = ["NODE_KINDS", "Describer", "LineageService", "Resolver"]

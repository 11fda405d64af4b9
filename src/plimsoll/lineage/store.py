"""Lineage's tables and every statement that reads or writes them. Each function takes an open
connection; the service owns the transaction.

The walks are recursive SQL, the same statement on SQLite and PostgreSQL: a recursive CTE over the
edges from the start node. A whole closure unions node ids alone (UNION, not UNION ALL), so a node
met again adds no row and a cycle ends the walk; a walk with a depth unions (node, depth) and
stops at the depth, which bounds it too.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    func,
    literal,
    select,
)

from plimsoll.core.db import metadata, upsert

lineage_nodes = Table(
    "lineage_nodes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(128), ForeignKey("projects.name"), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("key", String(520), nullable=False),
    Column("label", Text, nullable=False),
    Column("attributes", JSON, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("tombstoned_at", BigInteger, nullable=True),
    UniqueConstraint("project", "kind", "key"),
)

lineage_edges = Table(
    "lineage_edges",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source_id", Integer, ForeignKey("lineage_nodes.id"), nullable=False),
    Column("target_id", Integer, ForeignKey("lineage_nodes.id"), nullable=False),
    Column("role", String(32), nullable=False),
    Column("context", String(32), nullable=True),
    Column("created_at", BigInteger, nullable=False),
    # Also the index a downstream walk follows (source -> target, read from the index alone).
    UniqueConstraint("source_id", "target_id", "role"),
    # The one an upstream walk follows (target -> source).
    Index("ix_lineage_edges_target_id_source_id", "target_id", "source_id"),
)

TABLES = (lineage_nodes, lineage_edges)

_NODE_COLUMNS = (
    lineage_nodes.c.id,
    lineage_nodes.c.kind,
    lineage_nodes.c.key,
    lineage_nodes.c.label,
    lineage_nodes.c.attributes,
    lineage_nodes.c.created_at,
    lineage_nodes.c.tombstoned_at,
)


def node_by_key(conn: Connection, project: str, kind: str, key: str) -> dict[str, Any] | None:
    query = select(*_NODE_COLUMNS).where(
        lineage_nodes.c.project == project, lineage_nodes.c.kind == kind, lineage_nodes.c.key == key
    )
    row = conn.execute(query).mappings().first()
    return None if row is None else dict(row)


def insert_node_if_absent(conn: Connection, row: dict[str, Any]) -> bool:
    """Whether the node was inserted (False: one with its project, kind and key exists)."""
    statement = upsert(conn, lineage_nodes).values(**row)
    statement = statement.on_conflict_do_nothing(index_elements=["project", "kind", "key"])
    return bool(conn.execute(statement).rowcount)


def update_node(conn: Connection, node_id: int, values: dict[str, Any]) -> None:
    conn.execute(lineage_nodes.update().where(lineage_nodes.c.id == node_id).values(**values))


def edge_context(conn: Connection, source_id: int, target_id: int, role: str) -> tuple[bool, str | None]:
    """(whether the edge exists, its context)."""
    query = select(lineage_edges.c.context).where(
        lineage_edges.c.source_id == source_id,
        lineage_edges.c.target_id == target_id,
        lineage_edges.c.role == role,
    )
    row = conn.execute(query).first()
    return (False, None) if row is None else (True, row[0])


def insert_edge_if_absent(conn: Connection, row: dict[str, Any]) -> bool:
    statement = upsert(conn, lineage_edges).values(**row)
    statement = statement.on_conflict_do_nothing(index_elements=["source_id", "target_id", "role"])
    return bool(conn.execute(statement).rowcount)


def _ends(downstream: bool) -> tuple[Any, Any]:
    """(the column a walk steps from, the column it steps to)."""
    edges = lineage_edges.c
    return (edges.source_id, edges.target_id) if downstream else (edges.target_id, edges.source_id)


def _walk(start_id: int, downstream: bool, depth: int | None) -> Any:
    """The recursive CTE of the node ids reachable from the start (itself included), with
    `depth` (0 for the start) when the walk is bounded."""
    here, there = _ends(downstream)
    if depth is None:
        seed = select(literal(start_id, Integer).label("node_id")).cte("walk", recursive=True)
        step = select(there).join(seed, here == seed.c.node_id)
        return seed.union(step)
    seed = select(literal(start_id, Integer).label("node_id"), literal(0, Integer).label("depth")).cte(
        "walk", recursive=True
    )
    step = select(there, seed.c.depth + 1).join(seed, here == seed.c.node_id).where(seed.c.depth < depth)
    return seed.union(step)


def walk(
    conn: Connection, start_id: int, *, downstream: bool, depth: int | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The nodes within `depth` steps of the start (None: all), the start first, and the edges
    the walk followed between them: (node rows, edge rows of `source`/`target` node ids)."""
    reached = _walk(start_id, downstream, depth)
    node_ids = select(reached.c.node_id)
    nodes = conn.execute(
        select(*_NODE_COLUMNS)
        .where(lineage_nodes.c.id.in_(node_ids))
        .order_by((lineage_nodes.c.id != start_id), lineage_nodes.c.kind, lineage_nodes.c.key)
    ).mappings()
    node_rows = [dict(row) for row in nodes]
    here, there = _ends(downstream)
    stepped_from = node_ids if depth is None else node_ids.where(reached.c.depth < depth)
    followed = here.in_(stepped_from)
    if depth is not None:
        followed = and_(followed, there.in_(node_ids))
    edge_rows = conn.execute(
        select(
            lineage_edges.c.source_id,
            lineage_edges.c.target_id,
            lineage_edges.c.role,
            lineage_edges.c.context,
        ).where(followed)
    ).mappings()
    return node_rows, [dict(row) for row in edge_rows]


def reachable(
    conn: Connection, start_id: int, *, downstream: bool, kinds: tuple[str, ...], live_only: bool
) -> list[dict[str, Any]]:
    """The nodes of these kinds anywhere downstream (or upstream) of the start, itself excluded;
    `live_only` leaves out tombstoned ones."""
    reached = _walk(start_id, downstream, None)
    where: list[ColumnElement[bool]] = [
        lineage_nodes.c.id.in_(select(reached.c.node_id)),
        lineage_nodes.c.id != start_id,
        lineage_nodes.c.kind.in_(kinds),
    ]
    if live_only:
        where.append(lineage_nodes.c.tombstoned_at.is_(None))
    query: Select[Any] = (
        select(*_NODE_COLUMNS).where(*where).order_by(lineage_nodes.c.kind, lineage_nodes.c.key)
    )
    return [dict(row) for row in conn.execute(query).mappings()]


def count_nodes(conn: Connection, project: str) -> int:
    query = select(func.count()).select_from(lineage_nodes).where(lineage_nodes.c.project == project)
    return int(conn.execute(query).scalar_one())

"""Run artifacts: which blob each (run, path) holds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping, or_, select

from plimsoll.core.db import upsert
from plimsoll.tracking.store.schema import run_artifacts


def upsert_artifact(conn: Connection, row: dict[str, Any]) -> None:
    stmt = upsert(conn, run_artifacts).values(**row)
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=["run_id", "path"],
            set_={"digest": row["digest"], "size": row["size"], "created_at": row["created_at"]},
        )
    )


def artifact_rows(conn: Connection, run_id: str, prefix: str | None) -> list[RowMapping]:
    query = select(run_artifacts).where(run_artifacts.c.run_id == run_id)
    if prefix:
        query = query.where(
            or_(
                run_artifacts.c.path == prefix, run_artifacts.c.path.startswith(prefix + "/", autoescape=True)
            )
        )
    return list(conn.execute(query.order_by(run_artifacts.c.path)).mappings())


def artifact_digests(conn: Connection) -> set[str]:
    """Every blob digest a run artifact refers to (for garbage collection)."""
    return set(conn.execute(select(run_artifacts.c.digest).distinct()).scalars())

"""Reading what was logged: the segments' index, and their rows through DuckDB (an S3 store's
files through its own fsspec filesystem)."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_int, check_name
from plimsoll.model_registry.entities import parse_model_ref
from plimsoll.monitoring import store
from plimsoll.monitoring.entities import (
    MAX_SEGMENTS_LISTED,
    TS_COLUMN,
    Segment,
    check_deployment,
    check_kind,
    check_role,
)
from plimsoll.monitoring.service.base import ServiceBase

if TYPE_CHECKING:  # the platform starts without them: imported when rows are read
    import duckdb
    import pyarrow as pa

MAX_ROWS_READ = 10_000_000


class ReadingOps(ServiceBase):
    def segments(
        self,
        kind: str,
        *,
        model: str | None = None,
        deployment: str | None = None,
        role: str | None = None,
        since: int | None = None,
        until: int | None = None,
        project: str = DEFAULT_PROJECT,
        limit: int = MAX_SEGMENTS_LISTED,
    ) -> builtins.list[Segment]:
        """The segments of `kind` holding rows from `since` to before `until` (epoch ms), oldest
        day first: of `model` (`NAME`, or `NAME/VERSION`), a deployment and a role if given."""
        check_name("project", project)
        kind = check_kind("kind", kind)
        check_int("limit", limit, minimum=1, maximum=MAX_SEGMENTS_LISTED)
        for field_name, value in (("since", since), ("until", until)):
            if value is not None:
                check_int(field_name, value, minimum=0)
        name, version = (None, None) if model is None else _model_filter(model)
        with self.db.read() as conn:
            self.projects.require_in(conn, project)
            rows = store.segment_rows(
                conn,
                project,
                kind,
                model=name,
                version=version,
                deployment=None if deployment is None else check_deployment("deployment", deployment),
                role=None if role is None else check_role("role", role),
                since=since,
                until=until,
                limit=limit,
            )
        return [Segment.from_dict(dict(row)) for row in rows]

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection that reads the blob store's files (an S3 store's through its own
        fsspec filesystem: no DuckDB extension is fetched at run time)."""
        import duckdb

        connection = duckdb.connect()
        if self.blobs.filesystem is not None:
            connection.register_filesystem(self.blobs.filesystem)
        return connection

    def relation(
        self, connection: duckdb.DuckDBPyConnection, found: builtins.list[Segment]
    ) -> duckdb.DuckDBPyRelation | None:
        """The rows of `found` as one relation (columns unified by name; a column a segment lacks
        is null there), or None when there are none."""
        if not found:
            return None
        paths = [self.blobs.readable_at(segment.digest)[1] for segment in found]
        return connection.read_parquet(paths, union_by_name=True)

    def read(
        self,
        kind: str,
        *,
        model: str | None = None,
        deployment: str | None = None,
        role: str | None = None,
        since: int | None = None,
        until: int | None = None,
        project: str = DEFAULT_PROJECT,
        limit: int = MAX_ROWS_READ,
    ) -> pa.Table:
        """The logged rows of `kind` made from `since` to before `until`, oldest first (empty
        when none): what `segments` finds, read through DuckDB."""
        import pyarrow as pa
        import pyarrow.compute as pc

        check_int("limit", limit, minimum=1, maximum=MAX_ROWS_READ)
        found = self.segments(
            kind, model=model, deployment=deployment, role=role, since=since, until=until, project=project
        )
        connection = self.connect()
        try:
            relation = self.relation(connection, found)
            if relation is None:
                return pa.table({})
            conditions = [f"{TS_COLUMN} >= {int(since)}"] if since is not None else []
            conditions += [f"{TS_COLUMN} < {int(until)}"] if until is not None else []
            if conditions:
                relation = relation.filter(" AND ".join(conditions))
            # DuckDB keeps the segments' order and each one's row order in a plain scan; a stable
            # sort by time then keeps rows of the same millisecond in the order they were logged.
            table = relation.to_arrow_table()
            return table.take(pc.sort_indices(table, [(TS_COLUMN, "ascending")])).slice(0, limit)
        finally:
            connection.close()

    def referenced_blobs(self) -> builtins.list[str]:
        with self.db.read() as conn:
            return [*store.referenced_digests(conn), *store.monitor_digests(conn)]


def _model_filter(model: str) -> tuple[str, int | None]:
    name, version, alias = parse_model_ref("model", model)
    if alias is not None:
        raise InvalidParameter("model", f"must be NAME or NAME/VERSION here, not an alias: got {model!r}")
    return name, version

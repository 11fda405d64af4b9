"""Monitoring: the rules, once. The SDK (embedded and through the routes) calls these.

log(kind, table, model=, deployment=, role=, batch=)   store a batch of predictions, labels or
                                                      outcomes as Parquet segments, one a UTC day
segments(kind, model=, ..., since=, until=)           the index: which segments hold what
read(kind, model=, ..., since=, until=)               the rows, through DuckDB, as an Arrow table
connect() / relation(kind, ...)                        a DuckDB connection and a relation over the
                                                      segments, for monitors and whoever queries

A prediction records the model version that answered: an alias is resolved when the batch is
stored. A batch carries the logger's id; sent again (an answer lost on the way back), it is
stored once.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING

from plimsoll.core.capability import Parts
from plimsoll.core.changes import changing
from plimsoll.core.errors import InvalidParameter
from plimsoll.core.ids import new_id, now_ms
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_int, check_name
from plimsoll.model_registry.entities import check_model_name, parse_model_ref
from plimsoll.monitoring import store
from plimsoll.monitoring.entities import (
    MAX_SEGMENTS_LISTED,
    TS_COLUMN,
    Logged,
    Segment,
    check_batch_id,
    check_deployment,
    check_kind,
    check_role,
)

if TYPE_CHECKING:  # the platform starts without them: imported when rows are logged or read
    import duckdb
    import pyarrow as pa

MAX_ROWS_READ = 10_000_000


class MonitoringService:
    def __init__(self, parts: Parts) -> None:
        self.db = parts.db
        self.events = parts.events
        self.projects = parts.projects
        self.blobs = parts.blobs
        self.registry = parts.services["model_registry"]

    # -- logging ----------------------------------------------------------------------------------

    def log(
        self,
        kind: str,
        table: pa.Table,
        *,
        model: str | None = None,
        deployment: str = "",
        role: str = "",
        batch: str | None = None,
        project: str = DEFAULT_PROJECT,
        actor: str,
    ) -> Logged:
        """Store `table` (checked as a `kind` table: `tables.check_table`). Predictions name the
        model version that made them (`NAME/VERSION`, or `NAME@ALIAS`, resolved now); labels and
        outcomes may name the model (`NAME`) they are for, or none (the project's)."""
        import pyarrow.compute as pc

        from plimsoll.monitoring.tables import check_table, split_by_day, to_parquet

        check_name("project", project)
        kind = check_kind("kind", kind)
        deployment = check_deployment("deployment", deployment)
        role = check_role("role", role)
        batch = new_id() if batch is None else check_batch_id("batch", batch)
        if role and not deployment:
            raise InvalidParameter("role", "names a deployment's role, but no deployment is named")
        table = check_table(kind, table)
        name, version = self._model(kind, model, project)
        with self.db.read() as conn:
            stored = store.batch_segments(conn, project, batch)
        if stored:
            return Logged(
                kind,
                sum(int(r["rows"]) for r in stored),
                name or None,
                version or None,
                tuple(r["id"] for r in stored),
                duplicate=True,
            )
        # The blobs first: a segment the index does not name yet is garbage collection's only after
        # its grace period, so a crash between the two loses nothing that was acknowledged.
        days = [(day, rows, to_parquet(rows)) for day, rows in split_by_day(table)]
        written = []
        for part, (day, rows, content) in enumerate(days):
            times = rows.column(TS_COLUMN)
            written.append(
                {
                    "id": new_id(),
                    "project": project,
                    "kind": kind,
                    "model": name,
                    "version": version,
                    "deployment": deployment,
                    "role": role,
                    "day": day,
                    "digest": self.blobs.put_bytes(content).digest,
                    "rows": rows.num_rows,
                    "bytes": len(content),
                    "min_ts": int(pc.min(times).as_py()),
                    "max_ts": int(pc.max(times).as_py()),
                    "batch": batch,
                    "part": part,
                    "created_at": now_ms(),
                }
            )
        with changing(self.db, self.events, actor) as change:
            self.projects.require_in(change.conn, project)
            inserted = [store.insert_segment(change.conn, row) for row in written]
        return Logged(
            kind,
            table.num_rows,
            name or None,
            version or None,
            tuple(row["id"] for row, new in zip(written, inserted, strict=True) if new),
            duplicate=not any(inserted),
        )

    def _model(self, kind: str, model: str | None, project: str) -> tuple[str, int]:
        """The model name and version rows are stored under: ("", 0) for a project's labels."""
        if kind == "predictions":
            if model is None:
                raise InvalidParameter(
                    "model", "is required: the version that made the predictions, NAME/VERSION or NAME@ALIAS"
                )
            found = self.registry.get_version(model, project=project)
            return found.name, found.version
        if model is None or model == "":
            return "", 0
        name = check_model_name("model", model)
        self.registry.get_model(name, project=project)
        return name, 0

    # -- reading ----------------------------------------------------------------------------------

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
            return store.referenced_digests(conn)


def _model_filter(model: str) -> tuple[str, int | None]:
    name, version, alias = parse_model_ref("model", model)
    if alias is not None:
        raise InvalidParameter("model", f"must be NAME or NAME/VERSION here, not an alias: got {model!r}")
    return name, version

"""Logging: a batch of predictions, labels or outcomes stored as Parquet segments, one a UTC day.

A prediction records the model version that answered: an alias is resolved when the batch is
stored. A batch carries the logger's id; sent again (an answer lost on the way back), it is
stored once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from plimsoll.core.changes import changing
from plimsoll.core.errors import InvalidParameter
from plimsoll.core.ids import new_id, now_ms
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_name
from plimsoll.model_registry.entities import check_model_name
from plimsoll.monitoring import store
from plimsoll.monitoring.entities import (
    TS_COLUMN,
    Logged,
    check_batch_id,
    check_deployment,
    check_kind,
    check_role,
)
from plimsoll.monitoring.service.base import ServiceBase

if TYPE_CHECKING:  # the platform starts without it: imported when rows are logged
    import pyarrow as pa


class LoggingOps(ServiceBase):
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

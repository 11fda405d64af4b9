"""A batch of writes, and its writes as JSON: what the HTTP transport sends and a spool keeps."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from plimsoll.core.validation import check_float
from plimsoll.tracking.entities import (
    MetricColumns,
    RunCreate,
    RunEnd,
    RunWrites,
    encode_float,
    parse_run_status,
)


def writes_to_json(writes: RunWrites) -> dict[str, Any]:
    body: dict[str, Any] = {"run_id": writes.run_id}
    if writes.create is not None:
        body["create"] = {
            "experiment_id": writes.create.experiment_id,
            "name": writes.create.name,
            "parent_run_id": writes.create.parent_run_id,
            "start_time": writes.create.start_time,
        }
        if writes.create.user is not None:
            body["create"]["user"] = writes.create.user
    if writes.params:
        body["params"] = writes.params
    if writes.tags:
        body["tags"] = writes.tags
    if writes.metrics:
        columns = writes.metrics
        values = columns.values
        body["metrics"] = {
            "keys": columns.keys,
            "values": values if all(map(math.isfinite, values)) else [encode_float(v) for v in values],
            "steps": columns.steps,
            "timestamps": columns.timestamps,
        }
    if writes.end is not None:
        body["end"] = {"status": writes.end.status.value, "end_time": writes.end.end_time}
    return body


def writes_from_json(body: dict[str, Any]) -> RunWrites:
    create, metrics, end = body.get("create"), body.get("metrics"), body.get("end")
    columns = MetricColumns()
    if metrics:
        values = [check_float("metrics.value", v) for v in metrics["values"]]
        columns = MetricColumns(
            list(metrics["keys"]), values, list(metrics["steps"]), list(metrics["timestamps"])
        )
    return RunWrites(
        run_id=body["run_id"],
        create=None if create is None else RunCreate(**create),
        params=dict(body.get("params") or {}),
        tags=dict(body.get("tags") or {}),
        metrics=columns,
        end=None if end is None else RunEnd(parse_run_status(end["status"]), end["end_time"]),
    )


@dataclass
class Upload:
    """An artifact to upload once its run's writes before it are acknowledged. A file is read when
    sent (and copied into the spool if it has to wait for another process)."""

    run_id: str
    path: str
    source: bytes | Path
    done: bool = False
    spool_name: str | None = None  # its copy's name in a spool, once it has one


@dataclass
class Batch:
    """Writes sent together under one id, and how far sending them got: kept until the server
    has acknowledged every part, so that a retry resumes instead of starting over."""

    id: str
    writes: list[RunWrites] = field(default_factory=list)
    uploads: list[Upload] = field(default_factory=list)
    first_seq: int = 0  # the oldest submission it carries: flushes wait for it
    ingested: bool = False  # the writes are acknowledged; only uploads may remain
    refused: bool = False  # refused whole once: sent run by run from then on
    done: set[str] = field(default_factory=set)  # ids of the pieces acknowledged
    adopted: bool = False  # from another process's spool: its failures are logged, not raised
    server_errors: dict[str, int] = field(default_factory=dict)  # rounds of 5xx, by piece id

    @property
    def metrics(self) -> int:
        return sum(len(writes.metrics) for writes in self.writes)

    def to_json(self, file_of: Callable[[Upload], str]) -> dict[str, Any]:
        return {
            "id": self.id,
            "writes": [writes_to_json(w) for w in self.writes],
            "uploads": [
                {"run_id": u.run_id, "path": u.path, "file": file_of(u)} for u in self.uploads if not u.done
            ],
            "ingested": self.ingested,
            "refused": self.refused,
            "done": sorted(self.done),
        }

    @classmethod
    def from_json(cls, body: dict[str, Any], files: Path) -> Batch:
        return cls(
            id=body["id"],
            writes=[writes_from_json(w) for w in body["writes"]],
            uploads=[
                Upload(u["run_id"], u["path"], files / u["file"], spool_name=u["file"])
                for u in body["uploads"]
            ],
            ingested=bool(body["ingested"]),
            refused=bool(body["refused"]),
            done=set(body["done"]),
            adopted=True,
        )

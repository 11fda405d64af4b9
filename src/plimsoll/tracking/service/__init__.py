"""Tracking operations: the rules live here, once. Routes, the SDK and the CLI all call these.

experiments   create, find by id or name, list, rename, delete, restore
runs          create, read, end, delete, restore; the SDK's write batches (ingest); search
ingest        applying a batch in phases across its runs
history       metric histories, whole or downsampled
ids           short ids (the last digits) resolved to whole ids
artifacts     files of a run in the blob store
"""

from __future__ import annotations

from plimsoll.tracking.entities import parse_run_status
from plimsoll.tracking.service.artifacts import ArtifactOps
from plimsoll.tracking.service.base import check_run_id
from plimsoll.tracking.service.experiments import ExperimentOps
from plimsoll.tracking.service.history import MAX_HISTORY_POINTS, HistoryOps
from plimsoll.tracking.service.ids import IdOps
from plimsoll.tracking.service.runs import MAX_SEARCH_RESULTS, IngestResult, RunOps


class TrackingService(ExperimentOps, RunOps, HistoryOps, ArtifactOps, IdOps):
    """Experiments, runs, metrics and artifacts; built by the platform from its `Parts`."""


__all__ = [
    "MAX_HISTORY_POINTS",
    "MAX_SEARCH_RESULTS",
    "IngestResult",
    "TrackingService",
    "check_run_id",
    "parse_run_status",
]

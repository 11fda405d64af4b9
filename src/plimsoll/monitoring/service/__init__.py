"""Monitoring: the rules, once. The SDK (embedded and through the routes) calls these.

log(kind, table, model=, deployment=, role=, batch=)   store a batch of predictions, labels or
                                                      outcomes as Parquet segments, one a UTC day
segments(kind, model=, ..., since=, until=)           the index: which segments hold what
read(kind, model=, ..., since=, until=)               the rows, through DuckDB, as an Arrow table
connect() / relation(kind, ...)                        a DuckDB connection and a relation over the
                                                      segments, for monitors and whoever queries
record_scoring(scoring, actor=)                        a batch scoring the SDK ran (the server never
                                                      loads a model): its versions checked, its
                                                      output linked in the lineage graph, audited

base       the service's parts
logging    log: batches stored as segments, idempotent by the logger's batch id
reading    segments, connect, relation, read
traffic    alias_rows, labels_for, outcomes_for: what an alias served, and its labels
monitors   create_monitor, get_monitor, list_monitors, set_rules, delete_monitor; the reference
           profiled once
checking   run_monitor, backfill, check, windows, merged, tick: windows computed, stored and
           published as `monitor.checked`; labels arriving late; stale monitors
distributions  feature_distribution: a column's histogram, reference against a window (or a
           stretch of windows merged), from stored summaries alone (the monitor page's)
scoring    record_scoring
"""

from __future__ import annotations

from plimsoll.monitoring.service.checking import LatestOps, MonitorCheck
from plimsoll.monitoring.service.distributions import DistributionOps
from plimsoll.monitoring.service.logging import LoggingOps
from plimsoll.monitoring.service.reading import MAX_ROWS_READ
from plimsoll.monitoring.service.scoring import ScoringOps


class MonitoringService(LoggingOps, LatestOps, DistributionOps, ScoringOps):
    """Prediction, label and outcome logs, the monitors that read them, and batch scorings'
    records; built by the platform from its `Parts`."""


__all__ = ["MAX_ROWS_READ", "MonitorCheck", "MonitoringService"]

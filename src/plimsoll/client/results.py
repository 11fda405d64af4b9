"""What `search_runs` returns: a list of runs that also turns into a pandas DataFrame."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from plimsoll.tracking.entities import Run

if TYPE_CHECKING:
    import pandas as pd

FIXED_COLUMNS = ("run_id", "experiment_id", "run_name", "status", "start_time", "end_time")


class RunList(list[Run]):
    """A plain list of `Run`s (index it, loop over it, compare it to a list), plus `to_pandas()`."""

    def to_pandas(self) -> pd.DataFrame:
        """One row per run, in this list's order, in MLflow's `search_runs` layout: `run_id`,
        `experiment_id`, `run_name`, `status`, `start_time` and `end_time` (UTC datetimes; NaT
        while running), then `params.<key>` (text), `metrics.<key>` (the latest value, a float)
        and `tags.<key>` (text), each group sorted by key; a run without a key has None (NaN for a
        metric) there. Also `experiment`, `project`, `user`, `parent_run_id` and `lifecycle_stage`
        after the fixed columns."""
        import pandas as pd

        params = sorted({key for run in self for key in run.params})
        metrics = sorted({key for run in self for key in run.metrics})
        tags = sorted({key for run in self for key in run.tags})
        columns: dict[str, list[Any]] = {
            "run_id": [run.id for run in self],
            "experiment_id": [run.experiment_id for run in self],
            "run_name": [run.name for run in self],
            "status": [run.status for run in self],
            "start_time": pd.to_datetime([run.start_time for run in self], unit="ms", utc=True),
            "end_time": pd.to_datetime([run.end_time for run in self], unit="ms", utc=True),
            "experiment": [run.experiment for run in self],
            "project": [run.project for run in self],
            "user": [run.user for run in self],
            "parent_run_id": [run.parent_run_id for run in self],
            "lifecycle_stage": [run.lifecycle_stage for run in self],
        }
        for key in params:
            columns[f"params.{key}"] = [run.params.get(key) for run in self]
        for key in metrics:
            columns[f"metrics.{key}"] = [run.metrics.get(key, float("nan")) for run in self]
        for key in tags:
            columns[f"tags.{key}"] = [run.tags.get(key) for run in self]
        frame = pd.DataFrame(columns, index=pd.RangeIndex(len(self)))
        for key in metrics:
            frame[f"metrics.{key}"] = frame[f"metrics.{key}"].astype("float64")
        return frame

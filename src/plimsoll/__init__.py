"""Plimsoll: a self-hosted MLOps platform.

    import plimsoll as pl

    with pl.start_run(experiment="churn") as run:
        run.log_params({"lr": 0.01})
        run.log_metric("loss", 0.3, step=1)

Without PLIMSOLL_URL the SDK works embedded on ./.plimsoll (SQLite and a local blob folder);
with it, over HTTP to that server. Both go through the same services and give the same results.
"""

from __future__ import annotations

import threading
from typing import Any

from plimsoll._version import __version__
from plimsoll.client import ActiveRun, Client, RunList
from plimsoll.evaluation.entities import Evaluation
from plimsoll.monitoring.entities import Scoring
from plimsoll.tracking.entities import MetricHistory, Run

_default_client: Client | None = None
_default_lock = threading.Lock()


def default_client() -> Client:
    """The default `Client`, made on first use from the environment."""
    global _default_client
    with _default_lock:
        if _default_client is None:
            _default_client = Client()
        return _default_client


def set_default_client(new: Client | None) -> None:
    """Use `new` (a `plimsoll.Client`) for the module-level functions from now on."""
    global _default_client
    with _default_lock:
        _default_client = new


def start_run(experiment: str = "default", **kwargs: Any) -> ActiveRun:
    return default_client().start_run(experiment, **kwargs)


def active_run() -> ActiveRun | None:
    return default_client().active_run()


def get_run(run_id: str) -> Run:
    return default_client().get_run(run_id)


def search_runs(experiment: str | list[str] | None = None, **kwargs: Any) -> RunList:
    return default_client().search_runs(experiment, **kwargs)


def delete_run(run_id: str) -> Run:
    return default_client().delete_run(run_id)


def restore_run(run_id: str) -> Run:
    return default_client().restore_run(run_id)


def resume_run(run_id: str, **kwargs: Any) -> ActiveRun:
    return default_client().resume_run(run_id, **kwargs)


def get_metric_history(run_id: str, key: str, **kwargs: Any) -> MetricHistory:
    return default_client().get_metric_history(run_id, key, **kwargs)


def evaluate(predictor: Any, data: Any, /, **kwargs: Any) -> Evaluation:
    """Evaluate a model where the data is and store the result (`Client.evaluations.evaluate`):
    `pl.evaluate(model, frame, task="classification", target="label", sensitive=["gender"],
    slices=["region"], model="churn/3", dataset="customers@7")`."""
    return default_client().evaluate(predictor, data, **kwargs)


def log_predictions(model: str, features: Any, predictions: Any, **kwargs: Any) -> Any:
    """Log what a model was given and answered (`Client.log_predictions`): `pl.log_predictions(
    "churn@production", features, predictions, scores=proba)`; answers the rows' ids."""
    return default_client().log_predictions(model, features, predictions, **kwargs)


def log_labels(ids: Any, labels: Any, **kwargs: Any) -> None:
    default_client().log_labels(ids, labels, **kwargs)


def log_outcomes(ids: Any, outcomes: Any, **kwargs: Any) -> None:
    default_client().log_outcomes(ids, outcomes, **kwargs)


def score(model: str, dataset: str, **kwargs: Any) -> Scoring:
    """Predict a whole dataset version with a registered model, write the predictions as a dataset
    version linked in the lineage graph, and log them as the model's predictions
    (`Client.monitoring.score`): `pl.score("churn@production", "customers@7", id_column="id")`."""
    return default_client().score(model, dataset, **kwargs)


def flush(timeout: float | None = None) -> None:
    default_client().flush(timeout)


def __getattr__(name: str) -> Any:
    if name == "datasets":  # the default client's: `pl.datasets.register("churn", "data/")`
        return default_client().datasets
    if name == "registry":  # the default client's: `pl.registry.get("churn@production")`
        return default_client().registry
    if name == "monitors":  # the default client's: `pl.monitors.check("churn-prod")`
        return default_client().monitors
    if name == "evaluations":  # the default client's: `pl.evaluations.compare(a, b)`
        return default_client().evaluations
    if name == "features":  # the default client's: `pl.features.register("ratio", ratio, ...)`
        return default_client().features
    if name == "stats":
        import importlib

        return importlib.import_module("plimsoll.stats")
    raise AttributeError(f"module 'plimsoll' has no attribute {name!r}")


__all__ = [
    "ActiveRun",
    "Client",
    "__version__",
    "active_run",
    "default_client",
    "delete_run",
    "evaluate",
    "flush",
    "get_metric_history",
    "get_run",
    "log_labels",
    "log_outcomes",
    "log_predictions",
    "restore_run",
    "resume_run",
    "score",
    "search_runs",
    "set_default_client",
    "start_run",
]

"""`client.evaluations` (and `pl.evaluate`): evaluate a model where the data is, store the result,
read it back, compare champion and challenger; embedded or remote.

    evaluation = pl.evaluate(model, frame, task="classification", target="churned",
                             sensitive=["gender"], slices=["region"], model="churn/3",
                             dataset="customers@7")
    evaluation.metrics["roc_auc"], evaluation.fairness["gender"].metrics
    pl.default_client().evaluations.compare(champion.id, challenger.id).challenger_wins

The model is anything with `.predict` (and, for classification scores, `.predict_proba`), such as
a scikit-learn estimator, or a function of the feature frame returning predictions (for
classification, the positive class's probability). The metrics are computed here, with the
kernels of `plimsoll.evaluation.metrics`; only the result is sent.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import printable
from plimsoll.evaluation.entities import (
    DEFAULT_EVALUATIONS_LISTED,
    Comparison,
    Cost,
    Evaluation,
    Latency,
    check_task,
)

if TYPE_CHECKING:
    from plimsoll.client.client import Client

MeasureOr = Any  # None, True (measure it here), or the record itself (given: a test injects it)


class Evaluations:
    """Evaluations through a `Client`: `evaluate`, `get`, `list`, `compare`."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def __repr__(self) -> str:
        return f"<plimsoll evaluations of {self._client.url}>"

    def evaluate(
        self,
        predictor: Any,
        data: Any,
        /,
        *,
        task: str,
        target: str,
        features: Sequence[str] | None = None,
        sensitive: Sequence[str] | str | None = None,
        slices: Sequence[str] | str | None = None,
        model: str | None = None,
        dataset: str | None = None,
        latency: MeasureOr = None,
        cost: MeasureOr = None,
        price_per_1000: float | None = None,
        price_per_cpu_hour: float | None = None,
        pos_label: Any = None,
        threshold: float = 0.5,
        min_group_size: int = 30,
        resamples: int = 200,
        confidence: float = 0.95,
        seed: int = 0,
        description: str = "",
        project: str = DEFAULT_PROJECT,
    ) -> Evaluation:
        """Evaluate `predictor` on `data` (a pandas or polars DataFrame, or an Arrow table) whose
        `target` column holds the truth, store the evaluation and return it.

        The predictor gets the `features` columns (default: every column but the target; name them
        when slice or sensitive columns are not the model's inputs). `slices` and `sensitive` name
        columns of `data`: metrics per value of each slice column; for classification, fairness
        per sensitive feature (groups under `min_group_size` rows reported, not used; bootstrap
        intervals of `resamples` draws at `confidence`, seeded by `seed`). `model`
        (`NAME/VERSION` or `NAME@ALIAS`) and `dataset` (`NAME@VERSION`) link the evaluation in the
        lineage graph. `latency` and `cost`: True to measure them here, or a `Latency` / `Cost`
        (what a test injects); a price per 1,000 predictions is `price_per_1000`, or follows from
        `price_per_cpu_hour` and the CPU-seconds measured."""
        from plimsoll.evaluation.compute import evaluate_arrays
        from plimsoll.evaluation.measure import measure_latency, model_bytes, priced

        task = check_task("task", task)
        frame = _frame(data)
        columns = [str(c) for c in frame.columns]
        slice_columns = _columns("slices", slices, columns)
        sensitive_columns = _columns("sensitive", sensitive, columns)
        if target not in columns:
            raise InvalidParameter("target", f"{printable(target)!r} is not a column of data: {columns[:20]}")
        inputs = _columns("features", features, columns) if features is not None else None
        if inputs is None:
            inputs = [c for c in columns if c != target]
        elif target in inputs:
            raise InvalidParameter("features", f"names the target {target!r}: the model must not see it")
        if not inputs:
            raise InvalidParameter("features", "is empty: the model needs at least one input column")
        X = frame[inputs]
        predict, predict_proba = _predictors(predictor, task)
        began = time.process_time()
        y_score = None
        if predict_proba is not None:
            y_score = _positive_column(predict_proba(X), predictor, pos_label)
        y_pred = predict(X) if predict is not None else None
        cpu_seconds = time.process_time() - began
        new = evaluate_arrays(
            task,
            frame[target].to_numpy(),
            y_pred=None if y_pred is None else np.asarray(y_pred),
            y_score=y_score,
            slices={c: frame[c].to_numpy() for c in slice_columns},
            sensitive={c: frame[c].to_numpy() for c in sensitive_columns},
            pos_label=pos_label,
            threshold=threshold,
            min_group_size=min_group_size,
            resamples=resamples,
            confidence=confidence,
            seed=seed,
        )
        measured_latency = _latency(latency, lambda rows: _call(predictor, task, rows), X, measure_latency)
        if cost is True:
            measured_cost: Cost | None = Cost(model_bytes(predictor), cpu_seconds, len(frame))
        elif cost is None or isinstance(cost, Cost):
            measured_cost = cost
        else:
            raise InvalidParameter(
                "cost", f"must be True (measure it), a Cost or None, got {type(cost).__name__}"
            )
        if price_per_1000 is not None or price_per_cpu_hour is not None:
            measured_cost = priced(
                measured_cost or Cost(), price_per_1000=price_per_1000, price_per_cpu_hour=price_per_cpu_hour
            )
        from dataclasses import replace

        new = replace(
            new,
            project=project,
            model=model,
            dataset=dataset,
            latency=measured_latency,
            cost=measured_cost,
            description=description,
        )
        return self._client._transport.evaluation_record(new)

    def get(self, evaluation_id: str, *, project: str = DEFAULT_PROJECT) -> Evaluation:
        return self._client._transport.evaluation_get(project, evaluation_id)

    def list(
        self,
        *,
        model: str | None = None,
        dataset: str | None = None,
        limit: int = DEFAULT_EVALUATIONS_LISTED,
        project: str = DEFAULT_PROJECT,
    ) -> builtins.list[Evaluation]:
        """The project's evaluations, newest first: of `model` (`NAME`, or `NAME/VERSION`) and of
        `dataset` (`NAME@VERSION`, or `NAME` for its latest) if given."""
        return self._client._transport.evaluation_list(project, model, dataset, limit)

    def compare(
        self, champion: str | Evaluation, challenger: str | Evaluation, *, project: str = DEFAULT_PROJECT
    ) -> Comparison:
        """Champion against challenger, evaluated on the same data (Conflict otherwise): every
        number both hold, the challenger's change, and the side each favours."""
        return self._client._transport.evaluation_compare(project, _id(champion), _id(challenger))


def _id(value: str | Evaluation) -> str:
    return value.id if isinstance(value, Evaluation) else value


def _frame(data: Any) -> Any:
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if hasattr(data, "to_pandas"):  # polars and Arrow
        return data.to_pandas()
    raise InvalidParameter(
        "data", f"must be a pandas or polars DataFrame or an Arrow table, got {type(data).__name__}"
    )


def _columns(field: str, names: Sequence[str] | str | None, columns: list[str]) -> list[str]:
    if names is None:
        return []
    wanted = [names] if isinstance(names, str) else list(names)
    for name in wanted:
        if name not in columns:
            raise InvalidParameter(field, f"{printable(name)!r} is not a column of data: {columns[:20]}")
    return wanted


def _predictors(model: Any, task: str) -> tuple[Callable[[Any], Any] | None, Callable[[Any], Any] | None]:
    """What gives the predictions and (for classification) the scores."""
    predict = getattr(model, "predict", None)
    proba = getattr(model, "predict_proba", None) if task == "classification" else None
    if callable(predict) or callable(proba):
        return (predict if callable(predict) else None), (proba if callable(proba) else None)
    if callable(model):
        # A function: the positive class's probability for classification, the values for regression.
        return (None, model) if task == "classification" else (model, None)
    raise InvalidParameter(
        "model", f"must have .predict (or .predict_proba), or be a function; got {type(model).__name__}"
    )


def _positive_column(scores: Any, model: Any, pos_label: Any) -> Any:
    array = np.asarray(scores, dtype=np.float64)
    if array.ndim == 2 and array.shape[1] == 2:
        classes = getattr(model, "classes_", None)
        if pos_label is not None and classes is not None and pos_label in list(classes):
            return array[:, list(classes).index(pos_label)]
        return array[:, 1]
    return array


def _call(model: Any, task: str, rows: Any) -> Any:
    predict, proba = _predictors(model, task)
    return (proba or predict)(rows)  # type: ignore[misc]


def _latency(
    given: Any, predict: Callable[[Any], Any], rows: Any, measure: Callable[..., Latency]
) -> Latency | None:
    if given is None or isinstance(given, Latency):
        return given
    if given is True:
        return measure(predict, rows)
    raise InvalidParameter(
        "latency", f"must be True (measure it), a Latency or None, got {type(given).__name__}"
    )

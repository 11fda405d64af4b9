"""Batch scoring's work, chunk by chunk, without I/O: which columns a model takes from a dataset,
the ids of its rows, the model's answers and scores, the rows of the output dataset, and the
batch ids that make a scoring run again log nothing twice.

The SDK runs it where the model is loaded (`client.monitoring.score`); the server never loads a
model (docs/security.md, "Loading models"). A model here is anything with `predict` and, for a
classifier's scores, `predict_proba`: a `LoadedModel` from the registry, which checks each chunk
against the version's signature first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from blake3 import blake3

from plimsoll.core.errors import InvalidParameter, PlimsollError
from plimsoll.core.validation import printable
from plimsoll.monitoring.entities import (
    MAX_ID_LENGTH,
    OUTPUT_ID,
    OUTPUT_MODEL,
    OUTPUT_PREDICTION,
    OUTPUT_SCORE,
)

if TYPE_CHECKING:
    from plimsoll.model_registry.entities import Signature

MAX_OUTPUT_NAME = 200  # a dataset's name (data.entities.MAX_DATASET_NAME_LENGTH)
_ROW_DIGITS = 20  # '-' and a row number up to 10**19


def default_output(dataset: str, model: str) -> str:
    """The output dataset's name when none is given: `<dataset>-scored-by-<model>` (names only)."""
    name = f"{dataset}-scored-by-{model}"
    if len(name) > MAX_OUTPUT_NAME:
        raise InvalidParameter(
            "output",
            f"the default name {name[:60]!r}... is {len(name)} characters long, over a dataset "
            f"name's limit of {MAX_OUTPUT_NAME}: name the output dataset",
        )
    return name


def features_for(
    signature: Signature | None,
    columns: Sequence[str],
    *,
    features: Sequence[str] | None,
    id_column: str | None,
    model: str,
    dataset: str,
) -> list[str]:
    """The dataset's columns given to the model, in the order it takes them: `features` if named,
    else the signature's inputs (by name), else every column but the id column. A column the
    model needs that the dataset lacks is refused, all of them named at once."""
    if isinstance(features, str):
        features = [features]
    if features is not None:
        chosen = [str(name) for name in features]
        if not chosen:
            raise InvalidParameter("features", "is empty: name the columns the model takes")
        if len(set(chosen)) != len(chosen):
            raise InvalidParameter("features", "names a column twice")
        field = "features"
    elif signature is not None and signature.layout == "array":
        raise InvalidParameter(
            "features",
            f"{model} takes an array by position (its signature names columns '0', '1', ...): name "
            f"the {len(signature.inputs)} columns of {dataset} to give it, in order",
        )
    elif signature is not None:
        chosen, field = [column.name for column in signature.inputs], "dataset"
    else:
        chosen, field = [name for name in columns if name != id_column], "dataset"
        if not chosen:
            raise InvalidParameter("dataset", f"{dataset} has no column but the id column {id_column!r}")
    present = set(columns)
    missing = [name for name in chosen if name not in present]
    if missing:
        shown = ", ".join(repr(name) for name in missing[:20]) + (" ..." if len(missing) > 20 else "")
        whose = "the features named" if field == "features" else f"the signature of {model}"
        raise InvalidParameter(
            field,
            f"{dataset} lacks {len(missing)} column{'s' if len(missing) != 1 else ''} that {model} "
            f"takes ({whose}): {shown}",
        )
    return chosen


def batch_key(
    project: str,
    model: str,
    dataset: str,
    *,
    id_column: str | None,
    features: Sequence[str],
    batch_size: int,
) -> str:
    """What names a scoring's log batches: the same scoring (model version, dataset version, ids,
    features, batch size) gives the same key, so its batches are stored once however often it
    runs. The output's name is not part of it: the predictions are the same."""
    text = "\0".join([project, model, dataset, id_column or "", "\x1f".join(features), str(batch_size)])
    return blake3(text.encode()).hexdigest()[:40]


def batch_id(key: str, chunk: int, part: int) -> str:
    """A log batch's id (at most 64 letters, digits, '_' or '-')."""
    return f"s{key}-{chunk}-{part}"


def row_ids(
    dataset: str, start: int, rows: int, ids: pa.ChunkedArray | pa.Array | None, id_column: str | None
) -> pa.Array:
    """The ids of rows `start` to `start + rows` of `dataset` (NAME@VERSION): its `id_column`'s
    values as text (none missing, none longer than MAX_ID_LENGTH, none repeated within the
    chunk), or `NAME@VERSION-ROW`, the same every time the version is scored (a long name is
    replaced by its digest)."""
    if ids is None or id_column is None:
        prefix = (
            dataset
            if len(dataset) <= MAX_ID_LENGTH - _ROW_DIGITS
            else blake3(dataset.encode()).hexdigest()[:32]
        )
        numbers = pc.cast(pa.array(np.arange(start, start + rows, dtype=np.int64)), pa.string())
        joined: pa.Array = pc.binary_join_element_wise(prefix, numbers, "-")
        return joined
    try:
        text = pc.cast(ids, pa.string())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidParameter("id_column", f"column {id_column!r} cannot be read as text: {exc}") from None
    text = text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    where = f"rows {start} to {start + rows - 1} of {dataset}"
    if text.null_count:
        raise InvalidParameter(
            "id_column", f"column {id_column!r} has no value in {text.null_count} of {where}"
        )
    longest = pc.max(pc.utf8_length(text)).as_py()
    if longest is not None and longest > MAX_ID_LENGTH:
        raise InvalidParameter(
            "id_column",
            f"column {id_column!r} holds an id of {longest} characters in {where}; the limit is {MAX_ID_LENGTH}",
        )
    if pc.count_distinct(text).as_py() != len(text):
        counts = pc.value_counts(text)
        repeated = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))[0].as_py()
        raise InvalidParameter(
            "id_column",
            f"column {id_column!r} repeats {printable(repeated)[:80]!r} in {where}: an id names one row",
        )
    return text


@dataclass(frozen=True)
class Predicted:
    """One chunk's answers: a prediction a row; `score` a number a row (a binary classifier's
    positive class's probability, a multi-class one's predicted class's), `scores` what the log
    keeps (the positive class's, or every class's as a row of numbers). None without
    `predict_proba`."""

    predictions: pa.Array
    score: np.ndarray | None
    scores: np.ndarray | None


def predict(model: Any, inputs: Any, rows: int, *, model_ref: str, where: str) -> Predicted:
    """`model`'s answers on `inputs` (a frame or an array of `rows` rows). A refusal of the
    signature's check is passed on; anything else the model raises is said naming the rows."""
    predictions = _call(model.predict, inputs, model_ref, where, "predict")
    answers = np.asarray(predictions)
    if answers.ndim == 2 and answers.shape[1] == 1:
        answers = answers[:, 0]
    if answers.ndim != 1 or len(answers) != rows:
        raise InvalidParameter(
            "model",
            f"{model_ref} answered {answers.shape} for {rows} rows ({where}): batch scoring takes one prediction a row",
        )
    try:
        column = pa.array(answers)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise InvalidParameter(
            "model", f"{model_ref}'s predictions cannot be stored as one column: {exc}"
        ) from None
    try:
        proba = model.predict_proba
    except AttributeError:
        return Predicted(column, None, None)
    scores = np.asarray(_call(proba, inputs, model_ref, where, "predict_proba"), dtype=np.float64)
    if scores.ndim == 2 and scores.shape[1] <= 2:
        scores = scores[:, -1]  # the positive class's (scikit-learn's order: classes_[1])
    if len(scores) != rows or scores.ndim not in (1, 2):
        raise InvalidParameter(
            "model", f"{model_ref}'s predict_proba answered {scores.shape} for {rows} rows ({where})"
        )
    score = scores if scores.ndim == 1 else scores.max(axis=1)
    return Predicted(column, score, scores)


def _call(method: Any, inputs: Any, model_ref: str, where: str, name: str) -> Any:
    try:
        return method(inputs)
    except PlimsollError:
        raise
    except Exception as exc:  # the model's own refusal: said, naming the rows, never a traceback
        raise InvalidParameter(
            "model", f"{model_ref} failed to {name} {where}: {type(exc).__name__}: {exc}"
        ) from None


def output_chunk(ids: pa.Array, predicted: Predicted, model_ref: str) -> pa.Table:
    """The output dataset's rows for one chunk: id, prediction, score (when there is one), model."""
    columns: dict[str, Any] = {OUTPUT_ID: ids, OUTPUT_PREDICTION: predicted.predictions}
    if predicted.score is not None:
        columns[OUTPUT_SCORE] = pa.array(predicted.score, pa.float64())
    columns[OUTPUT_MODEL] = pa.repeat(pa.scalar(model_ref, pa.string()), len(ids))
    return pa.table(columns)

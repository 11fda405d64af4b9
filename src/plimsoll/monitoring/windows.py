"""What one window of traffic says, against its monitor's reference (no I/O; the service reads
the rows and stores what this returns).

`profile_reference` turns the reference rows into a `ReferenceProfile`: the statistics engine's
summary of the watched columns (its bin edges are every window's), the columns' kinds, ranges and
categories (for data quality), a sample for the multivariate test, the scores and labels that
calibrate the label-free performance estimate, the reference's own metrics, and how strongly each
feature moves the model's score (to rank drifted features by their likely effect on performance).

`assess` turns a window's rows into `Findings`: its summary (stored, mergeable), drift, data
quality, performance (realised on labelled rows, estimated without labels), business outcomes,
and the flat monitored values that rules compare (`rules.py` lists them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from plimsoll import stats
from plimsoll.monitoring.entities import ID_COLUMN, LABEL_COLUMN, PREDICTION_COLUMN, SCORE_COLUMN, TS_COLUMN

MIN_LABELS = 30  # realised metrics need at least this many labelled rows
MULTIVARIATE_ROWS = 2_000  # rows of each side the domain classifier sees
MULTIVARIATE_MIN_ROWS = 100
EXAMPLES = 5  # ids shown for each data-quality problem
# The label-free estimate simulates label draws for every score; beyond this many rows a window's
# estimate is made on a random sample of them: at 5,000 rows the chance part of its band (about
# 0.007 for accuracy) is already small beside the calibration's own error, which sampling leaves alone.
ESTIMATE_ROWS = 5_000
HIGHER_IS_BETTER = {
    "accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "roc_auc": True,
    "mae": False,
    "rmse": False,
    "r2": True,
}


@dataclass(frozen=True)
class ReferenceProfile:
    summary: stats.TableSummary  # features, and the prediction (and score) columns when known
    features: tuple[str, ...]
    kinds: dict[str, str]  # "numeric" or "categorical", by feature
    ranges: dict[str, tuple[float, float]]
    categories: dict[str, frozenset[str]]
    sample: pa.Table  # up to MULTIVARIATE_ROWS rows of the numeric features
    scores: np.ndarray | None  # positive-class scores, for calibration
    labels: np.ndarray | None  # 0/1 (classification) or numbers (regression), beside `scores`
    classes: tuple[str, ...]  # a classifier's classes as text, the positive one last
    metrics: dict[str, float]
    impact: dict[str, float]  # |rank correlation| of each numeric feature with the score


@dataclass(frozen=True)
class Findings:
    rows: int
    summary: stats.TableSummary | None
    drift: dict[str, Any]
    quality: dict[str, Any]
    performance: dict[str, Any]
    outcomes: dict[str, Any]
    values: dict[str, float | None]


def profile_reference(
    table: pa.Table, features: Sequence[str], *, target: str, task: str, random_state: int = 0
) -> ReferenceProfile:
    """What every window is compared with; `table` holds the features, and where known the
    predictions (`__prediction`), the scores (`__score`) and the labels (`target`)."""
    watched = [c for c in (*features, PREDICTION_COLUMN, SCORE_COLUMN) if c in table.column_names]
    summary = stats.summarize(table.select(watched))
    kinds = {name: summary.columns[name].kind for name in features}
    ranges: dict[str, tuple[float, float]] = {}
    categories: dict[str, frozenset[str]] = {}
    for name in features:
        column = summary.columns[name]
        if isinstance(column, stats.NumericSummary) and column.minimum is not None:
            ranges[name] = (float(column.minimum), float(column.maximum or column.minimum))
        elif isinstance(column, stats.CategoricalSummary):
            categories[name] = frozenset(str(c) for c in column.categories)
    numeric = [n for n in features if kinds[n] == "numeric"]
    sample = _sample(table.select(numeric), MULTIVARIATE_ROWS, random_state)
    labels_raw = table.column(target) if target and target in table.column_names else None
    classes: tuple[str, ...] = ()
    scores = labels = None
    metrics: dict[str, float] = {}
    if labels_raw is not None:
        if task == "classification":
            classes = tuple(
                sorted(pc.unique(_label_texts(labels_raw)).drop_null().to_pylist(), key=_class_order)
            )
        if PREDICTION_COLUMN in table.column_names:
            metrics = realised_metrics(
                task, labels_raw, table.column(PREDICTION_COLUMN), _scores_of(table), classes
            )
        if task == "classification" and len(classes) == 2 and SCORE_COLUMN in table.column_names:
            known = pc.and_(pc.is_valid(labels_raw), pc.is_valid(table.column(SCORE_COLUMN)))
            kept = table.filter(known)
            scores = _scores_of(kept)
            labels = _class_indices(_label_texts(kept.column(target)), classes)
        elif task == "regression":
            labels = _floats(labels_raw)
    return ReferenceProfile(
        summary,
        tuple(features),
        kinds,
        ranges,
        categories,
        sample,
        scores,
        labels,
        classes,
        metrics,
        _impact(table, numeric),
    )


def assess(
    table: pa.Table,
    reference: ReferenceProfile,
    *,
    task: str,
    alpha: float,
    labels: pa.Table | None = None,
    outcomes: pa.Table | None = None,
    multivariate: bool = False,
    random_state: int = 0,
) -> Findings:
    """One window's findings. `labels` holds the window's predictions' labels (`__id`, `__label`,
    `__ts` of the label), `outcomes` their business outcomes (`__id` and numeric columns)."""
    rows = table.num_rows
    if rows == 0:
        return Findings(0, None, {}, {}, {}, {}, {"rows": 0.0})
    table, quality = _quality(table, reference)
    watched = [c for c in reference.summary.columns if c in table.column_names]
    summary = stats.summarize(table.select(watched), reference=reference.summary)
    drift = _drift(summary, reference, alpha, table if multivariate else None, random_state)
    performance = _performance(table, reference, task, labels)
    outcome_values = _outcomes(table, outcomes)
    values: dict[str, float | None] = {"rows": float(rows)}
    values.update(_drift_values(drift))
    values.update(
        {
            f"quality.{k}": quality[k]
            for k in ("invalid_share", "missing_share", "out_of_range_share", "unseen_share")
        }
    )
    values.update(_performance_values(performance, reference))
    for name, found in outcome_values.items():
        values[f"outcomes.{name}.mean"] = found["mean"]
        values[f"outcomes.{name}.sum"] = found["sum"]
    return Findings(rows, summary, drift, quality, performance, outcome_values, values)


def compare_merged(summary: stats.TableSummary, reference: ReferenceProfile, alpha: float) -> dict[str, Any]:
    """Drift of a merged stretch of windows (a day from its hours), from summaries alone."""
    return _drift(summary, reference, alpha, None, 0)


# -- drift -----------------------------------------------------------------------------------------


def _drift(
    summary: stats.TableSummary, reference: ReferenceProfile, alpha: float, table: pa.Table | None, seed: int
) -> dict[str, Any]:
    features = [f for f in reference.features if f in summary.columns]
    found: dict[str, Any] = {"alpha": alpha, "features": {}, "untested": {}}
    if features:
        report = stats.compare(reference.summary, summary, alpha=alpha, columns=features)
        found.update(
            detected=report.drifted,
            share=report.share_drifted,
            alpha_effective=report.alpha_effective,
            untested=dict(report.untested),
        )
        for result in report.ranked():
            body = result.to_dict()
            body["impact"] = reference.impact.get(result.column)
            found["features"][result.column] = body
        found["ranked"] = [
            r.column
            for r in sorted(
                report.ranked(),
                key=lambda r: (-(r.effect_size if math.isfinite(r.effect_size) else 0.0), r.column),
            )
            if r.drifted
        ]
        found["ranked_by_impact"] = sorted(
            found["ranked"],
            key=lambda c: -(reference.impact.get(c, 0.0) * (found["features"][c]["effect_size"] or 0.0)),
        )
    missing = [f for f in reference.features if f not in summary.columns]
    for name in missing:
        found["untested"][name] = "the column is missing from the window"
    output = (
        SCORE_COLUMN
        if SCORE_COLUMN in summary.columns and SCORE_COLUMN in reference.summary.columns
        else PREDICTION_COLUMN
    )
    if output in summary.columns and output in reference.summary.columns:
        try:
            result = stats.drift_test(
                reference.summary.columns[output], summary.columns[output], alpha=alpha, column=output
            )
            found["prediction"] = result.to_dict()
        except stats.PlimsollStatsError as exc:
            found["prediction"] = {"untested": str(exc)}
    if (
        table is not None
        and len(reference.sample.column_names) >= 1
        and table.num_rows >= MULTIVARIATE_MIN_ROWS
    ):
        current = _sample(table.select(reference.sample.column_names), MULTIVARIATE_ROWS, seed)
        try:
            multivariate = stats.detect_multivariate_drift(
                reference.sample, current, alpha=alpha, random_state=seed
            )
            found["multivariate"] = multivariate.to_dict()
        except stats.PlimsollStatsError as exc:
            found["multivariate"] = {"untested": str(exc)}
    return found


def _drift_values(drift: dict[str, Any]) -> dict[str, float | None]:
    values: dict[str, float | None] = {
        "drift.detected": None if "detected" not in drift else float(drift["detected"]),
        "drift.share": drift.get("share"),
    }
    prediction = drift.get("prediction") or {}
    values["drift.prediction"] = float(prediction["drifted"]) if "drifted" in prediction else None
    multivariate = drift.get("multivariate") or {}
    values["drift.multivariate_auc"] = multivariate.get("auc")
    for name, body in drift.get("features", {}).items():
        values[f"drift.score.{name}"] = body.get("statistic")
    return values


# -- data quality ----------------------------------------------------------------------------------


def _quality(table: pa.Table, reference: ReferenceProfile) -> tuple[pa.Table, dict[str, Any]]:
    """The window's problems, and the table with each watched column in its reference's type
    (a value that is not a number where numbers are expected counts as a type violation and is
    null from here on)."""
    rows = table.num_rows
    ids = table.column(ID_COLUMN)
    invalid = np.zeros(rows, dtype=bool)
    per_column: dict[str, dict[str, Any]] = {}
    cells = missing = outside = numeric_cells = unseen = categorical_cells = 0
    examples: dict[str, list[str]] = {}
    missing_columns = [f for f in reference.features if f not in table.column_names]
    if missing_columns:
        invalid[:] = True
        examples["missing_column"] = ids.slice(0, EXAMPLES).to_pylist()
    for name in reference.features:
        if name not in table.column_names:
            continue
        column = table.column(name)
        kind = reference.kinds[name]
        problems: dict[str, int] = {}
        if kind == "numeric" and not (
            pa.types.is_integer(column.type)
            or pa.types.is_floating(column.type)
            or pa.types.is_boolean(column.type)
        ):
            column, wrong = _as_numbers(column)
            problems["wrong_type"] = int(wrong.sum())
            if wrong.any():
                invalid |= wrong
                examples.setdefault(f"{name}: not a number", _ids_where(ids, wrong))
            table = table.set_column(table.column_names.index(name), name, column)
        nulls = _null_mask(column)
        problems["missing"] = 0 if nulls is None else int(nulls.sum())
        if nulls is not None:
            invalid |= nulls
            examples.setdefault(f"{name}: missing", _ids_where(ids, nulls))
        cells += rows
        missing += problems["missing"]
        if kind == "numeric" and name in reference.ranges:
            low, high = reference.ranges[name]
            out = _outside(column, low, high)
            problems["out_of_range"] = int(out.sum())
            outside += problems["out_of_range"]
            numeric_cells += rows
            if out.any():
                examples.setdefault(f"{name}: outside [{low:g}, {high:g}]", _ids_where(ids, out))
        elif kind == "categorical":
            known = pa.array(sorted(reference.categories.get(name, ())), type=pa.string())
            text = pc.cast(column, pa.string())
            new = np.asarray(pc.fill_null(pc.invert(pc.is_in(text, value_set=known)), False), dtype=bool)
            if nulls is not None:
                new &= ~nulls
            problems["unseen"] = int(new.sum())
            unseen += problems["unseen"]
            categorical_cells += rows
            if new.any():
                labels = sorted({str(v) for v in pc.filter(text, pa.array(new)).to_pylist()[:1000]})
                problems["unseen_labels"] = len(labels)
                examples.setdefault(f"{name}: unseen {', '.join(labels[:3])}", _ids_where(ids, new))
        per_column[name] = problems
    quality = {
        "rows": rows,
        "invalid_rows": int(invalid.sum()),
        "invalid_share": float(invalid.mean()),
        "missing_share": missing / cells if cells else 0.0,
        "out_of_range_share": outside / numeric_cells if numeric_cells else 0.0,
        "unseen_share": unseen / categorical_cells if categorical_cells else 0.0,
        "missing_columns": missing_columns,
        "columns": per_column,
        "examples": examples,
    }
    return table, quality


def _as_numbers(column: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    import pandas as pd

    series = column.to_pandas()
    numbers = pd.to_numeric(series, errors="coerce")
    wrong = np.asarray(series.notna() & numbers.isna())
    return pa.array(numbers.to_numpy(dtype=np.float64), mask=numbers.isna().to_numpy()), wrong


def _null_mask(column: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """Where values are missing (null, or NaN among numbers); None where none is (most windows'
    columns: a mask of a third of a million rows is not made for nothing)."""
    mask = pc.is_null(column, nan_is_null=pa.types.is_floating(column.type))
    if not pc.any(mask).as_py():
        return None
    return np.asarray(mask, dtype=bool)


def _outside(column: pa.Array | pa.ChunkedArray, low: float, high: float) -> np.ndarray:
    """Where numbers fall outside [low, high] (missing ones do not)."""
    numbers = pc.cast(column, pa.float64())
    if numbers.null_count:
        numbers = pc.fill_null(numbers, np.nan)
    values = np.asarray(numbers, dtype=np.float64)
    return (values < low) | (values > high)


def _ids_where(ids: pa.ChunkedArray, mask: np.ndarray) -> list[str]:
    where = np.flatnonzero(mask)[:EXAMPLES]
    return [str(ids[int(i)].as_py()) for i in where]


# -- performance -----------------------------------------------------------------------------------


def _performance(
    table: pa.Table, reference: ReferenceProfile, task: str, labels: pa.Table | None
) -> dict[str, Any]:
    found: dict[str, Any] = {"task": task, "reference": dict(reference.metrics)}
    rows = table.num_rows
    labelled = 0
    if labels is not None and labels.num_rows:
        joined = _join_labels(table, labels)
        labelled = joined.num_rows
        found["labelled"] = labelled
        found["duplicated_labels"] = int(
            labels.num_rows - pc.count_distinct(labels.column(ID_COLUMN)).as_py()
        )
        if labelled:
            lag = pc.subtract(joined.column("__label_ts"), joined.column(TS_COLUMN))
            found["lag_s"] = float(np.median(np.asarray(lag, dtype=np.float64))) / 1000.0
        if labelled >= MIN_LABELS:
            found["realised"] = realised_metrics(
                task,
                joined.column(LABEL_COLUMN),
                joined.column(PREDICTION_COLUMN),
                _scores_of(joined),
                reference.classes,
            )
        else:
            found["realised_note"] = f"{labelled} labelled rows; realised metrics need {MIN_LABELS}"
    found["coverage"] = labelled / rows if rows else None
    found["labelled"] = labelled
    if (
        task == "classification"
        and reference.scores is not None
        and reference.labels is not None
        and SCORE_COLUMN in table.column_names
    ):
        current = _scores_of(table)
        current = current[np.isfinite(current)] if current is not None else None
        if current is not None and len(current) > ESTIMATE_ROWS:
            rng = np.random.default_rng(0)
            current = current[rng.choice(len(current), ESTIMATE_ROWS, replace=False)]
            found["estimated_on"] = ESTIMATE_ROWS
        if current is not None and len(current):
            try:
                estimate = stats.estimate_performance(reference.scores, reference.labels, current)
                found["estimated"] = estimate.to_dict()
            except stats.PlimsollStatsError as exc:
                found["estimated_note"] = str(exc)
    return found


def _performance_values(performance: dict[str, Any], reference: ReferenceProfile) -> dict[str, float | None]:
    values: dict[str, float | None] = {
        "labels.coverage": performance.get("coverage"),
        "labels.lag_s": performance.get("lag_s"),
    }
    for name, value in (performance.get("realised") or {}).items():
        values[f"performance.{name}"] = value
        base = reference.metrics.get(name)
        if base is not None and value is not None:
            values[f"performance.{name}.drop"] = (
                base - value if HIGHER_IS_BETTER.get(name, True) else value - base
            )
    estimated = (performance.get("estimated") or {}).get("metrics") or {}
    for name, band in estimated.items():
        values[f"performance.{name}.estimated"] = band.get("value")
        base = reference.metrics.get(name)
        if base is not None and band.get("upper") is not None:
            values[f"performance.{name}.estimated_drop"] = base - band["upper"]
    return values


def realised_metrics(
    task: str, truth: Any, predicted: Any, scores: np.ndarray | None, classes: Sequence[str]
) -> dict[str, float]:
    from sklearn import metrics

    if task == "regression":
        y, p = _floats(truth), _floats(predicted)
        keep = np.isfinite(y) & np.isfinite(p)
        y, p = y[keep], p[keep]
        if len(y) == 0:
            return {}
        out = {
            "mae": float(metrics.mean_absolute_error(y, p)),
            "rmse": float(np.sqrt(metrics.mean_squared_error(y, p))),
        }
        if len(y) > 1:
            out["r2"] = float(metrics.r2_score(y, p))
        return out
    y_text, p_text = _label_texts(truth), _label_texts(predicted)
    keep = pc.and_(pc.is_valid(y_text), pc.is_valid(p_text))
    y_text, p_text = y_text.filter(keep), p_text.filter(keep)
    if len(y_text) == 0:
        return {}
    # As scikit-learn's precision_recall_fscore_support(zero_division=0) counts them, from one
    # confusion matrix over the labels either side holds (its macro average is over those).
    present = sorted(set(pc.unique(y_text).to_pylist()) | set(pc.unique(p_text).to_pylist()))
    y, p = _class_indices(y_text, present), _class_indices(p_text, present)
    size = len(present)
    confusion = np.bincount(y * size + p, minlength=size * size).reshape(size, size).astype(np.float64)
    hits, predicted_totals, true_totals = np.diagonal(confusion), confusion.sum(axis=0), confusion.sum(axis=1)
    precision = _ratios(hits, predicted_totals)
    recall = _ratios(hits, true_totals)
    f1 = _ratios(2 * hits, predicted_totals + true_totals)
    out = {"accuracy": float(hits.sum() / len(y))}
    binary = len(classes) == 2
    if binary:
        at = present.index(classes[-1]) if classes[-1] in present else None
        for name, values in (("precision", precision), ("recall", recall), ("f1", f1)):
            out[name] = 0.0 if at is None else float(values[at])
    else:
        out.update(precision=float(precision.mean()), recall=float(recall.mean()), f1=float(f1.mean()))
    if binary and scores is not None:
        s = scores[np.asarray(keep, dtype=bool)]
        finite = np.isfinite(s)
        positives = (y == present.index(classes[-1]))[finite] if classes[-1] in present else None
        if positives is not None and finite.any() and 0 < positives.sum() < finite.sum():
            out["roc_auc"] = float(metrics.roc_auc_score(positives, s[finite]))
    return out


def _ratios(numerators: np.ndarray, denominators: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (scikit-learn's zero_division=0)."""
    found: np.ndarray = np.divide(
        numerators, denominators, out=np.zeros_like(numerators), where=denominators > 0
    )
    return found


def _label_texts(column: Any) -> pa.Array:
    """Labels as text, as `str()` writes them (classes are named by their text whatever type
    logged them); nulls kept. Integers and text are cast by Arrow, which writes them alike."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if isinstance(column, pa.Array) and (
        pa.types.is_integer(column.type)
        or pa.types.is_string(column.type)
        or pa.types.is_large_string(column.type)
    ):
        return pc.cast(column, pa.string())
    values = column.to_pylist() if isinstance(column, pa.Array) else list(column)
    return pa.array([None if v is None else str(v) for v in values], pa.string())


def _class_indices(texts: pa.Array, classes: Sequence[str]) -> np.ndarray:
    """Each label's position in `classes` (every label must be one of them)."""
    return np.asarray(pc.index_in(texts, value_set=pa.array(list(classes), pa.string())), dtype=np.int64)


def latest_labels(labels: pa.Table) -> pa.Table:
    """One label per id (`__id`, `__label`, `__label_ts`): the last logged wins."""
    ordered = labels.select([ID_COLUMN, LABEL_COLUMN, TS_COLUMN]).sort_by([(TS_COLUMN, "ascending")])
    last = ordered.group_by(ID_COLUMN, use_threads=False).aggregate(
        [(LABEL_COLUMN, "last"), (TS_COLUMN, "max")]
    )
    names = [ID_COLUMN, f"{LABEL_COLUMN}_last", f"{TS_COLUMN}_max"]
    return last.select(names).rename_columns([ID_COLUMN, LABEL_COLUMN, "__label_ts"])


def _join_labels(table: pa.Table, labels: pa.Table) -> pa.Table:
    """The window's labelled predictions, each with its last label."""
    keep = [c for c in (ID_COLUMN, TS_COLUMN, PREDICTION_COLUMN, SCORE_COLUMN) if c in table.column_names]
    return table.select(keep).join(latest_labels(labels), keys=ID_COLUMN, join_type="inner")


# -- outcomes --------------------------------------------------------------------------------------


def _outcomes(table: pa.Table, outcomes: pa.Table | None) -> dict[str, Any]:
    if outcomes is None or outcomes.num_rows == 0:
        return {}
    names = [c for c in outcomes.column_names if not c.startswith("__")]
    joined = table.select([ID_COLUMN]).join(
        outcomes.select([ID_COLUMN, *names]), keys=ID_COLUMN, join_type="inner"
    )
    found: dict[str, Any] = {}
    for name in names:
        values = _floats(joined.column(name))
        values = values[np.isfinite(values)]
        found[name] = {
            "rows": len(values),
            "mean": float(values.mean()) if len(values) else None,
            "sum": float(values.sum()) if len(values) else None,
        }
    return found


# -- small helpers ---------------------------------------------------------------------------------


def _scores_of(table: pa.Table) -> np.ndarray | None:
    if SCORE_COLUMN not in table.column_names:
        return None
    column = table.column(SCORE_COLUMN)
    if (
        pa.types.is_list(column.type)
        or pa.types.is_large_list(column.type)
        or pa.types.is_fixed_size_list(column.type)
    ):
        # Every class's probabilities: the positive (last) one's for a binary model.
        return np.asarray([row[-1] if row else np.nan for row in column.to_pylist()], dtype=np.float64)
    return _floats(column)


def _floats(column: Any) -> np.ndarray:
    if isinstance(column, pa.ChunkedArray | pa.Array):
        try:
            return np.asarray(pc.fill_null(pc.cast(column, pa.float64()), np.nan), dtype=np.float64)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            column = column.to_pylist()
    return np.asarray([np.nan if v is None else float(v) for v in column], dtype=np.float64)


def _class_order(text: str) -> tuple[int, float, str]:
    """Classes sort as numbers when they are numbers ("0" < "1" < "10"), else as text; the
    positive class of a binary classifier is the last, as in scikit-learn."""
    try:
        return (0, float(text), "")
    except ValueError:
        return (1, 0.0, text)


def _sample(table: pa.Table, rows: int, seed: int) -> pa.Table:
    if table.num_rows <= rows:
        return table
    chosen = np.sort(np.random.default_rng(seed).choice(table.num_rows, rows, replace=False))
    return table.take(pa.array(chosen))


def _impact(table: pa.Table, numeric: Sequence[str]) -> dict[str, float]:
    """How strongly each numeric feature moves the model's output on the reference: the absolute
    Spearman correlation with the score (or the prediction). A drifted feature the model leans on
    is likelier to cost performance than one it ignores."""
    from scipy.stats import spearmanr

    output = SCORE_COLUMN if SCORE_COLUMN in table.column_names else PREDICTION_COLUMN
    if output not in table.column_names or not numeric:
        return {}
    sample = _sample(table, 20_000, 0)
    y = _scores_of(sample) if output == SCORE_COLUMN else _floats(sample.column(output))
    if y is None or not np.isfinite(y).any():
        return {}
    found: dict[str, float] = {}
    for name in numeric:
        x = _floats(sample.column(name))
        keep = np.isfinite(x) & np.isfinite(y)
        if keep.sum() < 3 or np.ptp(x[keep]) == 0 or np.ptp(y[keep]) == 0:
            continue
        rho = spearmanr(x[keep], y[keep]).statistic
        if math.isfinite(rho):
            found[name] = abs(float(rho))
    return found


# -- a reference profile as bytes (a blob) ----------------------------------------------------------

_PROFILE_MAGIC = b"PLMPROF1"


def profile_to_bytes(profile: ReferenceProfile) -> bytes:
    """The profile in one blob: a JSON header, the summary's own bytes, and two Arrow IPC
    streams (the multivariate sample; the calibration's scores and labels)."""
    import orjson

    calibration = pa.table(
        {
            "score": pa.array(profile.scores if profile.scores is not None else [], type=pa.float64()),
            "label": pa.array(profile.labels if profile.labels is not None else [], type=pa.float64()),
        }
    )
    header = {
        "features": list(profile.features),
        "kinds": profile.kinds,
        "ranges": {k: list(v) for k, v in profile.ranges.items()},
        "categories": {k: sorted(v) for k, v in profile.categories.items()},
        "classes": list(profile.classes),
        "metrics": profile.metrics,
        "impact": profile.impact,
        "calibrated": profile.scores is not None,
        "regression_labels": profile.scores is None and profile.labels is not None,
    }
    parts = [orjson.dumps(header), stats.to_bytes(profile.summary), _ipc(profile.sample), _ipc(calibration)]
    return _PROFILE_MAGIC + b"".join(len(part).to_bytes(8, "little") + part for part in parts)


def profile_from_bytes(content: bytes) -> ReferenceProfile:
    import orjson

    if not content.startswith(_PROFILE_MAGIC):
        raise ValueError("not a monitor's reference profile")
    parts, at = [], len(_PROFILE_MAGIC)
    while at < len(content):
        size = int.from_bytes(content[at : at + 8], "little")
        parts.append(content[at + 8 : at + 8 + size])
        at += 8 + size
    header = orjson.loads(parts[0])
    summary = stats.from_bytes(parts[1])
    assert isinstance(summary, stats.TableSummary)
    sample = pa.ipc.open_stream(parts[2]).read_all()
    calibration = pa.ipc.open_stream(parts[3]).read_all()
    scores = calibration.column("score").to_numpy() if header["calibrated"] else None
    labels = None
    if header["calibrated"]:
        labels = calibration.column("label").to_numpy().astype(np.int64)
    elif header["regression_labels"]:
        labels = calibration.column("label").to_numpy()
    return ReferenceProfile(
        summary,
        tuple(header["features"]),
        header["kinds"],
        {k: (float(v[0]), float(v[1])) for k, v in header["ranges"].items()},
        {k: frozenset(v) for k, v in header["categories"].items()},
        sample,
        scores,
        labels,
        tuple(header["classes"]),
        header["metrics"],
        header["impact"],
    )


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())

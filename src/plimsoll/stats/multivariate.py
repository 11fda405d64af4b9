"""Multivariate drift: can a classifier tell reference rows from current rows?

A small gradient-boosted classifier (scikit-learn ``HistGradientBoostingClassifier``, 40 rounds of 15
leaves, kept small because it runs on every monitoring window; NaN and categorical
columns handled natively) is cross-validated on reference (label 0) against current (label 1) rows,
each side subsampled to at most ``max_rows``. Its out-of-fold ROC AUC is 0.5 when the two cannot be
told apart. Under that null the AUC is approximately normal with the Mann-Whitney standard deviation
sqrt((n + m + 1) / (12 n m)), which gives the p-value and the critical AUC at ``alpha``; the threshold
is the larger of that and ``min_auc`` (default 0.55), so huge samples do not alarm on a negligible
separation. The features that separate the samples most are ranked by permutation importance (drop
in AUC when the feature is shuffled) on a held-out quarter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats as scipy_stats

from plimsoll.stats._arrays import AllNull, CategoryCounts, NumericValues, column_values, table_columns
from plimsoll.stats._errors import StatsNotEnoughData, StatsOutOfRange, StatsShapeMismatch
from plimsoll.stats.multiple_testing import check_alpha


@dataclass(frozen=True)
class MultivariateDrift:
    auc: float
    threshold: float
    p_value: float
    drifted: bool
    n_reference: int
    n_current: int
    top_features: tuple[tuple[str, float], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "auc": self.auc,
            "threshold": self.threshold,
            "p_value": self.p_value,
            "drifted": self.drifted,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "top_features": [[name, value] for name, value in self.top_features],
        }


def detect_multivariate_drift(
    reference: Any,
    current: Any,
    *,
    alpha: float = 0.05,
    min_auc: float = 0.55,
    max_rows: int = 5000,
    n_splits: int = 5,
    top: int = 5,
    random_state: int = 0,
) -> MultivariateDrift:
    """Domain-classifier test of ``current`` against ``reference`` (tables with the same columns)."""
    # scikit-learn takes seconds to import; only this function needs it.
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict, train_test_split

    check_alpha(alpha)
    if not 0.5 <= min_auc < 1.0:
        raise StatsOutOfRange(
            f"min_auc must be within [0.5, 1), got {min_auc}", field="min_auc", limit="[0.5, 1)"
        )
    rng = np.random.default_rng(random_state)
    ref_frame, cur_frame = _frame(reference, "reference"), _frame(current, "current")
    if list(ref_frame.columns) != list(cur_frame.columns):
        raise StatsShapeMismatch(
            f"current: columns {list(cur_frame.columns)} differ from the reference's {list(ref_frame.columns)}",
            field="current",
        )
    ref_frame, cur_frame = _sample(ref_frame, max_rows, rng), _sample(cur_frame, max_rows, rng)
    n, m = len(ref_frame), len(cur_frame)
    if min(n, m) < 2 * n_splits:
        raise StatsNotEnoughData(
            f"need at least {2 * n_splits} rows on each side, got {n} and {m}",
            field="reference" if n < 2 * n_splits else "current",
            limit=f"at least {2 * n_splits} rows",
        )
    features, categorical = _encode(pd.concat([ref_frame, cur_frame], ignore_index=True))
    target = np.concatenate((np.zeros(n), np.ones(m)))
    model = HistGradientBoostingClassifier(
        max_iter=40,
        learning_rate=0.2,
        max_leaf_nodes=15,
        early_stopping=False,
        categorical_features=categorical,
        random_state=random_state,
    )
    folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    scores = cross_val_predict(model, features, target, cv=folds, method="predict_proba")[:, 1]
    auc = float(roc_auc_score(target, scores))
    spread = math.sqrt((n + m + 1) / (12.0 * n * m))
    p_value = float(scipy_stats.norm.sf((auc - 0.5) / spread))
    threshold = max(0.5 + float(scipy_stats.norm.isf(alpha)) * spread, min_auc)
    train_x, test_x, train_y, test_y = train_test_split(
        features, target, test_size=0.25, stratify=target, random_state=random_state
    )
    fitted = model.fit(train_x, train_y)
    importance = permutation_importance(
        fitted, test_x, test_y, scoring="roc_auc", n_repeats=3, random_state=random_state
    )
    order = np.argsort(-importance.importances_mean)[:top]
    names = list(ref_frame.columns)
    ranked = tuple((names[i], float(importance.importances_mean[i])) for i in order)
    return MultivariateDrift(auc, threshold, p_value, auc > threshold, n, m, ranked)


def _frame(table: Any, side: str) -> pd.DataFrame:
    columns: dict[str, pd.Series] = {}
    for name, values in table_columns(table):
        converted = column_values(values, name)
        if isinstance(converted, NumericValues) and converted.null_count == 0:
            columns[name] = pd.Series(converted.values)
        elif isinstance(converted, AllNull | CategoryCounts | NumericValues):
            columns[name] = _as_pandas(values)
    if not columns:
        raise StatsNotEnoughData(f"{side}: the table has no columns", field=side, limit="at least 1 column")
    return pd.DataFrame(columns)


def _as_pandas(values: Any) -> pd.Series:
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    if hasattr(values, "to_pandas"):
        return pd.Series(values.to_pandas())
    return pd.Series(values)


def _sample(frame: pd.DataFrame, max_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    if len(frame) <= max_rows:
        return frame.reset_index(drop=True)
    chosen = np.sort(rng.choice(len(frame), size=max_rows, replace=False))
    return frame.iloc[chosen].reset_index(drop=True)


def _encode(frame: pd.DataFrame) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    encoded = []
    categorical = []
    for name in frame.columns:
        column = frame[name]
        numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        if numeric:
            values = column.to_numpy(dtype=np.float64, na_value=np.nan)
            encoded.append(np.where(np.isfinite(values), values, np.nan))
            categorical.append(False)
        else:
            codes, uniques = pd.factorize(column.astype(object).where(column.notna(), None), sort=True)
            as_float = codes.astype(np.float64)
            as_float[codes < 0] = np.nan
            encoded.append(as_float)
            # The booster takes at most 255 categories natively; beyond that codes are ordinal.
            categorical.append(len(uniques) <= 255)
    return np.column_stack(encoded), np.array(categorical, dtype=bool)

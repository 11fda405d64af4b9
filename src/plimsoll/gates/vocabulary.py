"""The names a release policy may use, and which way each is better: one list for the gates and
for whoever measures. The evaluation capability (above gates) measures under these names and
imports them from here; a CI job's evidence file uses them too. A name is added here first, then
measured and gated on.
"""

from __future__ import annotations

from typing import Final

# Quality metrics of classifiers and regressors: name -> True when higher is better, in the order
# a table shows them. Label metrics need predicted labels, score metrics predicted probabilities.
CLASSIFICATION_LABEL_METRICS: Final[dict[str, bool]] = {
    "accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
}
CLASSIFICATION_SCORE_METRICS: Final[dict[str, bool]] = {
    "roc_auc": True,
    "pr_auc": True,
    "log_loss": False,
    "brier_score": False,
    "expected_calibration_error": False,
}
CLASSIFICATION_METRICS: Final[dict[str, bool]] = {
    **CLASSIFICATION_LABEL_METRICS,
    **CLASSIFICATION_SCORE_METRICS,
}
REGRESSION_METRICS: Final[dict[str, bool]] = {"mae": False, "rmse": False, "r2": True, "mape": False}
# Generative models' scores over their outputs: not measured by Plimsoll's evaluation (yet); a CI
# job brings them in its evidence.
GENERATIVE_METRICS: Final[dict[str, bool]] = {
    "exact_match": True,
    "rouge_l": True,
    "bleu": True,
    "safety_pass_rate": True,
}
# Fairness measures over a sensitive feature (Fairlearn's names), each with a confidence interval:
# the gate judges the bound least favourable to the model.
FAIRNESS_METRICS: Final[dict[str, bool]] = {
    "demographic_parity_difference": False,
    "demographic_parity_ratio": True,
    "equalized_odds_difference": False,
}
# Latency of one row and of a batch, in milliseconds: lower is better.
LATENCY_METRICS: Final[tuple[str, ...]] = ("single_p50_ms", "single_p99_ms", "batch_p50_ms", "batch_p99_ms")
# What a model costs to keep and to run: its size in bytes, CPU-seconds per 1,000 predictions, and
# the price per 1,000 predictions (CPU-seconds times a configured price). Lower is better.
COST_METRICS: Final[tuple[str, ...]] = ("model_bytes", "cpu_seconds_per_1000", "price_per_1000")
# The roles a dataset version plays for a model version: the gates check their validation.
DATASET_ROLES: Final[tuple[str, ...]] = ("training", "evaluation")

QUALITY_METRICS: Final[dict[str, bool]] = {
    **CLASSIFICATION_METRICS,
    **REGRESSION_METRICS,
    **GENERATIVE_METRICS,
}


def higher_is_better(metric: str) -> bool:
    """Which way `metric` improves (latency and cost: lower)."""
    if metric in QUALITY_METRICS:
        return QUALITY_METRICS[metric]
    if metric in FAIRNESS_METRICS:
        return FAIRNESS_METRICS[metric]
    return False

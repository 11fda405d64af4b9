"""The names a release policy may use, and which way each is better: one list for the gates and
for whoever measures (the evaluation capability writes its results under these names).

For the evaluation capability: this module imports nothing and may move below both (into the
evaluation package, or a shared module) when the two meet; gates will then import it from there.
A name is added here first, then measured and gated on.
"""

from __future__ import annotations

from typing import Final

# Quality metrics of classifiers and regressors: name -> True when higher is better.
CLASSIFICATION_METRICS: Final[dict[str, bool]] = {
    "accuracy": True,
    "balanced_accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "roc_auc": True,
    "pr_auc": True,
    "log_loss": False,
    "brier_score": False,
    "expected_calibration_error": False,
}
REGRESSION_METRICS: Final[dict[str, bool]] = {
    "mae": False,
    "mse": False,
    "rmse": False,
    "mape": False,
    "r2": True,
    "explained_variance": True,
}
# Generative models' quality scores, measured over their outputs.
GENERATIVE_METRICS: Final[dict[str, bool]] = {
    "exact_match": True,
    "rouge_l": True,
    "bleu": True,
    "safety_pass_rate": True,
}
# Fairness measures over a sensitive attribute: each reported with a confidence interval (the gate
# judges the bound that is least favourable to the model). True when higher is better.
FAIRNESS_METRICS: Final[dict[str, bool]] = {
    "demographic_parity_difference": False,
    "equalized_odds_difference": False,
    "equal_opportunity_difference": False,
    "disparate_impact_ratio": True,
    "accuracy_difference": False,
}
# Serving latency, in milliseconds: lower is better.
LATENCY_METRICS: Final[tuple[str, ...]] = ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "mean_ms", "max_ms")
# What serving costs: lower is better.
COST_METRICS: Final[tuple[str, ...]] = (
    "usd_per_1k_predictions",
    "usd_per_hour",
    "usd_per_1k_tokens",
    "gpu_memory_gb",
)
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

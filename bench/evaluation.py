"""Benchmark: evaluating a scikit-learn classifier on 1M rows with slices and the fairness
bootstrap, with Plimsoll (`client.evaluate`, embedded) against the same computation written with
`mlflow.evaluate` (the whole table, then each slice) and Fairlearn's `MetricFrame(n_boot=...)`.

Data: `--rows` rows (1M by default) of 8 numeric features, a `region` column of 5 values (the
slices) and a `group` column of 4 values (the sensitive feature), a binary label from a logistic
model of the features; a `LogisticRegression` trained on 50,000 other rows, identically on both
sides (same seed, same scikit-learn, checked by the coefficients' digest). Both sides predict with
that model inside the timed call (predict_proba and predict), compute the metrics on the whole
table and per region, and the fairness quantities by group with `--resamples` bootstrap draws.

Run (MLflow only in a venv of its own; see bench/requirements-evaluation.txt):

    .venv/bin/python bench/evaluation.py                       # both sides, one run each
    .venv/bin/python bench/evaluation.py --fairlearn-resamples 10

`--fairlearn-resamples N` below `--resamples` runs MetricFrame with N draws and also without any,
and reports the time of `--resamples` draws extrapolated from the two (the draws are independent
and each costs the same, a resample of every row and the frame computed again): Fairlearn's 200
resamples of 1M rows take tens of minutes on a 2-core machine. The report says which figure is
measured and which extrapolated. Also printed: the machine's floor (a numpy sort of 1M floats).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
OTHER_PYTHON = REPO / ".venv-bench-eval" / "bin" / "python"
FEATURES = [f"x{i}" for i in range(8)]
REGIONS = ["north", "south", "east", "west", "centre"]
GROUPS = ["a", "b", "c", "d"]
SAME = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
MLFLOW_NAMES = {
    "accuracy": "accuracy_score",
    "precision": "precision_score",
    "recall": "recall_score",
    "f1": "f1_score",
    "roc_auc": "roc_auc",
    "log_loss": "log_loss",
}


def make_data(rows: int, seed: int = 0) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({name: rng.normal(size=rows) for name in FEATURES})
    frame["region"] = rng.choice(REGIONS, rows, p=[0.3, 0.25, 0.2, 0.15, 0.1])
    frame["group"] = rng.choice(GROUPS, rows, p=[0.45, 0.35, 0.15, 0.05])
    weights = np.linspace(1.0, -0.5, len(FEATURES))
    shift = np.where(frame["group"].to_numpy() == "d", 0.4, 0.0)
    logit = frame[FEATURES].to_numpy() @ weights + shift
    frame["label"] = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    return frame


def train() -> tuple[Any, str]:
    from sklearn.linear_model import LogisticRegression

    train = make_data(50_000, seed=1)
    model = LogisticRegression(max_iter=1000).fit(train[FEATURES], train["label"])
    digest = hashlib.sha256(model.coef_.tobytes() + model.intercept_.tobytes()).hexdigest()[:16]
    return model, digest


def sort_floor() -> str:
    import numpy

    values = numpy.random.default_rng(0).random(1_000_000)
    times = []
    for _ in range(5):
        started = time.perf_counter()
        numpy.sort(values)
        times.append(time.perf_counter() - started)
    times.sort()
    return f"machine floor: numpy sort of 1M float64 {times[2] * 1000:.1f} ms (median of 5)"


# -- Plimsoll -----------------------------------------------------------------------------------------


def run_plimsoll(rows: int, resamples: int) -> dict[str, Any]:
    from plimsoll.client import Client
    from plimsoll.core.config import Settings

    frame = make_data(rows)
    model, digest = train()
    with tempfile.TemporaryDirectory() as home:
        client = Client(f"sqlite:///{home}/plimsoll.db", settings=Settings(home=Path(home) / "home"))
        client.evaluate(model, frame.head(1000), task="classification", target="label", features=FEATURES)
        started = time.perf_counter()
        found = client.evaluate(
            model,
            frame,
            task="classification",
            target="label",
            features=FEATURES,
            slices=["region"],
            sensitive=["group"],
            min_group_size=1,
            resamples=resamples,
        )
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        model.predict_proba(frame[FEATURES])
        model.predict(frame[FEATURES])
        predicting = time.perf_counter() - started
        client.close()
    fairness = found.fairness["group"]
    return {
        "seconds": seconds,
        "predicting_seconds": predicting,
        "model": digest,
        "metrics": found.metrics,
        "slices": {value: s.metrics for value, s in found.slices["region"].items()},
        "fairness": {name: interval.to_dict() for name, interval in fairness.metrics.items()},
    }


# -- MLflow and Fairlearn -------------------------------------------------------------------------------


def run_mlflow(rows: int, resamples: int, fairlearn_resamples: int) -> dict[str, Any]:
    import mlflow
    import mlflow.sklearn
    from fairlearn.metrics import MetricFrame, false_positive_rate, selection_rate, true_positive_rate

    evaluate = getattr(mlflow.models, "evaluate", None) or mlflow.evaluate  # classic ML evaluation
    frame = make_data(rows)
    model, digest = train()
    functions = {
        "selection_rate": selection_rate,
        "true_positive_rate": true_positive_rate,
        "false_positive_rate": false_positive_rate,
    }
    columns = [*FEATURES, "label"]
    with tempfile.TemporaryDirectory() as home:
        mlflow.set_tracking_uri(f"sqlite:///{home}/mlflow.db")
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(model, name="model", input_example=frame[FEATURES].head(5))
            config = {"log_model_explainability": False}
            evaluate(  # a warm-up on 1,000 rows, as on the Plimsoll side
                info.model_uri,
                frame[columns].head(1000),
                targets="label",
                model_type="classifier",
                evaluator_config=config,
            )
            started = time.perf_counter()
            overall = evaluate(
                info.model_uri,
                frame[columns],
                targets="label",
                model_type="classifier",
                evaluator_config=config,
            )
            slices = {}
            for region in REGIONS:
                part = frame.loc[frame["region"] == region, columns]
                slices[region] = evaluate(
                    info.model_uri, part, targets="label", model_type="classifier", evaluator_config=config
                ).metrics
            mlflow_seconds = time.perf_counter() - started
    predicted = model.predict(frame[FEATURES])
    truth, groups = frame["label"].to_numpy(), frame["group"].to_numpy()
    started = time.perf_counter()
    plain = MetricFrame(metrics=functions, y_true=truth, y_pred=predicted, sensitive_features=groups)
    plain_difference, plain_ratio = plain.difference(), plain.ratio()
    base_seconds = time.perf_counter() - started
    started = time.perf_counter()
    booted = MetricFrame(
        metrics=functions,
        y_true=truth,
        y_pred=predicted,
        sensitive_features=groups,
        n_boot=fairlearn_resamples,
        ci_quantiles=[0.025, 0.975],
        random_state=0,
    )
    difference, ratio = booted.difference(), booted.ratio()
    difference_ci, ratio_ci = booted.difference_ci(), booted.ratio_ci()
    boot_seconds = time.perf_counter() - started
    per_resample = max(boot_seconds - base_seconds, 0.0) / fairlearn_resamples
    extrapolated = base_seconds + per_resample * resamples
    return {
        "mlflow_seconds": mlflow_seconds,
        "fairlearn_seconds_measured": boot_seconds,
        "fairlearn_resamples_measured": fairlearn_resamples,
        "fairlearn_base_seconds": base_seconds,
        "fairlearn_seconds": boot_seconds if fairlearn_resamples == resamples else extrapolated,
        "model": digest,
        "metrics": {ours: overall.metrics.get(theirs) for ours, theirs in MLFLOW_NAMES.items()}
        | {"pr_auc (trapezoid)": overall.metrics.get("precision_recall_auc")},
        "slices": {
            r: {ours: m.get(theirs) for ours, theirs in MLFLOW_NAMES.items()} for r, m in slices.items()
        },
        "fairness": {
            "demographic_parity_difference": {
                "value": float(difference["selection_rate"]),
                "lower": float(difference_ci[0]["selection_rate"]),
                "upper": float(difference_ci[1]["selection_rate"]),
            },
            "demographic_parity_ratio": {
                "value": float(ratio["selection_rate"]),
                "lower": float(ratio_ci[0]["selection_rate"]),
                "upper": float(ratio_ci[1]["selection_rate"]),
            },
            # Fairlearn's equalized_odds_difference: the larger of the two rates' differences
            # (its interval here is the larger of their intervals' ends, not the interval of the larger)
            "equalized_odds_difference": {
                "value": float(max(difference["true_positive_rate"], difference["false_positive_rate"])),
                "lower": float(
                    max(difference_ci[0]["true_positive_rate"], difference_ci[0]["false_positive_rate"])
                ),
                "upper": float(
                    max(difference_ci[1]["true_positive_rate"], difference_ci[1]["false_positive_rate"])
                ),
            },
        },
        "unbooted_equal": bool(
            abs(float(plain_difference["selection_rate"]) - float(difference["selection_rate"])) == 0
            and abs(float(plain_ratio["selection_rate"]) - float(ratio["selection_rate"])) == 0
        ),
    }


def report(ours: dict[str, Any], theirs: dict[str, Any] | None, rows: int, resamples: int) -> None:
    print(f"{rows:,} rows, {resamples} bootstrap resamples, slices: region (5), sensitive: group (4)")
    print(
        f"Plimsoll client.evaluate (embedded, stored): {ours['seconds']:.2f} s "
        f"(of which the model's predict_proba + predict: {ours['predicting_seconds']:.2f} s)"
    )
    if theirs is None:
        print("MLflow + Fairlearn: not run (no .venv-bench-eval; see bench/requirements-evaluation.txt)")
        return
    if theirs["model"] != ours["model"]:
        print(f"WARNING: the two sides trained different models ({ours['model']} vs {theirs['model']})")
    measured = theirs["fairlearn_resamples_measured"]
    total = theirs["mlflow_seconds"] + theirs["fairlearn_seconds"]
    kind = (
        "measured"
        if measured == resamples
        else (
            f"extrapolated from {measured} resamples ({theirs['fairlearn_seconds_measured']:.1f} s) and none "
            f"({theirs['fairlearn_base_seconds']:.1f} s)"
        )
    )
    print(f"mlflow.evaluate, whole table + 5 slices: {theirs['mlflow_seconds']:.2f} s")
    print(f"Fairlearn MetricFrame(n_boot={resamples}): {theirs['fairlearn_seconds']:.1f} s ({kind})")
    print(f"MLflow + Fairlearn: {total:.1f} s; Plimsoll is {total / ours['seconds']:.1f}x faster")
    worst = 0.0
    print("same statistic, |Plimsoll - MLflow/Fairlearn|:")
    for name in SAME:
        gap = abs(ours["metrics"][name] - theirs["metrics"][name])
        worst = max(worst, gap)
        print(f"  {name:<12} {ours['metrics'][name]:.12f}  {theirs['metrics'][name]:.12f}  {gap:.1e}")
    for region in REGIONS:
        for name in SAME:
            worst = max(worst, abs(ours["slices"][region][name] - theirs["slices"][region][name]))
    for name, found in ours["fairness"].items():
        gap = abs(found["value"] - theirs["fairness"][name]["value"])
        worst = max(worst, gap)
        print(f"  {name:<30} {found['value']:.12f}  {theirs['fairness'][name]['value']:.12f}  {gap:.1e}")
    print(
        f"largest difference over the whole table, 5 slices x {len(SAME)} metrics and 3 fairness "
        f"quantities: {worst:.1e} ({'within' if worst <= 1e-9 else 'BEYOND'} 1e-9)"
    )
    print(
        f"PR AUC: Plimsoll's average precision {ours['metrics']['pr_auc']:.6f}; MLflow's trapezoid "
        f"auc(recall, precision) {theirs['metrics']['pr_auc (trapezoid)']:.6f} (another statistic)"
    )
    print("bootstrap intervals (95 %), Plimsoll's multinomial cells vs Fairlearn's row resamples:")
    for name, found in ours["fairness"].items():
        other = theirs["fairness"][name]
        print(
            f"  {name:<30} [{found['lower']:.5f}, {found['upper']:.5f}]  [{other['lower']:.5f}, {other['upper']:.5f}]"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--resamples", type=int, default=200)
    parser.add_argument("--fairlearn-resamples", type=int, default=None)
    parser.add_argument("--other-python", type=Path, default=OTHER_PYTHON)
    parser.add_argument("--side", choices=["plimsoll", "mlflow"], default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    fairlearn_resamples = args.fairlearn_resamples or args.resamples
    if args.side == "mlflow":
        found = run_mlflow(args.rows, args.resamples, fairlearn_resamples)
        args.out.write_text(json.dumps(found))
        return
    print(sort_floor(), f"; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    ours = run_plimsoll(args.rows, args.resamples)
    theirs = None
    if args.other_python.exists():
        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch) / "mlflow.json"
            command = [
                str(args.other_python),
                __file__,
                "--side",
                "mlflow",
                "--rows",
                str(args.rows),
                "--resamples",
                str(args.resamples),
                "--fairlearn-resamples",
                str(fairlearn_resamples),
                "--out",
                str(out),
            ]
            subprocess.run(command, check=True, cwd=scratch)
            theirs = json.loads(out.read_text())
    report(ours, theirs, args.rows, args.resamples)
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    sys.exit(main())

"""The demo: real scikit-learn models on a real dataset, a small grid of settings, everything logged.

    from plimsoll import Client
    from plimsoll.demo import run_demo

    with Client() as client:
        result = run_demo(client, experiment="demo")

The dataset is scikit-learn's bundled Wisconsin breast-cancer set (569 tumours, 30 features, binary),
so nothing is downloaded. Its split is registered as three dataset versions: every run logs the
training and validation sets as its inputs; the test set is held out for the release
(`plimsoll.release_demo`). Each setting is one run with its params, per-step histories of
train/val loss and accuracy (boosting stages, forest size, or SGD epochs), final validation
metrics, tags, a confusion-matrix JSON artifact, a model card, and the model itself (`log_model`:
scikit-learn through skops, never a pickle). `plimsoll demo` is the CLI.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from plimsoll.core.errors import NotFound

if TYPE_CHECKING:
    import pandas as pd

    from plimsoll.client import ActiveRun, Client
    from plimsoll.data.entities import DatasetVersion
    from plimsoll.tracking.entities import Experiment, Run

Array = npt.NDArray[np.float64]
Trained = tuple[Any, Array]
"""A fitted scikit-learn model and its probabilities of the positive class on the validation set."""
Progress = Callable[[int, int, str], None]
"""Called with (settings done, settings in all, label of the one starting now)."""

DATASET = "sklearn.datasets.load_breast_cancer"
TEST_SIZE = 0.2  # of every tumour: held out for the release's evaluation
VALIDATION_SIZE = 0.25  # of the rest: to choose the best setting on
SEED = 0
BEST_METRIC = "roc_auc"
MODEL_CARD = {
    "description": "Tells a benign breast tumour from a malignant one by 30 measurements of its cells' nuclei.",
    "intended_use": "A demonstration of Plimsoll's tracking, registry and release gates. Nothing else.",
    "limitations": "Not a medical device: never use it to diagnose anyone. One small, old dataset "
    "from a single site; no study of how it fails.",
    "risk_rating": "high",
}
FINAL_METRICS = ("accuracy", "f1", "precision", "recall", "roc_auc", "log_loss")
HISTORY_METRICS = ("train_loss", "val_loss", "train_accuracy", "val_accuracy")


@dataclass(frozen=True)
class Setting:
    """One point of the grid: a run name, a model family and its hyper-parameters."""

    name: str
    family: str  # "gradient_boosting", "random_forest" or "sgd_logistic"
    params: dict[str, Any] = field(default_factory=dict)


GRID: tuple[Setting, ...] = (
    Setting(
        "gb-lr0.05-d2", "gradient_boosting", {"n_estimators": 100, "learning_rate": 0.05, "max_depth": 2}
    ),
    Setting("gb-lr0.1-d3", "gradient_boosting", {"n_estimators": 100, "learning_rate": 0.1, "max_depth": 3}),
    Setting(
        "gb-lr0.3-d2-sub0.8",
        "gradient_boosting",
        {"n_estimators": 100, "learning_rate": 0.3, "max_depth": 2, "subsample": 0.8},
    ),
    Setting("rf-100-d4", "random_forest", {"n_estimators": 100, "max_depth": 4, "trees_per_step": 10}),
    Setting("rf-100-full", "random_forest", {"n_estimators": 100, "max_depth": None, "trees_per_step": 10}),
    Setting("sgd-logreg-a1e-4", "sgd_logistic", {"alpha": 1e-4, "epochs": 60}),
    Setting("sgd-logreg-a1e-2", "sgd_logistic", {"alpha": 1e-2, "epochs": 60}),
)


@dataclass(frozen=True)
class DemoResult:
    experiment: Experiment
    runs: list[Run]
    """This demo's runs, best first (highest validation ROC AUC, then lowest log loss)."""
    test: DatasetVersion
    """The held-out test set, for the release's evaluation."""
    data: DemoData

    @property
    def best(self) -> Run:
        return self.runs[0]


@dataclass(frozen=True)
class DemoData:
    """The split: features as frames (the models learn their names), labels as 0/1 (1: benign,
    the positive class scikit-learn's dataset numbers 1)."""

    x_train: pd.DataFrame
    x_val: pd.DataFrame
    x_test: pd.DataFrame
    y_train: npt.NDArray[np.int64]
    y_val: npt.NDArray[np.int64]
    y_test: npt.NDArray[np.int64]
    labels: list[str]
    description: str
    features: list[str] = field(default_factory=list)


def load_data(seed: int = SEED) -> DemoData:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    bunch = load_breast_cancer(as_frame=True)
    x, y = bunch.data.astype(np.float64), bunch.target.to_numpy(dtype=np.int64)
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=TEST_SIZE, random_state=seed, stratify=y
    )
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=VALIDATION_SIZE, random_state=seed, stratify=y_rest
    )
    return DemoData(
        x_train=x_train.reset_index(drop=True),
        x_val=x_val.reset_index(drop=True),
        x_test=x_test.reset_index(drop=True),
        y_train=y_train,
        y_val=y_val,
        y_test=y_test,
        labels=[str(name) for name in bunch.target_names],
        description="Wisconsin diagnostic breast cancer: 569 tumours, 30 features, malignant vs benign",
        features=[str(name) for name in bunch.feature_names],
    )


TRAIN_DATASET = "breast-cancer-train"
VALIDATION_DATASET = "breast-cancer-validation"
TEST_DATASET = "breast-cancer-test"


def data_schema(data: DemoData) -> Any:
    """What the demo's data must be (a pandera schema): every measurement present and not
    negative, one row per tumour, a diagnosis that is one of the two."""
    import pandera.pandas as pa

    measurements = {name: pa.Column(float, pa.Check.ge(0), nullable=False) for name in data.features}
    diagnosis = pa.Column(str, pa.Check.isin(data.labels), nullable=False)
    return pa.DataFrameSchema({**measurements, "diagnosis": diagnosis}, strict=True)


def labelled(x: pd.DataFrame, y: npt.NDArray[np.int64], data: DemoData) -> pd.DataFrame:
    """Features and the diagnosis in words: the table a dataset version holds."""
    return x.assign(diagnosis=[data.labels[label] for label in y])


def register_data(
    client: Client, data: DemoData, *, project: str
) -> tuple[DatasetVersion, DatasetVersion, DatasetVersion]:
    """The split (training, validation, test), as dataset versions (the same split again: the
    same versions), validated against `data_schema`, so that the lineage graph says which data
    each run read and the versions say that they were checked."""
    about = (
        f"{data.description}; the split of the demo (seed {SEED}: {TEST_SIZE:.0%} test, "
        f"{VALIDATION_SIZE:.0%} of the rest validation)"
    )
    checks = data_schema(data)
    return tuple(  # type: ignore[return-value]
        client.datasets.register(
            name, labelled(x, y, data), description=about, project=project, schema=checks
        )
        for name, x, y in (
            (TRAIN_DATASET, data.x_train, data.y_train),
            (VALIDATION_DATASET, data.x_val, data.y_val),
            (TEST_DATASET, data.x_test, data.y_test),
        )
    )


def run_demo(
    client: Client,
    *,
    experiment: str = "demo",
    settings: tuple[Setting, ...] = GRID,
    progress: Progress | None = None,
    seed: int = SEED,
) -> DemoResult:
    """Train one model per setting, log each as a run in `experiment`, and answer the runs best first."""
    data = load_data(seed)
    try:
        found = client.get_experiment(experiment)
    except NotFound:
        found = client.create_experiment(
            experiment, description=f"plimsoll demo: scikit-learn models on {DATASET}"
        )
    *inputs, test = register_data(client, data, project=found.project)  # where the runs' lineage lives
    run_ids: list[str] = []
    for index, setting in enumerate(settings):
        if progress is not None:
            progress(index, len(settings), setting.name)
        run_ids.append(_train_one(client, found.name, setting, data, seed, (inputs[0], inputs[1])))
    if progress is not None:
        progress(len(settings), len(settings), "done")
    runs = [client.get_run(run_id) for run_id in run_ids]
    runs.sort(key=lambda r: (-r.metrics.get(BEST_METRIC, -np.inf), r.metrics.get("log_loss", np.inf)))
    return DemoResult(experiment=found, runs=runs, test=test, data=data)


def _train_one(
    client: Client,
    experiment: str,
    setting: Setting,
    data: DemoData,
    seed: int,
    inputs: tuple[DatasetVersion, DatasetVersion],
) -> str:
    params = {
        "model": _MODEL_NAMES[setting.family],
        "dataset": DATASET,
        "test_size": TEST_SIZE,
        "validation_size": VALIDATION_SIZE,
        "random_state": seed,
        "n_train": len(data.y_train),
        "n_val": len(data.y_val),
        **setting.params,
    }
    tags = {"demo": "true", "model_family": setting.family, "dataset": "breast_cancer", "task": "binary"}
    with client.start_run(experiment, name=setting.name, params=params, tags=tags) as run:
        run.log_input(inputs[0], context="training")
        run.log_input(inputs[1], context="validation")
        started = time.perf_counter()
        model, proba_val = _TRAINERS[setting.family](run, setting.params, data, seed)
        fit_seconds = time.perf_counter() - started
        final = final_metrics(data.y_val, proba_val)
        run.log_metrics({**final, "fit_seconds": fit_seconds})
        matrix = confusion(data.y_val, proba_val)
        run.log_dict(
            {"labels": data.labels, "rows": "true label", "columns": "predicted label", "matrix": matrix},
            "confusion_matrix.json",
        )
        run.log_text(model_card(setting, params, final, matrix, data), "model_card.md")
        run.log_model(model, "model", input_example=data.x_val.head(5), card=MODEL_CARD)
        return run.id


# -- training, one step at a time -------------------------------------------------------------------


def _log_step(run: ActiveRun, step: int, data: DemoData, proba_train: Array, proba_val: Array) -> None:
    run.log_metrics(
        {
            "train_loss": binary_log_loss(data.y_train, proba_train),
            "val_loss": binary_log_loss(data.y_val, proba_val),
            "train_accuracy": accuracy(data.y_train, proba_train),
            "val_accuracy": accuracy(data.y_val, proba_val),
        },
        step=step,
    )


def _gradient_boosting(run: ActiveRun, params: dict[str, Any], data: DemoData, seed: int) -> Trained:
    """One history point per boosting stage (staged_predict_proba)."""
    from sklearn.ensemble import GradientBoostingClassifier

    model = GradientBoostingClassifier(random_state=seed, **params)
    model.fit(data.x_train, data.y_train)
    proba_val: Array = np.empty(0)
    stages = zip(
        model.staged_predict_proba(data.x_train), model.staged_predict_proba(data.x_val), strict=True
    )
    for step, (proba_train, proba_val) in enumerate(stages, start=1):
        _log_step(run, step, data, proba_train[:, 1], proba_val[:, 1])
    return model, proba_val[:, 1]


def _random_forest(run: ActiveRun, params: dict[str, Any], data: DemoData, seed: int) -> Trained:
    """Grow the forest `trees_per_step` trees at a time (warm start); one history point per step."""
    from sklearn.ensemble import RandomForestClassifier

    per_step = int(params["trees_per_step"])
    total = int(params["n_estimators"])
    model = RandomForestClassifier(
        n_estimators=per_step, max_depth=params["max_depth"], warm_start=True, random_state=seed, n_jobs=1
    )
    proba_val: Array = np.empty(0)
    for step, trees in enumerate(range(per_step, total + 1, per_step), start=1):
        model.set_params(n_estimators=trees)
        model.fit(data.x_train, data.y_train)
        proba_val = model.predict_proba(data.x_val)[:, 1]
        _log_step(run, step, data, model.predict_proba(data.x_train)[:, 1], proba_val)
    return model, proba_val


def _sgd_logistic(run: ActiveRun, params: dict[str, Any], data: DemoData, seed: int) -> Trained:
    """Logistic regression by SGD on standardised features; one history point per epoch. The
    model logged is the two together (a pipeline), so that it takes the measurements as they are."""
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(data.x_train)
    x_train, x_val = scaler.transform(data.x_train), scaler.transform(data.x_val)
    model = SGDClassifier(loss="log_loss", alpha=params["alpha"], random_state=seed)
    classes = np.unique(data.y_train)
    rng = np.random.default_rng(seed)
    proba_val: Array = np.empty(0)
    for epoch in range(1, int(params["epochs"]) + 1):
        order = rng.permutation(len(data.y_train))
        model.partial_fit(x_train[order], data.y_train[order], classes=classes)
        proba_val = model.predict_proba(x_val)[:, 1]
        _log_step(run, epoch, data, model.predict_proba(x_train)[:, 1], proba_val)
    return Pipeline([("scale", scaler), ("classify", model)]), proba_val


_TRAINERS: dict[str, Callable[[ActiveRun, dict[str, Any], DemoData, int], Trained]] = {
    "gradient_boosting": _gradient_boosting,
    "random_forest": _random_forest,
    "sgd_logistic": _sgd_logistic,
}
_MODEL_NAMES = {
    "gradient_boosting": "sklearn.ensemble.GradientBoostingClassifier",
    "random_forest": "sklearn.ensemble.RandomForestClassifier",
    "sgd_logistic": "sklearn.linear_model.SGDClassifier(loss='log_loss')",
}


# -- metrics -------------------------------------------------------------------------------------


def binary_log_loss(y: npt.NDArray[np.int64], proba: Array) -> float:
    p = np.clip(proba, 1e-15, 1 - 1e-15)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def accuracy(y: npt.NDArray[np.int64], proba: Array) -> float:
    return float(np.mean((proba >= 0.5).astype(np.int64) == y))


def final_metrics(y: npt.NDArray[np.int64], proba: Array) -> dict[str, float]:
    from sklearn import metrics

    predicted = (proba >= 0.5).astype(np.int64)
    return {
        "accuracy": float(metrics.accuracy_score(y, predicted)),
        "f1": float(metrics.f1_score(y, predicted, zero_division=0.0)),
        "precision": float(metrics.precision_score(y, predicted, zero_division=0.0)),
        "recall": float(metrics.recall_score(y, predicted, zero_division=0.0)),
        "roc_auc": float(metrics.roc_auc_score(y, proba)),
        "log_loss": binary_log_loss(y, proba),
    }


def confusion(y: npt.NDArray[np.int64], proba: Array) -> list[list[int]]:
    predicted = (proba >= 0.5).astype(np.int64)
    return [[int(np.sum((y == t) & (predicted == p))) for p in (0, 1)] for t in (0, 1)]


def model_card(
    setting: Setting, params: dict[str, Any], final: dict[str, float], matrix: list[list[int]], data: DemoData
) -> str:
    rows = "\n".join(f"| {key} | {value} |" for key, value in params.items())
    scores = "\n".join(f"| {key} | {final[key]:.4f} |" for key in FINAL_METRICS)
    negative, positive = data.labels
    return f"""# Model card: {setting.name}

## Model
{params["model"]}, trained by `plimsoll demo` ({setting.family}).

| param | value |
|---|---|
{rows}

## Data
{data.description}. Loaded with `{DATASET}` (bundled with scikit-learn; no download).
Split, stratified, random_state={params["random_state"]}: {len(data.y_train)} rows to train,
{len(data.y_val)} to validate (choose the best setting), {len(data.y_test)} held out to test (the
release's evaluation). Positive class: {positive}.

## Validation metrics (threshold 0.5)

| metric | value |
|---|---|
{scores}

Confusion matrix (rows: true, columns: predicted; order {negative}, {positive}): {matrix}

## Intended use and limitations
A demonstration of experiment tracking only. Not a medical device: never use it to diagnose anyone.
One small, old dataset from a single site; no calibration study, no fairness analysis.
"""

"""A monitor on real data with real drift, for the monitor pages' tests and screenshots.

`seed_housing(client)` registers a model `housing` with its alias `production`, a reference
dataset (NannyML's modified California housing, in ../shared/data: the features, the model's
predictions and scores, the labels), and logs the later traffic (11 months, covariate shift in its
later part) as the alias's predictions with a `region` column, its labels a day later and a
business outcome two days later. The outcome is derived, not real: `revenue` is 100 for each house
the model flagged as expensive that was (a commission on the leads it found), else 0.

Then it makes two monitors: `housing-prod` (30-day windows per region, every window computed) and
`housing-new` (made now: no window yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from plimsoll.client import Client

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
FEATURES = ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup", "Latitude", "Longitude"]
DAY_MS = 86_400_000
MONITOR = "housing-prod"
EMPTY_MONITOR = "housing-new"
REFERENCE = {
    "kind": "dataset",
    "dataset": "housing-reference@1",
    "target": "clf_target",
    "prediction": "y_pred",
    "score": "y_pred_proba",
}


@dataclass(frozen=True)
class Housing:
    first: int  # epoch ms of the first prediction logged
    last: int
    rows: int


def _region(frame: pd.DataFrame) -> np.ndarray:
    return np.where(frame.Latitude > 36, "north", "south")


def seed_housing(client: Client) -> Housing:
    reference = pd.read_csv(DATA / "california_housing_reference.csv.gz")
    reference["region"] = _region(reference)
    traffic = pd.read_csv(DATA / "california_housing_analysis.csv.gz")
    truth = pd.read_csv(DATA / "california_housing_analysis_gt.csv.gz")
    traffic = traffic.merge(truth, on="id")
    stamps = pd.to_datetime(traffic.timestamp).to_numpy().astype("datetime64[ms]").astype("int64")
    traffic["region"] = _region(traffic)
    with client.start_run(experiment="housing", capture=False) as run:
        run.log_text("a model", "model/weights.txt")
    client.registry.register("housing", run_id=run.id, artifact_path="model")
    client.registry.set_alias("housing", "production", 1)
    client.datasets.register("housing-reference", reference)
    ids = [str(i) for i in traffic.id]
    client.log_predictions(
        "housing@production",
        traffic[[*FEATURES, "region"]],
        traffic.y_pred,
        scores=traffic.y_pred_proba,
        ids=ids,
        timestamps=stamps.tolist(),
    )
    client.log_labels(ids, traffic.clf_target, model="housing", timestamps=(stamps + DAY_MS).tolist())
    revenue = np.where((traffic.y_pred == 1) & (traffic.clf_target == 1), 100.0, 0.0)
    client.log_outcomes(ids, {"revenue": revenue}, model="housing", timestamps=(stamps + 2 * DAY_MS).tolist())
    client.monitoring.flush(120)
    client.monitors.create(
        MONITOR, "housing@production", REFERENCE, features=FEATURES, every="30d", segment_by="region"
    )
    client.monitors.backfill(MONITOR, int(stamps.min()), int(stamps.max()) + 1)
    client.monitors.create(EMPTY_MONITOR, "housing@production", REFERENCE, features=FEATURES, every="1d")
    return Housing(int(stamps.min()), int(stamps.max()), len(traffic))

"""A monitor reads its windows' segments with Arrow (users' queries with DuckDB): batches logged
with different column types (a pandas categorical, integers then floats, numbers then text) come
back as one table, the same rows and values either way."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from plimsoll.client import Client
from plimsoll.core.config import Settings


def test_segments_logged_with_different_column_types_read_as_one_table(tmp_path: Path) -> None:
    client = Client(settings=Settings.from_env().with_overrides(home=tmp_path))
    try:
        with client.start_run(experiment="types", capture=False) as run:
            run.log_text("a model", "model/weights.txt")
        client.registry.register("m", run_id=run.id, artifact_path="model")
        client.registry.set_alias("m", "prod", 1)
        monitoring = client.platform.service("monitoring")
        batches = [
            pd.DataFrame({"city": pd.Categorical(["x", "y", "x"]), "amount": [1.5, 2.0, 3.0]}),
            pd.DataFrame({"city": ["z", "y", "x"], "amount": [1, 2, 3]}),
        ]
        for at, batch in enumerate(batches):
            client.log_predictions("m@prod", batch, [0, 1, 0], timestamps=[3 * at + i for i in range(3)])
            client.monitoring.flush()  # a segment per batch
        monitored = monitoring.alias_rows("m", "prod", 0, 100)
        assert monitored.column("city").to_pylist() == ["x", "y", "x", "z", "y", "x"]
        assert monitored.column("amount").to_pylist() == [1.5, 2.0, 3.0, 1.0, 2.0, 3.0]
        queried = monitoring.read("predictions", model="m")
        assert queried.select(["city", "amount"]).equals(monitored.select(["city", "amount"]))

        # Text where numbers were: Arrow cannot put the columns together, DuckDB's union can.
        client.log_predictions(
            "m@prod", pd.DataFrame({"city": ["w"], "amount": ["n/a"]}), [1], timestamps=[9]
        )
        client.monitoring.flush()
        monitored = monitoring.alias_rows("m", "prod", 0, 100)
        assert monitored.num_rows == 7 and monitored.column("amount").to_pylist()[-1] == "n/a"
    finally:
        client.close()


def test_a_window_joins_the_labels_of_its_horizon_only(tmp_path: Path) -> None:
    """Labels arriving within 30 days after a window count for it; later ones do not (and a
    backfill of old windows does not read every label logged since)."""
    import numpy as np

    client = Client(settings=Settings.from_env().with_overrides(home=tmp_path))
    try:
        with client.start_run(experiment="horizon", capture=False) as run:
            run.log_text("a model", "model/weights.txt")
        client.registry.register("m", run_id=run.id, artifact_path="model")
        client.registry.set_alias("m", "prod", 1)
        rng = np.random.default_rng(0)
        reference = pd.DataFrame({"x": rng.normal(size=500), "label": rng.integers(0, 2, 500)})
        reference["prediction"] = (reference.x > 0).astype(int)
        client.datasets.register("m-reference", reference)
        day = 86_400_000
        ids = [f"p{i}" for i in range(60)]
        client.log_predictions("m@prod", pd.DataFrame({"x": rng.normal(size=60)}), [0, 1] * 30, ids=ids,
                               timestamps=[1_000 + i for i in range(60)])  # fmt: skip
        client.log_labels(ids[:40], [1] * 40, model="m", timestamps=[2 * day] * 40)  # two days late
        client.log_labels(ids[40:], [1] * 20, model="m", timestamps=[45 * day] * 20)  # 45 days late
        client.monitoring.flush()
        spec = {"kind": "dataset", "dataset": "m-reference@1", "target": "label", "prediction": "prediction"}
        client.monitors.create("m", "m@prod", spec, features=["x"], every="1d", start=0)
        monitoring = client.platform.service("monitoring")
        monitoring.clock = lambda: 60 * day
        [first, *_] = client.monitors.backfill("m", 0, day)
        assert first.rows == 60 and first.values["labels.coverage"] == pytest.approx(40 / 60)
    finally:
        client.close()

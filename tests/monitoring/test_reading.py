"""A monitor reads its windows' segments with Arrow (users' queries with DuckDB): batches logged
with different column types (a pandas categorical, integers then floats, numbers then text) come
back as one table, the same rows and values either way."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

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

"""The whole platform on S3 blobs (a real S3 wire endpoint on loopback), configured as a team
would: `PLIMSOLL_BLOBS=s3://...` plus the usual AWS_* variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from plimsoll.client import Client
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer


def test_run_artifacts_round_trip_through_s3(
    s3_blob_url: tuple[str, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, options = s3_blob_url
    monkeypatch.setenv("AWS_ENDPOINT_URL", options["endpoint_url"])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", options["key"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", options["secret"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    platform = Platform(store_url=f"sqlite:///{tmp_path / 'p.db'}", blobs_url=url).startup()
    server = LiveServer(platform)
    try:
        with Client(server.url) as client:
            with client.start_run("s3", capture=False) as run:
                (tmp_path / "model.bin").write_bytes(b"\x00weights" * 1000)
                run.log_artifact(tmp_path / "model.bin", artifact_path="model")
            [artifact] = client.list_artifacts(run.id, "model")
            assert artifact.path == "model/model.bin" and artifact.size == 8000
            assert platform.blobs.url.startswith("s3://")
            target = client.download_artifact(run.id, "model/model.bin", tmp_path / "back.bin")
            assert target.read_bytes() == b"\x00weights" * 1000
    finally:
        server.stop()
        platform.close()


def test_a_monitor_reads_its_traffic_from_s3(
    s3_blob_url: tuple[str, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prediction segments in the bucket, read by a monitor's windows (Arrow through the store's
    fsspec filesystem) and by a user's query (DuckDB with that filesystem registered): the same rows."""
    import numpy as np
    import pandas as pd

    url, options = s3_blob_url
    monkeypatch.setenv("AWS_ENDPOINT_URL", options["endpoint_url"])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", options["key"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", options["secret"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    from plimsoll.core.config import Settings

    client = Client(settings=Settings.from_env().with_overrides(home=tmp_path, blobs_url=url))
    platform = client.platform
    try:
        with client.start_run("s3", capture=False) as run:
            run.log_text("a model", "model/weights.txt")
        client.registry.register("churn", run_id=run.id, artifact_path="model")
        client.registry.set_alias("churn", "production", 1)
        rng = np.random.default_rng(0)
        reference = pd.DataFrame({"x": rng.normal(0, 1, 2_000), "label": rng.integers(0, 2, 2_000)})
        reference["prediction"] = (reference.x > 0).astype(int)
        client.datasets.register("churn-reference", reference)
        day = 86_400_000
        traffic = pd.DataFrame({"x": rng.normal(1, 1, 3_000)})
        stamps = (np.arange(3_000) * (2 * day // 3_000)).tolist()
        client.log_predictions("churn@production", traffic, (traffic.x > 0).astype(int), timestamps=stamps)
        client.monitoring.flush()
        monitoring = platform.service("monitoring")
        assert platform.blobs.url.startswith("s3://")
        assert monitoring.segments("predictions", model="churn")

        spec = {
            "kind": "dataset",
            "dataset": "churn-reference@1",
            "target": "label",
            "prediction": "prediction",
        }
        client.monitors.create("churn", "churn@production", spec, features=["x"], every="1d", start=0)
        windows = client.monitors.backfill("churn", 0, 2 * day)
        assert [w.rows for w in windows] == [1_500, 1_500]
        assert windows[0].drift["detected"] is True  # the traffic's x moved by a standard deviation
        queried = monitoring.read("predictions", model="churn")
        monitored = monitoring.alias_rows("churn", "production", 0, 2 * day)
        assert queried.num_rows == monitored.num_rows == 3_000
        assert queried.column("x").to_pylist() == monitored.column("x").to_pylist()
    finally:
        client.close()

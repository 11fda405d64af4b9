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

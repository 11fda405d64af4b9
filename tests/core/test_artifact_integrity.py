"""A corrupted blob is refused with a clear error before the answer starts, and uploading the
original again repairs it: on a local blob folder and on S3 (a real S3 wire endpoint on loopback),
over SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer
from plimsoll.tracking.api import DIGEST_HEADER

MiB = 1 << 20
Corrupt = Callable[[str, bytes], None]


def _key(digest: str) -> str:
    return f"{digest[:2]}/{digest[2:4]}/{digest}"


@pytest.fixture(params=["local", "s3"])
def served(
    request: pytest.FixtureRequest, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[httpx.Client, Corrupt]]:
    """An HTTP client on a live server, and a way to overwrite a stored blob behind its back."""
    corrupt: Corrupt
    if request.param == "local":
        root = tmp_path / "blobs"
        blobs_url = str(root)

        def corrupt(digest: str, data: bytes) -> None:
            (root / _key(digest)).write_bytes(data)
    else:
        blobs_url, options = request.getfixturevalue("s3_blob_url")
        s3: Any = request.getfixturevalue("s3_client")
        monkeypatch.setenv("AWS_ENDPOINT_URL", options["endpoint_url"])
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", options["key"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", options["secret"])
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        bucket, prefix = blobs_url.removeprefix("s3://").split("/", 1)

        def corrupt(digest: str, data: bytes) -> None:
            s3.put_object(Bucket=bucket, Key=f"{prefix}/{_key(digest)}", Body=data)

    platform = Platform(store_url=database_url, blobs_url=blobs_url).startup()
    server = LiveServer(platform)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            yield client, corrupt
    finally:
        server.stop()
        platform.close()


def _run(http: httpx.Client) -> str:
    experiment = http.post("/api/v1/experiments", json={"name": "integrity"}).json()
    run_id: str = http.post("/api/v1/runs", json={"experiment_id": experiment["id"]}).json()["id"]
    return run_id


@pytest.mark.parametrize("size", [100, 3 * MiB + 7])
def test_a_corrupted_blob_is_a_clear_error_and_a_re_upload_repairs_it(
    served: tuple[httpx.Client, Corrupt], size: int
) -> None:
    http, corrupt = served
    content = random.Random(size).randbytes(size)
    run_id = _run(http)
    url = f"/api/v1/runs/{run_id}/artifacts/model/weights.bin"
    uploaded = http.put(url, content=content)
    assert uploaded.status_code == 201, uploaded.text
    digest = uploaded.json()["digest"]

    flipped = bytearray(content)
    flipped[-1] ^= 0x01  # one bit, at the very end: the size is unchanged
    corrupt(digest, bytes(flipped))
    answer = http.get(url)  # read whole: a body broken off midway would raise here
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/json"
    error = answer.json()["error"]
    assert error["code"] == "BLOB_CORRUPTED" and error["details"]["digest"] == digest
    assert digest in error["message"]

    repaired = http.put(url, content=content)  # the original bytes again
    assert repaired.status_code == 201 and repaired.json()["digest"] == digest
    answer = http.get(url)
    assert answer.status_code == 200
    assert answer.headers[DIGEST_HEADER] == digest
    assert answer.content == content

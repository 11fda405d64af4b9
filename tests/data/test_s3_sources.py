"""Sources in a bucket (an S3 server on loopback): registered by copy, and by reference with the
changed or vanished object named on read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from blake3 import blake3

from plimsoll.client import Client
from plimsoll.core.config import Settings
from plimsoll.core.errors import Conflict


@pytest.fixture
def embedded(tmp_path: Path) -> Any:
    with Client(f"sqlite:///{tmp_path / 'p.db'}", settings=Settings(home=tmp_path / "home")) as client:
        yield client


def test_a_bucket_prefix_by_copy_and_by_reference(
    embedded: Client, s3_bucket: tuple[str, Any], tmp_path: Path
) -> None:
    bucket, s3 = s3_bucket
    objects = {"raw/a.csv": b"x,y\n1,2\n", "raw/b.csv": b"x,y\n3,4\n", "raw/deep/c.txt": b"notes"}
    for key, body in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)

    copied = embedded.datasets.register("landing", f"s3://{bucket}/raw")
    assert (copied.files, copied.rows, copied.by_reference) == (3, 2, False)
    assert {e.path: e.digest for e in embedded.datasets.files(copied)} == {
        key.removeprefix("raw/"): blake3(body).hexdigest() for key, body in objects.items()
    }

    kept = embedded.datasets.register("landing-ref", f"s3://{bucket}/raw", by_reference=True)
    assert kept.digest == copied.digest and kept.source_url == f"s3://{bucket}/raw"
    embedded.datasets.verify(kept)
    written = embedded.datasets.download(kept, tmp_path / "out")
    assert (written / "deep" / "c.txt").read_bytes() == b"notes"

    s3.put_object(Bucket=bucket, Key="raw/b.csv", Body=b"x,y\n3,5\n")
    s3.delete_object(Bucket=bucket, Key="raw/deep/c.txt")
    with pytest.raises(Conflict) as caught:
        embedded.datasets.verify("landing-ref@1")
    assert "'b.csv' changed" in caught.value.message and "'deep/c.txt' vanished" in caught.value.message
    # The copy is untouched by what happened in the bucket.
    assert (embedded.datasets.download(copied, tmp_path / "copy") / "b.csv").read_bytes() == b"x,y\n3,4\n"

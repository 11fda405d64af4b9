"""Fixtures for core tests: a real S3 wire endpoint (moto server mode) on loopback."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest

S3_CREDENTIALS = {"key": "testing", "secret": "testing"}


@pytest.fixture(scope="session")
def s3_client(s3_endpoint: str) -> Any:
    """A boto3 S3 client for the moto endpoint, to arrange and inspect buckets behind the code's back."""
    return boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        aws_access_key_id=S3_CREDENTIALS["key"],
        aws_secret_access_key=S3_CREDENTIALS["secret"],
        region_name="us-east-1",
    )


@pytest.fixture
def s3_blob_url(s3_endpoint: str, s3_client: Any) -> tuple[str, dict[str, Any]]:
    """A fresh, empty bucket: `(url, storage_options)` for `BlobStore.from_url(url, **storage_options)`."""
    bucket = f"plimsoll-{uuid.uuid4().hex[:16]}"
    s3_client.create_bucket(Bucket=bucket)
    return f"s3://{bucket}/blobs", {"endpoint_url": s3_endpoint, **S3_CREDENTIALS}

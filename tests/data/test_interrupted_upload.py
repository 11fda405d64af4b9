"""A remote registration killed with SIGKILL during its uploads leaves no version, and the next
attempt uploads only what is still missing and completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from blake3 import blake3
from data_support import make_tree

from plimsoll.client import Client
from plimsoll.core.errors import NotFound
from plimsoll.server.testing import LiveServer

WORKER = Path(__file__).with_name("register_worker.py")


def test_a_killed_upload_leaves_no_version_and_the_retry_completes(
    live_server: LiveServer, tmp_path: Path
) -> None:
    files = {f"shard-{i:02d}.bin": os.urandom(256 * 1024) for i in range(12)}
    root = make_tree(tmp_path / "shards", files)
    digests = [blake3(content).hexdigest() for content in files.values()]
    with subprocess.Popen(
        [sys.executable, str(WORKER), live_server.url, "shards", str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as worker:
        assert worker.stdout is not None and worker.stderr is not None
        for line in worker.stdout:
            if line.startswith("uploading") and int(line.split()[1]) > 0:
                worker.send_signal(signal.SIGKILL)
                break
        else:
            pytest.fail(f"the worker ended before uploading: {worker.stderr.read()}")
        worker.wait(timeout=30)
    assert worker.returncode == -signal.SIGKILL

    service = live_server.platform.data
    still_missing = service.missing_blobs(digests)
    assert 0 < len(still_missing) < len(digests)  # some contents stored ...
    with Client(live_server.url) as client:
        with pytest.raises(NotFound):
            client.datasets.get("shards")  # ... and no version
        uploaded: list[int] = []
        version = client.datasets.register(
            "shards",
            root,
            progress=lambda phase, done, total: uploaded.append(total) if phase == "uploading" else None,
        )
        assert version.version == 1 and version.files == 12
        # Only what was missing was sent: what the server lacked at the kill, less any upload it was
        # still storing then (its request had arrived whole), so at most that and never everything.
        assert len(set(uploaded)) == 1
        sent_files = uploaded[0] // (256 * 1024)
        assert sent_files <= len(still_missing) < len(digests)
        assert service.missing_blobs(digests) == []
        written = client.datasets.download(version, tmp_path / "back")
        assert {p.name: p.read_bytes() for p in written.iterdir()} == files

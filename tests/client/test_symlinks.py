"""Uploading a directory does not follow symbolic links unless asked: a link may lead out of the
directory, to a key or a home folder, and what it leads to would be uploaded."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from plimsoll.client import Client
from plimsoll.core.config import Settings


def _tree(tmp_path: Path) -> Path:
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "id_rsa").write_text("PRIVATE KEY")
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "model.txt").write_text("weights")
    (out / "sub" / "log.txt").write_text("log")
    os.symlink(secret / "id_rsa", out / "key")
    os.symlink(secret, out / "leak")
    os.symlink(out, out / "sub" / "loop")  # back up the tree
    return out


@pytest.fixture
def client(tmp_path: Path) -> Iterator[Client]:
    embedded = Client(f"sqlite:///{tmp_path / 'p.db'}", settings=Settings(home=tmp_path / "home"))
    try:
        yield embedded
    finally:
        embedded.close()


def test_links_in_an_uploaded_directory_are_not_followed(client: Client, tmp_path: Path) -> None:
    out = _tree(tmp_path)
    with (
        client.start_run("e", capture=False) as run,
        pytest.warns(UserWarning, match=r"skipped 3 symbolic link\(s\).*key, leak, sub/loop"),
    ):
        run.log_artifact(out, artifact_path="outputs")
    paths = sorted(a.path for a in client.list_artifacts(run.id))
    assert paths == ["outputs/model.txt", "outputs/sub/log.txt"]


def test_links_are_followed_when_asked_without_looping(client: Client, tmp_path: Path) -> None:
    out = _tree(tmp_path)
    with client.start_run("e", capture=False) as run:
        run.log_artifact(out, follow_symlinks=True)
    paths = sorted(a.path for a in client.list_artifacts(run.id))
    assert paths == ["key", "leak/id_rsa", "model.txt", "sub/log.txt"]

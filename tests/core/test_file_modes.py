"""What the platform writes on disk is readable by its owner only, unless configured otherwise:
the SQLite database (and the -wal and -shm files SQLite makes beside it), the folders made for it,
the blobs and their folders."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from plimsoll.core.config import Settings
from plimsoll.core.db import Database
from plimsoll.core.errors import InvalidParameter
from plimsoll.platform import Platform


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The common default umask, under which files are made readable by everyone."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def _write_something(platform: Platform) -> None:
    experiment = platform.tracking.create_experiment("modes", actor="alice")
    run = platform.tracking.create_run(experiment.id, actor="alice")
    platform.tracking.log_artifact(run.id, "model.bin", b"weights", actor="alice")


def test_the_embedded_store_is_readable_by_its_owner_only(tmp_path: Path, loose_umask: None) -> None:
    os.chmod(tmp_path, 0o755)
    home = tmp_path / "nested" / ".plimsoll"
    platform = Platform(home=home).startup()
    try:
        _write_something(platform)
        database = home / "plimsoll.db"
        assert _mode(database) == 0o600
        assert _mode(Path(f"{database}-wal")) == 0o600 and _mode(Path(f"{database}-shm")) == 0o600
        assert _mode(home) == 0o700 and _mode(home.parent) == 0o700  # the folders it made
        blobs = [path for path in (home / "blobs").rglob("*") if ".tmp" not in path.parts]
        assert blobs and {_mode(p) for p in blobs if p.is_file()} == {0o600}
        assert {_mode(p) for p in blobs if p.is_dir()} | {_mode(home / "blobs")} == {0o700}
    finally:
        platform.close()
    assert _mode(tmp_path) == 0o755  # a folder that existed keeps its own mode


def test_a_configured_mode_opens_them_up(
    tmp_path: Path, loose_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLIMSOLL_FILE_MODE", "0640")
    home = tmp_path / ".plimsoll"
    platform = Platform(Settings.from_env(), home=home).startup()
    try:
        _write_something(platform)
        assert _mode(home / "plimsoll.db") == 0o640 and _mode(home) == 0o750
        blob = next(
            path for path in (home / "blobs").rglob("*") if path.is_file() and ".tmp" not in path.parts
        )
        assert _mode(blob) == 0o640 and _mode(blob.parent) == 0o750
    finally:
        platform.close()


@pytest.mark.parametrize("text", ["0644x", "0700", "0400", "1777", "rw-------", "0o2600"])
def test_a_bad_file_mode_names_the_setting(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLIMSOLL_FILE_MODE", text)
    with pytest.raises(InvalidParameter) as caught:
        Settings.from_env()
    assert caught.value.field == "PLIMSOLL_FILE_MODE" and repr(text) in caught.value.message


def test_an_existing_database_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    path.touch(mode=0o644)
    os.chmod(path, 0o644)
    database = Database(f"sqlite:///{path}")
    try:
        database.ping()
    finally:
        database.dispose()
    assert _mode(path) == 0o644

"""What a version is made from, and every bad input refused with an error naming the file or field."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from data_support import DATA, make_tree

from plimsoll.core.errors import Conflict, InvalidParameter
from plimsoll.data.entities import (
    ManifestEntry,
    check_dataset_name,
    check_manifest,
    manifest_digest,
    parse_ref,
)
from plimsoll.data.hashing import hash_local
from plimsoll.data.profiles import profile
from plimsoll.data.sources import FRAME_FILE, collect, local_files

DIGEST = "a" * 64


def _frame_digest(frame: object) -> str:
    with collect(frame, by_reference=False) as found:
        [file] = found.local
        assert file.path == FRAME_FILE
        return manifest_digest(hash_local(found.local).entries)


def test_the_same_frame_gives_the_same_digest() -> None:
    frame = pd.read_csv(DATA / "california_housing_reference.csv.gz")
    assert _frame_digest(frame) == _frame_digest(frame.copy())
    assert _frame_digest(pa.Table.from_pandas(frame)) == _frame_digest(pa.Table.from_pandas(frame))
    polars_frame = pl.from_pandas(frame)
    assert _frame_digest(polars_frame) == _frame_digest(polars_frame.clone())
    changed = frame.copy()
    changed.loc[0, "MedInc"] += 1
    assert _frame_digest(changed) != _frame_digest(frame)


@pytest.mark.parametrize("name", ["a@b", "a/b", "a:b", "", " padded", "x" * 201])
def test_names_that_break_the_rules_are_refused(name: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        check_dataset_name("name", name)
    assert caught.value.field == "name"


def test_a_reference_names_its_version() -> None:
    assert parse_ref("ref", "churn") == ("churn", None)
    assert parse_ref("ref", "churn@12") == ("churn", 12)
    with pytest.raises(InvalidParameter, match="version must be a whole number from 1, got '0'"):
        parse_ref("ref", "churn@0")


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("../escape.csv", "manifest\\[0\\].path"),
        ("/etc/passwd", "manifest\\[0\\].path"),
        ("a/../../b", "manifest\\[0\\].path"),
    ],
)
def test_a_manifest_path_that_escapes_its_root_is_refused(path: str, problem: str) -> None:
    with pytest.raises(InvalidParameter, match=problem):
        check_manifest([ManifestEntry(path, DIGEST, 1)])


def test_a_manifest_is_checked_whole() -> None:
    with pytest.raises(InvalidParameter, match="manifest: is empty"):
        check_manifest([])
    with pytest.raises(Conflict, match="names the file 'a' twice"):
        check_manifest([ManifestEntry("a", DIGEST, 1), ManifestEntry("a", DIGEST, 1)])
    with pytest.raises(InvalidParameter, match=r"manifest\[0\].digest"):
        check_manifest([ManifestEntry("a", "nothex", 1)])
    with pytest.raises(InvalidParameter, match=r"manifest\[0\].size"):
        check_manifest([ManifestEntry("a", DIGEST, -1)])


def test_a_symlink_out_of_the_folder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("not part of the dataset")
    root = make_tree(tmp_path / "tree", {"a.txt": b"a"})
    (root / "leak.txt").symlink_to(outside)
    with pytest.raises(InvalidParameter, match=r"'leak.txt' is a symbolic link that leads outside"):
        local_files(root)


def test_a_symlink_inside_the_folder_is_read(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "tree", {"a.txt": b"a"})
    (root / "b.txt").symlink_to(root / "a.txt")
    assert [f.path for f in local_files(root)] == ["a.txt", "b.txt"]


def test_a_link_to_a_folder_is_refused(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "tree", {"a.txt": b"a"})
    (root / "loop").symlink_to(root)
    with pytest.raises(InvalidParameter, match="'loop' is a symbolic link to a folder"):
        local_files(root)


def test_empty_missing_and_special_sources_are_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidParameter, match="holds no files: an empty dataset"):
        local_files(tmp_path / "empty")
    with pytest.raises(InvalidParameter, match="does not exist"):
        local_files(tmp_path / "nowhere")
    root = make_tree(tmp_path / "tree", {"a.txt": b"a"})
    os.mkfifo(root / "pipe")
    with pytest.raises(InvalidParameter, match="'pipe' is not a regular file"):
        local_files(root)
    with (
        pytest.raises(InvalidParameter, match=r"source: must be a file or folder path.*got int"),
        collect(3, by_reference=False),
    ):
        pass
    with (
        pytest.raises(InvalidParameter, match="by_reference"),
        collect(pd.DataFrame({"a": [1]}), by_reference=True),
    ):
        pass
    with pytest.raises(InvalidParameter, match="has no columns"), collect(pd.DataFrame(), by_reference=False):
        pass


def test_malformed_tabular_files_are_named(tmp_path: Path) -> None:
    bad = make_tree(tmp_path / "bad", {"part-0.parquet": b"PAR1 this is not parquet", "ok.txt": b"x"})
    with pytest.raises(InvalidParameter, match=r"file 'part-0.parquet' is not readable Parquet"):
        profile([(f.path, partial(f.absolute.open, "rb")) for f in local_files(bad)])  # type: ignore[misc]
    ragged = make_tree(tmp_path / "ragged", {"t.csv": b"a,b\n1,2\n3,4,5\n"})
    with pytest.raises(InvalidParameter, match=r"file 't.csv' is not readable CSV"):
        profile([(f.path, partial(f.absolute.open, "rb")) for f in local_files(ragged)])  # type: ignore[misc]

"""`plimsoll data add|list|show|get` on the embedded store (PLIMSOLL_HOME) and against a server."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from data_support import DATA, make_tree

sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
from cli_support import cli, ok_json

from plimsoll.server.testing import LiveServer


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("PLIMSOLL_URL", "PLIMSOLL_STORE", "PLIMSOLL_BLOBS", "PLIMSOLL_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PLIMSOLL_HOME", str(tmp_path / ".plimsoll"))
    return tmp_path / ".plimsoll"


def test_add_list_show_get_as_json(home: Path, tmp_path: Path) -> None:
    root = tmp_path / "flights"
    root.mkdir()
    shutil.copy(DATA / "flight_delays_2015h1.csv.gz", root)
    (root / "README").write_text("US flights, first half of 2015\n")
    added = ok_json("data", "add", "flights", str(root), "--description", "H1", "--tag", "source=dot")
    assert {k: added[k] for k in ("name", "version", "files", "rows")} == {
        "name": "flights",
        "version": 1,
        "files": 2,
        "rows": 49992,
    }
    assert len(added["digest"]) == 64 and added["bytes"] > 0 and added["tags"] == {"source": "dot"}
    assert ok_json("data", "add", "flights", str(root))["version"] == 1  # the same content
    [listed] = ok_json("data", "list")["datasets"]
    assert listed["name"] == "flights" and listed["latest"]["digest"] == added["digest"]
    shown = ok_json("data", "show", "flights@1")
    assert [c["name"] for c in shown["schema"]][:3] == ["", "CANCELLED", "AIRLINE"]
    assert (
        shown["profile"]["DISTANCE"]["kind"] == "numeric"
        and shown["profile"]["AIRLINE"]["kind"] == "categorical"
    )
    originals = {path.name: path.read_bytes() for path in root.iterdir()}
    (root / "README").write_text("US flights, first half of 2015, sampled\n")
    assert ok_json("data", "add", "flights", str(root))["version"] == 2
    changes = ok_json("data", "diff", "flights@1", "flights@2")
    assert [(f["path"], f["change"]) for f in changes["files"]] == [("README", "changed")]
    shown_diff = cli("data", "diff", "flights@1", "flights")
    assert shown_diff.exit_code == 0 and "~ README" in shown_diff.stdout
    got = ok_json("data", "get", "flights@1", str(tmp_path / "out"))
    assert got["version"] == 1
    assert {path.name: path.read_bytes() for path in (tmp_path / "out").iterdir()} == originals


def test_tables_and_errors(home: Path, tmp_path: Path) -> None:
    root = make_tree(tmp_path / "d", {"a.txt": b"a"})
    assert cli("data", "add", "notes", str(root)).exit_code == 0
    listing = cli("data", "list")
    assert listing.exit_code == 0 and "notes" in listing.stdout
    shown = cli("data", "show", "notes")
    assert shown.exit_code == 0 and "notes@1" in shown.stdout
    bad_name = cli("data", "add", "a:b", str(root))
    assert bad_name.exit_code == 2 and "name: must not contain" in bad_name.output
    bad_tag = cli("data", "add", "notes", str(root), "--tag", "novalue")
    assert bad_tag.exit_code == 2 and "--tag: must be KEY=VALUE" in bad_tag.output
    missing = cli("data", "show", "notes@9")
    assert missing.exit_code == 3 and "has no version 9" in missing.output


def test_add_and_get_against_a_server(sqlite_live_server: LiveServer, tmp_path: Path) -> None:
    root = make_tree(tmp_path / "d", {"x/y.bin": b"\x00\x01" * 1000})
    added = ok_json("data", "add", "remote", str(root), "--url", sqlite_live_server.url)
    assert added["version"] == 1 and added["files"] == 1 and added["rows"] is None
    ok_json("data", "get", "remote", str(tmp_path / "out"), "--url", sqlite_live_server.url)
    assert (tmp_path / "out" / "x" / "y.bin").read_bytes() == b"\x00\x01" * 1000


def test_every_data_command_is_documented() -> None:
    from plimsoll.cli import data

    repo = Path(__file__).resolve().parents[2]
    text = (repo / "docs" / "cli.md").read_text(encoding="utf-8") + (repo / "docs" / "data.md").read_text(
        encoding="utf-8"
    )
    for command in data.app.registered_commands:
        assert f"plimsoll data {command.name}" in text
        assert f"`data {command.name} --json`" in text


def test_delete_names_what_keeps_a_version_and_deletes_with_force(home: Path, tmp_path: Path) -> None:
    root = make_tree(tmp_path / "d", {"a.txt": b"a"})
    ok_json("data", "add", "raw", str(root))
    link = cli("lineage", "link", "dataset:raw@1", "model:churn/1", "--role", "used", "--context", "training")
    assert link.exit_code == 0, link.output
    refused = cli("data", "delete", "raw@1")
    assert refused.exit_code != 0
    assert (
        "raw@1 is kept: model:churn/1 depends on it" in refused.output and "Traceback" not in refused.output
    )
    unnamed = cli("data", "delete", "raw")
    assert unnamed.exit_code != 0 and "name the version to delete ('raw@VERSION')" in unnamed.output
    deleted = ok_json("data", "delete", "raw@1", "--force")
    assert (deleted["name"], deleted["version"]) == ("raw", 1)
    assert ok_json("data", "list")["datasets"] == []

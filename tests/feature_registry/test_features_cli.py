"""`plimsoll features list|versions|show|skew|checks|check` on the embedded store (PLIMSOLL_HOME):
the definitions are registered from Python, the CLI reads them and checks skew on data that holds
the features' values (files and dataset versions)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from feature_support import HOUSING_FEATURES, housing, module

sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
from cli_support import cli, ok_json

from plimsoll.client import Client

NAMES = ["rooms_per_person", "income_band"]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("PLIMSOLL_URL", "PLIMSOLL_STORE", "PLIMSOLL_BLOBS", "PLIMSOLL_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PLIMSOLL_HOME", str(tmp_path / ".plimsoll"))
    return tmp_path / ".plimsoll"


def test_definitions_and_a_skew_check_from_the_command_line(home: Path, tmp_path: Path) -> None:
    code = module(tmp_path / "code", HOUSING_FEATURES)
    edited = module(tmp_path / "edited", HOUSING_FEATURES.replace("// 3", "// 2"))
    with Client() as client:
        client.features.register(
            "rooms_per_person", code.rooms_per_person, dtype="float64", inputs=["AveRooms", "AveOccup"]
        )
        client.features.register("income_band", code.income_band, dtype="string", inputs=["MedInc"])
        client.features.register("income_band", edited.income_band, dtype="string", inputs=["MedInc"])
        training = client.features.compute(
            housing("reference"),
            {"rooms_per_person": code.rooms_per_person, "income_band@1": code.income_band},
        )
        client.datasets.register("housing-features", training)
        serving = client.features.compute(
            housing("analysis"),
            {"rooms_per_person": code.rooms_per_person, "income_band@1": code.income_band},
        )
    serving.to_parquet(tmp_path / "served.parquet")

    listed = ok_json("features", "list")["features"]
    assert [(f["name"], f["latest"]["version"]) for f in listed] == [
        ("income_band", 2),
        ("rooms_per_person", 1),
    ]
    versions = ok_json("features", "versions", "income_band")["versions"]
    assert [v["changes"] for v in versions] == [[], ["source"]]
    shown = ok_json("features", "show", "income_band@1")
    assert (
        shown["version"] == 1 and "def income_band(df):" in shown["source"] and shown["latest_check"] is None
    )
    table = cli("features", "show", "income_band")
    assert table.exit_code == 0 and "band" in table.stdout and "source hash" in table.stdout

    skewed = cli(
        "features",
        "skew",
        "rooms_per_person",
        "income_band@1",
        "--training",
        "housing-features@1",
        "--serving",
        str(tmp_path / "served.parquet"),
        "--json",
    )
    assert skewed.exit_code == 1  # a feature is skewed: a pipeline step fails
    import orjson

    check = orjson.loads(skewed.stdout)
    assert sorted(check["skewed"]) == ["income_band@1", "rooms_per_person@1"]
    assert (
        check["training"]["dataset"] == "housing-features@1"
        and check["serving"]["label"] == "file served.parquet"
    )
    same = cli(
        "features", "skew", *NAMES[:1], "--training", "housing-features", "--serving", "housing-features"
    )
    assert same.exit_code == 0 and "no feature is skewed" in same.stdout
    checks = ok_json("features", "checks", "--feature", "income_band")["checks"]
    assert [c["id"] for c in checks] == [check["id"]]
    assert ok_json("features", "check", check["id"])["id"] == check["id"]
    shown_check = cli("features", "check", check["id"])
    assert shown_check.exit_code == 0 and "skewed" in shown_check.stdout and "mean" in shown_check.stdout
    assert ok_json("features", "show", "income_band@1")["latest_check"]["id"] == check["id"]


def test_errors_are_one_line_and_an_exit_code(home: Path, tmp_path: Path) -> None:
    unknown = cli("features", "show", "nowhere")
    assert unknown.exit_code == 3 and "feature 'nowhere' has no versions" in unknown.output
    bad = cli("features", "show", "a/b")
    assert bad.exit_code == 2 and "ref" in bad.output and "'/'" in bad.output
    code = module(tmp_path / "code", HOUSING_FEATURES)
    with Client() as client:
        client.features.register("house_age", code.house_age, dtype="float64", inputs=["HouseAge"])
    housing("reference").to_csv(tmp_path / "raw.csv", index=False)
    # The CLI has no function to compute a feature with: the data must hold its values.
    lacking = cli(
        "features",
        "skew",
        "house_age",
        "--training",
        str(tmp_path / "raw.csv"),
        "--serving",
        str(tmp_path / "raw.csv"),
    )
    assert lacking.exit_code == 2 and "no column 'house_age'" in lacking.output
    missing = cli("features", "check", "0" * 32)
    assert missing.exit_code == 3 and "not found" in missing.output


def test_every_features_command_is_documented() -> None:
    from plimsoll.cli import features

    repo = Path(__file__).resolve().parents[2]
    text = (repo / "docs" / "cli.md").read_text(encoding="utf-8")
    for command in features.app.registered_commands:
        assert f"plimsoll features {command.name}" in text
        assert f"`features {command.name} --json`" in text

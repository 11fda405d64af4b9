"""`plimsoll evaluations list|show|compare` on the embedded store (PLIMSOLL_HOME): evaluations are
made from Python, the CLI reads and compares them."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
from cli_support import cli, ok_json

from plimsoll.client import Client


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("PLIMSOLL_URL", "PLIMSOLL_STORE", "PLIMSOLL_BLOBS", "PLIMSOLL_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PLIMSOLL_HOME", str(tmp_path / ".plimsoll"))
    return tmp_path / ".plimsoll"


def test_list_show_and_compare(home: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=500), "region": rng.choice(["n", "s"], 500)})
    frame["gender"] = rng.choice(["f", "m"], 500)
    frame["label"] = (frame["x"] + rng.normal(size=500) > 0).astype(int)
    with Client() as client:
        common = {"task": "classification", "target": "label", "features": ["x"], "sensitive": "gender"}
        champion = client.evaluate(lambda rows: np.full(len(rows), 0.5), frame, **common)
        challenger = client.evaluate(
            lambda rows: 1 / (1 + np.exp(-rows["x"].to_numpy())), frame, slices="region", **common
        )
        elsewhere = client.evaluate(lambda rows: np.full(len(rows), 0.5), frame.head(100), **common)

    listed = ok_json("evaluations", "list")["evaluations"]
    assert [e["id"] for e in listed] == [elsewhere.id, challenger.id, champion.id]
    shown = cli("evaluations", "show", challenger.id)
    assert shown.exit_code == 0, shown.output
    assert "roc_auc" in shown.output and "slices by region" in shown.output
    assert "demographic_parity_difference" in shown.output
    compared = ok_json("evaluations", "compare", champion.id, challenger.id)
    assert compared["metrics"]["roc_auc"]["better"] == "challenger"
    table = cli("evaluations", "compare", champion.id, challenger.id)
    assert table.exit_code == 0 and "challenger" in table.output
    refused = cli("evaluations", "compare", champion.id, elsewhere.id)
    assert refused.exit_code == 4 and "same data" in refused.output
    missing = cli("evaluations", "show", "0" * 32)
    assert missing.exit_code == 3

"""Validating dataset versions with pandera schemas, through the SDK embedded and over HTTP, on
SQLite and PostgreSQL, on the real flight-delay data (first half of 2015): what holds passes,
what does not is counted with a few failing values, and the outcome stays on the version."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import pytest
from data_support import DATA, make_tree

from plimsoll.client import Client
from plimsoll.core.errors import Conflict, InvalidParameter
from plimsoll.platform import Platform

AIRLINES = ["AA", "AS", "B6", "DL", "EV", "F9", "HA", "MQ", "NK", "OO", "UA", "US", "VX", "WN"]


def _flights() -> pd.DataFrame:
    frame = pd.read_csv(DATA / "flight_delays_2015h1.csv.gz")
    return frame.drop(columns=["Unnamed: 0"])


def _schema(min_value: float = -100, max_value: float = 2000) -> pa.DataFrameSchema:
    return pa.DataFrameSchema(
        {
            "CANCELLED": pa.Column(int, pa.Check.isin([0, 1])),
            "AIRLINE": pa.Column(str, pa.Check.isin(AIRLINES)),
            "DEPARTURE_DELAY": pa.Column(float, pa.Check.in_range(min_value, max_value), nullable=True),
            "DISTANCE": pa.Column(int, pa.Check.gt(0)),
            "AIR_TIME": pa.Column(float, nullable=False),
        }
    )


def test_a_schema_that_holds_passes_and_the_version_says_so(sdk: Client) -> None:
    schema = pa.DataFrameSchema(
        {
            "CANCELLED": pa.Column(int, pa.Check.isin([0, 1])),
            "AIRLINE": pa.Column(str, pa.Check.isin(AIRLINES)),
            "DISTANCE": pa.Column(int, pa.Check.in_range(1, 5000)),
            "AIR_TIME": pa.Column(float, nullable=True),
        }
    )
    version = sdk.datasets.register("flights", _flights(), schema=schema)
    assert version.validation == "passed"
    (done,) = sdk.datasets.validations("flights@1")
    assert done.passed and done.rows == 49_992 and done.failures == ()
    assert "AIRLINE" in done.schema  # the YAML the checks ran from is kept


def test_failing_checks_are_counted_with_examples(sdk: Client) -> None:
    sdk.datasets.register("flights", _flights())
    done = sdk.datasets.validate("flights", _schema(min_value=-30, max_value=600), min_rows=60_000)
    assert not done.passed and sdk.datasets.get("flights").validation == "failed"
    failures = {(f.column, f.check): f for f in done.failures}
    frame = _flights()
    delays = frame["DEPARTURE_DELAY"].dropna()
    out_of_range = int(((delays < -30) | (delays > 600)).sum())
    assert failures[("DEPARTURE_DELAY", "in_range(-30, 600)")].failures == out_of_range > 0
    assert failures[("AIR_TIME", "not_nullable")].failures == int(frame["AIR_TIME"].isna().sum()) == 1225
    assert failures[(None, "at least 60,000 rows")].examples == ("49,992 rows",)
    example = failures[("DEPARTURE_DELAY", "in_range(-30, 600)")].examples[0]
    assert example.startswith("data.parquet: ") and "(row " in example  # the file, the value, the row
    assert all(len(f.examples) <= 5 for f in done.failures)
    assert {column for column, _ in failures} == {"DEPARTURE_DELAY", "AIR_TIME", None}  # the rest held
    history = sdk.datasets.validations("flights")
    assert [v.id for v in history] == [done.id]


def test_a_schema_from_yaml_text_or_file_runs_the_same(sdk: Client, tmp_path: Path) -> None:
    sdk.datasets.register("flights", _flights())
    text = _schema(min_value=-30, max_value=600).to_yaml()
    path = tmp_path / "flights.yaml"
    path.write_text(text)
    from_text = sdk.datasets.validate("flights", text)
    from_file = sdk.datasets.validate("flights", path)
    assert from_text.failures == from_file.failures and not from_file.passed
    assert [v.id for v in sdk.datasets.validations("flights")] == [from_file.id, from_text.id]


def test_bad_schemas_and_bounds_are_refused_naming_the_field(sdk: Client, tmp_path: Path) -> None:
    sdk.datasets.register("flights", _flights())
    with pytest.raises(InvalidParameter, match="schema: is not a pandera schema in YAML"):
        sdk.datasets.validate("flights", "columns: [\n")
    with pytest.raises(InvalidParameter, match="schema: must be a pandera DataFrameSchema"):
        sdk.datasets.validate("flights", 42)
    with pytest.raises(InvalidParameter, match="is not a file"):
        sdk.datasets.validate("flights", tmp_path / "missing.yaml")
    lambda_check = pa.DataFrameSchema({"DISTANCE": pa.Column(int, pa.Check(lambda s: s > 0))})
    with pytest.raises(InvalidParameter, match="schema: cannot be written as YAML"):
        sdk.datasets.validate("flights", lambda_check)
    with pytest.raises(InvalidParameter, match="min_rows"):
        sdk.datasets.validate("flights", _schema(), min_rows=-1)
    files = sdk.datasets.register("notes", make_tree(tmp_path / "n", {"a.txt": b"text"}))
    with pytest.raises(Conflict, match="notes@1 holds no Parquet or CSV file to validate"):
        sdk.datasets.validate(files, _schema())
    assert sdk.datasets.validations("flights") == [] and sdk.datasets.get("flights").validation is None


def test_a_validation_publishes_its_outcome(platform: Platform, tmp_path: Path) -> None:
    root = make_tree(tmp_path / "d", {"t.csv": b"DISTANCE\n10\n-3\n"})
    platform.data.register("tiny", root, actor="ada")
    schema = pa.DataFrameSchema({"DISTANCE": pa.Column(int, pa.Check.gt(0))}).to_yaml()
    done = platform.data.validate("tiny", 1, schema, actor="ada")
    assert [(f.column, f.failures, f.examples) for f in done.failures] == [
        ("DISTANCE", 1, ("t.csv: -3 (row 1)",))
    ]
    page = platform.outbox.follow(None, ["dataset.validated"], 100, project="default")
    assert [e.payload for e in page.events] == [
        {
            "dataset": "tiny",
            "version": 1,
            "project": "default",
            "passed": False,
            "rows": 2,
            "failed_checks": 1,
        }
    ]

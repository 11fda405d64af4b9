"""Shared fixtures: the real data sets in ../shared/data (or $PLIMSOLL_SHARED_DATA)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest


def _repo_root() -> Path:
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file():
            return parent
    raise RuntimeError("tests/stats is not inside the repository")


def shared_data_dir() -> Path:
    override = os.environ.get("PLIMSOLL_SHARED_DATA")
    return Path(override) if override else (_repo_root() / ".." / "shared" / "data").resolve()


def _read(name: str) -> pd.DataFrame:
    path = shared_data_dir() / name
    if not path.is_file():
        reason = f"real data {path} is not available (set PLIMSOLL_SHARED_DATA)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason}; CI=true: this may not be skipped")
        pytest.skip(reason)
    return pd.read_csv(path)


@pytest.fixture(scope="session")
def flights() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(first half, second half) of 2015, without the row-number column of the original file."""
    first = _read("flight_delays_2015h1.csv.gz").drop(columns=["Unnamed: 0"])
    second = _read("flight_delays_2015h2.csv.gz").drop(columns=["Unnamed: 0"])
    return first, second


@pytest.fixture(scope="session")
def housing() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(reference, analysis with its delayed labels joined on id)."""
    reference = _read("california_housing_reference.csv.gz")
    analysis = _read("california_housing_analysis.csv.gz")
    labels = _read("california_housing_analysis_gt.csv.gz")
    return reference, analysis.merge(labels, on="id", validate="one_to_one")

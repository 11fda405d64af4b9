"""What the feature tests share (imported by name): real data, and feature functions written to
module files and imported, as a user's code is (so that Python keeps their source)."""

from __future__ import annotations

import importlib.util
import textwrap
import uuid
from pathlib import Path
from types import ModuleType

import pandas as pd

from plimsoll.client import Client
from plimsoll.core.config import Settings

DATA = Path("/work/shared/data")

HOUSING_FEATURES = """
def rooms_per_person(df):
    return df["AveRooms"] / df["AveOccup"]


def income_band(df):
    bands = (df["MedInc"] // 3).clip(upper=4).astype(int)
    return bands.map(lambda band: f"band{band}")


def house_age(df):
    return df["HouseAge"]
"""


def module(folder: Path, source: str, name: str = "features_code") -> ModuleType:
    """`source` written to `folder/name.py` and imported under a name of its own: two versions of
    one module's code live side by side, as the code before and after an edit."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(f"{name}_{uuid.uuid4().hex[:8]}", path)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


def housing(period: str) -> pd.DataFrame:
    """The California housing data: `reference` (2020) or `analysis` (2021, covariate shift)."""
    return pd.read_csv(DATA / f"california_housing_{period}.csv.gz")


def flights(half: int) -> pd.DataFrame:
    """US domestic flights of 2015, first or second half (seasonal drift between them)."""
    return pd.read_csv(DATA / f"flight_delays_2015h{half}.csv.gz").drop(columns=["Unnamed: 0"])


def another_client(sdk: Client, home: Path) -> Client:
    """A second process's client on the same platform (a serving process): over HTTP, the same
    server; embedded, the same database, with a home of its own."""
    if sdk.url.startswith(("http://", "https://")):
        return Client(sdk.url)
    return Client(sdk.url, settings=Settings(home=home, blobs_url=sdk.settings.resolved_blobs_url))

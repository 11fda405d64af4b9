"""Skew checks through the SDK, embedded and over HTTP, on SQLite and PostgreSQL, on real data
with real drift: California housing (2020 reference against the 2021 analysis period) and US
flights (first half of 2015 against the second, when US Airways' flights became American's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from feature_support import HOUSING_FEATURES, another_client, flights, housing, module

from plimsoll.client import Client
from plimsoll.core.errors import InvalidParameter, NotFound

CARRIER = """
def carrier(df):
    return df["AIRLINE"]


def departure_delay(df):
    return df["DEPARTURE_DELAY"]
"""


def _register_housing(sdk: Client, code: object) -> list[str]:
    sdk.features.register(
        "rooms_per_person", code.rooms_per_person, dtype="float64", inputs=["AveRooms", "AveOccup"]
    )  # type: ignore[attr-defined]
    sdk.features.register("income_band", code.income_band, dtype="string", inputs=["MedInc"])  # type: ignore[attr-defined]
    sdk.features.register("house_age", code.house_age, dtype="float64", inputs=["HouseAge"])  # type: ignore[attr-defined]
    return ["rooms_per_person", "income_band", "house_age"]


def test_skew_names_the_features_that_disagree_and_by_how_much(sdk: Client, tmp_path: Path) -> None:
    code = module(tmp_path / "code", HOUSING_FEATURES)
    names = _register_housing(sdk, code)
    reference, analysis = housing("reference"), housing("analysis")
    check = sdk.features.skew(reference, analysis, names)
    assert check.training.rows == len(reference) and check.serving.rows == len(analysis)
    assert sorted(check.skewed) == ["house_age@1", "income_band@1", "rooms_per_person@1"]
    rooms = check["rooms_per_person"]
    assert rooms.verdict == "skewed" and rooms.method and rooms.severity is not None and rooms.severity > 1
    assert rooms.p_value is not None and rooms.statistic is not None and rooms.threshold is not None
    assert rooms.statistic > rooms.threshold
    mean = rooms.shift["mean"]
    expected = (analysis["AveRooms"] / analysis["AveOccup"]).mean() - (
        reference["AveRooms"] / reference["AveOccup"]
    ).mean()
    assert mean["delta"] == pytest.approx(expected)
    assert set(rooms.shift["quantiles"]) == {"0.05", "0.25", "0.5", "0.75", "0.95"}
    band = check["income_band@1"]
    assert (
        band.kind == "categorical" and band.shift["shares"][0]["label"] == "band0"
    )  # the share that moved most
    # Stored: listed, and read back as it was answered.
    assert sdk.features.check(check.id) == check
    assert [c.id for c in sdk.features.checks()] == [check.id]
    assert [c.id for c in sdk.features.checks(feature="house_age")] == [check.id]
    # Two random halves of one period agree on every feature.
    order = np.random.default_rng(7).permutation(len(reference))
    halves = sdk.features.skew(reference.iloc[order[:2900]], reference.iloc[order[2900:]], names)
    assert halves.skewed == [] and {f.verdict for f in halves.features} == {"consistent"}
    assert [c.id for c in sdk.features.checks(limit=1)] == [halves.id]


def test_a_label_gone_at_serving_is_named(sdk: Client, tmp_path: Path) -> None:
    code = module(tmp_path / "code", CARRIER)
    sdk.features.register("carrier", code.carrier, dtype="string", inputs=["AIRLINE"])
    sdk.features.register(
        "departure_delay", code.departure_delay, dtype="float64", inputs=["DEPARTURE_DELAY"]
    )
    check = sdk.features.skew(flights(1), flights(2), ["carrier", "departure_delay"])
    carrier = check["carrier"]
    assert carrier.verdict == "skewed" and carrier.shift["missing_labels"] == ["US"]
    moved = {share["label"]: share for share in carrier.shift["shares"]}
    assert moved["US"]["serving"] == 0 and moved["US"]["training"] > 0.05
    assert moved["AA"]["delta"] > 0.05  # American took US Airways' flights over
    delay = check["departure_delay"]
    assert delay.shift["missing"]["training"] == pytest.approx(flights(1)["DEPARTURE_DELAY"].isna().mean())


def test_a_dataset_version_is_compared_on_its_stored_profile(sdk: Client, tmp_path: Path) -> None:
    code = module(tmp_path / "code", HOUSING_FEATURES)
    names = _register_housing(sdk, code)
    reference = housing("reference")
    # The training set as it was fed to the model: the features, registered as a dataset.
    features = sdk.datasets.register("housing-features", sdk.features.compute(reference, names))
    check = sdk.features.skew("housing-features@1", housing("analysis"), names)
    assert check.training.dataset == "housing-features@1"
    assert check.training.profile_digest == features.profile_digest  # read, not computed again
    assert check.training.label == "dataset housing-features@1"
    assert sorted(check.skewed) == sorted(f"{name}@1" for name in names)
    # A dataset of raw inputs: its files are read and the features computed from them.
    raw = sdk.datasets.register("housing-raw", reference)
    again = sdk.features.skew(raw, housing("analysis"), names)
    assert again.training.dataset == "housing-raw@1" and again.training.profile_digest != raw.profile_digest
    assert "computed" in again.training.label
    assert [f.verdict for f in again.features] == [f.verdict for f in check.features]
    # Both sides stored: the serving side's profile too.
    both = sdk.features.skew("housing-features", "housing-features", names)
    assert both.skewed == [] and both.serving.dataset == "housing-features@1"


def test_a_side_holding_the_values_needs_no_function(sdk: Client, tmp_path: Path) -> None:
    code = module(tmp_path / "code", HOUSING_FEATURES)
    names = _register_housing(sdk, code)
    reference, analysis = housing("reference"), housing("analysis")
    logged = sdk.features.compute(analysis, names)  # what serving logged
    with another_client(sdk, tmp_path / "monitor-home") as monitor:
        # A process without the code: the training dataset's profile and the logged values.
        sdk.datasets.register("housing-features", sdk.features.compute(reference, names))
        check = monitor.features.skew("housing-features@1", logged, names)
        assert sorted(check.skewed) == sorted(f"{name}@1" for name in names)
        with pytest.raises(InvalidParameter) as no_function:
            monitor.features.skew("housing-features@1", analysis, names)
        assert no_function.value.field == "serving" and "rooms_per_person@1" in no_function.value.message
        assert "no function" in no_function.value.message
        # A serving column of another type than the feature's is refused, naming both.
        with pytest.raises(InvalidParameter) as retyped:
            monitor.features.skew("housing-features@1", logged.astype({"house_age": str}), names)
        assert retyped.value.field == "dtype" and "house_age@1" in retyped.value.message


def test_bad_sides_are_refused_naming_the_field(sdk: Client, tmp_path: Path) -> None:
    code = module(tmp_path / "code", HOUSING_FEATURES)
    names = _register_housing(sdk, code)
    reference = housing("reference")
    with pytest.raises(InvalidParameter) as empty:
        sdk.features.skew(reference, reference.head(0), names)
    assert empty.value.field == "serving" and "no rows" in empty.value.message
    with pytest.raises(InvalidParameter) as missing:
        sdk.features.skew(reference.drop(columns=["MedInc"]), reference, names)
    assert missing.value.field == "training" and "'MedInc'" in missing.value.message
    with pytest.raises(NotFound, match="feature 'nowhere'"):
        sdk.features.skew(reference, reference, ["nowhere"])
    with pytest.raises(NotFound, match="dataset 'nowhere'"):
        sdk.features.skew("nowhere@1", reference, names)
    with pytest.raises(InvalidParameter) as nothing:
        sdk.features.skew(reference, reference, [])
    assert nothing.value.field == "features"
    with pytest.raises(InvalidParameter) as alpha:
        sdk.features.skew(reference, reference, names, alpha=1.5)
    assert alpha.value.field == "alpha"
    with pytest.raises(InvalidParameter) as not_a_file:
        sdk.features.skew(tmp_path / "none.parquet", reference, names)
    assert not_a_file.value.field == "training"

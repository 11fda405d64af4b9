"""Feature definitions through the SDK, embedded and over HTTP, on SQLite and PostgreSQL: one
definition is one version, a changed one a new version, and the registered code is the only code
computed under a version's name."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from feature_support import HOUSING_FEATURES, another_client, housing, module

from plimsoll.client import Client
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound

INPUTS = ["AveRooms", "AveOccup"]


def test_one_definition_one_version_a_changed_one_the_next(sdk: Client, tmp_path: Path) -> None:
    code = module(tmp_path / "v1", HOUSING_FEATURES)
    first = sdk.features.register(
        "rooms_per_person", code.rooms_per_person, dtype="float64", inputs=INPUTS, description="rooms a head"
    )
    assert (first.name, first.version, first.dtype, first.inputs) == (
        "rooms_per_person",
        1,
        "float64",
        tuple(INPUTS),
    )
    assert first.changes == () and first.description == "rooms a head"
    assert first.source.startswith("def rooms_per_person(df):") and len(first.source_hash) == 64
    assert first.function.endswith(":rooms_per_person")
    # The same definition again (from another import of the same text): the same version.
    again = module(tmp_path / "again", HOUSING_FEATURES)
    assert (
        sdk.features.register("rooms_per_person", again.rooms_per_person, dtype="float64", inputs=INPUTS)
        == first
    )
    # An edited transformation under the same name is the next version, never a silent change.
    edited = module(tmp_path / "v2", HOUSING_FEATURES.replace('df["AveOccup"]', '(df["AveOccup"] + 1)'))
    second = sdk.features.register(
        "rooms_per_person", edited.rooms_per_person, dtype="float64", inputs=INPUTS
    )
    assert second.version == 2 and second.changes == ("source",)
    assert second.source_hash != first.source_hash
    # So is a changed dtype or input list, with the same source.
    third = sdk.features.register(
        "rooms_per_person", edited.rooms_per_person, dtype="float64", inputs=INPUTS[::-1]
    )
    assert third.version == 3 and third.changes == ("inputs",)
    # The first definition registered again is the first version, not a fourth.
    assert (
        sdk.features.register("rooms_per_person", code.rooms_per_person, dtype="float64", inputs=INPUTS)
        == first
    )
    assert [v.version for v in sdk.features.versions("rooms_per_person")] == [1, 2, 3]
    assert sdk.features.get("rooms_per_person") == third and sdk.features.get("rooms_per_person@1") == first
    [listed] = sdk.features.list()
    assert listed.name == "rooms_per_person" and listed.latest == third


def test_compute_applies_the_registered_definition_in_training_and_serving(
    sdk: Client, tmp_path: Path
) -> None:
    code = module(tmp_path / "v1", HOUSING_FEATURES)
    sdk.features.register("rooms_per_person", code.rooms_per_person, dtype="float64", inputs=INPUTS)
    sdk.features.register("income_band", code.income_band, dtype="string", inputs=["MedInc"])
    frame = housing("reference").head(500)
    training = sdk.features.compute(frame, ["rooms_per_person", "income_band"])
    assert list(training.columns) == ["rooms_per_person", "income_band"]
    assert training.index.equals(frame.index)
    assert training["rooms_per_person"].dtype == "float64" and training["income_band"].dtype == "string"
    expected = frame["AveRooms"] / frame["AveOccup"]
    assert training["rooms_per_person"].tolist() == pytest.approx(expected.tolist())
    # Serving: another process, which registers nothing, names the versions and hands the code.
    serving_code = module(tmp_path / "serving", HOUSING_FEATURES)
    with another_client(sdk, tmp_path / "serving-home") as serving:
        served = serving.features.compute(
            frame.head(3),
            {"rooms_per_person@1": serving_code.rooms_per_person, "income_band@1": serving_code.income_band},
        )
        pd.testing.assert_frame_equal(served, training.head(3))
        # An empty batch is an empty answer, of the declared types.
        empty = serving.features.compute(frame.head(0), {"rooms_per_person@1": serving_code.rooms_per_person})
        assert len(empty) == 0 and empty["rooms_per_person"].dtype == "float64"


def test_changed_code_is_refused_until_registered(sdk: Client, tmp_path: Path) -> None:
    code = module(tmp_path / "v1", HOUSING_FEATURES)
    first = sdk.features.register("rooms_per_person", code.rooms_per_person, dtype="float64", inputs=INPUTS)
    edited = module(tmp_path / "v2", HOUSING_FEATURES.replace("/ df", "* df"))
    frame = housing("reference").head(10)
    with pytest.raises(Conflict) as pinned:
        sdk.features.compute(frame, {"rooms_per_person@1": edited.rooms_per_person})
    message = pinned.value.message
    assert "rooms_per_person@1" in message and first.source_hash in message
    local = pinned.value.details["local_hash"]
    assert local != first.source_hash and local in message
    with pytest.raises(Conflict, match="is not a registered definition") as bare:
        sdk.features.compute(frame, {"rooms_per_person": edited.rooms_per_person})
    assert first.source_hash in bare.value.message and local in bare.value.message
    second = sdk.features.register(
        "rooms_per_person", edited.rooms_per_person, dtype="float64", inputs=INPUTS
    )
    # Registered, the edited code computes its own version; the first still computes the first.
    values = sdk.features.compute(frame, ["rooms_per_person"])["rooms_per_person"]
    assert values.tolist() == pytest.approx((frame["AveRooms"] * frame["AveOccup"]).tolist())
    old = sdk.features.compute(frame, {"rooms_per_person": code.rooms_per_person})["rooms_per_person"]
    assert old.tolist() == pytest.approx((frame["AveRooms"] / frame["AveOccup"]).tolist())
    assert second.version == 2


def test_bad_input_is_refused_naming_the_field(sdk: Client, tmp_path: Path) -> None:
    code = module(
        tmp_path / "code",
        HOUSING_FEATURES
        + """

def half_rooms(df):
    return df["AveRooms"] / 2


def sneaky(df):
    return df["AveRooms"] + df["Population"]


def constant(df):
    return 1.0
""",
    )
    frame = housing("reference").head(20)
    with pytest.raises(InvalidParameter) as bad_name:
        sdk.features.register("rooms/person", code.rooms_per_person, dtype="float64", inputs=INPUTS)
    assert bad_name.value.field == "name" and "'/'" in bad_name.value.message
    with pytest.raises(InvalidParameter) as bad_dtype:
        sdk.features.register("rooms", code.rooms_per_person, dtype="double", inputs=INPUTS)
    assert bad_dtype.value.field == "dtype" and "float64, int64, bool, string" in bad_dtype.value.message
    with pytest.raises(InvalidParameter) as no_inputs:
        sdk.features.register("rooms", code.rooms_per_person, dtype="float64", inputs=[])
    assert no_inputs.value.field == "inputs"
    with pytest.raises(InvalidParameter) as own_input:
        sdk.features.register("AveRooms", code.half_rooms, dtype="float64", inputs=["AveRooms"])
    assert own_input.value.field == "name" and "also one of the feature's inputs" in own_input.value.message
    with pytest.raises(InvalidParameter) as lam:
        sdk.features.register("rooms", lambda df: df["AveRooms"], dtype="float64", inputs=["AveRooms"])
    assert lam.value.field == "fn" and "lambda" in lam.value.message
    with pytest.raises(NotFound, match="feature 'nowhere' has no versions"):
        sdk.features.get("nowhere")
    with pytest.raises(InvalidParameter) as bad_ref:
        sdk.features.get("rooms@x")
    assert bad_ref.value.field == "ref"

    sdk.features.register("rooms_per_person", code.rooms_per_person, dtype="float64", inputs=INPUTS)
    with pytest.raises(InvalidParameter) as missing:
        sdk.features.compute(frame.drop(columns=["AveOccup"]), ["rooms_per_person"])
    assert missing.value.field == "frame" and "'AveOccup'" in missing.value.message
    assert "rooms_per_person@1" in missing.value.message
    # An int64 feature whose function returns fractions is refused, naming the feature and dtypes.
    sdk.features.register("half_rooms", code.half_rooms, dtype="int64", inputs=["AveRooms"])
    with pytest.raises(InvalidParameter) as dtype:
        sdk.features.compute(frame, ["half_rooms"])
    assert dtype.value.field == "dtype" and "half_rooms@1" in dtype.value.message
    assert "declared int64" in dtype.value.message and "float64" in dtype.value.message
    # A function reading a column it did not declare fails alike everywhere.
    sdk.features.register("sneaky", code.sneaky, dtype="float64", inputs=["AveRooms"])
    with pytest.raises(InvalidParameter) as undeclared:
        sdk.features.compute(frame, ["sneaky"])
    assert undeclared.value.field == "inputs" and "'Population'" in undeclared.value.message
    # One value for all rows would be broadcast: refused, it is not one value per row.
    sdk.features.register("constant", code.constant, dtype="float64", inputs=["AveRooms"])
    with pytest.raises(InvalidParameter) as scalar:
        sdk.features.compute(frame, ["constant"])
    assert scalar.value.field == "dtype" and "one value per row" in scalar.value.message
    with (
        another_client(sdk, tmp_path / "other-home") as other,
        pytest.raises(InvalidParameter) as no_function,
    ):
        other.features.compute(frame, ["rooms_per_person"])
    assert no_function.value.field == "features[0]" and "no function" in no_function.value.message
    with pytest.raises(InvalidParameter) as twice:
        sdk.features.compute(frame, ["rooms_per_person", "rooms_per_person@1"])
    assert twice.value.field == "features" and "twice" in twice.value.message
    with pytest.raises(InvalidParameter) as not_a_frame:
        sdk.features.compute([1, 2, 3], ["rooms_per_person"])
    assert not_a_frame.value.field == "frame"

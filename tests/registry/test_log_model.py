"""`run.log_model` and `pl.registry.load`, embedded and over HTTP, on SQLite and PostgreSQL: every
flavor round-trips a small model trained here (the same predictions after a load), the signature
is inferred from the input example and enforced at predict (the error names the column), a
tampered artifact is refused naming the version, a pickle loads only once trusted and a
HistGradientBoosting model's skops types only once approved."""

from __future__ import annotations

import io
import json
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from plimsoll.client import Client
from plimsoll.core.errors import BlobCorrupted, Conflict, InvalidParameter, PermissionDenied
from plimsoll.model_registry.manifest import MANIFEST_FILE
from plimsoll.platform import Platform

TREE_PREDICTOR = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"


def churn_data(rows: int = 120) -> tuple[pd.DataFrame, np.ndarray]:
    generator = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "age": generator.normal(45, 12, rows),
            "tenure": generator.integers(0, 60, rows).astype("int64"),
            "spend": generator.gamma(2.0, 30.0, rows),
        }
    )
    labels = ((frame["age"] > 45) ^ (frame["tenure"] < 12)).to_numpy().astype("int64")
    return frame, labels


class Thresholds:
    """A hand-written model: the python_function flavor's kind of object (a pickle)."""

    def __init__(self, cut: float) -> None:
        self.cut = cut

    def predict(self, data: Any) -> Any:
        return (np.asarray(data["age"]) > self.cut).astype("int64")


class Shell:
    """An object whose pickle runs a command when loaded."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, ("echo owned",))

    def predict(self, data: Any) -> Any:
        return data


def platform_of(sdk: Client, request: pytest.FixtureRequest) -> Platform:
    platform = getattr(sdk._transport, "platform", None)
    return platform if platform is not None else request.getfixturevalue("platform")


def log(sdk: Client, model: Any, example: Any, **kwargs: Any) -> Any:
    with sdk.start_run(experiment="churn") as run:
        logged = run.log_model(model, input_example=example, register_as="churn", **kwargs)
    return logged


def test_every_flavor_round_trips_with_the_same_predictions(sdk: Client) -> None:
    import lightgbm
    import xgboost
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    frame, labels = churn_data()
    logistic = LogisticRegression(max_iter=500).fit(frame, labels)
    boosted = xgboost.XGBClassifier(n_estimators=8, max_depth=3, n_jobs=1).fit(frame, labels)
    light = lightgbm.LGBMClassifier(n_estimators=8, num_leaves=7, n_jobs=1, verbose=-1).fit(frame, labels)
    array = frame.to_numpy(dtype="float32")
    onnx_source = LogisticRegression(max_iter=500).fit(array, labels)
    onnx_model = to_onnx(onnx_source, array[:1], options={"zipmap": False})
    cases: list[tuple[Any, Any, str, Any]] = [
        (logistic, frame, "sklearn", logistic),
        (boosted, frame, "xgboost", boosted),
        (light, frame, "lightgbm", light),
        (onnx_model, array, "onnx", onnx_source),
        (Thresholds(45.0), frame, "python_function", Thresholds(45.0)),
    ]
    for number, (model, example, flavor, reference) in enumerate(cases, start=1):
        logged = log(sdk, model, example[:5], card={"risk_rating": "low", "intended_use": "tests"})
        version = logged.version
        assert (logged.flavor, version.flavor, version.ref) == (flavor, flavor, f"churn/{number}")
        assert version.signature is not None and version.input_example is not None
        assert len(version.input_example["data"]) == 5 and version.card.risk_rating == "low"
        if flavor == "python_function":
            with pytest.raises(PermissionDenied, match="no one has trusted it") as refused:
                sdk.registry.load(version.ref)
            assert "plimsoll models trust churn/5" in str(refused.value)
            assert "test_log_model.Thresholds" in " ".join(version.pickle_imports)
            trusted = sdk.registry.trust(version.ref, reason="our own class")
            assert trusted.trusted_by is not None
        loaded = sdk.registry.load(version.ref)
        expected = reference.predict(example)
        np.testing.assert_array_equal(np.asarray(loaded.predict(example)).reshape(-1), expected.reshape(-1))
        if hasattr(reference, "predict_proba"):
            got = loaded.predict_proba(example)
            np.testing.assert_allclose(got, reference.predict_proba(example), rtol=1e-5, atol=1e-5)
            both = loaded.predict_with_proba(example)  # the model server's: one signature check
            np.testing.assert_array_equal(np.asarray(both[0]).reshape(-1), expected.reshape(-1))
            np.testing.assert_allclose(both[1], got)
        else:
            assert not hasattr(loaded, "predict_proba")
            assert loaded.predict_with_proba(example)[1] is None
    assert [v.flavor for v in sdk.registry.versions("churn")] == [
        "python_function",
        "onnx",
        "lightgbm",
        "xgboost",
        "sklearn",
    ]


def test_the_signature_is_enforced_at_predict_naming_the_column(sdk: Client) -> None:
    from sklearn.linear_model import LogisticRegression

    frame, labels = churn_data()
    model = LogisticRegression(max_iter=500).fit(frame, labels)
    version = log(sdk, model, frame.head(3)).version
    assert [(c.name, c.type) for c in version.signature.inputs] == [
        ("age", "float64"),
        ("tenure", "int64"),
        ("spend", "float64"),
    ]
    assert [(c.name, c.type) for c in version.signature.outputs] == [("prediction", "int64")]
    loaded = sdk.registry.load("churn/1")
    reordered = frame[["spend", "age", "tenure"]]  # by name: the order does not matter
    np.testing.assert_array_equal(loaded.predict(reordered), model.predict(frame))
    records = frame.head(2).to_dict(orient="records")
    np.testing.assert_array_equal(loaded.predict(records), model.predict(frame.head(2)))
    with pytest.raises(InvalidParameter, match="column 'tenure' must be int64") as wrong:
        loaded.predict(frame.assign(tenure=frame["tenure"] + 0.5))
    assert wrong.value.field == "input.tenure" and "churn/1" in str(wrong.value)
    with pytest.raises(InvalidParameter, match=r"column 'age' must be float64.*got str"):
        loaded.predict(frame.assign(age=frame["age"].astype(str)))
    with pytest.raises(InvalidParameter, match="column 'spend' \\(float64\\) is missing"):
        loaded.predict(frame.drop(columns="spend"))
    with pytest.raises(InvalidParameter, match="column 'churned' is not in the signature"):
        loaded.predict(frame.assign(churned=1))


def test_a_signature_that_does_not_match_the_example_is_refused(sdk: Client) -> None:
    from sklearn.linear_model import LogisticRegression

    frame, labels = churn_data()
    model = LogisticRegression(max_iter=500).fit(frame, labels)
    signature = {
        "inputs": [
            {"name": "age", "type": "float64"},
            {"name": "tenure", "type": "string"},
            {"name": "spend", "type": "float64"},
        ]
    }
    with sdk.start_run(experiment="churn") as run:
        with pytest.raises(InvalidParameter, match=r"column 'tenure' holds .* not string") as refused:
            run.log_model(model, input_example=frame.head(3), signature=signature, register_as="churn")
        assert refused.value.field == "input_example.tenure"
        missing = {"inputs": [{"name": "age", "type": "float64"}]}
        with pytest.raises(
            InvalidParameter, match="column 'tenure' of the input example is not in the signature"
        ):
            run.log_model(model, input_example=frame.head(3), signature=missing)
    assert not [a.path for a in sdk.list_artifacts(run.id) if a.path.startswith("model/")]


def test_a_tampered_artifact_is_refused_naming_the_version(
    sdk: Client, request: pytest.FixtureRequest
) -> None:
    from sklearn.linear_model import LogisticRegression

    frame, labels = churn_data()
    first = log(sdk, LogisticRegression(max_iter=500).fit(frame, labels), frame.head(3))
    run_id = first.run_id
    sdk.registry.load("churn/1")  # intact: loads
    # A file of the model's folder replaced after registration: the run's artifact changed.
    with sdk.resume_run(run_id) as run:
        run.log_text('{"tampered": true}', "model/input_example.json")
    with pytest.raises(
        BlobCorrupted, match=r"churn/1 is not loaded: its files .* no longer match"
    ) as refused:
        sdk.registry.load("churn/1")
    assert refused.value.details["version"] == "churn/1"

    # The stored bytes of a file changed on disk under their digest.
    second = log(sdk, LogisticRegression(max_iter=200).fit(frame, labels), frame.head(4))
    platform = platform_of(sdk, request)
    stored = {a.path: a.digest for a in sdk.list_artifacts(second.run_id, "model")}
    digest = stored["model/model.skops"]
    blob = Path(platform.blobs._backend.root) / digest[:2] / digest[2:4] / digest
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(BlobCorrupted, match="churn/2 is not loaded") as corrupted:
        sdk.registry.load("churn/2")
    assert corrupted.value.details["version"] == "churn/2"


def test_hist_gradient_boosting_loads_once_an_admin_approved_its_types(sdk: Client) -> None:
    from sklearn.ensemble import HistGradientBoostingClassifier

    frame, labels = churn_data()
    model = HistGradientBoostingClassifier(max_iter=5).fit(frame, labels)
    version = log(sdk, model, frame.head(3)).version
    assert version.needed_types == (TREE_PREDICTOR,) and version.awaiting == "approve_types"
    with pytest.raises(PermissionDenied, match="skops does not trust by default") as refused:
        sdk.registry.load("churn/1")
    message = str(refused.value)
    assert f"plimsoll models approve-types churn/1 {TREE_PREDICTOR}" in message and "project admin" in message
    with pytest.raises(
        InvalidParameter, match=r"must be exactly the types churn/1 needs.*not needed: os.system"
    ):
        sdk.registry.approve_types("churn/1", [TREE_PREDICTOR, "os.system"])
    with pytest.raises(Conflict, match="churn/1 loads no pickle"):
        sdk.registry.trust("churn/1")
    approved = sdk.registry.approve_types("churn/1", [TREE_PREDICTOR], reason="reviewed the tree arrays")
    assert approved.types_approved_by is not None and approved.awaiting is None
    assert sdk.registry.approve_types("churn/1", [TREE_PREDICTOR]) == approved  # once per version
    loaded = sdk.registry.load("churn/1")
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
    np.testing.assert_allclose(loaded.predict_proba(frame), model.predict_proba(frame))


def test_a_dangerous_pickle_is_refused_when_logged(sdk: Client) -> None:
    frame, _ = churn_data()
    with sdk.start_run(experiment="churn") as run:
        with pytest.raises(InvalidParameter, match=r"would import (posix|nt)\.system") as refused:
            run.log_model(Shell(), register_as="churn")
        assert refused.value.field == "model"
        # Logged by hand with a manifest saying it is a model: the registry scans it too.
        run.log_artifact(_folder_with(pickle.dumps(Shell())), "raw")
        with pytest.raises(InvalidParameter, match=r"model.pkl: this pickle would import (posix|nt)\.system"):
            sdk.registry.register("churn", run_id=run.id, artifact_path="raw")
    # Refused before anything was stored: the first version is the next model's.
    logged = log(sdk, Thresholds(1.0), frame.head(2))
    assert logged.version.ref == "churn/1" and logged.version.awaiting == "trust"
    with pytest.raises(Conflict, match="churn/1 needs no types approved"):
        sdk.registry.approve_types("churn/1", [])
    trusted = sdk.registry.trust("churn/1", reason="reviewed")
    assert sdk.registry.trust("churn/1") == trusted  # once per version


def _folder_with(content: bytes) -> Path:
    import tempfile

    folder = Path(tempfile.mkdtemp())
    (folder / "model.pkl").write_bytes(content)
    manifest = {"manifest": 1, "flavor": "python_function", "files": {"model.pkl": "pickle"}}
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest))
    return folder


def test_pickles_scan_without_loading() -> None:
    from plimsoll.model_registry.scanning import scan_pickle

    harmless = scan_pickle(io.BytesIO(pickle.dumps(Thresholds(2.0))))
    assert harmless.dangerous == () and any(i.endswith("Thresholds") for i in harmless.imports)
    for protocol in (0, 2, 5):
        scan = scan_pickle(io.BytesIO(pickle.dumps(Shell(), protocol=protocol)))
        assert scan.dangerous and scan.dangerous[0].endswith(".system")
    # os.system pushed, two strings pushed and popped above it: the stack, not the last strings, counts.
    crafted = b"\x80\x04\x8c\x02os\x8c\x06system\x8c\x01x\x8c\x01y00\x93\x8c\x02hi\x85R."
    assert scan_pickle(io.BytesIO(crafted)).dangerous == ("os.system",)
    with pytest.raises(InvalidParameter, match="is not a pickle"):
        scan_pickle(io.BytesIO(b"not a pickle at all"))


def test_a_version_names_the_dataset_versions_its_run_used(sdk: Client) -> None:
    from sklearn.linear_model import LogisticRegression

    frame, labels = churn_data()
    dataset = sdk.datasets.register("customers", frame.assign(churned=labels))
    with sdk.start_run(experiment="churn") as run:
        run.log_input(dataset)
        model = LogisticRegression(max_iter=500).fit(frame, labels)
        logged = run.log_model(model, input_example=frame.head(2), register_as="churn")
    assert logged.version.datasets == (dataset.ref,) == ("customers@1",)
    assert sdk.registry.get("churn/1").datasets == ("customers@1",)


def test_registering_a_logged_model_later_takes_its_manifest_and_a_new_card(sdk: Client) -> None:
    from sklearn.linear_model import LogisticRegression

    frame, labels = churn_data()
    with sdk.start_run(experiment="churn") as run:
        model = LogisticRegression(max_iter=500).fit(frame, labels)
        logged = run.log_model(model, "classifier", input_example=frame.head(2), card={"risk_rating": "high"})
    assert logged.version is None and logged.flavor == "sklearn"
    with pytest.raises(InvalidParameter, match=r"'xgboost', but the artifact's manifest.json says 'sklearn'"):
        sdk.registry.register("churn", run_id=run.id, artifact_path="classifier", flavor="xgboost")
    kept = sdk.registry.register("churn", run_id=run.id, artifact_path="classifier")
    assert (kept.flavor, kept.card.risk_rating, kept.artifact_path) == ("sklearn", "high", "classifier")
    card = {"description": "retention ranking", "risk_rating": "low"}
    again = sdk.registry.register("churn-reviewed", run_id=run.id, artifact_path="classifier", card=card)
    assert (again.card.description, again.card.risk_rating, again.card.limitations) == (
        "retention ranking",
        "low",
        "",
    )
    with pytest.raises(InvalidParameter, match="must be one of low, medium, high") as refused:
        sdk.registry.register(
            "churn-x", run_id=run.id, artifact_path="classifier", card={"risk_rating": "none"}
        )
    assert refused.value.field == "card.risk_rating"
    np.testing.assert_array_equal(sdk.registry.load("churn-reviewed").predict(frame), model.predict(frame))

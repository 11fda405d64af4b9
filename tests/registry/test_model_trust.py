"""What registration reads in a version's files, on SQLite and PostgreSQL: the manifest is believed
for how to load, never for what is safe (the skops types and a pickle's imports come from the
files themselves); an input example is checked against the signature; approving types and
trusting a pickle are audited and published; and over HTTP only a project admin may do either."""

from __future__ import annotations

import io
import json
import pickle
from typing import Any

import httpx
import numpy as np
import pytest

from plimsoll.client import Client
from plimsoll.core import audit
from plimsoll.core.auth.entities import Role
from plimsoll.core.errors import InvalidParameter, PermissionDenied
from plimsoll.model_registry.service import RegistryService
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

P = "default"
TREE_PREDICTOR = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"


def registry_of(platform: Platform) -> RegistryService:
    service = platform.model_registry
    assert isinstance(service, RegistryService)
    return service


def skops_bytes() -> bytes:
    import skops.io
    from sklearn.ensemble import HistGradientBoostingRegressor

    features = np.random.default_rng(3).normal(size=(60, 2))
    model = HistGradientBoostingRegressor(max_iter=3).fit(features, features[:, 0])
    return bytes(skops.io.dumps(model))


def logged(platform: Platform, files: dict[str, bytes], manifest: dict[str, Any]) -> str:
    experiment = platform.tracking.get_or_create_experiment("churn", actor="ada")
    run = platform.tracking.create_run(experiment.id, actor="ada")
    for path, content in files.items():
        platform.tracking.log_artifact(run.id, f"model/{path}", content, actor="ada")
    body = {"manifest": 1, **manifest}
    platform.tracking.log_artifact(run.id, "model/manifest.json", json.dumps(body).encode(), actor="ada")
    return run.id


def test_the_registry_finds_the_types_a_skops_file_needs_whatever_the_manifest_says(
    platform: Platform,
) -> None:
    registry = registry_of(platform)
    # The manifest claims nothing is needed; the file says otherwise.
    run_id = logged(
        platform, {"model.skops": skops_bytes()}, {"flavor": "sklearn", "files": {"model.skops": "skops"}}
    )
    version = registry.register_version("churn", run_id=run_id, artifact_path="model", actor="ada")
    assert version.needed_types == (TREE_PREDICTOR,) and version.awaiting == "approve_types"
    assert version.flavor == "sklearn"
    with pytest.raises(InvalidParameter, match=r"'xgboost', but the artifact's manifest.json says 'sklearn'"):
        registry.register_version(
            "other", run_id=run_id, artifact_path="model", flavor="xgboost", actor="ada"
        )

    approved = registry.approve_types("churn", 1, [TREE_PREDICTOR], reason="read them", actor="root")
    assert (approved.types_approved_by, approved.awaiting) == ("root", None)
    assert registry.approve_types("churn", 1, [TREE_PREDICTOR], actor="bo") == approved
    page = platform.outbox.follow(None, ["model.types_approved"], 100, project=P)
    assert [e.payload for e in page.events] == [
        {"model": "churn", "version": 1, "project": P, "types": [TREE_PREDICTOR], "reason": "read them"}
    ]
    with platform.db.read() as conn:
        entries = [e for e in audit.list_events(conn) if e.action == "model.approve_types"]
    assert [(e.actor, e.after["types"]) for e in entries] == [("root", [TREE_PREDICTOR])]


def test_a_pickle_is_scanned_at_registration_and_trusted_once(platform: Platform) -> None:
    registry = registry_of(platform)
    content = pickle.dumps({"weights": [1.0, 2.0]})
    run_id = logged(
        platform, {"model.pkl": content}, {"flavor": "python_function", "files": {"model.pkl": "pickle"}}
    )
    version = registry.register_version("churn", run_id=run_id, artifact_path="model", actor="ada")
    assert version.pickle_imports == () and version.awaiting == "trust"
    trusted = registry.trust("churn", 1, reason="our own weights", actor="root")
    assert (trusted.trusted_by, trusted.awaiting) == ("root", None)
    events = platform.outbox.follow(None, ["model.version_trusted"], 100, project=P).events
    assert [e.payload["reason"] for e in events] == ["our own weights"]
    with platform.db.read() as conn:
        actions = [e.action for e in audit.list_events(conn)]
    assert actions.count("model.trust_version") == 1

    evil = b"\x80\x04\x8c\x08builtins\x8c\x04eval\x93\x8c\x031+1\x85R."
    run_id = logged(
        platform, {"model.pkl": evil}, {"flavor": "python_function", "files": {"model.pkl": "pickle"}}
    )
    with pytest.raises(InvalidParameter, match=r"model.pkl: this pickle would import builtins.eval"):
        registry.register_version("churn", run_id=run_id, artifact_path="model", actor="ada")


@pytest.mark.parametrize(
    ("manifest", "example", "field", "message"),
    [
        (
            {"signature": {"inputs": [{"name": "age", "type": "float64"}]}},
            {"columns": ["age"], "data": [["forty"]]},
            "input_example.age",
            "column 'age' holds 'forty' in row 0, which is not float64",
        ),
        (
            {"signature": {"inputs": [{"name": "age", "type": "float64"}]}},
            {"columns": ["age", "zip"], "data": [[40.0, "02139"]]},
            "input_example.columns",
            "column 'zip' of the input example is not in the signature",
        ),
        (
            {"signature": {"inputs": [{"name": "age", "type": "decimal"}]}},
            {"columns": ["age"], "data": [[40.0]]},
            "manifest.json.signature.inputs[0].type",
            "'decimal' is not a column type",
        ),
        ({"flavor": "tensorflow"}, None, "manifest.json.flavor", "'tensorflow' is not a flavor"),
        ({"files": {"weights.bin": "pickle"}}, None, "manifest.json.files", "names 'weights.bin', which run"),
    ],
)
def test_a_manifest_that_does_not_hold_together_is_refused_naming_the_field(
    platform: Platform, manifest: dict[str, Any], example: Any, field: str, message: str
) -> None:
    files = {"model.pkl": pickle.dumps([1, 2])}
    body: dict[str, Any] = {"flavor": "python_function", "files": {"model.pkl": "pickle"}, **manifest}
    if example is not None:
        files["input_example.json"] = json.dumps(example).encode()
        body["input_example"] = "input_example.json"
    run_id = logged(platform, files, body)
    with pytest.raises(InvalidParameter) as refused:
        registry_of(platform).register_version("churn", run_id=run_id, artifact_path="model", actor="ada")
    assert refused.value.field == field and message in str(refused.value)


@pytest.mark.auth_on
def test_only_a_project_admin_approves_types_or_trusts_a_pickle(
    platform: Platform, live_server: LiveServer
) -> None:
    auth = platform.auth
    root = auth.bootstrap_admin("root").secret
    auth.create_user("carol", actor="root")
    auth.grant(P, "carol", Role.CONTRIBUTOR, actor="root")
    carol = auth.create_token("carol", label="t", actor="root").secret
    for path, kind, flavor in (
        ("model.skops", "skops", "sklearn"),
        ("model.pkl", "pickle", "python_function"),
    ):
        content = skops_bytes() if kind == "skops" else pickle.dumps([1])
        run_id = logged(platform, {path: content}, {"flavor": flavor, "files": {path: kind}})
        with Client(live_server.url, token=carol) as contributor:
            contributor.registry.register("churn", run_id=run_id, artifact_path="model")
    with Client(live_server.url, token=carol) as contributor:
        with pytest.raises(PermissionDenied):
            contributor.registry.approve_types("churn/1", [TREE_PREDICTOR])
        with pytest.raises(PermissionDenied):
            contributor.registry.trust("churn/2")
        with pytest.raises(PermissionDenied, match="A project admin of 'default'"):
            contributor.registry.load("churn/1")
    with Client(live_server.url, token=root) as admin:
        assert admin.registry.approve_types("churn/1", [TREE_PREDICTOR]).types_approved_by == "root"
        assert admin.registry.trust("churn/2").trusted_by == "root"
    answer = httpx.get(
        f"{live_server.url}/api/v1/models/churn/versions/1", headers={"Authorization": f"Bearer {carol}"}
    )
    assert answer.json()["needed_types"] == [TREE_PREDICTOR] and answer.json()["types_approved_by"] == "root"


def test_scanning_reads_skops_and_pickles_without_loading() -> None:
    from plimsoll.model_registry.scanning import skops_types

    assert skops_types(io.BytesIO(skops_bytes())) == [TREE_PREDICTOR]
    with pytest.raises(InvalidParameter, match="is not a skops file"):
        skops_types(io.BytesIO(b"PK not a zip"))

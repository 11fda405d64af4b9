"""What registering and checking leave behind, on SQLite and PostgreSQL: one event and one audit
entry for each new version (none for a definition registered again), one for each skew check,
the version's node in the lineage graph and the runs that used it, profiles kept from garbage
collection; and the HTTP routes' answers to what the SDK never sends."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest
from feature_support import HOUSING_FEATURES, housing, module

from plimsoll import stats
from plimsoll.client import Client
from plimsoll.core import audit
from plimsoll.feature_registry.entities import NewDefinition, SkewInput
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

SOURCE = "def ratio(df):\n    return df['a'] / df['b']\n"


def _definition(source: str = SOURCE, dtype: str = "float64") -> NewDefinition:
    return NewDefinition("ratio", "default", dtype, ("a", "b"), source, "features:ratio", "a over b")


def test_a_new_version_is_published_and_audited_once(platform: Platform) -> None:
    features = platform.feature_registry
    first = features.register(_definition(), actor="ada")
    # Indentation, line ends and trailing spaces are not the definition; anything else is.
    assert (
        features.register(
            _definition("    def ratio(df):\r\n        return df['a'] / df['b']   \r\n"), actor="bob"
        )
        == first
    )
    second = features.register(_definition(SOURCE.replace("/", "//")), actor="bob")
    third = features.register(_definition(SOURCE.replace("/", "//"), dtype="int64"), actor="bob")
    assert (second.changes, third.changes) == (("source",), ("dtype",))
    events = platform.outbox.follow(None, ["feature.version_registered"], 100, project="default").events
    assert [(e.payload["version"], e.payload["changes"], e.actor) for e in events] == [
        (1, [], "ada"),
        (2, ["source"], "bob"),
        (3, ["dtype"], "bob"),
    ]
    assert events[1].payload["source_hash"] == second.source_hash
    with platform.db.read() as conn:
        entries = [e for e in audit.list_events(conn) if e.action == "feature.register"]
    assert [e.after["version"] for e in entries] == [1, 2, 3]
    assert "source" not in entries[0].after and entries[0].after["source_hash"] == first.source_hash
    # Each version is a node of the lineage graph.
    graph = platform.lineage.downstream("default", "feature:ratio@2")
    assert graph.nodes[0].id == "feature:ratio@2" and graph.nodes[0].attributes["dtype"] == "float64"


def test_a_skew_check_is_published_audited_and_keeps_its_profiles(platform: Platform) -> None:
    features = platform.feature_registry
    features.register(_definition(), actor="ada")
    reference = housing("reference").assign(ratio=lambda f: f["AveRooms"] / f["AveOccup"])
    analysis = housing("analysis").assign(ratio=lambda f: f["AveRooms"] / f["AveOccup"])
    training = platform.data.register("train", reference[["ratio"]], actor="ada")
    serving = stats.to_bytes(stats.summarize(analysis[["ratio"]]))
    check = features.check_skew(
        [("ratio", None)],
        SkewInput(dataset="train"),
        SkewInput(profile=serving, label="serving log, June"),
        actor="ada",
    )
    assert check.skewed == ["ratio@1"] and check.serving.label == "serving log, June"
    assert check.training.dataset == "train@1" and check.training.profile_digest == training.profile_digest
    [event] = platform.outbox.follow(None, ["feature.skew_checked"], 100, project="default").events
    assert event.payload == {
        "check_id": check.id,
        "project": "default",
        "features": ["ratio@1"],
        "skewed": ["ratio@1"],
        "training": "dataset train@1",
        "serving": "serving log, June",
    }
    with platform.db.read() as conn:
        [entry] = [e for e in audit.list_events(conn) if e.action == "feature.skew_check"]
    assert entry.resource_id == check.id and entry.after["skewed"] == ["ratio@1"]
    # The dataset version deleted, its profile stays: the check was computed from it.
    platform.data.delete_version("train", 1, actor="ada")
    assert {check.training.profile_digest, check.serving.profile_digest} <= features.referenced_blobs()
    assert features.get_skew_check(check.id) == check


def test_a_run_that_computes_features_used_them(sdk: Client, tmp_path: Path) -> None:
    code = module(tmp_path / "code", HOUSING_FEATURES)
    sdk.features.register("house_age", code.house_age, dtype="float64", inputs=["HouseAge"])
    with sdk.start_run("housing", capture=False) as run:
        sdk.features.compute(housing("reference").head(5), ["house_age"])
        sdk.features.compute(housing("reference").head(5), ["house_age"])  # recorded once
    graph = sdk.lineage.downstream("feature:house_age@1").to_dict()
    assert graph["edges"] == [
        {"from": "feature:house_age@1", "to": f"run:{run.id}", "role": "used", "context": None}
    ]


@pytest.mark.auth_on
def test_the_routes_refuse_what_the_sdk_never_sends(
    platform: Platform, live_server: LiveServer, tmp_path: Path
) -> None:
    platform.feature_registry.register(_definition(), actor="root")
    root = platform.auth.bootstrap_admin("root").secret
    with httpx.Client(
        base_url=live_server.url + "/api/v1", headers={"Authorization": f"Bearer {root}"}
    ) as api:
        profile = base64.b64encode(stats.to_bytes(stats.summarize({"ratio": [1.0, 2.0, 3.0]}))).decode()
        side = {"profile": profile}
        body = {"features": {"ratio": None}, "training": side, "serving": side}
        made = api.post("/skew-checks", json=body)
        assert made.status_code == 201, made.text
        assert made.json()["features"][0]["verdict"] == "consistent"
        assert api.get(f"/skew-checks/{made.json()['id']}").json() == made.json()
        # Not a summary the engine reads: refused naming the side.
        garbage = api.post("/skew-checks", json={**body, "serving": {"profile": "AAAA"}})
        assert garbage.status_code == 400 and garbage.json()["error"]["details"]["field"] == "serving.profile"
        # A side with no column for a feature.
        other = base64.b64encode(stats.to_bytes(stats.summarize({"x": [1.0]}))).decode()
        lacking = api.post("/skew-checks", json={**body, "serving": {"profile": other}})
        assert lacking.status_code == 400 and "no column 'ratio'" in lacking.json()["error"]["message"]
        # A dataset version with no profile (no tabular file) cannot be compared on one.
        (tmp_path / "notes.txt").write_text("not a table")
        platform.data.register("notes", tmp_path / "notes.txt", actor="root")
        untabular = api.post("/skew-checks", json={**body, "serving": {"dataset": "notes"}})
        assert untabular.status_code == 409 and "has no profile" in untabular.json()["error"]["message"]
        # A side is a dataset or a profile, and nothing else.
        odd = api.post("/skew-checks", json={**body, "serving": {"dataset": "notes", "extra": 1}})
        assert odd.status_code == 400
        unknown = api.get("/features/nothing/versions")
        assert unknown.status_code == 404
        assert api.get("/skew-checks", params={"feature": "nothing"}).status_code == 404
        assert api.get("/features/ratio/versions/latest").json()["version"] == 1
        listed = api.get("/features").json()["features"]
        assert [f["name"] for f in listed] == ["ratio"]


def test_each_features_latest_verdict_is_that_of_the_newest_check_that_looked_at_it(
    platform: Platform,
) -> None:
    features = platform.feature_registry
    features.register(_definition(), actor="ada")
    other = NewDefinition(
        "other", "default", "float64", ("c",), "def other(df):\n    return df['c']\n", "m:other"
    )
    features.register(other, actor="ada")

    def side(values: dict[str, list[float]]) -> SkewInput:
        return SkewInput(profile=stats.to_bytes(stats.summarize(values)))

    steady = [float(n % 10) for n in range(200)]
    moved = [float(n % 10) + 5 for n in range(200)]
    first = features.check_skew(
        ["ratio", "other"],
        side({"ratio": steady, "other": steady}),
        side({"ratio": moved, "other": moved}),
        actor="ada",
    )
    second = features.check_skew(["ratio"], side({"ratio": steady}), side({"ratio": steady}), actor="ada")
    latest = features.latest_verdicts()
    assert sorted(latest) == ["other", "ratio"]
    assert (latest["ratio"].check_id, latest["ratio"].result.verdict) == (second.id, "consistent")
    assert (latest["other"].check_id, latest["other"].result.verdict) == (first.id, "skewed")
    assert latest["other"].checked_at == first.created_at

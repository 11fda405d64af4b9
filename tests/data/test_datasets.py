"""Dataset versions through the SDK, embedded and over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from blake3 import blake3
from data_support import DATA, make_tree, settle

from plimsoll import stats
from plimsoll.client import Client
from plimsoll.core import audit
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.platform import Platform


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_content_same_version_changed_content_a_new_one(sdk: Client, tmp_path: Path) -> None:
    root = make_tree(
        tmp_path / "images",
        {"cats/1.jpg": b"\xff\xd8cat", "dogs/1.jpg": b"\xff\xd8dog", "labels.txt": b"cat\ndog\n"},
    )
    first = sdk.datasets.register("pets", root, description="first cut", tags={"team": "vision"})
    assert (first.name, first.version, first.files, first.bytes) == ("pets", 1, 3, 18)
    assert first.rows is None and first.schema is None and first.profile_digest is None
    assert first.description == "first cut" and first.tags == {"team": "vision"}
    again = sdk.datasets.register("pets", root)
    assert again == first
    (root / "labels.txt").write_bytes(b"cat\ndog\nbird\n")
    second = sdk.datasets.register("pets", root)
    assert second.version == 2 and second.digest != first.digest
    assert [v.version for v in sdk.datasets.versions("pets")] == [1, 2]
    assert sdk.datasets.get("pets").version == 2 and sdk.datasets.get("pets@1") == first
    [listed] = sdk.datasets.list()
    assert listed.name == "pets" and listed.latest == second
    # The same content under another name is that name's own version 1.
    assert sdk.datasets.register("pets-copy", root).version == 1


def test_get_writes_the_exact_bytes_back(sdk: Client, tmp_path: Path) -> None:
    root = make_tree(
        tmp_path / "src", {"a/b/c.bin": bytes(range(256)) * 5000, "empty": b"", "top.txt": b"top"}
    )
    version = sdk.datasets.register("blobs", root)
    written = sdk.datasets.download("blobs@1", tmp_path / "out")
    assert _files(written) == _files(root)
    assert [(e.path, e.size) for e in sdk.datasets.files(version)] == [
        ("a/b/c.bin", 1280000),
        ("empty", 0),
        ("top.txt", 3),
    ]


def test_a_frame_is_registered_as_one_parquet_file_with_its_profile(sdk: Client) -> None:
    frame = pd.read_csv(DATA / "california_housing_reference.csv.gz")
    version = sdk.datasets.register("housing", frame)
    assert version.files == 1 and version.rows == len(frame)
    assert version.schema is not None and [c.name for c in version.schema] == list(frame.columns)
    assert sdk.datasets.register("housing", frame.copy()) == version
    profile = sdk.datasets.profile(version)
    assert profile is not None and profile.row_count == len(frame)


def test_the_profile_of_many_parquet_files_is_the_profile_of_their_concatenation(
    sdk: Client, tmp_path: Path
) -> None:
    table = pa.Table.from_pandas(pd.read_csv(DATA / "flight_delays_2015h1.csv.gz"), preserve_index=False)
    root = tmp_path / "flights"
    root.mkdir()
    step = math.ceil(table.num_rows / 5)
    for part in range(5):
        pq.write_table(table.slice(part * step, step), root / f"part-{part}.parquet")
    version = sdk.datasets.register("flights", root)
    assert version.files == 5 and version.rows == table.num_rows
    merged = sdk.datasets.profile(version)
    whole = stats.summarize(table)
    assert merged is not None and merged.row_count == whole.row_count
    for name, expected in whole.columns.items():
        got = merged[name]
        assert got.kind == expected.kind and got.missing_count == expected.missing_count, name
        if isinstance(expected, stats.NumericSummary):
            assert isinstance(got, stats.NumericSummary)
            assert (got.minimum, got.maximum, got.finite_count) == (
                expected.minimum,
                expected.maximum,
                expected.finite_count,
            )
            assert got.mean == pytest.approx(expected.mean, rel=1e-12)
            assert got.std == pytest.approx(expected.std, rel=1e-9)
            # Quantiles: the engine's stated bound is `rank_error` of the merged summary.
            values = table.column(name).drop_null().to_numpy().astype(float)
            values.sort()
            for q in (0.1, 0.5, 0.9):
                answer = got.quantile(q)
                rank = (values <= answer).mean()
                assert abs(rank - q) <= got.rank_error + 1.0 / len(values), (name, q)
        else:
            assert isinstance(got, stats.CategoricalSummary) and isinstance(
                expected, stats.CategoricalSummary
            )
            assert got.as_dict() == expected.as_dict(), name


def test_by_reference_names_the_file_that_changed_or_vanished(sdk: Client, tmp_path: Path) -> None:
    root = make_tree(
        tmp_path / "bucket", {"a.csv": b"x,y\n1,2\n", "b.csv": b"x,y\n3,4\n", "notes/readme": b"hi"}
    )
    version = sdk.datasets.register("external", root, by_reference=True)
    assert version.by_reference and version.source_url == root.resolve().as_uri() and version.rows == 2
    assert sdk.datasets.verify("external") == version
    assert _files(sdk.datasets.download(version, tmp_path / "copy")) == _files(root)
    (root / "b.csv").write_bytes(b"x,y\n3,5\n")
    (root / "notes" / "readme").unlink()
    with pytest.raises(Conflict) as caught:
        sdk.datasets.verify("external@1")
    assert "'b.csv' changed" in caught.value.message and "'notes/readme' vanished" in caught.value.message
    with pytest.raises(Conflict, match=r"'b.csv' of external@1 changed"):
        sdk.datasets.download(version, tmp_path / "copy2")


def test_bad_input_is_refused_naming_the_field(sdk: Client, tmp_path: Path) -> None:
    root = make_tree(tmp_path / "d", {"a": b"a"})
    with pytest.raises(InvalidParameter, match="name: must not contain '@'"):
        sdk.datasets.register("a@b", root)
    with pytest.raises(InvalidParameter, match="tags"):
        sdk.datasets.register("ok", root, tags={"bad key!": "v"})
    with pytest.raises(NotFound, match="dataset 'nothing' has no versions"):
        sdk.datasets.get("nothing")
    with pytest.raises(NotFound, match="project 'elsewhere' not found"):
        sdk.datasets.register("ok", root, project="elsewhere")
    assert sdk.datasets.list() == []


def test_a_version_registered_in_a_run_records_it(sdk: Client, tmp_path: Path) -> None:
    root = make_tree(tmp_path / "d", {"train.csv": b"a,b\n1,2\n"})
    with sdk.start_run("exp", capture=False) as run:
        version = sdk.datasets.register("train", root)
    assert version.run_id == run.id
    # ... and the lineage graph says the run produced it, in the same transaction
    upstream = sdk.lineage.upstream(f"dataset:{version.ref}").to_dict()
    assert {
        "from": f"run:{run.id}",
        "to": "dataset:train@1",
        "role": "produced",
        "context": None,
    } in upstream["edges"]
    node = next(n for n in upstream["nodes"] if n["id"] == "dataset:train@1")
    assert node["attributes"]["digest"] == version.digest and node["label"] == "train@1"


def test_every_version_is_a_node_of_the_lineage_graph(sdk: Client, tmp_path: Path) -> None:
    root = make_tree(tmp_path / "d", {"a.bin": b"1"})
    first = sdk.datasets.register("raw", root)
    (root / "a.bin").write_bytes(b"2")
    settle(root)
    second = sdk.datasets.register("raw", root)
    for version in (first, second):
        graph = sdk.lineage.downstream(f"dataset:{version.ref}").to_dict()
        assert [n["id"] for n in graph["nodes"]] == [f"dataset:{version.ref}"] and graph["edges"] == []


def test_versions_publish_one_event_and_keep_their_blobs(platform: Platform, tmp_path: Path) -> None:
    root = make_tree(tmp_path / "d", {"a.csv": b"a\n1\n2\n", "b.bin": b"\x00" * 10})
    settle(root)
    version = platform.data.register("events", root, actor="alice")
    assert platform.data.register("events", root, actor="alice") == version
    page = platform.outbox.follow(None, ["dataset.version_registered"], 100, project="default")
    [event] = page.events
    assert (
        event.payload["digest"] == version.digest and event.payload["version"] == 1 and event.actor == "alice"
    )
    referenced = platform.data.referenced_blobs()
    assert {e.digest for e in platform.data.version_files(version)} | {version.profile_digest} <= referenced
    by_reference = platform.data.register("pointer", root, actor="alice", by_reference=True)
    assert by_reference.digest == version.digest  # the same content, whether copied or referred to
    assert {e.digest for e in platform.data.version_files(by_reference)} <= referenced  # kept by the copy


def test_an_upload_is_kept_only_under_its_own_digest(platform: Platform) -> None:
    import io

    from blake3 import blake3

    content = b"the bytes announced"
    assert platform.data.missing_blobs([blake3(content).hexdigest()]) == [blake3(content).hexdigest()]
    with pytest.raises(Conflict, match="digest: the content sent hashes to"):
        platform.data.store_blob("0" * 64, io.BytesIO(content))
    assert platform.data.store_blob(blake3(content).hexdigest(), io.BytesIO(content)).size == len(content)
    assert platform.data.missing_blobs([blake3(content).hexdigest()]) == []


def test_diff_names_files_and_columns_that_changed(sdk: Client, tmp_path: Path) -> None:
    root = make_tree(tmp_path / "d", {"t.csv": b"a,b\n1,2\n", "keep.txt": b"same", "gone.txt": b"bye"})
    first = sdk.datasets.register("diffed", root)
    (root / "gone.txt").unlink()
    (root / "new.txt").write_bytes(b"hello")
    (root / "t.csv").write_bytes(b"a,b,c\n1,x,3\n")
    sdk.datasets.register("diffed", root)
    found = sdk.datasets.diff("diffed@1", "diffed")
    assert [(c.path, c.kind) for c in found.files] == [
        ("gone.txt", "removed"),
        ("new.txt", "added"),
        ("t.csv", "changed"),
    ]
    assert [c.name for c in found.columns_added] == ["c"] and not found.columns_removed
    assert [(a.type, b.type) for a, b in found.columns_retyped] == [("int64", "string")]
    assert sdk.datasets.diff(first, "diffed@1").files == ()
    assert found.drift is not None and list(found.drift.columns) == ["a"]  # 'b' changed kind: a schema change


def test_a_file_changed_between_hashing_and_upload_is_named_and_nothing_registered(
    sdk: Client, tmp_path: Path
) -> None:
    root = make_tree(tmp_path / "d", {"a.bin": b"as hashed", "b.bin": b"steady"})

    def change_before_upload(phase: str, done: int, total: int) -> None:
        if phase == "uploading" and done == 0:
            (root / "a.bin").write_bytes(b"as uploaded")

    with pytest.raises(Conflict, match=r"file 'a.bin' changed after it was hashed"):
        sdk.datasets.register("moving", root, progress=change_before_upload)
    with pytest.raises(NotFound):
        sdk.datasets.get("moving")
    assert sdk.datasets.register("moving", root).version == 1


def test_a_run_records_the_versions_it_read_and_wrote(sdk: Client, tmp_path: Path) -> None:
    root = make_tree(tmp_path / "d", {"train.csv": b"a,b\n1,2\n"})
    train = sdk.datasets.register("train", root)
    (root / "train.csv").write_bytes(b"a,b\n1,2\n3,4\n")
    settle(root)
    holdout = sdk.datasets.register("holdout", root)
    scores = sdk.datasets.register("scores", make_tree(tmp_path / "s", {"s.csv": b"s\n1\n"}))
    with sdk.start_run("exp", capture=False) as run:
        assert run.log_input("train", context="training") == train  # the latest, recorded exactly
        assert run.log_input(holdout, context="validation") == holdout
        assert run.log_input("train@1", context="training") == train  # again: nothing new
        assert run.log_output("scores@1") == scores
    graph = sdk.lineage.upstream(f"run:{run.id}").to_dict()
    assert sorted((e["from"], e["role"], e["context"]) for e in graph["edges"]) == [
        ("dataset:holdout@1", "used", "validation"),
        ("dataset:train@1", "used", "training"),
    ]
    produced = sdk.lineage.downstream(f"run:{run.id}").to_dict()["edges"]
    assert produced == [
        {"from": f"run:{run.id}", "to": "dataset:scores@1", "role": "produced", "context": None}
    ]
    impact = sdk.lineage.impact("dataset:train@1").to_dict()
    assert [n["id"] for n in impact["impacted"]] == [f"run:{run.id}"]


def test_linking_a_run_refuses_what_is_not_there_naming_it(sdk: Client, tmp_path: Path) -> None:
    sdk.datasets.register("train", make_tree(tmp_path / "d", {"a.csv": b"a\n1\n"}))
    with sdk.start_run("exp", capture=False) as run:
        with pytest.raises(NotFound, match="dataset 'train' has no version 2"):
            run.log_input("train@2")
        with pytest.raises(NotFound, match="dataset 'missing' has no versions"):
            run.log_input("missing")
        with pytest.raises(InvalidParameter, match="context: must be one of training"):
            run.log_input("train", context="serving")
        with pytest.raises(InvalidParameter, match="dataset: version must be a whole number"):
            run.log_input("train@first")
        with pytest.raises(Conflict, match="already linked with context 'training', not 'test'"):
            run.log_input("train", context="training")
            run.log_input("train", context="test")
    assert sdk.lineage.upstream(f"run:{run.id}").to_dict()["edges"] == [
        {"from": "dataset:train@1", "to": f"run:{run.id}", "role": "used", "context": "training"}
    ]


def test_a_run_of_another_project_cannot_claim_a_version(platform: Platform, tmp_path: Path) -> None:
    data = platform.data
    version = data.register("train", make_tree(tmp_path / "d", {"a": b"1"}), actor="ada")
    platform.projects.create("other", actor="ada")
    experiment = platform.tracking.create_experiment("e", project="other", actor="ada")
    run = platform.tracking.create_run(experiment.id, actor="ada")
    with pytest.raises(NotFound, match=f"run {run.id!r} not found in project 'default'"):
        data.link_run(run.id, version.ref, direction="input", context="training", actor="ada")
    with pytest.raises(InvalidParameter, match="context: says how a run used its input"):
        data.link_run(run.id, version.ref, direction="output", context="training", actor="ada")
    with pytest.raises(InvalidParameter, match="direction: must be one of input, output"):
        data.link_run(run.id, version.ref, direction="sideways", actor="ada")


def test_diff_gives_the_engines_drift_verdict_on_every_shared_column(sdk: Client) -> None:
    features = [
        "MedInc",
        "HouseAge",
        "AveRooms",
        "AveBedrms",
        "Population",
        "AveOccup",
        "Latitude",
        "Longitude",
    ]
    reference = pd.read_csv(DATA / "california_housing_reference.csv.gz")[features]
    analysis = pd.read_csv(DATA / "california_housing_analysis.csv.gz")[features]
    sdk.datasets.register("housing", reference)
    sdk.datasets.register("housing", analysis)
    found = sdk.datasets.diff("housing@1", "housing@2")
    assert found.to_dict()["rows"] == {"old": len(reference), "new": len(analysis)}
    direct = stats.compare(reference, analysis)
    assert found.drift is not None
    assert {name: r.drifted for name, r in found.drift.columns.items()} == {
        name: r.drifted for name, r in direct.columns.items()
    }
    assert 0 < len(found.drift.drifted_columns) < len(found.drift.columns)  # real drift, not everywhere


def test_a_deleted_version_keeps_its_number_and_its_place_in_the_graph(sdk: Client, tmp_path: Path) -> None:
    root = make_tree(tmp_path / "d", {"a.csv": b"a\n1\n"})
    first = sdk.datasets.register("raw", root)
    (root / "a.csv").write_bytes(b"a\n1\n2\n")
    settle(root)
    second = sdk.datasets.register("raw", root)
    with sdk.start_run("exp", capture=False) as run:
        run.log_input(second, context="training")
    assert sdk.datasets.delete("raw@2") == second  # a run read it: runs do not keep data
    with pytest.raises(NotFound, match="dataset 'raw' has no version 2"):
        sdk.datasets.get("raw@2")
    assert sdk.datasets.get("raw") == first and [v.version for v in sdk.datasets.versions("raw")] == [1]
    graph = sdk.lineage.downstream("dataset:raw@2").to_dict()
    assert graph["nodes"][0]["tombstoned_at"] is not None  # what read it still says from what
    assert graph["edges"][0]["to"] == f"run:{run.id}"
    # A new content gets a new number, never 2 again; the deleted content brings 2 back.
    (root / "a.csv").write_bytes(b"a\n3\n")
    settle(root)
    assert sdk.datasets.register("raw", root).version == 3
    (root / "a.csv").write_bytes(b"a\n1\n2\n")
    settle(root)
    back = sdk.datasets.register("raw", root)
    assert back.version == 2 and back.digest == second.digest
    assert sdk.datasets.download("raw@2", tmp_path / "out").joinpath("a.csv").read_bytes() == b"a\n1\n2\n"
    assert sdk.lineage.downstream("dataset:raw@2").to_dict()["nodes"][0]["tombstoned_at"] is None
    with pytest.raises(InvalidParameter, match="ref: name the version to delete"):
        sdk.datasets.delete("raw")
    with pytest.raises(NotFound, match="dataset 'raw' has no version 9"):
        sdk.datasets.delete("raw@9")
    # What a model depends on is kept, on every path, unless forced.
    sdk.lineage.link("dataset:raw@1", "model:churn/1", "used", "training")
    with pytest.raises(Conflict, match="raw@1 is kept: model:churn/1 depends on it"):
        sdk.datasets.delete("raw@1")
    assert sdk.datasets.delete("raw@1", force=True) == first


def test_data_a_model_depends_on_is_kept_unless_forced(platform: Platform, tmp_path: Path) -> None:
    data, lineage = platform.data, platform.lineage
    raw = data.register("raw", make_tree(tmp_path / "r", {"a": b"1"}), actor="ada")
    clean = data.register("clean", make_tree(tmp_path / "c", {"a": b"2"}), actor="ada")
    lineage.add_edge(f"dataset:{raw.ref}", f"dataset:{clean.ref}", "derived", project="default", actor="ada")
    lineage.add_edge(
        f"dataset:{clean.ref}", "model:churn/1", "used", "training", project="default", actor="ada"
    )
    with pytest.raises(Conflict, match=r"raw@1 is kept: model:churn/1 depends on it") as refused:
        data.delete_version("raw", 1, actor="ada")  # through the data derived from it
    assert refused.value.details == {"dependents": ["model:churn/1"]}
    assert data.get_version("raw", 1) == raw
    assert data.delete_version("raw", 1, force=True, actor="ada") == raw
    with platform.db.read() as conn:
        entry = [e for e in audit.list_events(conn) if e.action == "dataset.delete"][-1]
    assert entry.after == {"forced": True, "dependents": ["model:churn/1"]}
    # Its content is garbage now (no other version holds it); clean's is not.
    referenced = data.referenced_blobs()
    assert blake3(b"1").hexdigest() not in referenced and blake3(b"2").hexdigest() in referenced


def test_content_registered_again_after_deletion_is_described_afresh(sdk: Client, tmp_path: Path) -> None:
    """The version comes back under its number as this registration describes it: by reference
    now, where it was kept by copy (its copied contents may already be collected)."""
    root = make_tree(tmp_path / "d", {"a.csv": b"a\n1\n"})
    kept = sdk.datasets.register("raw", root)
    sdk.datasets.delete("raw@1")
    back = sdk.datasets.register("raw", root, by_reference=True)
    assert (back.version, back.digest) == (1, kept.digest)
    assert back.by_reference and back.source_url is not None and not kept.by_reference
    assert sdk.datasets.verify("raw@1") == back
    assert sdk.datasets.download("raw@1", tmp_path / "out").joinpath("a.csv").read_bytes() == b"a\n1\n"

"""Batch scoring, embedded and over HTTP, on SQLite and PostgreSQL, with a real scikit-learn model
trained on real data (California housing, the NannyML sample in ../shared/data): a dataset version
is predicted chunk by chunk, the predictions become a dataset version linked in the lineage graph
and are logged as the model's predictions (the version the alias held), a scoring run again logs
nothing twice, bad input is refused naming the field and leaves nothing behind, and `plimsoll
score` says what it did (`--json` too)."""

from __future__ import annotations

import io
import shutil
import sys
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from plimsoll.client import Client
from plimsoll.core.errors import InvalidParameter, NotFound
from plimsoll.monitoring.entities import Scoring
from plimsoll.server.testing import LiveServer

sys.path.insert(0, str(Path(__file__).parents[1] / "cli"))
from cli_support import cli, ok_json

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
FEATURES = ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup", "Latitude", "Longitude"]
ROWS = 8232  # california_housing_analysis.csv.gz


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations hash with a cache of their own, never the user's."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))


@cache
def reference() -> pd.DataFrame:
    return pd.read_csv(DATA / "california_housing_reference.csv.gz")


@cache
def analysis() -> pd.DataFrame:
    return pd.read_csv(DATA / "california_housing_analysis.csv.gz")


@cache
def trained() -> Any:
    """A real classifier of the reference period: is a district's house value high?"""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    frame = reference()
    return make_pipeline(StandardScaler(), LogisticRegression()).fit(frame[FEATURES], frame.clf_target)


def released(sdk: Client, tmp_path: Path) -> str:
    """`housing/1`, held by `production`, and the analysis period as `housing-analysis@1`."""
    with sdk.start_run(experiment="housing", capture=False) as run:
        run.log_model(trained(), "model", input_example=reference()[FEATURES].head(3), register_as="housing")
    sdk.registry.set_alias("housing", "production", 1)
    shutil.copy(DATA / "california_housing_analysis.csv.gz", tmp_path / "analysis.csv.gz")
    return sdk.datasets.register("housing-analysis", tmp_path / "analysis.csv.gz").ref


def output_frame(sdk: Client, ref: str, tmp_path: Path) -> pd.DataFrame:
    folder = sdk.datasets.download(ref, tmp_path / ref.replace("@", "-"))
    return pq.read_table(folder / "predictions.parquet").to_pandas()


def test_a_dataset_version_scored_written_linked_and_logged(sdk: Client, tmp_path: Path) -> None:
    dataset = released(sdk, tmp_path)
    phases: dict[str, tuple[int, int]] = {}
    scoring = sdk.monitoring.score(
        "housing@production",
        dataset,
        id_column="id",
        timestamp=datetime(2026, 6, 1, tzinfo=UTC),
        batch_size=3000,
        progress=lambda phase, done, total: phases.__setitem__(phase, (done, total)),
    )
    output = "housing-analysis-scored-by-housing@1"
    assert (scoring.model, scoring.alias, scoring.dataset, scoring.output) == (
        "housing/1",
        "production",
        "housing-analysis@1",
        output,
    )
    assert (scoring.rows, scoring.batches, scoring.segments, scoring.id_column) == (ROWS, 3, 3, "id")
    assert scoring.seconds > 0 and phases["scoring"] == (ROWS, ROWS) and "reading" in phases

    # The output: one row a prediction, the model's own answers, in the dataset's order.
    version = sdk.datasets.get(output)
    assert version.rows == ROWS and [c.name for c in version.schema or ()] == [
        "id",
        "prediction",
        "score",
        "model",
    ]
    assert version.tags == {"model": "housing/1", "dataset": "housing-analysis@1"}
    rows = output_frame(sdk, output, tmp_path)
    truth = analysis()
    assert rows.id.tolist() == truth.id.astype(str).tolist()
    assert (rows.prediction.to_numpy() == trained().predict(truth[FEATURES])).all()
    assert rows.score.to_numpy() == pytest.approx(trained().predict_proba(truth[FEATURES])[:, 1])
    assert set(rows.model) == {"housing/1"}

    # The lineage: the output derived from the data it scored, produced by the version that answered.
    graph = sdk.lineage.upstream(f"dataset:{output}", depth=1)
    assert {(e.source, e.target, e.role) for e in graph.edges} == {
        ("dataset:housing-analysis@1", f"dataset:{output}", "derived"),
        ("model:housing/1", f"dataset:{output}", "produced"),
    }
    # A scored dataset is not one the model depends on: its deletion is not refused for it.
    assert [n.id for n in sdk.lineage.impact("dataset:housing-analysis@1").impacted] == []

    # The log: the same predictions, with the features, under the version the alias held.
    logged = sdk.monitoring.read("predictions", model="housing/1")
    assert logged.num_rows == ROWS
    assert logged.column_names == ["__id", "__ts", "__prediction", "__score", *FEATURES]
    assert logged.column("__id").to_pylist() == rows.id.tolist()
    assert logged.column("__prediction").to_pylist() == rows.prediction.tolist()
    assert set(logged.column("__ts").to_pylist()) == {
        int(datetime(2026, 6, 1, tzinfo=UTC).timestamp() * 1000)
    }
    assert logged.column("MedInc").to_pylist() == pytest.approx(truth.MedInc.tolist())
    # Its labels arrive later, by the dataset's own ids, and join.
    truth_later = pd.read_csv(DATA / "california_housing_analysis_gt.csv.gz")
    sdk.log_labels(truth_later.id.astype(str), truth_later.clf_target, model="housing")
    sdk.monitoring.flush(30)
    assert sdk.monitoring.read("labels", model="housing").num_rows == ROWS


def test_a_scoring_run_again_logs_nothing_twice(sdk: Client, tmp_path: Path) -> None:
    dataset = released(sdk, tmp_path)
    first = sdk.score("housing@production", dataset, batch_size=5000)
    again = sdk.score("housing/1", "housing-analysis", batch_size=5000)  # the same, named otherwise
    assert (first.batches, first.segments) == (2, 2)
    assert (again.output, again.batches, again.segments, again.alias) == (first.output, 2, 0, None)
    assert sdk.datasets.get(first.output).version == 1  # the same content: the same version
    assert sdk.monitoring.read("predictions", model="housing/1").num_rows == ROWS
    ids = sdk.monitoring.read("predictions", model="housing/1").column("__id").to_pylist()
    assert ids[:2] == ["housing-analysis@1-0", "housing-analysis@1-1"] and len(set(ids)) == ROWS

    # Another version behind the alias: its own predictions, its own log, a new output version.
    with sdk.start_run(experiment="housing", capture=False) as run:
        run.log_model(trained(), "model", input_example=reference()[FEATURES].head(3), register_as="housing")
    sdk.registry.set_alias("housing", "production", 2)
    second = sdk.score("housing@production", dataset, output="housing-scores")
    assert (second.model, second.output, second.segments) == ("housing/2", "housing-scores@1", 1)
    assert sdk.monitoring.read("predictions", model="housing/2").num_rows == ROWS
    assert sdk.monitoring.read("predictions", model="housing/1").num_rows == ROWS


def test_chunks_cross_files_and_give_the_rows_of_the_whole(sdk: Client, tmp_path: Path) -> None:
    released(sdk, tmp_path)
    folder = tmp_path / "parts"
    folder.mkdir()
    whole = analysis()
    for index in range(3):  # Parquet files of 2744 rows, the first with whole numbers as int64
        part = whole.iloc[index * 2744 : (index + 1) * 2744]
        part = part.astype({"HouseAge": "int64", "Population": "int64"}) if index == 0 else part
        part.to_parquet(folder / f"part-{index}.parquet", index=False)
    (folder / "README.md").write_text("the analysis period, in three files\n")  # not a table: skipped
    registered = sdk.datasets.register("housing-parts", folder)
    assert {c.name: c.type for c in registered.schema or ()}["HouseAge"] == "double"  # unified
    dataset = registered.ref
    small = sdk.score("housing/1", dataset, output="small-chunks", id_column="id", batch_size=1000)
    large = sdk.score("housing/1", dataset, output="one-chunk", id_column="id", batch_size=10_000)
    assert (small.rows, small.batches, large.batches) == (ROWS, 9, 1)
    by_small, by_large = output_frame(sdk, small.output, tmp_path), output_frame(sdk, large.output, tmp_path)
    pd.testing.assert_frame_equal(by_small, by_large)
    assert by_small.id.tolist() == whole.id.astype(str).tolist()


def test_refusals_name_the_field_and_leave_nothing(sdk: Client, tmp_path: Path) -> None:
    dataset = released(sdk, tmp_path)
    score = sdk.monitoring.score

    def refused(field: str, match: str, *args: Any, **kwargs: Any) -> None:
        with pytest.raises(InvalidParameter, match=match) as raised:
            score(*args, **kwargs)
        assert raised.value.field == field, raised.value

    with pytest.raises(NotFound, match="nobody"):
        score("nobody@production", dataset)
    with pytest.raises(NotFound, match="staging"):
        score("housing@staging", dataset)
    with pytest.raises(NotFound, match="has no version 9"):
        score("housing/1", "housing-analysis@9")
    with pytest.raises(NotFound, match="dataset 'nothing-here' has no versions"):
        score("housing/1", "nothing-here")
    # Columns the signature takes that the dataset lacks: all of them named.
    thin = tmp_path / "thin.csv"
    analysis().drop(columns=["Latitude", "Longitude"]).head(50).to_csv(thin, index=False)
    sdk.datasets.register("thin", thin)
    refused(
        "dataset",
        r"thin@1 lacks 2 columns that housing/1 takes \(the signature of housing/1\): 'Latitude', 'Longitude'",
        "housing/1",
        "thin",
    )
    refused("features", "lacks 1 column .*'Rooms'", "housing/1", dataset, features=["MedInc", "Rooms"])
    refused(
        "id_column", "housing-analysis@1 has no column 'customer'", "housing/1", dataset, id_column="customer"
    )
    refused("id_column", "column 'HouseAge' repeats '", "housing/1", dataset, id_column="HouseAge")
    refused("output", "is the dataset scored", "housing/1", dataset, output="housing-analysis")
    refused("output", "must not contain", "housing/1", dataset, output="a@b")
    refused("batch_size", "outside the range", "housing/1", dataset, batch_size=0)
    refused("timestamp", "timezone-aware", "housing/1", dataset, timestamp=datetime(2026, 6, 1))
    refused("model", "NAME, NAME/VERSION or NAME@ALIAS|version must be", "housing/0", dataset)
    # An empty table, and files that are no table at all.
    empty = tmp_path / "empty.csv"
    analysis().head(0).to_csv(empty, index=False)
    sdk.datasets.register("empty", empty)
    refused("dataset", "empty@1 has no rows: there is nothing to score", "housing/1", "empty")
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "a.txt").write_text("not a table")
    sdk.datasets.register("notes", notes)
    refused("dataset", "notes@1 holds no Parquet or CSV file", "housing/1", "notes")
    # The model's own refusal (a value its signature cannot convert), named with the rows.
    odd = tmp_path / "odd.csv"
    analysis().assign(HouseAge="old").head(20).to_csv(odd, index=False)
    sdk.datasets.register("odd", odd)
    refused("input.HouseAge", "column 'HouseAge' must be float64", "housing/1", "odd")
    # A version registered from files, not logged with log_model: nothing knows how to predict with it.
    with sdk.start_run(experiment="housing", capture=False) as run:
        run.log_text("weights", "raw/weights.txt")
    sdk.registry.register("bare", run_id=run.id, artifact_path="raw")
    with pytest.raises(NotFound, match="no flavor knows how to load it"):
        score("bare/1", dataset)
    assert sdk.monitoring.segments("predictions") == []  # nothing logged by any of them
    assert [d.name for d in sdk.datasets.list()] == ["empty", "housing-analysis", "notes", "odd", "thin"]


def test_a_record_the_server_cannot_square_is_refused(sdk: Client, tmp_path: Path) -> None:
    dataset = released(sdk, tmp_path)
    scoring = sdk.score("housing/1", dataset)
    record = sdk._transport.monitoring_record_scoring

    def refused(field: str, match: str, **changes: Any) -> None:
        fields = {**scoring.to_dict(), **changes}
        with pytest.raises(InvalidParameter, match=match) as raised:
            record(Scoring(**fields))
        assert raised.value.field == field

    refused("rows", "says 10, but housing-analysis-scored-by-housing@1 holds 8232 rows", rows=10)
    refused("model", "must name the version that predicted", model="housing@production")
    refused("output", "is the dataset scored", output=dataset)
    refused("dataset", "must name a dataset version", dataset="housing-analysis")
    with pytest.raises(NotFound, match="has no version 2"):
        record(Scoring(**{**scoring.to_dict(), "output": "housing-analysis@2"}))
    assert record(scoring) == scoring  # recorded again: nothing changes


def test_the_score_command(live_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PLIMSOLL_URL", "PLIMSOLL_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    url = ("--url", live_server.url)
    with Client(live_server.url) as client:
        dataset = released(client, tmp_path)
    shown = cli("score", "housing@production", dataset, "--id-column", "id", *url)
    assert shown.exit_code == 0, shown.output
    assert "8,232 rows of housing-analysis@1 scored by housing/1 (production)" in shown.stdout
    assert "predictions: housing-analysis-scored-by-housing@1" in shown.stdout
    again = ok_json("score", "housing@production", dataset, "--id-column", "id", *url)
    assert {k: again[k] for k in ("model", "alias", "dataset", "output", "rows", "segments")} == {
        "model": "housing/1",
        "alias": "production",
        "dataset": "housing-analysis@1",
        "output": "housing-analysis-scored-by-housing@1",
        "rows": ROWS,
        "segments": 0,
    }
    assert "already logged" in cli("score", "housing/1", dataset, "--id-column", "id", *url).stdout
    assert ok_json("score", "housing/1", dataset, "--output", "by-hand", *url)["output"] == "by-hand@1"
    partial = cli("score", "housing/1", dataset, "--feature", "MedInc", *url)
    assert partial.exit_code == 2 and "column 'HouseAge' (float64) is missing" in partial.output
    missing = cli("score", "housing/1", dataset, "--id-column", "nope", *url)
    assert missing.exit_code == 2 and "id_column: housing-analysis@1 has no column 'nope'" in missing.output
    unknown = cli("score", "housing@staging", dataset, *url)
    assert unknown.exit_code == 3 and "staging" in unknown.output


def test_the_score_command_shows_progress_on_a_terminal(
    sqlite_live_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console

    from plimsoll.cli import scoring as scoring_cli

    terminal = io.StringIO()
    monkeypatch.setattr(scoring_cli, "err_console", Console(file=terminal, force_terminal=True, width=120))
    with Client(sqlite_live_server.url) as client:
        dataset = released(client, tmp_path)
    shown = cli("score", "housing/1", dataset, "--batch-size", "2000", "--url", sqlite_live_server.url)
    assert shown.exit_code == 0, shown.output
    drawn = terminal.getvalue()
    assert "scoring" in drawn and "8,232/8,232 rows" in drawn and "reading" in drawn


def test_the_answers_of_each_kind_of_model() -> None:
    """The chunk work alone: a multi-class classifier's score is the predicted class's probability
    (the log keeps every class's), a regressor has none, a model's own error names the rows."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LinearRegression, LogisticRegression

    from plimsoll.model_registry.entities import Column, Signature
    from plimsoll.monitoring.predicting import features_for, predict

    iris = load_iris(as_frame=True)
    frame = iris.data
    classifier = LogisticRegression(max_iter=1000).fit(frame, iris.target)
    answered = predict(classifier, frame, len(frame), model_ref="iris/1", where="rows 0 to 149 of iris@1")
    proba = classifier.predict_proba(frame)
    assert answered.predictions.to_pylist() == classifier.predict(frame).tolist()
    assert answered.score == pytest.approx(proba.max(axis=1)) and answered.scores is not None
    assert answered.scores.shape == (150, 3)
    regressor = LinearRegression().fit(frame, iris.target)
    plain = predict(regressor, frame, len(frame), model_ref="r/1", where="rows 0 to 149 of iris@1")
    assert plain.score is None and plain.scores is None

    class Broken:
        def predict(self, rows: Any) -> Any:
            raise ValueError("Input X contains NaN")

    with pytest.raises(InvalidParameter, match=r"b/1 failed to predict rows 0 to 149 of iris@1: ValueError"):
        predict(Broken(), frame, len(frame), model_ref="b/1", where="rows 0 to 149 of iris@1")

    class Wide:
        def predict(self, rows: Any) -> Any:
            return np.zeros((len(rows), 2))

    with pytest.raises(InvalidParameter, match="one prediction a row"):
        predict(Wide(), frame, len(frame), model_ref="w/1", where="rows 0 to 149 of iris@1")
    by_position = Signature((Column("0", "float64"), Column("1", "float64")), layout="array")
    with pytest.raises(InvalidParameter, match="takes an array by position") as raised:
        features_for(by_position, ["a", "b"], features=None, id_column=None, model="m/1", dataset="d@1")
    assert raised.value.field == "features"
    assert features_for(
        by_position, ["a", "b"], features=["b", "a"], id_column=None, model="m/1", dataset="d@1"
    ) == ["b", "a"]

"""Prediction, label and outcome logging, embedded and over HTTP, on SQLite and PostgreSQL: the
version an alias held is recorded per row, rows land in one Parquet segment a UTC day and read
back whole through DuckDB, a batch sent again is stored once, the SDK's buffer is bounded and
never drops a row unseen, and bad input is refused naming the field."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from plimsoll.client import Client
from plimsoll.client.monitoring import Monitoring
from plimsoll.core.errors import InvalidParameter, NotFound, Unavailable
from plimsoll.monitoring.tables import label_table, prediction_table

DAY_MS = 86_400_000
FEATURES = [f"f{i}" for i in range(5)]


def versions(sdk: Client, count: int) -> None:
    for number in range(count):
        with sdk.start_run(experiment="churn") as run:
            run.log_text(f"weights {number}", "model/weights.txt")
        sdk.registry.register("churn", run_id=run.id, artifact_path="model")


def traffic(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(rows, len(FEATURES))), columns=FEATURES)
    frame["region"] = rng.choice(["north", "south"], rows)
    return frame


def test_predictions_labels_and_outcomes_logged_and_read_back(sdk: Client) -> None:
    versions(sdk, 2)
    sdk.registry.set_alias("churn", "production", 1)
    frame = traffic(3_000)
    day = datetime(2026, 11, 30, tzinfo=UTC)
    stamps = [int(day.timestamp() * 1000) + i * 60_000 for i in range(3_000)]  # 50 h: 3 UTC days
    ids = sdk.log_predictions(
        "churn@production",
        frame,
        (frame.f0 > 0).astype(int),
        scores=np.linspace(0, 1, 3_000),
        timestamps=stamps,
    )
    assert len(ids) == 3_000 and len(set(ids.to_pylist())) == 3_000
    sdk.registry.set_alias("churn", "production", 2)
    sdk.log_predictions(
        "churn@production", frame.head(10), np.zeros(10), ids=[f"late-{i}" for i in range(10)]
    )
    sdk.log_labels(ids[:100], np.ones(100, dtype=int), model="churn")
    sdk.log_outcomes(ids[:50], {"revenue": np.full(50, 9.5)})
    sdk.monitoring.flush()

    first = sdk.monitoring.segments("predictions", model="churn/1")
    assert [s.day for s in first] == [20787, 20788, 20789] and sum(s.rows for s in first) == 3_000
    assert {(s.version, s.deployment, s.role) for s in first} == {(1, "", "")}
    assert [s.rows for s in sdk.monitoring.segments("predictions", model="churn/2")] == [10]

    rows = sdk.monitoring.read("predictions", model="churn/1")
    assert rows.num_rows == 3_000 and rows.column("__id").to_pylist() == ids.to_pylist()
    assert rows.column("__ts").to_pylist() == stamps
    assert rows.column("f3").to_pylist() == pytest.approx(frame.f3.tolist())
    assert rows.column("region").to_pylist() == frame.region.tolist()
    one_day = sdk.monitoring.read(
        "predictions", model="churn", since=stamps[0] + DAY_MS, until=stamps[0] + 2 * DAY_MS
    )
    assert one_day.num_rows == 24 * 60 and one_day.column("__ts")[0].as_py() == stamps[0] + DAY_MS
    labels = sdk.monitoring.read("labels", model="churn")
    assert labels.column("__id").to_pylist() == ids[:100].to_pylist() and set(
        labels.column("__label").to_pylist()
    ) == {1}
    assert sdk.monitoring.read("outcomes").column("revenue").to_pylist() == [9.5] * 50


def test_a_batch_sent_again_is_stored_once(sdk: Client) -> None:
    versions(sdk, 1)
    table = prediction_table(traffic(20), np.zeros(20), now_ms=1_700_000_000_000)
    where = {"project": "default", "model": "churn/1", "batch": "retry-me"}
    first = sdk._transport.monitoring_log("predictions", table, where)
    again = sdk._transport.monitoring_log("predictions", table, where)
    assert (first.duplicate, again.duplicate) == (False, True) and again.segments == first.segments
    assert len(sdk.monitoring.segments("predictions")) == 1


def test_refusals_name_the_field(sdk: Client) -> None:
    versions(sdk, 1)
    log = sdk._transport.monitoring_log
    good = prediction_table(traffic(5), np.zeros(5), now_ms=1_700_000_000_000)
    with pytest.raises(NotFound, match="production"):
        log("predictions", good, {"project": "default", "model": "churn@production"})
    with pytest.raises(InvalidParameter) as unnamed:
        log("predictions", good, {"project": "default"})
    assert unnamed.value.field == "model"
    clash = good.append_column("__secret", pa.array(range(5)))
    with pytest.raises(InvalidParameter, match=r"starts with '__'"):
        log("predictions", clash, {"project": "default", "model": "churn/1"})
    twice = prediction_table(traffic(2), [0, 1], ids=["a", "a"], now_ms=1_700_000_000_000)
    with pytest.raises(InvalidParameter, match="__id: repeats 'a'"):
        log("predictions", twice, {"project": "default", "model": "churn/1"})
    with pytest.raises(InvalidParameter, match="__id: an id is 129 characters long; the limit is 128"):
        log("labels", label_table(["x" * 129], [1], now_ms=0), {"project": "default"})
    with pytest.raises(InvalidParameter, match="role: names a deployment's role"):
        log("predictions", good, {"project": "default", "model": "churn/1", "role": "canary"})
    with pytest.raises(InvalidParameter, match="rows: the batch is empty"):
        log("predictions", good.slice(0, 0), {"project": "default", "model": "churn/1"})
    with pytest.raises(InvalidParameter, match="timestamps: must be epoch milliseconds or datetimes"):
        sdk.log_predictions("churn/1", traffic(2), [0, 1], timestamps=["monday", "tuesday"])
    with pytest.raises(InvalidParameter, match="predictions: has 3 values for 2 rows"):
        sdk.log_predictions("churn/1", traffic(2), [0, 1, 2])
    assert sdk.monitoring.segments("predictions") == []  # nothing stored by any of them


def test_a_refused_batch_is_counted_and_raised_at_the_next_flush(sdk: Client) -> None:
    sdk.log_predictions("nobody/1", traffic(7), np.zeros(7))
    with pytest.raises(NotFound, match="nobody"):
        sdk.monitoring.flush(timeout=30)
    assert sdk.monitoring.refused == 7
    sdk.monitoring.flush(timeout=30)  # said once


def test_the_buffer_is_bounded_and_drops_nothing_unseen() -> None:
    # A server nobody answers at: nothing is ever sent, so the buffer fills.
    unreachable = Client("http://127.0.0.1:9", retry_for=0.2)
    try:
        dropping = Monitoring(
            unreachable._transport, max_buffered_rows=100, flush_interval=60, when_full="drop"
        )
        dropping.log_predictions("churn/1", traffic(80), np.zeros(80))
        dropping.log_predictions("churn/1", traffic(30), np.zeros(30))  # over the bound: counted
        assert (dropping.buffered, dropping.dropped) == (80, 30)
        blocking = Monitoring(
            unreachable._transport, max_buffered_rows=100, flush_interval=60, block_timeout=0.5
        )
        blocking.log_predictions("churn/1", traffic(80), np.zeros(80))
        with pytest.raises(Unavailable, match="the monitoring buffer holds 80 rows"):
            blocking.log_predictions("churn/1", traffic(30), np.zeros(30))
        assert blocking.dropped == 0
        with pytest.raises(TimeoutError, match="80 logged rows are not sent yet"):
            blocking.flush(timeout=0.3)
        blocking.close(timeout=0.2)  # the server never answered: closing counts what it drops
        assert (blocking.dropped, blocking.buffered) == (80, 0)
    finally:
        dropping.close(timeout=0.1)
        unreachable._transport.close()


def test_a_served_models_small_calls_are_stored_whole_and_in_order(sdk: Client) -> None:
    # A served model logs each request's few rows as it comes: a list of dicts a call. Those rows
    # wait as Python values (built into one table with the others'); a call whose values do not
    # fit what came before (an int where floats were, a None, another key order, a new column)
    # still gets its rows stored, in order, with the version the alias held at the call.
    versions(sdk, 2)
    sdk.registry.set_alias("churn", "production", 1)
    rng = np.random.default_rng(3)
    sent: list[dict[str, object]] = []
    ids: list[str] = []
    for call in range(300):
        if call == 200:
            sdk.registry.set_alias("churn", "production", 2)
        rows = [
            {"age": float(rng.integers(18, 90)), "plan": str(rng.choice(["a", "b"])), "spend": rng.random()}
            for _ in range(1 + call % 7)
        ]
        if call == 50:
            rows[0]["age"] = 40  # an int among floats
        if call == 60:
            rows[0]["plan"] = None
        if call == 70:
            rows[0] = {"spend": 0.5, "plan": "c", "age": 33.0}  # another key order
        predictions = [int(row["spend"] > 0.5) for row in rows]  # type: ignore[operator]
        scores = [float(row["spend"]) for row in rows]  # type: ignore[arg-type]
        made = sdk.log_predictions("churn@production", rows, predictions, scores=scores)
        assert len(made) == len(rows)
        ids.extend(made.to_pylist())
        sent.extend(rows)
    sdk.log_predictions("churn@production", [{"age": 1.0, "plan": "a", "spend": 0.1, "new": 1}], [0])
    sdk.monitoring.flush(timeout=60)
    assert len(set(ids)) == len(ids) and sdk.monitoring.refused == sdk.monitoring.dropped == 0

    first = sdk.monitoring.read("predictions", model="churn/1")
    second = sdk.monitoring.read("predictions", model="churn/2")
    before = sum(1 + call % 7 for call in range(200))
    assert first.num_rows == before and second.num_rows == len(sent) - before + 1
    assert first.column("__id").to_pylist() + second.column("__id").to_pylist()[:-1] == ids
    for name in ("age", "plan", "spend"):
        stored = first.column(name).to_pylist() + second.column(name).to_pylist()[:-1]
        assert stored == [row[name] for row in sent], name
    assert second.column("new").to_pylist()[-1] == 1


def test_a_list_of_dicts_that_is_not_one_table_is_refused_naming_the_column(sdk: Client) -> None:
    versions(sdk, 1)
    with pytest.raises(InvalidParameter) as refused:
        sdk.log_predictions("churn/1", [{"age": 1.0, "plan": 3}, {"age": 2.0, "plan": "b"}], [0, 1])
    assert refused.value.field == "features.plan"
    # After calls that fit, one that does not is refused alike: nothing of it is kept.
    for _ in range(3):
        sdk.log_predictions("churn/1", [{"age": 1.0, "plan": "a"}], [0])
    with pytest.raises(InvalidParameter) as again:
        sdk.log_predictions("churn/1", [{"age": [1], "plan": "a"}, {"age": "x", "plan": "a"}], [0, 1])
    assert again.value.field == "features.age"
    sdk.monitoring.flush(timeout=30)
    assert sdk.monitoring.read("predictions").num_rows == 3


def test_calls_whose_columns_cannot_be_one_table_are_sent_apart(sdk: Client) -> None:
    # The same feature as numbers, then as text: the buffer cannot join them into one batch, so
    # each kind goes in a batch of its own (the server checks each) rather than failing the lot.
    versions(sdk, 1)
    sdk.log_predictions("churn/1", pd.DataFrame({"zone": [1, 2, 3]}), [0, 0, 0])
    sdk.log_predictions("churn/1", pd.DataFrame({"zone": ["north"]}), [1])
    sdk.log_predictions("churn/1", pd.DataFrame({"zone": [4, 5]}), [0, 1])
    sdk.monitoring.flush(timeout=30)
    assert sdk.monitoring.refused == 0
    assert sum(s.rows for s in sdk.monitoring.segments("predictions")) == 6


def test_small_tables_are_held_as_few(sdk: Client) -> None:
    # One-row DataFrames, as a served model might log them: a table holds ~30 KB however few its
    # rows, so the buffer copies small tables into one as they come. What reaches the transport
    # is a batch of a few chunks, not one a call.
    versions(sdk, 1)
    transport = sdk._transport
    seen: list[pa.Table] = []
    monitoring = Monitoring(transport, flush_interval=60)
    original = transport.monitoring_log

    def spy(kind: str, table: pa.Table, where: dict[str, object]) -> object:
        seen.append(table)
        return original(kind, table, where)

    transport.monitoring_log = spy  # type: ignore[method-assign]
    try:
        frame = traffic(2_000)
        for row in range(2_000):
            monitoring.log_predictions("churn/1", frame.iloc[row : row + 1], [row % 2])
        monitoring.flush(timeout=60)
    finally:
        monitoring.close()
        del transport.monitoring_log
    assert sum(t.num_rows for t in seen) == 2_000
    assert max(t.column("__id").num_chunks for t in seen) <= 2_000 // 60
    assert sdk.monitoring.read("predictions").column("f0").to_pylist() == pytest.approx(frame.f0.tolist())


def test_a_dataframes_columns_are_converted_as_from_pandas_converts_them() -> None:
    frame = pd.DataFrame(
        {
            "f": [0.5, np.nan, 2.0],
            "i": np.arange(3, dtype=np.int32),
            "b": [True, False, True],
            "s": ["a", None, "c"],
            "cat": pd.Categorical(["u", "v", "u"]),
            "t": pd.date_range("2026-01-01", periods=3, tz="UTC"),
            "n": pd.array([1, None, 3], dtype="Int64"),
        },
        index=[7, 8, 9],
    ).iloc[1:]
    table = prediction_table(frame, [0, 1], now_ms=0)
    expected = pa.Table.from_pandas(frame, preserve_index=False)
    for name in frame.columns:
        assert table.column(name).equals(expected.column(name)), name
    with pytest.raises(InvalidParameter) as refused:
        prediction_table(pd.DataFrame({"ok": [1.0, 2.0], "mixed": [1, "x"]}), [0, 1], now_ms=0)
    assert refused.value.field == "features.mixed"

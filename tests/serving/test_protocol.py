"""Request bodies in every format clients send (MLflow's four, OIP v2, Arrow IPC) parsed into
the same frame, each refusal naming its field, the limits said with their numbers, and the
answers in both styles."""

from __future__ import annotations

import orjson
import pandas as pd
import pyarrow as pa
import pytest

from plimsoll.core.errors import InvalidParameter, PayloadTooLarge
from plimsoll.serving import protocol
from plimsoll.serving.protocol import Limits, Parsed

LIMITS = Limits(max_rows=100, max_body_bytes=10_000)
ROWS = [{"age": 30, "income": 1.5, "region": "north"}, {"age": 41, "income": 2.5, "region": "south"}]
EXPECTED = pd.DataFrame(ROWS)


def arrow(frame: pd.DataFrame) -> bytes:
    sink = pa.BufferOutputStream()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


@pytest.mark.parametrize(
    "body",
    [
        {
            "dataframe_split": {
                "columns": ["age", "income", "region"],
                "data": [[30, 1.5, "north"], [41, 2.5, "south"]],
            }
        },
        {"dataframe_records": ROWS},
        {"instances": ROWS},
        {"inputs": {"age": [30, 41], "income": [1.5, 2.5], "region": ["north", "south"]}},
        {"inputs": ROWS, "params": {"anything": 1}},
    ],
    ids=["split", "records", "instances-records", "inputs-columns", "inputs-records"],
)
def test_every_mlflow_format_gives_the_same_frame(body: dict[str, object]) -> None:
    parsed = protocol.parse_mlflow(protocol.loads(orjson.dumps(body)), LIMITS)
    assert not parsed.positional
    pd.testing.assert_frame_equal(parsed.frame, EXPECTED)


def test_rows_by_position_are_named_after_the_signature() -> None:
    parsed = protocol.parse_mlflow({"instances": [[30, 1.5], [41, 2.5]]}, LIMITS)
    assert parsed.positional and list(parsed.frame.columns) == ["0", "1"]
    named = protocol.named(parsed, ["age", "income"], "frame", "input")
    assert list(named.columns) == ["age", "income"] and named.age.tolist() == [30, 41]
    assert list(protocol.named(parsed, ["0", "1"], "array", "input").columns) == ["0", "1"]
    with pytest.raises(InvalidParameter, match="the model takes 3 columns in this order: a, b, c") as caught:
        protocol.named(parsed, ["a", "b", "c"], "frame", "input")
    assert caught.value.field == "input"
    single = protocol.parse_mlflow({"inputs": [1.0, 2.0, 3.0]}, LIMITS)
    assert single.frame["0"].tolist() == [1.0, 2.0, 3.0]


def test_oip_per_column_and_one_tensor() -> None:
    body = {
        "id": "req-1",
        "inputs": [
            {"name": "age", "shape": [2], "datatype": "INT64", "data": [30, 41]},
            {"name": "income", "shape": [2, 1], "datatype": "FP64", "data": [[1.5], [2.5]]},
            {"name": "region", "shape": [2], "datatype": "BYTES", "data": ["north", "south"]},
        ],
        "outputs": [{"name": "predict"}],
    }
    parsed = protocol.parse_oip(body, LIMITS)
    pd.testing.assert_frame_equal(parsed.frame, EXPECTED)
    assert parsed.request_id == "req-1" and parsed.outputs == ("predict",)
    tensor = protocol.parse_oip(
        {"inputs": [{"name": "x", "shape": [2, 3], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6]}]}, LIMITS
    )
    assert (
        tensor.positional and tensor.frame.shape == (2, 3) and str(tensor.frame.dtypes.iloc[0]) == "float32"
    )


def test_arrow_stream() -> None:
    parsed = protocol.parse_arrow(arrow(EXPECTED), LIMITS)
    pd.testing.assert_frame_equal(parsed.frame, EXPECTED)
    with pytest.raises(InvalidParameter) as caught:
        protocol.parse_arrow(b"not arrow", LIMITS)
    assert caught.value.field == protocol.MALFORMED


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([1, 2], "request"),
        ({}, "request"),
        ({"dataframe_records": ROWS, "instances": ROWS}, "request"),
        ({"dataframe_records": ROWS, "extra": 1}, "extra"),
        ({"dataframe_split": {"columns": "age", "data": [[1]]}}, "dataframe_split.columns"),
        ({"dataframe_split": {"columns": ["a", "a"], "data": [[1, 2]]}}, "dataframe_split.columns"),
        ({"dataframe_split": {"columns": ["a", "b"], "data": [[1, 2], [3]]}}, "dataframe_split.data[1]"),
        ({"dataframe_split": {"columns": ["a"], "data": []}}, "dataframe_split.data"),
        ({"dataframe_split": {"columns": ["a"], "data": [[1]], "dtypes": {}}}, "dataframe_split.dtypes"),
        ({"dataframe_records": [{"a": 1}, 5]}, "dataframe_records[1]"),
        ({"instances": [[1, 2], [3]]}, "instances[1]"),
        ({"instances": [[1, [2]]]}, "instances[0][1]"),
        ({"inputs": {"a": [1, 2], "b": [1]}}, "inputs"),
        ({"inputs": {"a": 1}}, "inputs.a"),
    ],
)
def test_mlflow_refusals_name_the_field(body: object, field: str) -> None:
    with pytest.raises(InvalidParameter) as caught:
        protocol.parse_mlflow(body, LIMITS)
    assert caught.value.field == field, caught.value.message


@pytest.mark.parametrize(
    ("tensor", "field"),
    [
        ({"name": "a", "shape": [2], "datatype": "FLOAT", "data": [1, 2]}, "inputs[1].datatype"),
        ({"name": "a", "shape": [2], "datatype": "FP64", "data": [1]}, "inputs[1].data"),
        ({"name": "a", "shape": [2], "datatype": "INT64", "data": [1, "x"]}, "inputs[1].data[1]"),
        ({"name": "a", "shape": [2], "datatype": "INT64", "data": [1, 2.5]}, "inputs[1].data[1]"),
        ({"name": "a", "shape": [2], "datatype": "BOOL", "data": [1, 0]}, "inputs[1].data[0]"),
        ({"name": "a", "shape": "2", "datatype": "FP64", "data": [1, 2]}, "inputs[1].shape"),
        ({"name": "", "shape": [2], "datatype": "FP64", "data": [1, 2]}, "inputs[1].name"),
        ({"name": "a", "shape": [2], "datatype": "FP64", "data": [1, 2], "x": 1}, "inputs[1].x"),
        ({"name": "a", "shape": [2, 2], "datatype": "FP64", "data": [1, 2, 3, 4]}, "inputs[1].shape"),
        ({"name": "a", "shape": [3], "datatype": "FP64", "data": [1, 2, 3]}, "inputs"),
        ({"name": "first", "shape": [2], "datatype": "FP64", "data": [1, 2]}, "inputs"),
    ],
)
def test_oip_refusals_name_the_tensor_and_field(tensor: dict[str, object], field: str) -> None:
    first = {"name": "first", "shape": [2], "datatype": "FP64", "data": [0.5, 0.25]}
    with pytest.raises(InvalidParameter) as caught:
        protocol.parse_oip({"inputs": [first, tensor]}, LIMITS)
    assert caught.value.field == field, caught.value.message


def test_malformed_json_is_the_body() -> None:
    with pytest.raises(InvalidParameter) as caught:
        protocol.loads(b'{"dataframe_records": [')
    assert caught.value.field == "body" == protocol.MALFORMED
    with pytest.raises(InvalidParameter):
        protocol.loads(b'{"instances": [[NaN]]}')  # not JSON: NaN is no JSON value


def test_limits_are_said_with_their_numbers() -> None:
    with pytest.raises(PayloadTooLarge, match="at most 100 rows") as caught:
        protocol.parse_mlflow({"instances": [[1.0]] * 101}, LIMITS)
    assert caught.value.details["limit"] == 100 and caught.value.field == "instances"
    with pytest.raises(PayloadTooLarge, match="at most 100 rows"):
        protocol.parse_oip(
            {"inputs": [{"name": "a", "shape": [101], "datatype": "FP64", "data": [1.0] * 101}]}, LIMITS
        )
    with pytest.raises(PayloadTooLarge, match="at most 10000 bytes"):
        LIMITS.check_body(10_001)


def test_missing_values_refused_naming_column_and_row() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [0.5, float("nan")], "c": ["x", None]})
    with pytest.raises(InvalidParameter, match=r"holds nan \(row 1\)") as caught:
        protocol.refuse_missing(frame, ["a", "b", "c"], "churn/1")
    assert caught.value.field == "input.b" and caught.value.details["row"] == 1
    with pytest.raises(InvalidParameter, match="holds null") as caught:
        protocol.refuse_missing(frame, ["c"], "churn/1")
    with pytest.raises(InvalidParameter, match="holds inf"):
        protocol.refuse_missing(pd.DataFrame({"a": [float("inf")]}), ["a"], "churn/1")
    protocol.refuse_missing(frame, ["a"], "churn/1")


def test_answers_in_both_styles() -> None:
    ids = ["p-0", "p-1"]
    mlflow = orjson.loads(protocol.mlflow_answer([0, 1], ids, [0.2, 0.9]))
    assert mlflow == {"predictions": [0, 1], "prediction_ids": ids, "scores": [0.2, 0.9]}
    import numpy as np

    oip = orjson.loads(
        protocol.oip_answer("churn", 3, None, np.array([0, 1]), ids, np.array([[0.8, 0.2], [0.1, 0.9]]))
    )
    assert oip["model_name"] == "churn" and oip["model_version"] == "3" and oip["id"] == "p"
    assert oip["parameters"]["prediction_ids"] == ids
    assert [(o["name"], o["shape"], o["datatype"]) for o in oip["outputs"]] == [
        ("predict", [2], "INT64"),
        ("predict_proba", [2, 2], "FP64"),
    ]
    only = orjson.loads(protocol.oip_answer("churn", 3, "r", np.array([0.5]), ["p-0"], None, ("predict",)))
    assert only["id"] == "r" and only["outputs"][0]["data"] == [0.5]
    assert Parsed(pd.DataFrame({"a": [1]})).rows == 1

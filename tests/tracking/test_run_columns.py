"""The rule that picks a runs table's columns (UI and CLI alike): keys that differ first, the key
sorted or filtered on always, keys with one value in every run summarised instead."""

from __future__ import annotations

import math

from plimsoll.tracking.entities import Run
from plimsoll.tracking.run_columns import KeyColumn, choose_columns


def make_run(index: int, params: dict[str, str], metrics: dict[str, float]) -> Run:
    return Run(
        id=f"{index:032x}",
        experiment_id="e" * 32,
        experiment="exp",
        project="default",
        name=f"run-{index}",
        status="FINISHED",
        start_time=0,
        end_time=1,
        parent_run_id=None,
        user="u",
        lifecycle_stage="active",
        params=params,
        metrics=metrics,
    )


def param(key: str) -> KeyColumn:
    return KeyColumn("param", key)


def metric(key: str) -> KeyColumn:
    return KeyColumn("metric", key)


RUNS = [
    make_run(1, {"dataset": "iris", "model": "svc", "lr": "0.1"}, {"roc_auc": 0.9, "n_classes": 3.0}),
    make_run(2, {"dataset": "iris", "model": "svc", "lr": "0.01"}, {"roc_auc": 0.95, "n_classes": 3.0}),
    make_run(
        3, {"dataset": "iris", "model": "svc", "lr": "0.01", "depth": "4"}, {"roc_auc": 0.8, "n_classes": 3.0}
    ),
]


def test_keys_that_differ_are_shown_and_constant_ones_summarised() -> None:
    choice = choose_columns(RUNS)
    # params before metrics, each alphabetical; `depth` is absent from two runs, so it differs
    assert choice.shown == [param("depth"), param("lr"), metric("roc_auc")]
    assert choice.constant == [
        (param("dataset"), "iris"),
        (param("model"), "svc"),
        (metric("n_classes"), 3.0),
    ]
    assert choice.pinned == []


def test_the_sorted_key_comes_first_even_when_constant() -> None:
    choice = choose_columns(RUNS, order_by=["metrics.roc_auc DESC"])
    assert choice.shown[0] == metric("roc_auc")
    choice = choose_columns(RUNS, order_by=["params.dataset"])
    assert choice.shown == [param("dataset"), param("depth"), param("lr"), metric("roc_auc")]
    assert param("dataset") not in [column for column, _ in choice.constant]
    assert choice.pinned == [param("dataset")]


def test_filtered_keys_are_pinned_after_the_sorted_one_and_unknown_keys_too() -> None:
    choice = choose_columns(
        RUNS,
        order_by=["metrics.`n_classes` ASC"],
        filter="params.model = 'svc' AND NOT (metrics.recall > 0.5 OR tags.team = 'x') AND name LIKE 'r%'",
    )
    assert choice.pinned == [metric("n_classes"), param("model"), metric("recall")]
    assert choice.shown[:3] == choice.pinned
    assert [column for column, _ in choice.constant] == [param("dataset")]


def test_text_that_does_not_parse_pins_nothing() -> None:
    choice = choose_columns(RUNS, order_by=["metrics.roc_auc SIDEWAYS"], filter="params.lr >")
    assert choice.pinned == []
    assert choice.shown == [param("depth"), param("lr"), metric("roc_auc")]


def test_nan_equals_nan_and_one_run_has_only_constants() -> None:
    runs = [make_run(1, {}, {"loss": math.nan}), make_run(2, {}, {"loss": math.nan})]
    choice = choose_columns(runs)
    assert choice.shown == []
    assert [column for column, _ in choice.constant] == [metric("loss")]
    assert choose_columns(RUNS[:1]).shown == []
    assert choose_columns([]).shown == choose_columns([]).constant == []


def test_column_ids_name_the_kind() -> None:
    assert metric("roc_auc").id == "metric:roc_auc"

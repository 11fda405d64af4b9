"""The data the compare page's plots draw from (views.comparison_plots), without a browser."""

from __future__ import annotations

import json
import math

from test_views import make_run

from plimsoll.server.ui import views


def test_columns_hold_one_value_per_run_and_know_numbers_from_categories() -> None:
    runs = [
        make_run("a", {"lr": "0.1", "opt": "adam", "seed": "1"}, {"acc": 0.9, "loss": math.nan}),
        make_run("bb", {"lr": "1e-3", "opt": "sgd", "seed": "1"}, {"acc": 0.8}),
        make_run("ccc", {"opt": "sgd", "seed": "true"}, {"loss": 0.2}),
    ]
    plots = views.comparison_plots(views.comparison(runs, {}))
    assert [r["label"] for r in plots["runs"]] == ["a", "bb", "ccc"]
    assert [r["color"] for r in plots["runs"]] == [0, 1, 2]
    columns = {(c["source"], c["key"]): c for c in plots["columns"]}
    assert list(columns) == [
        ("param", "lr"),
        ("param", "opt"),
        ("param", "seed"),
        ("metric", "acc"),
        ("metric", "loss"),
    ]
    assert columns["param", "lr"] == {
        "source": "param",
        "key": "lr",
        "numeric": True,
        "values": [0.1, 0.001, None],
    }
    assert columns["param", "opt"]["numeric"] is False
    assert columns["param", "seed"] == {
        "source": "param",
        "key": "seed",
        "numeric": False,
        "values": ["1", "1", "true"],
    }
    assert columns["metric", "acc"]["values"] == [0.9, 0.8, None]
    assert columns["metric", "loss"]["values"] == [None, None, 0.2]  # NaN: no value JSON can carry
    json.loads(json.dumps(plots, allow_nan=False))  # strict JSON, as JSON.parse reads it
    # The first numeric param that differs against the first metric; the parallel plot's metric.
    assert (plots["x"], plots["y"], plots["metric"]) == (0, 3, 3)


def test_without_metrics_or_differences_the_choices_still_name_columns() -> None:
    runs = [make_run("a", {"lr": "0.1", "opt": "adam"}, {}), make_run("bb", {"lr": "0.1", "opt": "adam"}, {})]
    plots = views.comparison_plots(views.comparison(runs, {}))
    assert (plots["x"], plots["y"], plots["metric"]) == (0, 1, -1)
    assert views.comparison_plots(views.comparison([], {}))["columns"] == []


def test_parallel_axes_are_the_params_that_differ_and_the_rest_is_said_once() -> None:
    runs = [
        make_run("a", {"alpha": "0.1", "dataset": "iris", "n": "100", "trees": "10"}, {"acc": 0.9}),
        make_run("bb", {"dataset": "iris", "n": "100", "trees": "20", "depth": "3"}, {"acc": 0.8}),
        make_run("ccc", {"dataset": "iris", "n": "100", "trees": "30", "depth": "4"}, {"acc": 0.7}),
    ]
    plots = views.comparison_plots(views.comparison(runs, {}))
    keys = [c["key"] for c in plots["columns"]]
    assert [keys[i] for i in plots["parallel"]] == ["alpha", "depth", "trees"]
    assert plots["same"] == [("dataset", "iris"), ("n", "100")]
    assert plots["not_drawn"] == []
    # The scatter's x: the differing numeric param most runs have (trees: 3 of 3, not alpha: 1).
    assert keys[plots["x"]] == "trees" and keys[plots["y"]] == "acc"
    assert [keys[i] for i in plots["single"]] == ["acc"]


def test_scatter_defaults_show_the_most_runs_and_ties_go_by_name() -> None:
    runs = [
        make_run("a", {"b": "1", "a": "1", "c": "x"}, {"zeta": 1.0, "beta": 2.0, "alpha": 3.0}),
        make_run("bb", {"b": "2", "a": "2", "c": "y"}, {"zeta": 1.5, "beta": math.nan, "alpha": 3.5}),
        make_run("ccc", {"b": "3"}, {"zeta": 2.0, "alpha": 4.0}),
    ]
    plots = views.comparison_plots(views.comparison(runs, {r.id: ["zeta"] for r in runs}))
    keys = [c["key"] for c in plots["columns"]]
    assert keys[plots["x"]] == "b"  # in 3 runs; a is in 2 and c is not numeric
    assert keys[plots["y"]] == keys[plots["metric"]] == "alpha"  # every run has alpha and zeta: by name
    assert [keys[i] for i in plots["single"]] == ["alpha", "beta"]  # zeta has a history


def test_the_scatter_does_not_start_on_a_param_that_has_one_value_where_present() -> None:
    runs = [
        make_run("a", {"trees": "100", "lr": "0.1"}, {"acc": 0.9}),
        make_run("bb", {"trees": "100", "lr": "0.2"}, {"acc": 0.8}),
        make_run("ccc", {"trees": "100"}, {"acc": 0.7}),
        make_run("dddd", {"alpha": "0.5"}, {"acc": 0.6}),
    ]
    plots = views.comparison_plots(views.comparison(runs, {}))
    keys = [c["key"] for c in plots["columns"]]
    assert keys[plots["x"]] == "lr"  # trees, in more runs, would stack its points at x = 100


def test_the_parallel_plot_has_at_most_its_cap_of_param_axes() -> None:
    many = {f"p{i:02d}": str(i + 1) for i in range(views.MAX_PARALLEL_PARAMS + 3)}
    runs = [make_run("a", many, {}), make_run("bb", {k: str(-int(v)) for k, v in many.items()}, {})]
    plots = views.comparison_plots(views.comparison(runs, {}))
    assert len(plots["parallel"]) == views.MAX_PARALLEL_PARAMS
    assert plots["not_drawn"] == ["p12", "p13", "p14"]

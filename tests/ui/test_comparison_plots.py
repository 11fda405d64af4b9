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
    plots = views.comparison_plots(views.comparison(runs))
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
    plots = views.comparison_plots(views.comparison(runs))
    assert (plots["x"], plots["y"], plots["metric"]) == (0, 1, -1)
    assert views.comparison_plots(views.comparison([]))["columns"] == []

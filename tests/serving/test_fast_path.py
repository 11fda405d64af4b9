"""The model server's fast path for numeric signatures (`protocol.matrix`, `LoadedModel.
predict_matrix`, the sklearn flavor's verified shortcuts) against the path it replaces (the
frame checked column by column, `enforce`, predict and predict_proba called apart): the same
answers to the bit, and every request it does not take refused exactly as before."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

from plimsoll.client import Client
from plimsoll.core.config import Settings
from plimsoll.core.errors import InvalidParameter
from plimsoll.serving import protocol
from plimsoll.serving.app import Options, Replica
from plimsoll.serving.entities import Routing

FEATURES = ["f0", "f1", "f2", "f3"]


def frame(rows: int, seed: int = 0) -> pd.DataFrame:
    return pd.DataFrame(np.random.default_rng(seed).normal(size=(rows, 4)), columns=FEATURES)


def mixed(rows: int, seed: int = 0) -> pd.DataFrame:
    """Two float columns, an int64 and an int32 one."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "f0": rng.normal(size=rows),
            "n1": rng.integers(-5, 5, rows).astype("int64"),
            "f2": rng.normal(size=rows),
            "n3": rng.integers(0, 3, rows).astype("int32"),
        }
    )


def models() -> dict[str, tuple[Any, Any]]:
    """name -> (fitted model, input example)."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.model_selection import FixedThresholdClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x, xm = frame(300), mixed(300)
    y, ym = (x.f0 + x.f1 > 0).astype(int), (xm.f0 + xm.n1 > 0).astype(int)
    three = np.digitize(x.f0, [-0.5, 0.5])
    return {
        "lr": (LogisticRegression().fit(x, y), x.head(5)),
        "lr3": (LogisticRegression().fit(x, three), x.head(5)),
        "forest": (RandomForestClassifier(n_estimators=5, random_state=0).fit(x, y), x.head(5)),
        "threshold": (FixedThresholdClassifier(LogisticRegression(), threshold=0.3).fit(x, y), x.head(5)),
        "pipeline": (make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y), x.head(5)),
        "ints": (LogisticRegression().fit(xm, ym), xm.head(5)),
        "array": (LogisticRegression().fit(x.to_numpy(), y), x.to_numpy()[:5]),
        "regressor": (LinearRegression().fit(x, x.f2), x.head(5)),
    }


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("fast")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(home / "cache"))
        patch.setenv("PLIMSOLL_SPOOL_DIR", str(home / "spool"))
        client = Client(settings=Settings(home=home / "home"))
        found = {}
        for name, (model, example) in models().items():
            with client.start_run(experiment="fast", capture=False) as run:
                run.log_model(model, "model", input_example=example, register_as=name)
            needed = client.registry.get(f"{name}/1").needed_types
            if needed:  # a forest's Tree: approved as an admin would
                client.registry.approve_types(f"{name}/1", list(needed))
            found[name] = client.registry.load(f"{name}/1")
        try:
            yield found
        finally:
            client.close()


def replica(model: Any, **options: Any) -> Replica:
    routing = Routing("default", "fast", "m", 1, None, 0.0, None, None, 1)
    served = Replica(lambda: routing, lambda v: model, None, options=Options(**options))
    assert served.refresh()
    return served


def slow(served: Replica, parsed: protocol.Parsed) -> tuple[Any, Any]:
    """The path the fast one replaces: features checked column by column, then predict."""
    assert served.served is not None
    features = served.features(served.served, 1, parsed, "input")
    return served.predict(served.served, 1, features)


def outcome(call: Any) -> Any:
    try:
        predictions, scores = call()
    except InvalidParameter as exc:
        return ("refused", exc.field, exc.message)
    except ValueError as exc:  # missing values let through (allow_missing): the model's own refusal
        return ("refused", type(exc).__name__, str(exc))
    return ("answered", np.asarray(predictions), None if scores is None else np.asarray(scores))


def same(fast: Any, slow: Any) -> bool:
    if fast[0] != slow[0]:
        return False
    if fast[0] == "refused":
        return bool(fast == slow)
    return all(
        (a is None and b is None)
        or (a is not None and b is not None and a.dtype == b.dtype and np.array_equal(a, b))
        for a, b in zip(fast[1:], slow[1:], strict=True)
    )


def bodies(rows: pd.DataFrame, positional: bool) -> list[dict[str, Any]]:
    """Every JSON format of these rows, and each broken the ways a client breaks them."""
    names = list(rows.columns)
    records = [
        {k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in rows.to_dict("records")
    ]
    lists = [[r[n] for n in names] for r in records]
    good: list[dict[str, Any]] = [
        {"dataframe_split": {"columns": names, "data": lists}},
        {"dataframe_split": {"columns": names[::-1], "data": [row[::-1] for row in lists]}},
        {"dataframe_records": records},
        {"instances": records},
        {"inputs": {n: [r[n] for r in records] for n in names}},
    ]
    if positional:
        good.append({"instances": lists})
    first, name_int = names[0], next((n for n in names if n.startswith("n")), None)
    breaks: list[Any] = ["high", None, True, 1e400, float("nan"), 10**30, [1.0]]
    bad: list[dict[str, Any]] = []
    for value in breaks:
        bad.append({"dataframe_records": [{**records[0], first: value}, *records[1:]]})
        if not isinstance(value, list):
            broken = [list(row) for row in lists]
            broken[-1][0] = value
            bad.append({"dataframe_split": {"columns": names, "data": broken}})
    bad.append({"dataframe_records": [{**records[0], "extra": 1.0}]})
    bad.append({"dataframe_records": [{k: v for k, v in records[0].items() if k != names[-1]}]})
    bad.append({"dataframe_split": {"columns": [*names[:-1], "other"], "data": lists}})
    bad.append({"instances": [row[:-1] for row in lists]})
    bad.append({"inputs": {n: [r[n] for r in records] for n in names[:-1]}})
    if name_int is not None:
        for value in (1.5, 2.0, 2**31, -(2**31) - 1, 2**40, 2**60, -(2**31), 2**31 - 1, True):
            bad.append({"dataframe_records": [{**records[0], name_int: value}, *records[1:]]})
    return good + bad


@pytest.mark.parametrize(
    "name", ["lr", "lr3", "forest", "threshold", "pipeline", "ints", "array", "regressor"]
)
@pytest.mark.parametrize("allow_missing", [False, True])
def test_the_fast_path_answers_and_refuses_as_the_slow_path(
    loaded: dict[str, Any], name: str, allow_missing: bool
) -> None:
    model = loaded[name]
    served = replica(model, allow_missing=allow_missing)
    assert served.served is not None
    entry = served.served.versions[1]
    assert entry.numeric is not None  # every one of these takes numbers only
    rows = mixed(7, 3) if name == "ints" else frame(7, 3)
    if name == "array":
        rows = rows.set_axis([str(i) for i in range(4)], axis=1)
    taken = 0
    for body in bodies(rows, positional=True):

        def parsed(body: dict[str, Any] = body) -> protocol.Parsed:  # a fresh one a path
            return protocol.parse_mlflow(body, protocol.Limits())

        try:
            parsed()
        except InvalidParameter:
            continue  # refused while parsing: before either path
        fast_took = protocol.matrix(parsed(), entry.names, entry.numeric, entry.layout) is not None
        taken += fast_took
        expected = outcome(lambda p=parsed: slow(served, p()))
        found = outcome(lambda p=parsed: served.answer(served.served, 1, p(), "input")[1:])  # type: ignore[arg-type]
        assert same(found, expected), (body, found, expected)
        if fast_took:  # the fast path takes only what the slow one answers
            assert expected[0] == "answered", body
    assert taken >= 5  # every good format (and the in-range integers) went the fast way


def test_integer_columns_taken_only_as_integers() -> None:
    names, types = ("f0", "n1"), ("float64", "int32")
    take = lambda rows: protocol.matrix(  # noqa: E731
        protocol.parse_mlflow({"dataframe_split": {"columns": list(names), "data": rows}}, protocol.Limits()),
        names,
        types,
        "frame",
    )
    assert take([[1, 2], [1.5, -3]]) is not None
    assert take([[1.0, 2.0]]) is None and take([[1.0, 2**31]]) is None and take([[1.0, False]]) is None
    assert take([[float("inf"), 1]]) is None and take([[None, 1]]) is None and take([["1", 1]]) is None
    assert take([[True, 1]]) is None and take([[10**19, 1]]) is None


def test_predict_from_one_proba_call_only_where_allowed_and_verified(loaded: dict[str, Any]) -> None:
    one_call = {name: loaded[name]._predictor.both is not None for name in loaded}
    assert one_call == {
        "lr": True,
        "lr3": True,
        "forest": True,
        "threshold": False,  # its own threshold decides, not the highest probability
        "pipeline": True,  # its final step decides
        "ints": True,
        "array": True,
        "regressor": False,
    }
    # rows given as one array where the flavor verified it answers the same
    assert all(loaded[n]._predictor.takes_array for n in ("lr", "forest", "ints", "array"))
    assert not loaded["pipeline"]._predictor.takes_array  # its first step keeps its feature names


def test_a_tie_in_the_probabilities_is_answered_by_predict(loaded: dict[str, Any]) -> None:
    """A decision value so close to 0 that both probabilities round to 0.5: argmax would say the
    first class, `predict` (decision > 0) the second; the one-call path gives predict's."""
    model = loaded["lr"]
    raw = model.raw
    w, b = raw.coef_[0], raw.intercept_[0]
    boundary = -b * w / float(w @ w)  # decision ~0
    rows = None
    for step in (1e-18, 1e-17, 1e-16, 1e-15, 1e-14):  # nudged past 0, not past a tie
        candidate = pd.DataFrame([boundary + step * w], columns=FEATURES)
        proba = raw.predict_proba(candidate)
        if raw.decision_function(candidate)[0] > 0 and proba[0, 0] == proba[0, 1]:
            rows = candidate
            break
    if rows is None:
        pytest.skip("no decision value rounds to a tie for this model")
    assert raw.predict(rows).tolist() == [1] and proba.argmax(axis=1).tolist() == [0]
    predictions, scores = model.predict_matrix(rows.to_numpy())
    assert predictions.tolist() == raw.predict(rows).tolist()
    assert np.array_equal(scores, proba)


def test_one_call_falls_back_on_ties_and_unverified_models() -> None:
    from plimsoll.model_registry.flavors.base import Predictor
    from plimsoll.model_registry.flavors.sklearn import _one_call

    class Model:
        classes_ = np.array(["a", "b", "c"])

    answers = {"tie": np.array([[0.4, 0.4, 0.2], [0.1, 0.2, 0.7]]), "clear": np.array([[0.5, 0.3, 0.2]])}
    called: list[str] = []

    def predict(data: Any) -> Any:
        called.append(data)
        return np.array(["b"] * len(answers[data]))

    faster = _one_call(Predictor(predict, lambda data: answers[data], Model()), Model())
    assert faster.both is not None
    assert faster.both("clear")[0].tolist() == ["a"] and called == []
    assert faster.both("tie")[0].tolist() == ["b", "b"] and called == ["tie"]  # predict's answer

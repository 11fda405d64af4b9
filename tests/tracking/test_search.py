"""Run search compiled to SQL, on SQLite and PostgreSQL: filters, ordering and keyset paging."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from plimsoll.core.db import Database
from plimsoll.core.errors import InvalidParameter
from plimsoll.tracking.page_tokens import decode_cursor, encode_cursor, search_fingerprint
from plimsoll.tracking.search_language import Comparison
from plimsoll.tracking.store.schema import experiments, latest_metrics, params, runs, tags
from plimsoll.tracking.store.search import (
    MAX_ORDER_BY,
    build_search_query,
    compile_filter,
    compile_order_by,
    sort_values,
)
from plimsoll.tracking.store.search_plan import DRIVER_ADVANTAGE, choose_driver, driver_candidates

NAN = math.nan
INF = math.inf

#         id     exp   name       status      start  end   user   parent  stage
RUNS = [
    ("r01", "e1", "alpha", "FINISHED", 1000, 2000, "ann", None, "active"),
    ("r02", "e1", "beta", "FAILED", 2000, None, "bob", "r01", "active"),
    ("r03", "e1", "Gamma", "RUNNING", 3000, None, "ann", None, "active"),
    ("r04", "e1", "delta", "FINISHED", 4000, 5000, "cy", "r01", "active"),
    ("r05", "e2", "epsilon", "KILLED", 5000, 6000, "bob", None, "active"),
    ("r06", "e2", "zeta", "FINISHED", 6000, 7000, "ann", None, "active"),
    ("r07", "e1", "eta", "FINISHED", 7000, 8000, "ann", None, "deleted"),
]
PARAMS = {
    "r01": {"lr": "0.01", "opt": "adam"},
    "r02": {"lr": "0.1", "opt": "sgd"},
    "r03": {"lr": "auto", "opt": "Adam"},
    "r04": {"lr": "0.001", "opt": "adam", "learning rate": "3"},
    "r05": {"lr": "1e-05"},
    "r07": {"lr": "0.01"},
}
TAGS = {
    "r01": {"team": "vision", "mlflow.runName": "alpha"},
    "r02": {"team": "nlp"},
    "r03": {"team": "Vision"},
    "r04": {"team": "vision_x"},
    "r05": {"team": "visionAx"},
}
METRICS = {
    "r01": {"acc": 0.9, "loss": 0.3, "val/loss": 1.0},
    "r02": {"acc": 0.5, "loss": NAN},
    "r03": {"acc": 0.9, "loss": INF},
    "r04": {"acc": 0.7},
    "r05": {"loss": 0.1},
    "r06": {"acc": 0.2},
}


def number_or_none(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def insert(
    db: Database,
    run_rows: list[tuple[Any, ...]],
    run_params: dict[str, dict[str, str]],
    run_tags: dict[str, dict[str, str]],
    run_metrics: dict[str, dict[str, float]],
) -> None:
    columns = ("id", "experiment_id", "name", "status", "start_time", "end_time", "user", "parent_run_id")
    with db.write() as conn:
        experiment_ids = sorted({row[1] for row in run_rows})
        conn.execute(
            experiments.insert(),
            [
                {"id": e, "project": "default", "name": f"exp-{e}", "created_at": 0, "updated_at": 0}
                for e in experiment_ids
            ],
        )
        conn.execute(
            runs.insert(),
            [{**dict(zip(columns, row[:8], strict=True)), "lifecycle_stage": row[8]} for row in run_rows],
        )
        param_rows = [
            {"run_id": run, "key": k, "value": v, "num_value": number_or_none(v)}
            for run, values in run_params.items()
            for k, v in values.items()
        ]
        tag_rows = [
            {"run_id": r, "key": k, "value": v} for r, values in run_tags.items() for k, v in values.items()
        ]
        metric_rows = [
            {
                "run_id": run,
                "key": k,
                "step": 0,
                "timestamp": 0,
                "value": None if math.isnan(v) else v,
                "is_nan": math.isnan(v),
            }
            for run, values in run_metrics.items()
            for k, v in values.items()
        ]
        for table, rows in ((params, param_rows), (tags, tag_rows), (latest_metrics, metric_rows)):
            if rows:
                conn.execute(table.insert(), rows)


@pytest.fixture
def sample(db: Database) -> Database:
    insert(db, RUNS, PARAMS, TAGS, METRICS)
    return db


def search(
    db: Database,
    filter_text: str | None = None,
    order_by: list[str] | None = None,
    *,
    experiment_ids: list[str] | None = None,
    include_deleted: bool = False,
    max_results: int = 1000,
    cursor: str | None = None,
    driver: Comparison | None = None,
) -> list[str]:
    stmt, _, _ = build_search_query(
        experiment_ids=experiment_ids,
        filter_text=filter_text,
        order_by=order_by or ["id"],
        max_results=max_results,
        cursor=cursor,
        include_deleted=include_deleted,
        driver=driver,
    )
    with db.read() as conn:
        return [row.id for row in conn.execute(stmt)]


def ids(*numbers: int) -> list[str]:
    return [f"r{n:02d}" for n in numbers]


FILTER_CASES = [
    (None, ids(1, 2, 3, 4, 5, 6)),
    ("", ids(1, 2, 3, 4, 5, 6)),
    # params: numeric literals compare num_value, strings compare the text
    ("params.lr > 0.005", ids(1, 2)),
    ("params.lr = 0.01", ids(1)),
    ("params.lr = '0.01'", ids(1)),
    ("params.lr = '1e-5'", []),
    ("params.lr = 1e-5", ids(5)),
    ("params.lr <= 0.001", ids(4, 5)),
    ("params.lr = 'auto'", ids(3)),
    ("params.lr != 0.01", ids(2, 4, 5)),
    ("params.lr != 'auto'", ids(1, 2, 4, 5)),
    ("params.lr IN (0.1, 0.001)", ids(2, 4)),
    ("params.opt IN ('sgd', 'Adam')", ids(2, 3)),
    ("params.opt NOT IN ('adam')", ids(2, 3)),
    ("params.opt IS NULL", ids(5, 6)),
    ("params.opt IS NOT NULL", ids(1, 2, 3, 4)),
    ("params.`learning rate` = '3'", ids(4)),
    ("params.`learning rate` = 3", ids(4)),
    ("params.opt LIKE 'a%'", ids(1, 4)),
    ("params.opt ILIKE 'A%'", ids(1, 3, 4)),
    # tags
    ("tags.team = 'vision'", ids(1)),
    ("tags.team != 'vision'", ids(2, 3, 4, 5)),
    ("tags.team LIKE 'vision%'", ids(1, 4, 5)),
    ("tags.team ILIKE 'VISION%'", ids(1, 3, 4, 5)),
    ("tags.team LIKE 'vision_%'", ids(4, 5)),
    ("tags.team LIKE 'vision\\_%'", ids(4)),
    ("tags.team LIKE '%i_n%'", ids(1, 3, 4, 5)),
    ("tags.team NOT LIKE 'vision%'", ids(2, 3)),
    ("tags.team NOT ILIKE 'vision%'", ids(2)),
    ("tags.mlflow.runName = 'alpha'", ids(1)),
    ("tags.\"mlflow.runName\" = 'alpha'", ids(1)),
    ("tags.team IS NOT NULL", ids(1, 2, 3, 4, 5)),
    ("tags.team IS NULL", ids(6)),
    # metrics: the latest value; NaN equals only NaN, Infinity is a number
    ("metrics.acc >= 0.7", ids(1, 3, 4)),
    ("metrics.acc = 0.9", ids(1, 3)),
    ("metrics.acc < 0.6", ids(2, 6)),
    ("metrics.loss = NaN", ids(2)),
    ("metrics.loss != NaN", ids(1, 3, 5)),
    ("metrics.loss > 0.2", ids(1, 3)),
    ("metrics.loss = Infinity", ids(3)),
    ("metrics.loss > -Infinity", ids(1, 3, 5)),
    ("metrics.loss != 0.3", ids(2, 3, 5)),
    ("metrics.loss IN (0.1, NaN)", ids(2, 5)),
    ("metrics.loss NOT IN (0.1, NaN)", ids(1, 3)),
    ("metrics.loss NOT IN (0.1)", ids(1, 2, 3)),
    ("metrics.acc IS NULL", ids(5)),
    ("metrics.loss IS NOT NULL", ids(1, 2, 3, 5)),
    ('metrics."val/loss" = 1', ids(1)),
    ("metrics.`val/loss` < 2", ids(1)),
    # attributes
    ("status = 'finished'", ids(1, 4, 6)),
    ("attributes.status IN ('FAILED', 'KILLED')", ids(2, 5)),
    ("status != 'FINISHED'", ids(2, 3, 5)),
    ("start_time >= 3000 AND start_time < 6000", ids(3, 4, 5)),
    ("end_time IS NULL", ids(2, 3)),
    ("end_time IS NOT NULL AND end_time <= 5000", ids(1, 4)),
    ("parent_run_id = 'r01'", ids(2, 4)),
    ("parent_run_id IS NULL", ids(1, 3, 5, 6)),
    ("name LIKE 'G%'", ids(3)),
    ("name LIKE 'g%'", []),
    ("run_name ILIKE 'gAMMA'", ids(3)),
    ("run.name NOT LIKE '%a'", ids(5)),
    ("run_id IN ('r01', 'r02', 'r07')", ids(1, 2)),
    ("id NOT IN ('r01', 'r02')", ids(3, 4, 5, 6)),
    ("experiment_id = 'e2'", ids(5, 6)),
    ("user = 'ann' AND NOT status = 'RUNNING'", ids(1, 6)),
    ("lifecycle_stage = 'deleted'", []),
    # boolean structure
    ("tags.team = 'nlp' OR tags.team = 'vision' AND metrics.acc < 0.5", ids(2)),
    ("(tags.team = 'nlp' OR tags.team = 'vision') AND metrics.acc < 0.95", ids(1, 2)),
    ("NOT (params.opt = 'adam')", ids(2, 3, 5, 6)),
    ("NOT NOT params.opt = 'adam'", ids(1, 4)),
    ("params.opt != 'adam'", ids(2, 3)),
    ("NOT (metrics.acc > 0.5 OR params.lr < 0.05) AND user != 'cy'", ids(2, 6)),
    # injection-looking text is a value, never SQL
    ("params.x = '1''; DROP TABLE runs; --'", []),
    ("params.opt = 'adam'' OR ''1''=''1'", []),
    ("tags.`x'; DROP TABLE runs; --` = 'a'", []),
    ('tags."team"" OR 1=1 --" = \'a\'', []),
]


@pytest.mark.parametrize(("filter_text", "expected"), FILTER_CASES)
def test_filters(sample: Database, filter_text: str | None, expected: list[str]) -> None:
    assert search(sample, filter_text) == expected


@pytest.mark.parametrize(("filter_text", "expected"), FILTER_CASES)
def test_filters_from_every_start(sample: Database, filter_text: str | None, expected: list[str]) -> None:
    """Starting from any indexed condition's rows answers exactly what the plain scan answers."""
    for driver in driver_candidates(filter_text):
        assert search(sample, filter_text, driver=driver) == expected, driver


def test_injection_leaves_tables_alone(sample: Database) -> None:
    for text in ["params.x = '1'; DROP TABLE runs; --'", "tags.`a`; DROP TABLE runs; --` = 'x'"]:
        with pytest.raises(InvalidParameter):
            search(sample, text)
    search(sample, "params.x = '1''; DROP TABLE runs; --'")
    with sample.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(runs)).scalar_one() == len(RUNS)


def test_deleted_runs_and_experiment_ids(sample: Database) -> None:
    assert search(sample, "lifecycle_stage = 'deleted'", include_deleted=True) == ids(7)
    assert search(sample, "params.lr = 0.01", include_deleted=True) == ids(1, 7)
    assert search(sample, experiment_ids=["e2"]) == ids(5, 6)
    assert search(sample, experiment_ids=["e1", "e2"]) == ids(1, 2, 3, 4, 5, 6)
    assert search(sample, experiment_ids=[]) == []


@pytest.fixture
def skewed(db: Database) -> Database:
    """200 runs in e1 and 50 in e2: params.common is 'x' on 90 % of them, params.rare is 'y' on
    five, metrics.m rises evenly from 0 to 1 (its top values are all in e2)."""
    run_rows = [
        (f"s{i:03d}", "e1" if i < 200 else "e2", f"n{i}", "FINISHED", i, None, "u", None, "active")
        for i in range(250)
    ]
    rare = {3, 50, 99, 150, 210}
    run_params = {
        f"s{i:03d}": {"common": "x" if i % 10 else "z", **({"rare": "y"} if i in rare else {})}
        for i in range(250)
    }
    run_tags = {f"s{i:03d}": {"t": "odd" if i % 2 else "even"} for i in range(250)}
    run_metrics = {f"s{i:03d}": {"m": i / 250} for i in range(250)}
    insert(db, run_rows, run_params, run_tags, run_metrics)
    return db


def describe(comparison: Comparison) -> tuple[str, str, str, list[Any]]:
    operand = comparison.operand
    return (operand.entity, operand.key, comparison.op, [value.value for value in comparison.values])


@pytest.mark.parametrize(
    ("filter_text", "starts_from"),
    [
        ("params.common = 'x' AND params.rare = 'y'", "params.rare = 'y'"),
        ("params.rare IN ('y', 'w') AND tags.t = 'odd'", "params.rare IN ('y', 'w')"),
        ("tags.t = 'odd' AND (params.common = 'x' AND params.rare = 'y')", "params.rare = 'y'"),
        ("metrics.m > 0.99 AND params.common = 'x'", "metrics.m > 0.99"),  # matches only in e2
        ("metrics.m <= 0.01 AND metrics.m >= 0", "metrics.m <= 0.01"),
        ("params.common = 'x'", None),  # most of the experiment: the scan is cheaper
        ("params.rare = 'y' OR tags.t = 'odd'", None),  # not every match satisfies either
        ("NOT params.rare = 'y'", None),
        ("name LIKE 'n1%' AND params.rare != 'y'", None),  # no index answers these
    ],
)
def test_search_starts_from_the_most_selective_indexed_condition(
    skewed: Database, filter_text: str, starts_from: str | None
) -> None:
    with skewed.read() as conn:
        driver = choose_driver(conn, ["e1"], filter_text)
    if not skewed.is_sqlite:
        assert driver is None  # PostgreSQL plans from its own statistics
    elif starts_from is None:
        assert driver is None
    else:
        (expected,) = driver_candidates(starts_from)
        assert driver is not None
        assert describe(driver) == describe(expected)
    plain = search(skewed, filter_text, experiment_ids=["e1"])
    assert search(skewed, filter_text, experiment_ids=["e1"], driver=driver) == plain


def test_driven_search_reads_the_index_on_sqlite(skewed: Database) -> None:
    filter_text = "params.common = 'x' AND params.rare = 'y'"
    with skewed.read() as conn:
        driver = choose_driver(conn, ["e1"], filter_text)
        if not skewed.is_sqlite:
            assert driver is None  # PostgreSQL's planner chooses; it has no such index to read
            return
        stmt, _, _ = build_search_query(
            experiment_ids=["e1"],
            filter_text=filter_text,
            order_by=["metrics.m DESC"],
            max_results=10,
            cursor=None,
            driver=driver,
        )
        compiled = stmt.compile(conn, compile_kwargs={"literal_binds": True})
        plan = " | ".join(row[3] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}"))
    assert "ix_params_key_value" in plan, plan
    assert "ix_runs_experiment" not in plan, plan
    assert DRIVER_ADVANTAGE * 5 < 200  # the premise: five rare rows against e1's 200 runs


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (None, ids(6, 5, 4, 3, 2, 1)),  # start_time DESC
        (["attributes.start_time ASC"], ids(1, 2, 3, 4, 5, 6)),
        (["metrics.acc DESC"], ids(1, 3, 4, 2, 6, 5)),  # tie 0.9 broken by id, missing last
        (["metrics.acc"], ids(6, 2, 4, 1, 3, 5)),
        (["metrics.acc DESC", "id DESC"], ids(3, 1, 4, 2, 6, 5)),
        (["metrics.loss"], ids(5, 1, 3, 2, 4, 6)),  # Infinity is a number; NaN sorts with missing
        (["metrics.loss DESC"], ids(3, 1, 5, 2, 4, 6)),
        (["params.lr"], ids(5, 4, 1, 2, 3, 6)),  # numbers, then text ('auto'), then missing
        (["params.lr DESC"], ids(2, 1, 4, 5, 3, 6)),
        (["params.opt", "start_time DESC"], ids(3, 4, 1, 2, 6, 5)),  # 'Adam' < 'adam' by code point
        (["tags.team"], ids(3, 2, 1, 5, 4, 6)),
        (["tags.team DESC"], ids(4, 5, 1, 2, 3, 6)),
        (["name"], ids(3, 1, 2, 4, 5, 6)),
        (["end_time DESC"], ids(6, 5, 4, 1, 2, 3)),
        (["end_time ASC"], ids(1, 4, 5, 6, 2, 3)),
        (["user", "metrics.acc DESC"], ids(1, 3, 6, 2, 5, 4)),
    ],
)
def test_ordering_with_nulls_last(sample: Database, order_by: list[str] | None, expected: list[str]) -> None:
    stmt, _, _ = build_search_query(
        experiment_ids=None, filter_text=None, order_by=order_by, max_results=100, cursor=None
    )
    with sample.read() as conn:
        assert [row.id for row in conn.execute(stmt)] == expected


def page_through(
    db: Database, order_by: list[str] | None, page_size: int, filter_text: str | None = None
) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(1000):
        stmt, sort_keys, fingerprint = build_search_query(
            experiment_ids=["e1", "e2"],
            filter_text=filter_text,
            order_by=order_by,
            max_results=page_size,
            cursor=cursor,
        )
        with db.read() as conn:
            rows = conn.execute(stmt).all()
        page = rows[:page_size]
        seen.extend(row.id for row in page)
        if len(rows) <= page_size:
            return seen
        cursor = encode_cursor(sort_values(page[-1]._mapping, sort_keys), page[-1].id, fingerprint)
    raise AssertionError("paging did not end")


@pytest.mark.parametrize(
    "order_by",
    [
        None,
        ["metrics.acc DESC"],
        ["metrics.acc"],
        ["metrics.loss DESC"],
        ["params.lr"],
        ["params.lr DESC", "name"],
        ["tags.team DESC"],
        ["end_time"],
        ["end_time DESC", "metrics.acc"],
        ["user", "status DESC", "params.opt"],
    ],
)
def test_paging_sample_in_pages_of_three(sample: Database, order_by: list[str] | None) -> None:
    full = search(sample, order_by=order_by or ["start_time DESC"])
    assert page_through(sample, order_by, 3) == full
    assert page_through(sample, order_by, 1) == full
    assert sorted(full) == ids(1, 2, 3, 4, 5, 6)


@pytest.fixture
def many_ties(db: Database) -> Database:
    """40 runs whose sort values repeat a lot, including missing values, NaN and ties in time."""
    rng = random.Random(7)
    run_rows = [
        (
            f"t{i:02d}",
            "e1",
            rng.choice(["a", "b", "B"]),
            "FINISHED",
            rng.choice([1, 2, 3]),
            None,
            "u",
            None,
            "active",
        )
        for i in range(40)
    ]
    run_params = {
        row[0]: {"p": rng.choice(["1", "2", "2.0", "x", "y"])} for row in run_rows if rng.random() < 0.8
    }
    run_tags = {row[0]: {"t": rng.choice(["p", "q"])} for row in run_rows if rng.random() < 0.7}
    run_metrics = {row[0]: {"m": rng.choice([0.5, 1.5, NAN, -INF])} for row in run_rows if rng.random() < 0.7}
    insert(db, run_rows, run_params, run_tags, run_metrics)
    return db


def expected_order(db: Database, item: str, descending: bool) -> list[str]:
    """The order computed in Python from the stored rows: value (NULL last), then id."""
    table, column = {"metric": (latest_metrics, "value"), "tag": (tags, "value")}.get(item, (runs, item))
    with db.read() as conn:
        all_ids = sorted(conn.execute(sa.select(runs.c.id)).scalars())
        if table is runs:
            query = sa.select(runs.c.id, runs.c[column])
        else:
            query = sa.select(table.c.run_id, table.c[column])
        values = {row[0]: row[1] for row in conn.execute(query)}

    def key(run_id: str) -> tuple[bool, Any, str]:
        value = values.get(run_id)
        if value is None:
            return (True, 0, run_id)
        return (False, (-value if descending else value), run_id)

    if table is tags or item == "name":
        present = sorted((v, i) for i, v in values.items() if v is not None)
        if descending:
            # stable: sort by id ascending, then by value descending
            present = sorted(sorted(present, key=lambda p: p[1]), key=lambda p: p[0], reverse=True)
        return [i for _, i in present] + sorted(i for i in all_ids if values.get(i) is None)
    return sorted(all_ids, key=key)


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize(
    ("order_item", "python_item"),
    [("metrics.m", "metric"), ("tags.t", "tag"), ("name", "name"), ("start_time", "start_time")],
)
def test_paging_with_many_ties(
    many_ties: Database, order_item: str, python_item: str, descending: bool
) -> None:
    order_by = [f"{order_item} {'DESC' if descending else 'ASC'}"]
    full = search(many_ties, order_by=order_by)
    assert full == expected_order(many_ties, python_item, descending)
    for size in (3, 7):
        assert page_through(many_ties, order_by, size) == full


@pytest.mark.parametrize(
    "order_by",
    [["params.p"], ["params.p DESC"], ["tags.t", "params.p DESC", "metrics.m"], ["name DESC", "start_time"]],
)
def test_paging_multi_key_ties(many_ties: Database, order_by: list[str]) -> None:
    full = search(many_ties, order_by=order_by)
    assert len(full) == len(set(full)) == 40
    assert page_through(many_ties, order_by, 3) == full
    assert page_through(many_ties, order_by, 3, "metrics.m != 1.5 OR tags.t IS NULL") == search(
        many_ties, "metrics.m != 1.5 OR tags.t IS NULL", order_by
    )


def test_params_sort_numbers_then_text_then_missing(many_ties: Database) -> None:
    full = search(many_ties, order_by=["params.p"])
    with many_ties.read() as conn:
        value = {row.run_id: row.value for row in conn.execute(sa.select(params.c.run_id, params.c.value))}
    ranks = {"1": 0, "2": 1, "2.0": 1, "x": 2, "y": 3}
    assert [ranks.get(value.get(i, ""), 4) for i in full] == sorted(
        ranks.get(value.get(i, ""), 4) for i in full
    )


def test_literals_are_bound_parameters() -> None:
    stmt, _, _ = build_search_query(
        experiment_ids=["exp-secret"],
        filter_text=(
            "params.`key-secret` = 'value-secret' AND tags.team LIKE 'like%secret' "
            "AND metrics.acc > 0.123456 AND name IN ('name-secret') AND start_time < 987654321"
        ),
        order_by=["metrics.`order-secret` DESC"],
        max_results=10,
        cursor=None,
    )
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        compiled = stmt.compile(dialect=dialect)
        sql = str(compiled)
        for literal in ("secret", "0.123456", "987654321", "like%"):
            assert literal not in sql
        bound = set(map(repr, compiled.params.values()))
        for value in (
            "'key-secret'",
            "'value-secret'",
            "0.123456",
            "987654321",
            "'name-secret'",
            "'order-secret'",
        ):
            assert any(value in b for b in bound), value
        assert "EXISTS (SELECT 1" in sql


def test_cursor_round_trip_and_rejection() -> None:
    fingerprint = search_fingerprint(["e1"], "params.a = '1'", ["metrics.acc DESC"])
    token = encode_cursor([0.5, None, "x", 3, -INF], "r01", fingerprint)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert decode_cursor(token, fingerprint) == ([0.5, None, "x", 3, -INF], "r01")
    other = search_fingerprint(["e1"], "params.a = '2'", ["metrics.acc DESC"])
    assert other != fingerprint
    assert search_fingerprint(["e2", "e1"], None, None) == search_fingerprint(["e1", "e2"], None, None)
    assert search_fingerprint(["e1"], None, None) != search_fingerprint(
        ["e1"], None, None, include_deleted=True
    )
    with pytest.raises(InvalidParameter, match="page_token: belongs to a different search"):
        decode_cursor(token, other)
    for garbage in ["", "!!!", "bm90IGpzb24", encode_cursor([[1]], "r", fingerprint), "A" * 9000]:
        with pytest.raises(InvalidParameter, match="page_token: is not a page token"):
            decode_cursor(garbage, fingerprint)


def test_cursor_from_another_search_is_rejected() -> None:
    _, sort_keys, fingerprint = build_search_query(
        experiment_ids=["e1"], filter_text=None, order_by=["metrics.acc"], max_results=3, cursor=None
    )
    token = encode_cursor([0.5], "r01", fingerprint)
    with pytest.raises(InvalidParameter, match="page_token: belongs to a different search"):
        build_search_query(
            experiment_ids=["e2"], filter_text=None, order_by=["metrics.acc"], max_results=3, cursor=token
        )
    with pytest.raises(InvalidParameter, match="page_token: does not match"):
        build_search_query(
            experiment_ids=["e1"],
            filter_text=None,
            order_by=["metrics.acc"],
            max_results=3,
            cursor=encode_cursor(["text"], "r01", fingerprint),
        )
    assert len(sort_keys) == 1


def test_order_by_validation() -> None:
    assert [k.label for k in compile_order_by(["params.lr", "metrics.acc DESC"])] == ["s0", "s1", "s2"]
    assert [(k.descending, k.kind) for k in compile_order_by(None)] == [(True, "number")]
    with pytest.raises(InvalidParameter, match=f"order_by: has 11 items; the limit is {MAX_ORDER_BY}"):
        compile_order_by(["name"] * 11)
    with pytest.raises(InvalidParameter, match="order_by: items must be non-empty strings"):
        compile_order_by([" "])
    with pytest.raises(InvalidParameter, match="order_by: unexpected 'up'"):
        compile_order_by(["metrics.acc up"])


@pytest.mark.parametrize("max_results", [0, -1, 50_001, True])
def test_max_results_validation(max_results: int) -> None:
    with pytest.raises(InvalidParameter, match="max_results: must be an integer from 1 to 50,000"):
        build_search_query(
            experiment_ids=None, filter_text=None, order_by=None, max_results=max_results, cursor=None
        )


def test_compile_filter_empty_is_none() -> None:
    assert compile_filter(None) is None
    assert compile_filter("  ") is None
    with pytest.raises(InvalidParameter, match=r"^filter: "):
        compile_filter("params.")

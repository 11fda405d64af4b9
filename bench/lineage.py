"""Benchmark: lineage walks over a graph of 100,000 nodes, on SQLite and (when reachable) PostgreSQL.

The graph: 20,000 dataset versions, each derived from an earlier one chosen with a bias towards
the first (so a few roots have most versions below them, as raw sources do), 200 of them roots;
60,000 runs, each using one to three dataset versions (training, validation); 20,000 model
versions, each produced by a run. About 160,000 edges.

Timed (the median of repeated calls, through LineageService, as the API calls it):
- `downstream` of the root with the largest closure (the whole closure returned),
- `downstream` of a typical dataset version (a leaf's parent, a handful of nodes),
- `upstream` of a model version (its run, the datasets it used and their ancestry),
- `impact` of the large root.

Beside them, the machine's floor: a bare `SELECT 1` round trip through the same Database.

    .venv/bin/python bench/lineage.py [--nodes 100000] [--repeat 20] [--no-postgres]

Target (issue 13): a downstream query over 100,000 nodes in 50 ms or less. Never a test.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from plimsoll.lineage.entities import MAX_NODE_LIMIT
from plimsoll.lineage.store import lineage_edges, lineage_nodes
from plimsoll.platform import Platform

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PROJECT = "default"


def build(nodes: int, seed: int = 7) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    rng = random.Random(seed)
    datasets, runs, models = nodes // 5, nodes * 3 // 5, nodes - nodes // 5 - nodes * 3 // 5
    rows: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []

    def node(kind: str, key: str) -> int:
        rows.append(
            {
                "id": len(rows) + 1,
                "project": PROJECT,
                "kind": kind,
                "key": key,
                "label": key,
                "attributes": {},
                "created_at": 0,
                "tombstoned_at": None,
            }
        )
        return len(rows)

    def edge(source: int, target: int, role: str, context: str | None = None) -> None:
        edges.append(
            {"source_id": source, "target_id": target, "role": role, "context": context, "created_at": 0}
        )

    dataset_ids = [node("dataset", f"d{i}@1") for i in range(datasets)]
    roots = 200
    for i in range(roots, datasets):
        edge(dataset_ids[int(rng.random() ** 3 * i)], dataset_ids[i], "derived")
    run_ids = []
    for _ in range(runs):
        run_ids.append(node("run", uuid.UUID(int=rng.getrandbits(128)).hex))
        for used, context in zip(
            rng.sample(dataset_ids, rng.randint(1, 3)), ("training", "validation", "test"), strict=False
        ):
            edge(used, run_ids[-1], "used", context)
    for i in range(models):
        edge(rng.choice(run_ids), node("model", f"m{i % 500}/{i // 500 + 1}"), "produced")
    return rows, edges


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    result = call()  # warm the caches once
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, result


def run(
    label: str, platform: Platform, rows: list[dict[str, Any]], edges: list[dict[str, Any]], repeat: int
) -> None:
    started = time.perf_counter()
    with platform.db.write() as conn:
        for table, values in ((lineage_nodes, rows), (lineage_edges, edges)):
            for start in range(0, len(values), 5000):
                conn.execute(table.insert(), values[start : start + 5000])
    # Statistics as a deployment has them. PostgreSQL's autovacuum analyzes the tables soon after
    # a load; here ANALYZE is run and committed (one in a transaction that rolls back leaves none,
    # and without them the planner scans both lineage tables for every walk). Plimsoll never
    # analyzes SQLite, so the SQLite figures are taken without statistics (with them SQLite builds
    # a Bloom filter over every edge per walk: slower, see docs/benchmarks.md).
    if platform.db.engine.dialect.name == "postgresql":
        with platform.db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    loaded = time.perf_counter() - started
    lineage = platform.lineage
    by_id = {row["id"]: f"{row['kind']}:{row['key']}" for row in rows}
    children: dict[int, int] = {}
    for e in edges:
        children[e["source_id"]] = children.get(e["source_id"], 0) + 1
    big = by_id[1]
    typical = next(
        by_id[e["source_id"]] for e in edges if e["role"] == "derived" and e["source_id"] > len(rows) // 50
    )
    model = next(by_id[row["id"]] for row in reversed(rows) if row["kind"] == "model")
    floor_ms, _ = timed(platform.db.ping, repeat)
    print(f"\n{label}: {len(rows):,} nodes, {len(edges):,} edges (loaded in {loaded:.1f} s)")
    print(f"  floor: SELECT 1 round trip                     {floor_ms:8.2f} ms")
    everything = MAX_NODE_LIMIT
    for name, call in (
        (f"downstream {big}, whole", lambda: lineage.downstream(PROJECT, big, limit=everything)),
        (f"downstream {big}, default limit", lambda: lineage.downstream(PROJECT, big)),
        (f"downstream {big}, limit 1,000", lambda: lineage.downstream(PROJECT, big, limit=1000)),
        (f"downstream {typical} (typical)", lambda: lineage.downstream(PROJECT, typical)),
        (f"downstream {big}, depth 2, whole", lambda: lineage.downstream(PROJECT, big, 2, everything)),
        (f"downstream {big}, depth 2, default", lambda: lineage.downstream(PROJECT, big, 2)),
        (f"upstream {model}", lambda: lineage.upstream(PROJECT, model)),
        (f"impact {big}, whole", lambda: lineage.impact(PROJECT, big, everything)),
        (f"impact {big}, default limit", lambda: lineage.impact(PROJECT, big)),
    ):
        ms, result = timed(call, repeat)
        size = len(result.nodes) if hasattr(result, "nodes") else len(result.impacted)
        cut = f", of {result.total:,}" if result.truncated else ""
        print(f"  {name:<46} {ms:8.2f} ms  ({size:,} nodes{cut})")


def postgres_url() -> str | None:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            name = f"bench_lineage_{uuid.uuid4().hex[:8]}"
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # any failure to connect: no PostgreSQL here
        print(f"PostgreSQL skipped: {type(exc).__name__}", file=sys.stderr)
        return None
    finally:
        admin.dispose()
    return sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop(url: str) -> None:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{sa.engine.make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    rows, edges = build(args.nodes)
    with tempfile.TemporaryDirectory() as scratch:
        platform = Platform(home=Path(scratch) / ".plimsoll").startup()
        try:
            run("SQLite", platform, rows, edges, args.repeat)
        finally:
            platform.close()
        url = None if args.no_postgres else postgres_url()
        if url is not None:
            platform = Platform(store_url=url, blobs_url=str(Path(scratch) / "blobs")).startup()
            try:
                run("PostgreSQL", platform, rows, edges, args.repeat)
            finally:
                platform.close()
                drop(url)


if __name__ == "__main__":
    main()

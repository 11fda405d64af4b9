"""No sequence of failures and retries stores a write twice, or loses one: the batcher driven
through errors, timeouts, lost acknowledgements, late arrivals and outages, against a real server."""

from __future__ import annotations

import contextlib
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from fault_proxy import FaultProxy

from plimsoll.client import ActiveRun, Client
from plimsoll.core.config import Settings
from plimsoll.core.errors import Conflict, PlimsollError, Unavailable
from plimsoll.server.testing import LiveServer
from plimsoll.tracking.entities import RunWrites


def test_a_split_batch_sent_again_under_its_first_id_stores_each_point_once(
    database_url: str, tmp_path: Path
) -> None:
    """The issue's sequence: a batch refused as a whole (a passing server error) is re-sent run by
    run under derived ids; an outage then strikes, and the batch is sent again whole, under its
    first id, to a server that now takes it."""
    client = Client(database_url, settings=Settings(home=tmp_path / "home"), flush_interval=30)
    ingest = client._transport.ingest
    sent: list[str] = []

    def flaky(batch: list[RunWrites], batch_id: str, **kwargs: Any) -> None:
        sent.append(batch_id)
        if len(batch) == 2 and sent.count(batch_id) == 1:
            raise PlimsollError("database is locked")  # the whole batch refused, once
        if len(sent) == 3:
            raise Unavailable("the server went away")  # the second run's piece meets an outage
        ingest(batch, batch_id, **kwargs)

    first = client.start_run("e", capture=False)
    second = client.start_run("e", capture=False)
    client.flush()
    client._transport.ingest = flaky  # type: ignore[method-assign]
    for step in range(10):
        first.log_metric("m", float(step), step=step)
        second.log_metric("m", float(step), step=step)
    client.flush()
    client._transport.ingest = ingest  # type: ignore[method-assign]
    try:
        assert len(sent) >= 4  # refused, first run's piece, outage, then sent again
        assert client.get_metric_history(first.id, "m").steps == list(range(10))
        assert client.get_metric_history(second.id, "m").steps == list(range(10))
    finally:
        client.close()


# -- the randomized test -------------------------------------------------------------------------


@dataclass
class _Expected:
    metrics: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, bytes] = field(default_factory=dict)
    ended: bool = False


def _made(call: Callable[[], object]) -> bool:
    """Whether a call made its write. A param the server refused earlier (see below) is raised by
    the run's next call instead of making that call's write."""
    try:
        call()
    except Conflict:
        return False
    return True


def _settled(call: Callable[[], object]) -> None:
    """Flush, the write already made; the refused param may surface here as well."""
    with contextlib.suppress(Conflict):
        call()


def _workload(client: Client, rng: random.Random, proxy: FaultProxy) -> dict[str, _Expected]:
    """Random writes to a few runs at a time, among them now and then a param the server refuses
    (params are immutable): a batch refused whole, then sent run by run, part by part, key by key,
    through the same faults as the rest."""
    expected: dict[str, _Expected] = {}
    live: list[ActiveRun] = []
    outage_at = rng.randrange(10, 60)
    for index in range(rng.randrange(60, 90)):
        if len(live) < 3:
            run = client.start_run("faults", capture=False)
            live.append(run)
            expected[run.id] = _Expected()
        run = rng.choice(live)
        want = expected[run.id]
        roll = rng.random()
        if index == outage_at:
            proxy.outage(rng.uniform(0.5, 2.5))
        if roll < 0.5:
            keys = rng.sample(["loss", "acc", "lr", "grad/norm", "m:1"], rng.randrange(1, 4))
            points = {key: rng.uniform(-1, 1) for key in keys}
            step = index  # steps only grow, so each (key, step) is logged once
            if _made(partial(run.log_metrics, points, step=step)):
                for key, value in points.items():
                    want.metrics.setdefault(key, []).append((step, value))
                if rng.random() < 0.2:  # a synchronous write
                    _settled(run.flush)
        elif roll < 0.62:
            key, value = rng.choice(["stage", "note", "owner"]), f"v{index}"
            if _made(partial(run.set_tag, key, value)):
                want.tags[key] = value
        elif roll < 0.72:
            if _made(partial(run.log_param, f"p{index}", index)):
                want.params[f"p{index}"] = str(index)
        elif roll < 0.76 and want.params:
            _made(partial(run.log_param, rng.choice(sorted(want.params)), "changed"))  # refused
        elif roll < 0.82:
            content = f"artifact {index}".encode()
            _settled(run.flush)  # a refusal still to report would be raised by the upload's wait
            if _made(partial(run.log_text, content.decode(), f"notes/{index}.txt")):
                want.artifacts[f"notes/{index}.txt"] = content
        elif roll < 0.9:
            _settled(run.flush)
        else:
            _settled(partial(run.end, wait=rng.random() < 0.5))
            want.ended = True
            live.remove(run)
    for run in live:
        run.end(wait=False)
        expected[run.id].ended = True
    while not _made(client.flush):
        pass  # one refused param a call
    return expected


def _check_stored_exactly_once(server: LiveServer, expected: dict[str, _Expected], tmp_path: Path) -> None:
    with Client(server.url) as reader:
        stored_runs = {run.id: run for run in reader.search_runs("faults")}
        assert set(stored_runs) == set(expected)
        for run_id, want in expected.items():
            run = stored_runs[run_id]
            assert run.status == "FINISHED"
            assert run.params == want.params
            assert run.tags == want.tags
            for key, points in want.metrics.items():
                history = reader.get_metric_history(run_id, key)
                assert list(zip(history.steps, history.values, strict=True)) == points, (run_id, key)
            assert set(run.metrics) == set(want.metrics)
            listed = {artifact.path for artifact in reader.list_artifacts(run_id)}
            assert listed == set(want.artifacts)
            for path, content in want.artifacts.items():
                target = reader.download_artifact(run_id, path, tmp_path / run_id / path)
                assert target.read_bytes() == content


SEEDS = range(int(os.environ.get("PLIMSOLL_FAULT_SEEDS", "3")))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_exactly_once_through_random_failures(live_server: LiveServer, tmp_path: Path) -> None:
    injected: dict[int, dict[str, int]] = {}
    for seed in SEEDS:
        rng = random.Random(seed)
        proxy = FaultProxy(live_server.url, seed=seed, rate=rng.uniform(0.15, 0.4), delay=0.8)
        try:
            with Client(
                proxy.url, flush_interval=rng.choice([0.01, 0.05, 0.2]), retry_for=1.0, timeout=0.4
            ) as client:
                expected = _workload(client, rng, proxy)
        finally:
            proxy.close()
        injected[seed] = dict(proxy.injected)
        _check_stored_exactly_once(live_server, expected, tmp_path / str(seed))
        with Client(live_server.url) as cleaner:
            for run_id in expected:
                cleaner.delete_run(run_id)
    every_kind = {fault for counts in injected.values() for fault in counts}
    assert every_kind == {"error", "drop", "lost", "slow", "late", "crash"}, injected


@pytest.mark.parametrize("upload", ["file", "text", "captured"])
def test_an_artifact_upload_outlasts_an_outage(
    sqlite_live_server: LiveServer, tmp_path: Path, upload: str
) -> None:
    """An outage that begins with the upload itself, longer than the SDK's retry window: the upload
    is retried like every write, and the call returns once it is stored."""
    proxy = FaultProxy(sqlite_live_server.url)
    (tmp_path / "model.bin").write_bytes(b"weights" * 1000)
    try:
        with Client(proxy.url, retry_for=0.3) as client:
            client.start_run("e", capture=False).end()  # the experiment exists, and is known
            proxy.outage_on("PUT", 1.5)
            run = client.start_run("e", capture=upload == "captured")
            if upload == "file":
                run.log_artifact(tmp_path / "model.bin")
            elif upload == "text":
                run.log_text("done", "notes.txt")
            run.end()
            paths = {artifact.path for artifact in client.list_artifacts(run.id)}
    finally:
        proxy.close()
    wanted = {"file": "model.bin", "text": "notes.txt", "captured": "plimsoll/environment.json"}
    assert wanted[upload] in paths
    assert proxy.injected["drop"] > 0

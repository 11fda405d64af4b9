"""The SDK gives the same results embedded and over HTTP (each on SQLite and PostgreSQL)."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path
from typing import Any

import pytest

import plimsoll as pl
from plimsoll.client import Client
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound


def test_full_run_lifecycle(sdk: Client, tmp_path: Path) -> None:
    (tmp_path / "out" / "sub").mkdir(parents=True)
    (tmp_path / "out" / "a.txt").write_text("A")
    (tmp_path / "out" / "sub" / "b.txt").write_text("B")
    with sdk.start_run("churn", params={"lr": 0.01, "layers": [2, 3]}, tags={"team": "growth"}) as run:
        run.log_param("depth", 3)
        for step in range(50):
            run.log_metric("loss", 1 / (step + 1))
        run.log_metrics({"acc": 0.9, "nan_metric": math.nan, "inf_metric": -math.inf}, step=7)
        run.set_tag("stage", "dev")
        run.log_artifact(tmp_path / "out", artifact_path="outputs")
        run.log_dict({"k": 1}, "config.json")
        with sdk.start_run("churn", nested=True, capture=False) as child:
            child.log_metric("child_metric", 1.0)
    got = sdk.get_run(run.id)
    assert got.status == "FINISHED" and got.end_time is not None
    assert got.experiment == "churn"
    assert got.params == {"lr": "0.01", "layers": "[2,3]", "depth": "3"}
    assert got.tags["team"] == "growth" and got.tags["stage"] == "dev"
    assert got.tags["plimsoll.python"]
    assert got.metrics["loss"] == pytest.approx(1 / 50) and got.metrics["acc"] == 0.9
    assert math.isnan(got.metrics["nan_metric"]) and got.metrics["inf_metric"] == -math.inf
    history = sdk.get_metric_history(run.id, "loss")
    assert history.steps == list(range(50))
    paths = [a.path for a in sdk.list_artifacts(run.id)]
    assert {"outputs/a.txt", "outputs/sub/b.txt", "config.json", "plimsoll/environment.json"} <= set(paths)
    target = sdk.download_artifact(run.id, "outputs/sub/b.txt", tmp_path / "dl" / "b.txt")
    assert target.read_text() == "B"
    assert sdk.get_run(child.id).parent_run_id == run.id


def test_a_run_that_raises_ends_failed(sdk: Client) -> None:
    with pytest.raises(ZeroDivisionError), sdk.start_run("e", capture=False) as run:
        run.log_metric("x", 1.0)
        _ = 1 / 0
    assert sdk.get_run(run.id).status == "FAILED"
    assert sdk.get_run(run.id).metrics == {"x": 1.0}


def test_without_with_and_explicit_status(sdk: Client) -> None:
    run = sdk.start_run("e", name="manual", capture=False)
    run.log_metric("m", 2.0, step=3, synchronous=True)
    assert sdk.get_run(run.id).status == "RUNNING"
    run.end("KILLED")
    assert sdk.get_run(run.id).status == "KILLED"
    with pytest.raises(Conflict, match="ended"):
        run.log_metric("m", 1.0)


def test_search_and_experiments(sdk: Client) -> None:
    for i in range(5):
        with sdk.start_run("grid", name=f"r{i}", params={"lr": 10.0**-i}, capture=False) as run:
            run.log_metric("acc", i / 10)
    found = sdk.search_runs(
        "grid", filter="params.lr < 0.05 AND metrics.acc >= 0.2", order_by=["metrics.acc"]
    )
    assert [r.name for r in found] == ["r2", "r3", "r4"]
    assert [e.name for e in sdk.list_experiments()] == ["grid"]
    with pytest.raises(InvalidParameter, match="filter"):
        sdk.search_runs("grid", filter="params.lr >>> 1")
    with pytest.raises(NotFound):
        sdk.get_run("0" * 32)


def test_bad_input_is_refused_at_the_call(sdk: Client) -> None:
    with sdk.start_run("e", capture=False) as run:
        with pytest.raises(InvalidParameter, match="metrics"):
            run.log_metric("../../etc", 1.0)
        with pytest.raises(InvalidParameter, match=r"metrics\.loss"):
            run.log_metric("loss", "high")  # type: ignore[arg-type]
        with pytest.raises(InvalidParameter, match=r"params\.p.*6000"):
            run.log_param("p", "x" * 6001)
        run.log_param("a", 1)
        with pytest.raises(Conflict, match="immutable"):
            run.log_param("a", 2)
            run.flush()
        run.log_param("a", 1)  # the same value again is fine


def test_conflicting_param_from_a_second_client_is_reported_at_flush(sdk: Client) -> None:
    run = sdk.start_run("e", capture=False)
    run.log_param("a", "1")
    run.flush()
    run.log_param("a", "2")  # this client no longer holds 'a' in its buffer: the server decides
    with pytest.raises(Conflict, match="immutable"):
        run.flush()
    run.end()


def test_code_capture_in_a_git_repository(tmp_path: Path, database_url: str) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("config", "user.email", "t@example.invalid")
    git("config", "user.name", "t")
    (repo / "train.py").write_text("print('v1')\n")
    git("add", "train.py")
    git("commit", "-qm", "v1")
    (repo / "train.py").write_text("print('v2')\n")
    from plimsoll.client import capture

    captured = capture.capture_code(repo)
    assert captured.tags["plimsoll.git.branch"] == "main"
    assert captured.tags["plimsoll.git.dirty"] == "true"
    assert len(captured.tags["plimsoll.git.commit"]) == 40
    assert b"+print('v2')" in captured.artifacts["plimsoll/git.diff"]
    env = capture.capture_environment()
    assert b'"packages"' in env.artifacts["plimsoll/environment.json"]


def test_module_level_api_uses_the_default_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLIMSOLL_URL", raising=False)
    monkeypatch.setenv("PLIMSOLL_HOME", str(tmp_path / ".plimsoll"))
    pl.set_default_client(None)
    try:
        with pl.start_run(experiment="churn", capture=False) as run:
            run.log_params({"lr": 0.1})
            run.log_metric("loss", 0.3, step=1)
            assert pl.active_run() is run
        assert pl.get_run(run.id).params == {"lr": "0.1"}
        assert [r.id for r in pl.search_runs("churn")] == [run.id]
        assert (tmp_path / ".plimsoll" / "plimsoll.db").exists()
    finally:
        pl.default_client().close()
        pl.set_default_client(None)


def test_a_refused_write_loses_only_itself_and_the_run_still_ends(sdk: Client) -> None:
    run = sdk.start_run("e", capture=False)
    run.log_param("a", "1")
    run.flush()
    for step in range(100):
        run.log_metric("m", float(step), step=step)
    run.log_param("a", "2")  # refused by the server, in the same batch as the metrics and the end
    with pytest.raises(Conflict, match="immutable"):
        run.end()
    stored = sdk.get_run(run.id)
    assert stored.status == "FINISHED" and stored.params == {"a": "1"}
    assert sdk.get_metric_history(run.id, "m").steps == list(range(100))


def test_a_run_whose_writes_failed_still_ends_failed(sdk: Client) -> None:
    run_id = ""
    with pytest.raises(RuntimeError, match="the block's own error"), sdk.start_run("e", capture=False) as run:
        run_id = run.id
        run.log_param("a", "1")
        run.flush()
        run.log_param("a", "2")
        raise RuntimeError("the block's own error")
    assert sdk.get_run(run_id).status == "FAILED"


def test_numpy_scalars_and_bad_characters(sdk: Client) -> None:
    import numpy as np

    with sdk.start_run("e", capture=False) as run:
        run.log_metric("f32", np.float32(0.5), step=np.int64(3))
        run.log_metrics({"i64": np.int64(7)})
        with pytest.raises(InvalidParameter, match="NUL"):
            run.set_tag("t", "a\x00b")
    got = sdk.get_run(run.id)
    assert got.metrics == {"f32": 0.5, "i64": 7.0}
    assert sdk.get_metric_history(run.id, "f32").steps == [3]


def test_artifact_names_beyond_latin_1(sdk: Client, tmp_path: Path) -> None:
    with sdk.start_run("e", capture=False) as run:
        run.log_text("weights", "模型/结果 v2.txt")
    target = sdk.download_artifact(run.id, "模型/结果 v2.txt", tmp_path / "out.txt")
    assert target.read_text() == "weights"


def test_download_of_a_missing_artifact_is_not_found(sdk: Client, tmp_path: Path) -> None:
    with sdk.start_run("e", capture=False) as run:
        run.log_text("x", "there.txt")
    with pytest.raises(NotFound):
        sdk.download_artifact(run.id, "missing.txt", tmp_path / "missing.txt")


def test_a_download_that_fails_midway_leaves_the_connection_usable(live_server: Any, tmp_path: Path) -> None:
    sdk = Client(live_server.url, flush_interval=0.05)
    try:
        with sdk.start_run("e", capture=False) as run:
            run.log_text("x" * 300_000, "big.txt")
        # The answer has begun when its partial file turns out not to open: the unread rest of
        # the body must not be read as the next answer.
        blocked = tmp_path / "blocked.txt"
        blocked.with_name("blocked.txt.partial").mkdir()
        with pytest.raises(OSError):
            sdk.download_artifact(run.id, "big.txt", blocked)
        assert not blocked.exists()
        with sdk.start_run("e", capture=False) as after:
            after.log_param("p", "1")
        assert sdk.get_run(after.id).params == {"p": "1"}
        assert sdk.download_artifact(run.id, "big.txt", tmp_path / "big.txt").stat().st_size == 300_000
    finally:
        sdk.close()


def test_synchronous_writes_from_many_threads_all_land_in_order(sdk: Client) -> None:
    """A flush sends on the caller's thread when the sender is idle; with several threads flushing
    at once, one batch is on the wire at a time, so each thread's points land in its own order."""
    import threading

    run = sdk.start_run("threads", capture=False)
    run.flush()
    failures: list[BaseException] = []

    def write(thread: int) -> None:
        try:
            for step in range(40):
                run.log_metric(f"t{thread}", float(step), step=step, synchronous=step % 3 == 0)
        except BaseException as exc:  # reported below, in the test's own thread
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.end()
    assert failures == []
    got = sdk.get_run(run.id)
    for n in range(4):
        assert sdk.get_metric_history(run.id, f"t{n}").values == [float(s) for s in range(40)]
        assert got.metrics[f"t{n}"] == 39.0


def test_a_synchronous_write_is_sent_by_the_calling_thread(sdk: Client) -> None:
    import threading

    run = sdk.start_run("caller-sends", capture=False)
    run.flush()
    senders: list[str] = []
    transport_ingest = sdk._transport.ingest

    def recording_ingest(*args: Any, **kwargs: Any) -> None:
        senders.append(threading.current_thread().name)
        transport_ingest(*args, **kwargs)

    sdk._transport.ingest = recording_ingest  # type: ignore[method-assign]
    for step in range(5):
        run.log_metric("m", float(step), step=step, synchronous=True)
    assert senders == [threading.current_thread().name] * 5
    run.end()


def test_a_send_interrupted_by_ctrl_c_is_kept_and_sent_later(sdk: Client) -> None:
    run = sdk.start_run("interrupted", capture=False)
    run.flush()
    transport_ingest = sdk._transport.ingest
    calls = 0

    def interrupted_once(*args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise KeyboardInterrupt
        transport_ingest(*args, **kwargs)

    sdk._transport.ingest = interrupted_once  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        run.log_metric("m", 1.0, step=0, synchronous=True)
    run.log_metric("m", 2.0, step=1, synchronous=True)
    run.end()
    assert sdk.get_metric_history(run.id, "m").values == [1.0, 2.0]


@pytest.mark.timeout(60)
def test_a_signal_handler_may_end_the_run_while_the_same_thread_is_sending(sdk: Client) -> None:
    """A SIGTERM-style handler that ends its run lands while the main thread is mid-send: its
    flush must not wait on the send it interrupted."""
    import signal

    run = sdk.start_run("signalled", capture=False)
    run.flush()
    transport_ingest = sdk._transport.ingest
    signalled = False

    def ingest_then_signal(*args: Any, **kwargs: Any) -> None:
        nonlocal signalled
        if not signalled:
            signalled = True
            signal.raise_signal(signal.SIGUSR1)  # the handler runs here, inside this send
        transport_ingest(*args, **kwargs)

    previous = signal.signal(signal.SIGUSR1, lambda _signum, _frame: run.end("KILLED"))
    sdk._transport.ingest = ingest_then_signal  # type: ignore[method-assign]
    try:
        run.log_metric("m", 1.0, step=0, synchronous=True)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    sdk.flush()
    assert sdk.get_run(run.id).status == "KILLED"
    assert sdk.get_metric_history(run.id, "m").values == [1.0]

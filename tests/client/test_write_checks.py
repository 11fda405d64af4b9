"""One bad value costs one line: the SDK refuses what the server would refuse, at the call, and a
batch the server refuses loses only the run and key at fault, with an error naming them."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plimsoll.client import Client
from plimsoll.client.run import param_text
from plimsoll.core.config import Settings
from plimsoll.core.errors import Conflict, InvalidParameter, PlimsollError
from plimsoll.core.ids import new_id
from plimsoll.core.validation import (
    MAX_KEY_LENGTH,
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    check_float,
)
from plimsoll.tracking.entities import MetricColumns, RunCreate, RunWrites
from plimsoll.tracking.service import TrackingService

LONE_SURROGATE = "bad \ud800 text"


def test_a_bad_value_raises_on_its_own_line_and_nothing_else_is_affected(sdk: Client) -> None:
    good = sdk.start_run("e", capture=False)
    other = sdk.start_run("e", capture=False)
    for step in range(10):
        good.log_metric("m", float(step), step=step)
    bad_calls = [
        ("tags.t", lambda: other.set_tag("t", LONE_SURROGATE)),
        ("params.p", lambda: other.log_param("p", LONE_SURROGATE)),
        ("params.q", lambda: other.log_params({"ok": 1, "q": "x" * (MAX_PARAM_VALUE_LENGTH + 1)})),
        ("metrics.key", lambda: other.log_metric("k" * (MAX_KEY_LENGTH + 1), 1.0)),
        ("metrics.m.step", lambda: other.log_metric("m", 1.0, step=math.nan)),  # type: ignore[arg-type]
        ("metrics.m.value", lambda: other.log_metrics({"fine": 1.0, "m": "high"})),  # type: ignore[dict-item]
        ("metrics.m.timestamp", lambda: other.log_metric("m", 1.0, timestamp=-1)),
        ("run_name", lambda: sdk.start_run("e", name=LONE_SURROGATE, capture=False)),
        ("parent_run_id", lambda: sdk.start_run("e", parent_run_id="not-a-run", capture=False)),
        ("tags.t", lambda: sdk.start_run("e", tags={"t": LONE_SURROGATE}, capture=False)),
        ("artifact_path", lambda: other.log_text("x", f"notes/{LONE_SURROGATE}.txt")),
    ]
    for field, call in bad_calls:
        with pytest.raises(InvalidParameter) as refused:
            call()
        assert refused.value.field == field
    other.set_tag("t", "fine")
    other.log_metric("m", 2.0)
    good.end()
    other.end()
    assert sdk.get_metric_history(good.id, "m").steps == list(range(10))
    stored = sdk.get_run(other.id)
    assert stored.status == "FINISHED" and stored.tags["t"] == "fine"
    assert stored.params == {} and stored.metrics == {"m": 2.0}  # the refused calls changed nothing
    assert sdk.get_metric_history(other.id, "m").steps == [0]  # nor the next automatic step
    # Only the runs started above: the refused start_run calls started none.
    assert {r.id for r in sdk.search_runs("e")} == {good.id, other.id}


@pytest.fixture
def batching_sdk(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[Client]:
    """The `sdk` fixture's two transports, with a flush interval long enough that writes to
    several runs travel in one batch unless flushed."""
    if request.param == "embedded":
        client = Client(database_url, settings=Settings(home=tmp_path / "home"), flush_interval=30)
    else:
        client = Client(request.getfixturevalue("live_server").url, flush_interval=30)
    try:
        yield client
    finally:
        client.close()


def _parametrize_transports(test: Any) -> Any:
    return pytest.mark.parametrize("batching_sdk", ["embedded", "http"], indirect=True)(test)


@_parametrize_transports
def test_a_run_the_server_refuses_loses_only_the_key_at_fault(batching_sdk: Client) -> None:
    sdk = batching_sdk
    neighbour = sdk.start_run("e", capture=False)
    refused = sdk.start_run("e", capture=False)
    refused.log_param("a", "1")
    refused.flush()
    # One batch: the neighbour's writes, and the refused run's own good ones around a param the
    # server refuses (params are immutable; this client no longer holds 'a' to refuse it itself).
    for step in range(20):
        neighbour.log_metric("m", float(step), step=step)
        refused.log_metric("m", float(step), step=step)
    neighbour.set_tag("t", "n")
    refused.log_params({"a": "2", "b": "kept"})
    refused.set_tag("t", "r")
    with pytest.raises(Conflict) as error:
        sdk.flush()
    assert refused.id in error.value.message and "'a'" in error.value.message
    assert error.value.details["run_id"] == refused.id and error.value.details["keys"] == ["a"]
    neighbour.end()
    refused.end()
    assert sdk.get_metric_history(neighbour.id, "m").steps == list(range(20))
    assert sdk.get_run(neighbour.id).tags["t"] == "n"
    stored = sdk.get_run(refused.id)
    assert stored.params == {"a": "1", "b": "kept"} and stored.tags["t"] == "r"
    assert stored.status == "FINISHED"
    assert sdk.get_metric_history(refused.id, "m").steps == list(range(20))


@_parametrize_transports
def test_a_value_that_cannot_be_sent_sinks_only_itself(batching_sdk: Client) -> None:
    """The last line of defence, for a value the checks let through and the transport cannot
    carry (simulated: the transport fails on it the way a serialiser would)."""
    sdk = batching_sdk
    ingest = sdk._transport.ingest

    def choking_ingest(batch: list[RunWrites], batch_id: str, **kwargs: Any) -> None:
        if any(writes.tags.get("poison") for writes in batch):
            raise TypeError("str is not valid UTF-8: surrogates not allowed")
        ingest(batch, batch_id, **kwargs)

    sdk._transport.ingest = choking_ingest  # type: ignore[method-assign]
    first = sdk.start_run("e", capture=False)
    second = sdk.start_run("e", capture=False)
    for step in range(5):
        first.log_metric("m", float(step), step=step)
        second.log_metric("m", float(step), step=step)
    second.set_tags({"poison": "x", "fine": "y"})
    first.end(wait=False)
    second.end(wait=False)
    with pytest.raises(PlimsollError, match=rf"run {second.id}: tags 'poison' not saved: TypeError"):
        sdk.flush()
    assert sdk.get_run(first.id).status == "FINISHED"
    assert sdk.get_metric_history(first.id, "m").steps == list(range(5))
    stored = sdk.get_run(second.id)
    assert stored.status == "FINISHED" and stored.tags.get("fine") == "y" and "poison" not in stored.tags
    assert sdk.get_metric_history(second.id, "m").steps == list(range(5))


# -- the SDK and the server judge alike ----------------------------------------------------------

_ODD = st.sampled_from(["\ud800", "\udfff", "\x00", "\x1f", "/", ".", " ", "é", "模", "\u202e", ":"])
_TEXT = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.one_of(_ODD, st.characters(max_codepoint=0x7F)), max_size=12),
    st.sampled_from(["x" * MAX_KEY_LENGTH, "x" * (MAX_KEY_LENGTH + 1)]),
    st.sampled_from(["v" * MAX_TAG_VALUE_LENGTH, "v" * (MAX_TAG_VALUE_LENGTH + 1)]),
    st.sampled_from(["p" * MAX_PARAM_VALUE_LENGTH, "p" * (MAX_PARAM_VALUE_LENGTH + 1)]),
)
_NUMBER = st.one_of(
    st.floats(), st.integers(min_value=-(2**70), max_value=2**70), st.booleans(), st.none(), _TEXT
)
_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("tag"), _TEXT, _TEXT),
        st.tuples(st.just("param"), _TEXT, st.one_of(_TEXT, _NUMBER)),
        st.tuples(st.just("metric"), _TEXT, _NUMBER, _NUMBER, _NUMBER),
        st.tuples(st.just("run"), st.one_of(st.none(), _TEXT), st.one_of(st.none(), _TEXT)),
    ),
    min_size=1,
    max_size=8,
)


def _server_judges(tracking: TrackingService, experiment_id: str, op: tuple[Any, ...]) -> bool:
    """Whether the service stores this write: what any client may send it."""
    run_id = new_id()
    kind = op[0]
    if kind == "run":
        writes = RunWrites(run_id, create=RunCreate(experiment_id, op[1], op[2]))
    else:
        tracking.ingest([RunWrites(run_id, create=RunCreate(experiment_id))], actor="t")
        if kind == "tag":
            writes = RunWrites(run_id, tags={op[1]: op[2]})
        elif kind == "param":
            writes = RunWrites(run_id, params={op[1]: param_text(op[2])})
        else:
            _, key, value, step, stamp = op
            writes = RunWrites(run_id, metrics=MetricColumns([key], [value], [step], [stamp]))
    try:
        tracking.ingest([writes], actor="t")
    except InvalidParameter:
        return False
    except PlimsollError as exc:  # a parent that does not exist is not the SDK's to know
        return kind == "run" and "parent" in exc.message
    return True


def _sdk_judges(client: Client, op: tuple[Any, ...]) -> bool:
    kind = op[0]
    try:
        if kind == "run":
            client.start_run("sdk", name=op[1], parent_run_id=op[2], capture=False).end(wait=False)
        else:
            run = client.start_run("sdk", capture=False)
            if kind == "tag":
                run.set_tag(op[1], op[2])
            elif kind == "param":
                run.log_param(op[1], op[2])
            else:
                _, key, value, step, stamp = op
                run.log_metric(key, value, step=step, timestamp=stamp)
            run.end(wait=False)
    except InvalidParameter:
        return False
    return True


def _as_server_sees(op: tuple[Any, ...]) -> tuple[Any, ...]:
    """The write as the SDK would send it: a number it accepts as a float, a step and a time
    where it fills them in."""
    if op[0] != "metric":
        return op
    _, key, value, step, stamp = op
    with contextlib.suppress(InvalidParameter):
        value = check_float("value", value)
    return ("metric", key, value, 0 if step is None else step, 0 if stamp is None else stamp)


def test_the_sdk_refuses_exactly_what_the_server_refuses(database_url: str, tmp_path: Path) -> None:
    """Random writes, odd strings and numbers among them: each is refused at the SDK's call
    exactly when the service refuses it, and everything the SDK accepted is then stored."""
    with Client(database_url, settings=Settings(home=tmp_path / "home"), flush_interval=0.05) as client:
        tracking: TrackingService = client._transport.platform.tracking  # type: ignore[attr-defined]
        experiment = tracking.get_or_create_experiment("server", project="default", actor="t")

        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        @given(ops=_OPS)
        def check(ops: list[tuple[Any, ...]]) -> None:
            for op in ops:
                assert _sdk_judges(client, op) == _server_judges(
                    tracking, experiment.id, _as_server_sees(op)
                ), op
            client.flush()  # whatever the SDK accepted, the server stored: nothing fails later

        check()

"""Reading through the SDK, embedded and over HTTP alike: short ids, a history's unknown key, the
DataFrame of a search, deleting, restoring and resuming runs, and who a run belongs to."""

from __future__ import annotations

import math
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from plimsoll.client import Client, RunList
from plimsoll.core import audit
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound, Unavailable
from plimsoll.core.ids import short_id
from plimsoll.platform import Platform

# -- short ids ------------------------------------------------------------------------------------


def test_every_run_call_takes_the_short_id(sdk: Client, tmp_path: Path) -> None:
    with sdk.start_run("short", capture=False) as run:
        run.log_metric("loss", 0.5)
        run.log_text("hello", "notes.txt")
    short = short_id(run.id)
    assert sdk.get_run(short).id == run.id
    assert sdk.get_run(short.upper()).id == run.id  # as typed from a page, in any case
    assert sdk.get_metric_history(short, "loss").values == [0.5]
    assert [a.path for a in sdk.list_artifacts(short)] == ["notes.txt"]
    assert sdk.download_artifact(short, "notes.txt", tmp_path / "n.txt").read_text() == "hello"
    assert sdk.delete_run(short).lifecycle_stage == "deleted"
    assert sdk.restore_run(short).lifecycle_stage == "active"  # a deleted run is found too


def test_an_unknown_or_malformed_short_id_is_refused_plainly(sdk: Client) -> None:
    with sdk.start_run("short", capture=False) as run:
        pass
    unknown = next(s for s in ("00000000", "11111111") if not run.id.endswith(s))
    with pytest.raises(NotFound, match=f"no run id ends with '{unknown}'"):
        sdk.get_run(unknown)
    with pytest.raises(InvalidParameter, match="is not a run id") as refused:
        sdk.get_run("not-an-id")
    assert refused.value.field == "run_id"


def test_a_short_id_that_ends_several_ids_is_a_conflict_naming_them(platform: Platform) -> None:
    tracking = platform.tracking
    experiment = tracking.create_experiment("twins", actor="t")
    twins = ["a" * 24 + "0000beef", "b" * 24 + "0000beef"]
    for run_id in twins:
        tracking.create_run(experiment.id, run_id=run_id, actor="t")
    with pytest.raises(Conflict) as ambiguous:
        tracking.resolve_run_id("beef")
    assert all(run_id in ambiguous.value.message for run_id in twins)
    assert ambiguous.value.details["candidates"] == twins
    assert tracking.resolve_run_id("a0000beef") == twins[0]  # one digit more settles it
    # Among the projects the caller may see only, the other twin is not a candidate.
    platform.projects.create("elsewhere", actor="t")
    hidden = tracking.create_experiment("hidden", project="elsewhere", actor="t")
    tracking.create_run(hidden.id, run_id="c" * 24 + "1234abcd", actor="t")
    with pytest.raises(NotFound):
        tracking.resolve_run_id("1234abcd", projects=["default"])
    assert tracking.resolve_experiment_id(short_id(hidden.id)) == hidden.id


@pytest.mark.auth_on
def test_over_http_a_short_id_resolves_among_the_callers_projects(
    live_server: Any, platform: Platform
) -> None:
    root = platform.auth.bootstrap_admin("root").secret
    platform.projects.create("secret", actor="root")
    hidden = platform.tracking.create_experiment("hidden", project="secret", actor="root")
    run = platform.tracking.create_run(hidden.id, actor="root")
    platform.auth.create_user("vic", actor="root")
    platform.auth.grant("default", "vic", "viewer", actor="root")
    vic = platform.auth.create_token("vic", actor="root").secret
    with Client(live_server.url, token=root) as admin:
        assert admin.get_run(short_id(run.id)).id == run.id
        assert admin.get_experiment(short_id(hidden.id)).id == hidden.id
    with Client(live_server.url, token=vic) as viewer, pytest.raises(NotFound, match="no run id ends with"):
        viewer.get_run(short_id(run.id))  # answered as an unknown id: vic holds nothing in `secret`


# -- metric histories ------------------------------------------------------------------------------


def test_the_history_of_a_key_the_run_lacks_names_the_keys_it_has(sdk: Client) -> None:
    with sdk.start_run("history", capture=False) as run:
        run.log_metrics({"loss": 0.5, "acc": 0.9})
    for max_points in (None, 10):
        with pytest.raises(NotFound) as missing:
            sdk.get_metric_history(run.id, "los", max_points=max_points)
        assert missing.value.message == f"run {run.id!r} has no metric 'los'; its metrics are 'acc', 'loss'"
        assert missing.value.details["keys"] == ["acc", "loss"]
    with sdk.start_run("history", capture=False) as bare:
        pass
    with pytest.raises(NotFound, match="it has logged no metrics"):
        sdk.get_metric_history(bare.id, "loss")


# -- search results as a DataFrame -----------------------------------------------------------------


def test_search_results_make_a_dataframe_in_one_call(sdk: Client) -> None:
    with sdk.start_run("frame", name="a", params={"lr": 0.1}, tags={"team": "x"}, capture=False) as a:
        a.log_metrics({"acc": 0.9, "loss": math.nan})
    with sdk.start_run("frame", name="b", params={"depth": 3}, capture=False) as b:
        b.log_metric("acc", 0.8)
    found = sdk.search_runs("frame", order_by=["metrics.acc DESC"])
    assert isinstance(found, RunList) and isinstance(found, list)
    assert [run.id for run in found] == [a.id, b.id]  # still the list it was

    frame = found.to_pandas()
    assert list(frame.columns[:6]) == [
        "run_id",
        "experiment_id",
        "run_name",
        "status",
        "start_time",
        "end_time",
    ]
    assert {"params.lr", "params.depth", "metrics.acc", "metrics.loss", "tags.team"} <= set(frame.columns)
    assert frame["run_id"].tolist() == [a.id, b.id]
    assert frame["run_name"].tolist() == ["a", "b"]
    assert frame["metrics.acc"].tolist() == [0.9, 0.8]
    assert math.isnan(frame["metrics.loss"][0]) and math.isnan(frame["metrics.loss"][1])
    assert frame["params.lr"][0] == "0.1" and pd.isna(frame["params.lr"][1])
    assert frame["tags.team"][0] == "x"
    assert str(frame["start_time"].dt.tz) == "UTC"
    assert frame["end_time"][0] == pd.Timestamp(sdk.get_run(a.id).end_time, unit="ms", tz="UTC")
    assert RunList().to_pandas().empty


# -- deleting, restoring, resuming -----------------------------------------------------------------


def test_a_finished_run_is_resumed_only_when_asked(sdk: Client) -> None:
    with sdk.start_run("resume", capture=False) as run:
        run.log_metric("loss", 0.5)
        run.log_metric("loss", 0.4)
    with pytest.raises(Conflict, match="has ended"):
        run.log_metric("loss", 0.3)

    with sdk.resume_run(short_id(run.id)) as again:
        assert sdk.get_run(run.id).status == "RUNNING"
        assert sdk.get_run(run.id).end_time is None
        again.log_metric("loss", 0.3)  # the automatic step goes on from the stored ones
    history = sdk.get_metric_history(run.id, "loss")
    assert history.steps == [0, 1, 2] and history.values == [0.5, 0.4, 0.3]
    assert sdk.get_run(run.id).status == "FINISHED"

    resumed = sdk.events(types="run.resumed")
    assert [(e.payload["run_id"], e.payload["ended_as"]) for e in resumed.events] == [(run.id, "FINISHED")]

    sdk.delete_run(run.id)
    with pytest.raises(Conflict, match="restore it before resuming it"):
        sdk.resume_run(run.id)


def test_resuming_is_audited_and_a_running_run_is_left_as_it_is(platform: Platform) -> None:
    tracking = platform.tracking
    experiment = tracking.create_experiment("audited", actor="ana")
    run = tracking.create_run(experiment.id, actor="ana")
    assert tracking.resume_run(run.id, actor="ana").status == "RUNNING"  # nothing to do
    tracking.end_run(run.id, "FAILED", actor="ana")
    assert tracking.resume_run(run.id, actor="bob").status == "RUNNING"
    with platform.db.read() as conn:
        entries = [e for e in audit.list_events(conn) if e.action == "run.resume"]
    assert len(entries) == 1
    assert (entries[0].actor, entries[0].before["status"], entries[0].after["status"]) == (
        "bob",
        "FAILED",
        "RUNNING",
    )


# -- who a run belongs to --------------------------------------------------------------------------


def test_a_run_records_the_same_user_embedded_and_over_http(
    sdk: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    import getpass

    expected = getpass.getuser()
    with sdk.start_run("who", capture=False) as run:
        pass
    assert sdk.get_run(run.id).user == expected
    assert sdk.search_runs("who").to_pandas()["user"].tolist() == [expected]


@pytest.mark.auth_on
def test_with_auth_on_a_run_records_the_tokens_user_whatever_the_client_claims(
    live_server: Any, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform.auth.bootstrap_admin("root")
    platform.auth.create_user("carl", actor="root")
    platform.auth.grant("default", "carl", "contributor", actor="root")
    carl = platform.auth.create_token("carl", actor="root").secret
    monkeypatch.setenv("LOGNAME", "mallory")  # what getpass, and so the SDK, says the user is
    with Client(live_server.url, token=carl) as client:
        with client.start_run("who", capture=False) as run:
            pass
        assert client.get_run(run.id).user == "carl"


# -- no server -------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_reads_give_up_plainly_when_no_server_listens() -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    with Client(url, retry_for=0.5) as client:
        for read in (
            lambda: client.get_run("0" * 32),
            lambda: client.search_runs(None, project=None),
            lambda: client.get_metric_history("0" * 32, "loss"),
        ):
            with pytest.raises(Unavailable) as away:
                read()
            assert away.value.message.startswith(f"no Plimsoll server at {url} (connection refused")


def test_the_default_read_window_is_a_few_seconds_not_minutes() -> None:
    """The default itself, in a child process that would hang for minutes if it were still 300 s
    (the pytest timeout ends it; no duration is asserted)."""
    url = f"http://127.0.0.1:{_free_port()}"
    code = f"import plimsoll as pl\npl.Client({url!r}).get_run('0' * 32)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert f"Unavailable: no Plimsoll server at {url}" in result.stderr


@pytest.mark.parametrize("setting", ["url", "PLIMSOLL_URL"])
def test_a_url_without_a_scheme_is_refused_naming_the_setting(
    setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PLIMSOLL_URL", "127.0.0.1:8765")
    with pytest.raises(InvalidParameter, match="is not an http\\(s\\):// or database URL") as refused:
        Client("127.0.0.1:8765") if setting == "url" else Client()
    assert refused.value.field == setting

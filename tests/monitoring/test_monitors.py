"""Monitors on real data with real drift (NannyML's modified California housing, in
../shared/data): a reference dataset with the model's predictions and scores, later traffic
logged with its labels arriving a day late. Embedded and over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from plimsoll.client import Client
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
FEATURES = ["MedInc", "HouseAge", "AveRooms", "AveBedrms", "Population", "AveOccup", "Latitude", "Longitude"]
DAY_MS = 86_400_000
REFERENCE = {
    "kind": "dataset",
    "dataset": "housing-reference@1",
    "target": "clf_target",
    "prediction": "y_pred",
    "score": "y_pred_proba",
}

pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="../shared/data is not on this machine")


def _region(frame: pd.DataFrame) -> pd.Series:
    return np.where(frame.Latitude > 36, "north", "south")


@pytest.fixture
def housing(sdk: Client) -> tuple[Client, np.ndarray]:
    """The model registered and aliased, its reference registered, 4 months of its traffic
    logged with their labels a day later; the traffic's timestamps."""
    reference = pd.read_csv(DATA / "california_housing_reference.csv.gz")
    reference["region"] = _region(reference)
    traffic = pd.read_csv(DATA / "california_housing_analysis.csv.gz")
    truth = pd.read_csv(DATA / "california_housing_analysis_gt.csv.gz")
    stamps = pd.to_datetime(traffic.timestamp).to_numpy().astype("datetime64[ms]").astype("int64")
    keep = stamps < stamps.min() + 120 * DAY_MS
    traffic, stamps = traffic[keep].reset_index(drop=True), stamps[keep]
    traffic["region"] = _region(traffic)
    with sdk.start_run(experiment="housing") as run:
        run.log_text("a model", "model/weights.txt")
    sdk.registry.register("housing", run_id=run.id, artifact_path="model")
    sdk.registry.set_alias("housing", "production", 1)
    sdk.datasets.register("housing-reference", reference)
    ids = [str(i) for i in traffic.id]
    sdk.log_predictions(
        "housing@production",
        traffic[[*FEATURES, "region"]],
        traffic.y_pred,
        scores=traffic.y_pred_proba,
        ids=ids,
        timestamps=stamps.tolist(),
    )
    labels = traffic[["id"]].merge(truth, on="id")
    sdk.log_labels(ids, labels.clf_target, model="housing", timestamps=(stamps + DAY_MS).tolist())
    # Three labels for predictions nobody logged (yet): counted in the window they arrive in.
    ghosts = int(stamps.min()) + 45 * DAY_MS
    sdk.log_labels(["ghost-1", "ghost-2", "ghost-3"], [1, 0, 1], model="housing", timestamps=[ghosts] * 3)
    sdk.monitoring.flush()
    return sdk, stamps


def test_drift_and_the_performance_drop_are_found_window_by_window(
    housing: tuple[Client, np.ndarray],
) -> None:
    sdk, stamps = housing
    monitor = sdk.monitors.create(
        "housing-prod", "housing@production", REFERENCE, features=FEATURES, every="30d"
    )
    assert monitor.task == "classification" and monitor.every_ms == 30 * DAY_MS
    assert monitor.reference_metrics["accuracy"] == pytest.approx(0.6704, abs=1e-4)
    assert {r.name for r in monitor.rules} >= {"no_data", "data_drift", "performance_drop"}
    assert [m.name for m in sdk.monitors.list()] == ["housing-prod"]

    windows = sdk.monitors.backfill("housing-prod", int(stamps.min()), int(stamps.max()) + 1)
    full = [w for w in windows if w.rows >= 500]
    assert len(full) >= 3 and sum(w.rows for w in windows) == len(stamps)
    for window in full:
        assert window.version == 1
        assert window.values["labels.coverage"] == 1.0
        assert window.values["labels.lag_s"] == pytest.approx(86_400)
        assert window.drift["detected"] is True and window.drift["ranked"]
        assert set(window.drift["ranked"]) <= set(FEATURES)
        estimated = window.performance["estimated"]["metrics"]["accuracy"]
        assert estimated["lower"] <= estimated["value"] <= estimated["upper"]
    # The housing market moved: realised accuracy falls well under the reference's 0.67.
    worst = min(full, key=lambda w: w.values["performance.accuracy"])
    assert worst.values["performance.accuracy"] < 0.6
    assert "performance_drop" in {s["rule"] for s in worst.breaking}
    # Drift needs three windows in a row before it fires.
    drift = [next(s for s in w.signals if s["rule"] == "data_drift") for w in full]
    assert [s["consecutive"] for s in drift[:3]] == [2, 3, 4] or drift[2]["consecutive"] >= 3

    ghosts = [w for w in windows if w.start <= int(stamps.min()) + 45 * DAY_MS < w.end]
    assert ghosts[0].values["labels.unmatched"] == 3.0
    assert ghosts[0].performance["unmatched_examples"] == ["ghost-1", "ghost-2", "ghost-3"]
    assert all(w.values["labels.unmatched"] == 0.0 for w in windows if w not in ghosts)

    check = sdk.monitors.check("housing-prod", since=int(stamps.min()), until=int(stamps.max()) + 1)
    assert not check.passed
    assert {"performance_drop", "data_drift"} <= {s["rule"] for s in check.firing}
    merged = sdk.monitors.merged("housing-prod", int(stamps.min()) - 30 * DAY_MS, int(stamps.max()) + 1)
    assert merged["rows"] == len(stamps) and merged["drift"]["detected"] is True


def test_segments_get_their_own_windows(housing: tuple[Client, np.ndarray]) -> None:
    sdk, stamps = housing
    sdk.monitors.create(
        "by-region", "housing@production", REFERENCE, features=FEATURES, every="30d", segment_by="region"
    )
    sdk.monitors.backfill("by-region", int(stamps.min()), int(stamps.min()) + 60 * DAY_MS)
    every = sdk.monitors.windows("by-region", segment=None)
    assert {w.segment for w in every} == {"", "north", "south"}
    for start in {w.start for w in every}:
        parts = [w for w in every if w.start == start]
        whole = next(w for w in parts if w.segment == "")
        assert sum(w.rows for w in parts if w.segment) == whole.rows
        # Each segment's tests run at alpha / segments: false alarms controlled across them.
        segments = [w for w in parts if w.segment]
        assert all(w.drift["alpha"] == pytest.approx(0.05 / len(segments)) for w in segments)
    north = sdk.monitors.windows("by-region", segment="north")
    assert len(north) >= 2 and {w.segment for w in north} == {"north"}


def test_bad_monitors_are_refused_naming_the_field(housing: tuple[Client, np.ndarray]) -> None:
    sdk, _ = housing
    with pytest.raises(InvalidParameter) as raised:
        sdk.monitors.create("m", "housing/1", REFERENCE)
    assert raised.value.field == "model"
    with pytest.raises(InvalidParameter) as raised:
        sdk.monitors.create("m", "housing@production", REFERENCE, every="1 day")
    assert raised.value.field == "every"
    with pytest.raises(InvalidParameter) as raised:
        sdk.monitors.create("m", "housing@production", {**REFERENCE, "target": "nope"})
    assert raised.value.field == "reference.target"
    with pytest.raises(InvalidParameter) as raised:
        sdk.monitors.create(
            "m",
            "housing@production",
            REFERENCE,
            rules=[{"name": "r", "value": "vibes", "op": ">", "threshold": 1}],
        )
    assert raised.value.field == "rules[0].value"
    with pytest.raises(NotFound):
        sdk.monitors.create("m", "housing@staging", REFERENCE)
    sdk.monitors.create("m", "housing@production", REFERENCE, features=FEATURES)
    with pytest.raises(Conflict):
        sdk.monitors.create("m", "housing@production", REFERENCE, features=FEATURES)
    sdk.monitors.delete("m")
    with pytest.raises(NotFound):
        sdk.monitors.get("m")


def test_the_cli_creates_backfills_and_checks_exiting_1_with_a_report(
    housing: tuple[Client, np.ndarray], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import orjson
    from typer.testing import CliRunner

    from plimsoll.cli import _output
    from plimsoll.cli.main import app

    sdk, stamps = housing
    if sdk.platform is not None:  # the CLI opens the same database and blob folder
        monkeypatch.setenv("PLIMSOLL_HOME", str(sdk.platform.settings.home))
    _output.console.width = 200
    url = ["--url", sdk.url]

    def cli(*args: str) -> Any:
        result = CliRunner().invoke(app, [*args, *url], env={"COLUMNS": "200"})
        assert "Traceback" not in result.output, result.output
        return result

    made = cli(
        "monitors",
        "create",
        "cli-mon",
        "housing@production",
        "--reference",
        "dataset:housing-reference@1",
        "--target",
        "clf_target",
        "--prediction",
        "y_pred",
        "--score",
        "y_pred_proba",
        *[arg for f in FEATURES for arg in ("--feature", f)],
        "--every",
        "30d",
        "--json",
    )
    assert made.exit_code == 0, made.output
    assert orjson.loads(made.stdout)["features"] == FEATURES
    since, until = str(int(stamps.min())), str(int(stamps.max()) + 1)
    filled = cli("monitors", "backfill", "cli-mon", "--since", since, "--until", until)
    assert filled.exit_code == 0 and "windows computed" in filled.output
    report, document = tmp_path / "report.html", tmp_path / "check.json"
    checked = cli(
        "monitors",
        "check",
        "cli-mon",
        "--since",
        since,
        "--until",
        until,
        "--report",
        str(report),
        "--json-file",
        str(document),
    )
    assert checked.exit_code == 1, checked.output
    assert "performance_drop" in checked.output
    page = report.read_text()
    assert "failed" in page and "echarts" in page and "http://" not in page.split("<script>")[0]
    assert orjson.loads(document.read_text())["passed"] is False
    listed = cli("monitors", "list")
    assert listed.exit_code == 0 and "cli-mon" in listed.output
    shown = cli("monitors", "show", "cli-mon", "--json")
    assert shown.exit_code == 0 and orjson.loads(shown.stdout)["windows"]
    missing = cli("monitors", "show", "nope")
    assert missing.exit_code == 3 and "not found" in missing.output


def test_metrics_expose_the_newest_windows_for_prometheus(housing: tuple[Client, np.ndarray]) -> None:
    sdk, stamps = housing
    sdk.monitors.create("prom", "housing@production", REFERENCE, features=FEATURES, every="30d")
    sdk.monitors.backfill("prom", int(stamps.min()), int(stamps.max()) + 1)
    from plimsoll.monitoring.exposition import exposition

    service = sdk.platform
    if service is None:  # over HTTP: the route, with the client's token
        import urllib3

        answer = urllib3.request("GET", f"{sdk.url}/api/v1/monitoring/metrics?project=default")
        assert answer.status == 200 and answer.headers["content-type"].startswith("text/plain")
        text = answer.data.decode()
    else:
        text = exposition(service.service("monitoring").latest(), 0)
    assert (
        'plimsoll_monitor_drift_detected{monitor="prom",model="housing",alias="production",segment=""} 1.0'
        in text
    )
    assert (
        'plimsoll_monitor_performance{monitor="prom",model="housing",alias="production",segment="",metric="accuracy",kind="realised"}'
        in text
    )
    assert "plimsoll_monitor_rule_active{" in text and 'rule="performance_drop",severity="critical"' in text


def test_due_windows_run_publish_their_signals_and_a_stale_monitor_is_reported(
    housing: tuple[Client, np.ndarray], request: pytest.FixtureRequest
) -> None:
    sdk, stamps = housing
    if sdk.platform is None:  # the scheduler's side is the server's: embedded reaches it directly
        sdk.monitors.create(
            "scheduled",
            "housing@production",
            REFERENCE,
            features=FEATURES,
            every="30d",
            start=int(stamps.min()),
        )
        computed = sdk.monitors.run("scheduled")  # through the route: due windows up to now
        assert sum(w.rows for w in computed) == len(stamps)
        events = sdk.events(types="monitor.checked").events
        assert len(events) == len(computed)
        # The server's incidents consumer turns the firing signals into alerts and an incident.
        background = request.getfixturevalue("platform").start_background(threads=1)
        try:
            deadline = time.monotonic() + 60
            while not sdk.incidents.list(model="housing") and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            background.stop()
        (incident,) = sdk.incidents.list(model="housing")
        assert "performance_drop" in {a.rule for a in incident.alerts} and incident.owner is None
        return
    service = sdk.platform.service("monitoring")
    first = int(stamps.min())
    sdk.monitors.create(
        "scheduled", "housing@production", REFERENCE, features=FEATURES, every="30d", start=first
    )
    service.clock = lambda: first + 65 * DAY_MS
    computed = service.run_monitor("scheduled", actor="test")
    # Windows aligned to UTC whose end has passed: the one holding `first`, and two more.
    assert [w.start for w in computed] == [first - first % (30 * DAY_MS) + i * 30 * DAY_MS for i in range(3)]
    events = sdk.events(types="monitor.checked").events
    assert len(events) == 3
    payload = events[-1].payload
    assert payload["monitor"] == "scheduled" and payload["version"] == 1 and payload["segment"] is None
    assert {s["rule"] for s in payload["signals"]} >= {"data_drift", "performance_drop", "no_data"}
    drift = next(s for s in payload["signals"] if s["rule"] == "data_drift")
    assert drift["active"] and drift["consecutive"] == 3 and drift["for_windows"] == 3

    # Nothing runs for three periods (counted from its creation, as its first run caught up with
    # the past): the tick reports the monitor stale, once.
    created = sdk.monitors.get("scheduled").created_at
    service.clock = lambda: created + 90 * DAY_MS
    assert service.tick()["stale"] == 1
    assert service.tick()["stale"] == 0
    stale = sdk.events(types="monitor.checked").events[-1].payload
    assert stale["window"] is None and stale["signals"][0]["rule"] == "monitor_stale"
    assert stale["signals"][0]["active"] and stale["signals"][0]["severity"] == "critical"
    assert sdk.monitors.get("scheduled").stale
    # Running again catches up and the monitor is no longer stale at the next tick.
    service.run_monitor("scheduled", actor="test")
    assert service.tick()["stale"] == 1
    assert sdk.events(types="monitor.checked").events[-1].payload["signals"][0]["active"] is False


def test_a_monitor_that_fails_keeps_its_error_and_its_staleness_is_alerted_on(
    housing: tuple[Client, np.ndarray], request: pytest.FixtureRequest
) -> None:
    from plimsoll.monitoring import store

    sdk, stamps = housing
    platform = sdk.platform or request.getfixturevalue("platform")  # embedded, or the server's
    service = platform.service("monitoring")
    first = int(stamps.min())
    monitor = sdk.monitors.create(
        "fragile", "housing@production", REFERENCE, features=FEATURES, every="30d", start=first
    )
    # The reference's profile goes missing from the blob store (a disk lost, a bucket emptied).
    with platform.db.read() as conn:
        row = store.monitor_by_id(conn, monitor.id)
    Path(service.blobs.readable_at(row["profile_digest"])[1]).unlink()
    service.__dict__.pop("_profiles", None)  # this process had read it already
    service.clock = lambda: first + 65 * DAY_MS
    with pytest.raises(Exception) as raised:
        service.run_monitor("fragile", actor="test")
    failed = sdk.monitors.get("fragile")
    assert failed.last_error and failed.last_window_end == monitor.last_window_end
    assert str(raised.value)[:40] in failed.last_error
    # Two periods later without a window, the tick says so: the signal carries the last error.
    service.clock = lambda: failed.created_at + 90 * DAY_MS
    assert service.tick()["stale"] == 1
    stale = sdk.events(types="monitor.checked").events[-1].payload["signals"][0]
    assert stale["rule"] == "monitor_stale" and stale["active"]
    assert "The last run failed" in stale["annotations"]["description"]

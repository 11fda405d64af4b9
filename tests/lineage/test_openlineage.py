"""OpenLineage: a run's events (START, then COMPLETE, FAIL or ABORT) with the dataset versions it
used and produced hold against the spec's own JSON schemas (tests/fixtures/openlineage, offline:
every `$ref` resolves there); the export pages through a project's runs, the same embedded, over
HTTP and from the CLI; and the `openlineage` consumer posts the events with the client's HTTP
transport to a receiver on loopback, again after a failure, parked (and replayable) when it keeps
failing, and not at all when no receiver is configured. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from typer.testing import CliRunner

from plimsoll.cli import _output
from plimsoll.cli.main import app
from plimsoll.core.config import OpenLineageSettings, Settings
from plimsoll.core.errors import Conflict, InvalidParameter, NotFound
from plimsoll.core.ids import short_id
from plimsoll.core.outbox import Backoff, ConsumerRunner
from plimsoll.lineage.openlineage import namespace_of
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "openlineage"
P = "default"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z: runs get fixed times, so events are comparable
RUN_EVENTS = ("run.created", "run.ended", "run.resumed")


# -- the spec -----------------------------------------------------------------------------------------


def _load_spec() -> tuple[dict[str, Any], list[dict[str, Any]], Registry]:
    spec = json.loads((FIXTURES / "OpenLineage.json").read_text())
    facets = [json.loads(path.read_text()) for path in sorted((FIXTURES / "facets").glob("*.json"))]
    # Only these resources, and no `retrieve`: a `$ref` to anything else fails instead of fetching.
    registry: Registry = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in [spec, *facets]
    )
    return spec, facets, registry


SPEC, FACET_SCHEMAS, REGISTRY = _load_spec()


def _problems(schema: dict[str, Any], document: Any) -> list[str]:
    validator = Draft202012Validator(
        schema, registry=REGISTRY, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator.iter_errors(document)
    ]


def check_event(event: dict[str, Any]) -> None:
    """`event` holds against OpenLineage.json, and each facet against its own facet schema, whose
    `$id` is the facet's `_schemaURL` (OpenLineage.json alone checks only a facet's base fields)."""
    assert _problems(SPEC, event) == []
    facet_maps = [event["run"].get("facets", {}), event["job"].get("facets", {})]
    for dataset in [*event.get("inputs", []), *event.get("outputs", [])]:
        facet_maps += [
            dataset.get("facets", {}),
            dataset.get("inputFacets", {}),
            dataset.get("outputFacets", {}),
        ]
    for facets in facet_maps:
        for key, facet in facets.items():
            schema = next((s for s in FACET_SCHEMAS if key in s.get("properties", {})), None)
            assert schema is not None, f"facet {key!r} has no schema in {FIXTURES}: copy it from the spec"
            assert facet["_schemaURL"].partition("#")[0] == schema["$id"]
            assert _problems(schema, {key: facet}) == []


def test_the_checks_check_something() -> None:
    """Formats are checked (the `uri` one needs rfc3986-validator), and a bad event is caught."""
    assert {"uri", "uuid", "date-time"} <= set(Draft202012Validator.FORMAT_CHECKER.checkers)
    event = {
        "eventType": "START",
        "eventTime": "2026-01-01T00:00:00.000+00:00",
        "producer": "urn:plimsoll:test",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
        "run": {"runId": str(uuid.uuid4())},
        "job": {"namespace": "plimsoll://local", "name": "default/x"},
    }
    check_event(event)
    assert _problems(SPEC, {**event, "eventTime": "yesterday"})
    assert _problems(SPEC, {**event, "run": {"runId": "01a24f1316b17fd08af8f64f369daea8"}})
    assert _problems(SPEC, {**event, "eventType": "DONE"})
    schema = next(s for s in FACET_SCHEMAS if "schema" in s["properties"])
    facet = {"_producer": "urn:plimsoll:test", "_schemaURL": schema["$id"], "fields": [{"type": "int64"}]}
    assert _problems(schema, {"schema": facet})  # a field without its name


# -- the runs -----------------------------------------------------------------------------------------


def seed(platform: Platform, tmp_path: Path) -> dict[str, str]:
    """Four runs of experiment `churn`: `done` read raw@1 (training) and notes@1 (validation) and
    produced scores@1, and finished; `failed` read raw@1 and failed; `killed` was killed;
    `running` still runs. By run name, their ids."""
    tracking, data = platform.tracking, platform.data
    experiment = tracking.create_experiment("churn", project=P, actor="tester")
    runs = {
        name: tracking.create_run(experiment.id, name=name, start_time=T0 + 1000 * index, actor="tester").id
        for index, name in enumerate(("done", "failed", "killed", "running"))
    }
    pd.DataFrame({"tenure": [3, 40, 7], "plan": ["a", "b", "a"]}).to_parquet(tmp_path / "raw.parquet")
    (tmp_path / "notes.txt").write_text("collected by hand\n")
    pd.DataFrame({"score": [0.8, 0.1, 0.5]}).to_parquet(tmp_path / "scores.parquet")
    data.register("raw", tmp_path / "raw.parquet", description="the raw export", actor="tester")
    data.register("notes", tmp_path / "notes.txt", actor="tester")
    data.link_run(runs["done"], "raw@1", direction="input", context="training", actor="tester")
    data.link_run(runs["done"], "notes@1", direction="input", context="validation", actor="tester")
    data.register("scores", tmp_path / "scores.parquet", run_id=runs["done"], actor="tester")
    data.link_run(runs["failed"], "raw@1", direction="input", context="training", actor="tester")
    for index, (name, status) in enumerate(
        (("done", "FINISHED"), ("failed", "FAILED"), ("killed", "KILLED"))
    ):
        tracking.end_run(runs[name], status, end_time=T0 + 60_000 + index, actor="tester")
    return runs


def iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def by_run(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for event in events:
        found.setdefault(event["run"]["runId"], []).append(event)
    return found


def ol_id(run_id: str) -> str:
    return str(uuid.UUID(run_id))


def test_a_runs_events_hold_against_the_spec(platform: Platform, tmp_path: Path) -> None:
    runs = seed(platform, tmp_path)
    events = platform.lineage.openlineage_events(P).events
    for event in events:
        check_event(event)
    told = by_run(events)
    assert list(told) == [ol_id(runs[name]) for name in ("done", "failed", "killed", "running")]
    states = {name: [e["eventType"] for e in told[ol_id(run_id)]] for name, run_id in runs.items()}
    assert states == {
        "done": ["START", "COMPLETE"],
        "failed": ["START", "FAIL"],
        "killed": ["START", "ABORT"],
        "running": ["START"],
    }
    start, complete = told[ol_id(runs["done"])]
    assert (start["eventTime"], complete["eventTime"]) == (iso(T0), iso(T0 + 60_000))
    assert start["job"]["namespace"] == "plimsoll://local" and start["job"]["name"] == "default/churn"
    assert start["job"]["facets"]["jobType"]["integration"] == "PLIMSOLL"
    tags = {tag["key"]: tag["value"] for tag in start["run"]["facets"]["tags"]["tags"]}
    assert tags["plimsoll.run_id"] == runs["done"] and tags["plimsoll.run_name"] == "done"
    assert uuid.UUID(start["run"]["runId"]).hex == runs["done"]  # it leads back to the run

    # Both events carry what the graph holds: the inputs by name, the outputs with what was written.
    for event in (start, complete):
        assert [(d["namespace"], d["name"]) for d in event["inputs"]] == [
            ("plimsoll://local", "default/notes"),
            ("plimsoll://local", "default/raw"),
        ]
        assert [d["name"] for d in event["outputs"]] == ["default/scores"]
    notes, raw = complete["inputs"]
    assert raw["facets"]["version"]["datasetVersion"] == "1"
    assert [(f["name"], f["type"], f["ordinal_position"]) for f in raw["facets"]["schema"]["fields"]] == [
        ("tenure", "int64", 1),
        ("plan", "large_string", 2),
    ]
    assert raw["facets"]["documentation"]["description"] == "the raw export"
    assert set(notes["facets"]) == {"version"}  # no columns, no description: no facet for them
    written = complete["outputs"][0]["outputFacets"]["outputStatistics"]
    scores = platform.data.get_version("scores", 1)
    assert (written["rowCount"], written["size"], written["fileCount"]) == (3, scores.bytes, 1)
    assert [d["name"] for d in told[ol_id(runs["failed"])][1]["inputs"]] == ["default/raw"]
    assert told[ol_id(runs["killed"])][1]["inputs"] == [] and told[ol_id(runs["killed"])][1]["outputs"] == []

    # A deleted version stays in the events: its node stays in the graph, marked deleted.
    platform.data.delete_version("notes", 1, force=True, actor="tester")
    again = platform.lineage.openlineage_events(P, run_id=runs["done"]).events
    assert [d["name"] for d in again[1]["inputs"]] == ["default/notes", "default/raw"]


def test_the_export_pages_through_the_runs_oldest_first(platform: Platform, tmp_path: Path) -> None:
    runs = seed(platform, tmp_path)
    lineage = platform.lineage
    whole = lineage.openlineage_events(P).events
    paged: list[dict[str, Any]] = []
    token: str | None = None
    pages = 0
    while True:
        page = lineage.openlineage_events(P, page_token=token, page_size=1)
        paged += page.events
        pages += 1
        token = page.next_page_token
        if token is None:
            break
    assert paged == whole and pages in (4, 5)  # the last page may be the empty one that says so
    assert lineage.openlineage_events(P, run_id=runs["failed"]).events == [
        e for e in whole if e["run"]["runId"] == ol_id(runs["failed"])
    ]

    platform.projects.create("other", actor="tester")
    elsewhere = platform.tracking.create_experiment("x", project="other", actor="tester")
    other_run = platform.tracking.create_run(elsewhere.id, actor="tester").id
    with pytest.raises(NotFound, match="not found in project 'default'"):
        lineage.openlineage_events(P, run_id=other_run)
    assert len(lineage.openlineage_events("other").events) == 1
    with pytest.raises(NotFound, match="project 'nowhere'"):
        lineage.openlineage_events("nowhere")
    refusals: list[tuple[Callable[[], object], str]] = [
        (lambda: lineage.openlineage_events(P, run_id=runs["done"], page_token="1"), "page_token"),
        (lambda: lineage.openlineage_events(P, page_token="not-a-token"), "page_token"),
        (lambda: lineage.openlineage_events(P, page_size=0), "page_size"),
        (lambda: lineage.openlineage_events(P, page_size=501), "page_size"),
        (lambda: lineage.openlineage_events(P, run_id="r1"), "run_id"),
    ]
    for call, field in refusals:
        with pytest.raises(InvalidParameter) as refused:
            call()
        assert refused.value.field == field


def cli(*args: str) -> Any:
    _output.console.width = 200
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    assert "Traceback" not in result.output, result.output
    return result


def test_the_cli_exports_the_same_embedded_and_over_http(
    platform: Platform,
    live_server: LiveServer,
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("PLIMSOLL_URL", "PLIMSOLL_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    runs = seed(platform, tmp_path)
    expected = platform.lineage.openlineage_events(P).events
    over_http = cli("lineage", "export", "--openlineage", "--url", live_server.url)
    assert over_http.exit_code == 0, over_http.output
    assert [orjson.loads(line) for line in over_http.stdout.splitlines()] == expected

    target = tmp_path / "out" / "lineage.jsonl"
    target.parent.mkdir()
    monkeypatch.setenv("PLIMSOLL_HOME", str(tmp_path / "home"))
    embedded = cli("lineage", "export", "--openlineage", "--url", database_url, "--output", str(target))
    assert embedded.exit_code == 0, embedded.output
    assert [orjson.loads(line) for line in target.read_text().splitlines()] == expected
    assert "Wrote 7 OpenLineage events" in embedded.stderr
    assert [p.name for p in target.parent.iterdir()] == ["lineage.jsonl"]  # no partial file left

    one = cli("lineage", "export", "--openlineage", "--run", short_id(runs["done"]), "--url", live_server.url)
    assert one.exit_code == 0, one.output
    assert [orjson.loads(line)["eventType"] for line in one.stdout.splitlines()] == ["START", "COMPLETE"]

    no_format = cli("lineage", "export", "--url", live_server.url)
    assert no_format.exit_code == _output.EXIT_USAGE and "--openlineage" in no_format.stderr
    unknown = cli("lineage", "export", "--openlineage", "--run", "ffffffff", "--url", live_server.url)
    assert unknown.exit_code == _output.EXIT_NOT_FOUND
    unwritable = cli(
        "lineage",
        "export",
        "--openlineage",
        "--output",
        str(tmp_path / "missing" / "x.jsonl"),
        "--url",
        live_server.url,
    )
    assert unwritable.exit_code == _output.EXIT_USAGE and "--output: cannot write" in unwritable.stderr


# -- posting ------------------------------------------------------------------------------------------


class Receiver:
    """A Marquez-style `POST /api/v1/lineage` on 127.0.0.1: keeps each request, answers `fail_with`
    (e.g. 503) while `failures` is above 0, then 201."""

    def __init__(self, *, failures: int = 0, fail_with: int = 503) -> None:
        self.requests: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.failures, self.fail_with = failures, fail_with
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                with receiver.lock:
                    receiver.requests.append((self.path, dict(self.headers), body))
                    failing = receiver.failures > 0
                    receiver.failures -= failing
                self.send_response(receiver.fail_with if failing else 201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})
        self.thread.start()

    def bodies(self) -> list[dict[str, Any]]:
        with self.lock:
            return [body for _, _, body in self.requests]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver(failures=1)
    try:
        yield server
    finally:
        server.stop()


def wait_for(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def posting_platform(database_url: str, tmp_path: Path, receiver: Receiver) -> Iterator[Platform]:
    settings = OpenLineageSettings(url=receiver.url, api_key="s3cret", namespace="plimsoll://test")
    instance = Platform(
        store_url=database_url, blobs_url=str(tmp_path / "blobs"), openlineage=settings
    ).startup()
    try:
        yield instance
    finally:
        instance.close()


def test_the_consumer_posts_each_runs_events_to_the_receiver(
    posting_platform: Platform, receiver: Receiver, tmp_path: Path
) -> None:
    platform = posting_platform
    background = platform.start_background(threads=1)
    try:
        tracking = platform.tracking
        experiment = tracking.create_experiment("churn", project=P, actor="tester")
        run = tracking.create_run(experiment.id, name="posted", start_time=T0, actor="tester").id
        pd.DataFrame({"tenure": [3, 40]}).to_parquet(tmp_path / "raw.parquet")
        platform.data.register("raw", tmp_path / "raw.parquet", actor="tester")
        platform.data.link_run(run, "raw@1", direction="input", context="training", actor="tester")
        tracking.end_run(run, "FINISHED", end_time=T0 + 5000, actor="tester")
        wait_for(lambda: len(receiver.bodies()) >= 3, "START (refused once, then taken) and COMPLETE")
        tracking.resume_run(run, actor="tester")
        tracking.end_run(run, "FAILED", end_time=T0 + 9000, actor="tester")
        wait_for(lambda: len(receiver.bodies()) >= 5, "RUNNING and FAIL after the resumption")
    finally:
        background.stop()
    requests = receiver.requests
    assert [body["eventType"] for _, _, body in requests] == ["START", "START", "COMPLETE", "RUNNING", "FAIL"]
    for path, headers, body in requests:
        assert path == "/api/v1/lineage"
        assert headers["Authorization"] == "Bearer s3cret"
        assert headers["Content-Type"] == "application/json"
        check_event(body)
        assert body["run"]["runId"] == ol_id(run)
        assert body["job"] == {**body["job"], "namespace": "plimsoll://test", "name": "default/churn"}
    # The refused event, posted again: the same run, state and time; its inputs and outputs are
    # what the graph holds when it is posted (the input may have been logged in between).
    same = ("eventType", "eventTime", "run", "job", "producer")
    assert [requests[0][2][key] for key in same] == [requests[1][2][key] for key in same]
    complete = requests[2][2]
    assert complete["eventTime"] == iso(T0 + 5000)
    assert [(d["namespace"], d["name"]) for d in complete["inputs"]] == [("plimsoll://test", "default/raw")]
    assert complete["inputs"][0]["facets"]["schema"]["fields"][0]["name"] == "tenure"
    assert requests[4][2]["eventTime"] == iso(T0 + 9000)
    assert platform.outbox.parked("openlineage") == []


def test_a_receiver_that_keeps_failing_parks_the_event_until_replayed(
    posting_platform: Platform, receiver: Receiver
) -> None:
    platform = posting_platform
    receiver.failures, receiver.fail_with = 1_000, 500
    # The platform's own handler under a runner that gives up quickly (the descriptor's backoff
    # waits half an hour), as a consumer of another name: the outbox's parking, for real.
    runner = ConsumerRunner(platform.outbox, poll_interval=0.05)
    runner.add_work(
        "openlineage-parking",
        platform.lineage.emit_openlineage,
        types=RUN_EVENTS,
        backoff=Backoff(initial_ms=10, factor=2.0, max_ms=50, max_attempts=3),
    )
    runner.start()
    try:
        experiment = platform.tracking.create_experiment("churn", project=P, actor="tester")
        run = platform.tracking.create_run(experiment.id, actor="tester").id
        wait_for(lambda: bool(platform.outbox.parked("openlineage-parking")), "the START event to be parked")
        (parked,) = platform.outbox.parked("openlineage-parking")
        assert parked.attempts == 3
        assert f"the OpenLineage receiver at {receiver.url}/api/v1/lineage answered 500" in parked.last_error
        assert len(receiver.bodies()) == 3
        receiver.failures = 0
        assert platform.outbox.replay("openlineage-parking") == 1
        wait_for(lambda: not platform.outbox.parked("openlineage-parking"), "the replay")
    finally:
        runner.stop()
    assert receiver.bodies()[-1]["eventType"] == "START" and receiver.bodies()[-1]["run"]["runId"] == ol_id(
        run
    )


def test_without_a_receiver_the_consumer_passes_every_event_over(platform: Platform) -> None:
    background = platform.start_background(threads=1)
    try:
        experiment = platform.tracking.create_experiment("churn", project=P, actor="tester")
        run = platform.tracking.create_run(experiment.id, actor="tester").id
        platform.tracking.end_run(run, "FINISHED", actor="tester")
        head = platform.outbox.head().position

        def passed() -> bool:
            state = platform.outbox.consumer("openlineage")
            return state is not None and state.cursor.position >= head

        wait_for(passed, "the openlineage consumer to pass the run's events")
    finally:
        background.stop()
    assert platform.outbox.parked("openlineage") == []


# -- settings, and the extra ----------------------------------------------------------------------------


def test_the_settings_are_read_and_checked(tmp_path: Path) -> None:
    assert Settings.from_env({}).openlineage == OpenLineageSettings()
    key_file = tmp_path / "key"
    key_file.write_text("from-a-file\n")
    read = Settings.from_env(
        {
            "PLIMSOLL_OPENLINEAGE_URL": "https://marquez.example.com:5000",
            "PLIMSOLL_OPENLINEAGE_ENDPOINT": "/api/v2/lineage/",
            "PLIMSOLL_OPENLINEAGE_API_KEY_FILE": str(key_file),
            "PLIMSOLL_OPENLINEAGE_NAMESPACE": "plimsoll://prod",
        }
    ).openlineage
    assert read == OpenLineageSettings(
        "https://marquez.example.com:5000", "api/v2/lineage", "from-a-file", "plimsoll://prod"
    )
    for name, value in (
        ("PLIMSOLL_OPENLINEAGE_URL", "marquez:5000"),
        ("PLIMSOLL_OPENLINEAGE_URL", "ftp://marquez"),
        ("PLIMSOLL_OPENLINEAGE_API_KEY_FILE", str(tmp_path / "missing")),
        ("PLIMSOLL_OPENLINEAGE_NAMESPACE", " padded "),
    ):
        with pytest.raises(InvalidParameter) as refused:
            Settings.from_env({name: value})
        assert refused.value.field == name
    assert namespace_of(None, "https://plimsoll.example.com/base") == "plimsoll://plimsoll.example.com"
    assert namespace_of("mine", "https://plimsoll.example.com") == "mine"
    assert namespace_of(None, None) == "plimsoll://local"


def test_without_the_extra_each_use_says_what_to_install(
    sqlite_platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "openlineage", None)  # as if openlineage-python were not installed
    with pytest.raises(Conflict, match=r"pip install 'plimsoll\[openlineage\]'"):
        sqlite_platform.lineage.openlineage_events(P)
    settings = OpenLineageSettings(url="http://127.0.0.1:9")
    with pytest.raises(
        InvalidParameter, match=r"is set, but .* pip install 'plimsoll\[openlineage\]'"
    ) as refused:
        Platform(home=tmp_path / "other", openlineage=settings)
    assert refused.value.field == "PLIMSOLL_OPENLINEAGE_URL"
    monkeypatch.delenv("PLIMSOLL_URL", raising=False)
    monkeypatch.setenv("PLIMSOLL_HOME", str(tmp_path / "home"))
    exported = cli("lineage", "export", "--openlineage")
    assert exported.exit_code == _output.EXIT_CONFLICT
    assert "pip install 'plimsoll[openlineage]'" in exported.stderr

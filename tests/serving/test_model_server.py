"""The model server on a real HTTP server (uvicorn on 127.0.0.1), serving real scikit-learn
versions registered through the SDK and loaded through the registry: every request format, every
bad input refused naming its field, sticky and weighted routing, routing switches under load with
no failed request, a version that fails to load (the last good routing kept, readiness says
so), predictions and shadows logged with deployment and role and read back from monitoring,
feedback joined by prediction id, /metrics, and the blob store down while logging."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import cache
from typing import Any

import httpx
import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pytest
import uvicorn
from prometheus_client.parser import text_string_to_metric_families

from plimsoll.client import Client
from plimsoll.core.config import Settings
from plimsoll.core.errors import Unavailable
from plimsoll.serving.app import Options, Replica, build_app
from plimsoll.serving.entities import Routing, TrafficStats, shadow_id
from plimsoll.serving.protocol import ARROW_STREAM, Limits

FEATURES = ["f0", "f1", "f2", "f3"]


def data(rows: int, seed: int = 0) -> pd.DataFrame:
    return pd.DataFrame(np.random.default_rng(seed).normal(size=(rows, 4)), columns=FEATURES)


@cache
def trained(target: str) -> Any:
    from sklearn.linear_model import LogisticRegression

    frame = data(400)
    return LogisticRegression().fit(frame, (frame[target] > 0).astype(int))


@pytest.fixture(scope="module")
def sdk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    """An embedded SDK holding churn/1 (answers f0 > 0) and churn/2 (answers f1 > 0)."""
    home = tmp_path_factory.mktemp("serving")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(home / "cache"))
        patch.setenv("PLIMSOLL_SPOOL_DIR", str(home / "spool"))
        client = Client(settings=Settings(home=home / "home"), flush_interval=0.05)
        for target in ("f0", "f1"):
            with client.start_run(experiment="churn", capture=False) as run:
                run.log_model(trained(target), "model", input_example=data(3, 1), register_as="churn")
        try:
            yield client
        finally:
            client.close()


class Source:
    """A deployment's routing as a test moves it."""

    def __init__(self, deployment: str, **given: Any) -> None:
        fields = {"stable": 1, "canary": None, "canary_weight": 0.0, "shadow": None, "sticky_key": None}
        self.routing = Routing("default", deployment, "churn", revision=1, **{**fields, **given})
        self.fail = False

    def __call__(self) -> Routing:
        if self.fail:
            raise ConnectionError("the deployments service is down")
        return self.routing

    def move(self, **changes: Any) -> None:
        self.routing = replace(self.routing, revision=self.routing.revision + 1, **changes)


class Loader:
    def __init__(self, sdk: Client, broken: set[int] | None = None) -> None:
        self.sdk, self.broken, self.loads = sdk, broken or set(), []

    def __call__(self, version: int) -> Any:
        self.loads.append(version)
        if version in self.broken:
            raise RuntimeError(f"churn/{version}: its file is corrupted")
        return self.sdk.registry.load(f"churn/{version}")


class Served:
    """The app on a real uvicorn server in a thread (its lifespan on), stopped after."""

    def __init__(self, app: Any) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "the server did not start"
            time.sleep(0.01)
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
        self.replica: Replica = app.state.replica

    def ready(self, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            answer = self.http.get("/readyz")
            if answer.status_code == 200 or time.monotonic() > deadline:
                return dict(answer.json())
            time.sleep(0.05)

    def stop(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(timeout=15)


@contextmanager
def serving(sdk: Client, source: Source, loader: Loader | None = None, **options: Any) -> Iterator[Served]:
    reports: list[TrafficStats] = []
    app = build_app(
        source,
        loader or Loader(sdk),
        sdk.monitoring,
        options=Options(poll_interval=0.05, report_interval=0.2, **options),
        report=reports.extend,
    )
    served = Served(app)
    served.reports = reports  # type: ignore[attr-defined]
    try:
        yield served
    finally:
        served.stop()


def invoke(served: Served, body: Any, **headers: str) -> httpx.Response:
    return served.http.post(
        "/invocations", content=orjson.dumps(body), headers={"content-type": "application/json", **headers}
    )


def logged(sdk: Client, deployment: str, role: str = "") -> pd.DataFrame:
    sdk.monitoring.flush(30)
    where = {"deployment": deployment, **({"role": role} if role else {})}
    return sdk.monitoring.read("predictions", model="churn", **where).to_pandas()


def arrow(frame: pd.DataFrame) -> bytes:
    sink = pa.BufferOutputStream()
    table = pa.Table.from_pandas(frame, preserve_index=False)
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def test_every_format_answered_with_ids_logged_and_feedback_joined(sdk: Client) -> None:
    frame = data(5, 7)
    expected = trained("f0").predict(frame).tolist()
    proba = trained("f0").predict_proba(frame)[:, 1]
    records = frame.to_dict(orient="records")
    bodies = [
        {"dataframe_split": orjson.loads(frame.to_json(orient="split", index=False))},
        {"dataframe_records": records},
        {"instances": records},
        {"instances": frame.to_numpy().tolist()},  # rows by position, named after the signature
        {"inputs": {name: frame[name].tolist() for name in FEATURES}},
    ]
    with serving(sdk, Source("formats")) as served:
        assert served.ready()["versions"] == {"1": "loaded"}
        ids: list[str] = []
        for body in bodies:
            answer = invoke(served, body)
            assert answer.status_code == 200, answer.text
            found = answer.json()
            assert found["predictions"] == expected and found["scores"] == pytest.approx(proba)
            assert (
                answer.headers["x-plimsoll-version"] == "1" and answer.headers["x-plimsoll-role"] == "stable"
            )
            ids += found["prediction_ids"]
        columns = [{"name": n, "shape": [5], "datatype": "FP64", "data": frame[n].tolist()} for n in FEATURES]
        oip = served.http.post("/v2/models/churn/infer", json={"id": "r-1", "inputs": columns}).json()
        assert oip["model_name"] == "churn" and oip["model_version"] == "1" and oip["id"] == "r-1"
        assert oip["outputs"][0]["data"] == expected and oip["outputs"][1]["shape"] == [5]
        ids += oip["parameters"]["prediction_ids"]
        tensor = {
            "inputs": [
                {"name": "x", "shape": [5, 4], "datatype": "FP64", "data": frame.to_numpy().ravel().tolist()}
            ]
        }
        answer = served.http.post("/v2/models/formats/infer", json=tensor).json()  # by deployment too
        assert answer["outputs"][0]["data"] == expected
        ids += answer["parameters"]["prediction_ids"]
        answer = served.http.post(
            "/invocations", content=arrow(frame), headers={"content-type": ARROW_STREAM}
        )
        assert answer.status_code == 200 and answer.json()["predictions"] == expected
        ids += answer.json()["prediction_ids"]
        assert len(ids) == len(set(ids)) == 40
        metadata = served.http.get("/v2/models/churn").json()
        assert [i["name"] for i in metadata["inputs"]] == FEATURES and metadata["versions"] == ["1"]
        assert served.http.get("/v2/health/live").json() == {"live": True}
        assert served.http.get("/v2/health/ready").status_code == 200

        feedback = served.http.post(
            "/feedback", json={"ids": ids[:5], "labels": expected, "outcomes": {"revenue": [1.0] * 5}}
        )
        assert feedback.status_code == 202 and feedback.json() == {"accepted": 5}
        refused = served.http.post("/feedback", json={"ids": ids[:5], "labels": [1]})
        assert refused.status_code == 422 and refused.json()["error"]["details"]["field"] == "labels"

    rows = logged(sdk, "formats")
    assert sorted(rows["__id"]) == sorted(ids)
    assert {
        (s.version, s.deployment, s.role)
        for s in sdk.monitoring.segments("predictions", deployment="formats")
    } == {(1, "formats", "stable")}
    first = rows.set_index("__id").loc[ids[:5]]
    assert first["__prediction"].tolist() == expected and first["f2"].tolist() == pytest.approx(
        frame.f2.tolist()
    )
    assert first["__score"].tolist() == pytest.approx(proba)
    labels = sdk.monitoring.read("labels", model="churn").to_pandas()
    assert set(ids[:5]) <= set(labels["__id"])
    assert set(ids[:5]) <= set(sdk.monitoring.read("outcomes").to_pandas()["__id"])


def test_bad_input_refused_naming_the_field(sdk: Client) -> None:
    good = data(2).to_dict(orient="records")
    with serving(sdk, Source("bad"), limits=Limits(max_rows=50, max_body_bytes=20_000)) as served:
        served.ready()
        answer = served.http.post(
            "/invocations", content=b'{"dataframe_records": [', headers={"content-type": "application/json"}
        )
        assert answer.status_code == 400 and answer.json()["error"]["details"]["field"] == "body"
        cases = [
            ([{**good[0], "f0": "high"}], "input.f0"),
            ([{k: v for k, v in good[0].items() if k != "f3"}], "input.f3"),
            ([{**good[0], "extra": 1.0}], "input.extra"),
            ([{**good[0], "f1": None}], "input.f1"),
            ([{**good[0], "f2": True}], "input.f2"),
        ]
        for rows, field in cases:
            answer = invoke(served, {"dataframe_records": rows})
            assert answer.status_code == 422, (field, answer.text)
            error = answer.json()["error"]
            assert error["details"]["field"] == field and field.split(".")[1] in error["message"]
            assert "Traceback" not in answer.text
        answer = invoke(served, {"instances": [[0.1, 0.2, 0.3]]})
        assert answer.status_code == 422 and "takes 4 columns" in answer.json()["error"]["message"]
        answer = invoke(served, {"dataframe_records": good * 30})
        assert answer.status_code == 413 and answer.json()["error"]["details"]["limit"] == 50
        big = {"dataframe_records": [{**good[0], "f0": 1.0 + i / 7} for i in range(40)] * 1}
        big["dataframe_records"][0]["pad"] = "x" * 25_000
        answer = invoke(served, big)
        assert answer.status_code == 413 and answer.json()["error"]["details"]["limit"] == 20_000
        tensor = {"inputs": [{"name": "f0", "shape": [1], "datatype": "FLOAT", "data": [1.0]}]}
        answer = served.http.post("/v2/models/churn/infer", json=tensor)
        assert (
            answer.status_code == 422 and answer.json()["error"]["details"]["field"] == "inputs[0].datatype"
        )
        assert served.http.post("/v2/models/other/infer", json=tensor).status_code == 404
        refused = served.replica.metrics.snapshot()[(1, "stable")]  # type: ignore[union-attr]
        assert refused["refused"] == 6 and refused["requests"] == 6 and refused["errors"] == 0
    assert logged(sdk, "bad").empty if sdk.monitoring.segments("predictions", deployment="bad") else True


def test_sticky_keys_and_weights_switched_under_load_without_a_failure(sdk: Client) -> None:
    source = Source("sticky", canary=2, canary_weight=50.0, sticky_key="customer")
    row = data(1, 3).to_dict(orient="records")[0]
    with serving(sdk, source) as served:
        assert served.ready()["versions"] == {"1": "loaded", "2": "loaded"}
        # The same key lands on the same version every time, from the header or the sticky field.
        for key in ("alice", "bob", "carol"):
            by_header = {
                invoke(served, {"dataframe_records": [row]}, **{"x-plimsoll-key": key}).headers[
                    "x-plimsoll-version"
                ]
                for _ in range(5)
            }
            by_field = {
                invoke(served, {"dataframe_records": [{**row, "customer": key}]}).headers[
                    "x-plimsoll-version"
                ]
                for _ in range(5)
            }
            assert len(by_header) == 1 and by_field == by_header
        seen = {
            invoke(served, {"dataframe_records": [row]}, **{"x-plimsoll-key": f"k{i}"}).headers[
                "x-plimsoll-version"
            ]
            for i in range(40)
        }
        assert seen == {"1", "2"}

        # Weights and versions move while requests run: none fails.
        failures: list[str] = []
        versions: list[str] = []
        stop = threading.Event()

        def traffic() -> None:
            with httpx.Client(base_url=str(served.http.base_url), timeout=30) as http:
                while not stop.is_set():
                    answer = http.post("/invocations", json={"dataframe_records": [row]})
                    if answer.status_code != 200:
                        failures.append(answer.text)
                    versions.append(answer.headers.get("x-plimsoll-version", "?"))

        workers = [threading.Thread(target=traffic) for _ in range(3)]
        for worker in workers:
            worker.start()
        for weight in (0.0, 25.0, 100.0, 10.0, 100.0):
            source.move(canary_weight=weight)
            time.sleep(0.3)
        source.move(stable=2, canary=None, canary_weight=0.0)  # promoted: churn/1 is dropped
        deadline = time.monotonic() + 10
        while served.replica.served.routing.revision != source.routing.revision:  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        mark = len(versions)
        time.sleep(0.3)
        stop.set()
        for worker in workers:
            worker.join()
        assert failures == [] and len(versions) > 50
        assert set(versions[mark + 6 :]) == {"2"}  # after the switch (a few were in flight)
        assert served.replica.served.versions.keys() == {2}  # type: ignore[union-attr]


def test_a_version_that_fails_to_load_leaves_the_last_good_routing(sdk: Client) -> None:
    source = Source("faulty")
    failures: list[tuple[int, str]] = []
    app = build_app(
        source,
        Loader(sdk, broken={2}),
        sdk.monitoring,
        options=Options(poll_interval=0.05, retry_interval=0.2),
        on_load_failed=lambda version, message: failures.append((version, message)),
    )
    served = Served(app)
    try:
        served.ready()
        row = data(1).to_dict(orient="records")
        source.move(canary=2, canary_weight=100.0)
        deadline = time.monotonic() + 10
        while not served.replica.load_failed:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for _ in range(10):
            answer = invoke(served, {"dataframe_records": row})
            assert answer.status_code == 200 and answer.headers["x-plimsoll-version"] == "1"
        readiness = served.http.get("/readyz")
        found = readiness.json()
        assert readiness.status_code == 200 and found["revision"] == 1 and found["wanted_revision"] == 2
        assert "corrupted" in found["load_failed"]["2"] and "serving revision 1" in found["message"]
        time.sleep(0.5)
        assert failures[0][0] == 2 and len(failures) >= 2  # retried after retry_interval, said each time
        metrics = served.http.get("/metrics").text
        assert 'plimsoll_serving_load_failed_versions{deployment="faulty"} 1' in metrics
        source.fail = True  # the source itself down: still serving
        assert invoke(served, {"dataframe_records": row}).status_code == 200
        source.fail = False
        source.move(canary=None, canary_weight=0.0)
        deadline = time.monotonic() + 10
        while served.http.get("/readyz").json().get("load_failed"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert served.http.get("/readyz").json()["revision"] == 3
    finally:
        served.stop()

    # Nothing loadable at start: not ready, and every request a clear 503.
    with serving(sdk, Source("broken"), Loader(sdk, broken={1})) as served:
        deadline = time.monotonic() + 10
        while not served.replica.load_failed:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        readiness = served.http.get("/readyz")
        assert readiness.status_code == 503 and "nothing to serve" in readiness.json()["message"]
        assert invoke(served, {"instances": [[0.0] * 4]}).status_code == 503
        assert served.http.get("/healthz").status_code == 200


def test_the_shadow_is_logged_and_never_returned(sdk: Client) -> None:
    frame = data(20, 11)
    with serving(sdk, Source("shadowed", shadow=2)) as served:
        served.ready()
        answers = [invoke(served, {"dataframe_records": [row]}) for row in frame.to_dict(orient="records")]
        assert {a.headers["x-plimsoll-version"] for a in answers} == {"1"}
        answered = [a.json()["predictions"][0] for a in answers]
        assert answered == trained("f0").predict(frame).tolist()
        ids = [a.json()["prediction_ids"][0] for a in answers]
        deadline = time.monotonic() + 10
        while served.replica.metrics.snapshot().get((2, "shadow"), {}).get("requests", 0) < 20:  # type: ignore[union-attr]
            assert time.monotonic() < deadline
            time.sleep(0.05)
    stable = logged(sdk, "shadowed", "stable").set_index("__id").loc[ids]
    shadow = logged(sdk, "shadowed", "shadow").set_index("__id").loc[[shadow_id(i) for i in ids]]
    assert stable["__prediction"].tolist() == answered
    assert shadow["__prediction"].tolist() == trained("f1").predict(frame).tolist() != answered
    assert {
        s.version for s in sdk.monitoring.segments("predictions", deployment="shadowed", role="shadow")
    } == {2}


def test_metrics_and_traffic_reports(sdk: Client) -> None:
    with serving(sdk, Source("observed")) as served:
        served.ready()
        for rows in (1, 3, 5):
            assert invoke(served, {"instances": data(rows).to_numpy().tolist()}).status_code == 200
        invoke(served, {"instances": [[None, 1.0, 1.0, 1.0]]})
        text = served.http.get("/metrics").text
        samples = {
            (s.name, s.labels.get("le"), s.labels.get("class")): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.labels.get("deployment") == "observed"
        }
        assert samples[("plimsoll_serving_requests_total", None, None)] == 4
        assert samples[("plimsoll_serving_refused_total", None, None)] == 1
        assert samples[("plimsoll_serving_rows_total", None, None)] == 9
        assert samples[("plimsoll_serving_latency_ms_bucket", "+Inf", None)] == 4
        assert (
            sum(v for (name, _, c), v in samples.items() if name == "plimsoll_serving_predictions_total") == 9
        )
        assert samples[("plimsoll_serving_ready", None, None)] == 1
        deadline = time.monotonic() + 5
        while sum(s.requests for s in served.reports) < 4:  # type: ignore[attr-defined]
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert {(s.version, s.role) for s in served.reports} == {(1, "stable")}  # type: ignore[attr-defined]


def test_predictions_answered_while_the_blob_store_is_down(
    sdk: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = sdk._transport.platform.blobs  # type: ignore[attr-defined]
    put_bytes = blobs.put_bytes
    down = threading.Event()
    down.set()

    def refusing(data: bytes) -> Any:
        if down.is_set():
            raise Unavailable("the blob store does not answer")
        return put_bytes(data)

    monkeypatch.setattr(blobs, "put_bytes", refusing)
    frame = data(30, 5)
    with serving(sdk, Source("outage")) as served:
        served.ready()
        ids = []
        for row in frame.to_dict(orient="records"):
            answer = invoke(served, {"dataframe_records": [row]})
            assert answer.status_code == 200
            ids += answer.json()["prediction_ids"]
        deadline = time.monotonic() + 10
        while sdk.monitoring.buffered < 30:  # handed to the SDK's buffer, held there
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.3)
        assert sdk.monitoring.buffered >= 30 and sdk.monitoring.dropped == 0 and sdk.monitoring.refused == 0
        assert "plimsoll_serving_log_buffered_rows" in served.http.get("/metrics").text
        down.clear()  # the store is back: the retried batches go through
    rows = logged(sdk, "outage")
    assert sorted(rows["__id"]) == sorted(ids) and sdk.monitoring.dropped == 0


def test_the_cli_routing_follows_an_alias(sdk: Client) -> None:
    from plimsoll.cli.serve import routing_source
    from plimsoll.core.errors import InvalidParameter, NotFound

    sdk.registry.set_alias("churn", "serving", 1)
    source = routing_source(
        sdk, "default", "cli", model="churn@serving", shadow="churn/2", sticky_key="customer"
    )
    first = source()
    assert (first.model, first.stable, first.shadow, first.sticky_key) == ("churn", 1, 2, "customer")
    assert source().revision == first.revision
    sdk.registry.set_alias("churn", "serving", 2)
    assert source().stable == 2 and source().revision != first.revision
    with pytest.raises(NotFound, match="cli"):  # without --model: the deployment's, and there is none
        routing_source(sdk, "default", "cli", model=None)()
    with pytest.raises(InvalidParameter) as caught:
        routing_source(sdk, "default", "cli", model="churn/1", canary="other/1")
    assert caught.value.field == "--canary"

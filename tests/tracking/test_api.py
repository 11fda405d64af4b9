"""The HTTP surface: error shape, validation, limits, ops routes, on a real server over loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        yield client


def _error(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    assert "Traceback" not in response.text
    return body["error"]  # type: ignore[no-any-return]


def test_ops_routes(http: httpx.Client) -> None:
    assert http.get("/healthz").json()["status"] == "ok"
    assert http.get("/readyz").json() == {"status": "ready"}
    http.get("/api/v1/experiments")
    metrics = http.get("/metrics").text
    assert 'plimsoll_http_requests_total{method="GET",route="/api/v1/experiments",status="200"}' in metrics
    spec = http.get("/openapi.json").json()
    assert "/api/v1/runs/ingest" in spec["paths"] and "/api/v1/runs/search" in spec["paths"]


def test_errors_have_one_shape(http: httpx.Client) -> None:
    _error(http.get("/api/v1/runs/" + "0" * 32), 404, "NOT_FOUND")
    _error(http.get("/api/v1/no-such-route"), 404, "NOT_FOUND")
    _error(http.put("/api/v1/experiments"), 405, "METHOD_NOT_ALLOWED")
    error = _error(http.post("/api/v1/experiments", json={"name": 42}), 400, "INVALID_PARAMETER")
    assert error["details"]["field"] == "name"  # type: ignore[index]
    error = _error(http.post("/api/v1/experiments", json={}), 400, "INVALID_PARAMETER")
    assert "name" in str(error["message"])
    _error(
        http.post("/api/v1/experiments", content=b"{not json", headers={"Content-Type": "application/json"}),
        400,
        "INVALID_PARAMETER",
    )


def test_limits_name_the_field_and_keep_what_is_stored(
    http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    import plimsoll.server.app as server_app

    monkeypatch.setattr(server_app, "MAX_JSON_BODY_BYTES", 4 * 1024 * 1024)
    experiment = http.post("/api/v1/experiments", json={"name": "e"}).json()
    run = http.post("/api/v1/runs", json={"experiment_id": experiment["id"], "params": {"keep": "me"}}).json()
    log = f"/api/v1/runs/{run['id']}/log"
    cases = [
        ({"params": {"k": "x" * 6001}}, "params.k", "6000"),
        ({"metrics": [{"key": "m", "value": 1.0}] * 100_001}, "metrics", "100000"),
        ({"metrics": [{"key": "../m", "value": 1.0}]}, "metrics.key", "relative"),
        ({"metrics": [{"key": "m", "value": "lots"}]}, "metrics.m.value", "number"),
        ({"tags": {"t" * 251: "v"}}, "tags", "250"),
    ]
    for body, field, limit in cases:
        error = _error(http.post(log, json=body), 400, "INVALID_PARAMETER")
        assert error["details"]["field"] == field  # type: ignore[index]
        assert limit in str(error["message"])
    _error(http.post(log, json={"params": {"keep": "other"}}), 409, "CONFLICT")
    assert http.get(f"/api/v1/runs/{run['id']}").json()["params"] == {"keep": "me"}
    too_big = http.post(
        log, content=b" " * (4 * 1024 * 1024 + 1), headers={"Content-Type": "application/json"}
    )
    error = _error(too_big, 413, "PAYLOAD_TOO_LARGE")
    assert "limit" in str(error["message"])
    _error(
        http.put(f"/api/v1/runs/{run['id']}/artifacts/..%2Fescape", content=b"x"), 400, "INVALID_PARAMETER"
    )


def test_logging_to_an_ended_run_is_a_conflict(http: httpx.Client) -> None:
    experiment = http.post("/api/v1/experiments", json={"name": "e"}).json()
    run = http.post("/api/v1/runs", json={"experiment_id": experiment["id"]}).json()
    ended = http.post(f"/api/v1/runs/{run['id']}/end", json={"status": "FINISHED"}).json()
    assert ended["status"] == "FINISHED"
    error = _error(
        http.post(f"/api/v1/runs/{run['id']}/log", json={"metrics": [{"key": "m", "value": 1}]}),
        409,
        "CONFLICT",
    )
    assert "ended" in str(error["message"])


def test_an_unexpected_failure_is_a_500_without_internals(
    live_server: LiveServer, http: httpx.Client
) -> None:
    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("secret internal detail")

    tracking = live_server.platform.tracking
    original = tracking.list_experiments
    tracking.list_experiments = explode  # type: ignore[method-assign]
    try:
        error = _error(http.get("/api/v1/experiments"), 500, "INTERNAL")
    finally:
        tracking.list_experiments = original  # type: ignore[method-assign]
    assert "secret internal detail" not in str(error) and "reference" in str(error["message"])


def test_a_chunked_body_over_the_limit_is_refused(
    http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    import plimsoll.server.app as server_app

    monkeypatch.setattr(server_app, "MAX_JSON_BODY_BYTES", 1000)

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        yield b"x" * 5000
        yield b'"}'

    response = http.post(
        "/api/v1/experiments", content=chunks(), headers={"Content-Type": "application/json"}
    )
    _error(response, 413, "PAYLOAD_TOO_LARGE")
    assert http.get("/api/v1/experiments").json()["experiments"] == []


def test_ingest_errors_have_the_same_shape(
    live_server: LiveServer, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK's ingest route is served by the server's fast lane: the same validation, limits,
    error shapes and request metrics as every other route."""
    import plimsoll.server.app as server_app

    experiment = http.post("/api/v1/experiments", json={"name": "e"}).json()
    run_id = "a" * 32
    create = {"run_id": run_id, "create": {"experiment_id": experiment["id"]}, "params": {"keep": "me"}}
    answer = http.post("/api/v1/runs/ingest", json={"batch_id": "b" * 32, "runs": [create]})
    assert answer.status_code == 200 and answer.json()["applied"] is True
    ingest = "/api/v1/runs/ingest"
    cases = [
        ({"runs": [{"run_id": 7}]}, "runs.0.run_id"),
        ({}, "runs"),
        (
            {"runs": [{"run_id": run_id, "metrics": {"keys": ["m"], "values": [1.0], "steps": ["x"]}}]},
            "runs.0",
        ),
        ({"batch_id": "nope", "runs": []}, "batch_id"),
        ({"runs": [{"run_id": run_id, "params": {"k": "x" * 6001}}]}, "params.k"),
    ]
    for body, field in cases:
        error = _error(http.post(ingest, json=body), 400, "INVALID_PARAMETER")
        assert str(error["details"]["field"]).startswith(field), error  # type: ignore[index]
    _error(
        http.post(ingest, content=b"{not json", headers={"Content-Type": "application/json"}),
        400,
        "INVALID_PARAMETER",
    )
    # A body not declared JSON is refused, as FastAPI refuses it: no cross-site "simple" request.
    tagging = orjson.dumps({"runs": [{"run_id": run_id, "tags": {"cross-site": "1"}}]})
    for headers in ({"Content-Type": "text/plain"}, {}):
        _error(http.post(ingest, content=tagging, headers=headers), 400, "INVALID_PARAMETER")
    assert "cross-site" not in http.get(f"/api/v1/runs/{run_id}").json()["tags"]
    _error(http.post(ingest, json={"runs": [{"run_id": "c" * 32, "params": {"a": "1"}}]}), 404, "NOT_FOUND")
    _error(http.post(ingest, json={"runs": [{"run_id": run_id, "params": {"keep": "x"}}]}), 409, "CONFLICT")
    monkeypatch.setattr(server_app, "MAX_JSON_BODY_BYTES", 1000)
    _error(http.post(ingest, content=b" " * 1001), 413, "PAYLOAD_TOO_LARGE")

    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(live_server.platform.tracking, "ingest", explode)
    error = _error(
        http.post(ingest, json={"runs": [{"run_id": run_id, "tags": {"t": "1"}}]}), 500, "INTERNAL"
    )
    assert "secret internal detail" not in str(error)
    monkeypatch.undo()
    assert http.get(f"/api/v1/runs/{run_id}").json()["params"] == {"keep": "me"}
    metrics = http.get("/metrics").text
    assert (
        'plimsoll_http_requests_total{method="POST",route="/api/v1/runs/ingest",status="200"} 1.0' in metrics
    )
    assert 'route="/api/v1/runs/ingest",status="409"' in metrics


def test_the_fast_lane_serves_json_ingest_and_passes_everything_else_on(platform: Platform) -> None:
    """The shape tests above would pass with the lane gone; this one checks that it takes the
    SDK's requests (and only those) without reaching FastAPI behind it."""
    import asyncio
    from functools import partial

    from plimsoll.server.lane import FastLane, LaneRoute
    from plimsoll.tracking.api import IngestBody, apply_ingest

    passed_on: list[str] = []

    async def behind(scope: dict[str, Any], _receive: Any, _send: Any) -> None:
        passed_on.append(f"{scope['method']} {scope['path']}")

    route = LaneRoute("/api/v1/runs/ingest", IngestBody, partial(apply_ingest, platform.tracking))
    lane = FastLane(behind, routes={("POST", route.path): route})
    experiment = platform.tracking.create_experiment("lane", actor="local")
    body = orjson.dumps({"runs": [{"run_id": "d" * 32, "create": {"experiment_id": experiment.id}}]})

    def call(method: str, path: str, content_type: bytes) -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        headers = [(b"content-type", content_type)]
        scope = {"type": "http", "method": method, "path": path, "headers": headers, "state": {}}
        asyncio.run(lane(scope, receive, send))
        return sent

    answered = call("POST", "/api/v1/runs/ingest", b"application/json; charset=utf-8")
    assert answered[0]["status"] == 200 and passed_on == []
    assert platform.tracking.get_run("d" * 32).experiment_id == experiment.id
    assert call("POST", "/api/v1/runs/ingest", b"text/plain") == []
    assert call("POST", "/api/v1/runs/search", b"application/json") == []
    assert passed_on == ["POST /api/v1/runs/ingest", "POST /api/v1/runs/search"]


def test_create_app_wires_the_fast_lane_from_the_routes_declaring_it(platform: Platform) -> None:
    """No path string in app.py: the lane takes what routes declare with `core.http.fast_lane`."""
    from plimsoll.server.app import create_app
    from plimsoll.server.lane import FastLane
    from plimsoll.tracking.api import IngestBody

    app = create_app(platform)
    (lane,) = [middleware for middleware in app.user_middleware if middleware.cls is FastLane]
    routes = lane.kwargs["routes"]
    assert set(routes) == {("POST", "/api/v1/runs/ingest")}
    route = routes["POST", "/api/v1/runs/ingest"]
    assert route.model is IngestBody
    assert route.handler.args == (platform.tracking,)  # bound to the declaring capability's service

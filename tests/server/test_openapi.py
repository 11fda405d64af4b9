"""The OpenAPI document (`server.openapi`): every error response with the error body, the limits
the services enforce, and the answers the document promises (405 with `Allow`, a literal path
its own resource). The fuzzer's view of the same is tests/server/test_openapi_contract.py; these
pin each fix it asked for, on a live server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from plimsoll.core.auth.entities import Role
from plimsoll.core.errors import ERRORS_BY_CODE
from plimsoll.core.ids import ID_PATTERN, is_id
from plimsoll.core.validation import MAX_KEY_LENGTH, NAME_PATTERN
from plimsoll.platform import Platform
from plimsoll.server.app import create_app
from plimsoll.server.testing import LiveServer

pytestmark = pytest.mark.auth_on  # the conftest `platform` (and `live_server`) with auth on

RUN_ID = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def admin(platform: Platform, live_server: LiveServer) -> Iterator[httpx.Client]:
    secret = platform.auth.bootstrap_admin("root").secret
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=live_server.url, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def document(tmp_path: Path) -> Iterator[dict[str, Any]]:
    instance = Platform(home=tmp_path / ".plimsoll", auth=True).startup()
    try:
        yield create_app(instance).openapi()
    finally:
        instance.close()


def _operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def _parameter(operation: dict[str, Any], name: str) -> dict[str, Any]:
    (found,) = [p for p in operation["parameters"] if p["name"] == name]
    schema: dict[str, Any] = found["schema"]
    return schema


def test_every_error_response_carries_the_error_body_and_no_422_is_left(document: dict[str, Any]) -> None:
    error = document["components"]["schemas"]["Error"]
    assert set(error["properties"]["error"]["properties"]["code"]["enum"]) == set(ERRORS_BY_CODE)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for method, path, operation in _operations(document):
        responses = operation["responses"]
        # FastAPI's validation 422 is never sent (a body that does not fit is a 400); a route may
        # declare a 422 of its own (GATE_FAILED), with the error body like every error.
        assert "HTTPValidationError" not in str(responses.get("422", "")), (method, path)
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, status)


def test_the_errors_each_operation_can_give_are_declared(document: dict[str, Any]) -> None:
    paths = document["paths"]
    get_run = paths["/api/v1/runs/{run_id}"]["get"]["responses"]
    assert {"400", "401", "403", "404"} <= set(get_run) and "409" not in get_run
    create = paths["/api/v1/experiments"]["post"]["responses"]
    assert {"400", "401", "403", "404", "409", "413"} <= set(create)
    search = paths["/api/v1/runs/search"]["post"]["responses"]
    assert "409" not in search  # a read, though a POST
    assert set(paths["/healthz"]["get"]["responses"]) == {"200"}
    assert paths["/healthz"]["get"]["security"] == []
    assert paths["/api/v1/whoami"]["get"]["security"] == [{"bearer": []}]
    assert "503" in paths["/readyz"]["get"]["responses"]


def test_limits_are_declared_with_the_constants_the_services_enforce(document: dict[str, Any]) -> None:
    paths, schemas = document["paths"], document["components"]["schemas"]
    assert _parameter(paths["/api/v1/runs/{run_id}"]["get"], "run_id")["pattern"] == ID_PATTERN
    assert _parameter(paths["/api/v1/jobs/{job_id}"]["get"], "job_id")["pattern"] == ID_PATTERN
    assert _parameter(paths["/api/v1/experiments"]["get"], "view")["enum"] == ["active", "deleted", "all"]
    name = schemas["ExperimentCreateBody"]["properties"]["name"]
    assert (name["pattern"], name["maxLength"]) == (NAME_PATTERN, 256)
    tags = schemas["ExperimentCreateBody"]["properties"]["tags"]
    assert tags["propertyNames"]["maxLength"] == MAX_KEY_LENGTH
    assert tags["additionalProperties"]["maxLength"] == 8000
    assert schemas["ProjectCreateBody"]["properties"]["name"]["maxLength"] == 128
    assert schemas["WebhookCreateBody"]["properties"]["name"]["maxLength"] == 128
    events = schemas["WebhookCreateBody"]["properties"]["events"]["items"]["enum"]
    assert "*" in events and "run.*" in events and "run.created" in events
    assert (
        _parameter(paths["/api/v1/events"]["get"], "type")["anyOf"][0]["items"]["enum"][0]
        == events[-len([e for e in events if "*" not in e])]
    )
    assert (
        "application/octet-stream"
        in paths["/api/v1/runs/{run_id}/artifacts/{path}"]["put"]["requestBody"]["content"]
    )
    assert "text/plain" in paths["/metrics"]["get"]["responses"]["200"]["content"]


def test_templates_that_differ_only_in_names_are_one_path(document: dict[str, Any]) -> None:
    shapes = [re.sub(r"\{[^}]+\}", "{}", path) for path in document["paths"]]
    assert len(shapes) == len(set(shapes))
    experiment = document["paths"]["/api/v1/experiments/{experiment_ref}"]
    assert set(experiment) == {"get", "patch", "delete"}
    assert _parameter(experiment["delete"], "experiment_ref")["pattern"] == ID_PATTERN


def test_a_405_names_every_method_of_the_path_in_allow(admin: httpx.Client, platform: Platform) -> None:
    answer = admin.request("OPTIONS", f"/api/v1/runs/{RUN_ID}")
    assert answer.status_code == 405, answer.text
    assert answer.headers["allow"] == "DELETE, GET"
    assert answer.json()["error"]["details"]["allow"] == ["DELETE", "GET"]
    assert admin.request("TRACE", "/healthz").headers["allow"] == "GET"


def test_a_405_carries_allow_with_auth_off_too(sqlite_live_server: LiveServer) -> None:
    answer = httpx.request("PUT", f"{sqlite_live_server.url}/api/v1/runs/{RUN_ID}")
    assert answer.status_code == 405, answer.text
    assert answer.headers["allow"] == "DELETE, GET"  # two routes: the router alone names one


def test_a_literal_path_is_its_own_resource(admin: httpx.Client, tmp_path: Path) -> None:
    auth_off = Platform(home=tmp_path / "off").startup()
    server = LiveServer(auth_off)
    try:
        _literal_paths(admin)
        with httpx.Client(base_url=server.url) as client:
            _literal_paths(client)
    finally:
        server.stop()
        auth_off.close()


def _literal_paths(client: httpx.Client) -> None:
    answer = client.get("/api/v1/runs/ingest")  # not the run with id "ingest"
    assert answer.status_code == 405, answer.text
    assert answer.headers["allow"] == "POST"
    assert client.patch("/api/v1/experiments/ensure", json={"name": "x"}).headers["allow"] == "POST"


def test_an_id_with_a_trailing_newline_is_no_id(admin: httpx.Client) -> None:
    assert not is_id(RUN_ID + "\n")
    experiment = admin.post("/api/v1/experiments", json={"name": "e"}).json()
    answer = admin.post("/api/v1/runs", json={"experiment_id": experiment["id"], "run_id": RUN_ID + "\n"})
    assert answer.status_code == 400 and answer.json()["error"]["details"]["field"] == "run_id", answer.text
    empty = admin.post("/api/v1/runs", json={"experiment_id": experiment["id"], "run_id": ""})
    assert empty.status_code == 400 and empty.json()["error"]["details"]["field"] == "run_id", empty.text


def _field(answer: httpx.Response) -> str:
    assert answer.status_code == 400, answer.text
    field: str = answer.json()["error"]["details"]["field"]
    return field


def test_values_the_database_cannot_hold_are_bad_input(admin: httpx.Client, platform: Platform) -> None:
    tokens = admin.post("/api/v1/users/root/tokens", json={"expires_at": 2**63 + 1})
    assert _field(tokens) == "expires_at"
    hook = {"name": "h" * 129, "url": "https://hooks.example.com/in", "events": ["*"]}
    assert _field(admin.post("/api/v1/webhooks", json=hook)) == "name"
    if not platform.db.is_sqlite:  # PostgreSQL's text holds no NUL; SQLite's does
        assert admin.get("/api/v1/experiments", params={"name": "a\x00b"}).status_code == 400


def test_json_types_are_taken_as_the_document_states_them(admin: httpx.Client, platform: Platform) -> None:
    assert _field(admin.post("/api/v1/users", json={"name": "u", "is_admin": 0})) == "is_admin"
    search = {"experiment_ids": [""], "project": None}
    assert _field(admin.post("/api/v1/runs/search", json=search)) == "experiment_ids"
    assert _field(admin.post("/api/v1/runs/search", json={"max_results": "5"})) == "max_results"
    assert _field(admin.get("/api/v1/experiments", params={"name": "x", "view": ""})) == "view"
    platform.auth.grant("default", "root", Role.ADMIN, actor="root")
    experiment = admin.post("/api/v1/experiments", json={"name": "e"}).json()
    run = admin.post("/api/v1/runs", json={"experiment_id": experiment["id"]}).json()
    point = {"key": "loss", "value": 1.0, "step": "3"}
    assert _field(admin.post(f"/api/v1/runs/{run['id']}/log", json={"metrics": [point]})) == "metrics.0.step"
    listing = admin.get(f"/api/v1/runs/{run['id']}/artifacts", params={"prefix": "a\\b"})
    assert _field(listing) == "prefix"

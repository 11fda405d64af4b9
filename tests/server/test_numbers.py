"""Numbers from a request are read strictly, and a wrong one is a 400 naming it, never a 500.

Integers in URLs are ASCII digits (Python's `int()` reads '٣' and raises on '²' once
`str.isdigit` has said yes; pydantic reads ' 3', '3.0' and '3_000'). An integer of 5,000 digits,
wherever it comes, is INVALID_PARAMETER (documented), and so is a boolean where a metric value,
a step, a time or a count goes (pydantic would read `true` as 1). Both backends.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from plimsoll.core.ids import new_id
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

HUGE = "9" * 5000
ODD_INTEGERS = [
    "²",
    "٣",
    "３",
    " 3",
    "3.0",
    "3_000",
    "+3",
    "0x10",
    HUGE,
    "99999999999999999999",
    "9223372036854775808",
]


def _refused(answer: httpx.Response, field: str) -> None:
    assert answer.status_code == 400, answer.text[:300]
    error = answer.json()["error"]
    assert error["code"] == "INVALID_PARAMETER", error
    assert error["details"]["field"] == field, error


@pytest.fixture
def run_id(platform: Platform) -> str:
    experiment = platform.tracking.create_experiment("e", actor="local").id
    return str(platform.tracking.create_run(experiment, actor="local").id)


@pytest.mark.parametrize("text", ODD_INTEGERS)
def test_query_integers_are_ascii_digits(live_server: LiveServer, run_id: str, text: str) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        _refused(client.get("/api/v1/jobs", params={"page_size": text}), "page_size")
        _refused(client.get("/api/v1/events", params={"limit": text}), "limit")
        _refused(
            client.get(f"/api/v1/runs/{run_id}/metrics/m/history", params={"max_points": text}), "max_points"
        )
        _refused(client.get("/api/v1/events", params={"after": text}), "after")
        if text.strip() == text:  # the page's form forgives spaces around what was typed
            page = client.get("/runs", params={"page_size": text})  # the form shows the error
            assert page.status_code == 400, page.text[:300]
            assert "page_size" in page.text


def test_ascii_integers_still_work(live_server: LiveServer, run_id: str) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        assert client.get("/api/v1/jobs", params={"page_size": "3"}).status_code == 200
        assert client.get("/api/v1/events", params={"limit": "3", "after": "0"}).status_code == 200
        assert client.get("/runs", params={"page_size": "3"}).status_code == 200


def test_a_5000_digit_integer_in_a_body_is_a_documented_error(live_server: LiveServer, run_id: str) -> None:
    big = HUGE.encode()
    with httpx.Client(
        base_url=live_server.url, timeout=30, headers={"Content-Type": "application/json"}
    ) as client:
        searched = client.post("/api/v1/runs/search", content=b'{"max_results": ' + big + b"}")
        _refused(searched, "body")
        assert "more than 4300 digits" in searched.json()["error"]["message"]
        ingest = (
            b'{"runs": [{"run_id": "' + run_id.encode() + b'", "metrics": {"keys": ["m"], "values": [1.0], '
            b'"steps": [' + big + b'], "timestamps": [1]}}]}'
        )
        _refused(client.post("/api/v1/runs/ingest", content=ingest), "body")  # the fast lane's parser
        filtered = client.post("/api/v1/runs/search", json={"filter": f"metrics.m > {'9' * 3000}"})
        _refused(filtered, "filter")
        assert "out of range" in filtered.json()["error"]["message"]


def test_unicode_digits_are_not_numbers_in_a_filter(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        for text in ("metrics.m > ٣", "start_time > ３", "metrics.m > ²"):
            _refused(client.post("/api/v1/runs/search", json={"filter": text}), "filter")


def _ingest(run_id: str, **columns: Any) -> dict[str, Any]:
    metrics = {"keys": ["m"], "values": [1.0], "steps": [0], "timestamps": [1], **columns}
    return {"batch_id": new_id(), "runs": [{"run_id": run_id, "metrics": metrics}]}


def test_booleans_are_not_numbers(live_server: LiveServer, platform: Platform, run_id: str) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        for column in ("values", "steps", "timestamps"):
            answer = client.post("/api/v1/runs/ingest", json=_ingest(run_id, **{column: [True]}))
            assert answer.status_code == 400, answer.text
            assert f"metrics.{column}.0" in answer.json()["error"]["details"]["field"]
        for point in ({"key": "m", "value": True}, {"key": "m", "value": 1.0, "step": False}):
            answer = client.post(f"/api/v1/runs/{run_id}/log", json={"metrics": [point]})
            assert answer.status_code == 400, answer.text
        answer = client.post("/api/v1/runs/search", json={"max_results": True})
        _refused(answer, "max_results")
        answer = client.post(f"/api/v1/runs/{run_id}/end", json={"end_time": True})
        _refused(answer, "end_time")
        # Numbers as numbers still pass, integers for floats included.
        assert client.post("/api/v1/runs/ingest", json=_ingest(run_id, values=[2])).status_code == 200
    assert platform.tracking.get_metric_history(run_id, "m").values == [2.0]

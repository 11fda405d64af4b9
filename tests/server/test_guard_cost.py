"""Work before the token check: with auth on, a request without a valid token (or from a user who
holds the role nowhere) is refused before its body is read, so a large body costs no more than a
small one; and a large JSON body that must be read is parsed on a worker thread, never on the
event loop. Both backends: the token check reads the store.

The first tests are structural: the client sends the headers and the first 64 KiB of a body that
announces 30 MB, and reads the refusal while most of the body is still unsent (before the fix, the
server waited for the whole body). The timing of /healthz meanwhile is reported, not asserted."""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time
from typing import Any

import httpx
import orjson
import pydantic_core
import pytest
from pydantic import BaseModel

from plimsoll.core.auth.entities import Role
from plimsoll.core.ids import new_id
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

pytestmark = pytest.mark.auth_on  # the conftest `platform` (and `live_server`) with auth on

ANNOUNCED = 30 * 1024 * 1024
FIRST_PART = 64 * 1024
BOGUS = "plm_" + "b" * 40


class Setup:
    def __init__(self, platform: Platform, server: LiveServer) -> None:
        self.server = server
        auth = platform.auth
        self.root = auth.bootstrap_admin("root").secret
        experiment = platform.tracking.create_experiment("e", actor="root")
        self.experiment = experiment.id
        self.run = platform.tracking.create_run(experiment.id, actor="root").id
        auth.create_user("nobody", actor="root")  # holds no role at all
        self.nobody = auth.create_token("nobody").secret
        auth.create_user("vera", actor="root")
        auth.grant("default", "vera", Role.VIEWER, actor="root")
        self.viewer = auth.create_token("vera").secret
        auth.create_user("carl", actor="root")
        auth.grant("default", "carl", Role.CONTRIBUTOR, actor="root")
        self.contributor = auth.create_token("carl").secret


@pytest.fixture
def setup(platform: Platform, live_server: LiveServer) -> Setup:
    return Setup(platform, live_server)


def _start_upload(port: int, path: str, token: str | None) -> socket.socket:
    """Send the headers of a JSON POST announcing ANNOUNCED bytes, and FIRST_PART of the body."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Content-Length: {ANNOUNCED}",
    ]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + b'{"runs": [' + b" " * (FIRST_PART - 10))
    return sock


def _read_answer(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    """The status and JSON body of the answer (the socket times out if none comes)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"the server closed the connection without an answer: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return status, orjson.loads(body[:length])


@pytest.mark.parametrize("path", ["/api/v1/runs/ingest", "/api/v1/runs/search", "/api/v1/experiments"])
def test_no_valid_token_is_refused_before_the_body_is_read(setup: Setup, path: str) -> None:
    for token, status, code in [
        (None, 401, "UNAUTHENTICATED"),
        (BOGUS, 401, "UNAUTHENTICATED"),
        (setup.nobody, 403, "PERMISSION_DENIED"),  # holds no role anywhere: no body can help
    ]:
        with _start_upload(setup.server.port, path, token) as sock:
            # Only FIRST_PART of ANNOUNCED bytes has been sent: an answer now was not waiting for it.
            got_status, body = _read_answer(sock)
        assert (got_status, body["error"]["code"]) == (status, code), body


def test_a_viewer_writing_is_refused_before_the_body_is_read(setup: Setup) -> None:
    with _start_upload(setup.server.port, "/api/v1/runs/ingest", setup.viewer) as sock:
        status, body = _read_answer(sock)
    assert status == 403
    message = body["error"]["message"]
    assert "'vera'" in message and "contributor" in message and "viewer in 'default'" in message


def test_a_large_unauthenticated_body_does_not_hold_the_server(setup: Setup) -> None:
    """A whole ~20 MB body with a bogus token: 401, and /healthz answers all along (its latency is
    reported; before the fix one health check waited seconds while the guard parsed the body)."""
    n = 1_000_000  # a batch of many small values: the slowest kind of JSON to parse
    columns = {"keys": ["m"] * n, "values": [0.25] * n, "steps": list(range(n)), "timestamps": [1] * n}
    body = orjson.dumps({"runs": [{"run_id": new_id(), "metrics": columns}]})
    answers: list[int] = []

    def upload() -> None:
        headers = {"Authorization": f"Bearer {BOGUS}", "Content-Type": "application/json"}
        answers.append(
            httpx.post(
                setup.server.url + "/api/v1/runs/ingest", content=body, headers=headers, timeout=60
            ).status_code
        )

    took: list[float] = []
    uploader = threading.Thread(target=upload)
    with httpx.Client(base_url=setup.server.url, timeout=30) as client:
        for _ in range(10):  # the baseline
            started = time.monotonic()
            assert client.get("/healthz").status_code == 200
            took.append(time.monotonic() - started)
        baseline = statistics.median(took)
        took.clear()
        uploader.start()
        while uploader.is_alive():
            started = time.monotonic()
            assert client.get("/healthz").status_code == 200
            took.append(time.monotonic() - started)
            time.sleep(0.005)
    uploader.join()
    assert answers == [401]
    print(f"\n{len(body) / 1e6:.0f} MB with a bogus token: /healthz median {baseline * 1e3:.1f} ms before, "
          f"worst {max(took, default=0) * 1e3:.1f} ms during ({len(took)} checks)")  # fmt: skip


class _Parses:
    """Every parse of a large JSON body in the process, by the thread it ran on (a spy around the
    parsers; it parses with the real one)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.seen: list[tuple[str, str]] = []
        loads, from_json = json.loads, pydantic_core.from_json
        validate_json = BaseModel.model_validate_json.__func__  # type: ignore[attr-defined]

        def note(what: str, raw: Any) -> None:
            if isinstance(raw, bytes | str) and len(raw) >= 1_000_000:
                self.seen.append((what, threading.current_thread().name))

        def spy_loads(raw: Any, *args: Any, **kwargs: Any) -> Any:
            note("json.loads", raw)
            return loads(raw, *args, **kwargs)

        def spy_from_json(raw: Any, *args: Any, **kwargs: Any) -> Any:
            note("from_json", raw)
            return from_json(raw, *args, **kwargs)

        def spy_validate_json(cls: type[BaseModel], raw: Any, *args: Any, **kwargs: Any) -> Any:
            note(f"{cls.__name__}.model_validate_json", raw)
            return validate_json(cls, raw, *args, **kwargs)

        monkeypatch.setattr(json, "loads", spy_loads)
        monkeypatch.setattr("plimsoll.core.auth.api.from_json", spy_from_json, raising=False)
        monkeypatch.setattr(BaseModel, "model_validate_json", classmethod(spy_validate_json))


def _big_batch(run_id: str, points: int = 60_000) -> dict[str, Any]:
    return {
        "batch_id": new_id(),
        "runs": [
            {
                "run_id": run_id,
                "metrics": {
                    "keys": ["validation/loss"] * points,
                    "values": [0.5] * points,
                    "steps": list(range(points)),
                    "timestamps": [1_767_225_600_000 + i for i in range(points)],
                },
            }
        ],
    }


def test_large_bodies_are_parsed_off_the_event_loop(setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    parses = _Parses(monkeypatch)
    loop_thread = setup.server.thread.name
    batch = orjson.dumps(_big_batch(setup.run))
    assert len(batch) > 2_000_000
    headers = {"Content-Type": "application/json"}
    with httpx.Client(base_url=setup.server.url, timeout=60, headers=headers) as client:
        # A contributor: the guard reads the body to find the run's project, then the route parses it.
        answer = client.post(
            "/api/v1/runs/ingest", content=batch, headers={"Authorization": f"Bearer {setup.contributor}"}
        )
        assert answer.status_code == 200, answer.text
        guarded = list(parses.seen)
        # A site admin holds every role: the guard has no reason to read the body at all.
        parses.seen.clear()
        admin_batch = orjson.dumps(_big_batch(setup.run) | {"batch_id": new_id()})
        answer = client.post(
            "/api/v1/runs/ingest", content=admin_batch, headers={"Authorization": f"Bearer {setup.root}"}
        )
        assert answer.status_code == 200, answer.text
        admin = list(parses.seen)
    assert [what for what, _ in guarded] == ["from_json", "IngestBody.model_validate_json"], guarded
    assert [what for what, _ in admin] == ["IngestBody.model_validate_json"], admin
    assert all(thread != loop_thread for _, thread in guarded + admin), (loop_thread, guarded + admin)

"""Two replicas of one deployment: two `plimsoll serve NAME` processes (the real CLI) against the
same store (SQLite, and PostgreSQL where one runs), listening on 127.0.0.1. A canary deployed
through the SDK reaches both; under load, one is killed with SIGKILL and the other keeps
answering every request (those to the dead one fail as connection errors, which a balancer
routes away); both replicas' traffic reports reached the store, and the survivor's answers are
logged under the deployment."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from test_model_server import data, trained

from plimsoll.client import Client
from plimsoll.core.config import Settings
from plimsoll.core.db import Database

pytestmark = pytest.mark.slow

DEPLOYMENT = "churn-api"
ROWS = 3


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Replica:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def ready(self) -> dict[str, Any]:
        answer = self.http.get("/readyz")
        return dict(answer.json()) if answer.status_code == 200 else {}


@dataclass
class Store:
    url: str
    blobs: Path
    home: Path
    sdk: Client


@pytest.fixture
def store(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    """The store both replicas serve from: churn/1 (answers f0 > 0) and churn/2 (f1 > 0) registered
    through the SDK, churn@production on 1, and deployment churn-api following it."""
    for name in ("PLIMSOLL_URL", "PLIMSOLL_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    blobs, home = tmp_path / "blobs", tmp_path / "home"
    sdk = Client(settings=Settings(home=home, store_url=database_url, blobs_url=str(blobs)))
    try:
        for target in ("f0", "f1"):
            with sdk.start_run(experiment="churn", capture=False) as run:
                run.log_model(trained(target), "model", input_example=data(3, 1), register_as="churn")
        sdk.registry.set_alias("churn", "production", 1)
        sdk.deployments.deploy(DEPLOYMENT, model="churn@production")
        yield Store(database_url, blobs, home, sdk)
    finally:
        sdk.close()


@pytest.fixture
def replicas(store: Store, tmp_path: Path) -> Iterator[tuple[Replica, Replica]]:
    """Two `plimsoll serve churn-api` processes on free loopback ports, ready; always killed after."""
    started: list[Replica] = []
    try:
        for name in ("a", "b"):
            port = _free_port()
            env = {
                **os.environ,
                "PLIMSOLL_HOME": str(store.home),
                "PLIMSOLL_STORE": store.url,
                "PLIMSOLL_BLOBS": str(store.blobs),
                "PLIMSOLL_SPOOL_DIR": str(tmp_path / f"spool-{name}"),
            }
            env.pop("PLIMSOLL_URL", None)
            command = [sys.executable, "-m", "plimsoll", "serve", DEPLOYMENT, "--host", "127.0.0.1"]
            command += ["--port", str(port), "--poll-interval", "0.1", "--report-interval", "0.5"]
            log = tmp_path / f"replica-{name}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(command, env=env, stdout=out, stderr=out, start_new_session=True)
            started.append(Replica(name, f"http://127.0.0.1:{port}", process, log))
        deadline = time.monotonic() + 90
        for replica in started:
            while True:
                assert replica.process.poll() is None, replica.log.read_text()[-4000:]
                try:
                    if replica.ready():
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"replica {replica.name} was not ready"
                time.sleep(0.1)
        yield started[0], started[1]
    finally:
        for replica in started:
            replica.http.close()
            if replica.process.poll() is None:
                os.killpg(replica.process.pid, signal.SIGTERM)
        for replica in started:
            try:
                replica.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(replica.process.pid, signal.SIGKILL)
                replica.process.wait(timeout=20)


@dataclass
class Answer:
    replica: str
    at: float
    status: int | None  # None: no answer (the error says why)
    error: BaseException | None = None
    version: str | None = None
    role: str | None = None
    ids: list[str] = field(default_factory=list)


def _ask(replica: Replica, seed: int) -> Answer:
    body = {"dataframe_records": data(ROWS, seed).to_dict(orient="records")}
    try:
        answer = replica.http.post("/invocations", json=body)
    except httpx.TransportError as failed:
        return Answer(replica.name, time.monotonic(), None, failed)
    found = Answer(replica.name, time.monotonic(), answer.status_code)
    if answer.status_code == 200:
        found.version = answer.headers["x-plimsoll-version"]
        found.role = answer.headers["x-plimsoll-role"]
        found.ids = list(answer.json()["prediction_ids"])
    return found


def _reported(store: Store) -> dict[str, int]:
    """The requests each replica reported to the store (its `serving_traffic` rows)."""
    db = Database(store.url)
    try:
        with db.engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT replica, SUM(requests) FROM serving_traffic GROUP BY replica")
            ).all()
    finally:
        db.dispose()
    return {str(replica): int(requests) for replica, requests in rows}


def test_a_canary_reaches_both_replicas_and_one_killed_leaves_the_other_serving(
    store: Store, replicas: tuple[Replica, Replica]
) -> None:
    a, b = replicas
    sdk = store.sdk
    assert {a.ready()["revision"], b.ready()["revision"]} == {sdk.deployments.get(DEPLOYMENT).revision}

    # A canary deployed once reaches both replicas (each polls the deployment's routing).
    canary = sdk.deployments.deploy(DEPLOYMENT, model="churn@production", canary=2, weight=50)
    deadline = time.monotonic() + 30
    while {a.ready().get("revision"), b.ready().get("revision")} != {canary.revision}:
        assert time.monotonic() < deadline, "the canary did not reach both replicas"
        time.sleep(0.05)
    for replica in (a, b):
        roles = {(answer.version, answer.role) for answer in (_ask(replica, i) for i in range(40))}
        assert roles == {("1", "stable"), ("2", "canary")}, replica.name

    # Under load, alternating between the two, A is killed mid-stream.
    answers: list[Answer] = []
    stop = threading.Event()

    def load() -> None:
        seed = 100
        while not stop.is_set():
            for replica in (a, b):
                answers.append(_ask(replica, seed))
                seed += 1

    sender = threading.Thread(target=load, daemon=True)
    sender.start()
    try:
        deadline = time.monotonic() + 30
        while sum(1 for x in answers if x.replica == "a" and x.status == 200) < 30:
            assert time.monotonic() < deadline and sender.is_alive(), "no load reached A"
            time.sleep(0.01)
        time.sleep(0.6)  # A reports its traffic every 0.5 s: some of it is in the store
        os.kill(a.process.pid, signal.SIGKILL)
        killed = time.monotonic()
        assert a.process.wait(timeout=10) == -signal.SIGKILL
        deadline = time.monotonic() + 30
        while sum(1 for x in answers if x.replica == "b" and x.at > killed) < 40 or not any(
            x.replica == "a" and x.at > killed + 0.5 for x in answers
        ):
            assert time.monotonic() < deadline and sender.is_alive(), "B stopped answering"
            time.sleep(0.01)
    finally:
        stop.set()
        sender.join(timeout=30)
    assert not sender.is_alive()

    on_b = [x for x in answers if x.replica == "b"]
    assert on_b and all(x.status == 200 for x in on_b), [x.error or x.status for x in on_b if x.status != 200]
    assert {x.role for x in on_b} == {"stable", "canary"}
    assert sum(1 for x in on_b if x.at > killed) >= 40  # B kept serving after A died
    on_a = [x for x in answers if x.replica == "a"]
    before = [x for x in on_a if x.status is not None]
    after = [x for x in on_a if x.status is None]
    assert before and all(x.status == 200 for x in before)
    assert after and all(isinstance(x.error, httpx.TransportError) for x in after)
    assert all(x.at >= killed - 1 for x in after)  # failures only around and after the kill
    late = [x for x in on_a if x.at > killed + 0.5]
    assert late and all(isinstance(x.error, httpx.ConnectError) for x in late)  # refused: nobody listens

    # B stops gracefully: its last traffic is reported and its log written on the way out.
    b.process.send_signal(signal.SIGTERM)  # uvicorn shuts down, then raises the signal again: -15
    assert b.process.wait(timeout=30) in (0, -signal.SIGTERM), b.log.read_text()[-4000:]
    reported = _reported(store)
    assert len(reported) == 2  # both replicas reported to the store
    served_by_b = 40 + len(on_b)  # the canary's check, then the load
    assert sorted(reported.values())[0] > 0 and served_by_b in reported.values()
    (a_reported,) = [n for n in reported.values() if n != served_by_b] or [served_by_b]
    assert a_reported <= 40 + len(before)  # A reported some of what it answered, never more
    counted = {(t.version, t.role): t.requests for t in sdk.deployments.traffic(DEPLOYMENT)}
    assert sum(counted.values()) == sum(reported.values())

    logged = sdk.monitoring.read("predictions", model="churn", deployment=DEPLOYMENT)
    logged_ids = set(logged.column("__id").to_pylist())
    survivor = {i for x in on_b for i in x.ids}
    assert len(survivor) == ROWS * len(on_b) and survivor <= logged_ids

"""Every route's every string, through a corpus of odd Unicode: 2xx or a clear 4xx, never a 500.

The routes are not listed here: they are read from the app's routers (every JSON route and every
page, their path and query parameters and the pydantic model of their body), so a route added
later is covered without a line changed here. Each request is a valid one (seeded records, values
that pass) with exactly one string replaced by an odd one: in a path, a query parameter, a body
value or a body key. The odd strings are drawn at random from each family of the corpus (lone
surrogates, sent as JSON escapes or as CESU-8 bytes; NUL; bidirectional overrides; combining
marks; 1 MB strings; ...), with a seed printed on failure (`PLIMSOLL_FUZZ_SEED` replays it).

The server runs with auth on, as a site admin: the guard's resolvers, which look up what a request
names before any route runs, see every odd string too. Text no database can store (a lone
surrogate, NUL) must be refused with 400 naming the field, on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

import copy
import json
import os
import random
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Union
from urllib.parse import quote, urlencode

import httpx
import pytest
from fastapi import params
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel

from plimsoll.core.changes import changing
from plimsoll.core.errors import ERRORS_BY_CODE
from plimsoll.core.ids import new_id
from plimsoll.platform import Platform
from plimsoll.server.testing import LiveServer

pytestmark = pytest.mark.auth_on  # the conftest `platform` (and `live_server`) with auth on

SEED = int(os.environ.get("PLIMSOLL_FUZZ_SEED", random.SystemRandom().randrange(2**32)))
MEGABYTE = 1_000_000
URL_TEXT = 5_000  # characters: up to 12 bytes each, percent-escaped

# -- the corpus ------------------------------------------------------------------------------------


def _around(rng: random.Random, odd: str) -> str:
    """`odd` at a random place in ordinary text (or alone)."""
    if rng.random() < 0.25:
        return odd
    word = "".join(rng.choice("abcxyz019_-") for _ in range(rng.randint(1, 8)))
    cut = rng.randint(0, len(word))
    return word[:cut] + odd + word[cut:]


def _lone_high(rng: random.Random) -> str:
    return _around(rng, chr(rng.randint(0xD800, 0xDBFF)))


def _lone_low(rng: random.Random) -> str:
    return _around(rng, chr(rng.randint(0xDC00, 0xDFFF)))


def _reversed_pair(rng: random.Random) -> str:
    return _around(rng, chr(rng.randint(0xDC00, 0xDFFF)) + chr(rng.randint(0xD800, 0xDBFF)))


def _nul(rng: random.Random) -> str:
    return _around(rng, "\x00" * rng.randint(1, 3))


def _bidi(rng: random.Random) -> str:
    return _around(rng, chr(rng.choice([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])) + "gnp.exe")


def _combining(rng: random.Random) -> str:
    base = rng.choice("aeoz")
    return _around(rng, base + "".join(chr(rng.randint(0x0300, 0x036F)) for _ in range(rng.randint(1, 60))))


def _megabyte(rng: random.Random) -> str:
    alphabet = rng.choice(["a", "é", "中", "\U0001f600", "a\u0301"])
    return (alphabet * (MEGABYTE // len(alphabet)))[:MEGABYTE]


def _other_odd(rng: random.Random) -> str:
    return _around(
        rng,
        rng.choice(
            [
                "\ufeff",  # byte order mark
                "\u200b\u200d",  # zero width
                "\ufffd\uffff\U0010ffff",  # replacement, noncharacters
                "٣²３",  # digits Python's int() reads (or almost)
                "\U0001f600\U0001f3f3\ufe0f\u200d\U0001f308",  # astral, joined
                "\x01\x1f\x7f\x85",  # controls
                "",
                " ",
                "..",
                "%00",
                "\\ud800",  # the escape, as six plain characters
            ]
        ),
    )


UNSTORABLE: dict[str, Callable[[random.Random], str]] = {
    "lone high surrogate": _lone_high,
    "lone low surrogate": _lone_low,
    "reversed surrogate pair": _reversed_pair,
    "NUL": _nul,
}
CORPUS: dict[str, Callable[[random.Random], str]] = {
    **UNSTORABLE,
    "bidirectional override": _bidi,
    "combining marks": _combining,
    "1 MB string": _megabyte,
    "other odd text": _other_odd,
}

# A release policy that passes on no evidence, and waits for two approvals (`_seed`).
FUZZ_POLICY = (
    "alias: production\napprovals: {required: 2}\ngates:\n  - {metric: roc_auc, max_regression: 0.1}\n"
)

# -- requests built from the routers -----------------------------------------------------------------


@dataclass
class World:
    """The records a valid request names."""

    experiment: str
    experiment_name: str
    run: str
    user: str
    token_id: str
    job: str
    webhook: str
    service_account: str
    promotion: str = ""  # of model `fuzzed` to `production`, awaiting approvals
    decision: str = ""
    alert: str = ""  # of model `fuzzed`, firing, and the incident it opened
    incident: str = ""
    silence: str = ""
    inhibition: str = ""
    counter: list[int] = field(default_factory=lambda: [0])

    def fresh(self, prefix: str) -> str:
        self.counter[0] += 1
        return f"{prefix}-{self.counter[0]}"


class FreeDict(dict[str, Any]):
    """A body mapping whose keys are data (tags, params), so its keys are strings to try too."""


# A valid value for a parameter or body field, by its name: what makes the request reach the code
# behind the checks. A name not here gets a plain value of its type.
def _hints(world: World) -> dict[str, Callable[[], Any]]:
    return {
        "project": lambda: "default",
        "view": lambda: "active",
        "experiment_id": lambda: world.experiment,
        "experiment_ref": lambda: world.experiment,
        "experiment_ids": lambda: [world.experiment],
        "run_id": lambda: world.run,
        "parent_run_id": lambda: world.run,
        "runs": lambda: [world.run],
        "batch_id": new_id,
        "name": lambda: world.fresh("name"),
        "key": lambda: "m",
        "keys": lambda: ["m"],
        "values": lambda: [1.0],
        "value": lambda: 1.0,
        "steps": lambda: [1],
        "timestamps": lambda: [1],
        "path": lambda: "dir/a.txt",
        "prefix": lambda: "dir",
        "filter": lambda: "metrics.m > 0 and params.p = 'v'",
        "order_by": lambda: "metrics.m DESC",
        "status": lambda: "FINISHED",
        "role": lambda: "viewer",
        "user": lambda: world.user,
        "token_id": lambda: world.token_id,
        "session_id": new_id,
        "job_id": lambda: world.job,
        "webhook_id": lambda: world.webhook,
        "url": lambda: "https://hooks.example.com/in",
        "events": lambda: ["run.*"],
        "format": lambda: "plimsoll",
        "type": lambda: ["run.created"],
        "state": lambda: "queued",
        "kind": lambda: ["maintenance.gc"],
        "after": lambda: "0",
        "digest": lambda: "0" * 64,
        "digests": lambda: ["0" * 64],
        "version": lambda: 1,
        "node": lambda: f"run:{world.run}",
        "from": lambda: f"run:{world.run}",
        "to": lambda: "dataset:fuzzed@1",
        "check_id": new_id,
        "evaluation_id": new_id,
        "evaluation": lambda: "",  # a version's page: its newest evaluation
        "alias": lambda: "production",
        "promotion_id": lambda: world.promotion,
        "decision_id": lambda: world.decision,
        "policy": lambda: FUZZ_POLICY,
        "artifact_path": lambda: "dir",
        "tags": lambda: FreeDict(t="v"),
        "params": lambda: FreeDict(p="v"),
        "alert_id": lambda: world.alert,
        "silence_id": lambda: world.silence,
        "incident_id": lambda: world.incident,
        "inhibition_id": lambda: world.inhibition,
        "matchers": lambda: [{"name": "model", "op": "=", "value": "churn"}],
        "source": lambda: [{"name": "alertname", "op": "=", "value": "no_data"}],
        "target": lambda: [{"name": "severity", "op": "=", "value": "info"}],
        "equal": lambda: ["monitor"],
        "duration_s": lambda: 600,
        "starts_in_s": lambda: 0,
        "hours": lambda: "2",
    }


def _example(annotation: Any, name: str, hints: dict[str, Callable[[], Any]], *, top: bool = True) -> Any:
    if top and name in hints:
        return hints[name]()
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _example(options[0], name, hints, top=False) if options else None
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        body = {}
        for field_name, info in annotation.model_fields.items():
            body[info.alias or field_name] = _example(info.annotation, field_name, hints)
        return body
    if origin is list:
        return [_example(typing.get_args(annotation)[0], name, hints, top=False)]
    if origin is dict:
        return FreeDict(k=_example(typing.get_args(annotation)[1], name, hints, top=False))
    if annotation is bool:
        return False
    if annotation is int:
        return 1
    if annotation is float:
        return 1.0
    return "v"


@dataclass(frozen=True)
class Slot:
    """One string of a request: a path or query parameter, or a body value or key."""

    where: str  # "path", "query", "body", "body key"
    name: str
    at: tuple[Any, ...] = ()  # within the body


@dataclass
class Operation:
    method: str
    template: str
    path_params: list[str]
    query: dict[str, Any]
    body: Any
    form: bool = False  # the body is an HTML form's fields, not JSON

    def slots(self) -> Iterator[Slot]:
        for name in self.path_params:
            yield Slot("path", name)
        for name in self.query:
            yield Slot("query", name)
        if self.body is not None:
            yield from _body_slots(self.body, ())

    def request(self, slot: Slot, odd: str, world: World, rng: random.Random) -> dict[str, Any]:
        hints = _hints(world)
        path = self.template
        for name in self.path_params:
            value = odd if slot == Slot("path", name) else str(hints[name.split(":")[0]]())
            if name == "name" and path.startswith("/admin/service-accounts/") and slot.where != "path":
                value = world.service_account  # a new token needs an existing service account
            path = path.replace("{" + name + "}", _quote(value, keep_slashes=name.endswith(":path")))
        query = {name: odd if slot == Slot("query", name) else value for name, value in self.query.items()}
        url = path + ("?" + _query_string(query) if query else "")
        if self.body is None:
            return {"method": self.method, "url": url}
        body = copy.deepcopy(self.body)
        _refresh(body, hints)
        if slot.where in {"body", "body key"}:
            _replace(body, slot, odd)
        if self.form:
            pairs = [(key, str(value).encode("utf-8", "surrogatepass")) for key, value in body.items()]
            return {
                "method": self.method,
                "url": url,
                "content": urlencode(pairs).encode(),
                "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            }
        # A surrogate travels as a JSON escape or, sometimes, as the CESU-8 bytes `json` also reads.
        raw = (
            json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
            if rng.random() < 0.3
            else json.dumps(body).encode()
        )
        return {
            "method": self.method,
            "url": url,
            "content": raw,
            "headers": {"Content-Type": "application/json"},
        }


def _quote(value: str, *, keep_slashes: bool) -> str:
    return quote(value.encode("utf-8", "surrogatepass"), safe="/" if keep_slashes else "")


def _query_string(query: dict[str, Any]) -> str:
    pairs = []
    for name, value in query.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((name, str(item).encode("utf-8", "surrogatepass")))
    return urlencode(pairs)


def _body_slots(value: Any, at: tuple[Any, ...]) -> Iterator[Slot]:
    if isinstance(value, str):
        yield Slot("body", ".".join(map(str, at)), at)
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(value, FreeDict):
                yield Slot("body key", ".".join(map(str, (*at, key))), (*at, key))
            yield from _body_slots(item, (*at, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _body_slots(item, (*at, index))


def _replace(body: Any, slot: Slot, odd: str) -> None:
    *parents, last = slot.at
    holder = body
    for step in parents:
        holder = holder[step]
    if slot.where == "body key":
        holder[odd] = holder.pop(last)
    else:
        holder[last] = odd


def _refresh(body: Any, hints: dict[str, Callable[[], Any]]) -> None:
    """New batch ids and names each time: a request is not a retry of the one before."""
    if isinstance(body, dict):
        for key in list(body):
            if key in {"batch_id", "name"} and isinstance(body[key], str):
                body[key] = hints[key]()
            else:
                _refresh(body[key], hints)
    elif isinstance(body, list):
        for item in body:
            _refresh(item, hints)


def operations(app: Any, world: World) -> list[Operation]:
    """Every route of the app with its parameters, read from its routers."""
    hints = _hints(world)
    found = []
    for context in iter_route_contexts(app.routes):
        route, template = context.original_route, context.path
        if not isinstance(route, APIRoute) or template is None:
            continue  # the API docs pages and the static files: no string reaches a store
        dependant = route.dependant
        path_params = [part[1:-1] for part in template.split("/") if part.startswith("{")]
        query = {
            param.alias: _example(param.field_info.annotation, param.alias, hints)
            for param in dependant.query_params
        }
        body = None
        form = bool(dependant.body_params) and all(
            isinstance(param.field_info, params.Form) for param in dependant.body_params
        )
        if form:
            body = {
                param.alias: _example(param.field_info.annotation, param.alias, hints, top=False)
                for param in dependant.body_params
            }
        elif dependant.body_params:
            (param,) = dependant.body_params
            body = _example(param.field_info.annotation, "", hints, top=False)
        for method in sorted(context.methods or ()):
            found.append(Operation(method, template, path_params, query, body, form))
    return found


# -- the test ----------------------------------------------------------------------------------------


def _seed(platform: Platform, client: httpx.Client) -> World:
    def ok(answer: httpx.Response) -> Any:
        assert answer.status_code < 300, answer.text
        return answer.json()

    experiment = ok(client.post("/api/v1/experiments", json={"name": "fuzzed"}))["id"]
    run = ok(client.post("/api/v1/runs", json={"experiment_id": experiment, "params": {"p": "v"}}))["id"]
    ok(
        client.post(
            f"/api/v1/runs/{run}/log",
            json={"metrics": [{"key": "m", "value": 1.0}], "tags": {"t": "v"}},
        )
    )
    ok(client.put(f"/api/v1/runs/{run}/artifacts/dir/a.txt", content=b"hello"))
    ok(client.post("/api/v1/users", json={"name": "fuzz-user"}))
    token_id = ok(client.post("/api/v1/users/fuzz-user/tokens", json={"label": "x"}))["id"]
    webhook = ok(
        client.post(
            "/api/v1/webhooks", json={"name": "hook", "url": "https://hooks.example.com/in", "events": ["*"]}
        )
    )["id"]
    job = platform.jobs.enqueue("maintenance.gc", {"dry_run": True}).id
    ok(
        client.post(
            "/api/v1/service-accounts", json={"name": "fuzz-ci", "project": "default", "role": "viewer"}
        )
    )
    # a model version with a promotion awaiting approvals, and its decision, for the gates' routes
    platform.model_registry.register_version("fuzzed", run_id=run, artifact_path="dir", actor="fuzz-user")
    platform.gates.set_policy("fuzzed", "production", FUZZ_POLICY, actor="root")
    promotion = platform.gates.promote("fuzzed", 1, to="production", evidence={}, actor="fuzz-user")
    promotion = platform.gates.run_gates(promotion.id)
    assert promotion.status == "awaiting_approval", promotion
    world = World(experiment, "fuzzed", run, "fuzz-user", token_id, job, webhook, "fuzz-ci")
    world.promotion, world.decision = promotion.id, promotion.decision or ""
    # a firing alert of that model and the incident it opened (a monitor's check, handed to the
    # incidents consumer's handler), a silence and an inhibition rule, for the incidents' routes
    signal = {"rule": "data_drift", "active": True, "value": 0.4, "op": ">", "threshold": 0.2}
    signal |= {"severity": "warning", "for_windows": 1, "consecutive": 1}
    check = {"project": "default", "monitor": "fuzzed", "monitor_id": "f" * 32, "model": "fuzzed"}
    check |= {"alias": "production", "version": 1, "segment": None, "window": None}
    check |= {"checked_at": 1, "signals": [signal], "url": "/monitors/fuzzed"}
    with changing(platform.db, platform.outbox, "monitor") as change:
        change.emit("monitor.checked", "monitor:" + "f" * 32, check, project="default")
    for event in platform.outbox.follow(types=["monitor.checked"]).events:
        platform.incidents.on_event(event)
    (alert,) = platform.incidents.list_alerts()
    world.alert, world.incident = alert.id, str(alert.incident)
    world.silence = platform.incidents.create_silence(
        ["model=x"], duration_s=60, comment="x", actor="root"
    ).id
    world.inhibition = platform.incidents.create_inhibition(["alertname=a"], ["alertname=b"], actor="root").id
    return world


def _clear_refusal(answer: httpx.Response) -> str | None:
    """What is wrong with an answer, or None: a 500, or a 4xx that is not one of our errors."""
    if answer.status_code >= 500:
        return f"answered {answer.status_code}: {answer.text[:300]}"
    if answer.status_code < 400 or answer.headers.get("content-type", "").startswith("text/html"):
        return None
    try:
        error = answer.json()["error"]
    except (ValueError, KeyError, TypeError):
        return f"answered {answer.status_code} without an error body: {answer.text[:300]}"
    if error.get("code") not in ERRORS_BY_CODE or not error.get("message"):
        return f"answered {answer.status_code} with an unclear error: {error}"
    return None


def test_odd_text_in_every_string_of_every_route_is_never_a_server_error(platform: Platform) -> None:
    rng = random.Random(SEED)
    secret = platform.auth.bootstrap_admin("root").secret
    server = LiveServer(platform)
    failures: list[str] = []
    sent = 0
    try:
        headers = {"Authorization": f"Bearer {secret}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
            world = _seed(platform, client)
            for operation in operations(server.server.config.app, world):
                for slot in operation.slots():
                    for family, make in CORPUS.items():
                        odd = make(rng)
                        if slot.where in {"path", "query"}:
                            odd = odd[:URL_TEXT]  # a URL is at most 64 KiB (httpx's limit)
                        request = operation.request(slot, odd, world, rng)
                        try:
                            answer = client.request(**request)
                        except httpx.TransportError as error:  # a dropped connection is a failure too
                            failures.append(
                                f"{operation.method} {operation.template} {slot} {family}: {error!r}"
                            )
                            continue
                        sent += 1
                        wrong = _clear_refusal(answer)
                        if wrong is None and family in UNSTORABLE:
                            wrong = _unstorable_refused(answer, slot, odd, form=operation.form)
                        if wrong is not None:
                            failures.append(
                                f"{operation.method} {operation.template} {slot} {family}: {wrong}"
                            )
            assert client.get("/healthz").status_code == 200
    finally:
        server.stop()
    assert sent > 500, f"only {sent} requests: did the routes go missing?"
    assert not failures, f"seed {SEED} (PLIMSOLL_FUZZ_SEED replays it):\n" + "\n".join(failures[:40])


def _unstorable_refused(answer: httpx.Response, slot: Slot, odd: str, *, form: bool) -> str | None:
    """Text no database stores must be refused, naming its field, wherever it could be stored.
    (In a URL, and in an HTML form's body, which is percent-escaped the same way, a surrogate's
    escape is decoded as U+FFFD: harmless, so anything goes. NUL survives both.)"""
    in_json = slot.where.startswith("body") and not form
    reaches_store = in_json or "\x00" in odd
    if not reaches_store:
        return None
    if answer.status_code != 400:
        return f"answered {answer.status_code}, not 400: {answer.text[:200]}"
    if answer.headers.get("content-type", "").startswith("text/html"):
        return None
    error = answer.json()["error"]
    if error["code"] != "INVALID_PARAMETER" or error["details"].get("field") in {None, "", "body"}:
        return f"refused without naming the field: {error}"
    return None

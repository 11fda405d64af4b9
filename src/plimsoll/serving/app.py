"""The model server: one replica of a deployment, as an ASGI app (Starlette: no request models
to validate twice, the body is parsed once by `protocol`).

    app = build_app(source, load, log)      # uvicorn.run(app, ...); `plimsoll serve` does this

`source()` answers the deployment's current `Routing`; a background thread asks it every
`poll_interval` seconds and, when its `revision` moves, loads the versions it does not hold yet
(`load(version)`, through the registry: digests verified, safe formats only) BEFORE switching.
A request takes the routing and models of the moment it arrives and finishes on them, so a
switch drops or fails none. A version that fails to load leaves the last good routing in place;
readiness says so (`load_failed`), the log too, and `on_load_failed(version, message)` is told.

Each request: parsed (`protocol`), routed (`Routing.choose`, sticky on the `X-Plimsoll-Key`
header or the routing's `sticky_key` field of the first row), checked against the version's
signature (422 naming the field), predicted, answered with one prediction id a row. Its rows are
then handed to a writer thread that logs them through `log` (the SDK's buffered `Monitoring`,
embedded or remote) with the deployment and role; a shadow version answers a copy on a thread of
its own, logged with role `shadow` under `shadow_id(prediction_id)`, never returned. The
writer's queue is bounded: rows it cannot take are counted (`/metrics`) and said in the log,
never dropped unseen.

Routes: POST /invocations (MLflow), POST /v2/models/{name}/infer, GET /v2/models/{name},
GET /v2/health/live, GET /v2/health/ready, GET /healthz, GET /readyz, GET /metrics,
POST /feedback (labels and outcomes of prediction ids).
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from plimsoll.core.errors import InvalidParameter, NotFound, PayloadTooLarge, PlimsollError
from plimsoll.core.ids import new_id
from plimsoll.serving import protocol
from plimsoll.serving.entities import ROLE_SHADOW, Routing, TrafficStats, shadow_id
from plimsoll.serving.metrics import ServingMetrics
from plimsoll.serving.parity import Environment, Parity, compare, current_environment
from plimsoll.serving.protocol import ARROW_STREAM, MALFORMED, Limits, Parsed

log = logging.getLogger("plimsoll.serving")
access_log = logging.getLogger("plimsoll.serving.access")

KEY_HEADER = "x-plimsoll-key"
JSON = "application/json"
INLINE_ROWS = 256  # requests of at most this many rows predict on the event loop (no thread hop)
MAX_QUEUED_ROWS = 500_000  # rows waiting for the prediction writer
MAX_SHADOW_REQUESTS = 1_000  # requests waiting for the shadow
SWITCH_INTERVAL = 0.0005  # seconds: see Options.switch_interval
SHOWN_IDS = 16  # an access log line lists a request's ids up to this many rows, else their prefix


class Model(Protocol):
    """What a loaded version gives (`plimsoll.model_registry.flavors.LoadedModel`)."""

    signature: Any  # `.inputs` (columns with `.name`, `.type`) and `.layout`, or None

    def predict(self, data: Any) -> Any: ...


class PredictionLog(Protocol):
    """Where served predictions go (`plimsoll.client.monitoring.Monitoring`)."""

    def log_predictions(
        self,
        model: str,
        features: Any,
        predictions: Any,
        *,
        scores: Any = ...,
        ids: Any = ...,
        timestamps: Any = ...,
        deployment: str = ...,
        role: str = ...,
        project: str = ...,
    ) -> Any: ...

    def log_labels(
        self, ids: Any, labels: Any, *, model: str | None = ..., timestamps: Any = ..., project: str = ...
    ) -> None: ...

    def log_outcomes(
        self, ids: Any, outcomes: Any, *, model: str | None = ..., timestamps: Any = ..., project: str = ...
    ) -> None: ...


Source = Callable[[], Routing]
Loader = Callable[[int], Model]
Report = Callable[[list[TrafficStats]], None]


@dataclass(frozen=True)
class _Version:
    model: Model
    names: tuple[str, ...]  # the signature's input columns ((): no signature)
    layout: str
    proba: Callable[[Any], Any] | None
    numeric: tuple[str, ...] | None = None  # its columns' types, when all are numbers (fast path)


@dataclass(frozen=True)
class _Rows:
    """A request's rows as the fast path took them (one float64 array in the signature's
    order), made one Arrow table with the others of its batch by the writer, off the request
    path."""

    names: tuple[str, ...]
    matrix: Any
    types: tuple[str, ...]


@dataclass(frozen=True)
class _Served:
    routing: Routing
    versions: dict[int, _Version]


@dataclass
class _Logged:
    routing: Routing
    version: int
    role: str
    frame: Any
    predictions: Any
    scores: Any
    ids: list[str]
    at: int


@dataclass
class Options:
    limits: Limits = field(default_factory=Limits)
    poll_interval: float = 1.0
    retry_interval: float = 30.0  # a version that failed to load is tried again after this long
    report_interval: float = 10.0
    scores: bool = True  # answer (and log) a classifier's probabilities
    allow_missing: bool = False  # let null and NaN reach the model
    inline_rows: int = INLINE_ROWS
    max_queued_rows: int = MAX_QUEUED_ROWS
    # The interpreter's thread switch interval while the replica runs (seconds; None: left as
    # it is, 5 ms by default): how long the event loop may wait for the GIL while the writer
    # and the log's own threads work. A replica is the process's work; the old value is put back.
    switch_interval: float | None = SWITCH_INTERVAL
    replica: str = field(default_factory=lambda: new_id()[-12:])


class Replica:
    """The state of one replica: what it serves, its metrics, its writer, shadow, poller and
    reporter threads. `build_app` wraps it in routes; tests may drive it directly."""

    def __init__(
        self,
        source: Source,
        load: Loader,
        log_to: PredictionLog | None,
        *,
        options: Options | None = None,
        report: Report | None = None,
        on_load_failed: Callable[[int, str], None] | None = None,
        trained_in: Callable[[int], Environment | None] | None = None,
    ) -> None:
        self.source, self.load, self.log_to, self.report = source, load, log_to, report
        self.options = options or Options()
        self.on_load_failed = on_load_failed
        self.trained_in = trained_in
        self.parity: dict[int, Parity] = {}  # of each loaded version whose training environment is known
        self.served: _Served | None = None
        self.wanted: Routing | None = None
        self.load_failed: dict[int, str] = {}
        self.metrics: ServingMetrics | None = None
        self._failed_at: tuple[int, float] | None = None  # (revision, when) of the last failed switch
        self._stop = threading.Event()
        self._switch_interval: float | None = None
        self._threads: list[threading.Thread] = []
        self._queue: deque[_Logged] = deque()
        self._queued_rows = 0
        self._queue_lock = threading.Condition()
        self._shadows: deque[tuple[_Served, Parsed, Any, list[str], int]] = deque()
        self._shadow_lock = threading.Condition()
        self.counters = {
            "log_dropped_rows": 0,
            "log_failed_rows": 0,
            "shadow_dropped": 0,
            "source_failures": 0,
        }

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        if self.options.switch_interval is not None:
            self._switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(self.options.switch_interval)
        for target, name in (
            (self._poll, "poll"),
            (self._write, "log"),
            (self._shadow, "shadow"),
            (self._report, "report"),
        ):
            thread = threading.Thread(target=target, name=f"plimsoll-serving-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the threads, after the writer handed every queued row to the log and the last
        traffic was reported."""
        self._stop.set()
        with self._queue_lock:
            self._queue_lock.notify_all()
        with self._shadow_lock:
            self._shadow_lock.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._threads.clear()
        if self._switch_interval is not None:
            sys.setswitchinterval(self._switch_interval)
            self._switch_interval = None

    # -- routing ----------------------------------------------------------------------------------

    def refresh(self) -> bool:
        """Ask the source once; switch when its revision moved and every version it names is
        loaded. True when serving what the source asks."""
        try:
            routing = self.source()
        except Exception as exc:  # the source down: keep serving what is loaded
            self.counters["source_failures"] += 1
            log.warning("serving: the routing source failed (%s); serving revision %s", exc, self._revision())
            return self.served is not None
        self.wanted = routing
        if self.metrics is None:
            self.metrics = ServingMetrics(routing.deployment)
        served = self.served
        if served is not None and served.routing.revision == routing.revision and not self.load_failed:
            return True
        failed_at = self._failed_at
        if failed_at is not None and failed_at[0] == routing.revision:  # retried, not hammered
            return time.monotonic() - failed_at[1] >= self.options.retry_interval and self._switch(routing)
        return self._switch(routing)

    def _switch(self, routing: Routing) -> bool:
        served = self.served
        held = served.versions if served is not None else {}
        loaded: dict[int, _Version] = {}
        failed: dict[int, str] = {}
        for version in routing.versions():
            if version in held:
                loaded[version] = held[version]
                continue
            try:
                loaded[version] = _prepared(self.load(version))
                self._check_parity(routing, version)
            except Exception as exc:
                message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
                failed[version] = message
                log.error(
                    "serving: %s/%s failed to load (%s); %s",
                    routing.model,
                    version,
                    message,
                    "serving the last good routing" if served else "not serving it",
                )
                if self.on_load_failed is not None:
                    with contextlib.suppress(Exception):
                        self.on_load_failed(version, message)
        self.load_failed = failed
        if not failed:
            self.served = _Served(routing, loaded)
            self._failed_at = None
            if served is not None:
                log.info("serving: revision %s -> %s", served.routing.revision, routing.revision)
            return True
        self._failed_at = (routing.revision, time.monotonic())
        if served is None:  # nothing served yet: serve what loaded, without the failed versions
            degraded = _without(routing, set(failed))
            if degraded is not None:
                self.served = _Served(degraded, {v: loaded[v] for v in degraded.versions()})
        return False

    def _check_parity(self, routing: Routing, version: int) -> None:
        """Compare the version's training environment with this process's, and say so where they
        differ (a library that loads models, loudly)."""
        if self.trained_in is None:
            return
        try:
            training = self.trained_in(version)
        except Exception as exc:  # the run's document unreadable: the model still serves
            log.warning(
                "serving: the training environment of %s/%s is unknown (%s)", routing.model, version, exc
            )
            return
        if training is None:
            return
        found = compare(training, current_environment())
        self.parity[version] = found
        if found.critical or found.python_differs:
            log.warning(
                "serving: %s/%s runs in another environment than it trained in: %s",
                routing.model,
                version,
                found.summary(),
            )

    def _revision(self) -> int | None:
        return None if self.served is None else self.served.routing.revision

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._stop.wait(self.options.poll_interval)

    def readiness(self) -> dict[str, Any]:
        served, wanted = self.served, self.wanted
        found: dict[str, Any] = {
            "ready": served is not None,
            "deployment": None if wanted is None else wanted.deployment,
            "model": None if wanted is None else wanted.model,
            "revision": None if served is None else served.routing.revision,
            "wanted_revision": None if wanted is None else wanted.revision,
            "versions": {} if served is None else {str(v): "loaded" for v in served.versions},
            "replica": self.options.replica,
        }
        if served is not None and self.parity:
            found["environment"] = {
                str(v): {"critical": [d.package for d in p.critical], "summary": p.summary()}
                for v, p in self.parity.items()
                if v in served.versions
            }
        if self.load_failed:
            found["load_failed"] = {str(v): m for v, m in self.load_failed.items()}
            found["message"] = (
                f"versions {sorted(self.load_failed)} failed to load; serving revision {found['revision']}"
                if served is not None
                else f"versions {sorted(self.load_failed)} failed to load; nothing to serve"
            )
        return found

    # -- answering --------------------------------------------------------------------------------

    def choose(self, served: _Served, parsed: Parsed, header: str | None) -> tuple[int, str]:
        key = header
        sticky = served.routing.sticky_key
        if key is None and sticky is not None and sticky in parsed.frame.columns:
            key = str(parsed.frame[sticky].iloc[0])
        return served.routing.choose(key)

    def features(self, served: _Served, version: int, parsed: Parsed, field: str) -> Any:
        """The frame the model takes: rows by position named, the sticky field dropped when the
        model does not take it, missing values refused (unless allowed)."""
        entry = served.versions[version]
        frame = protocol.named(parsed, entry.names, entry.layout, field) if entry.names else parsed.frame
        sticky = served.routing.sticky_key
        if sticky is not None and sticky in frame.columns and sticky not in entry.names and entry.names:
            frame = frame.drop(columns=[sticky])
        if not self.options.allow_missing and entry.names:
            protocol.refuse_missing(frame, entry.names, f"{served.routing.model}/{version}")
        return frame

    def answer(self, served: _Served, version: int, parsed: Parsed, field: str) -> tuple[Any, Any, Any]:
        """The features (to log), predictions and scores of a request: a numeric version's rows
        taken as one array when they all fit (`protocol.matrix`), else checked and refused column
        by column as before."""
        entry = served.versions[version]
        if entry.numeric is not None:
            rows = protocol.matrix(parsed, entry.names, entry.numeric, entry.layout)
            if rows is not None:
                predictions, answered = entry.model.predict_matrix(  # type: ignore[attr-defined]
                    rows, proba=entry.proba is not None and self.options.scores
                )
                return _Rows(entry.names, rows, entry.numeric), predictions, _scores(answered)
        frame = self.features(served, version, parsed, field)
        predictions, scores = self.predict(served, version, frame)
        return frame, predictions, scores

    def predict(self, served: _Served, version: int, frame: Any) -> tuple[Any, Any]:
        entry = served.versions[version]
        both = getattr(entry.model, "predict_with_proba", None)
        if entry.proba is None or not self.options.scores:
            return entry.model.predict(frame), None
        if both is not None:  # the signature checked once for both answers
            predictions, answered = both(frame)
        else:
            predictions, answered = entry.model.predict(frame), entry.proba(frame)
        return predictions, _scores(answered)

    def logged(
        self, served: _Served, version: int, role: str, frame: Any, answer: tuple[Any, Any], ids: list[str]
    ) -> None:
        """Hand a request's rows to the writer (never blocks: a full queue counts them)."""
        if self.log_to is None:
            return
        rows = len(ids)
        with self._queue_lock:
            if self._queued_rows + rows > self.options.max_queued_rows:
                self.counters["log_dropped_rows"] += rows
                log.warning(
                    "serving: the prediction log is %d rows behind; %d rows of %s/%s not logged",
                    self._queued_rows,
                    rows,
                    served.routing.model,
                    version,
                )
                return
            self._queue.append(
                _Logged(served.routing, version, role, frame, answer[0], answer[1], ids, _now_ms())
            )
            self._queued_rows += rows
            if self._queued_rows >= 4_096:
                self._queue_lock.notify()

    def shadowed(self, served: _Served, parsed: Parsed, version: int, ids: list[str]) -> None:
        shadow = served.routing.shadow
        if shadow is None or shadow == version or shadow not in served.versions:
            return
        with self._shadow_lock:
            if len(self._shadows) >= MAX_SHADOW_REQUESTS:
                self.counters["shadow_dropped"] += 1
                return
            self._shadows.append((served, parsed, None, ids, _now_ms()))
            self._shadow_lock.notify()

    def _shadow(self) -> None:
        while True:
            with self._shadow_lock:
                while not self._shadows and not self._stop.is_set():
                    self._shadow_lock.wait(0.5)
                if not self._shadows:
                    return
                served, parsed, _, ids, _at = self._shadows.popleft()
            version = served.routing.shadow
            assert version is not None
            started = time.perf_counter()
            status = 200
            answer = None
            try:
                frame, *answered = self.answer(served, version, parsed, "input")
                answer = (answered[0], answered[1])
            except InvalidParameter:
                status = 422
            except Exception as exc:
                status = 500
                log.warning("serving: shadow %s/%s failed: %s", served.routing.model, version, exc)
            if self.metrics is not None:
                self.metrics.observe(
                    version,
                    ROLE_SHADOW,
                    (time.perf_counter() - started) * 1000,
                    status=status,
                    rows=len(ids),
                    predictions=None if answer is None else answer[0],
                )
            if answer is not None:
                self.logged(served, version, ROLE_SHADOW, frame, answer, [shadow_id(i) for i in ids])

    def _write(self) -> None:
        """The writer: hands the queued rows to the log, grouped by version and role, a few
        times a second (sooner when many wait)."""
        while True:
            with self._queue_lock:
                if not self._queue and not self._stop.is_set():
                    self._queue_lock.wait(0.1)
                items = list(self._queue)
                self._queue.clear()
                self._queued_rows = 0
            if items:
                self._hand_over(items)
            elif self._stop.is_set():
                return

    def _hand_over(self, items: list[_Logged]) -> None:
        import numpy as np

        assert self.log_to is not None
        groups: dict[tuple[str, str, str, int, str], list[_Logged]] = {}
        for item in items:
            r = item.routing
            groups.setdefault((r.project, r.deployment, r.model, item.version, item.role), []).append(item)
        for (project, deployment, model, version, role), group in groups.items():
            rows = sum(len(item.ids) for item in group)
            try:
                frame = _features([g.frame for g in group])
                predictions = np.concatenate([_column(g.predictions, len(g.ids)) for g in group])
                scores = None
                if all(g.scores is not None for g in group):
                    scores = np.concatenate([np.asarray(g.scores) for g in group])
                self.log_to.log_predictions(
                    f"{model}/{version}",
                    frame if not hasattr(frame, "reset_index") else frame.reset_index(drop=True),
                    predictions,
                    scores=scores,
                    ids=[i for g in group for i in g.ids],
                    timestamps=np.concatenate([np.full(len(g.ids), g.at, dtype=np.int64) for g in group]),
                    deployment=deployment,
                    role=role,
                    project=project,
                )
            except Exception as exc:  # refused, or the buffer full past its wait: counted and said
                self.counters["log_failed_rows"] += rows
                log.error("serving: %d rows of %s/%s (%s) not logged: %s", rows, model, version, role, exc)

    def _report(self) -> None:
        while not self._stop.wait(self.options.report_interval):
            self.report_now()
        self.report_now()

    def report_now(self) -> None:
        """Report the traffic since the last report (put back if the report fails)."""
        if self.report is None or self.metrics is None:
            return
        stats = self.metrics.drain()
        if not stats:
            return
        try:
            self.report(stats)
        except Exception as exc:
            self.metrics.restore(stats)
            log.warning("serving: traffic not reported (%s); kept for the next report", exc)

    def gauges(self) -> dict[str, float]:
        found: dict[str, float] = {f"plimsoll_serving_{k}_total": float(v) for k, v in self.counters.items()}
        found["plimsoll_serving_log_queued_rows"] = float(self._queued_rows)
        buffered = getattr(self.log_to, "buffered", None)
        if isinstance(buffered, int):
            found["plimsoll_serving_log_buffered_rows"] = float(buffered)
        found["plimsoll_serving_ready"] = 1.0 if self.served is not None else 0.0
        found["plimsoll_serving_revision"] = float(self._revision() or 0)
        found["plimsoll_serving_load_failed_versions"] = float(len(self.load_failed))
        served = self.served
        found["plimsoll_serving_environment_critical_differences"] = float(
            sum(
                len(p.critical) for v, p in self.parity.items() if served is not None and v in served.versions
            )
        )
        return found


def _column(values: Any, rows: int) -> Any:
    """A model's answers as one value a row (the first column of a 2-D answer)."""
    import numpy as np

    array = np.asarray(values)
    return array.reshape(rows, -1)[:, 0] if array.ndim > 1 else array


def _scores(answered: Any) -> Any:
    """A classifier's scores: the positive class's probability, or every class's."""
    if answered is None:
        return None
    import numpy as np

    proba = np.asarray(answered)
    return proba[:, 1] if proba.ndim == 2 and proba.shape[1] == 2 else proba


def _features(items: list[Any]) -> Any:
    """The logged features of a group of requests: the fast path's arrays stacked into one Arrow
    table (the columns as JSON gives them: float64, int64), else one frame of them all."""
    import numpy as np
    import pandas as pd

    first = items[0]
    if isinstance(first, _Rows) and all(
        isinstance(i, _Rows) and i.names == first.names and i.types == first.types for i in items
    ):
        import pyarrow as pa

        stacked = first.matrix if len(items) == 1 else np.concatenate([i.matrix for i in items])
        by_column = np.ascontiguousarray(stacked.T)
        return pa.table(
            {
                name: pa.array(by_column[i] if kind.startswith("float") else by_column[i].astype(np.int64))
                for i, (name, kind) in enumerate(zip(first.names, first.types, strict=True))
            }
        )
    frames = [_rows_frame(i.names, i.matrix, i.types) if isinstance(i, _Rows) else i for i in items]
    return frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)


def _rows_frame(names: tuple[str, ...], matrix: Any, types: tuple[str, ...]) -> Any:
    import pandas as pd

    return pd.DataFrame(
        {
            n: matrix[:, i].astype("float64" if t.startswith("float") else "int64")
            for i, (n, t) in enumerate(zip(names, types, strict=True))
        }
    )


def _prepared(model: Model) -> _Version:
    signature = getattr(model, "signature", None)
    names = tuple(c.name for c in signature.inputs) if signature is not None else ()
    layout = signature.layout if signature is not None else "frame"
    try:
        proba = model.predict_proba  # type: ignore[attr-defined]
    except AttributeError:
        proba = None
    numeric = getattr(model, "numeric_inputs", None) if hasattr(model, "predict_matrix") else None
    return _Version(model, names, layout, proba, numeric if isinstance(numeric, tuple) else None)


def _without(routing: Routing, failed: set[int]) -> Routing | None:
    """The routing without the versions that failed: the stable one must have loaded."""
    stable = routing.stable if routing.stable not in failed else None
    canary = routing.canary if routing.canary not in failed else None
    if stable is None and (canary is None or routing.stable is not None):
        return None
    return replace(
        routing,
        stable=stable,
        canary=canary,
        canary_weight=routing.canary_weight if canary is not None else 0.0,
        shadow=routing.shadow if routing.shadow not in failed else None,
    )


# -- the app ---------------------------------------------------------------------------------------


def build_app(
    source: Source,
    load: Loader,
    log_to: PredictionLog | None = None,
    *,
    options: Options | None = None,
    report: Report | None = None,
    on_load_failed: Callable[[int, str], None] | None = None,
    trained_in: Callable[[int], Environment | None] | None = None,
) -> Starlette:
    """The model server of one deployment (see the module's docstring). `app.state.replica` is
    its `Replica`; its threads run from the app's startup to its shutdown. `trained_in(version)`
    gives a version's training environment (its run's captured one), compared with this
    process's at load (`parity.compare`): readiness and /metrics say what differs."""
    replica = Replica(
        source,
        load,
        log_to,
        options=options,
        report=report,
        on_load_failed=on_load_failed,
        trained_in=trained_in,
    )
    limits = replica.options.limits

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        replica.start()
        try:
            yield
        finally:
            await run_in_threadpool(replica.stop)
            # The writer has handed its last rows to the log: flush them here, in the app's own
            # shutdown (uvicorn raises SIGTERM again after it, so code after `run` never runs).
            flush = getattr(log_to, "flush", None)
            if flush is not None:
                try:
                    await run_in_threadpool(flush, 30.0)
                except Exception as exc:  # the rows stay in the log's buffer (and spool), said here
                    log.warning("serving: the prediction log was not flushed on shutdown (%s)", exc)

    async def invocations(request: Request) -> Response:
        return await _answer(request, "mlflow")

    async def infer(request: Request) -> Response:
        return await _answer(request, "oip")

    async def _answer(request: Request, style: str) -> Response:
        started = time.perf_counter()
        served = replica.served
        if served is None:
            return _error(503, "UNAVAILABLE", "no model is loaded yet: see /readyz", {})
        if style == "oip" and request.path_params["name"] not in (
            served.routing.model,
            served.routing.deployment,
        ):
            return _failure(
                NotFound(f"this server serves {served.routing.model!r}, not {request.path_params['name']!r}")
            )
        version, role = 0, ""
        try:
            body = await _body(request, limits)
            if request.headers.get("content-type", JSON).startswith(ARROW_STREAM):
                parsed = protocol.parse_arrow(body, limits)
            elif style == "oip":
                parsed = protocol.parse_oip(protocol.loads(body), limits)
            else:
                parsed = protocol.parse_mlflow(protocol.loads(body), limits)
            version, role = replica.choose(served, parsed, request.headers.get(KEY_HEADER))
            field = "inputs" if style == "oip" else "input"
            if parsed.rows <= replica.options.inline_rows:
                frame, predictions, scores = replica.answer(served, version, parsed, field)
            else:
                frame, predictions, scores = await run_in_threadpool(
                    replica.answer, served, version, parsed, field
                )
        except PlimsollError as exc:
            return _refused(request, exc, version, role, started)
        except Exception:
            ref = f"{served.routing.model}/{version}"
            log.exception("serving: %s failed to predict", ref)
            return _refused(request, None, version, role, started, ref=ref)
        try:
            prefix = new_id()
            ids = [f"{prefix}-{row}" for row in range(parsed.rows)]
            answer = protocol.as_list(predictions)
            listed_scores = None if scores is None else protocol.as_list(scores)
            if style == "oip":
                content = protocol.oip_answer(
                    served.routing.model, version, parsed.request_id, predictions, ids, scores, parsed.outputs
                )
            else:
                content = protocol.mlflow_answer(answer, ids, listed_scores)
        except Exception:
            ref = f"{served.routing.model}/{version}"
            log.exception("serving: %s's answer could not be written", ref)
            return _refused(request, None, version, role, started, ref=ref)
        latency = (time.perf_counter() - started) * 1000
        if replica.metrics is not None:
            replica.metrics.observe(version, role, latency, rows=parsed.rows, predictions=predictions)
        replica.logged(served, version, role, frame, (predictions, scores), ids)
        replica.shadowed(served, parsed, version, ids)
        if access_log.isEnabledFor(logging.INFO):
            _access(request, 200, latency, served.routing, version, role, ids)
        return Response(
            content,
            media_type=JSON,
            headers={"x-plimsoll-version": str(version), "x-plimsoll-role": role},
        )

    def _refused(
        request: Request,
        exc: PlimsollError | None,
        version: int,
        role: str,
        started: float,
        *,
        ref: str = "",
    ) -> Response:
        latency = (time.perf_counter() - started) * 1000
        response = (
            _failure(exc)
            if exc is not None
            else _error(500, "INTERNAL", f"{ref} failed to predict; the server's log has the error", {})
        )
        if version and replica.metrics is not None:
            replica.metrics.observe(version, role, latency, status=response.status_code)
        if access_log.isEnabledFor(logging.INFO):
            served = replica.served
            _access(
                request, response.status_code, latency, served.routing if served else None, version, role, []
            )
        return response

    async def model_metadata(request: Request) -> Response:
        served = replica.served
        if served is None:
            return _error(503, "UNAVAILABLE", "no model is loaded yet: see /readyz", {})
        if request.path_params["name"] not in (served.routing.model, served.routing.deployment):
            return _failure(NotFound(f"this server serves {served.routing.model!r}"))
        first = served.routing.stable if served.routing.stable is not None else served.routing.canary
        entry = served.versions[first or next(iter(served.versions))]
        model = entry.model
        inputs = [
            {"name": c.name, "type": c.type} for c in (model.signature.inputs if model.signature else ())
        ]
        return Response(
            protocol.model_metadata(served.routing.model, sorted(served.versions), inputs), media_type=JSON
        )

    async def live(request: Request) -> Response:
        return Response(b'{"live":true}', media_type=JSON)

    async def ready(request: Request) -> Response:
        found = replica.readiness()
        return Response(orjson.dumps(found), status_code=200 if found["ready"] else 503, media_type=JSON)

    async def metrics(request: Request) -> Response:
        text = replica.metrics.exposition(replica.gauges()) if replica.metrics else ""
        return Response(text, media_type="text/plain; version=0.0.4")

    async def feedback(request: Request) -> Response:
        served = replica.served or (_Served(replica.wanted, {}) if replica.wanted else None)
        if served is None or replica.log_to is None:
            return _error(503, "UNAVAILABLE", "this server has no routing or no prediction log yet", {})
        try:
            body = protocol.loads(await _body(request, limits))
            ids, labels, outcomes = _feedback(body, limits)
            routing = served.routing
            if labels is not None:
                replica.log_to.log_labels(ids, labels, model=routing.model, project=routing.project)
            if outcomes is not None:
                replica.log_to.log_outcomes(ids, outcomes, model=routing.model, project=routing.project)
        except PlimsollError as exc:
            return _failure(exc)
        return Response(orjson.dumps({"accepted": len(ids)}), status_code=202, media_type=JSON)

    app = Starlette(
        routes=[
            Route("/invocations", invocations, methods=["POST"]),
            Route("/v2/models/{name}/infer", infer, methods=["POST"]),
            Route("/v2/models/{name}", model_metadata, methods=["GET"]),
            Route("/v2/health/live", live, methods=["GET"]),
            Route("/v2/health/ready", ready, methods=["GET"]),
            Route("/healthz", live, methods=["GET"]),
            Route("/readyz", ready, methods=["GET"]),
            Route("/metrics", metrics, methods=["GET"]),
            Route("/feedback", feedback, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.replica = replica
    return app


async def _body(request: Request, limits: Limits) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        limits.check_body(int(declared))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        limits.check_body(size)
        chunks.append(chunk)
    return b"".join(chunks)


def _feedback(body: Any, limits: Limits) -> tuple[list[str], list[Any] | None, dict[str, list[Any]] | None]:
    if not isinstance(body, dict):
        raise InvalidParameter("request", "must be an object with ids, and labels and/or outcomes")
    unknown = sorted(set(body) - {"ids", "labels", "outcomes"})
    if unknown:
        raise InvalidParameter(unknown[0], "is not a field of feedback (ids, labels, outcomes)")
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise InvalidParameter("ids", "must be a non-empty list of prediction ids")
    limits.check_rows("ids", len(ids))
    labels, outcomes = body.get("labels"), body.get("outcomes")
    if labels is None and outcomes is None:
        raise InvalidParameter("request", "needs labels, outcomes or both")
    if labels is not None and (not isinstance(labels, list) or len(labels) != len(ids)):
        raise InvalidParameter("labels", f"must be a list of {len(ids)} labels, one per id")
    if outcomes is not None:
        if not isinstance(outcomes, dict) or not outcomes:
            raise InvalidParameter("outcomes", "must be an object of outcome columns")
        for name, values in outcomes.items():
            if not isinstance(values, list) or len(values) != len(ids):
                raise InvalidParameter(f"outcomes.{name}", f"must be a list of {len(ids)} values, one per id")
    return ids, labels, outcomes


def _failure(exc: PlimsollError) -> Response:
    if isinstance(exc, PayloadTooLarge):
        status = 413
    elif isinstance(exc, InvalidParameter):
        status = 400 if exc.field == MALFORMED else 422
    else:
        status = exc.status
    return _error(status, exc.code, exc.message, exc.details)


def _error(status: int, code: str, message: str, details: dict[str, Any]) -> Response:
    body = {"error": {"code": code, "message": message, "details": details}}
    return Response(orjson.dumps(body, default=str), status_code=status, media_type=JSON)


def _access(
    request: Request,
    status: int,
    latency: float,
    routing: Routing | None,
    version: int,
    role: str,
    ids: Sequence[str],
) -> None:
    line: dict[str, Any] = {
        "method": request.method,
        "path": request.url.path,
        "status": status,
        "latency_ms": round(latency, 3),
        "deployment": routing.deployment if routing else None,
        "model": routing.model if routing else None,
        "version": version or None,
        "role": role or None,
        "rows": len(ids),
    }
    if len(ids) <= SHOWN_IDS:
        line["prediction_ids"] = list(ids)
    else:
        line["prediction_id_prefix"] = ids[0].rsplit("-", 1)[0]
    access_log.info(orjson.dumps(line).decode())


def _now_ms() -> int:
    return time.time_ns() // 1_000_000

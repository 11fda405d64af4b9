"""The error contract: every SDK call, given the same bad input, raises the same exception, with the
same code (and, for an `InvalidParameter`, the same `field`), embedded and over HTTP, on SQLite and
on PostgreSQL.

Each case runs once per mode: with a `Client` on the database itself (embedded) and with a `Client`
on a live server over that same database (HTTP). Both clients share the database, so a case names
what it creates with `ctx.name(...)`, which is different in each mode. Writes are batched: an error
of a batched write surfaces at `run.flush()` (or `synchronous=True`, or `end`), as the SDK says, and
the cases ask for it there.

Every public method of `Client` and `ActiveRun`, and every function of the `plimsoll` module, is
covered by at least one case (`test_every_sdk_call_has_a_case` keeps it so).
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import plimsoll as pl
from plimsoll.client import ActiveRun, Client
from plimsoll.core.config import Settings
from plimsoll.core.errors import (
    BlobCorrupted,
    Conflict,
    InvalidParameter,
    NotFound,
    PlimsollError,
    Unavailable,
)
from plimsoll.core.jobs import JobService
from plimsoll.platform import Platform
from plimsoll.serving.entities import TrafficStats

UNKNOWN_ID = "0123456789abcdef0123456789abcdef"
JOB_KIND = "contract"
LONG = "x" * 300
HOOK_URL = "https://hooks.example.com/in"


@dataclass
class Ctx:
    client: Client
    mode: str
    tmp: Path
    jobs: JobService  # the server's: it knows the job kinds the cases use (clients cannot enqueue)

    def name(self, base: str) -> str:
        return f"{base}-{self.mode}"

    def run(self, experiment: str = "e", **kwargs: Any) -> ActiveRun:
        return self.client.start_run(self.name(experiment), capture=False, **kwargs)

    def finished_run(self) -> str:
        with self.run() as run:
            run.log_metric("m", 1.0)
        return run.id

    def deleted_experiment(self) -> str:
        name = self.name("gone")
        self.client.create_experiment(name)
        self.client.delete_experiment(name)
        return name

    def queued_job(self) -> str:
        return self.jobs.enqueue(JOB_KIND, {"mode": self.mode}).id

    def ended_job(self, outcome: str) -> str:
        """A job that ran once and ended `dead` (its only attempt failed) or `succeeded`."""
        self.jobs.enqueue(JOB_KIND, {"mode": self.mode}, max_attempts=1)
        (claim,) = self.jobs.claim(f"contract-{self.mode}", [JOB_KIND], 1, 30.0)
        if outcome == "dead":
            self.jobs.fail(claim.lease_token, "boom")
        else:
            self.jobs.complete(claim.lease_token, {"ok": True})
        return claim.job.id

    def webhook(self) -> str:
        return self.client.create_webhook(self.name("hook"), HOOK_URL, ["run.*"]).subscription.id

    def file(self, name: str = "f.txt") -> Path:
        path = self.tmp / self.mode / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("content")
        return path


@dataclass(frozen=True)
class Outcome:
    """What a call did: the exception's class, code and field, or "ok"."""

    kind: str
    code: str | None = None
    field: str | None = None


def outcome_of(action: Callable[[Ctx], object], ctx: Ctx) -> Outcome:
    try:
        action(ctx)
    except PlimsollError as error:
        return Outcome(type(error).__name__, error.code, getattr(error, "field", None))
    except Exception as error:
        return Outcome(type(error).__name__)
    return Outcome("ok")


def expect(cls: type[Exception] | None, field: str | None = None) -> Outcome:
    if cls is None:
        return Outcome("ok")
    code = cls.code if issubclass(cls, PlimsollError) else None
    if issubclass(cls, InvalidParameter):
        assert field is not None, "an InvalidParameter case names its field"
    return Outcome(cls.__name__, code, field)


@dataclass(frozen=True)
class Case:
    id: str
    covers: tuple[str, ...]  # the SDK calls it exercises: "Client.get_run", "ActiveRun.end", "pl.flush"
    action: Callable[[Ctx], object]
    expected: Outcome


def _logged_then_changed_param(ctx: Ctx) -> None:
    run = ctx.run()
    run.log_param("a", 1).flush()
    run.log_param("a", 2)  # no longer in this client's buffer: the service decides
    run.flush()


def _over_artifact_path(ctx: Ctx) -> None:
    ctx.run().log_text("x", "a/" * 600 + "f")


def _labelled() -> object:
    """A small table to evaluate: a feature and a binary label."""
    import pandas as pd

    return pd.DataFrame({"x": [0.1, 0.4, 0.35, 0.8], "label": [0, 0, 1, 1]})


def _scores(rows: object) -> object:
    """A model as a function: the positive class's probability, the feature itself."""
    return rows["x"].to_numpy()  # type: ignore[index]


def _module(action: Callable[[], object]) -> Callable[[Ctx], object]:
    """Run `action` with the case's client as the module's default client."""

    def run_with_default(ctx: Ctx) -> object:
        pl.set_default_client(ctx.client)
        assert pl.default_client() is ctx.client
        try:
            return action()
        finally:
            pl.set_default_client(None)

    return run_with_default


def _metric_history_of_unknown_key(ctx: Ctx) -> object:
    return ctx.client.get_metric_history(ctx.finished_run(), "never-logged")


def _download(path: str) -> Callable[[Ctx], object]:
    def download(ctx: Ctx) -> object:
        run = ctx.run()
        run.log_text("hello", "a/b.txt")
        return ctx.client.download_artifact(run.id, path, ctx.tmp / ctx.mode / "out")

    return download


def _corrupted(tamper: Callable[[bytes], bytes], size: int = 0) -> Callable[[Ctx], object]:
    """Download an artifact whose stored blob no longer hashes to its digest."""

    def download(ctx: Ctx) -> object:
        run = ctx.run()
        run.log_text(f"the content of an artifact logged {ctx.mode}".ljust(size, "x"), "a.txt")
        (artifact,) = ctx.client.list_artifacts(run.id)
        (blob,) = ctx.tmp.rglob(artifact.digest)  # each mode has a blob folder of its own
        blob.write_bytes(tamper(blob.read_bytes()))
        return ctx.client.download_artifact(run.id, "a.txt", ctx.tmp / ctx.mode / "out")

    return download


def _scored_nothing(ctx: Ctx) -> object:
    """Score a dataset that does not exist with a model version that does."""
    with ctx.run() as run:
        run.log_text("weights", "model/weights.txt")
    ctx.client.registry.register(ctx.name("scorer"), run_id=run.id, artifact_path="model")
    return ctx.client.score(f"{ctx.name('scorer')}/1", ctx.name("nothing"))


def _contradicted_signature(ctx: Ctx) -> object:
    import pandas as pd
    from sklearn.dummy import DummyClassifier

    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0]})
    model = DummyClassifier().fit(frame, [0, 1, 1])
    signature = {"inputs": [{"name": "x", "type": "string"}]}
    return ctx.run().log_model(model, input_example=frame, signature=signature)


def _restart_after_close(ctx: Ctx) -> None:
    ctx.client.close()
    ctx.run()


def _active_run(ctx: Ctx) -> None:
    run = ctx.run()
    assert ctx.client.active_run() is run
    run.end()
    assert ctx.client.active_run() is None
    run.log_metric("m", 1.0)  # after its end


# One case a line or two, as a table: the formatter would spread it over five hundred lines.
# fmt: off
CASES: list[Case] = [
    # -- runs: start ------------------------------------------------------------------------------
    Case("start_run: experiment name too long", ("Client.start_run",),
         lambda c: c.client.start_run(LONG, capture=False), expect(InvalidParameter, "name")),
    Case("start_run: experiment name with a slash", ("Client.start_run",),
         lambda c: c.client.start_run("a/b", capture=False), expect(InvalidParameter, "name")),
    Case("start_run: run name too long", ("Client.start_run",),
         lambda c: c.run(name=LONG), expect(InvalidParameter, "run_name")),
    Case("start_run: deleted experiment", ("Client.start_run",),
         lambda c: c.client.start_run(c.deleted_experiment(), capture=False), expect(Conflict)),
    Case("start_run: unknown project", ("Client.start_run",),
         lambda c: c.run(project="no-such-project"), expect(NotFound)),
    Case("start_run: nested without an active run", ("Client.start_run",),
         lambda c: c.run(nested=True), expect(InvalidParameter, "nested")),
    Case("start_run: malformed parent run id, at flush", ("Client.start_run", "ActiveRun.flush"),
         lambda c: c.run(parent_run_id="not-an-id").flush(), expect(InvalidParameter, "parent_run_id")),
    Case("start_run: bad param value", ("Client.start_run",),
         lambda c: c.run(params={"p": "v" * 7000}), expect(InvalidParameter, "params.p")),
    Case("start_run: bad tag key", ("Client.start_run",),
         lambda c: c.run(tags={"../k": "v"}), expect(InvalidParameter, "tags")),
    Case("active_run: logging after its end", ("Client.active_run", "ActiveRun.end"),
         _active_run, expect(Conflict)),
    Case("close: starting a run on a closed client", ("Client.close",),
         _restart_after_close, expect(Unavailable)),
    # -- runs: delete, restore, tags ----------------------------------------------------------------
    Case("delete_run: unknown id", ("Client.delete_run",),
         lambda c: c.client.delete_run(UNKNOWN_ID), expect(NotFound)),
    Case("delete_run: malformed id", ("Client.delete_run",),
         lambda c: c.client.delete_run("../x"), expect(InvalidParameter, "run_id")),
    Case("restore_run: unknown id", ("Client.restore_run",),
         lambda c: c.client.restore_run(UNKNOWN_ID), expect(NotFound)),
    Case("restore_run: a run deleted then restored", ("Client.delete_run", "Client.restore_run"),
         lambda c: c.client.restore_run(c.client.delete_run(c.finished_run()).id), expect(None)),
    Case("resume_run: unknown id", ("Client.resume_run",),
         lambda c: c.client.resume_run(UNKNOWN_ID), expect(NotFound)),
    Case("resume_run: malformed id", ("Client.resume_run",),
         lambda c: c.client.resume_run("../x"), expect(InvalidParameter, "run_id")),
    Case("resume_run: a deleted run", ("Client.resume_run",),
         lambda c: c.client.resume_run(c.client.delete_run(c.finished_run()).id), expect(Conflict)),
    Case("resume_run: a finished run", ("Client.resume_run",),
         lambda c: c.client.resume_run(c.finished_run()).end(), expect(None)),
    Case("delete_tag: a tag the run does not have", ("Client.delete_tag",),
         lambda c: c.client.delete_tag(c.finished_run(), "never-set"), expect(NotFound)),
    Case("delete_tag: bad key", ("Client.delete_tag",),
         lambda c: c.client.delete_tag(c.finished_run(), "../k"), expect(InvalidParameter, "key")),
    # -- events -----------------------------------------------------------------------------------
    Case("events: unknown type", ("Client.events",),
         lambda c: c.client.events(types=["no.such_thing"]), expect(InvalidParameter, "types")),
    Case("events: a token that is not one", ("Client.events",),
         lambda c: c.client.events("not-a-token"), expect(InvalidParameter, "after")),
    Case("events: limit out of range", ("Client.events",),
         lambda c: c.client.events(limit=0), expect(InvalidParameter, "limit")),
    Case("event_types: the catalog", ("Client.event_types",),
         lambda c: c.client.event_types(), expect(None)),
    # -- runs: read -------------------------------------------------------------------------------
    Case("get_run: unknown id", ("Client.get_run",),
         lambda c: c.client.get_run(UNKNOWN_ID), expect(NotFound)),
    Case("get_run: malformed id", ("Client.get_run",),
         lambda c: c.client.get_run("not-an-id"), expect(InvalidParameter, "run_id")),
    # Ids are read in any case (as a short id copied from a page may be): an unknown one is not found.
    Case("get_run: upper-case id", ("Client.get_run",),
         lambda c: c.client.get_run(UNKNOWN_ID.upper()), expect(NotFound)),
    Case("get_run: unknown short id", ("Client.get_run",),
         lambda c: c.client.get_run("0000"), expect(NotFound)),
    Case("get_run: short id too short", ("Client.get_run",),
         lambda c: c.client.get_run("abc"), expect(InvalidParameter, "run_id")),
    Case("get_run: id with a slash", ("Client.get_run",),
         lambda c: c.client.get_run("a/b"), expect(InvalidParameter, "run_id")),
    Case("get_run: id with dot segments", ("Client.get_run",),
         lambda c: c.client.get_run("../experiments"), expect(InvalidParameter, "run_id")),
    Case("get_run: id with a query", ("Client.get_run",),
         lambda c: c.client.get_run("x?y=1"), expect(InvalidParameter, "run_id")),
    Case("get_run: empty id", ("Client.get_run",),
         lambda c: c.client.get_run(""), expect(InvalidParameter, "run_id")),
    Case("info: after a refused write", ("ActiveRun.info",),
         lambda c: c.run(parent_run_id="not-an-id").info(), expect(InvalidParameter, "parent_run_id")),
    # -- search -----------------------------------------------------------------------------------
    Case("search_runs: bad filter syntax", ("Client.search_runs",),
         lambda c: c.client.search_runs(filter="params.lr >>> 1"), expect(InvalidParameter, "filter")),
    Case("search_runs: unknown filter entity", ("Client.search_runs",),
         lambda c: c.client.search_runs(filter="colour.x = 'red'"), expect(InvalidParameter, "filter")),
    Case("search_runs: bad order_by", ("Client.search_runs",),
         lambda c: c.client.search_runs(order_by=["metrics.x SIDEWAYS"]), expect(InvalidParameter, "order_by")),
    Case("search_runs: max_results 0", ("Client.search_runs",),
         lambda c: c.client.search_runs(max_results=0), expect(InvalidParameter, "max_results")),
    Case("search_runs: max_results negative", ("Client.search_runs",),
         lambda c: c.client.search_runs(max_results=-5), expect(InvalidParameter, "max_results")),
    Case("search_runs: max_results not an integer", ("Client.search_runs",),
         lambda c: c.client.search_runs(max_results="10"), expect(InvalidParameter, "max_results")),  # type: ignore[arg-type]
    Case("search_runs: unknown experiment", ("Client.search_runs",),
         lambda c: c.client.search_runs(c.name("nope")), expect(NotFound)),
    Case("search_runs: unknown project", ("Client.search_runs",),
         lambda c: c.client.search_runs("e", project="no-such-project"), expect(NotFound)),
    Case("get_metric_history: unknown run", ("Client.get_metric_history",),
         lambda c: c.client.get_metric_history(UNKNOWN_ID, "m"), expect(NotFound)),
    Case("get_metric_history: malformed run id", ("Client.get_metric_history",),
         lambda c: c.client.get_metric_history("not-an-id", "m"), expect(InvalidParameter, "run_id")),
    Case("get_metric_history: key with dot segments", ("Client.get_metric_history",),
         lambda c: c.client.get_metric_history(c.finished_run(), "../x"), expect(InvalidParameter, "key")),
    Case("get_metric_history: key too long", ("Client.get_metric_history",),
         lambda c: c.client.get_metric_history(c.finished_run(), LONG), expect(InvalidParameter, "key")),
    Case("get_metric_history: empty key", ("Client.get_metric_history",),
         lambda c: c.client.get_metric_history(c.finished_run(), ""), expect(InvalidParameter, "key")),
    Case("get_metric_history: max_points out of range", ("Client.get_metric_history",),
         lambda c: c.client.get_metric_history(c.finished_run(), "m", max_points=1),
         expect(InvalidParameter, "max_points")),
    Case("get_metric_history: max_points not an integer", ("Client.get_metric_history",),
         lambda c: c.client.get_metric_history(c.finished_run(), "m", max_points="many"),  # type: ignore[arg-type]
         expect(InvalidParameter, "max_points")),
    Case("get_metric_history: a key never logged is not found", ("Client.get_metric_history",),
         _metric_history_of_unknown_key, expect(NotFound)),
    # -- artifacts --------------------------------------------------------------------------------
    Case("list_artifacts: unknown run", ("Client.list_artifacts",),
         lambda c: c.client.list_artifacts(UNKNOWN_ID), expect(NotFound)),
    Case("list_artifacts: malformed run id", ("Client.list_artifacts",),
         lambda c: c.client.list_artifacts("not-an-id"), expect(InvalidParameter, "run_id")),
    Case("list_artifacts: prefix with dot segments", ("Client.list_artifacts",),
         lambda c: c.client.list_artifacts(c.finished_run(), prefix="../x"), expect(InvalidParameter, "prefix")),
    Case("download_artifact: missing artifact", ("Client.download_artifact",),
         _download("a/missing.txt"), expect(NotFound)),
    Case("download_artifact: dot segments", ("Client.download_artifact",),
         _download("a/../../b.txt"), expect(InvalidParameter, "path")),
    Case("download_artifact: absolute path", ("Client.download_artifact",),
         _download("/etc/passwd"), expect(InvalidParameter, "path")),
    Case("download_artifact: empty path", ("Client.download_artifact",),
         _download(""), expect(InvalidParameter, "path")),
    Case("download_artifact: stored blob changed", ("Client.download_artifact",),
         _corrupted(lambda content: content.upper()), expect(BlobCorrupted)),
    Case("download_artifact: stored blob truncated", ("Client.download_artifact",),
         _corrupted(lambda content: content[:10]), expect(BlobCorrupted)),
    Case("download_artifact: stored blob of many chunks changed", ("Client.download_artifact",),
         _corrupted(lambda content: content.upper(), size=3 << 20), expect(BlobCorrupted)),
    # The server checks the whole blob before its answer starts: never a body broken off midway.
    Case("download_artifact: stored blob of many chunks cut short", ("Client.download_artifact",),
         _corrupted(lambda content: content[:-10], size=3 << 20), expect(BlobCorrupted)),
    Case("download_artifact: unknown run", ("Client.download_artifact",),
         lambda c: c.client.download_artifact(UNKNOWN_ID, "a.txt", c.tmp / "x"), expect(NotFound)),
    Case("download_artifact: malformed run id", ("Client.download_artifact",),
         lambda c: c.client.download_artifact("not-an-id", "a.txt", c.tmp / "x"),
         expect(InvalidParameter, "run_id")),
    Case("log_artifact: dot segments", ("ActiveRun.log_artifact",),
         lambda c: c.run().log_artifact(c.file(), artifact_path="../up"), expect(InvalidParameter, "artifact_path")),
    Case("log_artifact: missing local file", ("ActiveRun.log_artifact",),
         lambda c: c.run().log_artifact(c.tmp / "missing.txt"), expect(FileNotFoundError)),
    Case("log_model: an object no flavor stores", ("ActiveRun.log_model",),
         lambda c: c.run().log_model(object()), expect(InvalidParameter, "model")),
    Case("log_model: dot segments in its name", ("ActiveRun.log_model",),
         lambda c: c.run().log_model(object(), "../up"), expect(InvalidParameter, "name")),
    Case("log_model: a signature its input example contradicts", ("ActiveRun.log_model",),
         _contradicted_signature, expect(InvalidParameter, "input_example.x")),
    Case("log_text: dot segments", ("ActiveRun.log_text",),
         lambda c: c.run().log_text("x", "a/../../b"), expect(InvalidParameter, "artifact_path")),
    Case("log_text: absolute path", ("ActiveRun.log_text",),
         lambda c: c.run().log_text("x", "/etc/passwd"), expect(InvalidParameter, "artifact_path")),
    Case("log_text: path too long", ("ActiveRun.log_text",),
         _over_artifact_path, expect(InvalidParameter, "artifact_path")),
    Case("log_dict: backslash in the path", ("ActiveRun.log_dict",),
         lambda c: c.run().log_dict({"a": 1}, "a\\b.json"), expect(InvalidParameter, "artifact_path")),
    Case("log_dict: not JSON", ("ActiveRun.log_dict",),
         lambda c: c.run().log_dict({"a": object()}, "a.json"), expect(TypeError)),
    Case("log_input: unknown dataset", ("ActiveRun.log_input",),
         lambda c: c.run().log_input("never-registered@1"), expect(NotFound)),
    Case("log_input: context not among the contexts", ("ActiveRun.log_input",),
         lambda c: c.run().log_input("never-registered", context="serving"), expect(InvalidParameter, "context")),
    Case("log_input: version not a number", ("ActiveRun.log_input",),
         lambda c: c.run().log_input("data@first"), expect(InvalidParameter, "dataset")),
    Case("log_output: unknown dataset", ("ActiveRun.log_output",),
         lambda c: c.run().log_output("never-registered"), expect(NotFound)),
    # -- experiments ------------------------------------------------------------------------------
    Case("create_experiment: name too long", ("Client.create_experiment",),
         lambda c: c.client.create_experiment(LONG), expect(InvalidParameter, "name")),
    Case("create_experiment: empty name", ("Client.create_experiment",),
         lambda c: c.client.create_experiment(""), expect(InvalidParameter, "name")),
    Case("create_experiment: description too long", ("Client.create_experiment",),
         lambda c: c.client.create_experiment(c.name("d"), description="d" * 20_001),
         expect(InvalidParameter, "description")),
    Case("create_experiment: exists already", ("Client.create_experiment",),
         lambda c: [c.client.create_experiment(c.name("twice")) for _ in range(2)], expect(Conflict)),
    Case("create_experiment: unknown project", ("Client.create_experiment",),
         lambda c: c.client.create_experiment(c.name("p"), project="no-such-project"), expect(NotFound)),
    Case("get_experiment: unknown name", ("Client.get_experiment",),
         lambda c: c.client.get_experiment(c.name("nope")), expect(NotFound)),
    Case("get_experiment: unknown id", ("Client.get_experiment",),
         lambda c: c.client.get_experiment(UNKNOWN_ID), expect(NotFound)),
    Case("get_experiment: name with a slash", ("Client.get_experiment",),
         lambda c: c.client.get_experiment("a/b"), expect(NotFound)),
    Case("list_experiments: bad view", ("Client.list_experiments",),
         lambda c: c.client.list_experiments(view="sideways"), expect(InvalidParameter, "view")),
    Case("list_experiments: unknown project is empty", ("Client.list_experiments",),
         lambda c: c.client.list_experiments(project="no-such-project"), expect(None)),
    Case("rename_experiment: to a name in use", ("Client.rename_experiment",),
         lambda c: [c.client.create_experiment(c.name(n)) for n in ("r1", "r2")]
         and c.client.rename_experiment(c.name("r1"), c.name("r2")), expect(Conflict)),
    Case("rename_experiment: name too long", ("Client.rename_experiment",),
         lambda c: c.client.create_experiment(c.name("r")) and c.client.rename_experiment(c.name("r"), LONG),
         expect(InvalidParameter, "name")),
    Case("rename_experiment: unknown", ("Client.rename_experiment",),
         lambda c: c.client.rename_experiment(c.name("nope"), c.name("new")), expect(NotFound)),
    Case("rename_experiment: deleted", ("Client.rename_experiment",),
         lambda c: c.client.rename_experiment(c.deleted_experiment(), c.name("new")), expect(None)),
    Case("delete_experiment: unknown", ("Client.delete_experiment",),
         lambda c: c.client.delete_experiment(c.name("nope")), expect(NotFound)),
    Case("restore_experiment: unknown", ("Client.restore_experiment",),
         lambda c: c.client.restore_experiment(UNKNOWN_ID), expect(NotFound)),
    Case("restore_experiment: deleted one comes back", ("Client.restore_experiment",),
         lambda c: c.client.restore_experiment(c.deleted_experiment()), expect(None)),
    Case("search_runs: deleted experiment", ("Client.search_runs",),
         lambda c: c.client.search_runs(c.deleted_experiment()), expect(None)),
    # -- logging ----------------------------------------------------------------------------------
    Case("log_param: changed in the buffer", ("ActiveRun.log_param",),
         lambda c: c.run().log_param("a", 1).log_param("a", 2), expect(Conflict)),
    Case("log_param: changed after a flush, at flush", ("ActiveRun.log_param", "ActiveRun.flush"),
         _logged_then_changed_param, expect(Conflict)),
    Case("log_param: value too long", ("ActiveRun.log_param",),
         lambda c: c.run().log_param("p", "v" * 6001), expect(InvalidParameter, "params.p")),
    Case("log_params: key with dot segments", ("ActiveRun.log_params",),
         lambda c: c.run().log_params({"../p": 1}), expect(InvalidParameter, "params")),
    Case("log_params: key too long", ("ActiveRun.log_params",),
         lambda c: c.run().log_params({LONG: 1}), expect(InvalidParameter, "params")),
    Case("set_tag: value too long", ("ActiveRun.set_tag",),
         lambda c: c.run().set_tag("t", "v" * 8001), expect(InvalidParameter, "tags.t")),
    Case("set_tag: NUL in the value", ("ActiveRun.set_tag",),
         lambda c: c.run().set_tag("t", "a\x00b"), expect(InvalidParameter, "tags.t")),
    Case("set_tags: bad key", ("ActiveRun.set_tags",),
         lambda c: c.run().set_tags({"a\nb": "v"}), expect(InvalidParameter, "tags")),
    Case("log_metric: value not a number", ("ActiveRun.log_metric",),
         lambda c: c.run().log_metric("loss", "high"), expect(InvalidParameter, "metrics.loss.value")),  # type: ignore[arg-type]
    Case("log_metric: value None", ("ActiveRun.log_metric",),
         lambda c: c.run().log_metric("loss", None), expect(InvalidParameter, "metrics.loss.value")),  # type: ignore[arg-type]
    Case("log_metric: value a bool", ("ActiveRun.log_metric",),
         lambda c: c.run().log_metric("loss", True), expect(InvalidParameter, "metrics.loss.value")),
    Case("log_metric: key with dot segments", ("ActiveRun.log_metric",),
         lambda c: c.run().log_metric("../loss", 1.0), expect(InvalidParameter, "metrics.key")),
    Case("log_metric: step not an integer", ("ActiveRun.log_metric",),
         lambda c: c.run().log_metric("loss", 1.0, step=1.5), expect(InvalidParameter, "metrics.loss.step")),  # type: ignore[arg-type]
    Case("log_metric: step beyond int64", ("ActiveRun.log_metric",),
         lambda c: c.run().log_metric("loss", 1.0, step=2**63), expect(InvalidParameter, "metrics.loss.step")),
    Case("log_metric: negative timestamp", ("ActiveRun.log_metric",),
         lambda c: c.run().log_metric("loss", 1.0, timestamp=-1), expect(InvalidParameter, "metrics.loss.timestamp")),
    Case("log_metric: synchronous to a run that could not start", ("ActiveRun.log_metric",),
         lambda c: c.run(parent_run_id="not-an-id").log_metric("m", 1.0, synchronous=True),
         expect(InvalidParameter, "parent_run_id")),
    Case("log_metrics: one bad value among good ones", ("ActiveRun.log_metrics",),
         lambda c: c.run().log_metrics({"a": 1.0, "b": "x"}), expect(InvalidParameter, "metrics.b.value")),  # type: ignore[dict-item]
    Case("log_metrics: synchronous, one bad key", ("ActiveRun.log_metrics",),
         lambda c: c.run().log_metrics({"a": 1.0, "b/../c": 2.0}, synchronous=True),
         expect(InvalidParameter, "metrics.key")),
    Case("log_metrics: synchronous to a run of an unknown parent", ("ActiveRun.log_metrics",),
         lambda c: c.run(parent_run_id=UNKNOWN_ID).log_metrics({"a": 1.0}, synchronous=True),
         expect(InvalidParameter, "parent_run_id")),
    Case("end: bad status", ("ActiveRun.end",),
         lambda c: c.run().end("DONE"), expect(InvalidParameter, "status")),
    Case("end: lower-case status", ("ActiveRun.end",),
         lambda c: c.run().end("finished"), expect(InvalidParameter, "status")),
    Case("end: RUNNING is not an end", ("ActiveRun.end",),
         lambda c: c.run().end("RUNNING"), expect(InvalidParameter, "status")),
    Case("flush: a refused write of any run", ("Client.flush",),
         lambda c: [c.run(parent_run_id=UNKNOWN_ID), c.client.flush()], expect(InvalidParameter, "parent_run_id")),
    Case("send_spooled: nothing spooled", ("Client.send_spooled",),
         lambda c: c.client.send_spooled(), expect(None)),
    # -- background jobs --------------------------------------------------------------------------
    Case("list_jobs: a queued job is listed", ("Client.list_jobs",),
         lambda c: c.queued_job() in [j.id for j in c.client.list_jobs(state="queued", kind=JOB_KIND)],
         expect(None)),
    Case("list_jobs: unknown state", ("Client.list_jobs",),
         lambda c: c.client.list_jobs(state="sleeping"), expect(InvalidParameter, "state")),
    Case("list_jobs: one unknown state among good ones", ("Client.list_jobs",),
         lambda c: c.client.list_jobs(state=["dead", "DEAD"]), expect(InvalidParameter, "state")),
    Case("list_jobs: max_results 0", ("Client.list_jobs",),
         lambda c: c.client.list_jobs(max_results=0), expect(InvalidParameter, "max_results")),
    Case("list_jobs: max_results not an integer", ("Client.list_jobs",),
         lambda c: c.client.list_jobs(max_results="5"), expect(InvalidParameter, "max_results")),  # type: ignore[arg-type]
    Case("get_job: unknown id", ("Client.get_job",),
         lambda c: c.client.get_job(UNKNOWN_ID), expect(NotFound)),
    Case("get_job: malformed id", ("Client.get_job",),
         lambda c: c.client.get_job("not-an-id"), expect(InvalidParameter, "job_id")),
    Case("get_job: id with dot segments", ("Client.get_job",),
         lambda c: c.client.get_job("../schedules"), expect(InvalidParameter, "job_id")),
    Case("get_job: schedules is not an id", ("Client.get_job",),
         lambda c: c.client.get_job("schedules"), expect(InvalidParameter, "job_id")),
    Case("get_job: a queued job", ("Client.get_job",),
         lambda c: c.client.get_job(c.queued_job()), expect(None)),
    Case("retry_job: unknown id", ("Client.retry_job",),
         lambda c: c.client.retry_job(UNKNOWN_ID), expect(NotFound)),
    Case("retry_job: malformed id", ("Client.retry_job",),
         lambda c: c.client.retry_job("a/b"), expect(InvalidParameter, "job_id")),
    Case("retry_job: a queued job", ("Client.retry_job",),
         lambda c: c.client.retry_job(c.queued_job()), expect(Conflict)),
    Case("retry_job: a succeeded job", ("Client.retry_job",),
         lambda c: c.client.retry_job(c.ended_job("succeeded")), expect(Conflict)),
    Case("retry_job: a dead job is queued again", ("Client.retry_job",),
         lambda c: c.client.retry_job(c.ended_job("dead")), expect(None)),
    Case("cancel_job: unknown id", ("Client.cancel_job",),
         lambda c: c.client.cancel_job(UNKNOWN_ID), expect(NotFound)),
    Case("cancel_job: malformed id", ("Client.cancel_job",),
         lambda c: c.client.cancel_job(""), expect(InvalidParameter, "job_id")),
    Case("cancel_job: a dead job", ("Client.cancel_job",),
         lambda c: c.client.cancel_job(c.ended_job("dead")), expect(Conflict)),
    Case("cancel_job: a queued job, twice", ("Client.cancel_job",),
         lambda c: c.client.cancel_job(c.client.cancel_job(c.queued_job()).id), expect(None)),
    # -- webhooks ---------------------------------------------------------------------------------
    Case("create_webhook: a good one", ("Client.create_webhook",),
         lambda c: c.client.create_webhook(c.name("ok"), HOOK_URL, "*", format="plimsoll").secret[:6] == "whsec_",
         expect(None)),
    Case("create_webhook: ftp URL", ("Client.create_webhook",),
         lambda c: c.client.create_webhook(c.name("h"), "ftp://example.com/x", ["*"]), expect(InvalidParameter, "url")),
    Case("create_webhook: URL too long", ("Client.create_webhook",),
         lambda c: c.client.create_webhook(c.name("h"), HOOK_URL + "x" * 2100, ["*"]), expect(InvalidParameter, "url")),
    Case("create_webhook: loopback target", ("Client.create_webhook",),
         lambda c: c.client.create_webhook(c.name("h"), "http://127.0.0.1:9/x", ["*"]), expect(InvalidParameter, "url")),
    Case("create_webhook: localhost target", ("Client.create_webhook",),
         lambda c: c.client.create_webhook(c.name("h"), "http://localhost/x", ["*"]), expect(InvalidParameter, "url")),
    Case("create_webhook: unknown event type", ("Client.create_webhook",),
         lambda c: c.client.create_webhook(c.name("h"), HOOK_URL, ["run.exploded"]), expect(InvalidParameter, "events")),
    Case("create_webhook: unknown noun", ("Client.create_webhook",),
         lambda c: c.client.create_webhook(c.name("h"), HOOK_URL, ["nothing.*"]), expect(InvalidParameter, "events")),
    Case("create_webhook: no events", ("Client.create_webhook",),
         lambda c: c.client.create_webhook(c.name("h"), HOOK_URL, []), expect(InvalidParameter, "events")),
    Case("create_webhook: unknown format", ("Client.create_webhook",),
         lambda c: c.client.create_webhook(c.name("h"), HOOK_URL, ["*"], format="xml"), expect(InvalidParameter, "format")),
    Case("create_webhook: name with a slash", ("Client.create_webhook",),
         lambda c: c.client.create_webhook("a/b", HOOK_URL, ["*"]), expect(InvalidParameter, "name")),
    Case("create_webhook: name taken", ("Client.create_webhook",),
         lambda c: [c.client.create_webhook(c.name("twice"), HOOK_URL, ["*"]) for _ in range(2)], expect(Conflict)),
    Case("list_webhooks: a new one is listed without its secret", ("Client.list_webhooks",),
         lambda c: c.webhook() in [w.id for w in c.client.list_webhooks()], expect(None)),
    Case("delete_webhook: unknown id", ("Client.delete_webhook",),
         lambda c: c.client.delete_webhook(UNKNOWN_ID), expect(NotFound)),
    Case("delete_webhook: malformed id", ("Client.delete_webhook",),
         lambda c: c.client.delete_webhook("../x"), expect(InvalidParameter, "webhook_id")),
    Case("delete_webhook: twice", ("Client.delete_webhook",),
         lambda c: c.client.delete_webhook(c.client.delete_webhook(c.webhook()).id), expect(NotFound)),
    Case("test_webhook: unknown id", ("Client.test_webhook",),
         lambda c: c.client.test_webhook(UNKNOWN_ID), expect(NotFound)),
    Case("test_webhook: malformed id", ("Client.test_webhook",),
         lambda c: c.client.test_webhook("not-an-id"), expect(InvalidParameter, "webhook_id")),
    Case("test_webhook: publishes an event", ("Client.test_webhook",),
         lambda c: c.client.test_webhook(c.webhook()) > 0, expect(None)),
    Case("webhook_deliveries: unknown id", ("Client.webhook_deliveries",),
         lambda c: c.client.webhook_deliveries(UNKNOWN_ID), expect(NotFound)),
    Case("webhook_deliveries: malformed id", ("Client.webhook_deliveries",),
         lambda c: c.client.webhook_deliveries(""), expect(InvalidParameter, "webhook_id")),
    Case("webhook_deliveries: limit 0", ("Client.webhook_deliveries",),
         lambda c: c.client.webhook_deliveries(c.webhook(), limit=0), expect(InvalidParameter, "limit")),
    Case("webhook_deliveries: none yet", ("Client.webhook_deliveries",),
         lambda c: c.client.webhook_deliveries(c.webhook()), expect(None)),
    # -- evaluations --------------------------------------------------------------------------------
    Case("evaluate: a target that is not a column", ("Client.evaluate",),
         lambda c: c.client.evaluate(_scores, _labelled(), task="classification", target="y"),
         expect(InvalidParameter, "target")),
    Case("evaluate: a model version that does not exist", ("Client.evaluate",),
         lambda c: c.client.evaluate(_scores, _labelled(), task="classification", target="label", model="m/1"),
         expect(NotFound)),
    Case("evaluate: an evaluation stored", ("Client.evaluate",),
         lambda c: c.client.evaluate(_scores, _labelled(), task="classification", target="label"), expect(None)),
    # -- monitoring ------------------------------------------------------------------------------
    Case("log_predictions: an alias no model holds", ("Client.log_predictions",),
         lambda c: c.client.log_predictions("nobody@production", {"x": [1.0]}, [0]), expect(NotFound)),
    Case("log_predictions: a feature named like Plimsoll's own columns", ("Client.log_predictions",),
         lambda c: c.client.log_predictions("nobody/1", {"__x": [1.0]}, [0]),
         expect(InvalidParameter, "features.__x")),
    Case("log_predictions: a version that does not exist, said at flush", ("Client.log_predictions",),
         lambda c: [c.client.log_predictions("nobody/1", {"x": [1.0]}, [0]), c.client.monitoring.flush(30)],
         expect(NotFound)),
    Case("log_labels: fewer labels than ids", ("Client.log_labels",),
         lambda c: c.client.log_labels(["a", "b"], [1]), expect(InvalidParameter, "labels")),
    Case("log_labels: labels stored", ("Client.log_labels",),
         lambda c: [c.client.log_labels(["a", "b"], [1, 0]), c.client.monitoring.flush(30)], expect(None)),
    Case("log_outcomes: no outcome named", ("Client.log_outcomes",),
         lambda c: c.client.log_outcomes(["a"], {}), expect(InvalidParameter, "outcomes")),
    Case("score: an alias no model holds", ("Client.score",),
         lambda c: c.client.score("nobody@production", "customers@1"), expect(NotFound)),
    Case("score: a batch size of 0", ("Client.score",),
         lambda c: c.client.score("nobody/1", "customers@1", batch_size=0), expect(InvalidParameter, "batch_size")),
    Case("score: a time without a time zone", ("Client.score",),
         lambda c: c.client.score("nobody/1", "customers", timestamp=datetime(2026, 1, 1)),
         expect(InvalidParameter, "timestamp")),
    Case("score: a dataset that does not exist", ("Client.score",), _scored_nothing, expect(NotFound)),
    # client.monitors: not a method of Client itself, so no `covers`; the same errors in both modes
    Case("monitors.create: a version where an alias belongs", (),
         lambda c: c.client.monitors.create(c.name("m"), "churn/1", "dataset:churn@1"), expect(InvalidParameter, "model")),
    Case("monitors.create: a window that is not a duration", (),
         lambda c: c.client.monitors.create(c.name("m"), "churn@production", "dataset:churn@1", every="daily"),
         expect(InvalidParameter, "every")),
    Case("monitors.create: a rule over a value nobody measures", (),
         lambda c: c.client.monitors.create(
             c.name("m"), "churn@production", "dataset:churn@1",
             rules=[{"name": "r", "value": "vibes", "op": ">", "threshold": 1}]),
         expect(InvalidParameter, "rules[0].value")),
    Case("monitors.create: an alias no model holds", (),
         lambda c: c.client.monitors.create(c.name("m"), "nobody@production", "dataset:churn@1"), expect(NotFound)),
    Case("monitors.check: a monitor that does not exist", (),
         lambda c: c.client.monitors.check("nope"), expect(NotFound)),
    Case("monitors.backfill: a monitor that does not exist", (),
         lambda c: c.client.monitors.backfill("nope", 10, 5), expect(NotFound)),
    # client.deployments: not a method of Client itself either; the same errors in both modes
    Case("deployments.deploy: a model without its alias", (),
         lambda c: c.client.deployments.deploy(c.name("d"), model="churn"), expect(InvalidParameter, "model")),
    Case("deployments.deploy: an alias no model holds", (),
         lambda c: c.client.deployments.deploy(c.name("d"), model="nobody@production"), expect(NotFound)),
    Case("deployments.deploy: a weight without a canary", (),
         lambda c: c.client.deployments.deploy(c.name("d"), model="nobody@production", weight=10),
         expect(InvalidParameter, "weight")),
    Case("deployments.get: a deployment that does not exist", (),
         lambda c: c.client.deployments.get("nope"), expect(NotFound)),
    Case("deployments.list: none yet", (), lambda c: c.client.deployments.list(), expect(None)),
    Case("deployments.history: a deployment that does not exist", (),
         lambda c: c.client.deployments.history("nope"), expect(NotFound)),
    Case("deployments.rollback: a deployment that does not exist", (),
         lambda c: c.client.deployments.rollback("nope"), expect(NotFound)),
    Case("deployments.pause: a deployment that does not exist", (),
         lambda c: c.client.deployments.pause("nope"), expect(NotFound)),
    Case("deployments.resume: a deployment that does not exist", (),
         lambda c: c.client.deployments.resume("nope"), expect(NotFound)),
    Case("deployments.traffic: buckets that are not whole periods", (),
         lambda c: c.client.deployments.traffic("nope", bucket_s=15), expect(InvalidParameter, "bucket_s")),
    Case("deployments.routing: a deployment that does not exist", (),
         lambda c: c.client.deployments.routing("nope"), expect(NotFound)),
    Case("deployments.report_traffic: a deployment that does not exist", (),
         lambda c: c.client.deployments.report_traffic(
             "nope", [TrafficStats(1, "stable", 0, 10_000, 3, 0)], replica="r1"), expect(NotFound)),
    # -- the module's functions -------------------------------------------------------------------
    Case("pl.start_run: experiment name too long", ("pl.start_run", "pl.set_default_client", "pl.default_client"),
         _module(lambda: pl.start_run(LONG, capture=False)), expect(InvalidParameter, "name")),
    Case("pl.active_run: none", ("pl.active_run",),
         _module(lambda: pl.active_run()), expect(None)),
    Case("pl.get_run: unknown id", ("pl.get_run",),
         _module(lambda: pl.get_run(UNKNOWN_ID)), expect(NotFound)),
    Case("pl.delete_run: unknown id", ("pl.delete_run",),
         _module(lambda: pl.delete_run(UNKNOWN_ID)), expect(NotFound)),
    Case("pl.restore_run: malformed id", ("pl.restore_run",),
         _module(lambda: pl.restore_run("nope")), expect(InvalidParameter, "run_id")),
    Case("pl.resume_run: unknown id", ("pl.resume_run",),
         _module(lambda: pl.resume_run(UNKNOWN_ID)), expect(NotFound)),
    Case("pl.search_runs: bad filter", ("pl.search_runs",),
         _module(lambda: pl.search_runs(filter="metrics.x >")), expect(InvalidParameter, "filter")),
    Case("pl.get_metric_history: malformed id", ("pl.get_metric_history",),
         _module(lambda: pl.get_metric_history("nope", "m")), expect(InvalidParameter, "run_id")),
    Case("pl.evaluate: an unknown task", ("pl.evaluate",),
         _module(lambda: pl.evaluate(_scores, _labelled(), task="ranking", target="label")),
         expect(InvalidParameter, "task")),
    Case("pl.log_predictions: an alias no model holds", ("pl.log_predictions",),
         _module(lambda: pl.log_predictions("nobody@production", {"x": [1.0]}, [0])), expect(NotFound)),
    Case("pl.log_labels: fewer labels than ids", ("pl.log_labels",),
         _module(lambda: pl.log_labels(["a", "b"], [1])), expect(InvalidParameter, "labels")),
    Case("pl.log_outcomes: no outcome named", ("pl.log_outcomes",),
         _module(lambda: pl.log_outcomes(["a"], {})), expect(InvalidParameter, "outcomes")),
    Case("pl.score: an alias no model holds", ("pl.score",),
         _module(lambda: pl.score("nobody@production", "customers@1")), expect(NotFound)),
    Case("pl.flush: a refused write", ("pl.flush",),
         lambda c: [c.run(parent_run_id=UNKNOWN_ID), _module(pl.flush)(c)],
         expect(InvalidParameter, "parent_run_id")),
]
# fmt: on


@pytest.fixture
def clients(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[dict[str, Client]]:
    """An embedded client on the database, and an HTTP client on a live server over the same one."""
    server = request.getfixturevalue("live_server")
    made = {
        "embedded": Client(database_url, settings=Settings(home=tmp_path / "home"), flush_interval=0.05),
        "http": Client(server.url, flush_interval=0.05, retry_for=5.0),
    }
    try:
        yield made
    finally:
        pl.set_default_client(None)
        for client in made.values():
            with contextlib.suppress(PlimsollError):  # a case's refused write, reported again
                client.close()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_same_error_in_both_modes(
    case: Case, clients: dict[str, Client], tmp_path: Path, platform: Platform
) -> None:
    platform.jobs.registry.register(JOB_KIND, _never_run)
    got = {
        mode: outcome_of(case.action, Ctx(client, mode, tmp_path, platform.jobs))
        for mode, client in clients.items()
    }
    assert got["embedded"] == got["http"], f"{case.id}: the modes differ: {got}"
    assert got["embedded"] == case.expected, f"{case.id}: {got}"


def _never_run(service: object, payload: object, context: object) -> None:
    """The handler of the cases' job kind: no worker runs in these tests, the cases move jobs."""


def _public(cls: type) -> set[str]:
    return {name for name, member in inspect.getmembers(cls) if not name.startswith("_") and callable(member)}


def test_every_sdk_call_has_a_case() -> None:
    calls = {f"Client.{name}" for name in _public(Client)}
    calls |= {f"ActiveRun.{name}" for name in _public(ActiveRun)}
    calls |= {f"pl.{name}" for name in pl.__all__ if inspect.isfunction(getattr(pl, name))}
    covered = {call for case in CASES for call in case.covers}
    assert calls - covered == set(), "SDK calls without an error-contract case"
    assert covered - calls == set(), "cases naming calls that do not exist"

"""The SDK's client: the same calls embedded (in-process, on the local store) or over HTTP."""

from __future__ import annotations

import atexit
import getpass
import logging
import sys
import threading
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from plimsoll.client.batching import ATTEMPT_WINDOW_S, Batcher, SpoolReport
from plimsoll.client.capture import capture_all
from plimsoll.client.datasets import Datasets
from plimsoll.client.deployments import Deployments
from plimsoll.client.evaluations import Evaluations
from plimsoll.client.features import Features
from plimsoll.client.gates import Gates
from plimsoll.client.incidents import Alerts, Incidents
from plimsoll.client.lineage import Lineage
from plimsoll.client.monitoring import Monitoring
from plimsoll.client.monitors import Monitors
from plimsoll.client.registry import Registry
from plimsoll.client.results import RunList
from plimsoll.client.run import ActiveRun, param_texts, tag_texts
from plimsoll.client.transport import HttpTransport, LocalTransport, Transport
from plimsoll.core.config import Settings
from plimsoll.core.errors import InvalidParameter, NotFound, PlimsollError
from plimsoll.core.ids import check_id_or_short_id, is_id, is_short_id, new_id, now_ms
from plimsoll.core.jobs.entities import Job, JobState
from plimsoll.core.outbox.entities import EventPage
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_int
from plimsoll.core.webhooks.entities import Delivery, NewSubscription, Subscription
from plimsoll.evaluation.entities import Evaluation
from plimsoll.monitoring.entities import Scoring
from plimsoll.tracking.entities import (
    Artifact,
    Experiment,
    MetricHistory,
    Run,
    RunCreate,
    RunStatus,
    check_run_start,
    check_run_user,
)
from plimsoll.tracking.names import random_run_name

if TYPE_CHECKING:
    from plimsoll.platform import Platform

DEFAULT_EXPERIMENT = "default"
# How long a call someone waits on (a read, a delete) retries a server that does not answer.
INTERACTIVE_RETRY_S = 3.0
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres")


def check_target_url(setting: str, url: str) -> str:
    """`url` is a server's http(s):// URL or a database URL (sqlite:///..., postgresql://...);
    anything else is refused naming `setting` (the argument, PLIMSOLL_URL or --url)."""
    scheme, separator, _ = url.partition("://")
    is_http = scheme in {"http", "https"}
    is_database = scheme.split("+")[0] in DATABASE_SCHEMES
    if not separator or not (is_http or is_database):
        raise InvalidParameter(
            setting,
            f"{url!r} is not an http(s):// or database URL; give a server's URL "
            "(http://127.0.0.1:8765) or a database's (sqlite:///plimsoll.db, postgresql://...)",
        )
    return url


class Client:
    """`Client()` follows PLIMSOLL_URL (HTTP) or else opens the embedded store in ./.plimsoll.
    `Client("http://host:8765")` talks to a server; `Client("sqlite:///p.db")` or
    `Client("postgresql://...")` opens that database in-process. Over HTTP, a read or any other
    call made by the caller that fails for want of a server is retried for `retry_for` seconds
    (a few: someone is waiting), then raises Unavailable ("no Plimsoll server at ...").
    Buffered writes outlast that: the background thread keeps retrying them while the process
    lives, and a process that exits before the server answers leaves them in its spool
    (docs/sdk.md: PLIMSOLL_SPOOL_DIR) for the next process that logs, or `plimsoll sync`.
    `timeout` bounds each HTTP request."""

    def __init__(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        settings: Settings | None = None,
        flush_interval: float = 0.25,
        retry_for: float = INTERACTIVE_RETRY_S,
        timeout: float = 30.0,
    ) -> None:
        self.settings = settings or Settings.from_env()
        self._user = _os_user()
        target = url or self.settings.server_url
        if target:
            check_target_url("url" if url else "PLIMSOLL_URL", target)
        self._transport: Transport
        if target and target.startswith(("http://", "https://")):
            self._transport = HttpTransport(
                target, token=token or self.settings.token, retry_for=retry_for, timeout=timeout
            )
            self.url = target
        else:
            from plimsoll.platform import Platform

            platform = Platform(self.settings, store_url=target).startup()
            self._transport = LocalTransport(platform, actor=self._user or LOCAL_USER)
            self.url = platform.settings.resolved_store_url
        self._batcher = Batcher(
            self._transport,
            flush_interval=flush_interval,
            spool_dir=self.settings.resolved_spool_dir,
            exit_timeout=self.settings.exit_timeout,
            attempt_window=min(retry_for, ATTEMPT_WINDOW_S),
        )
        self._experiments: dict[tuple[str, str], Experiment] = {}
        self._active = threading.local()
        self.datasets = Datasets(self)
        self.features = Features(self)
        # The lineage graph: client.lineage.upstream(...), .downstream, .impact, .link.
        self.lineage = Lineage(self._transport)
        # Models: client.registry.register(...), .get("churn@production"), .set_alias, .rollback, .history.
        self.registry = Registry(self._transport)
        # Evaluations: client.evaluate(model, frame, task=..., target=...), client.evaluations.compare.
        self.evaluations = Evaluations(self)
        # Release gates and promotions: client.gates.check(...), .promote, .approve, .reject.
        self.gates = Gates(self._transport)
        # What models saw and said: client.log_predictions(...), .log_labels, .log_outcomes;
        # client.monitoring.flush(), .dropped, .read("predictions", model="churn").
        # A batch model's predictions: client.score("churn@production", "customers@7").
        self.monitoring = Monitoring(self._transport, client=self)
        self.monitors = Monitors(self._transport)
        # Alerts and incidents: client.alerts.list(), .silence(...); client.incidents.acknowledge(...).
        self.alerts = Alerts(self._transport)
        self.incidents = Incidents(self._transport)
        # Deployments: client.deployments.deploy("churn-prod", model="churn@production"), .rollback.
        self.deployments = Deployments(self._transport)
        _live_clients.add(self)

    def __repr__(self) -> str:
        return f"<plimsoll.Client {self.url}>"

    @property
    def platform(self) -> Platform | None:
        """The platform an embedded client runs in this process (None over HTTP): its services,
        to run its background work (`start_background`) or act as another of its users, as the
        demo does. Whoever holds the store's files holds everything in it."""
        return getattr(self._transport, "platform", None)

    # -- runs -------------------------------------------------------------------------------------

    def start_run(
        self,
        experiment: str = DEFAULT_EXPERIMENT,
        *,
        name: str | None = None,
        params: dict[str, Any] | None = None,
        tags: dict[str, Any] | None = None,
        nested: bool = False,
        parent_run_id: str | None = None,
        project: str = DEFAULT_PROJECT,
        capture: bool = True,
    ) -> ActiveRun:
        """Start a run in `experiment` (created if new). Use it with `with` to end it FINISHED, or
        FAILED if the block raises; or call `run.end()` yourself. `capture` records the git commit,
        branch, dirty flag and diff, and the Python environment."""
        stack = self._stack()
        if nested and parent_run_id is None:
            if not stack:
                raise InvalidParameter("nested", "needs an active run to nest under; start one first")
            parent_run_id = stack[-1].id
        # Everything checked before anything is sent: a refused argument starts no run.
        run_name = random_run_name() if name is None else name
        check_run_start(run_name, parent_run_id, None)
        given_tags, given_params = tag_texts(tags or {}), param_texts(params or {})
        found = self._experiment(experiment, project)
        run = ActiveRun(
            new_id(),
            run_name,
            found.id,
            found.name,
            batcher=self._batcher,
            transport=self._transport,
            on_end=self._forget_active,
            project=found.project,
        )
        captured = capture_all() if capture else None
        self._batcher.submit(
            run.id,
            create=RunCreate(found.id, run_name, parent_run_id, now_ms(), user=self._user),
            tags={**(tag_texts(captured.tags) if captured else {}), **given_tags},
            params=given_params,
            artifacts=list(captured.artifacts.items()) if captured else None,
        )
        stack.append(run)
        _watch_for_crashes()
        return run

    def active_run(self) -> ActiveRun | None:
        stack = self._stack()
        return stack[-1] if stack else None

    def resume_run(self, run_id: str, *, capture: bool = False) -> ActiveRun:
        """Log more to a run that has ended (FINISHED, FAILED or KILLED): it is RUNNING again
        until this `ActiveRun` ends (`with`, or `run.end()`), and the resumption is audited. A
        running run is taken up as it is; a deleted one must be restored first. Without this
        call, logging to an ended run is refused (Conflict). Automatic steps continue after the
        last step stored for each metric. `run_id` may be a short id."""
        self._batcher.flush()
        resumed = self._transport.resume_run(self._run_id(run_id))
        self._batcher.reopen(resumed.id)
        run = ActiveRun(
            resumed.id,
            resumed.name,
            resumed.experiment_id,
            resumed.experiment,
            batcher=self._batcher,
            transport=self._transport,
            on_end=self._forget_active,
            project=resumed.project,
        )
        for key in resumed.metrics:
            last = self._transport.metric_history(resumed.id, key, 2, None).steps
            if last:
                run._steps[key] = max(last)
        if capture:
            captured = capture_all()
            self._batcher.submit(run.id, tags=tag_texts(captured.tags))
        self._stack().append(run)
        _watch_for_crashes()
        return run

    def get_run(self, run_id: str) -> Run:
        """A run by its id or its short id (the last 8 digits, as lists show them)."""
        self._batcher.flush()
        return self._transport.get_run(self._run_id(run_id))

    def search_runs(
        self,
        experiment: str | list[str] | None = None,
        *,
        filter: str | None = None,
        order_by: list[str] | None = None,
        max_results: int = 1000,
        project: str | None = DEFAULT_PROJECT,
    ) -> RunList:
        """Runs matching `filter` (see docs/search.md), in `order_by` order, across pages (up to
        `max_results`, at least 1): from `experiment` (names or ids, in `project`), or from every
        experiment of `project` (`project=None`: of every project). A list of `Run`s; its
        `to_pandas()` makes a DataFrame in MLflow's layout (run_id, ..., params.lr, metrics.acc)."""
        check_int("max_results", max_results, minimum=1)
        self._batcher.flush()
        names = [experiment] if isinstance(experiment, str) else experiment
        where = project or DEFAULT_PROJECT
        experiment_ids = None if names is None else [self._experiment_id(n, where) for n in names]
        found = RunList()
        token: str | None = None
        while len(found) < max_results:
            page = self._transport.search_runs(
                experiment_ids, filter, order_by, min(1000, max_results - len(found)), token, project
            )
            found.extend(page.runs)
            token = page.next_page_token
            if token is None:
                break
        return found

    def delete_run(self, run_id: str) -> Run:
        """Soft delete (id or short id): hidden from searches until restored, purged after the
        retention period (docs/operations.md)."""
        self._batcher.flush()
        return self._transport.delete_run(self._run_id(run_id))

    def restore_run(self, run_id: str) -> Run:
        """Undo `delete_run` (id or short id)."""
        self._batcher.flush()
        return self._transport.restore_run(self._run_id(run_id))

    def delete_tag(self, run_id: str, key: str) -> None:
        self._batcher.flush()
        self._transport.delete_tag(self._run_id(run_id), key)

    def get_metric_history(self, run_id: str, key: str, *, max_points: int | None = None) -> MetricHistory:
        """The whole history (paged through), or downsampled to `max_points` buckets."""
        self._batcher.flush()
        run_id = self._run_id(run_id)
        first = self._transport.metric_history(run_id, key, max_points, None)
        history = first
        while history.next_page_token is not None:
            history = self._transport.metric_history(run_id, key, None, history.next_page_token)
            first.steps.extend(history.steps)
            first.timestamps.extend(history.timestamps)
            first.values.extend(history.values)
        return MetricHistory(
            run_id=first.run_id,
            key=first.key,
            steps=first.steps,
            timestamps=first.timestamps,
            values=first.values,
            downsampled=first.downsampled,
            mins=first.mins,
            maxs=first.maxs,
            total_points=first.total_points if first.downsampled else len(first.steps),
        )

    def list_artifacts(self, run_id: str, prefix: str | None = None) -> list[Artifact]:
        self._batcher.flush()
        return self._transport.list_artifacts(self._run_id(run_id), prefix)

    def download_artifact(self, run_id: str, path: str, destination: str | Path) -> Path:
        return self._transport.download_artifact(self._run_id(run_id), path, Path(destination))

    # -- evaluations ------------------------------------------------------------------------------

    def evaluate(self, predictor: Any, data: Any, /, **kwargs: Any) -> Evaluation:
        """Evaluate `predictor` (an object with .predict / .predict_proba, or a function) on `data`
        where the data is, and store the result: `client.evaluations.evaluate` (its arguments)."""
        return self.evaluations.evaluate(predictor, data, **kwargs)

    # -- experiments ------------------------------------------------------------------------------

    def create_experiment(
        self, name: str, *, project: str = DEFAULT_PROJECT, description: str = ""
    ) -> Experiment:
        return self._transport.create_experiment(name, project, description)

    def get_experiment(self, ref: str, *, project: str = DEFAULT_PROJECT) -> Experiment:
        """An experiment by id, by name in `project`, or else by short id (the last 8 digits)."""
        try:
            return self._transport.get_experiment(ref, project)
        except NotFound:
            if not is_short_id(ref):
                raise
        return self._transport.get_experiment(self._transport.resolve_experiment_id(ref), project)

    def list_experiments(self, *, project: str = DEFAULT_PROJECT, view: str = "active") -> list[Experiment]:
        return self._transport.list_experiments(project, view)

    def rename_experiment(self, ref: str, new_name: str, *, project: str = DEFAULT_PROJECT) -> Experiment:
        return self._update_experiment(ref, "rename", project, new_name)

    def delete_experiment(self, ref: str, *, project: str = DEFAULT_PROJECT) -> Experiment:
        """Soft delete: hidden from lists and searches until restored."""
        return self._update_experiment(ref, "delete", project)

    def restore_experiment(self, ref: str, *, project: str = DEFAULT_PROJECT) -> Experiment:
        return self._update_experiment(ref, "restore", project)

    def _update_experiment(
        self, ref: str, change: str, project: str, new_name: str | None = None
    ) -> Experiment:
        found = self.get_experiment(ref, project=project)
        updated = self._transport.update_experiment(found.id, change, new_name)
        self._experiments = {k: v for k, v in self._experiments.items() if v.id != found.id}
        return updated

    # -- background jobs --------------------------------------------------------------------------

    def list_jobs(
        self,
        state: str | list[str] | None = None,
        kind: str | list[str] | None = None,
        *,
        max_results: int = 100,
    ) -> list[Job]:
        """The platform's background jobs, newest first, across pages (up to `max_results`, at
        least 1): of any of the `state`s ("queued", "running", "succeeded", "dead", "cancelled")
        and `kind`s given, else of all."""
        check_int("max_results", max_results, minimum=1)
        states = [_job_state(s) for s in _as_list(state)]
        kinds = _as_list(kind)
        found: list[Job] = []
        token: str | None = None
        while len(found) < max_results:
            page = self._transport.list_jobs(
                states, kinds, min(JOB_PAGE_SIZE, max_results - len(found)), token
            )
            found.extend(page.jobs)
            token = page.next_page_token
            if token is None:
                break
        return found

    def get_job(self, job_id: str) -> Job:
        return self._transport.get_job(job_id)

    def retry_job(self, job_id: str) -> Job:
        """Queue a dead or cancelled job again with a fresh set of attempts, or run one waiting out
        a retry backoff now (Conflict otherwise). Site admins only, on a server with auth."""
        return self._transport.retry_job(job_id)

    def events(
        self,
        after: str | None = None,
        *,
        types: str | list[str] | None = None,
        project: str = DEFAULT_PROJECT,
        limit: int = 100,
    ) -> EventPage:
        """What happened in `project`, in order: events after the `after` token (from the oldest
        kept when None), of the `types` given (else all). Pass the page's `next_page_token` as the
        next `after`; it never skips an event, so a loop of these follows the project."""
        self._batcher.flush()
        return self._transport.follow_events(after, _as_list(types), project, limit)

    def event_types(self) -> list[dict[str, Any]]:
        """The event catalog: every type's name, description and payload schema."""
        return self._transport.event_types()

    def cancel_job(self, job_id: str) -> Job:
        """Cancel a queued job at once, or ask a running one to stop (it ends cancelled); Conflict
        for a job that already ended otherwise. Site admins only, on a server with auth."""
        return self._transport.cancel_job(job_id)

    # -- webhooks ---------------------------------------------------------------------------------

    def create_webhook(
        self, name: str, url: str, events: str | list[str], *, format: str = "plimsoll"
    ) -> NewSubscription:
        """Subscribe `url` to event types (`run.ended`), nouns (`run.*`) or everything (`*`). The
        answer's `secret` signs every delivery and is never shown again. Site admins only, on a
        server with auth (docs/webhooks.md)."""
        return self._transport.create_webhook(name, url, _as_list(events), format)

    def list_webhooks(self) -> list[Subscription]:
        """Every webhook subscription, by name (without secrets)."""
        return self._transport.list_webhooks()

    def delete_webhook(self, webhook_id: str) -> Subscription:
        """Remove a subscription with its delivery history; what it was."""
        return self._transport.delete_webhook(webhook_id)

    def test_webhook(self, webhook_id: str) -> int:
        """Publish a `webhook.tested` event that only this subscription receives; its event id.
        The delivery shows in `webhook_deliveries` once the server's background has seen it."""
        return self._transport.test_webhook(webhook_id)

    def webhook_deliveries(self, webhook_id: str, *, limit: int = 100) -> list[Delivery]:
        """The subscription's deliveries, newest first (at most `limit`, 1 to 1000)."""
        check_int("limit", limit, minimum=1, maximum=1000)
        return self._transport.webhook_deliveries(webhook_id, limit)

    # -- plumbing ---------------------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> None:
        """Send what runs and monitoring have buffered."""
        self._batcher.flush(timeout=timeout)
        self.monitoring.flush(timeout)

    def send_spooled(
        self, *, stall: float | None = 60.0, progress: Callable[[int, int], None] | None = None
    ) -> SpoolReport:
        """Send the writes that earlier processes left in the spool for this server (a process
        that logs does this by itself; `plimsoll sync` calls this). Unavailable if the server
        acknowledges nothing for `stall` seconds; what is left stays spooled."""
        return self._batcher.send_spooled(stall=stall, progress=progress)

    def close(self) -> None:
        for run in list(self._stack()):
            run.end()
        try:
            self.monitoring.close()
        finally:
            self._batcher.close()
            self._transport.close()

    # -- monitoring -------------------------------------------------------------------------------

    def log_predictions(self, model: str, features: Any, predictions: Any, **kwargs: Any) -> Any:
        """Log a model's predictions with the features it was given (`Monitoring.log_predictions`):
        buffered, sent in batches; answers the rows' ids for `log_labels` and `log_outcomes`."""
        return self.monitoring.log_predictions(model, features, predictions, **kwargs)

    def log_labels(self, ids: Any, labels: Any, **kwargs: Any) -> None:
        self.monitoring.log_labels(ids, labels, **kwargs)

    def log_outcomes(self, ids: Any, outcomes: Any, **kwargs: Any) -> None:
        self.monitoring.log_outcomes(ids, outcomes, **kwargs)

    def score(self, model: str, dataset: str, **kwargs: Any) -> Scoring:
        """Predict a whole dataset version with a registered model, write the predictions as a
        dataset version and log them (`Monitoring.score`, its arguments)."""
        return self.monitoring.score(model, dataset, **kwargs)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _experiment(self, name: str, project: str) -> Experiment:
        key = (project, name)
        if key not in self._experiments:
            self._experiments[key] = self._transport.get_or_create_experiment(name, project)
        return self._experiments[key]

    def _experiment_id(self, ref: str, project: str) -> str:
        """An experiment's id, remembered: searches by name should not cost a round trip each."""
        key = (project, ref)
        if key not in self._experiments:
            self._experiments[key] = self.get_experiment(ref, project=project)
        return self._experiments[key].id

    def _run_id(self, ref: str) -> str:
        """A whole run id for `ref`, a whole id or a short id (the tracking service resolves it
        among the runs the caller may see; several matching is a Conflict naming them)."""
        text = check_id_or_short_id("run_id", "run", ref)
        return text if is_id(text) else self._transport.resolve_run_id(text)

    def _stack(self) -> list[ActiveRun]:
        if not hasattr(self._active, "runs"):
            self._active.runs = []
        return self._active.runs  # type: ignore[no-any-return]

    def _forget_active(self, run: ActiveRun) -> None:
        stack = self._stack()
        if run in stack:
            stack.remove(run)


_live_clients: weakref.WeakSet[Client] = weakref.WeakSet()
_crashed = False
_hook_installed = False


def _watch_for_crashes() -> None:
    """Remember an uncaught exception, so that runs still open at exit end FAILED, not FINISHED."""
    global _hook_installed
    if _hook_installed:
        return
    previous = sys.excepthook

    def note_crash(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        global _crashed
        _crashed = True
        previous(kind, error, trace)

    sys.excepthook = note_crash
    _hook_installed = True


@atexit.register
def _end_open_runs_at_exit() -> None:
    # Registered after the batcher's exit flush, so it runs before it: the ends get flushed too.
    status = RunStatus.FAILED if _crashed else RunStatus.FINISHED
    for client in list(_live_clients):
        for run in list(client._stack()):
            try:
                run.end(status, wait=False)
            except PlimsollError as exc:
                logging.getLogger("plimsoll.client").error(
                    "run %s could not be ended: %s", run.id, exc.message
                )


JOB_PAGE_SIZE = 1000  # the job service's largest page


def _as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _job_state(state: str) -> str:
    """Checked here, so that both transports name the `state` argument the same way."""
    try:
        return JobState(state).value
    except ValueError:
        raise InvalidParameter(
            "state", f"must be among {[s.value for s in JobState]}, got {state!r}"
        ) from None


LOCAL_USER = "local"  # who is recorded where nobody is authenticated and the OS names nobody usable


def _os_user() -> str | None:
    """The name the OS knows this process's user by, if it is a valid user name."""
    try:
        return check_run_user(getpass.getuser())
    except (KeyError, OSError, InvalidParameter):
        return None


__all__ = ["Client"]

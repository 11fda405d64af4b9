"""A run being logged: the object `pl.start_run()` returns."""

from __future__ import annotations

import logging
import math
import os
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import orjson

from plimsoll.core.errors import InvalidParameter, PlimsollError
from plimsoll.core.ids import now_ms
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_artifact_path, check_float
from plimsoll.data.entities import DatasetVersion
from plimsoll.tracking.entities import (
    MetricColumns,
    Run,
    RunEnd,
    RunStatus,
    check_metric_key,
    check_metric_step,
    check_metric_timestamp,
    check_params,
    check_tags,
    parse_run_status,
)

if TYPE_CHECKING:
    from plimsoll.client.batching import Batcher
    from plimsoll.client.registry import LoggedModel
    from plimsoll.client.transport import Transport
    from plimsoll.model_registry.entities import ModelCard, Signature

log = logging.getLogger("plimsoll.client")


def param_text(value: Any) -> str:
    """A param's value as the text stored (a dict or list as JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple):
        try:
            return orjson.dumps(value).decode()
        except TypeError:  # not JSON (a set inside, say): its repr is still worth keeping
            return str(value)
    return str(value)


def param_texts(params: dict[str, Any]) -> dict[str, str]:
    """Params as text, checked by the server's own rules (`check_params`)."""
    return check_params({key: param_text(value) for key, value in params.items()})


def tag_texts(tags: dict[str, Any]) -> dict[str, str]:
    return check_tags({key: value if isinstance(value, str) else str(value) for key, value in tags.items()})


class ActiveRun:
    """Log to one run. Calls return at once; writes are batched in the background and become
    visible at the next flush (at most a fraction of a second later, and always at `end`)."""

    def __init__(
        self,
        run_id: str,
        name: str,
        experiment_id: str,
        experiment: str,
        *,
        batcher: Batcher,
        transport: Transport,
        on_end: Callable[[ActiveRun], None],
        project: str = DEFAULT_PROJECT,
    ) -> None:
        self._batcher = batcher
        self._transport = transport
        self._on_end = on_end  # the client forgets it as its active run
        self.id = run_id
        self.name = name
        self.experiment_id = experiment_id
        self.experiment = experiment
        self.project = project  # the experiment's: where the run's lineage lives
        self._steps: dict[str, int] = {}
        self._ended = False

    def __repr__(self) -> str:
        return f"<ActiveRun {self.name} id={self.id} experiment={self.experiment!r}>"

    # -- logging ----------------------------------------------------------------------------------

    def log_param(self, key: str, value: Any) -> ActiveRun:
        return self.log_params({key: value})

    def log_params(self, params: dict[str, Any]) -> ActiveRun:
        self._batcher.submit(self.id, params=param_texts(params))
        return self

    def set_tag(self, key: str, value: Any) -> ActiveRun:
        return self.set_tags({key: value})

    def set_tags(self, tags: dict[str, Any]) -> ActiveRun:
        self._batcher.submit(self.id, tags=tag_texts(tags))
        return self

    def log_metric(
        self,
        key: str,
        value: float,
        step: int | None = None,
        *,
        timestamp: int | None = None,
        synchronous: bool = False,
    ) -> ActiveRun:
        return self.log_metrics({key: value}, step=step, timestamp=timestamp, synchronous=synchronous)

    def log_metrics(
        self,
        metrics: dict[str, float],
        step: int | None = None,
        *,
        timestamp: int | None = None,
        synchronous: bool = False,
    ) -> ActiveRun:
        """`step` defaults to one past the last step logged for that key in this run (0 first).
        With `synchronous=True` the call returns once the server has stored the points. The
        server's rules are checked here, point by point (`check_metric_columns` checks the same
        in bulk on the server)."""
        last_steps = self._steps
        keys = list(metrics)
        for key in keys:
            if key not in last_steps:
                check_metric_key(key)  # once per key: the rest runs per point
        first = keys[0] if keys else ""
        stamp = now_ms() if timestamp is None else check_metric_timestamp(first, timestamp)
        values = [v if type(v) is float else check_float(f"metrics.{k}.value", v) for k, v in metrics.items()]
        if step is None:
            steps = [last_steps.get(key, -1) + 1 for key in keys]
        else:
            step = check_metric_step(first, step)
            steps = [step] * len(keys)
        points = MetricColumns(keys, values, steps, [stamp] * len(keys))
        self._batcher.submit(self.id, metrics=points)
        # Only once the call went through: a refused call changes nothing.
        if step is None:
            last_steps.update(zip(keys, steps, strict=True))
        else:
            for key in keys:
                if last_steps.get(key, -1) < step:
                    last_steps[key] = step
        if synchronous:
            self.flush()
        return self

    def log_artifact(
        self,
        local_path: str | Path,
        artifact_path: str | None = None,
        *,
        follow_symlinks: bool = False,
        wait: bool = True,
    ) -> ActiveRun:
        """Upload a file, or a directory with everything in it, under `artifact_path`, after the
        run's earlier writes. Returns once stored (`wait=False`: at once, and a failure is raised
        at the run's next call); while the server is unreachable the upload is retried like every
        write, and spooled if the process ends first.

        In a directory, symbolic links are not followed unless `follow_symlinks`: a link may lead
        out of the directory (to a key, a home folder), and what it leads to would be uploaded.
        The links skipped are named in a warning."""
        source = Path(local_path)
        if not source.exists():
            raise FileNotFoundError(f"{source}: no such file or directory")
        prefix = artifact_path.strip("/") if artifact_path else ""
        if source.is_dir():
            files = directory_files(source, follow_symlinks=follow_symlinks)
            targets = [(p, "/".join(filter(None, [prefix, p.relative_to(source).as_posix()]))) for p in files]
        else:
            targets = [(source, "/".join(filter(None, [prefix, source.name])))]
        uploads: list[tuple[str, bytes | Path]] = [
            (check_artifact_path("artifact_path", target), file) for file, target in targets
        ]
        self._batcher.submit(self.id, artifacts=uploads)
        return self.flush() if wait else self

    def log_text(self, text: str, artifact_path: str, *, wait: bool = True) -> ActiveRun:
        check_artifact_path("artifact_path", artifact_path)
        self._batcher.submit(self.id, artifacts=[(artifact_path, text.encode())])
        return self.flush() if wait else self

    def log_dict(self, value: dict[str, Any], artifact_path: str, *, wait: bool = True) -> ActiveRun:
        text = orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
        return self.log_text(text, artifact_path, wait=wait)

    def log_model(
        self,
        model: Any,
        name: str = "model",
        *,
        flavor: str | None = None,
        input_example: Any = None,
        signature: Signature | dict[str, Any] | None = None,
        card: ModelCard | dict[str, Any] | None = None,
        register_as: str | None = None,
        description: str = "",
    ) -> LoggedModel:
        """Log `model` as this run's artifacts under `name/`: its files in its flavor's format
        (inferred from its library: sklearn through skops, xgboost, lightgbm, onnx; any object
        with `predict` as a pickle, `python_function`), a `manifest.json`, and the input example.
        The signature is inferred from `input_example` (a DataFrame, an array, records) and the
        model's prediction on it; a `signature` given is checked against the example. `card`: the
        model card (description, intended_use, limitations, risk_rating). With `register_as`,
        the files are registered as a new version of that model, and it is returned in `.version`.
        A pickle is scanned first, and one importing what can run commands is refused."""
        from plimsoll.client.registry import LoggedModel
        from plimsoll.model_registry.entities import check_card
        from plimsoll.model_registry.flavors import save_model

        check_artifact_path("name", name)
        given_card = None if card is None else check_card("card", card)
        with tempfile.TemporaryDirectory(prefix="plimsoll-model-") as folder:
            manifest = save_model(
                model,
                Path(folder),
                flavor_name=flavor,
                input_example=input_example,
                signature=signature,
                card=given_card,
            )
            self.log_artifact(folder, name)  # waits until stored, while the folder is there
        version = None
        if register_as is not None:
            version = self._transport.registry_register(
                self.project, register_as, self.id, name, None, description, None
            )
        return LoggedModel(self.id, name, manifest, version)

    # -- lineage ----------------------------------------------------------------------------------

    def log_input(self, dataset: str | DatasetVersion, *, context: str | None = "training") -> DatasetVersion:
        """Record that this run read `dataset` (`"NAME@VERSION"`, `"NAME"` for the latest, or a
        `DatasetVersion`) for `context`: training, validation, test, evaluation or None. Returns
        the exact version recorded, so that "which data trained this model?" has one answer."""
        return self._link_dataset(dataset, "input", context)

    def log_output(self, dataset: str | DatasetVersion) -> DatasetVersion:
        """Record that this run wrote `dataset`. (A version registered inside the run is already
        recorded as its output.)"""
        return self._link_dataset(dataset, "output", None)

    def _link_dataset(
        self, dataset: str | DatasetVersion, direction: str, context: str | None
    ) -> DatasetVersion:
        if isinstance(dataset, DatasetVersion):
            if dataset.project != self.project:
                raise InvalidParameter(
                    "dataset",
                    f"{dataset.ref!r} is in project {dataset.project!r}; this run's lineage is in "
                    f"{self.project!r}",
                )
            dataset = dataset.ref
        self.flush()  # the run must be stored before an edge can name it
        return self._transport.dataset_link_run(self.project, str(dataset), self.id, direction, context)

    # -- lifecycle --------------------------------------------------------------------------------

    def flush(self) -> ActiveRun:
        """Wait until everything logged so far is stored; raise any error the server reported."""
        self._batcher.flush(self.id)
        return self

    def end(self, status: RunStatus | str = RunStatus.FINISHED, *, wait: bool = True) -> None:
        if self._ended:
            return
        end = RunEnd(parse_run_status(status), now_ms())
        self._ended = True
        self._on_end(self)
        self._batcher.submit(self.id, end=end)
        if wait:
            self.flush()

    def info(self) -> Run:
        """The run as the server has it now (params, latest metrics, tags)."""
        self.flush()
        return self._transport.get_run(self.id)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.end(RunStatus.FINISHED)
            return
        status = RunStatus.KILLED if issubclass(exc_type, KeyboardInterrupt) else RunStatus.FAILED
        try:
            self.end(status)
        except PlimsollError as failure:
            # The block's own exception is the one to see; say what else went wrong.
            log.error("run %s ended %s, and some of its writes were not saved: %s", self.id, status, failure)


def directory_files(root: Path, *, follow_symlinks: bool) -> list[Path]:
    """The files under `root`, sorted. Symbolic links (to files or directories) are skipped and
    named in one warning unless `follow_symlinks`; followed, a directory is entered once, so a
    link back up the tree does not loop."""
    found: list[Path] = []
    skipped: list[str] = []
    seen: set[str] = set()
    for directory, subdirectories, names in os.walk(root, followlinks=follow_symlinks):
        here = Path(directory)
        real = os.path.realpath(here)
        if real in seen:
            subdirectories.clear()
            continue
        seen.add(real)
        for name in list(subdirectories):
            if not follow_symlinks and (here / name).is_symlink():
                skipped.append((here / name).relative_to(root).as_posix())
        for name in names:
            path = here / name
            if path.is_symlink() and not follow_symlinks:
                skipped.append(path.relative_to(root).as_posix())
            elif path.is_file():
                found.append(path)
    if skipped:
        shown = ", ".join(sorted(skipped)[:10]) + (", ..." if len(skipped) > 10 else "")
        warnings.warn(
            f"{root}: skipped {len(skipped)} symbolic link(s), which may lead out of the directory "
            f"(pass follow_symlinks=True to upload what they lead to): {shown}",
            stacklevel=3,
        )
    return sorted(found)

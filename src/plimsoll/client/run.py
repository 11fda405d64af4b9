"""A run being logged: the object `pl.start_run()` returns."""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import orjson

from plimsoll.core.errors import PlimsollError
from plimsoll.core.ids import now_ms
from plimsoll.core.validation import (
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    check_artifact_path,
    check_float,
    check_int,
    check_key,
    check_text,
)
from plimsoll.tracking.entities import MetricColumns, Run, RunEnd, RunStatus, parse_run_status

if TYPE_CHECKING:
    from plimsoll.client.batching import Batcher
    from plimsoll.client.transport import Transport

log = logging.getLogger("plimsoll.client")


def param_text(key: str, value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        text = repr(value)
    elif isinstance(value, str):
        text = value
    elif isinstance(value, dict | list | tuple | bool | int | float) or value is None:
        text = orjson.dumps(value).decode() if isinstance(value, dict | list | tuple) else str(value)
    else:
        text = str(value)
    return check_text(f"params.{key}", text, max_length=MAX_PARAM_VALUE_LENGTH)


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
    ) -> None:
        self._batcher = batcher
        self._transport = transport
        self._on_end = on_end  # the client forgets it as its active run
        self.id = run_id
        self.name = name
        self.experiment_id = experiment_id
        self.experiment = experiment
        self._steps: dict[str, int] = {}
        self._ended = False

    def __repr__(self) -> str:
        return f"<ActiveRun {self.name} id={self.id} experiment={self.experiment!r}>"

    # -- logging ----------------------------------------------------------------------------------

    def log_param(self, key: str, value: Any) -> ActiveRun:
        return self.log_params({key: value})

    def log_params(self, params: dict[str, Any]) -> ActiveRun:
        values = {check_key("params", key): param_text(key, value) for key, value in params.items()}
        self._batcher.submit(self.id, params=values)
        return self

    def set_tag(self, key: str, value: Any) -> ActiveRun:
        return self.set_tags({key: value})

    def set_tags(self, tags: dict[str, Any]) -> ActiveRun:
        values = {
            check_key("tags", key): check_text(f"tags.{key}", str(value), max_length=MAX_TAG_VALUE_LENGTH)
            for key, value in tags.items()
        }
        self._batcher.submit(self.id, tags=values)
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
        With `synchronous=True` the call returns once the server has stored the points."""
        stamp = now_ms() if timestamp is None else check_int("timestamp", timestamp, minimum=0)
        if step is not None:
            step = check_int("step", step)
        points = MetricColumns()
        last_steps = self._steps
        for key, value in metrics.items():
            if key not in last_steps:
                check_key("metrics", key)  # once per key: the loop below runs per point
                last_steps[key] = -1
            number = value if type(value) is float else check_float(f"metrics.{key}", value)
            point_step = last_steps[key] + 1 if step is None else step
            if point_step > last_steps[key]:
                last_steps[key] = point_step
            points.append(key, number, point_step, stamp)
        self._batcher.submit(self.id, metrics=points)
        if synchronous:
            self.flush()
        return self

    def log_artifact(
        self, local_path: str | Path, artifact_path: str | None = None, *, follow_symlinks: bool = False
    ) -> ActiveRun:
        """Upload a file, or a directory with everything in it, under `artifact_path`.

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
        for _file, target in targets:
            check_artifact_path("artifact_path", target)
        self.flush()  # the run must exist on the server before its files
        for file, target in targets:
            with file.open("rb") as handle:
                self._transport.log_artifact(self.id, target, handle)
        return self

    def log_text(self, text: str, artifact_path: str) -> ActiveRun:
        check_artifact_path("artifact_path", artifact_path)
        self.flush()
        self._transport.log_artifact(self.id, artifact_path, text.encode())
        return self

    def log_dict(self, value: dict[str, Any], artifact_path: str) -> ActiveRun:
        return self.log_text(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode(), artifact_path)

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

"""What a run records about where it came from: the code version and the environment.

Captured once per process (package lists and git state do not change under a running script) and
attached to every run it starts: tags for what you filter on, artifacts for what you read."""

from __future__ import annotations

import functools
import importlib.metadata
import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from plimsoll.tracking.entities import DIFF_ARTIFACT, ENVIRONMENT_ARTIFACT

GIT_TIMEOUT_S = 5.0
MAX_DIFF_BYTES = 5 * 1024 * 1024


@dataclass(frozen=True)
class Capture:
    tags: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, bytes] = field(default_factory=dict)


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, timeout=GIT_TIMEOUT_S, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.decode(errors="replace") if done.returncode == 0 else None


def _without_credentials(url: str) -> str:
    return re.sub(r"//[^/@]+@", "//", url)


def source_dir() -> Path:
    """The folder of the script being run (or the working directory in a notebook or REPL)."""
    main = sys.argv[0] if sys.argv and sys.argv[0] not in {"", "-c"} else ""
    path = Path(main).resolve().parent if main and Path(main).exists() else Path.cwd()
    return path


def capture_code(cwd: Path | None = None) -> Capture:
    where = cwd or source_dir()
    commit = _git(["rev-parse", "HEAD"], where)
    if commit is None:
        return Capture(tags={"plimsoll.git.available": "false"})
    tags = {"plimsoll.git.commit": commit.strip()}
    branch = _git(["rev-parse", "--abbrev-ref", "HEAD"], where)
    if branch:
        tags["plimsoll.git.branch"] = branch.strip()
    remote = _git(["config", "--get", "remote.origin.url"], where)
    if remote:
        tags["plimsoll.git.remote"] = _without_credentials(remote.strip())
    status = _git(["status", "--porcelain", "--untracked-files=no"], where) or ""
    dirty = bool(status.strip())
    tags["plimsoll.git.dirty"] = "true" if dirty else "false"
    artifacts: dict[str, bytes] = {}
    if dirty:
        diff = (_git(["diff", "HEAD"], where) or "").encode()
        if len(diff) > MAX_DIFF_BYTES:
            diff = diff[:MAX_DIFF_BYTES] + b"\n[diff truncated at 5 MiB]\n"
        artifacts[DIFF_ARTIFACT] = diff
    return Capture(tags=tags, artifacts=artifacts)


@functools.lru_cache(maxsize=1)
def _environment() -> tuple[dict[str, str], bytes]:
    packages = sorted(
        {(dist.metadata["Name"] or "?", dist.version) for dist in importlib.metadata.distributions()},
        key=lambda item: item[0].lower(),
    )
    tags = {
        "plimsoll.python": platform.python_version(),
        "plimsoll.platform": platform.platform(),
    }
    document = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "executable": sys.executable,
        "packages": [{"name": name, "version": version} for name, version in packages],
    }
    return tags, orjson.dumps(document, option=orjson.OPT_INDENT_2)


def capture_environment() -> Capture:
    tags, document = _environment()
    return Capture(tags=dict(tags), artifacts={ENVIRONMENT_ARTIFACT: document})


def capture_all() -> Capture:
    code, env = capture_code(), capture_environment()
    tags = {**env.tags, **code.tags}
    main = sys.argv[0] if sys.argv else ""
    if main:
        tags["plimsoll.source"] = os.path.basename(main)
    return Capture(tags=tags, artifacts={**env.artifacts, **code.artifacts})

"""Environment parity: the packages a version was trained with (its run's captured environment,
`plimsoll/environment.json`) against the packages of the process serving it. A model pickled or
saved by one scikit-learn and loaded by another may load and answer differently; the server says
which packages differ, and how much, for each version it serves.

Pure: the caller reads the run's document and gives it here.
"""

from __future__ import annotations

import functools
import importlib.metadata
import platform
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

# The libraries whose version decides how a model loads and answers: a difference in one of these
# is `critical`; in any other package it is reported, not alarming.
CRITICAL_PACKAGES: frozenset[str] = frozenset(
    {
        "numpy",
        "scipy",
        "scikit-learn",
        "pandas",
        "pyarrow",
        "skops",
        "xgboost",
        "lightgbm",
        "onnxruntime",
        "onnx",
        "torch",
        "tensorflow",
        "joblib",
        "cloudpickle",
    }
)
LEVELS: tuple[str, ...] = ("major", "minor", "patch", "other", "missing")


@dataclass(frozen=True)
class Environment:
    python: str
    packages: Mapping[str, str]  # normalised name (PEP 503) -> version

    @classmethod
    def from_document(cls, document: bytes | str | Mapping[str, Any]) -> Environment:
        """From a run's captured `plimsoll/environment.json` (its bytes or parsed)."""
        found = orjson.loads(document) if isinstance(document, bytes | str) else document
        packages = {
            normalised(str(p.get("name", ""))): str(p.get("version", ""))
            for p in found.get("packages", ())
            if isinstance(p, Mapping) and p.get("name")
        }
        return cls(str(found.get("python", "")), packages)


@functools.lru_cache(maxsize=1)
def current_environment() -> Environment:
    """This process's Python and installed packages (read once: they do not change under it)."""
    packages = {
        normalised(dist.metadata["Name"] or ""): dist.version
        for dist in importlib.metadata.distributions()
        if dist.metadata["Name"]
    }
    return Environment(platform.python_version(), packages)


@dataclass(frozen=True)
class Difference:
    package: str
    training: str
    serving: str | None  # None: installed where it trained, not here
    level: str  # how far apart: major, minor, patch, other (not comparable), missing
    critical: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "package": self.package,
            "training": self.training,
            "serving": self.serving,
            "level": self.level,
            "critical": self.critical,
        }


@dataclass(frozen=True)
class Parity:
    python: tuple[str, str]  # (training, serving)
    differences: tuple[Difference, ...] = field(default_factory=tuple)

    @property
    def critical(self) -> tuple[Difference, ...]:
        return tuple(d for d in self.differences if d.critical)

    @property
    def python_differs(self) -> bool:
        return _release(self.python[0])[:2] != _release(self.python[1])[:2]

    def summary(self) -> str:
        """One line for logs and pages: the critical differences first."""
        if not self.differences and not self.python_differs:
            return "same packages as where it trained"
        shown = [
            f"{d.package} {d.training} -> {d.serving or 'not installed'}"
            for d in sorted(self.differences, key=lambda d: (not d.critical, d.package))[:5]
        ]
        more = len(self.differences) - len(shown)
        python = f"Python {self.python[0]} -> {self.python[1]}; " if self.python_differs else ""
        return python + "; ".join(shown) + (f"; and {more} more" if more > 0 else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "python": {"training": self.python[0], "serving": self.python[1], "differs": self.python_differs},
            "differences": [d.to_dict() for d in self.differences],
            "critical": [d.package for d in self.critical],
            "summary": self.summary(),
        }


def compare(training: Environment, serving: Environment) -> Parity:
    """Packages of the training environment that the serving one lacks or holds at another
    version (packages only the server has are its own business, not the model's)."""
    differences = []
    for name, version in sorted(training.packages.items()):
        here = serving.packages.get(name)
        if here == version:
            continue
        level = "missing" if here is None else _level(version, here)
        differences.append(Difference(name, version, here, level, name in CRITICAL_PACKAGES))
    return Parity((training.python, serving.python), tuple(differences))


def normalised(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _release(version: str) -> tuple[int, ...]:
    match = re.match(r"\d+(?:\.\d+)*", version)
    return tuple(int(part) for part in match.group(0).split(".")) if match else ()


def _level(training: str, serving: str) -> str:
    a, b = _release(training), _release(serving)
    if not a or not b:
        return "other"
    a, b = (*a, 0, 0, 0), (*b, 0, 0, 0)
    for position, name in enumerate(("major", "minor", "patch")):
        if a[position] != b[position]:
            return name
    return "other"  # the same release, another suffix (rc, post, local)

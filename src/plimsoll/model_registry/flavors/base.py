"""What every flavor provides, and the model a load returns.

A flavor turns a model object into files (`save`: the files and the manifest's fields for them)
and files back into something that predicts (`load`, given the trust the version holds). Its
library is imported inside those calls only."""

from __future__ import annotations

import importlib.metadata
import platform
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from plimsoll.core.errors import InvalidParameter
from plimsoll.model_registry.entities import ModelVersion, Signature
from plimsoll.model_registry.manifest import Manifest

Predict = Callable[[Any], Any]


@dataclass(frozen=True)
class Saved:
    """What a flavor's `save` wrote: its files (path -> format) and the manifest's fields."""

    files: dict[str, str]
    libraries: dict[str, str]
    methods: tuple[str, ...] = ("predict",)
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Predictor:
    """A model's own predict (and predict_proba), taking what `signatures.enforce` gives."""

    predict: Predict
    predict_proba: Predict | None = None
    raw: Any = None  # the library's object (an estimator, a Booster, an InferenceSession)


@dataclass(frozen=True)
class Trust:
    """What a load may do, from the version: the skops types an admin approved, and whether an
    admin trusted its pickle."""

    types: tuple[str, ...] = ()
    pickle: bool = False


class Flavor(Protocol):
    name: str

    def handles(self, model: Any) -> bool:
        """Whether `model` is of this flavor's library (without importing it)."""
        ...

    def save(self, model: Any, folder: Path) -> Saved: ...

    def wrap(self, model: Any, saved: Saved) -> Predictor:
        """The in-memory model as a Predictor (to see its outputs on the input example)."""
        ...

    def load(self, folder: Path, manifest: Manifest, trust: Trust) -> Predictor: ...


def library_versions(*names: str) -> dict[str, str]:
    """The versions of the distributions a model was saved with (and Python's)."""
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def module_of(model: Any) -> str:
    """The top-level package of a model's class: which library made it."""
    return type(model).__module__.partition(".")[0]


def require(module: str, flavor: str) -> Any:
    """Import a flavor's library, or say how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise InvalidParameter(
            "flavor",
            f"the {flavor} flavor needs the {module!r} package: pip install 'plimsoll[models]'",
        ) from None


class LoadedModel:
    """A version loaded to predict. `predict(data)` and, where the flavor has it,
    `predict_proba(data)` check `data` against the version's signature first (the columns it
    names, their types) and refuse naming the column that does not fit. `data` is a DataFrame,
    an array, a dict of columns or a list of records. `raw` is the library's own object."""

    def __init__(self, version: ModelVersion, manifest: Manifest, predictor: Predictor) -> None:
        self.version = version
        self.manifest = manifest
        self.signature: Signature | None = manifest.signature
        self.raw = predictor.raw
        self._predictor = predictor

    def __repr__(self) -> str:
        return f"<LoadedModel {self.version.ref} {self.manifest.flavor}>"

    def __dir__(self) -> list[str]:
        names = set(super().__dir__())
        if self._predictor.predict_proba is None:
            names.discard("predict_proba")
        return sorted(names)

    def predict(self, data: Any) -> Any:
        return self._predictor.predict(self._checked(data))

    @property
    def predict_proba(self) -> Predict:
        proba = self._predictor.predict_proba
        if proba is None:
            raise AttributeError(
                f"{self.version.ref} ({self.manifest.flavor} flavor) has no predict_proba: its model "
                "does not give probabilities"
            )
        return lambda data: proba(self._checked(data))

    def predict_with_proba(self, data: Any) -> tuple[Any, Any]:
        """`predict(data)` and `predict_proba(data)` (None where the flavor has none), `data`
        checked against the signature once for both (a model server answers with both)."""
        checked = self._checked(data)
        proba = self._predictor.predict_proba
        return self._predictor.predict(checked), None if proba is None else proba(checked)

    def _checked(self, data: Any) -> Any:
        if self.signature is None:
            return data
        from plimsoll.model_registry.signatures import enforce

        return enforce(data, self.signature, self.version.ref)

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
    # Both answers from one call where they are exactly those of `predict` and `predict_proba`
    # (a classifier whose predict is the class of the highest probability: sklearn, verified).
    both: Callable[[Any], tuple[Any, Any]] | None = None
    # predict, predict_proba and both also take the signature's columns as one plain 2-D array,
    # in its order, with the answers they give on the frame `enforce` makes of them.
    takes_array: bool = False


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


NUMERIC_TYPES = ("float32", "float64", "int32", "int64")


def _enforced(matrix: Any, signature: Signature, types: tuple[str, ...]) -> Any:
    """What `signatures.enforce` gives for these (valid) rows: a frame of the signature's columns
    with their types, or (layout "array") its `to_numpy`."""
    import numpy as np
    import pandas as pd

    names = [c.name for c in signature.inputs]
    if len(set(types)) == 1:
        dtype = np.dtype(types[0])
        if signature.layout == "array":
            return matrix.astype(dtype, copy=False)
        return pd.DataFrame(matrix.astype(dtype, copy=False), columns=names, copy=False)
    frame = pd.DataFrame(
        {n: matrix[:, i].astype(t) for i, (n, t) in enumerate(zip(names, types, strict=True))}
    )
    return frame.to_numpy() if signature.layout == "array" else frame


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
        return self._answers(self._checked(data), True)

    @property
    def numeric_inputs(self) -> tuple[str, ...] | None:
        """The signature's column types when every one is a number (float32/64, int32/64): such
        a version also takes its rows as one array (`predict_matrix`). None otherwise."""
        return self._numeric

    def predict_matrix(self, matrix: Any, *, proba: bool = True) -> tuple[Any, Any]:
        """`predict_with_proba` (or `predict`, and None) of rows given as one 2-D float64 array
        of the signature's columns in its order, each value already found to be a finite number
        its column takes (an integer where it takes integers, within its range, |v| <= 2**53):
        what `enforce` lets through. The model gets what `enforce` would have given it (or, where
        the flavor takes it, the plain array), without the checks column by column."""
        import numpy as np

        types = self._numeric
        if types is None or self.signature is None:
            raise InvalidParameter("input", f"{self.version.ref} does not take its rows as one array")
        # Column-major, as a frame's values are (and `enforce` gives): a model's sums then run
        # in the same order, so its answers are the same to the last bit.
        matrix = np.asfortranarray(matrix)
        if self._predictor.takes_array:
            checked: Any = matrix.astype(np.result_type(*types), copy=False)
        else:
            checked = _enforced(matrix, self.signature, types)
        if not proba:
            return self._predictor.predict(checked), None
        return self._answers(checked, True)

    def _answers(self, checked: Any, proba: bool) -> tuple[Any, Any]:
        predictor = self._predictor
        if not proba or predictor.predict_proba is None:
            return predictor.predict(checked), None
        if predictor.both is not None:
            return predictor.both(checked)
        return predictor.predict(checked), predictor.predict_proba(checked)

    @property
    def _numeric(self) -> tuple[str, ...] | None:
        found = self.__dict__.get("_numeric_types", False)
        if found is False:
            signature = self.signature
            found = None
            if signature is not None and signature.inputs:
                types = tuple(c.type for c in signature.inputs)
                if all(t in NUMERIC_TYPES for t in types):
                    found = types
            self.__dict__["_numeric_types"] = found
        return found  # type: ignore[no-any-return]

    def _checked(self, data: Any) -> Any:
        if self.signature is None:
            return data
        from plimsoll.model_registry.signatures import enforce

        return enforce(data, self.signature, self.version.ref)

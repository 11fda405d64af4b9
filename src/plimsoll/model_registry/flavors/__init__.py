"""Flavors: how a model of each library becomes files and back, one small module each.

    sklearn           scikit-learn through skops (no pickle; unusual types approved per version)
    xgboost           XGBoost's own UBJSON format
    lightgbm          LightGBM's own text format
    onnx              ONNX, run with onnxruntime
    python_function   any object with `predict`, as a pickle (loaded only once trusted)

`save_model` writes a model's files and its `manifest.json` into a folder; `load_model` reads
them back into a `LoadedModel`. Each flavor imports its library only when used."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from plimsoll.core.errors import InvalidParameter
from plimsoll.model_registry.entities import ModelCard, ModelVersion, Signature, check_signature
from plimsoll.model_registry.flavors.base import Flavor, LoadedModel, Predictor, Saved, Trust
from plimsoll.model_registry.manifest import EXAMPLE_FILE, FLAVOR_NAMES, MANIFEST_FILE, Manifest

# Name -> module; the order is the order `infer_flavor` asks them (python_function last).
FLAVORS: dict[str, str] = {name: f"plimsoll.model_registry.flavors.{name}" for name in FLAVOR_NAMES}

__all__ = [
    "FLAVORS",
    "Flavor",
    "LoadedModel",
    "Predictor",
    "Saved",
    "Trust",
    "flavor",
    "infer_flavor",
    "load_model",
    "save_model",
]


def flavor(name: str) -> Flavor:
    if name not in FLAVORS:
        raise InvalidParameter("flavor", f"{name!r} is not a flavor; the flavors are: {', '.join(FLAVORS)}")
    found: Flavor = importlib.import_module(FLAVORS[name]).FLAVOR
    return found


def infer_flavor(model: Any) -> str:
    """The flavor of a model object, from the library its class comes from."""
    for name in FLAVORS:
        if flavor(name).handles(model):
            return name
    raise InvalidParameter(
        "model",
        f"no flavor stores a {type(model).__module__}.{type(model).__name__}: give a scikit-learn, "
        "XGBoost, LightGBM or ONNX model, or an object with a predict method",
    )


def save_model(
    model: Any,
    folder: Path,
    *,
    flavor_name: str | None = None,
    input_example: Any = None,
    signature: Signature | dict[str, Any] | None = None,
    card: ModelCard | None = None,
) -> Manifest:
    """Write `model`'s files, its input example and its manifest into `folder`. The signature is
    inferred from the example (its inputs; its outputs from what the model predicts on it); a
    signature given is checked against the example, naming the column that does not fit."""
    import orjson

    from plimsoll.model_registry.signatures import example_json, infer_signature, output_columns

    name = flavor_name or infer_flavor(model)
    chosen = flavor(name)
    folder.mkdir(parents=True, exist_ok=True)
    saved = chosen.save(model, folder)
    given = None if signature is None else check_signature("signature", signature)
    example_file = None
    if input_example is not None:
        inferred = infer_signature(input_example, layout=None if given is None else given.layout)
        inputs = given or inferred
        example = example_json(input_example, inputs)
        outputs = given.outputs if given is not None and given.outputs else ()
        if not outputs:
            from plimsoll.model_registry.signatures import enforce

            predictor = chosen.wrap(model, saved)
            outputs = output_columns(predictor.predict(enforce(example, inputs, "the model")))
        given = Signature(inputs.inputs, outputs, inputs.layout)
        (folder / EXAMPLE_FILE).write_bytes(orjson.dumps(example))
        example_file = EXAMPLE_FILE
    manifest = Manifest(
        flavor=name,
        files=saved.files,
        libraries=saved.libraries,
        methods=saved.methods,
        options=saved.options,
        signature=given,
        input_example=example_file,
        card=card,
    )
    (folder / MANIFEST_FILE).write_bytes(manifest.to_json())
    return manifest


def load_model(folder: Path, manifest: Manifest, version: ModelVersion, trust: Trust) -> LoadedModel:
    """A `LoadedModel` from a version's files (already verified against its digest)."""
    predictor = flavor(manifest.flavor).load(folder, manifest, trust)
    return LoadedModel(version, manifest, predictor)

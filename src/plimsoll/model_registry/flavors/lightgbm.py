"""LightGBM in its own text format (`Booster.save_model`): a Booster, or a scikit-learn-style
model (LGBMClassifier, LGBMRegressor, LGBMRanker), whose classes are kept in the manifest so that
a classifier's `predict` gives labels again. Nothing is unpickled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plimsoll.core.errors import InvalidParameter
from plimsoll.model_registry.flavors.base import Predictor, Saved, Trust, library_versions, module_of, require
from plimsoll.model_registry.manifest import Manifest

FILE = "model.txt"
CLASSES = ("LGBMClassifier", "LGBMRegressor", "LGBMRanker", "Booster")


class LightGBMFlavor:
    name = "lightgbm"

    def handles(self, model: Any) -> bool:
        return module_of(model) == "lightgbm"

    def save(self, model: Any, folder: Path) -> Saved:
        lightgbm = require("lightgbm", self.name)
        kind = type(model).__name__
        if kind not in CLASSES or not isinstance(model, getattr(lightgbm, kind)):
            raise InvalidParameter("model", f"the lightgbm flavor stores {', '.join(CLASSES)}; got {kind}")
        booster = model if kind == "Booster" else model.booster_
        booster.save_model(str(folder / FILE))
        options: dict[str, Any] = {"class": kind}
        if kind == "LGBMClassifier":
            options["classes"] = [_plain(c) for c in model.classes_]
        return Saved(
            files={FILE: "lightgbm"},
            libraries=library_versions("lightgbm", "numpy"),
            methods=("predict", "predict_proba") if kind == "LGBMClassifier" else ("predict",),
            options=options,
        )

    def wrap(self, model: Any, saved: Saved) -> Predictor:
        booster = model if saved.options["class"] == "Booster" else model.booster_
        return _predictor(booster, saved.options)

    def load(self, folder: Path, manifest: Manifest, trust: Trust) -> Predictor:
        lightgbm = require("lightgbm", self.name)
        if manifest.options.get("class") not in CLASSES:
            raise InvalidParameter("manifest.json.options.class", f"must be one of {', '.join(CLASSES)}")
        return _predictor(lightgbm.Booster(model_file=str(folder / FILE)), manifest.options)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _predictor(booster: Any, options: dict[str, Any]) -> Predictor:
    import numpy as np

    if options.get("class") != "LGBMClassifier":
        return Predictor(booster.predict, None, booster)
    classes = np.asarray(options["classes"])

    def predict_proba(data: Any) -> Any:
        scores = np.asarray(booster.predict(data))
        return np.column_stack([1.0 - scores, scores]) if scores.ndim == 1 else scores

    def predict(data: Any) -> Any:
        return classes[np.argmax(predict_proba(data), axis=1)]

    return Predictor(predict, predict_proba, booster)


FLAVOR = LightGBMFlavor()

"""XGBoost in its own format (UBJSON, `save_model`): the scikit-learn-style models
(XGBClassifier, XGBRegressor, ...) and a bare Booster. Nothing is unpickled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plimsoll.core.errors import InvalidParameter
from plimsoll.model_registry.flavors.base import Predictor, Saved, Trust, library_versions, module_of, require
from plimsoll.model_registry.manifest import Manifest

FILE = "model.ubj"
# The classes a version may name: a load makes one of these, never a class the manifest invents.
CLASSES = ("XGBClassifier", "XGBRegressor", "XGBRFClassifier", "XGBRFRegressor", "XGBRanker", "Booster")


class XGBoostFlavor:
    name = "xgboost"

    def handles(self, model: Any) -> bool:
        return module_of(model) == "xgboost"

    def save(self, model: Any, folder: Path) -> Saved:
        xgboost = require("xgboost", self.name)
        kind = type(model).__name__
        if kind not in CLASSES or not isinstance(model, getattr(xgboost, kind)):
            raise InvalidParameter("model", f"the xgboost flavor stores {', '.join(CLASSES)}; got {kind}")
        model.save_model(str(folder / FILE))
        methods = ("predict", "predict_proba") if hasattr(model, "predict_proba") else ("predict",)
        return Saved(
            files={FILE: "xgboost"},
            libraries=library_versions("xgboost", "xgboost-cpu", "numpy"),
            methods=methods,
            options={"class": kind},
        )

    def wrap(self, model: Any, saved: Saved) -> Predictor:
        return _predictor(model, saved.methods)

    def load(self, folder: Path, manifest: Manifest, trust: Trust) -> Predictor:
        xgboost = require("xgboost", self.name)
        kind = manifest.options.get("class")
        if kind not in CLASSES:
            raise InvalidParameter("manifest.json.options.class", f"must be one of {', '.join(CLASSES)}")
        if kind == "Booster":
            model = xgboost.Booster(model_file=str(folder / FILE))
        else:
            model = getattr(xgboost, kind)()
            model.load_model(str(folder / FILE))
        return _predictor(model, manifest.methods)


def _predictor(model: Any, methods: tuple[str, ...]) -> Predictor:
    if type(model).__name__ == "Booster":
        import xgboost

        return Predictor(lambda data: model.predict(xgboost.DMatrix(data)), None, model)
    proba = model.predict_proba if "predict_proba" in methods else None
    return Predictor(model.predict, proba, model)


FLAVOR = XGBoostFlavor()

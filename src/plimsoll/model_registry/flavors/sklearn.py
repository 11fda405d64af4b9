"""scikit-learn, stored with skops: no pickle. skops refuses, when loading, the types it does not
trust by default (a HistGradientBoosting model's `TreePredictor`, for one); a version lists them
when it is registered, and they are passed to skops only once an admin approved that list."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plimsoll.core.errors import PermissionDenied
from plimsoll.model_registry.flavors.base import Predictor, Saved, Trust, library_versions, module_of
from plimsoll.model_registry.manifest import Manifest

FILE = "model.skops"


class SklearnFlavor:
    name = "sklearn"

    def handles(self, model: Any) -> bool:
        return module_of(model) == "sklearn"

    def save(self, model: Any, folder: Path) -> Saved:
        import skops.io

        skops.io.dump(model, folder / FILE)
        methods = ("predict", "predict_proba") if hasattr(model, "predict_proba") else ("predict",)
        return Saved(
            files={FILE: "skops"},
            libraries=library_versions("scikit-learn", "skops", "numpy"),
            methods=methods,
            # Fitted on a DataFrame, it checks the columns' names; fitted on an array, it warns
            # when given names, so it then gets an array.
            options={"feature_names": hasattr(model, "feature_names_in_")},
        )

    def wrap(self, model: Any, saved: Saved) -> Predictor:
        return _predictor(model, saved.methods, saved.options)

    def load(self, folder: Path, manifest: Manifest, trust: Trust) -> Predictor:
        import skops.io
        from skops.io.exceptions import UntrustedTypesFoundException

        try:
            model = skops.io.load(folder / FILE, trusted=list(trust.types) or None)
        except UntrustedTypesFoundException as exc:
            raise PermissionDenied(
                f"skops refused types that were not approved: {exc}".split("\n")[0]
            ) from None
        return _predictor(model, manifest.methods, manifest.options)


def _predictor(model: Any, methods: tuple[str, ...], options: dict[str, Any]) -> Predictor:
    def arrays(data: Any) -> Any:
        return data if options.get("feature_names") or not hasattr(data, "to_numpy") else data.to_numpy()

    def predict(data: Any) -> Any:
        return model.predict(arrays(data))

    def predict_proba(data: Any) -> Any:
        return model.predict_proba(arrays(data))

    return Predictor(predict, predict_proba if "predict_proba" in methods else None, model)


FLAVOR = SklearnFlavor()

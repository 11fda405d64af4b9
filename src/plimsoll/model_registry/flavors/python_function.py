"""Any Python object with a `predict` (and maybe `predict_proba`), stored as a pickle: the flavor
of last resort. A pickle runs code when loaded, so its imports are scanned when it is logged (and
again when registered), dangerous ones refused, and it is loaded only once a project admin marked
the version trusted. Its classes must be importable where it is loaded (not defined in __main__)."""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import Any

from plimsoll.core.errors import InvalidParameter, PermissionDenied
from plimsoll.model_registry.flavors.base import Predictor, Saved, Trust, library_versions
from plimsoll.model_registry.manifest import Manifest
from plimsoll.model_registry.scanning import refuse_dangerous, scan_pickle

FILE = "model.pkl"


class PythonFunctionFlavor:
    name = "python_function"

    def handles(self, model: Any) -> bool:
        return callable(getattr(model, "predict", None))

    def save(self, model: Any, folder: Path) -> Saved:
        if not callable(getattr(model, "predict", None)):
            raise InvalidParameter("model", f"must have a predict method; {type(model).__name__} has none")
        content = pickle.dumps(model, protocol=5)
        scan = scan_pickle(io.BytesIO(content), FILE)
        refuse_dangerous(scan, "model")
        (folder / FILE).write_bytes(content)
        methods = (
            ("predict", "predict_proba") if callable(getattr(model, "predict_proba", None)) else ("predict",)
        )
        return Saved(files={FILE: "pickle"}, libraries=library_versions(), methods=methods)

    def wrap(self, model: Any, saved: Saved) -> Predictor:
        return Predictor(
            model.predict, model.predict_proba if "predict_proba" in saved.methods else None, model
        )

    def load(self, folder: Path, manifest: Manifest, trust: Trust) -> Predictor:
        if not trust.pickle:  # the registry's check comes first; this one never lets a pickle by
            raise PermissionDenied("a pickle is loaded only from a version a project admin trusted")
        with (folder / FILE).open("rb") as stream:
            model = pickle.load(stream)  # trusted by an admin, scanned when logged
        proba = model.predict_proba if "predict_proba" in manifest.methods else None
        return Predictor(model.predict, proba, model)


FLAVOR = PythonFunctionFlavor()

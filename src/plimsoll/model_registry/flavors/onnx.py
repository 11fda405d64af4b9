"""ONNX, run with onnxruntime (CPU). The model is an `onnx.ModelProto`, its bytes, or the path of
a .onnx file. A graph with one 2-D input takes the signature's columns as one array; a graph with
an input per column takes them by name. `predict` is the first output; `predict_proba` the output
whose name says probabilities, where there is one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from plimsoll.core.errors import InvalidParameter
from plimsoll.model_registry.flavors.base import Predictor, Saved, Trust, library_versions, module_of, require
from plimsoll.model_registry.manifest import Manifest

FILE = "model.onnx"
_DTYPES = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(bool)": "bool",
    "tensor(string)": "object",
}


class OnnxFlavor:
    name = "onnx"

    def handles(self, model: Any) -> bool:
        return module_of(model) == "onnx"

    def save(self, model: Any, folder: Path) -> Saved:
        content = _bytes_of(model)
        (folder / FILE).write_bytes(content)
        session = _session(content)
        outputs = [o.name for o in session.get_outputs()]
        proba = next((name for name in outputs[1:] if "prob" in name.lower()), None)
        return Saved(
            files={FILE: "onnx"},
            libraries=library_versions("onnxruntime", "onnx", "numpy"),
            methods=("predict", "predict_proba") if proba else ("predict",),
            options={"inputs": [i.name for i in session.get_inputs()], "outputs": outputs, "proba": proba},
        )

    def wrap(self, model: Any, saved: Saved) -> Predictor:
        return _predictor(_session(_bytes_of(model)), saved.options)

    def load(self, folder: Path, manifest: Manifest, trust: Trust) -> Predictor:
        return _predictor(_session((folder / FILE).read_bytes()), manifest.options)


def _bytes_of(model: Any) -> bytes:
    if isinstance(model, bytes):
        return model
    if isinstance(model, str | Path):
        return Path(model).read_bytes()
    if hasattr(model, "SerializeToString"):
        return bytes(model.SerializeToString())
    raise InvalidParameter(
        "model",
        f"the onnx flavor takes an onnx.ModelProto, its bytes or a .onnx file; got {type(model).__name__}",
    )


def _session(content: bytes) -> Any:
    onnxruntime = require("onnxruntime", "onnx")
    try:
        return onnxruntime.InferenceSession(content, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own (Fail, InvalidGraph, ...)
        raise InvalidParameter("model", f"onnxruntime cannot load this model: {exc}") from None


def _predictor(session: Any, options: dict[str, Any]) -> Predictor:
    import numpy as np

    inputs = session.get_inputs()
    outputs = [o.name for o in session.get_outputs()]
    kinds = {o.name: o.type for o in session.get_outputs()}

    def feeds(data: Any) -> dict[str, Any]:
        if len(inputs) == 1:
            return {inputs[0].name: np.asarray(data, dtype=_DTYPES.get(inputs[0].type))}
        return {i.name: np.asarray(data[i.name], dtype=_DTYPES.get(i.type)).reshape(-1, 1) for i in inputs}

    def run(name: str, data: Any) -> Any:
        (result,) = session.run([name], feeds(data))
        if kinds[name].startswith("seq(map"):  # a ZipMap: one {class: probability} per row
            return np.asarray([[row[k] for k in sorted(row)] for row in result])
        return result

    def predict(data: Any) -> Any:
        return run(outputs[0], data)

    proba = options.get("proba")
    if not isinstance(proba, str) or proba not in kinds:
        return Predictor(predict, None, session)
    return Predictor(predict, lambda data: run(proba, data), session)


FLAVOR = OnnxFlavor()

"""`manifest.json`: what `run.log_model` writes beside a model's files, and what the registry and
a load read back. It says which flavor loads the model, which file holds what (and in which
format), the libraries it was saved with, its signature and its input example.

    {"manifest": 1, "flavor": "sklearn", "files": {"model.skops": "skops"},
     "libraries": {"python": "3.11.7", "scikit-learn": "1.9.1", "skops": "0.16.0"},
     "methods": ["predict", "predict_proba"], "options": {},
     "signature": {"inputs": [{"name": "age", "type": "float64"}], "outputs": [...], "layout": "frame"},
     "input_example": "input_example.json", "card": {"risk_rating": "low", ...}}

The registry trusts none of it for safety: the types a skops file needs and the imports a pickle
makes are found by reading the files themselves (`scanning`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.validation import check_artifact_path, check_text, printable
from plimsoll.model_registry.entities import ModelCard, Signature, check_card, check_signature

MANIFEST_FILE = "manifest.json"
EXAMPLE_FILE = "input_example.json"
MANIFEST_FORMAT = 1
MAX_MANIFEST_BYTES = 1024 * 1024
# The flavors a version may name, and the file formats their files are in.
FLAVOR_NAMES: tuple[str, ...] = ("sklearn", "xgboost", "lightgbm", "onnx", "python_function")
FILE_FORMATS: tuple[str, ...] = ("skops", "pickle", "xgboost", "lightgbm", "onnx")
METHODS: tuple[str, ...] = ("predict", "predict_proba")


@dataclass(frozen=True)
class Manifest:
    flavor: str
    files: dict[str, str]  # path inside the model's folder -> its format (FILE_FORMATS)
    libraries: dict[str, str] = field(default_factory=dict)
    methods: tuple[str, ...] = ("predict",)
    options: dict[str, Any] = field(default_factory=dict)  # the flavor's own
    signature: Signature | None = None
    input_example: str | None = None  # the example's file, beside the manifest
    card: ModelCard | None = None

    def files_in(self, file_format: str) -> list[str]:
        return sorted(path for path, kind in self.files.items() if kind == file_format)

    def to_json(self) -> bytes:
        body: dict[str, Any] = {
            "manifest": MANIFEST_FORMAT,
            "flavor": self.flavor,
            "files": self.files,
            "libraries": self.libraries,
            "methods": list(self.methods),
            "options": self.options,
            "signature": None if self.signature is None else self.signature.to_dict(),
            "input_example": self.input_example,
            "card": None if self.card is None else self.card.to_dict(),
        }
        return orjson.dumps(body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS)


def read_manifest(content: bytes, where: str = MANIFEST_FILE) -> Manifest:
    """A manifest from its JSON, every field checked; InvalidParameter naming the field."""
    if len(content) > MAX_MANIFEST_BYTES:
        raise InvalidParameter(where, f"is {len(content)} bytes; the limit is {MAX_MANIFEST_BYTES}")
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        raise InvalidParameter(where, f"is not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise InvalidParameter(where, "must be a JSON object")
    if body.get("manifest") != MANIFEST_FORMAT:
        raise InvalidParameter(
            f"{where}.manifest",
            f"must be {MANIFEST_FORMAT} (the format this Plimsoll reads); got {printable(body.get('manifest'))!r}",
        )
    flavor = body.get("flavor")
    if flavor not in FLAVOR_NAMES:
        raise InvalidParameter(
            f"{where}.flavor",
            f"{printable(flavor)!r} is not a flavor; the flavors are: {', '.join(FLAVOR_NAMES)}",
        )
    files = body.get("files")
    if not isinstance(files, dict) or not files:
        raise InvalidParameter(f"{where}.files", "must map each of the model's files to its format")
    for path, kind in files.items():
        check_artifact_path(f"{where}.files", path)
        if kind not in FILE_FORMATS:
            raise InvalidParameter(
                f"{where}.files.{path}",
                f"{printable(kind)!r} is not a file format; the formats are: {', '.join(FILE_FORMATS)}",
            )
    libraries = body.get("libraries") or {}
    if not isinstance(libraries, dict):
        raise InvalidParameter(f"{where}.libraries", "must map library names to versions")
    for library, version in libraries.items():
        check_text(f"{where}.libraries.{printable(library)}", version, max_length=200)
    methods = body.get("methods") or ["predict"]
    if not isinstance(methods, list) or "predict" not in methods or any(m not in METHODS for m in methods):
        raise InvalidParameter(f"{where}.methods", f"must list 'predict' and may list: {', '.join(METHODS)}")
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise InvalidParameter(f"{where}.options", "must be an object")
    example = body.get("input_example")
    if example is not None:
        check_artifact_path(f"{where}.input_example", example)
    signature = body.get("signature")
    card = body.get("card")
    return Manifest(
        flavor=flavor,
        files=dict(files),
        libraries={str(k): str(v) for k, v in libraries.items()},
        methods=tuple(methods),
        options=options,
        signature=None if signature is None else check_signature(f"{where}.signature", signature),
        input_example=example,
        card=None if card is None else check_card(f"{where}.card", card),
    )

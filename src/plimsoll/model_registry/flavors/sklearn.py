"""scikit-learn, stored with skops: no pickle. skops refuses, when loading, the types it does not
trust by default (a HistGradientBoosting model's `TreePredictor`, for one); a version lists them
when it is registered, and they are passed to skops only once an admin approved that list."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from plimsoll.core.errors import PermissionDenied
from plimsoll.model_registry.entities import Signature
from plimsoll.model_registry.flavors.base import Predictor, Saved, Trust, library_versions, module_of
from plimsoll.model_registry.manifest import Manifest

FILE = "model.skops"

# Classifiers whose `predict` is the class of the highest `predict_proba` (argmax over a 1-D
# `classes_`), or a threshold of a score that `predict_proba` maps monotonically (a decision
# function through the logistic or softmax): where a row's highest probability is unique, the
# class it names IS predict's answer; a tie (e.g. 0.5/0.5) is answered by `predict` itself. By
# exact class (the final step of a Pipeline): a subclass may decide otherwise; SVC (Platt
# probabilities), hard voting and tuned or fixed thresholds do.
ONE_CALL_CLASSIFIERS = frozenset(
    {
        "LogisticRegression",
        "LogisticRegressionCV",
        "RandomForestClassifier",
        "ExtraTreesClassifier",
        "GradientBoostingClassifier",
        "HistGradientBoostingClassifier",
        "DecisionTreeClassifier",
        "ExtraTreeClassifier",
        "KNeighborsClassifier",
        "GaussianNB",
        "MLPClassifier",
    }
)


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
        example = None
        if manifest.input_example is not None and manifest.signature is not None:
            import orjson

            try:
                example = orjson.loads((folder / manifest.input_example).read_bytes())
            except (OSError, orjson.JSONDecodeError):
                example = None
        predictor = _predictor(model, manifest.methods, manifest.options)
        return _faster(predictor, model, manifest, example)


def _predictor(
    model: Any, methods: tuple[str, ...], options: dict[str, Any], array_model: Any = None
) -> Predictor:
    """`array_model`: the model without its feature names (verified to answer the same on the
    signature's columns in order), for rows given as one array."""
    named = bool(options.get("feature_names"))

    def chosen(data: Any) -> tuple[Any, Any]:
        if hasattr(data, "to_numpy"):
            return model, data if named else data.to_numpy()
        return (array_model if named and array_model is not None else model), data

    def predict(data: Any) -> Any:
        estimator, x = chosen(data)
        return estimator.predict(x)

    def predict_proba(data: Any) -> Any:
        estimator, x = chosen(data)
        return estimator.predict_proba(x)

    takes_array = not named or array_model is not None
    return Predictor(
        predict, predict_proba if "predict_proba" in methods else None, model, takes_array=takes_array
    )


def _one_call(predictor: Predictor, model: Any) -> Predictor:
    """`predictor` answering predict and predict_proba from one predict_proba call."""
    import numpy as np

    classes = model.classes_
    proba_of = predictor.predict_proba
    assert proba_of is not None

    def both(data: Any) -> tuple[Any, Any]:
        proba = proba_of(data)
        array = np.asarray(proba)
        if array.ndim == 2 and array.shape[1] == len(classes) and len(array):
            best = array.argmax(axis=1)
            top = array[np.arange(len(array)), best]
            if bool(((array == top[:, None]).sum(axis=1) == 1).all()):  # one highest a row (no NaN)
                return classes.take(best), proba
        return predictor.predict(data), proba

    return replace(predictor, both=both)


def _faster(predictor: Predictor, model: Any, manifest: Manifest, example: Any) -> Predictor:
    """The fast paths a loaded version may take, each verified on its input example against the
    plain calls (predict, predict_proba on what `enforce` gives): rows as one array (a model
    fitted with feature names: a copy without them, when the signature names its columns in
    the same order), and predict from predict_proba's one call (`ONE_CALL_CLASSIFIERS`)."""
    import warnings

    from plimsoll.model_registry.signatures import enforce

    signature: Signature | None = manifest.signature
    if example is None or signature is None:
        return predictor
    try:
        checked = enforce(example, signature, "the input example")
        expected = predictor.predict(checked)
        expected_proba = None if predictor.predict_proba is None else predictor.predict_proba(checked)
    except Exception:  # the example does not predict: no fast path
        return predictor
    names = [c.name for c in signature.inputs]
    if (
        manifest.options.get("feature_names")
        and hasattr(checked, "to_numpy")
        and "feature_names_in_" in vars(model)  # its own (a Pipeline's are its first step's)
        and list(getattr(model, "feature_names_in_", [])) == names
    ):
        stripped = object.__new__(type(model))
        stripped.__dict__.update(model.__dict__)
        del stripped.__dict__["feature_names_in_"]
        candidate = _predictor(model, manifest.methods, manifest.options, array_model=stripped)
        try:  # recorded, not raised: a request's warning on another thread must not fail it
            with warnings.catch_warnings(record=True) as warned:
                warnings.simplefilter("always")
                array = checked.to_numpy()
                same = _same(candidate.predict(array), expected) and (
                    expected_proba is None
                    or (
                        candidate.predict_proba is not None
                        and _same(candidate.predict_proba(array), expected_proba)
                    )
                )
            same = same and not warned  # e.g. an inner step that wants its feature names
        except Exception:
            same = False
        if same:
            predictor = candidate
    final = model.steps[-1][1] if _is_pipeline(model) else model
    if (
        expected_proba is not None
        and type(final).__name__ in ONE_CALL_CLASSIFIERS
        and type(final).__module__.startswith("sklearn.")
        and getattr(getattr(model, "classes_", None), "ndim", 0) == 1
    ):
        candidate = _one_call(predictor, model)
        try:
            assert candidate.both is not None
            predictions, proba = candidate.both(checked)
            same = _same(predictions, expected) and _same(proba, expected_proba)
        except Exception:
            same = False
        if same:
            predictor = candidate
    return predictor


def _same(found: Any, expected: Any) -> bool:
    import numpy as np

    a, b = np.asarray(found), np.asarray(expected)
    return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))


def _is_pipeline(model: Any) -> bool:
    return type(model).__name__ == "Pipeline" and type(model).__module__.startswith("sklearn.")


FLAVOR = SklearnFlavor()

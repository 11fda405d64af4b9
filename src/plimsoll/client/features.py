"""`client.features` (and `pl.features`): feature definitions registered once and applied the same
way in training and at serving, and skew checks between the two, embedded or remote.

A transformation is a function defined with `def`, vectorised: it receives a pandas DataFrame of
its declared input columns and returns one value per row. Registering sends its source text, the
server hashes it, and the same definition under the same name is the same version; a changed
function is a new version. `compute` runs only the caller's own function, once its source is
checked against the registered version's hash: code that changed without being registered is
refused, never computed under the old version's name. Nothing runs code fetched from the server.
"""

from __future__ import annotations

import builtins
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plimsoll.core.errors import Conflict, InvalidParameter
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.feature_registry.entities import (
    Feature,
    FeatureVersion,
    NewDefinition,
    SkewCheck,
    SkewInput,
    check_definition,
    check_dtype,
    check_feature_name,
    check_inputs,
    parse_feature_ref,
)

if TYPE_CHECKING:
    from plimsoll.client.client import Client

Function = Callable[..., Any]
# What names the features to compute or check: refs (NAME or NAME@VERSION, or versions), whose
# functions were registered in this process; or a mapping of ref to the function computing it.
FeatureSpec = Sequence[str | FeatureVersion] | Mapping[str, Function]


class Features:
    """Feature definitions through a `Client`: `register`, `get`, `list`, `versions`, `compute`,
    `skew`, `checks`, `check`. A version is named `NAME` (its latest) or `NAME@VERSION`."""

    def __init__(self, client: Client) -> None:
        self._client = client
        # (project, name) -> {version: the function registered here for it}, in registration order
        self._functions: dict[tuple[str, str], dict[int, Function]] = {}
        self._resolved: dict[tuple[str, str, Function | None], FeatureVersion] = {}
        self._linked: set[tuple[str, str]] = set()  # (run id, feature ref) recorded in lineage

    def __repr__(self) -> str:
        return f"<plimsoll features of {self._client.url}>"

    def register(
        self,
        name: str,
        fn: Function,
        *,
        dtype: str,
        inputs: Sequence[str],
        description: str | None = None,
        project: str = DEFAULT_PROJECT,
    ) -> FeatureVersion:
        """Register `fn` (defined with def: DataFrame of `inputs` in, one value per row out, of
        `dtype`: float64, int64, bool or string) as feature `name`. The same definition (source,
        dtype, inputs) gives back the version that holds it; a changed one is a new version, whose
        `changes` say what changed. This process remembers `fn` for `compute(frame, [name])`."""
        from plimsoll.feature_registry.functions import source_of

        # The arguments first, naming the one at fault, before the function's source is read.
        check_feature_name("name", name)
        check_dtype("dtype", dtype)
        columns = check_inputs("inputs", inputs)
        check_definition(NewDefinition(name, project, dtype, columns, "-", "", description or ""))
        source = source_of(fn)
        new = NewDefinition(name, project, dtype, columns, source.text, source.function, description or "")
        version = self._client._transport.feature_register(new)
        registered = self._functions.setdefault((project, version.name), {})
        registered.pop(version.version, None)
        registered[version.version] = fn  # the last registered is what a bare name computes
        self._resolved[(project, version.name, fn)] = version
        return version

    def get(self, ref: str, *, project: str = DEFAULT_PROJECT) -> FeatureVersion:
        """`NAME` (the latest version) or `NAME@VERSION`."""
        name, version = parse_feature_ref("ref", ref)
        return self._client._transport.feature_version(project, name, version)

    def list(self, *, project: str = DEFAULT_PROJECT) -> builtins.list[Feature]:
        """Every feature of the project, with its latest version, by name."""
        return self._client._transport.features(project)

    def versions(self, name: str, *, project: str = DEFAULT_PROJECT) -> builtins.list[FeatureVersion]:
        return self._client._transport.feature_versions(project, check_feature_name("name", name))

    # -- computing ----------------------------------------------------------------------------------

    def compute(self, frame: Any, features: FeatureSpec, *, project: str = DEFAULT_PROJECT) -> Any:
        """The features' values on `frame` (a pandas or polars DataFrame, an Arrow table): a pandas
        DataFrame with one column per feature, named after it, on the frame's index, each of its
        declared dtype. `features` are refs whose functions were registered in this process, or a
        mapping of ref to function (`{"rooms_per_person@2": rooms_per_person}`: what a serving
        process, which registers nothing, passes). Each function is checked against its version's
        source hash first; a pinned `NAME@VERSION` is that version, a bare `NAME` the version
        registered from this very source. Inside an active run, the run is recorded in the
        lineage graph as having used each feature version. An empty frame gives an empty result."""
        import pandas as pd

        from plimsoll.feature_registry.functions import apply, as_frame

        table = as_frame(frame, "frame")
        resolved = self._resolve(features, project, need_functions=True)
        columns = {version.name: apply(version, fn, table) for version, fn in resolved}  # type: ignore[arg-type]
        self._record_use([version for version, _ in resolved], project)
        return pd.DataFrame(columns, index=table.index)

    def _record_use(self, versions: builtins.list[FeatureVersion], project: str) -> None:
        run = self._client.active_run()
        if run is None or run.project != project:
            return
        fresh = [v for v in versions if (run.id, v.ref) not in self._linked]
        if not fresh:
            return
        self._client.flush()  # the run must exist where the edge will refer to it
        for version in fresh:
            self._client._transport.lineage_link(
                project, f"feature:{version.ref}", f"run:{run.id}", "used", None
            )
            self._linked.add((run.id, version.ref))

    # -- skew -------------------------------------------------------------------------------------

    def skew(
        self,
        training: Any,
        serving: Any,
        features: FeatureSpec,
        *,
        alpha: float = 0.05,
        project: str = DEFAULT_PROJECT,
    ) -> SkewCheck:
        """Compare each feature's values at training time with its values at serving time, and
        store the check: which features disagree, by the statistics engine's verdicts, and by how
        much (the test, statistic, p-value and threshold, the severity, and the shift of the mean
        and quantiles or of the labels' shares). Each side is a dataset version (`NAME@VERSION`,
        or a `DatasetVersion`), a table (a pandas or polars DataFrame, an Arrow table) or a
        Parquet or CSV file (a `pathlib.Path`). A side holds each feature either as a column
        named after it (the values as they were computed then) or as its inputs, from which the
        feature's function computes it here (a function registered in this process, or given in
        a mapping, checked against its version first). A dataset version whose stored profile
        holds every feature's column is compared on that profile, without reading its files."""
        resolved = self._resolve(features, project, need_functions=False)
        training_input, reference = self._side("training", training, resolved, None, project)
        serving_input, _ = self._side("serving", serving, resolved, reference, project)
        return self._client._transport.feature_check_skew(
            project, [(v.name, v.version) for v, _ in resolved], training_input, serving_input, alpha
        )

    def _side(
        self,
        side: str,
        data: Any,
        resolved: builtins.list[tuple[FeatureVersion, Function | None]],
        reference: Any,
        project: str,
    ) -> tuple[SkewInput, Any]:
        """What the server is sent of one side, and the summary the serving side is binned on."""
        from plimsoll import stats
        from plimsoll.data.entities import DatasetVersion
        from plimsoll.feature_registry.functions import as_frame

        names = [version.name for version, _ in resolved]
        dataset: DatasetVersion | None = None
        if isinstance(data, str | DatasetVersion):
            datasets = self._client.datasets
            dataset = data if isinstance(data, DatasetVersion) else datasets.get(data, project=project)
            stored = datasets.profile(dataset)
            if stored is not None and all(name in stored.columns for name in names):
                kept = stats.TableSummary(stored.row_count, {name: stored[name] for name in names})
                return SkewInput(dataset=dataset.ref), kept
            frame = self._read_dataset(dataset)
            label = f"dataset {dataset.ref}, features computed from its inputs"
        elif isinstance(data, os.PathLike):
            frame = _read_file(Path(data), side)
            label = f"file {Path(data).name}"
        else:
            frame = as_frame(data, side)
            label = f"a {type(data).__name__}"
        values = self._feature_frame(side, frame, resolved)
        summary = _summarize(values, reference)
        return (
            SkewInput(
                dataset=None if dataset is None else dataset.ref, profile=stats.to_bytes(summary), label=label
            ),
            summary,
        )

    def _feature_frame(
        self, side: str, frame: Any, resolved: builtins.list[tuple[FeatureVersion, Function | None]]
    ) -> Any:
        import pandas as pd

        from plimsoll.feature_registry.functions import apply, cast

        if len(frame) == 0:
            raise InvalidParameter(side, "holds no rows: there is nothing to compare")
        columns: dict[str, Any] = {}
        for version, fn in resolved:
            if version.name in frame.columns:
                columns[version.name] = cast(
                    frame[version.name], version, f"column {version.name!r} of {side} holds"
                )
            elif fn is not None:
                columns[version.name] = apply(version, fn, frame, field=side)
            else:
                raise InvalidParameter(
                    side,
                    f"has no column {version.name!r} (feature {version.ref}) and no function for it was "
                    f"given to compute it from its inputs {list(version.inputs)}: register the function "
                    "in this process, or pass features as a mapping of ref to function",
                    details={"feature": version.ref},
                )
        return pd.DataFrame(columns, index=frame.index)

    def _read_dataset(self, version: Any) -> Any:
        """A dataset version's tabular files as one pandas DataFrame, read where they are written."""
        import pandas as pd

        from plimsoll.data.profiles import is_tabular

        with tempfile.TemporaryDirectory(prefix="plimsoll-skew-") as folder:
            written = self._client.datasets.download(version, folder)
            paths = sorted(p for p in written.rglob("*") if p.is_file() and is_tabular(p.name))
            if not paths:
                raise Conflict(
                    f"dataset version {version.ref!r} holds no Parquet or CSV file to compute features on"
                )
            return pd.concat([_read_file(path, "dataset") for path in paths], ignore_index=True)

    # -- skew checks ------------------------------------------------------------------------------

    def checks(
        self, *, feature: str | None = None, limit: int = 50, project: str = DEFAULT_PROJECT
    ) -> builtins.list[SkewCheck]:
        """The project's skew checks, newest first; with `feature`, those that checked a version of it."""
        return self._client._transport.feature_skew_checks(project, feature, limit)

    def check(self, check_id: str, *, project: str = DEFAULT_PROJECT) -> SkewCheck:
        """One skew check by its id."""
        return self._client._transport.feature_skew_check(project, check_id)

    # -- resolving ----------------------------------------------------------------------------------

    def _resolve(
        self, features: FeatureSpec, project: str, *, need_functions: bool
    ) -> builtins.list[tuple[FeatureVersion, Function | None]]:
        """Each feature's exact version and the function that computes it, checked against it."""
        if isinstance(features, Mapping):
            items: builtins.list[tuple[Any, Function | None]] = builtins.list(features.items())
        elif isinstance(features, str) or not isinstance(features, Sequence):
            raise InvalidParameter(
                "features",
                f"must be a list of feature refs or a mapping of ref to function, got {type(features).__name__}",
            )
        else:
            items = [(item, None) for item in features]
        if not items:
            raise InvalidParameter("features", "is empty: name the features")
        resolved: builtins.list[tuple[FeatureVersion, Function | None]] = []
        seen: set[str] = set()
        for index, (item, given) in enumerate(items):
            where = f"features[{index}]"
            number: int | None
            if isinstance(item, FeatureVersion):
                name, number = item.name, item.version
            else:
                name, number = parse_feature_ref(where, item)
            if name in seen:
                raise InvalidParameter(
                    "features", f"names feature {name!r} twice: its values make one column"
                )
            seen.add(name)
            fn = given if given is not None else self._registered(project, name, number)
            if fn is None and need_functions:
                ref = name if number is None else f"{name}@{number}"
                raise InvalidParameter(
                    where,
                    f"no function for feature {ref!r} in this process: register it here "
                    f"(features.register), or pass a mapping such as {{'{name}@VERSION': function}}",
                )
            resolved.append((self._version(name, number, fn, project, where), fn))
        return resolved

    def _registered(self, project: str, name: str, number: int | None) -> Function | None:
        """The function registered in this process for `NAME@number`, or for a bare name the one
        registered last."""
        registered = self._functions.get((project, name), {})
        if number is not None:
            return registered.get(number)
        return next(reversed(registered.values()), None)

    def _version(
        self, name: str, number: int | None, fn: Function | None, project: str, where: str
    ) -> FeatureVersion:
        from plimsoll.feature_registry.functions import check_same_source, source_of

        ref = name if number is None else f"{name}@{number}"
        key = (project, ref, fn)
        if key in self._resolved:
            return self._resolved[key]
        transport = self._client._transport
        if number is not None or fn is None:
            version = transport.feature_version(project, name, number)
            if fn is not None:
                check_same_source(version, fn, where)
        else:
            # A bare name with a function: the version registered from this very source.
            local = source_of(fn, where)
            versions = transport.feature_versions(project, name)
            matching = [v for v in versions if v.source_hash == local.hash]
            if not matching:
                latest = versions[-1]
                raise Conflict(
                    f"feature {name}: the function {local.function} is not a registered definition "
                    f"(its source hashes to {local.hash}; the latest version, {latest.ref}, was "
                    f"registered with {latest.source_hash}). Register the changed function to make "
                    "a new version (features.register), or name the version to compute (NAME@VERSION) "
                    "and run the code it was registered from.",
                    details={
                        "feature": latest.ref,
                        "registered_hash": latest.source_hash,
                        "local_hash": local.hash,
                    },
                )
            version = matching[-1]
        if fn is not None or number is not None:  # an exact version never changes
            self._resolved[key] = version
        return version


def _summarize(values: Any, reference: Any) -> Any:
    """The features' summary, each numeric one binned on the reference's edges where the reference
    has the same kind (one of another kind is a skew the check reports, not an error here)."""
    from plimsoll import stats

    columns = {}
    for name in values.columns:
        same = None if reference is None else reference.columns.get(name)
        try:
            columns[name] = stats.summarize_column(values[name], name=name, reference=same)
        except stats.StatsKindMismatch:
            columns[name] = stats.summarize_column(values[name], name=name)
    return stats.TableSummary(len(values), columns)


def _read_file(path: Path, side: str) -> Any:
    from plimsoll.data.profiles import is_tabular, read_table

    if not path.is_file():
        raise InvalidParameter(side, f"{str(path)!r} is not a file")
    if not is_tabular(path.name):
        raise InvalidParameter(
            side, f"{path.name!r} is not a Parquet or CSV file (.parquet, .pq, .csv, .csv.gz)"
        )
    return read_table(str(path), lambda: path.open("rb")).to_pandas()

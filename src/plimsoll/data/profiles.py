"""Schema, row count and profile of a version's tabular files, read once with the statistics engine.

Each Parquet or CSV file is read and summarised on its own (`stats.summarize`), the files in
parallel, and the summaries are merged (`stats.merge`): counts, moments and label counts merge
exactly, and quantiles within the merged summary's `rank_error`. The schema is the files' Arrow
schemas unified (an int64 column in one file and a double in another is a double). Files whose
columns differ make a version with a row count but no schema and no profile: the engine merges
only summaries of the same columns.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, BinaryIO

from plimsoll.core.errors import InvalidParameter
from plimsoll.data.entities import Column, DatasetVersion, ManifestEntry, VersionDiff, diff_versions
from plimsoll.data.hashing import DEFAULT_WORKERS

if TYPE_CHECKING:
    from plimsoll.stats import TableSummary

PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv", ".csv.gz")

Opener = Callable[[], BinaryIO]


@dataclass(frozen=True)
class Profile:
    rows: int
    schema: tuple[Column, ...] | None
    summary: bytes | None  # `stats.to_bytes` of the merged summary


def is_tabular(path: str) -> bool:
    lowered = path.lower()
    return lowered.endswith(PARQUET_SUFFIXES + CSV_SUFFIXES)


def read_table(path: str, opener: Opener) -> Any:
    """The whole file as an Arrow table; a malformed one is refused naming it."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    lowered = path.lower()
    try:
        with opener() as raw:
            if lowered.endswith(PARQUET_SUFFIXES):
                return pq.read_table(raw)
            stream: BinaryIO = gzip.GzipFile(fileobj=raw) if lowered.endswith(".gz") else raw  # type: ignore[assignment]
            return pa_csv.read_csv(stream)
    except (pa.ArrowException, OSError, EOFError, ValueError) as exc:
        kind = "Parquet" if lowered.endswith(PARQUET_SUFFIXES) else "CSV"
        raise InvalidParameter("source", f"file {path!r} is not readable {kind}: {exc}") from None


def profile(files: Sequence[tuple[str, Opener]], *, workers: int = DEFAULT_WORKERS) -> Profile | None:
    """The profile of the tabular files among `files` ((relative path, opener) pairs); None if none is."""
    tabular = [(path, opener) for path, opener in files if is_tabular(path)]
    if not tabular:
        return None
    from plimsoll import stats  # SciPy and pandas: a second of start-up, paid only to profile

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="plimsoll-profile") as pool:
        parts = list(pool.map(lambda item: _one(*item), tabular))
    rows = sum(part[0] for part in parts)
    schema = _unified([part[1] for part in parts])
    if schema is None:
        return Profile(rows, None, None)
    try:
        merged = stats.merge([part[2] for part in parts])
    except stats.PlimsollStatsError:
        return Profile(rows, schema, None)  # the same names, but a column numeric here, labels there
    return Profile(rows, schema, stats.to_bytes(merged))


def _one(path: str, opener: Opener) -> tuple[int, Any, TableSummary]:
    from plimsoll import stats

    table = read_table(path, opener)
    try:
        summary = stats.summarize(table)
    except stats.PlimsollStatsError as exc:
        raise InvalidParameter("source", f"file {path!r} cannot be profiled: {exc.message}") from None
    return table.num_rows, table.schema, summary


def _unified(schemas: list[Any]) -> tuple[Column, ...] | None:
    import pyarrow as pa

    names = [tuple(schema.names) for schema in schemas]
    if any(set(n) != set(names[0]) for n in names):
        return None
    try:
        schema = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    return tuple(Column(f.name, str(f.type)) for f in schema)


def profile_drift(old: bytes | None, new: bytes | None) -> Any:
    """The statistics engine's verdict on every column two profiles share with the same kind
    (`stats.compare`, the old version as the reference), or None when either has no profile or
    they share no such column (a column that changed kind is a schema change, said as one).
    Profiles made on different edges are compared on common ones, and each verdict states the
    error that cost."""
    if old is None or new is None:
        return None
    from plimsoll import stats

    before, after = summary_of(old), summary_of(new)
    shared = [
        name for name in before.columns if name in after.columns and before[name].kind == after[name].kind
    ]
    return stats.compare(before, after, columns=shared) if shared else None


def diff_with_drift(
    old: DatasetVersion,
    old_files: Sequence[ManifestEntry],
    old_profile: bytes | None,
    new: DatasetVersion,
    new_files: Sequence[ManifestEntry],
    new_profile: bytes | None,
) -> VersionDiff:
    """`entities.diff_versions`, with the drift verdicts of the two profiles."""
    return replace(
        diff_versions(old, old_files, new, new_files), drift=profile_drift(old_profile, new_profile)
    )


def summary_of(data: bytes) -> TableSummary:
    from plimsoll import stats

    summary = stats.from_bytes(data)
    if not isinstance(summary, stats.TableSummary):
        raise InvalidParameter("profile", "is a column summary; a dataset's profile is a table summary")
    return summary

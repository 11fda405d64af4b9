"""Batch scoring (`client.monitoring.score`, `pl.score`): a registered model predicts a whole
dataset version here, where the model is loaded, so that a batch model is monitored like a
served one.

    scoring = pl.score("churn@production", "customers@7", id_column="customer_id")
    scoring.output          # "customers-scored-by-churn@1": id, prediction, score, model
    pl.default_client().monitoring.read("predictions", model=scoring.model)

The alias is resolved once, at the start: every row names the version that answered. The model
is loaded from the registry (its files checked against the version's digest, its signature
enforced on every chunk). The dataset version's Parquet or CSV files are fetched (checked against
their digests) and read `batch_size` rows at a time, only the columns the model takes and the id
column, so memory holds one chunk whatever the dataset's size. Each chunk is predicted, appended
to the output's Parquet file and logged as the model's predictions under a batch id made from
the scoring itself (model version, dataset version, ids, features, batch size): run again, the
same scoring logs nothing twice, and its output's content, hence its dataset version, is the
same. Then the output is registered as a dataset version and the scoring recorded on the server,
which links the output in the lineage graph (`monitoring.service.scoring`).
"""

from __future__ import annotations

import builtins
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from plimsoll.core.errors import InvalidParameter
from plimsoll.core.ids import now_ms
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_int, check_name
from plimsoll.data.entities import check_dataset_name
from plimsoll.monitoring.entities import (
    DEFAULT_SCORING_BATCH,
    MAX_SCORING_BATCH,
    Scoring,
    check_id_column,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from plimsoll.client.client import Client
    from plimsoll.data.entities import DatasetVersion, ManifestEntry

# (phase, done, total): "reading" (bytes of the dataset's files), "scoring" (rows), then the
# phases of the output's registration (`client.datasets.register`'s: "hashing", ...; bytes).
Progress = Callable[[str, int, int], None]
OUTPUT_FILE = "predictions.parquet"


def score(
    client: Client,
    model: str,
    dataset: str,
    *,
    output: str | None = None,
    id_column: str | None = None,
    features: Sequence[str] | None = None,
    timestamp: datetime | int | None = None,
    batch_size: int = DEFAULT_SCORING_BATCH,
    project: str = DEFAULT_PROJECT,
    progress: Progress | None = None,
) -> Scoring:
    """Predict every row of `dataset` (NAME@VERSION, or NAME: its latest) with `model`
    (NAME@ALIAS, NAME/VERSION or NAME: its latest), write the predictions as a version of dataset
    `output` (default `<dataset>-scored-by-<model>`) and log them as the model's predictions.
    `id_column` names the column whose values are the predictions' ids (else `NAME@VERSION-ROW`);
    `features` the columns the model takes (default: its signature's); `timestamp` when the
    predictions count as made in the log (epoch ms or a timezone-aware datetime; default now)."""
    from plimsoll.data.entities import parse_ref
    from plimsoll.model_registry.entities import parse_model_ref
    from plimsoll.monitoring.predicting import (
        batch_key,
        default_output,
        features_for,
    )

    started = time.perf_counter()
    check_name("project", project)
    batch_size = check_int("batch_size", batch_size, minimum=1, maximum=MAX_SCORING_BATCH)
    if id_column is not None:
        check_id_column("id_column", id_column)
    when = _epoch_ms(timestamp)
    _, _, alias = parse_model_ref("model", model)
    parse_ref("dataset", dataset)
    version = client.registry.get(model, project=project)  # an alias resolved once, here
    scored = client.datasets.get(dataset, project=project)
    output_name = default_output(scored.name, version.name) if output is None else output
    check_dataset_name("output", output_name)
    if output_name == scored.name:
        raise InvalidParameter("output", f"is the dataset scored ({scored.name}): name another dataset")
    columns = _columns(scored)
    if id_column is not None and id_column not in columns:
        raise InvalidParameter(
            "id_column", f"{scored.ref} has no column {id_column!r}; its columns are: {_shown(columns)}"
        )
    chosen = features_for(
        version.signature,
        columns,
        features=features,
        id_column=id_column,
        model=version.ref,
        dataset=scored.ref,
    )
    loaded = client.registry.load(version.ref, project=project)
    key = batch_key(
        project, version.ref, scored.ref, id_column=id_column, features=chosen, batch_size=batch_size
    )
    as_array = version.signature is not None and version.signature.layout == "array"
    with tempfile.TemporaryDirectory(prefix="plimsoll-score-") as folder:
        files = _fetch(client, scored, Path(folder) / "input", progress)
        wanted = chosen + ([id_column] if id_column is not None and id_column not in chosen else [])
        chunks = _chunks(files, wanted, scored, batch_size)
        destination = Path(folder) / "output" / OUTPUT_FILE
        rows, batches, segments = _score_chunks(
            client,
            loaded,
            chunks,
            destination,
            scored=scored,
            chosen=chosen,
            id_column=id_column,
            as_array=as_array,
            key=key,
            when=when,
            project=project,
            progress=progress,
        )
        if rows == 0:
            raise InvalidParameter("dataset", f"{scored.ref} has no rows: there is nothing to score")
        registered = client.datasets.register(
            output_name,
            destination,
            description=f"The predictions of {version.ref} on {scored.ref}",
            tags={"model": version.ref, "dataset": scored.ref},
            project=project,
            progress=progress,
        )
    scoring = Scoring(
        project=project,
        model=version.ref,
        dataset=scored.ref,
        output=registered.ref,
        rows=rows,
        batches=batches,
        segments=segments,
        alias=alias,
        id_column=id_column,
        seconds=round(time.perf_counter() - started, 3),
    )
    recorded = client._transport.monitoring_record_scoring(scoring)
    return replace(recorded, seconds=round(time.perf_counter() - started, 3))


def _score_chunks(
    client: Client,
    loaded: Any,
    chunks: Iterator[tuple[int, pa.Table]],
    destination: Path,
    *,
    scored: DatasetVersion,
    chosen: list[str],
    id_column: str | None,
    as_array: bool,
    key: str,
    when: int,
    project: str,
    progress: Progress | None,
) -> tuple[int, int, int]:
    """Predict, write and log each chunk: (rows, log batches, new segments)."""
    import pyarrow.parquet as pq

    from plimsoll.client.monitoring import batch_parts
    from plimsoll.monitoring.predicting import batch_id, output_chunk, predict, row_ids
    from plimsoll.monitoring.tables import PARQUET_COMPRESSION, prediction_table

    destination.parent.mkdir(parents=True, exist_ok=True)
    total = scored.rows or 0
    rows = batches = segments = 0
    writer: pq.ParquetWriter | None = None
    try:
        for index, (start, table) in enumerate(chunks):
            count = table.num_rows
            where = f"rows {start} to {start + count - 1} of {scored.ref}"
            ids = row_ids(
                scored.ref, start, count, None if id_column is None else table.column(id_column), id_column
            )
            given = table.select(chosen)
            frame = given.to_pandas()
            inputs = frame.to_numpy() if as_array else frame
            predicted = predict(loaded, inputs, count, model_ref=loaded.version.ref, where=where)
            written = output_chunk(ids, predicted, loaded.version.ref)
            if writer is None:
                writer = pq.ParquetWriter(destination, written.schema, compression=PARQUET_COMPRESSION)
            elif written.schema != writer.schema:
                written = _like(written, writer.schema, loaded.version.ref, where)
            writer.write_table(written)
            logged_rows = prediction_table(
                given, predicted.predictions, scores=predicted.scores, ids=ids, now_ms=when
            )
            for part, piece in enumerate(batch_parts(logged_rows)):
                where_logged = {
                    "project": project,
                    "model": loaded.version.ref,
                    "batch": batch_id(key, index, part),
                }
                logged = client._transport.monitoring_log("predictions", piece, where_logged)
                batches += 1
                segments += 0 if logged.duplicate else len(logged.segments)
            rows += count
            if progress:
                progress("scoring", rows, max(total, rows))
    finally:
        if writer is not None:
            writer.close()
    return rows, batches, segments


def _like(table: pa.Table, schema: pa.Schema, model_ref: str, where: str) -> pa.Table:
    """A later chunk's rows in the first chunk's types (a model may answer int64 once and int32
    the next time); refused, naming the rows, when they do not convert."""
    import pyarrow as pa

    try:
        return table.cast(schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
        raise InvalidParameter(
            "model",
            f"{model_ref} answered {where} with types ({table.schema}) that differ from its first answers' "
            f"({schema}): {exc}",
        ) from None


def _columns(version: DatasetVersion) -> list[str]:
    """The columns of a version's tables, refusing a version there is nothing to score in."""
    if version.rows == 0:
        raise InvalidParameter("dataset", f"{version.ref} has no rows: there is nothing to score")
    if version.schema is None:
        why = (
            "holds no Parquet or CSV file"
            if version.rows is None
            else "holds tables whose columns differ, so no one schema describes its rows"
        )
        raise InvalidParameter("dataset", f"{version.ref} {why}: batch scoring reads one table's rows")
    return [column.name for column in version.schema]


def _fetch(
    client: Client, version: DatasetVersion, folder: Path, progress: Progress | None
) -> builtins.list[tuple[ManifestEntry, Path]]:
    """The version's tabular files, fetched into `folder` and checked against their digests, in
    manifest order (by path): the order of the rows scored."""
    from plimsoll.data.preparing import write_files
    from plimsoll.data.profiles import is_tabular

    transport = client._transport
    entries = [entry for entry in transport.dataset_files(version) if is_tabular(entry.path)]
    fetch = None if version.by_reference else (lambda e, p: transport.dataset_file_to(version, e, p))
    report = None if progress is None else (lambda _phase, done, total: progress("reading", done, total))
    write_files(version, entries, folder, fetch, report)
    return [(entry, folder.joinpath(*entry.path.split("/"))) for entry in entries]


def _chunks(
    files: Sequence[tuple[ManifestEntry, Path]], columns: Sequence[str], version: DatasetVersion, size: int
) -> Iterator[tuple[int, pa.Table]]:
    """The rows of every file in turn, `size` at a time (the last chunk may be smaller), each with
    the number of its first row: the same chunks however the files store them."""
    import pyarrow as pa

    types = _arrow_types(version)
    target: pa.Schema | None = None
    waiting: list[pa.RecordBatch] = []
    held = start = 0
    for entry, path in files:
        for found in _batches(entry.path, path, columns, types, version, size):
            batch = found.select(list(columns))  # in the order asked, whatever the file's
            if target is None:
                target = pa.schema([pa.field(f.name, types.get(f.name, f.type)) for f in batch.schema])
            batch = _typed(batch, target, entry.path, version)
            waiting.append(batch)
            held += batch.num_rows
            while held >= size:
                table = pa.Table.from_batches(waiting).combine_chunks()
                yield start, table.slice(0, size)
                rest = table.slice(size)
                waiting, held, start = rest.to_batches(), rest.num_rows, start + size
    if held:
        yield start, pa.Table.from_batches(waiting).combine_chunks()


def _arrow_types(version: DatasetVersion) -> dict[str, pa.DataType]:
    """The version's column types (its files' schemas unified: an int64 column in one file and a
    double in another is a double), those Arrow names by an alias."""
    import pyarrow as pa

    types = {}
    for column in version.schema or ():
        try:
            types[column.name] = pa.type_for_alias(column.type)
        except ValueError:
            continue  # a type with no alias (a zoned timestamp): the file's own
    return types


def _typed(batch: pa.RecordBatch, target: pa.Schema, name: str, version: DatasetVersion) -> pa.RecordBatch:
    """`batch` in the types of the version's schema, so that the files' chunks join."""
    import pyarrow as pa

    if batch.schema.equals(target, check_metadata=False):
        return batch.replace_schema_metadata(None) if batch.schema.metadata else batch
    try:
        return batch.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise InvalidParameter(
            "dataset", f"file {name!r} of {version.ref} holds columns of other types ({batch.schema}): {exc}"
        ) from None


def _batches(
    name: str,
    path: Path,
    columns: Sequence[str],
    types: dict[str, pa.DataType],
    version: DatasetVersion,
    size: int,
) -> Iterator[pa.RecordBatch]:
    """One file's rows in record batches of the wanted columns only: Parquet by row groups, CSV
    streamed in blocks (typed as the version's schema says, so that a block cannot guess another
    type than the first did). A malformed file is refused naming it."""
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    from plimsoll.data.profiles import PARQUET_SUFFIXES

    parquet = name.lower().endswith(PARQUET_SUFFIXES)
    try:
        if parquet:
            yield from pq.ParquetFile(path).iter_batches(batch_size=size, columns=list(columns))
            return
        wanted = {name: kind for name, kind in types.items() if name in columns}
        options = pa_csv.ConvertOptions(include_columns=list(columns), column_types=wanted)
        with pa_csv.open_csv(path, convert_options=options) as reader:
            yield from reader
    except (pa.ArrowException, OSError, EOFError) as exc:
        kind = "Parquet" if parquet else "CSV"
        raise InvalidParameter(
            "dataset", f"file {name!r} of {version.ref} is not readable {kind}: {exc}"
        ) from None


def _epoch_ms(at: datetime | int | None) -> int:
    if at is None:
        return now_ms()
    if isinstance(at, int) and not isinstance(at, bool) and at >= 0:
        return at
    if isinstance(at, datetime) and at.tzinfo is not None:
        return int(at.timestamp() * 1000)
    raise InvalidParameter(
        "timestamp", f"must be a timezone-aware datetime or epoch milliseconds from 0, got {at!r}"
    )


def _shown(names: Sequence[str]) -> str:
    return ", ".join(repr(name) for name in names[:20]) + (" ..." if len(names) > 20 else "")

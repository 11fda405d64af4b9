"""The data capability's HTTP routes under /api/v1/datasets: thin translations to DatasetService.

A remote registration is three steps: ask which contents are missing (`POST /blobs/missing`),
upload each (`PUT /blobs/{digest}`), then create the version from its manifest (`POST /datasets`),
which the service does in one transaction.
"""

from __future__ import annotations

import tempfile
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from plimsoll.core.http import current_actor, json_response, service_of
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import INT64_MAX
from plimsoll.core.wire import (
    ArtifactPath,
    Description,
    Documented,
    Flag,
    Id,
    JsonInt,
    Name,
    Tags,
    between,
    one_of,
)
from plimsoll.data.entities import (
    DATASET_NAME_PATTERN,
    DIGEST_PATTERN,
    MAX_DATASET_NAME_LENGTH,
    MAX_FILES_PER_VERSION,
    MAX_SOURCE_URL_LENGTH,
    VERSION_PATTERN,
    Column,
    DatasetVersion,
    ManifestEntry,
    NewVersion,
    parse_version,
)
from plimsoll.data.service import MAX_DIGESTS_PER_ASK, DatasetService
from plimsoll.data.validation import MAX_SCHEMA_LENGTH
from plimsoll.lineage.entities import EDGE_CONTEXTS

router = APIRouter(prefix="/api/v1/datasets", tags=["datasets"])

DIGEST_HEADER = "X-Plimsoll-Digest"

Datasets = Annotated[DatasetService, Depends(service_of("data"))]
Actor = Annotated[str, Depends(current_actor)]
DatasetName = Annotated[
    str, Documented(minLength=1, maxLength=MAX_DATASET_NAME_LENGTH, pattern=DATASET_NAME_PATTERN)
]
Digest = Annotated[str, Documented(pattern=DIGEST_PATTERN)]
VersionText = Annotated[str, Documented(pattern=VERSION_PATTERN)]
VersionNumber = Annotated[str, Documented(pattern=r"^[1-9][0-9]{0,17}$")]  # not `latest`: say which
Size = Annotated[JsonInt, between(0, INT64_MAX)]
Project = Name


class ManifestItem(BaseModel):
    path: ArtifactPath
    digest: Digest
    size: Size


class ColumnItem(BaseModel):
    name: str
    type: str


class VersionBody(BaseModel):
    name: DatasetName
    project: Name = DEFAULT_PROJECT
    manifest: Annotated[list[ManifestItem], Field(min_length=1, max_length=MAX_FILES_PER_VERSION)]
    rows: Size | None = None
    schema_: Annotated[list[ColumnItem] | None, Field(alias="schema")] = None
    profile_digest: Digest | None = None
    run_id: Id | None = None
    by_reference: Flag = False
    source_url: Annotated[str, Documented(maxLength=MAX_SOURCE_URL_LENGTH)] | None = None
    description: Description = ""
    tags: Tags = Field(default_factory=dict)


class ValidationBody(BaseModel):
    project: Name = DEFAULT_PROJECT
    schema_: Annotated[str, Field(alias="schema"), Documented(minLength=1, maxLength=MAX_SCHEMA_LENGTH)]
    min_rows: Size | None = None
    max_rows: Size | None = None


class WriterBody(BaseModel):
    project: Name = DEFAULT_PROJECT
    run_id: Id


class ReaderBody(WriterBody):
    context: Annotated[str, one_of(EDGE_CONTEXTS)] | None = None


class MissingBody(BaseModel):
    project: Name = DEFAULT_PROJECT
    digests: Annotated[list[Digest], Field(max_length=MAX_DIGESTS_PER_ASK)]


@router.post("/blobs/missing")
def missing_blobs(body: MissingBody, datasets: Datasets) -> Response:
    """Which of these contents the server lacks: the only ones a registration needs to upload."""
    return json_response({"missing": datasets.missing_blobs(body.digests, project=body.project)})


@router.put(
    "/blobs/{digest}",
    status_code=201,
    openapi_extra={
        "requestBody": {
            "description": "The file's bytes, streamed; refused unless they hash to `digest`",
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload_blob(
    digest: Digest, request: Request, datasets: Datasets, project: Project = DEFAULT_PROJECT
) -> Response:
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        spool.seek(0)
        ref = await run_in_threadpool(datasets.store_blob, digest, spool, project=project)
    return json_response({"digest": ref.digest, "size": ref.size}, 201)


@router.post("")
def create_version(body: VersionBody, datasets: Datasets, actor: Actor) -> Response:
    """Create a version from a manifest whose contents are uploaded (one transaction); the same
    content under the same name answers with the version that holds it."""
    new = NewVersion(
        name=body.name,
        project=body.project,
        manifest=tuple(ManifestEntry(m.path, m.digest, m.size) for m in body.manifest),
        rows=body.rows,
        schema=None if body.schema_ is None else tuple(Column(c.name, c.type) for c in body.schema_),
        profile_digest=body.profile_digest,
        run_id=body.run_id,
        by_reference=body.by_reference,
        source_url=body.source_url,
        description=body.description,
        tags=body.tags,
    )
    return json_response(datasets.create_version(new, actor=actor).to_dict())


@router.get("")
def list_datasets(datasets: Datasets, project: Project = DEFAULT_PROJECT) -> Response:
    return json_response({"datasets": [d.to_dict() for d in datasets.list_datasets(project=project)]})


@router.get("/{name}/versions")
def list_versions(name: DatasetName, datasets: Datasets, project: Project = DEFAULT_PROJECT) -> Response:
    return json_response({"versions": [v.to_dict() for v in datasets.list_versions(name, project=project)]})


def _version(datasets: DatasetService, name: str, version: str, project: str) -> DatasetVersion:
    return datasets.get_version(name, parse_version("version", version), project=project)


@router.get("/{name}/versions/{version}")
def get_version(
    name: DatasetName, version: VersionText, datasets: Datasets, project: Project = DEFAULT_PROJECT
) -> Response:
    return json_response(_version(datasets, name, version, project).to_dict())


@router.get("/{name}/versions/{version}/files")
def list_files(
    name: DatasetName, version: VersionText, datasets: Datasets, project: Project = DEFAULT_PROJECT
) -> Response:
    found = _version(datasets, name, version, project)
    return json_response({"files": [e.to_dict() for e in datasets.version_files(found)]})


@router.get(
    "/{name}/versions/{version}/files/{path:path}",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The file's bytes (a version kept by copy; one kept by reference is read where it stays)",
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            "headers": {
                DIGEST_HEADER: {"description": "The BLAKE3 digest of the bytes", "schema": {"type": "string"}}
            },
        }
    },
)
def download_file(
    name: DatasetName,
    version: VersionText,
    path: ArtifactPath,
    datasets: Datasets,
    project: Project = DEFAULT_PROJECT,
) -> StreamingResponse:
    entry = datasets.file_entry(_version(datasets, name, version, project), path)
    # Checked whole before the answer starts: a corrupted blob is its error, never a cut stream.
    chunks = datasets.iter_file(entry)
    return StreamingResponse(
        chunks,
        media_type="application/octet-stream",
        headers={"Content-Length": str(entry.size), DIGEST_HEADER: entry.digest},
    )


@router.delete("/{name}/versions/{version}")
def delete_version(
    name: DatasetName,
    version: VersionNumber,
    datasets: Datasets,
    actor: Actor,
    project: Project = DEFAULT_PROJECT,
    force: Annotated[str, one_of(("true", "false"))] = "false",
) -> Response:
    """Delete a version (409 while a model version or deployment depends on it, unless `force`);
    answers with the version as it was. Its node stays in the lineage graph, marked deleted."""
    number = parse_version("version", version)
    assert number is not None  # the pattern admits numbers only
    deleted = datasets.delete_version(name, number, project=project, force=force == "true", actor=actor)
    return json_response(deleted.to_dict())


@router.post("/{name}/versions/{version}/validations", status_code=201)
def validate_version(
    name: DatasetName, version: VersionText, body: ValidationBody, datasets: Datasets, actor: Actor
) -> Response:
    """Run a pandera schema (its YAML) on the version's tabular files, and row bounds on all of
    them; store what failed, with a few failing values. The outcome becomes the version's
    `validation`. Answers with the validation (201), passed or not."""
    done = datasets.validate(
        name,
        parse_version("version", version),
        body.schema_,
        project=body.project,
        min_rows=body.min_rows,
        max_rows=body.max_rows,
        actor=actor,
    )
    return json_response(done.to_dict(), 201)


@router.get("/{name}/versions/{version}/validations")
def list_validations(
    name: DatasetName, version: VersionText, datasets: Datasets, project: Project = DEFAULT_PROJECT
) -> Response:
    """The version's validations, newest first."""
    found = _version(datasets, name, version, project)
    validations = datasets.list_validations(found.name, found.version, project=project)
    return json_response({"validations": [v.to_dict() for v in validations]})


@router.post("/{name}/versions/{version}/readers")
def add_reader(
    name: DatasetName, version: VersionText, body: ReaderBody, datasets: Datasets, actor: Actor
) -> Response:
    """Record that a run of the project read the version, for `context` (an edge `used` of the
    lineage graph). `latest` is recorded as the version it is now; answers with that version."""
    linked = datasets.link_run(
        body.run_id,
        _ref(name, version),
        direction="input",
        context=body.context,
        project=body.project,
        actor=actor,
    )
    return json_response(linked.to_dict())


@router.post("/{name}/versions/{version}/writers")
def add_writer(
    name: DatasetName, version: VersionText, body: WriterBody, datasets: Datasets, actor: Actor
) -> Response:
    """Record that a run of the project wrote the version (an edge `produced` of the lineage
    graph). `latest` is recorded as the version it is now; answers with that version."""
    linked = datasets.link_run(
        body.run_id, _ref(name, version), direction="output", project=body.project, actor=actor
    )
    return json_response(linked.to_dict())


def _ref(name: str, version: str) -> str:
    return name if version == "latest" else f"{name}@{version}"


@router.get(
    "/{name}/versions/{version}/profile",
    responses={
        200: {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}
    },
)
def get_profile(
    name: DatasetName, version: VersionText, datasets: Datasets, project: Project = DEFAULT_PROJECT
) -> Response:
    """The version's profile: `plimsoll.stats.to_bytes` of its merged summary (404 when it has none)."""
    found = _version(datasets, name, version, project)
    if found.profile_digest is None:
        from plimsoll.core.errors import NotFound

        raise NotFound(f"dataset version {found.ref!r} has no profile (it holds no tabular data)")
    return Response(datasets.blobs.get_bytes(found.profile_digest), media_type="application/octet-stream")

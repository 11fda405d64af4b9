"""OpenLineage run events from Plimsoll's runs and the dataset versions they used and produced,
built with OpenLineage's own client (`openlineage-python`, the `openlineage` extra), which is
imported here only, on first use: `import plimsoll` and a platform that posts nothing never load it.

How the records map (docs/lineage.md, "OpenLineage"):

    Plimsoll                      OpenLineage
    a run                         run: runId is the run's id written as a UUID (Plimsoll's ids are
                                  UUIDv7, the form OpenLineage recommends), so each event of a run
                                  carries the same runId and it leads back to the run; run facets
                                  `processing_engine` and `tags` (plimsoll.run_id, .run_name, ...)
    its experiment                job: NAMESPACE, PROJECT/EXPERIMENT; job facet `jobType`
    a version the run used        input: NAMESPACE, PROJECT/DATASET; facets `version` (the number),
                                  `schema` (the columns, in order) and `documentation`
    a version the run produced    output: the same, and `outputStatistics` (rows, bytes, files)
    the run starting              START, at its start time
    the run ending                COMPLETE, FAIL or ABORT (FINISHED, FAILED, KILLED), at its end time
    an ended run resumed          RUNNING, when it was resumed

A dataset's version is a facet, not part of its name: `churn@3` and `churn@4` are two versions of
the one OpenLineage dataset `default/churn`, as a receiver such as Marquez keeps versions.
"""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from plimsoll._version import __version__
from plimsoll.core.errors import Conflict, Unavailable
from plimsoll.lineage.entities import DatasetFacts, RunDataset

if TYPE_CHECKING:
    from openlineage.client.event_v2 import InputDataset, OutputDataset, RunEvent
    from openlineage.client.transport.http import HttpTransport

    from plimsoll.tracking.entities import Run

# A URI naming what produced the events (the spec asks for one in every event and facet).
PRODUCER = f"urn:plimsoll:{__version__}"
DEFAULT_NAMESPACE = "plimsoll://local"
INSTALL_HINT = "pip install 'plimsoll[openlineage]'"

# A run's status -> the eventType its end is told with.
END_STATES: dict[str, str] = {"FINISHED": "COMPLETE", "FAILED": "FAIL", "KILLED": "ABORT"}
# What an event of the outbox stands for, for the consumer that posts them.
STATE_OF_EVENT: dict[str, str] = {"run.created": "START", "run.resumed": "RUNNING"}


def require_client() -> None:
    """A Conflict naming the extra to install when the OpenLineage client is not installed (as a
    platform built without a capability answers: a 503 would have clients retry what cannot
    change until someone installs it)."""
    if (
        importlib.util.find_spec("openlineage") is None
        or importlib.util.find_spec("openlineage.client") is None
    ):
        raise Conflict(
            "OpenLineage events are built with the OpenLineage client (openlineage-python), which is "
            f"not installed here: {INSTALL_HINT}"
        )


def namespace_of(configured: str | None, public_url: str | None) -> str:
    """The namespace of the events' jobs and datasets: the configured one, else one named after
    the host users reach the server at, else `plimsoll://local`. Never the machine's own name,
    which differs between the replicas of one server."""
    if configured:
        return configured
    if public_url:
        from urllib.parse import urlsplit

        host = urlsplit(public_url).hostname
        if host:
            return f"plimsoll://{host}"
    return DEFAULT_NAMESPACE


def openlineage_run_id(run_id: str) -> str:
    """The OpenLineage runId of a Plimsoll run: its 32 hex digits as a UUID (8-4-4-4-12)."""
    return str(uuid.UUID(hex=run_id))


def event_time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")


def run_events(
    run: Run, datasets: Sequence[RunDataset], facts: Mapping[str, DatasetFacts], *, namespace: str
) -> list[RunEvent]:
    """The run's story as events: START at its start, and its end (COMPLETE, FAIL or ABORT) at
    its end time when it has ended. Each carries every input and output the graph holds now."""
    events = [run_event(run, "START", run.start_time, datasets, facts, namespace=namespace)]
    end = END_STATES.get(run.status)
    if end is not None and run.end_time is not None:
        events.append(run_event(run, end, run.end_time, datasets, facts, namespace=namespace))
    return events


def run_event(
    run: Run,
    state: str,
    at_ms: int,
    datasets: Sequence[RunDataset],
    facts: Mapping[str, DatasetFacts],
    *,
    namespace: str,
) -> RunEvent:
    """One event of `run` in `state` (START, RUNNING, COMPLETE, FAIL, ABORT) at `at_ms`."""
    require_client()
    from openlineage.client.constants import __version__ as client_version
    from openlineage.client.event_v2 import Job, RunEvent, RunState
    from openlineage.client.event_v2 import Run as OpenLineageRun
    from openlineage.client.facet_v2 import job_type_job, processing_engine_run, tags_run

    tags = {
        "plimsoll.run_id": run.id,
        "plimsoll.run_name": run.name,
        "plimsoll.project": run.project,
        "plimsoll.experiment": run.experiment,
    }
    run_facets: dict[str, Any] = {
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
            version=__version__, name="Plimsoll", openlineageAdapterVersion=client_version, producer=PRODUCER
        ),
        "tags": tags_run.TagsRunFacet(
            tags=[
                tags_run.TagsRunFacetFields(key, value, "PLIMSOLL") for key, value in tags.items() if value
            ],
            producer=PRODUCER,
        ),
    }
    job_facets: dict[str, Any] = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="PLIMSOLL", jobType="EXPERIMENT", producer=PRODUCER
        )
    }
    ordered = sorted(datasets, key=_dataset_order)
    return RunEvent(
        eventType=RunState(state),
        eventTime=event_time(at_ms),
        run=OpenLineageRun(runId=openlineage_run_id(run.id), facets=run_facets),
        job=Job(namespace=namespace, name=f"{run.project}/{run.experiment}", facets=job_facets),
        inputs=[_input(d, facts.get(d.key), run.project, namespace) for d in ordered if d.role == "used"],
        outputs=[
            _output(d, facts.get(d.key), run.project, namespace) for d in ordered if d.role == "produced"
        ],
        producer=PRODUCER,
    )


def to_dict(event: RunEvent) -> dict[str, Any]:
    """The event as the JSON document the spec describes (what the HTTP transport posts)."""
    from openlineage.client.serde import Serde

    return Serde.to_dict(event)


def _dataset_order(dataset: RunDataset) -> tuple[str, int, str]:
    version = dataset.version
    return (dataset.name, int(version) if version.isdigit() else 0, version)


def _dataset_facets(dataset: RunDataset, facts: DatasetFacts | None) -> dict[str, Any]:
    from openlineage.client.facet_v2 import dataset_version_dataset, documentation_dataset, schema_dataset

    facets: dict[str, Any] = {
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(
            datasetVersion=dataset.version, producer=PRODUCER
        )
    }
    if facts is not None and facts.schema is not None:
        fields = [
            schema_dataset.SchemaDatasetFacetFields(
                name=name, type=kind, ordinal_position=position, fields=None
            )
            for position, (name, kind) in enumerate(facts.schema, start=1)
        ]
        facets["schema"] = schema_dataset.SchemaDatasetFacet(fields=fields, producer=PRODUCER)
    if facts is not None and facts.description:
        facets["documentation"] = documentation_dataset.DocumentationDatasetFacet(
            description=facts.description, producer=PRODUCER
        )
    return facets


def _input(dataset: RunDataset, facts: DatasetFacts | None, project: str, namespace: str) -> InputDataset:
    from openlineage.client.event_v2 import InputDataset

    return InputDataset(
        namespace=namespace, name=f"{project}/{dataset.name}", facets=_dataset_facets(dataset, facts)
    )


def _output(dataset: RunDataset, facts: DatasetFacts | None, project: str, namespace: str) -> OutputDataset:
    from openlineage.client.event_v2 import OutputDataset
    from openlineage.client.facet_v2 import output_statistics_output_dataset as statistics

    attributes = dataset.attributes
    written = {
        name: attributes[key]
        for name, key in (("rowCount", "rows"), ("size", "bytes"), ("fileCount", "files"))
        if isinstance(attributes.get(key), int)
    }
    output_facets: dict[str, Any] = {}
    if written:
        output_facets["outputStatistics"] = statistics.OutputStatisticsOutputDatasetFacet(
            **written, producer=PRODUCER
        )
    return OutputDataset(
        namespace=namespace,
        name=f"{project}/{dataset.name}",
        facets=_dataset_facets(dataset, facts),
        outputFacets=output_facets,
    )


class Emitter:
    """Posts events to an OpenLineage receiver (`url` + `endpoint`, Marquez's `/api/v1/lineage` by
    default) with the client's HTTP transport. One attempt per call, within `timeout_s`: a failure
    raises, and the caller (the outbox) retries later, so a receiver that is down holds nothing up."""

    def __init__(self, url: str, endpoint: str, api_key: str | None, *, timeout_s: float = 5.0) -> None:
        require_client()
        from openlineage.client.transport.http import (
            ApiKeyTokenProvider,
            HttpConfig,
            HttpTransport,
            TokenProvider,
        )

        auth = ApiKeyTokenProvider({"api_key": api_key}) if api_key else TokenProvider({})
        config = HttpConfig(url=url, endpoint=endpoint, timeout=timeout_s, auth=auth, retry={"total": 0})
        self.target = f"{url.rstrip('/')}/{endpoint.lstrip('/')}"
        self._transport: HttpTransport = HttpTransport(config)

    def emit(self, event: RunEvent) -> None:
        import requests

        try:
            self._transport.emit(event)
        except requests.RequestException as error:
            # requests' own message repeats the pool and the whole URL; the status or the cause is
            # what a parked event's error should say.
            response = getattr(error, "response", None)
            why = f"answered {response.status_code}" if response is not None else type(error).__name__
            raise Unavailable(f"the OpenLineage receiver at {self.target} {why}") from error

    def close(self) -> None:
        self._transport.close()

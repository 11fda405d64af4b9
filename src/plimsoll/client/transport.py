"""Two ways to reach the services, one interface: in-process (embedded) or HTTP.

Both return the same entity types and raise the same exceptions (the HTTP transport rebuilds a
server error from its JSON body), so the SDK above them cannot tell which one it has."""

from __future__ import annotations

import base64
import logging
import os
import random
import re
import shutil
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlencode

import orjson
import urllib3
from blake3 import blake3
from urllib3.exceptions import HTTPError as ConnectionProblem

from plimsoll.client.wire import writes_to_json
from plimsoll.core.errors import (
    BlobCorrupted,
    Conflict,
    InvalidParameter,
    NotFound,
    PlimsollError,
    Unavailable,
    error_from_dict,
)
from plimsoll.core.jobs.entities import Job, JobPage
from plimsoll.core.outbox.entities import Event, EventPage
from plimsoll.core.validation import NON_FINITE, check_artifact_path, check_id, check_key
from plimsoll.core.webhooks.entities import Delivery, NewSubscription, Subscription
from plimsoll.data.entities import (
    Dataset,
    DatasetVersion,
    ManifestEntry,
    NewVersion,
    Validation,
    check_new_version,
    check_run_direction,
    parse_ref,
)
from plimsoll.data.hashing import STORE_BATCH
from plimsoll.evaluation.entities import Comparison, Evaluation, NewEvaluation, check_new_evaluation
from plimsoll.feature_registry.entities import (
    Feature,
    FeatureVersion,
    NewDefinition,
    SkewCheck,
    SkewInput,
    check_definition,
    check_feature_name,
)
from plimsoll.lineage.entities import Direction, Edge, Graph, Impact, OpenLineagePage
from plimsoll.model_registry.entities import AliasAccess, AliasHistory, AliasMove, Model, ModelVersion
from plimsoll.monitoring.entities import ARROW_STREAM
from plimsoll.tracking.entities import (
    Artifact,
    Experiment,
    MetricHistory,
    Run,
    RunPage,
    RunWrites,
)

if TYPE_CHECKING:
    import pyarrow as pa

    from plimsoll.monitoring.entities import Logged, Scoring, Segment

log = logging.getLogger("plimsoll.client")

_DIGEST = re.compile(r"[0-9a-f]{64}")  # a blob's BLAKE3 digest, as the server's download sends it


class Transport(Protocol):
    # Where the writes go (a server's URL, or the embedded store's): what a spool file is kept for.
    destination: str
    # How many contents (files, bytes) one `dataset_upload_blobs` call should carry: what it stores
    # together costs less than one by one (one flush to disk), but is reported only as a whole.
    upload_batch: tuple[int, int]

    def get_or_create_experiment(self, name: str, project: str) -> Experiment: ...
    def create_experiment(self, name: str, project: str, description: str) -> Experiment: ...
    def get_experiment(self, ref: str, project: str) -> Experiment: ...
    def list_experiments(self, project: str, view: str) -> list[Experiment]: ...
    def update_experiment(
        self, experiment_id: str, change: str, new_name: str | None = None
    ) -> Experiment: ...
    def ingest(self, batch: list[RunWrites], batch_id: str, *, retry_for: float | None = None) -> None: ...
    def get_run(self, run_id: str) -> Run: ...
    def search_runs(
        self,
        experiment_ids: list[str] | None,
        filter: str | None,
        order_by: list[str] | None,
        max_results: int,
        page_token: str | None,
        project: str | None = None,
    ) -> RunPage: ...
    def delete_run(self, run_id: str) -> Run: ...
    def restore_run(self, run_id: str) -> Run: ...
    def resume_run(self, run_id: str) -> Run: ...
    def resolve_run_id(self, text: str) -> str: ...
    def resolve_experiment_id(self, text: str) -> str: ...
    def delete_tag(self, run_id: str, key: str) -> None: ...
    def metric_history(
        self, run_id: str, key: str, max_points: int | None, page_token: str | None
    ) -> MetricHistory: ...
    def log_artifact(
        self, run_id: str, path: str, content: IO[bytes] | bytes | Path, *, retry_for: float | None = None
    ) -> Artifact: ...
    def list_artifacts(self, run_id: str, prefix: str | None) -> list[Artifact]: ...
    def download_artifact(self, run_id: str, path: str, destination: Path) -> Path: ...
    def list_jobs(
        self, states: list[str], kinds: list[str], page_size: int, page_token: str | None
    ) -> JobPage: ...
    def get_job(self, job_id: str) -> Job: ...
    def retry_job(self, job_id: str) -> Job: ...
    def cancel_job(self, job_id: str) -> Job: ...
    def follow_events(self, after: str | None, types: list[str], project: str, limit: int) -> EventPage: ...
    def event_types(self) -> list[dict[str, Any]]: ...

    def create_webhook(self, name: str, url: str, events: list[str], format: str) -> NewSubscription: ...
    def list_webhooks(self) -> list[Subscription]: ...
    def delete_webhook(self, webhook_id: str) -> Subscription: ...
    def test_webhook(self, webhook_id: str) -> int: ...
    def webhook_deliveries(self, webhook_id: str, limit: int) -> list[Delivery]: ...

    def dataset_check(self, template: NewVersion) -> None: ...
    def dataset_missing_blobs(self, project: str, digests: list[str]) -> list[str]: ...
    def dataset_upload_blobs(self, project: str, paths: dict[str, Path]) -> None: ...
    def dataset_upload_bytes(self, project: str, data: bytes) -> str: ...
    def dataset_create_version(self, new: NewVersion) -> DatasetVersion: ...
    def dataset_version(self, project: str, name: str, version: int | None) -> DatasetVersion: ...
    def dataset_versions(self, project: str, name: str) -> list[DatasetVersion]: ...
    def datasets(self, project: str) -> list[Dataset]: ...
    def dataset_files(self, version: DatasetVersion) -> list[ManifestEntry]: ...
    def dataset_file_to(self, version: DatasetVersion, entry: ManifestEntry, target: Path) -> None: ...
    def dataset_profile(self, version: DatasetVersion) -> bytes | None: ...
    def dataset_link_run(
        self, project: str, ref: str, run_id: str, direction: str, context: str | None
    ) -> DatasetVersion: ...
    def dataset_delete(self, project: str, name: str, version: int, force: bool) -> DatasetVersion: ...
    def dataset_validate(
        self, version: DatasetVersion, schema: str, min_rows: int | None, max_rows: int | None
    ) -> Validation: ...
    def dataset_validations(self, version: DatasetVersion) -> list[Validation]: ...
    def feature_register(self, new: NewDefinition) -> FeatureVersion: ...
    def feature_version(self, project: str, name: str, version: int | None) -> FeatureVersion: ...
    def feature_versions(self, project: str, name: str) -> list[FeatureVersion]: ...
    def features(self, project: str) -> list[Feature]: ...
    def feature_check_skew(
        self,
        project: str,
        features: list[tuple[str, int]],
        training: SkewInput,
        serving: SkewInput,
        alpha: float,
    ) -> SkewCheck: ...
    def feature_skew_check(self, project: str, check_id: str) -> SkewCheck: ...
    def feature_skew_checks(self, project: str, feature: str | None, limit: int) -> list[SkewCheck]: ...
    def lineage_walk(
        self, direction: Direction, project: str, node: str, depth: int | None, limit: int
    ) -> Graph: ...
    def lineage_impact(self, project: str, node: str, limit: int) -> Impact: ...
    def lineage_link(
        self, project: str, source: str, target: str, role: str, context: str | None
    ) -> Edge: ...
    def lineage_openlineage(
        self, project: str, run_id: str | None, page_token: str | None, page_size: int
    ) -> OpenLineagePage: ...
    def registry_models(self, project: str) -> list[Model]: ...
    def registry_register(
        self,
        project: str,
        name: str,
        run_id: str,
        artifact_path: str,
        flavor: str | None,
        description: str,
        card: dict[str, Any] | None,
    ) -> ModelVersion: ...
    def registry_approve_types(
        self, project: str, name: str, version: int, types: list[str], reason: str
    ) -> ModelVersion: ...
    def registry_trust(self, project: str, name: str, version: int, reason: str) -> ModelVersion: ...
    def registry_version(
        self, project: str, name: str, version: int | None, alias: str | None
    ) -> ModelVersion: ...
    def registry_versions(self, project: str, name: str) -> list[ModelVersion]: ...
    def registry_set_alias(
        self, project: str, name: str, alias: str, version: int, reason: str, expected: int | None
    ) -> AliasMove: ...
    def registry_rollback(
        self, project: str, name: str, alias: str, reason: str, expected: int | None
    ) -> AliasMove: ...
    def registry_protect(self, project: str, name: str, alias: str, protected: bool) -> None: ...
    def registry_update(
        self, project: str, name: str, description: str | None, owners: dict[str, str] | None
    ) -> Model: ...
    def registry_set_access(
        self, project: str, name: str, alias: str, lists: dict[str, list[str]]
    ) -> AliasAccess: ...
    def registry_history(self, project: str, name: str, alias: str, at: int | None) -> AliasHistory: ...
    def evaluation_record(self, new: NewEvaluation) -> Evaluation: ...
    def evaluation_get(self, project: str, evaluation_id: str) -> Evaluation: ...
    def evaluation_list(
        self, project: str, model: str | None, dataset: str | None, limit: int
    ) -> list[Evaluation]: ...
    def evaluation_compare(self, project: str, champion: str, challenger: str) -> Comparison: ...
    def monitoring_log(self, kind: str, table: pa.Table, where: Mapping[str, Any]) -> Logged: ...
    def monitoring_segments(self, kind: str, where: Mapping[str, Any]) -> list[Segment]: ...
    def monitoring_read(self, kind: str, where: Mapping[str, Any]) -> pa.Table: ...
    def monitors_call(self, op: str, project: str, name: str | None, args: dict[str, Any]) -> Any: ...
    def monitoring_record_scoring(self, scoring: Scoring) -> Scoring: ...
    def close(self) -> None: ...


class LocalTransport:
    """Calls the services in this process, on the embedded store."""

    def __init__(self, platform: Any, actor: str) -> None:
        self.platform = platform
        self.tracking = platform.tracking
        self.actor = actor
        self.destination: str = platform.settings.resolved_store_url
        self.upload_batch = STORE_BATCH

    def get_or_create_experiment(self, name: str, project: str) -> Experiment:
        return self.tracking.get_or_create_experiment(name, project=project, actor=self.actor)  # type: ignore[no-any-return]

    def create_experiment(self, name: str, project: str, description: str) -> Experiment:
        created: Experiment = self.tracking.create_experiment(
            name, project=project, description=description, actor=self.actor
        )
        return created

    def get_experiment(self, ref: str, project: str) -> Experiment:
        return self.tracking.resolve_experiment(ref, project=project)  # type: ignore[no-any-return]

    def list_experiments(self, project: str, view: str) -> list[Experiment]:
        return self.tracking.list_experiments(project=project, view=view)  # type: ignore[no-any-return]

    def update_experiment(self, experiment_id: str, change: str, new_name: str | None = None) -> Experiment:
        """`change` is "rename" (with `new_name`), "delete" or "restore"."""
        updated: Experiment
        if change == "rename":
            updated = self.tracking.rename_experiment(experiment_id, new_name or "", actor=self.actor)
        elif change == "delete":
            updated = self.tracking.delete_experiment(experiment_id, actor=self.actor)
        else:
            updated = self.tracking.restore_experiment(experiment_id, actor=self.actor)
        return updated

    def ingest(self, batch: list[RunWrites], batch_id: str, *, retry_for: float | None = None) -> None:
        self.tracking.ingest(batch, batch_id=batch_id, actor=self.actor)

    def get_run(self, run_id: str) -> Run:
        return self.tracking.get_run(run_id)  # type: ignore[no-any-return]

    def search_runs(
        self,
        experiment_ids: list[str] | None,
        filter: str | None,
        order_by: list[str] | None,
        max_results: int,
        page_token: str | None,
        project: str | None = None,
    ) -> RunPage:
        return self.tracking.search_runs(  # type: ignore[no-any-return]
            experiment_ids=experiment_ids,
            filter=filter,
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
            project=project,
        )

    def delete_run(self, run_id: str) -> Run:
        return self.tracking.delete_run(run_id, actor=self.actor)  # type: ignore[no-any-return]

    def restore_run(self, run_id: str) -> Run:
        return self.tracking.restore_run(run_id, actor=self.actor)  # type: ignore[no-any-return]

    def resume_run(self, run_id: str) -> Run:
        return self.tracking.resume_run(run_id, actor=self.actor)  # type: ignore[no-any-return]

    def resolve_run_id(self, text: str) -> str:
        return self.tracking.resolve_run_id(text)  # type: ignore[no-any-return]

    def resolve_experiment_id(self, text: str) -> str:
        return self.tracking.resolve_experiment_id(text)  # type: ignore[no-any-return]

    def delete_tag(self, run_id: str, key: str) -> None:
        self.tracking.delete_tag(run_id, key, actor=self.actor)

    def metric_history(
        self, run_id: str, key: str, max_points: int | None, page_token: str | None
    ) -> MetricHistory:
        return self.tracking.get_metric_history(run_id, key, max_points=max_points, page_token=page_token)  # type: ignore[no-any-return]

    def log_artifact(
        self, run_id: str, path: str, content: IO[bytes] | bytes | Path, *, retry_for: float | None = None
    ) -> Artifact:
        if isinstance(content, Path):
            with content.open("rb") as handle:
                return self.tracking.log_artifact(run_id, path, handle, actor=self.actor)  # type: ignore[no-any-return]
        return self.tracking.log_artifact(run_id, path, content, actor=self.actor)  # type: ignore[no-any-return]

    def list_artifacts(self, run_id: str, prefix: str | None) -> list[Artifact]:
        return self.tracking.list_artifacts(run_id, prefix)  # type: ignore[no-any-return]

    def download_artifact(self, run_id: str, path: str, destination: Path) -> Path:
        artifact = self.tracking.get_artifact(run_id, path)
        destination.parent.mkdir(parents=True, exist_ok=True)
        self.platform.blobs.copy_to(artifact.digest, destination)
        return destination

    def list_jobs(
        self, states: list[str], kinds: list[str], page_size: int, page_token: str | None
    ) -> JobPage:
        return self.platform.jobs.list(  # type: ignore[no-any-return]
            states=states, kinds=kinds, page_size=page_size, page_token=page_token
        )

    def get_job(self, job_id: str) -> Job:
        return self.platform.jobs.get(job_id)  # type: ignore[no-any-return]

    def retry_job(self, job_id: str) -> Job:
        return self.platform.jobs.retry(job_id)  # type: ignore[no-any-return]

    def cancel_job(self, job_id: str) -> Job:
        return self.platform.jobs.cancel(job_id)  # type: ignore[no-any-return]

    def follow_events(self, after: str | None, types: list[str], project: str, limit: int) -> EventPage:
        return self.platform.outbox.follow(after, types, limit, project=project)  # type: ignore[no-any-return]

    def event_types(self) -> list[dict[str, Any]]:
        return self.platform.catalog.list()  # type: ignore[no-any-return]

    def create_webhook(self, name: str, url: str, events: list[str], format: str) -> NewSubscription:
        return self.platform.webhooks.create(name, url, events, format, actor=self.actor)  # type: ignore[no-any-return]

    def list_webhooks(self) -> list[Subscription]:
        return self.platform.webhooks.list()  # type: ignore[no-any-return]

    def delete_webhook(self, webhook_id: str) -> Subscription:
        return self.platform.webhooks.delete(webhook_id, actor=self.actor)  # type: ignore[no-any-return]

    def test_webhook(self, webhook_id: str) -> int:
        return self.platform.webhooks.test(webhook_id, actor=self.actor)  # type: ignore[no-any-return]

    def webhook_deliveries(self, webhook_id: str, limit: int) -> list[Delivery]:
        return self.platform.webhooks.deliveries(webhook_id, limit)  # type: ignore[no-any-return]

    # -- datasets ---------------------------------------------------------------------------------

    def dataset_check(self, template: NewVersion) -> None:
        check_new_version(template, manifest=False)

    def dataset_missing_blobs(self, project: str, digests: list[str]) -> list[str]:
        return self.platform.data.missing_blobs(digests, project=project)  # type: ignore[no-any-return]

    def dataset_upload_blobs(self, project: str, paths: dict[str, Path]) -> None:
        self.platform.data.store_blobs(paths, project=project)  # by path: flushed to disk together

    def dataset_upload_bytes(self, project: str, data: bytes) -> str:
        return self.platform.blobs.put_bytes(data).digest  # type: ignore[no-any-return]

    def dataset_create_version(self, new: NewVersion) -> DatasetVersion:
        return self.platform.data.create_version(new, actor=self.actor)  # type: ignore[no-any-return]

    def dataset_version(self, project: str, name: str, version: int | None) -> DatasetVersion:
        return self.platform.data.get_version(name, version, project=project)  # type: ignore[no-any-return]

    def dataset_versions(self, project: str, name: str) -> list[DatasetVersion]:
        return self.platform.data.list_versions(name, project=project)  # type: ignore[no-any-return]

    def datasets(self, project: str) -> list[Dataset]:
        return self.platform.data.list_datasets(project=project)  # type: ignore[no-any-return]

    def dataset_files(self, version: DatasetVersion) -> list[ManifestEntry]:
        return self.platform.data.version_files(version)  # type: ignore[no-any-return]

    def dataset_file_to(self, version: DatasetVersion, entry: ManifestEntry, target: Path) -> None:
        self.platform.blobs.copy_to(entry.digest, target)

    def dataset_profile(self, version: DatasetVersion) -> bytes | None:
        if version.profile_digest is None:
            return None
        return self.platform.blobs.get_bytes(version.profile_digest)  # type: ignore[no-any-return]

    def dataset_validate(
        self, version: DatasetVersion, schema: str, min_rows: int | None, max_rows: int | None
    ) -> Validation:
        return self.platform.data.validate(  # type: ignore[no-any-return]
            version.name,
            version.version,
            schema,
            project=version.project,
            min_rows=min_rows,
            max_rows=max_rows,
            actor=self.actor,
        )

    def dataset_validations(self, version: DatasetVersion) -> list[Validation]:
        return self.platform.data.list_validations(  # type: ignore[no-any-return]
            version.name, version.version, project=version.project
        )

    def dataset_delete(self, project: str, name: str, version: int, force: bool) -> DatasetVersion:
        return self.platform.data.delete_version(  # type: ignore[no-any-return]
            name, version, project=project, force=force, actor=self.actor
        )

    def dataset_link_run(
        self, project: str, ref: str, run_id: str, direction: str, context: str | None
    ) -> DatasetVersion:
        return self.platform.data.link_run(  # type: ignore[no-any-return]
            run_id, ref, direction=direction, context=context, project=project, actor=self.actor
        )

    # -- features ---------------------------------------------------------------------------------

    def feature_register(self, new: NewDefinition) -> FeatureVersion:
        return self.platform.feature_registry.register(new, actor=self.actor)  # type: ignore[no-any-return]

    def feature_version(self, project: str, name: str, version: int | None) -> FeatureVersion:
        return self.platform.feature_registry.get_version(name, version, project=project)  # type: ignore[no-any-return]

    def feature_versions(self, project: str, name: str) -> list[FeatureVersion]:
        return self.platform.feature_registry.list_versions(name, project=project)  # type: ignore[no-any-return]

    def features(self, project: str) -> list[Feature]:
        return self.platform.feature_registry.list_features(project=project)  # type: ignore[no-any-return]

    def feature_check_skew(
        self,
        project: str,
        features: list[tuple[str, int]],
        training: SkewInput,
        serving: SkewInput,
        alpha: float,
    ) -> SkewCheck:
        return self.platform.feature_registry.check_skew(  # type: ignore[no-any-return]
            features, training, serving, alpha=alpha, project=project, actor=self.actor
        )

    def feature_skew_check(self, project: str, check_id: str) -> SkewCheck:
        return self.platform.feature_registry.get_skew_check(check_id, project=project)  # type: ignore[no-any-return]

    def feature_skew_checks(self, project: str, feature: str | None, limit: int) -> list[SkewCheck]:
        return self.platform.feature_registry.list_skew_checks(  # type: ignore[no-any-return]
            project=project, feature=feature, limit=limit
        )

    # -- lineage ----------------------------------------------------------------------------------

    def lineage_walk(
        self, direction: Direction, project: str, node: str, depth: int | None, limit: int
    ) -> Graph:
        walk = self.platform.lineage.upstream if direction == "upstream" else self.platform.lineage.downstream
        return walk(project, node, depth, limit)  # type: ignore[no-any-return]

    def lineage_impact(self, project: str, node: str, limit: int) -> Impact:
        return self.platform.lineage.impact(project, node, limit)  # type: ignore[no-any-return]

    def lineage_link(self, project: str, source: str, target: str, role: str, context: str | None) -> Edge:
        return self.platform.lineage.add_edge(  # type: ignore[no-any-return]
            source, target, role, context, project=project, actor=self.actor
        )

    def lineage_openlineage(
        self, project: str, run_id: str | None, page_token: str | None, page_size: int
    ) -> OpenLineagePage:
        return self.platform.lineage.openlineage_events(  # type: ignore[no-any-return]
            project, run_id=run_id, page_token=page_token, page_size=page_size
        )

    # -- registry ---------------------------------------------------------------------------------

    def registry_models(self, project: str) -> list[Model]:
        return self.platform.model_registry.list_models(project=project)  # type: ignore[no-any-return]

    def registry_register(
        self,
        project: str,
        name: str,
        run_id: str,
        artifact_path: str,
        flavor: str | None,
        description: str,
        card: dict[str, Any] | None,
    ) -> ModelVersion:
        return self.platform.model_registry.register_version(  # type: ignore[no-any-return]
            name,
            run_id=run_id,
            artifact_path=artifact_path,
            flavor=flavor,
            description=description,
            card=card,
            project=project,
            actor=self.actor,
        )

    def registry_approve_types(
        self, project: str, name: str, version: int, types: list[str], reason: str
    ) -> ModelVersion:
        return self.platform.model_registry.approve_types(  # type: ignore[no-any-return]
            name, version, types, reason=reason, project=project, actor=self.actor
        )

    def registry_trust(self, project: str, name: str, version: int, reason: str) -> ModelVersion:
        return self.platform.model_registry.trust(  # type: ignore[no-any-return]
            name, version, reason=reason, project=project, actor=self.actor
        )

    def registry_version(
        self, project: str, name: str, version: int | None, alias: str | None
    ) -> ModelVersion:
        return self.platform.model_registry.get_version(_model_ref(name, version, alias), project=project)  # type: ignore[no-any-return]

    def registry_versions(self, project: str, name: str) -> list[ModelVersion]:
        return self.platform.model_registry.list_versions(name, project=project)  # type: ignore[no-any-return]

    def registry_set_alias(
        self, project: str, name: str, alias: str, version: int, reason: str, expected: int | None
    ) -> AliasMove:
        return self.platform.model_registry.set_alias(  # type: ignore[no-any-return]
            name, alias, version, reason=reason, expected=expected, project=project, actor=self.actor
        )

    def registry_rollback(
        self, project: str, name: str, alias: str, reason: str, expected: int | None
    ) -> AliasMove:
        return self.platform.model_registry.rollback(  # type: ignore[no-any-return]
            name, alias, reason=reason, expected=expected, project=project, actor=self.actor
        )

    def registry_update(
        self, project: str, name: str, description: str | None, owners: dict[str, str] | None
    ) -> Model:
        return self.platform.model_registry.update_model(  # type: ignore[no-any-return]
            name, description=description, owners=owners, project=project, actor=self.actor
        )

    def registry_protect(self, project: str, name: str, alias: str, protected: bool) -> None:
        self.platform.model_registry.protect_alias(name, alias, protected, project=project, actor=self.actor)

    def registry_set_access(
        self, project: str, name: str, alias: str, lists: dict[str, list[str]]
    ) -> AliasAccess:
        return self.platform.model_registry.set_alias_access(  # type: ignore[no-any-return]
            name, alias, **lists, project=project, actor=self.actor
        )

    def registry_history(self, project: str, name: str, alias: str, at: int | None) -> AliasHistory:
        return self.platform.model_registry.history(name, alias, at=at, project=project)  # type: ignore[no-any-return]

    # -- evaluations ------------------------------------------------------------------------------

    def evaluation_record(self, new: NewEvaluation) -> Evaluation:
        return self.platform.evaluation.record(new, actor=self.actor)  # type: ignore[no-any-return]

    def evaluation_get(self, project: str, evaluation_id: str) -> Evaluation:
        return self.platform.evaluation.get(evaluation_id, project=project)  # type: ignore[no-any-return]

    def evaluation_list(
        self, project: str, model: str | None, dataset: str | None, limit: int
    ) -> list[Evaluation]:
        return self.platform.evaluation.list(  # type: ignore[no-any-return]
            model=model, dataset=dataset, project=project, limit=limit
        )

    def evaluation_compare(self, project: str, champion: str, challenger: str) -> Comparison:
        return self.platform.evaluation.compare(champion, challenger, project=project)  # type: ignore[no-any-return]

    # -- monitoring: `where` holds the service's keyword arguments (project, model, ...) ----------

    def monitoring_log(self, kind: str, table: pa.Table, where: Mapping[str, Any]) -> Logged:
        return self.platform.monitoring.log(kind, table, **where, actor=self.actor)  # type: ignore[no-any-return]

    def monitoring_segments(self, kind: str, where: Mapping[str, Any]) -> list[Segment]:
        return self.platform.monitoring.segments(kind, **where)  # type: ignore[no-any-return]

    def monitoring_read(self, kind: str, where: Mapping[str, Any]) -> pa.Table:
        return self.platform.monitoring.read(kind, **where)

    def monitors_call(self, op: str, project: str, name: str | None, args: dict[str, Any]) -> Any:
        """A monitor operation, answered in the JSON shape the HTTP routes answer with."""
        service = self.platform.monitoring
        where = {"project": project}
        if op == "create":
            return service.create_monitor(name, **args, **where, actor=self.actor).to_dict()
        if op == "list":
            return {"monitors": [m.to_dict() for m in service.list_monitors(**args, **where)]}
        if op == "get":
            return service.get_monitor(name, **where).to_dict()
        if op == "delete":
            return service.delete_monitor(name, **where, actor=self.actor)
        if op == "rules":
            return service.set_rules(name, args["rules"], **where, actor=self.actor).to_dict()
        if op == "run":
            return {"windows": [w.to_dict() for w in service.run_monitor(name, **where, actor=self.actor)]}
        if op == "backfill":
            computed = service.backfill(name, args["since"], args["until"], **where, actor=self.actor)
            return {"windows": [w.to_dict() for w in computed]}
        if op == "check":
            return service.check(name, **args, **where, actor=self.actor).to_dict()
        if op == "windows":
            return {"windows": [w.to_dict() for w in service.windows(name, **args, **where)]}
        if op == "merged":
            return service.merged(name, args.pop("since"), args.pop("until"), **args, **where)
        if op == "distribution":
            return service.feature_distribution(name, args.pop("feature"), **args, **where)
        raise InvalidParameter("op", f"is not a monitor operation: {op!r}")

    def monitoring_record_scoring(self, scoring: Scoring) -> Scoring:
        return self.platform.monitoring.record_scoring(scoring, actor=self.actor)  # type: ignore[no-any-return]

    def close(self) -> None:
        self.platform.close()


RETRY_STATUSES = {500, 502, 503, 504}
GATEWAY_STATUSES = {502, 503, 504}
MAX_ATTEMPTS_ON_500 = 3
CONNECT_TIMEOUT_S = 5.0
# Failures to connect at all (refused, no such host, no answer to the handshake).
NO_CONNECTION = (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)
QUIET_RETRY_S = 10.0


class HttpTransport:
    """JSON over HTTP to a Plimsoll server, with retries and backoff where a retry is safe."""

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        retry_for: float = 300.0,
    ) -> None:
        parsed = urllib3.util.parse_url(url.rstrip("/"))
        self.url = parsed._replace(auth=None).url  # for messages: no credentials in logs
        self.destination = self.url
        self.upload_batch = (1, 0)  # a request per content gains nothing from batching
        self.base = self.url + "/api/v1"
        self.headers = {"User-Agent": "plimsoll-python"}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        elif parsed.auth:
            self.headers.update(urllib3.util.make_headers(basic_auth=parsed.auth))
        # urllib3, not httpx: on a loopback round trip of a few hundred microseconds its lighter
        # request path is a visible share of a synchronous write. Two threads use it (the caller's
        # and the batcher's); retries and redirects are ours to decide. Proxies come from the
        # environment as for every HTTP client (HTTPS_PROXY, NO_PROXY), never for loopback.
        options: dict[str, Any] = {
            "maxsize": 4,
            "retries": False,
            # A host that drops packets would hold a connect for the whole timeout: a listening
            # server accepts within milliseconds, so connecting gets a few seconds at most.
            "timeout": urllib3.Timeout(connect=min(timeout, CONNECT_TIMEOUT_S), read=timeout),
        }
        if parsed.scheme == "https":
            options["ca_certs"] = _ca_bundle()
        proxy = _proxy_for(parsed)
        self.http: urllib3.PoolManager = (
            urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)
        )
        # Every request goes to the one server: without a proxy, straight to its connection pool
        # with the path alone, skipping the manager's per-request URL parsing and pool lookup
        # (~40 µs of a ~0.7 ms round trip).
        self._opener: urllib3.PoolManager | urllib3.HTTPConnectionPool = self.http
        self._prefix = self.base
        if not proxy:
            self._opener = self.http.connection_from_url(self.url)
            self._prefix = urllib3.util.parse_url(self.base).path or ""
        self.retry_for = retry_for

    # -- plumbing ---------------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        retry: bool,
        params: dict[str, Any] | None = None,
        content: IO[bytes] | bytes | None = None,
        headers: dict[str, str] | None = None,
        stream: bool = False,
        retry_for: float | None = None,
    ) -> urllib3.BaseHTTPResponse:
        """Send; on connection errors and 5xx, retry with exponential backoff and jitter (only for
        requests that are safe to repeat), saying so in the log while the server is unreachable.
        A stream is sent again from where it started."""
        url = self._prefix + path + (f"?{urlencode(params, doseq=True)}" if params else "")
        all_headers = {**self.headers, **(headers or {})}
        window = self.retry_for if retry_for is None else retry_for
        deadline = time.monotonic() + window
        # A retry of a few seconds is not news; one that may take minutes says so while it waits.
        warn = log.warning if window > QUIET_RETRY_S else log.debug
        start = content.tell() if content is not None and not isinstance(content, bytes) and retry else None
        delay = 0.05
        attempt = 0
        response_seen = False  # an answer, even a 503, means something listens at the URL
        while True:
            attempt += 1
            if attempt > 1 and start is not None:
                content.seek(start)  # type: ignore[union-attr]
            try:
                response = self._opener.urlopen(
                    method,
                    url,
                    body=content,
                    headers=all_headers,
                    retries=False,
                    redirect=False,
                    preload_content=not stream,
                )
            except ConnectionProblem as exc:
                problem = _connection_problem(exc)
                # Connected once, then cut off or too slow: something listens there.
                response_seen = response_seen or not isinstance(exc, NO_CONNECTION)
            else:
                response_seen = True
                if response.status < 300:
                    return response  # a redirect is never ours to follow: an error like the rest
                if stream:  # read the error body whole, for _error, and free the connection
                    response.read(cache_content=True)
                    response.release_conn()
                # A 500 is a bug on the server's side more often than a passing fault: retry it a
                # few times only, then report it rather than wait on it.
                gave_up_on_500 = response.status == 500 and attempt >= MAX_ATTEMPTS_ON_500
                if response.status not in RETRY_STATUSES or not retry or gave_up_on_500:
                    raise self._error(response)
                problem = f"HTTP {response.status}"
            if not retry or time.monotonic() + delay > deadline:
                raise self._gave_up(problem, attempt, answered=response_seen)
            if attempt in {1, 5} or attempt % 20 == 0:
                warn("Plimsoll server at %s: %s; retrying (attempt %d)", self.url, problem, attempt)
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 5.0)

    def _gave_up(self, problem: str, attempts: int, *, answered: bool) -> Unavailable:
        tries = "once" if attempts == 1 else f"{attempts} times"
        if answered:
            return Unavailable(
                f"the Plimsoll server at {self.url} is unavailable or did not answer ({problem}; tried {tries})"
            )
        return Unavailable(
            f"no Plimsoll server at {self.url} ({problem}; tried {tries}): is it running, and is "
            "PLIMSOLL_URL (or --url) right?"
        )

    def _error(self, response: urllib3.BaseHTTPResponse) -> PlimsollError:
        try:
            body = orjson.loads(response.data)
        except ValueError:
            body = {}
        if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
            if response.status in GATEWAY_STATUSES:  # a proxy's answer: the server is away
                return Unavailable(f"Plimsoll server at {self.url} unreachable (HTTP {response.status})")
            body = {}
        return error_from_dict(body, response.status)

    def _json(self, method: str, path: str, *, retry: bool = True, body: Any = None, **kwargs: Any) -> Any:
        if body is not None:
            kwargs["content"] = orjson.dumps(body)
            kwargs["headers"] = {"Content-Type": "application/json"}
        return orjson.loads(self._send(method, path, retry=retry, **kwargs).data)

    # -- experiments ------------------------------------------------------------------------------

    def get_or_create_experiment(self, name: str, project: str) -> Experiment:
        # Safe to repeat: a second call finds what the first one created.
        return _experiment(self._json("POST", "/experiments/ensure", body={"name": name, "project": project}))

    def create_experiment(self, name: str, project: str, description: str) -> Experiment:
        body = {"name": name, "project": project, "description": description}
        return _experiment(self._json("POST", "/experiments", body=body, retry=False))

    def get_experiment(self, ref: str, project: str) -> Experiment:
        from plimsoll.core.ids import is_id

        if is_id(ref):
            try:
                return _experiment(self._json("GET", f"/experiments/{ref}"))
            except NotFound:
                pass
        found = self._json("GET", "/experiments", params={"name": ref, "project": project})["experiments"]
        if not found:
            raise NotFound(f"experiment {ref!r} not found in project {project!r}")
        return _experiment(found[0])

    def list_experiments(self, project: str, view: str) -> list[Experiment]:
        body = self._json("GET", "/experiments", params={"project": project, "view": view})
        return [_experiment(item) for item in body["experiments"]]

    def update_experiment(self, experiment_id: str, change: str, new_name: str | None = None) -> Experiment:
        path = f"/experiments/{experiment_id}"
        if change == "rename":
            return _experiment(self._json("PATCH", path, body={"name": new_name}))
        if change == "delete":
            return _experiment(self._json("DELETE", path))
        return _experiment(self._json("POST", f"{path}/restore"))

    # -- runs -------------------------------------------------------------------------------------

    def ingest(self, batch: list[RunWrites], batch_id: str, *, retry_for: float | None = None) -> None:
        # Idempotent by batch_id, and every metric point by itself, so retrying after a lost answer
        # never writes twice.
        body = {"batch_id": batch_id, "runs": [writes_to_json(w) for w in batch]}
        self._json("POST", "/runs/ingest", body=body, retry_for=retry_for)

    def get_run(self, run_id: str) -> Run:
        return _run(self._json("GET", _run_path(run_id)))

    def search_runs(
        self,
        experiment_ids: list[str] | None,
        filter: str | None,
        order_by: list[str] | None,
        max_results: int,
        page_token: str | None,
        project: str | None = None,
    ) -> RunPage:
        body = {
            "experiment_ids": experiment_ids,
            "filter": filter,
            "order_by": order_by,
            "max_results": max_results,
            "page_token": page_token,
            "project": project,
        }
        answer = self._json("POST", "/runs/search", body=body)
        return RunPage(
            runs=[_run(item) for item in answer["runs"]], next_page_token=answer["next_page_token"]
        )

    def delete_run(self, run_id: str) -> Run:
        return _run(self._json("DELETE", _run_path(run_id)))

    def restore_run(self, run_id: str) -> Run:
        return _run(self._json("POST", f"{_run_path(run_id)}/restore"))

    def resume_run(self, run_id: str) -> Run:
        # Safe to repeat: resuming a running run leaves it as it is.
        return _run(self._json("POST", f"{_run_path(run_id)}/resume"))

    def resolve_run_id(self, text: str) -> str:
        return str(self._json("GET", f"/resolve/runs/{quote(text, safe='')}")["id"])

    def resolve_experiment_id(self, text: str) -> str:
        return str(self._json("GET", f"/resolve/experiments/{quote(text, safe='')}")["id"])

    def delete_tag(self, run_id: str, key: str) -> None:
        # Not retried: a retry after a lost answer would find the tag gone and say so.
        self._json("DELETE", f"{_run_path(run_id)}/tags/{quote(check_key('key', key))}", retry=False)

    def metric_history(
        self, run_id: str, key: str, max_points: int | None, page_token: str | None
    ) -> MetricHistory:
        params: dict[str, Any] = {}
        if max_points is not None:
            params["max_points"] = max_points
        if page_token is not None:
            params["page_token"] = page_token
        key = check_key("key", key)
        body = self._json("GET", f"{_run_path(run_id)}/metrics/{quote(key)}/history", params=params)
        return MetricHistory(
            run_id=body["run_id"],
            key=body["key"],
            steps=body["steps"],
            timestamps=body["timestamps"],
            values=_floats(body["values"]),
            downsampled=body["downsampled"],
            mins=None if body["mins"] is None else _floats(body["mins"]),
            maxs=None if body["maxs"] is None else _floats(body["maxs"]),
            total_points=body["total_points"],
            next_page_token=body["next_page_token"],
        )

    # -- artifacts --------------------------------------------------------------------------------

    def log_artifact(
        self, run_id: str, path: str, content: IO[bytes] | bytes | Path, *, retry_for: float | None = None
    ) -> Artifact:
        if isinstance(content, Path):
            with content.open("rb") as handle:
                return self.log_artifact(run_id, path, handle, retry_for=retry_for)
        # A PUT of the same bytes to the same path is idempotent, so it may be retried: from the
        # bytes we hold, or a file sent again from where it started; a pipe only once.
        retry = isinstance(content, bytes) or _seekable(content)
        size = len(content) if isinstance(content, bytes) else _remaining_size(content)
        # With a length the server can refuse an oversized file before a byte of it is sent.
        headers = None if size is None else {"Content-Length": str(size)}
        response = self._send(
            "PUT",
            _artifact_path(run_id, path),
            retry=retry,
            content=content,
            headers=headers,
            retry_for=retry_for,
        )
        return _artifact(orjson.loads(response.data))

    def list_artifacts(self, run_id: str, prefix: str | None) -> list[Artifact]:
        params = {"prefix": prefix} if prefix else {}
        body = self._json("GET", f"{_run_path(run_id)}/artifacts", params=params)
        return [_artifact(item) for item in body["artifacts"]]

    def download_artifact(self, run_id: str, path: str, destination: Path) -> Path:
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".partial")
        hasher = blake3()
        response = self._send("GET", _artifact_path(run_id, path), retry=True, stream=True)
        expected = response.headers.get("X-Plimsoll-Digest")
        if expected is None or not _DIGEST.fullmatch(expected):
            # Without the digest nothing could tell a corrupted or truncated body from the real one.
            response.close()
            raise BlobCorrupted(
                f"the answer to the download of artifact {path!r} carries no valid X-Plimsoll-Digest "
                f"header (got {expected!r}), so its content cannot be verified; nothing was written. "
                "Is a proxy between here and the server dropping the header?",
                details={"digest": expected, "actual": None},
            )
        try:
            with partial.open("wb") as out:
                for chunk in response.stream(1024 * 1024):
                    hasher.update(chunk)
                    out.write(chunk)
        except BaseException as exc:
            response.close()  # half read: this connection must not serve the next request
            partial.unlink(missing_ok=True)
            if isinstance(exc, ConnectionProblem):  # an SDK call raises the tree's errors only
                raise Unavailable(
                    f"the Plimsoll server at {self.url} broke off the download of artifact {path!r} "
                    f"({type(exc).__name__}); nothing was written"
                ) from exc
            raise
        response.release_conn()
        actual = hasher.hexdigest()
        if actual != expected:
            # What the embedded store raises for a blob that no longer hashes to its digest (the
            # server checks before it answers; this catches what changed on the way).
            partial.unlink(missing_ok=True)
            raise BlobCorrupted(
                f"artifact {path!r} arrived corrupted: its content hashes to {actual}, not to its "
                f"digest {expected}; nothing was written",
                details={"digest": expected, "actual": actual},
            )
        shutil.move(partial, destination)
        return destination

    # -- background jobs --------------------------------------------------------------------------

    def list_jobs(
        self, states: list[str], kinds: list[str], page_size: int, page_token: str | None
    ) -> JobPage:
        params: dict[str, Any] = {"state": states, "kind": kinds, "page_size": page_size}
        if page_token is not None:
            params["page_token"] = page_token
        body = self._json("GET", "/jobs", params=params)
        return JobPage(
            jobs=[Job.from_dict(item) for item in body["jobs"]], next_page_token=body["next_page_token"]
        )

    def get_job(self, job_id: str) -> Job:
        return Job.from_dict(self._json("GET", _job_path(job_id)))

    def retry_job(self, job_id: str) -> Job:
        # Not retried: after a lost answer, a second retry would find the job queued and refuse.
        return Job.from_dict(self._json("POST", f"{_job_path(job_id)}/retry", retry=False))

    def cancel_job(self, job_id: str) -> Job:
        # Not retried either: the job may have ended in between, and the answer would change.
        return Job.from_dict(self._json("POST", f"{_job_path(job_id)}/cancel", retry=False))

    def follow_events(self, after: str | None, types: list[str], project: str, limit: int) -> EventPage:
        params: dict[str, Any] = {"type": types, "project": project, "limit": limit}
        if after is not None:
            params["after"] = after
        answer = self._json("GET", "/events", params=params)
        return EventPage([Event.from_dict(item) for item in answer["events"]], answer["next_page_token"])

    def event_types(self) -> list[dict[str, Any]]:
        types: list[dict[str, Any]] = self._json("GET", "/events/types")["types"]
        return types

    # -- webhooks ---------------------------------------------------------------------------------

    def create_webhook(self, name: str, url: str, events: list[str], format: str) -> NewSubscription:
        # Not retried: after a lost answer a second create would find the name taken, and the
        # secret, shown once, would be lost with the first answer anyway.
        body = {"name": name, "url": url, "events": events, "format": format}
        created = self._json("POST", "/webhooks", body=body, retry=False)
        return NewSubscription(Subscription.from_dict(created), created["secret"])

    def list_webhooks(self) -> list[Subscription]:
        return [Subscription.from_dict(item) for item in self._json("GET", "/webhooks")["webhooks"]]

    def delete_webhook(self, webhook_id: str) -> Subscription:
        return Subscription.from_dict(self._json("DELETE", _webhook_path(webhook_id), retry=False))

    def test_webhook(self, webhook_id: str) -> int:
        # Not retried: each call publishes one test event.
        event_id: int = self._json("POST", f"{_webhook_path(webhook_id)}/test", retry=False)["event_id"]
        return event_id

    def webhook_deliveries(self, webhook_id: str, limit: int) -> list[Delivery]:
        body = self._json("GET", f"{_webhook_path(webhook_id)}/deliveries", params={"limit": limit})
        return [Delivery.from_dict(item) for item in body["deliveries"]]

    # -- datasets ---------------------------------------------------------------------------------

    def dataset_check(self, template: NewVersion) -> None:
        check_new_version(template, manifest=False)

    def dataset_missing_blobs(self, project: str, digests: list[str]) -> list[str]:
        body = {"project": project, "digests": digests}
        return list(self._json("POST", "/datasets/blobs/missing", body=body)["missing"])

    def dataset_upload_blobs(self, project: str, paths: dict[str, Path]) -> None:
        # One request per content. Safe to repeat: content is stored under its digest, and a file
        # is sent again from its start.
        for digest, path in paths.items():
            with path.open("rb") as content:
                headers = {"Content-Length": str(os.fstat(content.fileno()).st_size)}
                try:
                    self._send(
                        "PUT",
                        f"/datasets/blobs/{digest}",
                        retry=True,
                        params={"project": project},
                        content=content,
                        headers=headers,
                    )
                except Conflict as exc:  # said of which content of the batch
                    raise Conflict(exc.message, details={**exc.details, "digest": digest}) from exc

    def dataset_upload_bytes(self, project: str, data: bytes) -> str:
        digest = blake3(data).hexdigest()
        self._send("PUT", f"/datasets/blobs/{digest}", retry=True, params={"project": project}, content=data)
        return digest

    def dataset_create_version(self, new: NewVersion) -> DatasetVersion:
        # Safe to repeat: the same manifest under the same name answers with the version made.
        body = {
            "name": new.name,
            "project": new.project,
            "manifest": [e.to_dict() for e in new.manifest],
            "rows": new.rows,
            "schema": None if new.schema is None else [{"name": c.name, "type": c.type} for c in new.schema],
            "profile_digest": new.profile_digest,
            "run_id": new.run_id,
            "by_reference": new.by_reference,
            "source_url": new.source_url,
            "description": new.description,
            "tags": new.tags,
        }
        return DatasetVersion.from_dict(self._json("POST", "/datasets", body=body))

    def dataset_version(self, project: str, name: str, version: int | None) -> DatasetVersion:
        path = _dataset_path(name, "latest" if version is None else str(version))
        return DatasetVersion.from_dict(self._json("GET", path, params={"project": project}))

    def dataset_validate(
        self, version: DatasetVersion, schema: str, min_rows: int | None, max_rows: int | None
    ) -> Validation:
        path = _dataset_path(version.name, str(version.version)) + "/validations"
        body = {"project": version.project, "schema": schema, "min_rows": min_rows, "max_rows": max_rows}
        return Validation.from_dict(self._json("POST", path, body=body))

    def dataset_validations(self, version: DatasetVersion) -> list[Validation]:
        path = _dataset_path(version.name, str(version.version)) + "/validations"
        body = self._json("GET", path, params={"project": version.project})
        return [Validation.from_dict(item) for item in body["validations"]]

    def dataset_delete(self, project: str, name: str, version: int, force: bool) -> DatasetVersion:
        params = {"project": project, "force": "true" if force else "false"}
        return DatasetVersion.from_dict(
            self._json("DELETE", _dataset_path(name, str(version)), params=params)
        )

    def dataset_link_run(
        self, project: str, ref: str, run_id: str, direction: str, context: str | None
    ) -> DatasetVersion:
        name, number = parse_ref("dataset", ref)
        check_run_direction("direction", direction)
        base = _dataset_path(name, "latest" if number is None else str(number))
        body: dict[str, Any] = {"project": project, "run_id": run_id}
        if direction == "input":
            return DatasetVersion.from_dict(
                self._json("POST", f"{base}/readers", body={**body, "context": context})
            )
        return DatasetVersion.from_dict(self._json("POST", f"{base}/writers", body=body))

    def dataset_versions(self, project: str, name: str) -> list[DatasetVersion]:
        body = self._json("GET", f"/datasets/{quote(name, safe='')}/versions", params={"project": project})
        return [DatasetVersion.from_dict(item) for item in body["versions"]]

    def datasets(self, project: str) -> list[Dataset]:
        body = self._json("GET", "/datasets", params={"project": project})
        return [Dataset.from_dict(item) for item in body["datasets"]]

    def dataset_files(self, version: DatasetVersion) -> list[ManifestEntry]:
        path = _dataset_path(version.name, str(version.version)) + "/files"
        body = self._json("GET", path, params={"project": version.project})
        return [ManifestEntry(f["path"], f["digest"], f["size"]) for f in body["files"]]

    def dataset_file_to(self, version: DatasetVersion, entry: ManifestEntry, target: Path) -> None:
        path = _dataset_path(version.name, str(version.version)) + f"/files/{quote(entry.path)}"
        response = self._send("GET", path, retry=True, stream=True, params={"project": version.project})
        try:
            with target.open("wb") as out:
                for chunk in response.stream(1024 * 1024):
                    out.write(chunk)
        except ConnectionProblem as exc:
            response.close()
            raise Unavailable(
                f"the Plimsoll server at {self.url} broke off the download of {entry.path!r} ({type(exc).__name__})"
            ) from exc
        response.release_conn()

    def dataset_profile(self, version: DatasetVersion) -> bytes | None:
        if version.profile_digest is None:
            return None
        path = _dataset_path(version.name, str(version.version)) + "/profile"
        return bytes(self._send("GET", path, retry=True, params={"project": version.project}).data)

    # -- features ---------------------------------------------------------------------------------

    def feature_register(self, new: NewDefinition) -> FeatureVersion:
        # Safe to repeat: the same definition under the same name answers with the version made.
        check_definition(new)  # refused here, naming the field, before anything is sent
        body = {
            "name": new.name,
            "project": new.project,
            "dtype": new.dtype,
            "inputs": list(new.inputs),
            "source": new.source,
            "function": new.function,
            "description": new.description,
        }
        return FeatureVersion.from_dict(self._json("POST", "/features", body=body))

    def feature_version(self, project: str, name: str, version: int | None) -> FeatureVersion:
        check_feature_name("name", name)
        path = f"/features/{quote(name, safe='')}/versions/{'latest' if version is None else version}"
        return FeatureVersion.from_dict(self._json("GET", path, params={"project": project}))

    def feature_versions(self, project: str, name: str) -> list[FeatureVersion]:
        check_feature_name("name", name)
        body = self._json("GET", f"/features/{quote(name, safe='')}/versions", params={"project": project})
        return [FeatureVersion.from_dict(item) for item in body["versions"]]

    def features(self, project: str) -> list[Feature]:
        body = self._json("GET", "/features", params={"project": project})
        return [Feature.from_dict(item) for item in body["features"]]

    def feature_check_skew(
        self,
        project: str,
        features: list[tuple[str, int]],
        training: SkewInput,
        serving: SkewInput,
        alpha: float,
    ) -> SkewCheck:
        # Not repeated on a lost answer: each check is stored as one more.
        body = {
            "project": project,
            "features": dict(features),
            "training": _skew_side(training),
            "serving": _skew_side(serving),
            "alpha": alpha,
        }
        return SkewCheck.from_dict(self._json("POST", "/skew-checks", retry=False, body=body))

    def feature_skew_check(self, project: str, check_id: str) -> SkewCheck:
        return SkewCheck.from_dict(self._json("GET", _skew_check_path(check_id), params={"project": project}))

    def feature_skew_checks(self, project: str, feature: str | None, limit: int) -> list[SkewCheck]:
        params: dict[str, Any] = {"project": project, "limit": limit}
        if feature is not None:
            params["feature"] = feature
        body = self._json("GET", "/skew-checks", params=params)
        return [SkewCheck.from_dict(item) for item in body["checks"]]

    # -- lineage ----------------------------------------------------------------------------------

    def lineage_walk(
        self, direction: Direction, project: str, node: str, depth: int | None, limit: int
    ) -> Graph:
        params: dict[str, Any] = {"node": node, "project": project, "limit": limit}
        if depth is not None:
            params["depth"] = depth
        return Graph.from_dict(self._json("GET", f"/lineage/{direction}", params=params))

    def lineage_impact(self, project: str, node: str, limit: int) -> Impact:
        params = {"node": node, "project": project, "limit": limit}
        return Impact.from_dict(self._json("GET", "/lineage/impact", params=params))

    def lineage_link(self, project: str, source: str, target: str, role: str, context: str | None) -> Edge:
        # Safe to repeat: linking again finds the edge the first call made.
        body = {"project": project, "from": source, "to": target, "role": role, "context": context}
        return Edge.from_dict(self._json("POST", "/lineage/edges", body=body))

    def lineage_openlineage(
        self, project: str, run_id: str | None, page_token: str | None, page_size: int
    ) -> OpenLineagePage:
        params: dict[str, Any] = {"project": project, "page_size": page_size}
        if run_id is not None:
            params["run"] = run_id
        if page_token is not None:
            params["page_token"] = page_token
        return OpenLineagePage.from_dict(self._json("GET", "/lineage/openlineage", params=params))

    # -- registry ---------------------------------------------------------------------------------

    def registry_models(self, project: str) -> list[Model]:
        found = self._json("GET", "/models", params={"project": project})
        return [Model.from_dict(m) for m in found["models"]]

    def registry_register(
        self,
        project: str,
        name: str,
        run_id: str,
        artifact_path: str,
        flavor: str | None,
        description: str,
        card: dict[str, Any] | None,
    ) -> ModelVersion:
        # Safe to repeat: the same run's same artifact answers with the version the first call made.
        body = {
            "project": project,
            "run_id": run_id,
            "artifact_path": artifact_path,
            "flavor": flavor,
            "description": description,
            "card": card,
        }
        return ModelVersion.from_dict(self._json("POST", f"{_model_path(name)}/versions", body=body))

    def registry_approve_types(
        self, project: str, name: str, version: int, types: list[str], reason: str
    ) -> ModelVersion:
        # Safe to repeat: approving the same list again answers with the version as approved.
        body = {"project": project, "types": types, "reason": reason}
        path = f"{_model_path(name)}/versions/{version}/approved-types"
        return ModelVersion.from_dict(self._json("PUT", path, body=body))

    def registry_trust(self, project: str, name: str, version: int, reason: str) -> ModelVersion:
        # Safe to repeat: trusting again answers with the version as trusted.
        body = {"project": project, "reason": reason}
        return ModelVersion.from_dict(
            self._json("PUT", f"{_model_path(name)}/versions/{version}/trust", body=body)
        )

    def registry_version(
        self, project: str, name: str, version: int | None, alias: str | None
    ) -> ModelVersion:
        path = (
            f"{_model_path(name)}/aliases/{alias}"
            if alias is not None
            else f"{_model_path(name)}/versions/{'latest' if version is None else version}"
        )
        return ModelVersion.from_dict(self._json("GET", path, params={"project": project}))

    def registry_versions(self, project: str, name: str) -> list[ModelVersion]:
        found = self._json("GET", f"{_model_path(name)}/versions", params={"project": project})
        return [ModelVersion.from_dict(v) for v in found["versions"]]

    def registry_set_alias(
        self, project: str, name: str, alias: str, version: int, reason: str, expected: int | None
    ) -> AliasMove:
        # Not repeated on a lost answer: a second move would add a second line to the history.
        body = {"project": project, "version": version, "reason": reason, "expected": expected}
        return AliasMove.from_dict(
            self._json("PUT", f"{_model_path(name)}/aliases/{alias}", retry=False, body=body)
        )

    def registry_rollback(
        self, project: str, name: str, alias: str, reason: str, expected: int | None
    ) -> AliasMove:
        body = {"project": project, "reason": reason, "expected": expected}
        path = f"{_model_path(name)}/aliases/{alias}/rollback"
        return AliasMove.from_dict(self._json("POST", path, retry=False, body=body))

    def registry_update(
        self, project: str, name: str, description: str | None, owners: dict[str, str] | None
    ) -> Model:
        body: dict[str, Any] = {"project": project}
        if description is not None:
            body["description"] = description
        if owners is not None:
            body["owners"] = owners
        return Model.from_dict(self._json("PATCH", _model_path(name), body=body))

    def registry_protect(self, project: str, name: str, alias: str, protected: bool) -> None:
        body = {"project": project, "protected": protected}
        self._json("PUT", f"{_model_path(name)}/aliases/{alias}/protection", retry=True, body=body)

    def registry_set_access(
        self, project: str, name: str, alias: str, lists: dict[str, list[str]]
    ) -> AliasAccess:
        path = f"{_model_path(name)}/aliases/{alias}/access"
        return AliasAccess.from_dict(self._json("PUT", path, retry=True, body={"project": project, **lists}))

    def registry_history(self, project: str, name: str, alias: str, at: int | None) -> AliasHistory:
        params: dict[str, Any] = {"project": project}
        if at is not None:
            params["at"] = at
        found = self._json("GET", f"{_model_path(name)}/aliases/{alias}/history", params=params)
        return AliasHistory.from_dict(found)

    # -- evaluations ------------------------------------------------------------------------------

    def evaluation_record(self, new: NewEvaluation) -> Evaluation:
        # Not repeated on a lost answer: each evaluation is stored as one more.
        check_new_evaluation(new)  # refused here, naming the field, before anything is sent
        return Evaluation.from_dict(self._json("POST", "/evaluations", retry=False, body=new.body()))

    def evaluation_get(self, project: str, evaluation_id: str) -> Evaluation:
        path = f"/evaluations/{check_id('evaluation_id', evaluation_id)}"
        return Evaluation.from_dict(self._json("GET", path, params={"project": project}))

    def evaluation_list(
        self, project: str, model: str | None, dataset: str | None, limit: int
    ) -> list[Evaluation]:
        params: dict[str, Any] = {"project": project, "limit": limit}
        if model is not None:
            params["model"] = model
        if dataset is not None:
            params["dataset"] = dataset
        found = self._json("GET", "/evaluations", params=params)
        return [Evaluation.from_dict(item) for item in found["evaluations"]]

    def evaluation_compare(self, project: str, champion: str, challenger: str) -> Comparison:
        params = {
            "project": project,
            "champion": check_id("champion", champion),
            "challenger": check_id("challenger", challenger),
        }
        return Comparison.from_dict(self._json("GET", "/evaluations/compare", params=params))

    # -- monitoring -------------------------------------------------------------------------------

    def monitoring_log(self, kind: str, table: pa.Table, where: Mapping[str, Any]) -> Logged:
        from plimsoll.monitoring.entities import Logged
        from plimsoll.monitoring.tables import to_ipc

        params = {key: value for key, value in where.items() if value not in (None, "")}
        # A batch carries its id, so sending it again after a lost answer stores it once.
        found = self._json(
            "POST",
            f"/monitoring/{kind}",
            retry=True,
            params=params,
            content=to_ipc(table),
            headers={"Content-Type": ARROW_STREAM},
        )
        return Logged.from_dict(found)

    def monitoring_segments(self, kind: str, where: Mapping[str, Any]) -> list[Segment]:
        from plimsoll.monitoring.entities import Segment

        params = {key: value for key, value in where.items() if value is not None}
        found = self._json("GET", f"/monitoring/{kind}/segments", params=params)
        return [Segment.from_dict(segment) for segment in found["segments"]]

    def monitoring_read(self, kind: str, where: Mapping[str, Any]) -> pa.Table:
        from plimsoll.monitoring.tables import from_ipc

        params = {key: value for key, value in where.items() if value is not None}
        return from_ipc(self._send("GET", f"/monitoring/{kind}/rows", retry=True, params=params).data)

    def monitors_call(self, op: str, project: str, name: str | None, args: dict[str, Any]) -> Any:
        path = "/monitors" if name is None else f"/monitors/{quote(name, safe='')}"
        query = {"project": project}
        if op == "create":
            return self._json("POST", "/monitors", retry=False, body={"name": name, **args, **query})
        if op == "list":
            return self._json(
                "GET", path, params={**query, **{k: v for k, v in args.items() if v is not None}}
            )
        if op == "get":
            return self._json("GET", path, params=query)
        if op == "delete":
            self._send("DELETE", path, retry=True, params=query)
            return None
        if op == "rules":
            return self._json("PUT", f"{path}/rules", body={"rules": args["rules"], **query})
        if op in ("run", "backfill", "check"):
            body = {**{k: v for k, v in args.items() if v is not None}, **query}
            return self._json("POST", f"{path}/{op}", retry=op != "run", body=body)
        if op in ("windows", "merged", "distribution"):
            params = {**query, **{k: v for k, v in args.items() if v is not None}}
            if op == "windows" and "segment" in args and args["segment"] is None:
                params["all_segments"] = "true"
            if "newest_first" in params:
                params["newest_first"] = "true" if params["newest_first"] else "false"
            return self._json("GET", f"{path}/{op}", params=params)
        raise InvalidParameter("op", f"is not a monitor operation: {op!r}")

    def monitoring_record_scoring(self, scoring: Scoring) -> Scoring:
        from plimsoll.monitoring.entities import Scoring, check_scoring

        # Sent again after a lost answer, it changes nothing in the graph (one more audit entry).
        body = check_scoring(scoring).to_dict()
        return Scoring.from_dict(self._json("POST", "/monitoring/scorings", retry=True, body=body))

    def close(self) -> None:
        self.http.clear()


def _connection_problem(error: ConnectionProblem) -> str:
    """What went wrong, in words: urllib3's messages repeat the pool and the URL."""
    reason = getattr(error, "reason", None) or error
    cause = reason.__cause__ or reason.__context__ if isinstance(reason, BaseException) else None
    if isinstance(cause, ConnectionRefusedError) or "Connection refused" in str(reason):
        return "connection refused"
    if isinstance(reason, urllib3.exceptions.NameResolutionError):
        return "host name not found"
    if isinstance(reason, urllib3.exceptions.TimeoutError | TimeoutError):
        return "timed out"
    return type(reason).__name__


def _run_path(run_id: str) -> str:
    """A run's URL path. The id is checked here, by the services' own rule, because one with a
    slash, a dot segment or nothing at all would reach another route (or none) instead of it."""
    return f"/runs/{check_id('run_id', run_id)}"


def _job_path(job_id: str) -> str:
    """A job's URL path, its id checked first for the same reason as a run's."""
    return f"/jobs/{check_id('job_id', job_id)}"


def _webhook_path(webhook_id: str) -> str:
    return f"/webhooks/{check_id('webhook_id', webhook_id)}"


def _artifact_path(run_id: str, path: str) -> str:
    return f"{_run_path(run_id)}/artifacts/{quote(check_artifact_path('path', path))}"


def _skew_check_path(check: str) -> str:
    return f"/skew-checks/{check_id('check_id', check)}"


def _skew_side(side: SkewInput) -> dict[str, Any]:
    """One side of a skew check as the route reads it: a dataset version, or a profile in base64."""
    body: dict[str, Any] = {}
    if side.profile is not None:
        body["profile"] = base64.b64encode(side.profile).decode("ascii")
    for name in ("dataset", "label"):
        if getattr(side, name) is not None:
            body[name] = getattr(side, name)
    return body


def _dataset_path(name: str, version: str) -> str:
    return f"/datasets/{quote(name, safe='')}/versions/{version}"


def _remaining_size(stream: IO[bytes]) -> int | None:
    """Bytes left in a real file; None for streams of unknown length (sent chunked)."""
    try:
        return os.fstat(stream.fileno()).st_size - stream.tell()
    except (AttributeError, OSError, ValueError):
        return None


def _seekable(stream: IO[bytes]) -> bool:
    try:
        return stream.seekable()
    except (AttributeError, OSError, ValueError):
        return False


def _ca_bundle() -> str | None:
    """certifi's CA bundle when installed (as httpx and requests use), else the system's."""
    try:
        import certifi
    except ImportError:
        return None
    return str(certifi.where())


def _proxy_for(url: urllib3.util.Url) -> str | None:
    host = url.host or ""
    if host in {"localhost", "127.0.0.1", "::1", "[::1]"} or urllib.request.proxy_bypass(host):
        return None
    return urllib.request.getproxies().get(url.scheme or "http")


def _float(value: float | str) -> float:
    return NON_FINITE[value] if isinstance(value, str) else float(value)


def _floats(values: list[float | str]) -> list[float]:
    if any(isinstance(v, str) for v in values):
        return [_float(v) for v in values]
    return values  # type: ignore[return-value]


def _experiment(body: dict[str, Any]) -> Experiment:
    return Experiment(**body)


def _run(body: dict[str, Any]) -> Run:
    metrics = body["metrics"]
    if any(isinstance(value, str) for value in metrics.values()):  # NaN or an infinity among them
        body = {**body, "metrics": {key: _float(value) for key, value in metrics.items()}}
    return Run(**body)


def _artifact(body: dict[str, Any]) -> Artifact:
    return Artifact(
        path=body["path"], size=body["size"], digest=body["digest"], created_at=body["created_at"]
    )


def _model_path(name: str) -> str:
    return f"/models/{quote(name, safe='')}"


def _model_ref(name: str, version: int | None, alias: str | None) -> str:
    return f"{name}@{alias}" if alias is not None else name if version is None else f"{name}/{version}"

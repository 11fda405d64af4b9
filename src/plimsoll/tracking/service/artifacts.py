"""Run artifacts: files of a run in the content-addressed blob store."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from plimsoll.core.audit import AuditEntry
from plimsoll.core.db import Connection
from plimsoll.core.errors import Conflict, NotFound
from plimsoll.core.ids import now_ms
from plimsoll.core.validation import check_artifact_path
from plimsoll.tracking import store
from plimsoll.tracking.entities import Artifact, LifecycleStage
from plimsoll.tracking.service.base import ServiceBase, check_run_id


class ArtifactOps(ServiceBase):
    def log_artifact(self, run_id: str, path: str, content: IO[bytes] | bytes, *, actor: str) -> Artifact:
        """Store a file of a run. Allowed after the run ended (reports and evaluations often come
        later, as in MLflow), not on a deleted run."""
        check_run_id("run_id", run_id)
        check_artifact_path("path", path)
        self._require_live_run(run_id)  # before storing anything: no orphan blobs for unknown runs
        ref = self.blobs.put_bytes(content) if isinstance(content, bytes) else self.blobs.put_file(content)
        with self._change(actor) as change:
            self._require_live_run(run_id, change.conn)
            row: dict[str, Any] = {
                "run_id": run_id,
                "path": path,
                "digest": ref.digest,
                "size": ref.size,
                "created_at": now_ms(),
            }
            store.upsert_artifact(change.conn, row)
            change.audit(AuditEntry(actor, "run.log_artifact", "run", run_id, None, None, row))
        return Artifact(path=path, size=ref.size, digest=ref.digest, created_at=row["created_at"])

    def _require_live_run(self, run_id: str, conn: Connection | None = None) -> None:
        if conn is None:
            with self.db.read() as reader:
                return self._require_live_run(run_id, reader)
        state = store.run_status(conn, [run_id]).get(run_id)
        if state is None:
            raise NotFound(f"run {run_id!r} not found")
        if state[1] == LifecycleStage.DELETED:
            raise Conflict(f"run {run_id!r} is deleted; restore it before adding artifacts")
        return None

    def iter_artifact(self, artifact: Artifact, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        """The artifact's bytes in chunks, all of them checked against the digest before this
        returns: a corrupted blob raises BlobCorrupted here, before an answer starts."""
        return self.blobs.verified_chunks(artifact.digest, chunk_size)

    def read_artifact(self, run_id: str, path: str, *, max_bytes: int) -> tuple[bytes, bool]:
        """Up to `max_bytes` of an artifact, and whether it was cut short (for previews)."""
        artifact = self.get_artifact(run_id, path)
        with self.blobs.open(artifact.digest) as stream:
            content = stream.read(max_bytes)
        return content, artifact.size > max_bytes

    def list_artifacts(self, run_id: str, prefix: str | None = None) -> list[Artifact]:
        check_run_id("run_id", run_id)
        if prefix:
            check_artifact_path("prefix", prefix.rstrip("/"))
        with self.db.read() as conn:
            if not store.run_status(conn, [run_id]):
                raise NotFound(f"run {run_id!r} not found")
            rows = store.artifact_rows(conn, run_id, prefix.rstrip("/") if prefix else None)
        return [
            Artifact(path=r["path"], size=r["size"], digest=r["digest"], created_at=r["created_at"])
            for r in rows
        ]

    def get_artifact(self, run_id: str, path: str) -> Artifact:
        check_artifact_path("path", path)
        for artifact in self.list_artifacts(run_id, path):
            if artifact.path == path:
                return artifact
        raise NotFound(f"run {run_id!r} has no artifact {path!r}")

    def referenced_blobs(self) -> set[str]:
        """Every blob digest tracking refers to: the garbage collector never sweeps these."""
        with self.db.read() as conn:
            return store.artifact_digests(conn)

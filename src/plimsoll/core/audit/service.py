"""The audit log's rules: verification, checkpoints, adoption, and the status `/metrics` shows.

    audit = AuditService(db, outbox, Keyring.load_or_create(path))
    outcome = audit.verify(progress=lambda done, total: ...)     # read-only: `plimsoll audit verify`
    outcome = audit.verify_and_record()                           # the `audit.verify` job

A verification that passes is followed by a checkpoint of the row it ended on (signed with the
signing key), so the next one has a newer anchor; one that fails is recorded and published as an
`audit.verification_failed` event, in one transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from plimsoll.core.audit import store
from plimsoll.core.audit.entities import AuditEntry, AuditStatus, Verification
from plimsoll.core.audit.keys import Keyring
from plimsoll.core.audit.verify import ChainWalk
from plimsoll.core.changes import changing
from plimsoll.core.db import Database
from plimsoll.core.errors import Conflict
from plimsoll.core.ids import now_ms
from plimsoll.core.outbox import Outbox

log = logging.getLogger("plimsoll.audit")

SYSTEM_ACTOR = "system"
VERIFICATION_FAILED = "audit.verification_failed"
PAGE_ROWS = 5000  # one read transaction each: a long walk never holds one snapshot open

Progress = Callable[[int, int], None]  # (rows checked, rows in the log when the walk began)


class AuditService:
    def __init__(self, db: Database, outbox: Outbox, keyring: Keyring) -> None:
        self.db = db
        self.outbox = outbox
        self.keyring = keyring
        store.use_keyring(db, keyring)

    # -- verification --------------------------------------------------------------------------

    def verify(self, *, progress: Progress | None = None, structure_only: bool = False) -> Verification:
        """Walk the whole log (docs/security.md says what is checked); stops at the first problem.
        The key file is read again first, so that a rotation made elsewhere is seen."""
        started_at = now_ms()
        keyring = self.keyring.reloaded()
        with self.db.read() as conn:
            checkpoints = store.checkpoints(conn)
            total = store.row_count(conn)
        walk = ChainWalk(keyring, checkpoints, structure_only=structure_only)
        after = 0
        while not walk.failed:
            with self.db.read() as conn:
                rows = store.rows_after(conn, after, PAGE_ROWS)
            if not rows:
                break
            walk.feed(rows)
            after = int(rows[-1].seq)
            if progress is not None:
                progress(walk.rows, max(total, walk.rows))
        problem = walk.finish()
        return Verification(
            ok=problem is None,
            started_at=started_at,
            finished_at=now_ms(),
            rows_checked=walk.rows,
            checkpoints_checked=walk.checkpoints_checked,
            unchecked_checkpoints=walk.unchecked_checkpoints,
            head_seq=walk.head_seq,
            head_hash=walk.head_hash if walk.head_seq is not None else None,
            anchor_seq=walk.anchor.seq if walk.anchor is not None else None,
            first_bad_seq=problem.seq if problem else None,
            checkpoint_id=problem.checkpoint_id if problem else None,
            problem=problem.message if problem else None,
        )

    def verify_and_record(self, *, progress: Progress | None = None) -> Verification:
        """Verify; record the outcome; on success, checkpoint the row the walk ended on (if the log
        grew since the last checkpoint); on failure, publish `audit.verification_failed`."""
        outcome = self.verify(progress=progress)
        with changing(self.db, self.outbox, SYSTEM_ACTOR) as change:
            store.record_verification(change.conn, outcome)
            if not outcome.ok:
                log.error("audit log verification failed: %s", outcome.problem)
                change.emit(
                    VERIFICATION_FAILED,
                    "audit:log",
                    {
                        "problem": outcome.problem,
                        "first_bad_seq": outcome.first_bad_seq,
                        "checkpoint_id": outcome.checkpoint_id,
                        "rows_checked": outcome.rows_checked,
                        "verified_at": outcome.finished_at,
                    },
                    project=None,
                )
            elif outcome.head_seq is not None and outcome.head_hash is not None:
                # Of the row the walk ended on, if the log grew past the newest checkpoint, and only
                # if that row is still there as it was checked.
                grew = outcome.head_seq != outcome.anchor_seq
                if grew and store.hash_at(change.conn, outcome.head_seq) == outcome.head_hash:
                    store.add_checkpoint(change.conn, self.keyring, outcome.head_seq, outcome.head_hash)
        return outcome

    def status(self) -> AuditStatus:
        with self.db.read() as conn:
            return store.status(conn)

    def purge_verifications(self, older_than_ms: int, *, dry_run: bool = False) -> dict[str, int]:
        """Garbage collection's hook: successful verifications finished before the cutoff go;
        failed ones stay (`/metrics` counts them)."""
        with self.db.write() as conn:
            return {"verifications": store.prune_verifications(conn, older_than_ms, dry_run=dry_run)}

    # -- adoption ------------------------------------------------------------------------------

    def adopt(self, *, actor: str, reason: str) -> Verification:
        """Vouch for the log as it stands with the signing key: an audit event saying so, and a
        checkpoint of it (that event included). For a log written before signing existed, or after
        its key was lost. Refused (Conflict) if the chain itself is broken: adoption cannot make
        a rewritten log whole."""
        structure = self.verify(structure_only=True)
        if not structure.ok:
            raise Conflict(
                f"the audit log cannot be adopted: {structure.problem}",
                details={"first_bad_seq": structure.first_bad_seq, "checkpoint_id": structure.checkpoint_id},
            )
        after = {"key_id": self.keyring.signing.id, "rows": structure.rows_checked, "reason": reason}
        with self.db.write() as conn:
            store.record(conn, [AuditEntry(actor, "audit.adopt", "audit_log", "log", after=after)])
            newest = store.head(conn)
            assert newest is not None  # the adoption's own event, at least
            store.add_checkpoint(conn, self.keyring, *newest)
        log.warning("audit log adopted by %s with key %s: %s", actor, self.keyring.signing.id, reason)
        return self.verify()

    def adopt_if_unsigned(self) -> bool:
        """At start: when this process has just made the key and the log holds rows written before
        any key (no signature, no checkpoint), adopt them; True if it did. Only a new key file
        does this, so clearing signatures from the database never gets a log re-adopted."""
        if not self.keyring.created:
            return False
        with self.db.read() as conn:
            unsigned_log = store.head(conn) is not None and not store.has_signed_rows(conn)
            unsigned_log = unsigned_log and not store.checkpoints(conn)
        if not unsigned_log:
            return False
        try:
            self.adopt(
                actor=SYSTEM_ACTOR, reason="the audit key was created; the log written before it is adopted"
            )
        except Conflict as exc:
            log.error("%s", exc.message)  # verification will keep saying so
            return False
        return True

    def describe(self) -> dict[str, Any]:
        return {"key_file": str(self.keyring.path), "signing_key": self.keyring.signing.id}

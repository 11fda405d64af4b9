"""Checking the audit log: one walk over every row, in order, against the key ring and the signed
checkpoints. It stops at the first problem and names it.

What is checked (docs/security.md says what it proves):

1. Checkpoints. The newest (highest row) must be signed by a key in the ring; every checkpoint
   signed by a key in the ring must carry a valid signature. An older checkpoint signed by a key
   no longer held is left unchecked (the newer one covers its rows) and counted.
2. The chain. Each row's `prev_hash` is the hash of the row before it (the first row's, the
   genesis hash), and each row's hash is what its content hashes to. A deleted row breaks the
   link after it; an edited row, its own hash (or, re-hashed, the link or a signature).
3. Checkpoints against the chain. The row a checkpoint names exists and has the hash it recorded:
   rows deleted from the end, back to or before a checkpoint, leave it pointing at nothing.
4. Signatures. A row signed with a key in the ring must carry a valid signature, wherever it is.
   A row after the newest checkpoint must be signed, by a key in the ring: nothing but the key
   vouches for rows no checkpoint covers yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from plimsoll.core.audit.chain import GENESIS_HASH, body_of, digest
from plimsoll.core.audit.entities import Checkpoint
from plimsoll.core.audit.keys import Keyring


@dataclass(frozen=True)
class Problem:
    message: str
    seq: int | None = None  # the first bad row
    checkpoint_id: int | None = None


class ChainWalk:
    """Feed it the rows in order (`feed`, any number of times), then `finish`. `structure_only`
    checks what needs no key (the chain, and checkpoints against it): what adopting a log needs."""

    def __init__(
        self, keyring: Keyring, checkpoints: Sequence[Checkpoint], *, structure_only: bool = False
    ) -> None:
        self.keyring = keyring
        self.structure_only = structure_only
        self.rows = 0
        self.head_seq: int | None = None
        self.head_hash = GENESIS_HASH
        self.problem: Problem | None = None
        self.unchecked_checkpoints = 0
        self._pending: list[Checkpoint] = []  # checkpoints to meet along the walk, by row
        self.anchor: Checkpoint | None = None
        self._check_checkpoints(checkpoints)

    @property
    def checkpoints_checked(self) -> int:
        return len(self._checked)

    def _check_checkpoints(self, checkpoints: Sequence[Checkpoint]) -> None:
        self._checked: list[Checkpoint] = []
        if not checkpoints:
            return
        newest = max(checkpoints, key=lambda c: (c.seq, c.id))
        for checkpoint in checkpoints:
            if self.structure_only:
                self._checked.append(checkpoint)
                continue
            valid = self.keyring.check_checkpoint(
                checkpoint.key_id,
                checkpoint.signature,
                checkpoint.seq,
                checkpoint.hash,
                checkpoint.created_at,
            )
            if valid is None and checkpoint is not newest:
                self.unchecked_checkpoints += 1
                continue
            if valid is None:
                self._fail(
                    f"checkpoint {checkpoint.id} (of row {checkpoint.seq}), the newest, is signed with key "
                    f"{checkpoint.key_id}, which is not in the key file {self.keyring.path}: it was made "
                    "by a process with another key, or forged",
                    checkpoint_id=checkpoint.id,
                )
                return
            if not valid:
                self._fail(
                    f"checkpoint {checkpoint.id} (of row {checkpoint.seq}) does not carry a valid signature: "
                    "it was forged or changed in the database",
                    checkpoint_id=checkpoint.id,
                )
                return
            self._checked.append(checkpoint)
        self._pending = sorted(self._checked, key=lambda c: (c.seq, c.id), reverse=True)
        self.anchor = newest if newest in self._checked else None

    @property
    def failed(self) -> bool:
        return self.problem is not None

    def feed(self, rows: Iterable[Any]) -> None:
        for row in rows:
            if self.problem is not None:
                return
            self._check_row(row)

    def finish(self) -> Problem | None:
        if self.problem is None and self._pending:
            missing = self._pending[-1]
            end = "the log is empty" if self.head_seq is None else f"the log ends at row {self.head_seq}"
            self._fail(
                f"row {missing.seq} is missing: checkpoint {missing.id} recorded the log up to it, and "
                f"{end}. Rows were deleted from the end of the log",
                seq=missing.seq,
                checkpoint_id=missing.id,
            )
        return self.problem

    def _check_row(self, row: Any) -> None:
        seq = int(row.seq)
        # A checkpoint whose row the walk passed without meeting: that row was deleted.
        while self._pending and self._pending[-1].seq < seq:
            missing = self._pending.pop()
            self._fail(
                f"row {missing.seq} is missing: checkpoint {missing.id} recorded it, and the log goes on "
                f"at row {seq}. Rows were deleted",
                seq=missing.seq,
                checkpoint_id=missing.id,
            )
            return
        if row.prev_hash != self.head_hash:
            before = "the start of the log" if self.head_seq is None else f"row {self.head_seq}"
            self._fail(
                f"row {seq} does not follow {before}: a row between them was deleted, or row {seq} was "
                "rewritten",
                seq=seq,
            )
            return
        if digest(row.prev_hash, body_of(row)) != row.hash:
            self._fail(
                f"row {seq} was changed after it was written: its content does not hash to its stored hash",
                seq=seq,
            )
            return
        while self._pending and self._pending[-1].seq == seq:
            checkpoint = self._pending.pop()
            if checkpoint.hash != row.hash:
                self._fail(
                    f"row {seq} is not the row checkpoint {checkpoint.id} recorded: the log was rewritten "
                    "up to here",
                    seq=seq,
                    checkpoint_id=checkpoint.id,
                )
                return
        if not self.structure_only and not self._signature_holds(row, seq):
            return
        self.rows += 1
        self.head_seq = seq
        self.head_hash = row.hash

    def _signature_holds(self, row: Any, seq: int) -> bool:
        covered = self.anchor is not None and seq <= self.anchor.seq
        if row.mac is None:
            if covered:
                return True
            self._fail(
                f"row {seq} is not signed, and no checkpoint covers it: it was written by a process "
                "without the audit key, or its signature was removed",
                seq=seq,
            )
            return False
        valid = self.keyring.check_row(row.key_id, row.mac, row.hash)
        if valid is None:
            if covered:
                return True
            self._fail(
                f"row {seq} is signed with key {row.key_id}, which is not in the key file "
                f"{self.keyring.path}: a process with another key file wrote it, or it was forged",
                seq=seq,
            )
            return False
        if not valid:
            self._fail(
                f"row {seq} does not carry a valid signature: it was written or re-hashed without the "
                "audit key",
                seq=seq,
            )
            return False
        return True

    def _fail(self, message: str, *, seq: int | None = None, checkpoint_id: int | None = None) -> None:
        if self.problem is None:
            self.problem = Problem(message, seq, checkpoint_id)

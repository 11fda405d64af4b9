"""Decision records: signed with the audit key ring (under a domain of their own), stored, signed
again when a promotion ends, read back with their integrity checked, listed and verified."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import orjson

from plimsoll.core.audit import AuditEntry
from plimsoll.core.changes import Change
from plimsoll.core.errors import NotFound
from plimsoll.core.projects import DEFAULT_PROJECT
from plimsoll.core.validation import check_int, check_name
from plimsoll.gates import store
from plimsoll.gates.entities import Decision, Verification, Waiver
from plimsoll.gates.service.base import MAX_LIST, ServiceBase, _check_id
from plimsoll.model_registry.entities import DECISION_DOMAIN, check_model_name, check_version


def canonical(document: Mapping[str, Any]) -> str:
    """The exact text a decision's signature covers: JSON with sorted keys, no spaces."""
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS).decode()


class DecisionOps(ServiceBase):
    # -- reading ----------------------------------------------------------------------------------

    def decision(self, decision_id: str) -> Decision:
        """A decision as stored, with `integrity` checked against its signature."""
        _check_id("decision_id", decision_id)
        with self.db.read() as conn:
            return self._decision_in(conn, decision_id)

    def decision_project(self, decision_id: str) -> str:
        _check_id("decision_id", decision_id)
        with self.db.read() as conn:
            row = store.decision_row(conn, decision_id)
        if row is None:
            raise NotFound(f"decision {decision_id!r} not found")
        return str(row["project"])

    def decisions(
        self,
        name: str | None = None,
        *,
        version: int | None = None,
        project: str = DEFAULT_PROJECT,
        limit: int = 100,
    ) -> list[Decision]:
        check_name("project", project)
        if name is not None:
            check_model_name("name", name)
        if version is not None:
            check_version("version", version)
        check_int("limit", limit, minimum=1, maximum=MAX_LIST)
        with self.db.read() as conn:
            rows = store.decision_rows(conn, project, name, version, limit=limit)
        return [self._read_decision(row) for row in rows]

    def verify(self, *, project: str = DEFAULT_PROJECT) -> Verification:
        """Check every decision of the project against its signature: how many were checked, and
        those that do not verify (changed outside Plimsoll, or signed with a key not held)."""
        check_name("project", project)
        checked = 0
        found: list[Decision] = []
        after: tuple[int, str] | None = None
        while True:
            with self.db.read() as conn:
                rows = store.decision_rows(conn, project, limit=MAX_LIST, after=after)
            checked += len(rows)
            found.extend(d for d in (self._read_decision(r) for r in rows) if d.integrity != "verified")
            if len(rows) < MAX_LIST:
                return Verification(project, checked, tuple(found))
            after = (int(rows[-1]["created_at"]), str(rows[-1]["id"]))

    # -- inside: decisions ------------------------------------------------------------------------

    def _applied_waivers(self, conn: Any, decision: Decision) -> tuple[Waiver, ...]:
        ids = {r.waiver for r in decision.results if r.waiver}
        if not ids:
            return ()
        rows = store.waiver_rows(conn, decision.project, decision.model, decision.version, decision.alias)
        return tuple(Waiver.from_dict(dict(row)) for row in rows if row["id"] in ids)

    def _signature(self, decision: Decision) -> Decision:
        if self.keyring is None:
            raise AssertionError("release decisions need the audit key ring to sign them")
        key_id, signature = self.keyring.sign(DECISION_DOMAIN, canonical(decision.body()).encode())
        return replace(decision, key_id=key_id, signature=signature, integrity="verified", problem=None)

    def _store_decision(self, change: Change, decision: Decision) -> Decision:
        decision = replace(decision, waivers=self._applied_waivers(change.conn, decision))
        signed = self._signature(decision)
        store.insert_decision(change.conn, _decision_row(signed))
        return signed

    def _resign(self, change: Change, decision: Decision) -> Decision:
        signed = self._signature(decision)
        row = _decision_row(signed)
        row.pop("id")
        store.update_decision(change.conn, decision.id, row)
        return signed

    def _decision_in(self, conn: Any, decision_id: str) -> Decision:
        row = store.decision_row(conn, decision_id)
        if row is None:
            raise NotFound(f"decision {decision_id!r} not found")
        return self._read_decision(row)

    def _read_decision(self, row: Any) -> Decision:
        """The record as signed, with `integrity`: `tampered` when the signature does not cover the
        stored body, or a column disagrees with the body it was copied from."""
        body = row["body"]
        try:
            document = orjson.loads(body)
            decision = Decision.from_dict(document)
        except (orjson.JSONDecodeError, TypeError, KeyError, ValueError) as exc:
            return _unreadable(row, f"the stored record cannot be read: {exc}")
        decision = replace(decision, key_id=row["key_id"], signature=row["signature"])
        verified = self._check(row["key_id"], row["signature"], body)
        if verified is None:
            return replace(
                decision,
                integrity="unknown_key",
                problem=f"signed with key {row['key_id']}, which this server does not hold",
            )
        if not verified:
            return replace(
                decision, integrity="tampered", problem="the signature does not match the stored record"
            )
        if canonical(document) != body:
            return replace(
                decision, integrity="tampered", problem="the stored record is not in its signed form"
            )
        for column in ("id", "project", "model", "version", "alias", "purpose", "verdict", "created_at"):
            if row[column] != document.get(column):
                return replace(
                    decision,
                    integrity="tampered",
                    problem=f"column {column!r} holds {row[column]!r}, the signed record {document.get(column)!r}",
                )
        if row["promotion_id"] != document.get("promotion"):
            return replace(
                decision, integrity="tampered", problem="column 'promotion_id' differs from the signed record"
            )
        return decision

    def _check(self, key_id: str, signature: str, body: str) -> bool | None:
        if self.keyring is None:
            return None
        verified = self.keyring.check(DECISION_DOMAIN, key_id, signature, body.encode())
        if verified is None:  # a key another process added since: read the key file again
            verified = self.keyring.reloaded().check(DECISION_DOMAIN, key_id, signature, body.encode())
        return bool(verified) if verified is not None else None


# -- helpers ---------------------------------------------------------------------------------------


def _decision_row(decision: Decision) -> dict[str, Any]:
    return {
        "id": decision.id,
        "project": decision.project,
        "model": decision.model,
        "version": decision.version,
        "alias": decision.alias,
        "purpose": decision.purpose,
        "verdict": decision.verdict,
        "promotion_id": decision.promotion,
        "created_at": decision.created_at,
        "body": canonical(decision.body()),
        "key_id": decision.key_id,
        "signature": decision.signature,
    }


def _unreadable(row: Any, problem: str) -> Decision:
    return Decision(
        id=row["id"],
        purpose=row["purpose"],
        project=row["project"],
        model=row["model"],
        version=int(row["version"]),
        alias=row["alias"],
        baseline=None,
        policy_digest="",
        model_digest="",
        data_digests={},
        results=(),
        waivers=(),
        approvals=(),
        approvals_required=0,
        verdict=row["verdict"],
        promotion=row["promotion_id"],
        evidence={},
        baseline_evidence=None,
        created_by="",
        created_at=int(row["created_at"]),
        decided_at=int(row["created_at"]),
        key_id=row["key_id"],
        signature=row["signature"],
        integrity="tampered",
        problem=problem,
    )


def _decision_audit(actor: str, action: str, decision: Decision) -> AuditEntry:
    return AuditEntry(
        actor,
        action,
        "gate_decision",
        decision.id,
        decision.project,
        None,
        {
            "model": decision.model,
            "version": decision.version,
            "alias": decision.alias,
            "verdict": decision.verdict,
            "policy_digest": decision.policy_digest,
            "signature": decision.signature,
        },
    )

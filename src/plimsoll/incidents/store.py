"""The incidents capability's tables and every statement that reads or writes them. Each function
takes an open connection; the service owns the transaction.

A platform alert, silence, inhibition rule or incident (one that belongs to no project) is stored
with `project` "" (the service reads it back as None); labels, annotations and matchers are JSON.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    RowMapping,
    String,
    Table,
    Text,
    and_,
    delete,
    insert,
    or_,
    select,
    text,
    update,
)

from plimsoll.core.db import metadata

ID = String(32)
NAME = String(200)
USER = String(128)
PROJECT = String(128)
STATE = String(16)

alerts = Table(
    "alerts",
    metadata,
    Column("id", ID, primary_key=True),
    Column("fingerprint", String(16), nullable=False, unique=True),
    Column("project", PROJECT, nullable=False),  # "" for a platform alert
    Column("source", STATE, nullable=False),
    Column("rule", NAME, nullable=False),
    Column("severity", STATE, nullable=False),
    Column("state", STATE, nullable=False),
    Column("labels", Text, nullable=False),
    Column("annotations", Text, nullable=False),
    Column("model", NAME, nullable=False),
    Column("alias", String(64), nullable=False),
    Column("version", BigInteger, nullable=True),
    Column("monitor", NAME, nullable=False),
    Column("monitor_id", ID, nullable=False),
    Column("segment_column", Text, nullable=False),
    Column("segment_value", Text, nullable=False),
    Column("value", Float, nullable=True),
    Column("op", String(4), nullable=False),
    Column("threshold", Float, nullable=True),
    Column("for_windows", Integer, nullable=False),
    Column("for_s", BigInteger, nullable=False),
    Column("consecutive", Integer, nullable=False),
    Column("active_since", BigInteger, nullable=True),
    Column("starts_at", BigInteger, nullable=True),
    Column("ends_at", BigInteger, nullable=True),
    Column("last_seen", BigInteger, nullable=False),
    Column("firing", Integer, nullable=False),
    Column("notified", Boolean, nullable=False),
    Column("incident_id", ID, nullable=True),
    Column("monitor_url", Text, nullable=False),
    Column("last_event_id", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_alerts_project_state", "project", "state"),
    Index("ix_alerts_project_monitor_id", "project", "monitor_id"),
)

# Every change of an alert's state, per firing: what its page and an incident's timeline show.
alert_transitions = Table(
    "alert_transitions",
    metadata,
    Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
    Column("alert_id", ID, nullable=False, index=True),
    Column("firing", Integer, nullable=False),
    Column("state", STATE, nullable=False),
    Column("at", BigInteger, nullable=False),
    Column("value", Float, nullable=True),
    Column("note", Text, nullable=False),
)

alert_silences = Table(
    "alert_silences",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project", PROJECT, nullable=False, index=True),
    Column("matchers", Text, nullable=False),
    Column("starts_at", BigInteger, nullable=False),
    Column("ends_at", BigInteger, nullable=False),
    Column("comment", Text, nullable=False),
    Column("created_by", USER, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expired_by", USER, nullable=True),
    Column("expired_at", BigInteger, nullable=True),
)

alert_inhibitions = Table(
    "alert_inhibitions",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project", PROJECT, nullable=False, index=True),
    Column("source", Text, nullable=False),
    Column("target", Text, nullable=False),
    Column("equal", Text, nullable=False),
    Column("comment", Text, nullable=False),
    Column("created_by", USER, nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", ID, primary_key=True),
    Column("project", PROJECT, nullable=False),  # "" for a platform incident
    Column("model", NAME, nullable=False),  # "" for a platform incident
    Column("version", BigInteger, nullable=True),
    Column("title", Text, nullable=False),
    Column("severity", STATE, nullable=False),
    Column("state", STATE, nullable=False),
    Column("owner", USER, nullable=True),
    Column("owner_role", String(32), nullable=True),
    Column("opened_at", BigInteger, nullable=False),
    Column("acknowledged_by", USER, nullable=True),
    Column("acknowledged_at", BigInteger, nullable=True),
    Column("resolved_by", USER, nullable=True),
    Column("resolved_at", BigInteger, nullable=True),
    Column("resolution", Text, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
    Index("ix_incidents_project_model_state", "project", "model", "state"),
    Index("ix_incidents_project_opened_at", "project", "opened_at"),
)

# Which firing of which alert joined which incident.
incident_alerts = Table(
    "incident_alerts",
    metadata,
    Column("incident_id", ID, primary_key=True),
    Column("alert_id", ID, primary_key=True, index=True),
    Column("firing", Integer, primary_key=True),
    Column("joined_at", BigInteger, nullable=False),
)

incident_notes = Table(
    "incident_notes",
    metadata,
    Column("id", Integer().with_variant(BigInteger(), "postgresql"), primary_key=True, autoincrement=True),
    Column("incident_id", ID, nullable=False, index=True),
    Column("author", USER, nullable=False),
    Column("text", Text, nullable=False),
    Column("at", BigInteger, nullable=False),
)

TABLES = (
    alerts,
    alert_transitions,
    alert_silences,
    alert_inhibitions,
    incidents,
    incident_alerts,
    incident_notes,
)

# The class of the transaction-scoped advisory locks that serialise the changes of one project's
# alerts on PostgreSQL (`lock_scope`; the outbox, jobs and audit log use their own).
INCIDENT_LOCK_CLASS = zlib.crc32(b"plimsoll-incidents") & 0x7FFFFFFF

OPEN_ALERT_STATES = ("pending", "firing")
OPEN_INCIDENT_STATES = ("open", "acknowledged")


# -- alerts ----------------------------------------------------------------------------------------


def alert_by_fingerprint(conn: Connection, fingerprint: str) -> RowMapping | None:
    query = select(alerts).where(alerts.c.fingerprint == fingerprint).with_for_update()
    return conn.execute(query).mappings().first()


def alerts_by_fingerprint(conn: Connection, fingerprints: Sequence[str]) -> dict[str, RowMapping]:
    """The alerts of these fingerprints, locked in one statement (in id order: two transactions
    lock them in the same order)."""
    if not fingerprints:
        return {}
    query = (
        select(alerts)
        .where(alerts.c.fingerprint.in_(list(fingerprints)))
        .order_by(alerts.c.id)
        .with_for_update()
    )
    return {row["fingerprint"]: row for row in conn.execute(query).mappings().all()}


def alert_row(conn: Connection, alert_id: str, *, for_update: bool = False) -> RowMapping | None:
    query = select(alerts).where(alerts.c.id == alert_id)
    if for_update:
        query = query.with_for_update()
    return conn.execute(query).mappings().first()


def alert_rows_by_id(conn: Connection, ids: Sequence[str]) -> dict[str, RowMapping]:
    if not ids:
        return {}
    rows = conn.execute(select(alerts).where(alerts.c.id.in_(list(ids)))).mappings().all()
    return {row["id"]: row for row in rows}


def insert_alert(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(alerts).values(**values))


def update_alert(conn: Connection, alert_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(alerts).where(alerts.c.id == alert_id).values(**values))


def alert_rows(
    conn: Connection,
    project: str,
    *,
    states: Sequence[str] = (),
    model: str | None = None,
    limit: int = 100,
) -> list[RowMapping]:
    """A project's alerts (or the platform's, with ""), the most recently changed first."""
    query = select(alerts).where(alerts.c.project == project)
    if states:
        query = query.where(alerts.c.state.in_(list(states)))
    if model is not None:
        query = query.where(alerts.c.model == model)
    query = query.order_by(alerts.c.updated_at.desc(), alerts.c.id).limit(limit)
    return list(conn.execute(query).mappings().all())


def open_alerts_of_monitor(
    conn: Connection, project: str, monitor_id: str, segment_column: str, segment_value: str
) -> list[RowMapping]:
    """The pending and firing alerts of one monitor and segment (locked)."""
    query = (
        select(alerts)
        .where(
            alerts.c.project == project,
            alerts.c.monitor_id == monitor_id,
            alerts.c.segment_column == segment_column,
            alerts.c.segment_value == segment_value,
            alerts.c.state.in_(OPEN_ALERT_STATES),
            alerts.c.source == "monitor",
        )
        .order_by(alerts.c.id)
        .with_for_update()
    )
    return list(conn.execute(query).mappings().all())


def firing_labels(conn: Connection, project: str) -> list[tuple[str, str]]:
    """(id, labels JSON) of a project's firing alerts: the sources of inhibition."""
    query = select(alerts.c.id, alerts.c.labels).where(
        alerts.c.project == project, alerts.c.state == "firing"
    )
    return [(row[0], row[1]) for row in conn.execute(query).all()]


def held_alerts(conn: Connection, project: str | None) -> list[RowMapping]:
    """Firing alerts whose firing was not announced (silenced or inhibited then); of one project
    ("" the platform's), or of all with None."""
    query = select(alerts).where(alerts.c.state == "firing", alerts.c.notified.is_(False))
    if project is not None:
        query = query.where(alerts.c.project == project)
    return list(conn.execute(query.order_by(alerts.c.id).with_for_update()).mappings().all())


def insert_transition(
    conn: Connection, alert_id: str, firing: int, state: str, at: int, value: float | None, note: str = ""
) -> None:
    conn.execute(
        insert(alert_transitions).values(
            alert_id=alert_id, firing=firing, state=state, at=at, value=value, note=note
        )
    )


def transitions(
    conn: Connection, alert_ids: Sequence[str], *, limit: int = 1000
) -> dict[str, list[RowMapping]]:
    """Each alert's transitions, oldest first (the newest `limit` of all of them)."""
    if not alert_ids:
        return {}
    query = (
        select(alert_transitions)
        .where(alert_transitions.c.alert_id.in_(list(alert_ids)))
        .order_by(alert_transitions.c.id.desc())
        .limit(limit)
    )
    found: dict[str, list[RowMapping]] = {}
    for row in reversed(conn.execute(query).mappings().all()):
        found.setdefault(row["alert_id"], []).append(row)
    return found


# -- silences and inhibitions ----------------------------------------------------------------------


def insert_silence(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(alert_silences).values(**values))


def silence_row(conn: Connection, silence_id: str, *, for_update: bool = False) -> RowMapping | None:
    query = select(alert_silences).where(alert_silences.c.id == silence_id)
    if for_update:
        query = query.with_for_update()
    return conn.execute(query).mappings().first()


def silence_rows(
    conn: Connection, project: str, *, ending_after: int | None = None, limit: int = 500
) -> list[RowMapping]:
    """A project's silences, the newest first; with `ending_after`, those not ended by then."""
    query = select(alert_silences).where(alert_silences.c.project == project)
    if ending_after is not None:
        query = query.where(alert_silences.c.ends_at > ending_after)
    query = query.order_by(alert_silences.c.created_at.desc(), alert_silences.c.id).limit(limit)
    return list(conn.execute(query).mappings().all())


def update_silence(conn: Connection, silence_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(alert_silences).where(alert_silences.c.id == silence_id).values(**values))


def insert_inhibition(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(alert_inhibitions).values(**values))


def inhibition_row(conn: Connection, inhibition_id: str) -> RowMapping | None:
    query = select(alert_inhibitions).where(alert_inhibitions.c.id == inhibition_id)
    return conn.execute(query).mappings().first()


def inhibition_rows(conn: Connection, project: str) -> list[RowMapping]:
    query = (
        select(alert_inhibitions)
        .where(alert_inhibitions.c.project == project)
        .order_by(alert_inhibitions.c.created_at, alert_inhibitions.c.id)
    )
    return list(conn.execute(query).mappings().all())


def delete_inhibition(conn: Connection, inhibition_id: str) -> None:
    conn.execute(delete(alert_inhibitions).where(alert_inhibitions.c.id == inhibition_id))


# -- incidents -------------------------------------------------------------------------------------


def insert_incident(conn: Connection, values: dict[str, Any]) -> None:
    conn.execute(insert(incidents).values(**values))


def incident_row(conn: Connection, incident_id: str, *, for_update: bool = False) -> RowMapping | None:
    query = select(incidents).where(incidents.c.id == incident_id)
    if for_update:
        query = query.with_for_update()
    return conn.execute(query).mappings().first()


def lock_scope(conn: Connection, project: str) -> None:
    """Serialise the changes to one project's alerts and incidents ("" the platform's) until the
    transaction ends: the consumer's, and those a person makes (a silence ended, an incident
    resolved). Taken first, before any row lock, so that two such changes never lock alerts in
    opposite orders, nor both find no open incident for a model and open two. PostgreSQL only:
    SQLite has one writer at a time."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:cls, hashtext(:key))"),
            {"cls": INCIDENT_LOCK_CLASS, "key": project},
        )


def open_incident(conn: Connection, project: str, model: str) -> RowMapping | None:
    """The open (or acknowledged) incident of a model (locked), the oldest if there were two."""
    query = (
        select(incidents)
        .where(
            incidents.c.project == project,
            incidents.c.model == model,
            incidents.c.state.in_(OPEN_INCIDENT_STATES),
        )
        .order_by(incidents.c.opened_at, incidents.c.id)
        .limit(1)
        .with_for_update()
    )
    return conn.execute(query).mappings().first()


def incident_rows(
    conn: Connection,
    project: str,
    *,
    states: Sequence[str] = (),
    model: str | None = None,
    limit: int = 100,
) -> list[RowMapping]:
    """A project's incidents (the platform's with ""), the newest first."""
    query = select(incidents).where(incidents.c.project == project)
    if states:
        query = query.where(incidents.c.state.in_(list(states)))
    if model is not None:
        query = query.where(incidents.c.model == model)
    query = query.order_by(incidents.c.opened_at.desc(), incidents.c.id).limit(limit)
    return list(conn.execute(query).mappings().all())


def update_incident(conn: Connection, incident_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(incidents).where(incidents.c.id == incident_id).values(**values))


def alert_joined(conn: Connection, incident_id: str, alert_id: str) -> bool:
    """Whether any firing of the alert joined the incident already."""
    query = select(incident_alerts.c.firing).where(
        incident_alerts.c.incident_id == incident_id, incident_alerts.c.alert_id == alert_id
    )
    return conn.execute(query.limit(1)).first() is not None


def add_incident_alert(conn: Connection, incident_id: str, alert_id: str, firing: int, at: int) -> bool:
    """Join a firing to an incident; False if it had joined already."""
    key = and_(
        incident_alerts.c.incident_id == incident_id,
        incident_alerts.c.alert_id == alert_id,
        incident_alerts.c.firing == firing,
    )
    if conn.execute(select(incident_alerts.c.firing).where(key)).first() is not None:
        return False
    conn.execute(
        insert(incident_alerts).values(
            incident_id=incident_id, alert_id=alert_id, firing=firing, joined_at=at
        )
    )
    return True


def incident_alert_rows(conn: Connection, incident_ids: Sequence[str]) -> dict[str, list[RowMapping]]:
    if not incident_ids:
        return {}
    query = (
        select(incident_alerts)
        .where(incident_alerts.c.incident_id.in_(list(incident_ids)))
        .order_by(incident_alerts.c.joined_at, incident_alerts.c.alert_id, incident_alerts.c.firing)
    )
    found: dict[str, list[RowMapping]] = {}
    for row in conn.execute(query).mappings().all():
        found.setdefault(row["incident_id"], []).append(row)
    return found


def firing_transitions(conn: Connection, pairs: Sequence[tuple[str, int]]) -> list[RowMapping]:
    """The transitions of these (alert, firing) pairs, oldest first."""
    if not pairs:
        return []
    clauses = [
        and_(alert_transitions.c.alert_id == alert_id, alert_transitions.c.firing == firing)
        for alert_id, firing in pairs
    ]
    query = select(alert_transitions).where(or_(*clauses)).order_by(alert_transitions.c.id)
    return list(conn.execute(query).mappings().all())


def insert_note(conn: Connection, incident_id: str, author: str, text: str, at: int) -> None:
    conn.execute(insert(incident_notes).values(incident_id=incident_id, author=author, text=text, at=at))


def note_rows(conn: Connection, incident_id: str) -> list[RowMapping]:
    query = (
        select(incident_notes)
        .where(incident_notes.c.incident_id == incident_id)
        .order_by(incident_notes.c.id)
    )
    return list(conn.execute(query).mappings().all())


def held_projects(conn: Connection) -> list[str]:
    """The projects ("" the platform) that have firing alerts not announced."""
    query = (
        select(alerts.c.project).where(alerts.c.state == "firing", alerts.c.notified.is_(False)).distinct()
    )
    return [row[0] for row in conn.execute(query).all()]

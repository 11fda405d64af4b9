"""The projects table and its SQL."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Connection, String, Table, Text, select

from plimsoll.core.db import metadata

projects = Table(
    "projects",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", BigInteger, nullable=False),
)

TABLES = (projects,)


def project_exists(conn: Connection, name: str) -> bool:
    return conn.execute(select(projects.c.name).where(projects.c.name == name)).first() is not None


def insert_project(conn: Connection, name: str, description: str, created_at: int) -> None:
    conn.execute(projects.insert().values(name=name, description=description, created_at=created_at))


def list_projects(conn: Connection) -> list[str]:
    return list(conn.execute(select(projects.c.name).order_by(projects.c.name)).scalars())

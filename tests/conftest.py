"""Shared fixtures: real SQLite files and a real PostgreSQL database per test session.

PostgreSQL is at 127.0.0.1:5432 (trust auth). Each test session (each xdist worker) creates its own
throw-away database and drops it at the end. Where PostgreSQL is missing, its tests skip with a
reason, except under CI=true, where a missing service is a failure.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import settings

from plimsoll.client import Client
from plimsoll.core.config import Settings
from plimsoll.core.db import Database
from plimsoll.platform import Platform, schema_of
from plimsoll.server.testing import LiveServer

IN_CI = os.environ.get("CI", "").lower() == "true"
PG_ADMIN_URL = os.environ.get("PLIMSOLL_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REPO_ROOT = Path(__file__).resolve().parents[1]

# Property tests explore new examples on a developer's machine, where a failure is a lead to follow;
# in CI they replay the same examples, so a red build means a change broke something.
settings.register_profile("ci", derandomize=True, database=None)
if IN_CI:
    settings.load_profile("ci")


def missing(reason: str) -> None:
    """Skip on a newcomer's machine; fail in CI, where every service must be there."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this may not be skipped)")
    pytest.skip(reason)


@pytest.fixture(scope="session", autouse=True)
def audit_key_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One audit key for every platform of the session, as every server of a deployment shares
    one (and none is written into the working directory); tests of the key file itself unset it."""
    path = tmp_path_factory.mktemp("audit-key") / "audit.key"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PLIMSOLL_AUDIT_KEY_FILE", str(path))
        yield path


@pytest.fixture(autouse=True)
def _private_spool(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test's SDK spools (if it ever must) into a folder of its own, never ~/.plimsoll."""
    spool = tmp_path_factory.mktemp("spool")
    monkeypatch.setenv("PLIMSOLL_SPOOL_DIR", str(spool))
    return spool


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any failure to connect means "not available"
        admin.dispose()
        missing(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}")
    name = f"plimsoll_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    migrated = Database(url)
    migrated.migrate(schema_of())
    migrated.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "plimsoll.db"
    database = Database(f"sqlite:///{path}")
    database.migrate(schema_of())
    database.dispose()
    return path


def _truncate_all(database: Database) -> None:
    tables = [table.name for table in schema_of().sorted_tables()]
    with database.engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        conn.execute(
            sa.text("INSERT INTO projects (name, description, created_at) VALUES ('default', '', 0)")
        )


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a fresh SQLite file, or the session's PostgreSQL database emptied."""
    if request.param == "sqlite":
        path = tmp_path / "plimsoll.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_url")
    cleaner = Database(url)
    _truncate_all(cleaner)
    try:
        yield url
    finally:
        cleaner.dispose()


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    database.migrate(schema_of())
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def platform(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[Platform]:
    """A started Platform on a fresh database (both backends) and a local blob folder; with
    authentication on for tests marked `auth_on`."""
    auth = request.node.get_closest_marker("auth_on") is not None
    instance = Platform(store_url=database_url, blobs_url=str(tmp_path / "blobs"), auth=auth).startup()
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture
def sqlite_platform(tmp_path: Path) -> Iterator[Platform]:
    """The embedded default (SQLite + local blobs) only, for tests where the backend is not the point."""
    instance = Platform(home=tmp_path / ".plimsoll").startup()
    try:
        yield instance
    finally:
        instance.close()


@pytest.fixture
def live_server(platform: Platform) -> Iterator[LiveServer]:
    server = LiveServer(platform)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sqlite_live_server(sqlite_platform: Platform) -> Iterator[LiveServer]:
    server = LiveServer(sqlite_platform)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["embedded", "http"])
def sdk(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[Client]:
    """The same SDK calls in-process and over HTTP, each on SQLite and PostgreSQL."""
    if request.param == "embedded":
        client = Client(database_url, settings=Settings(home=tmp_path / "home"), flush_interval=0.05)
    else:
        server = request.getfixturevalue("live_server")
        client = Client(server.url, flush_interval=0.05)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """URL of an in-process moto S3 server bound to 127.0.0.1 on a free port."""
    from moto.server import ThreadedMotoServer  # slow to import; only S3 tests need it

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()

"""A capability is a package and one line: a toy one, defined only in this file, plugs into every
loop of the platform (tables and their migration, routes checked by permission rows with deny by
default, a page in the navigation, a CLI group) without an edit anywhere else.

docs/architecture.md ("Adding a capability") walks through this same toy.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
import sqlalchemy as sa
import typer
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel
from starlette.testclient import TestClient
from typer.testing import CliRunner

from plimsoll.capabilities import ALL
from plimsoll.cli.main import build_cli
from plimsoll.core.auth.permissions import (
    PROJECT_BODY,
    PROJECT_QUERY,
    Permission,
    Resolving,
    Resource,
    Scope,
    read,
    write,
)
from plimsoll.core.capability import Capability, CliCommand, CliGroup, NavItem, Parts
from plimsoll.core.db import NAMING_CONVENTION
from plimsoll.core.errors import NotFound
from plimsoll.core.http import current_actor, json_response, service_of
from plimsoll.core.ids import new_id
from plimsoll.core.migrate import current_revisions
from plimsoll.platform import Platform
from plimsoll.server.ui.pages import render

# -- the toy capability: what its package would hold ---------------------------------------------

# store.py: its tables (on a MetaData of its own here, so that other tests never see them)
toy_metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
notes = sa.Table(
    "toy_notes",
    toy_metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("project", sa.String(128), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
)

# migrations/versions/toy0001_notes.py: its own Alembic branch
MIGRATION = """
import sqlalchemy as sa
from alembic import op

revision = "toy0001"
down_revision = None
branch_labels = ("toy",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "toy_notes",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("project", sa.String(128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_toy_notes"),
    )


def downgrade() -> None:
    op.drop_table("toy_notes")
"""


# service.py: the rules, built from the platform's parts
class ToyService:
    def __init__(self, parts: Parts) -> None:
        self.db = parts.db
        self.projects = parts.projects

    def add_note(self, text: str, *, project: str) -> str:
        note_id = new_id()
        with self.db.write() as conn:
            self.projects.require_in(conn, project)
            conn.execute(notes.insert().values(id=note_id, project=project, text=text))
        return note_id

    def note(self, note_id: str) -> dict[str, Any]:
        with self.db.read() as conn:
            row = conn.execute(sa.select(notes).where(notes.c.id == note_id)).mappings().first()
        if row is None:
            raise NotFound(f"note {note_id!r} not found")
        return {str(key): value for key, value in row.items()}


# permissions.py: a scope that finds a note's project through the service
def _note(resolving: Resolving) -> set[Resource]:
    note = resolving.service.note(resolving.facts.path_params["note_id"])
    return {Resource(note["project"], "note", note["id"])}


NOTE = Scope("note", "the project of the `{note_id}` note", _note)


# api.py: thin routes over the service
class NoteBody(BaseModel):
    text: str
    project: str = "default"


Toy = Annotated[ToyService, Depends(service_of("toy"))]
router = APIRouter(prefix="/api/v1/toy")


@router.post("/notes", status_code=201)
def add_note(body: NoteBody, toy: Toy, actor: Annotated[str, Depends(current_actor)]) -> Response:
    return json_response({"id": toy.add_note(body.text, project=body.project)}, 201)


@router.get("/notes/{note_id}")
def get_note(note_id: str, toy: Toy) -> Response:
    return json_response(toy.note(note_id))


@router.get("/forgotten")
def forgotten() -> Response:  # no permission row: refused when auth is on
    return json_response({"leaked": True})


pages = APIRouter(include_in_schema=False)


@pages.get("/toy", response_class=HTMLResponse)
def toy_page(request: Request) -> HTMLResponse:
    return render(request, "error.html", {"status": 200, "title": "Toy", "message": "notes", "active": "toy"})


# cli.py
cli = typer.Typer(help="Toy notes.")


@cli.command("hello")
def hello() -> None:
    typer.echo("hello from the toy")


def jot(text: str) -> None:
    """A verb with no noun: `plimsoll jot TEXT` (a CliCommand)."""
    typer.echo(f"jotted {text}")


# __init__.py: the descriptor
def descriptor(migrations: Path) -> Capability:
    return Capability(
        name="toy",
        title="Toy notes",
        tables=(notes,),
        migrations=migrations,
        service=ToyService,
        router=router,
        permissions=(
            Permission("POST", "/api/v1/toy/notes", write(PROJECT_BODY)),
            Permission("GET", "/api/v1/toy/notes/{note_id}", read(NOTE)),
            Permission("GET", "/toy", read(PROJECT_QUERY)),
        ),
        pages=pages,
        nav=(NavItem("Operate", "toy", "Toy notes", "/toy"),),
        cli=(CliGroup("toy", cli), CliCommand("jot", jot)),
    )


# -- the test ------------------------------------------------------------------------------------


@pytest.fixture
def toy(tmp_path: Path) -> Capability:
    versions = tmp_path / "toy_versions"
    versions.mkdir()
    (versions / "toy0001_notes.py").write_text(textwrap.dedent(MIGRATION))
    return descriptor(versions)


@pytest.fixture
def platform_with_toy(tmp_path: Path, toy: Capability) -> Iterator[Platform]:
    platform = Platform(home=tmp_path / ".plimsoll", capabilities=[*ALL, toy], auth=True).startup()
    try:
        yield platform
    finally:
        platform.close()


def test_its_tables_are_migrated_on_its_own_branch(platform_with_toy: Platform) -> None:
    assert "toy0001" in current_revisions(platform_with_toy.db)
    assert "toy_notes" in sa.inspect(platform_with_toy.db.engine).get_table_names()
    note_id = platform_with_toy.service("toy").add_note("first", project="default")
    assert platform_with_toy.toy.note(note_id)["text"] == "first"


def test_its_routes_are_permission_checked_and_deny_by_default(platform_with_toy: Platform) -> None:
    from plimsoll.server.app import create_app

    app = create_app(platform_with_toy)
    auth = platform_with_toy.auth
    root = auth.bootstrap_admin("root").secret
    auth.create_user("vera", actor="root")
    vera = auth.create_token("vera").secret
    platform_with_toy.projects.create("secret", actor="root")
    hidden = platform_with_toy.toy.add_note("hidden", project="secret")

    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    with TestClient(app, base_url="http://localhost") as client:
        created = client.post("/api/v1/toy/notes", json={"text": "hi"}, headers=bearer(root))
        assert created.status_code == 201, created.text
        note = created.json()["id"]
        assert client.get(f"/api/v1/toy/notes/{note}").status_code == 401
        # A note of a project where vera holds nothing is answered as no note (docs/security.md).
        denied = client.get(f"/api/v1/toy/notes/{note}", headers=bearer(vera))
        assert denied.status_code == 404
        assert denied.json()["error"]["message"] == f"note {note!r} not found"
        auth.grant("default", "vera", "viewer", actor="root")
        assert client.get(f"/api/v1/toy/notes/{note}", headers=bearer(vera)).json()["text"] == "hi"
        # The resolver found the project of the note itself, through the toy's service.
        assert client.get(f"/api/v1/toy/notes/{hidden}", headers=bearer(vera)).status_code == 404
        assert client.get(f"/api/v1/toy/notes/{'0' * 32}", headers=bearer(vera)).status_code == 404
        assert client.post("/api/v1/toy/notes", json={"text": "x"}, headers=bearer(vera)).status_code == 403
        forgotten = client.get("/api/v1/toy/forgotten", headers=bearer(root))
        assert forgotten.status_code == 403
        assert "has no permission rule" in forgotten.json()["error"]["message"]


def test_its_page_is_in_the_navigation(platform_with_toy: Platform) -> None:
    from plimsoll.server.app import create_app

    app = create_app(platform_with_toy)
    secret = platform_with_toy.auth.bootstrap_admin("root").secret
    with TestClient(
        app, base_url="http://localhost", headers={"Authorization": f"Bearer {secret}"}
    ) as client:
        experiments = client.get("/experiments")
        assert experiments.status_code == 200
        assert 'href="/toy"' in experiments.text and "Toy notes" in experiments.text
        page = client.get("/toy")
        assert page.status_code == 200 and "notes" in page.text


def test_its_cli_group_is_a_plimsoll_command(toy: Capability) -> None:
    result = CliRunner().invoke(build_cli([*ALL, toy]), ["toy", "hello"])
    assert result.exit_code == 0, result.output
    assert "hello from the toy" in result.output
    assert "toy" in CliRunner().invoke(build_cli([*ALL, toy]), ["--help"]).output
    jotted = CliRunner().invoke(build_cli([*ALL, toy]), ["jot", "milk"])
    assert jotted.exit_code == 0 and "jotted milk" in jotted.output, jotted.output

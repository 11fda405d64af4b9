"""Projects over HTTP: list them, create one (site admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from pydantic import BaseModel

from plimsoll.core.http import current_actor, json_response, service_of
from plimsoll.core.projects.service import MAX_PROJECT_NAME_LENGTH, ProjectService
from plimsoll.core.wire import Description, name_rules

router = APIRouter(prefix="/api/v1", tags=["projects"])

Actor = Annotated[str, Depends(current_actor)]
Projects = Annotated[ProjectService, Depends(service_of("projects"))]


class ProjectCreateBody(BaseModel):
    name: Annotated[str, name_rules(MAX_PROJECT_NAME_LENGTH)]
    description: Description = ""


@router.get("/projects")
def list_projects(projects: Projects) -> Response:
    return json_response({"projects": projects.list()})


@router.post("/projects", status_code=201)
def create_project(body: ProjectCreateBody, projects: Projects, actor: Actor) -> Response:
    return json_response({"name": projects.create(body.name, description=body.description, actor=actor)}, 201)

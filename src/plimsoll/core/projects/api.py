"""Projects over HTTP: list them, create one (site admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel

from plimsoll.core.auth.entities import User
from plimsoll.core.auth.service import AuthService
from plimsoll.core.http import current_actor, json_response, service_of
from plimsoll.core.projects.service import MAX_PROJECT_NAME_LENGTH, ProjectService
from plimsoll.core.wire import Description, name_rules

router = APIRouter(prefix="/api/v1", tags=["projects"])

Actor = Annotated[str, Depends(current_actor)]
Projects = Annotated[ProjectService, Depends(service_of("projects"))]
Auth = Annotated[AuthService, Depends(service_of("auth"))]


class ProjectCreateBody(BaseModel):
    name: Annotated[str, name_rules(MAX_PROJECT_NAME_LENGTH)]
    description: Description = ""


@router.get("/projects")
def list_projects(request: Request, projects: Projects, auth: Auth) -> Response:
    """The projects the caller may see (with authentication off, the local user sees all)."""
    names = projects.list()
    user = getattr(request.state, "user", None)
    if isinstance(user, User):
        names = auth.visible_projects(user, names)
    return json_response({"projects": names})


@router.post("/projects", status_code=201)
def create_project(body: ProjectCreateBody, projects: Projects, actor: Actor) -> Response:
    return json_response({"name": projects.create(body.name, description=body.description, actor=actor)}, 201)

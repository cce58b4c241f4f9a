"""Project routes: create, list, get, rename/describe, delete (another user's: 404)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.models.api import ProjectCreate, ProjectList, ProjectOut, ProjectUpdate
from chalicelib.routes.endpoint import ApiRequest, endpoint
from chalicelib.services import projects
from chalicelib.store.records import ProjectRecord

bp = Blueprint(__name__)
TAGS = ("projects",)


def project_out(project: ProjectRecord) -> ProjectOut:
    return ProjectOut(
        id=project.project_id,
        name=project.name,
        description=project.description,
        external_id=project.external_id,
        created_at=project.created_at,
        updated_at=project.updated_at,
    )


@endpoint(
    bp,
    "/projects",
    "POST",
    summary="Create a project (403 when the user has the maximum)",
    body=ProjectCreate,
    response=ProjectOut,
    status=201,
    tags=TAGS,
    errors=(403,),
)
def create_project(req: ApiRequest) -> ProjectOut:
    body: ProjectCreate = req.body
    return project_out(projects.create(req.ctx, req.user_id, body.name, body.description))


@endpoint(bp, "/projects", "GET", summary="The user's projects", response=ProjectList, tags=TAGS)
def list_projects(req: ApiRequest) -> ProjectList:
    owned = projects.list_owned(req.ctx, req.user_id)
    return ProjectList(
        projects=[project_out(p) for p in owned],
        limit=req.ctx.settings.max_projects_per_user,
    )


@endpoint(
    bp,
    "/projects/{project_id}",
    "GET",
    summary="One project",
    response=ProjectOut,
    tags=TAGS,
    errors=(404,),
)
def get_project(req: ApiRequest, project_id: str) -> ProjectOut:
    return project_out(projects.get_owned(req.ctx, req.user_id, project_id))


@endpoint(
    bp,
    "/projects/{project_id}",
    "PATCH",
    summary="Change a project's name or description",
    body=ProjectUpdate,
    response=ProjectOut,
    tags=TAGS,
    errors=(404,),
)
def update_project(req: ApiRequest, project_id: str) -> ProjectOut:
    changes = req.body.model_dump(exclude_none=True)
    return project_out(projects.update(req.ctx, req.user_id, project_id, changes))


@endpoint(
    bp,
    "/projects/{project_id}",
    "DELETE",
    summary="Delete a project",
    status=204,
    tags=TAGS,
    errors=(404,),
)
def delete_project(req: ApiRequest, project_id: str) -> None:
    projects.delete(req.ctx, req.user_id, project_id)

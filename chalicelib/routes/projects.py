"""Project routes: create, list, get, rename/describe, delete (another user's: 404)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.routes.endpoint import ApiRequest, endpoint
from chalicelib.store.records import ProjectRecord

if TYPE_CHECKING:
    from chalicelib.models.api import ProjectCreate, ProjectList, ProjectOut


bp = Blueprint(__name__)
TAGS = ("projects",)


def project_out(project: ProjectRecord) -> ProjectOut:
    from chalicelib.models.api import ProjectOut

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
    body="chalicelib.models.api:ProjectCreate",
    response="chalicelib.models.api:ProjectOut",
    status=201,
    tags=TAGS,
    errors=(403,),
)
def create_project(req: ApiRequest) -> ProjectOut:
    from chalicelib.services import projects

    body: ProjectCreate = req.body
    return project_out(projects.create(req.ctx, req.user_id, body.name, body.description))


@endpoint(
    bp,
    "/projects",
    "GET",
    summary="The user's projects",
    response="chalicelib.models.api:ProjectList",
    tags=TAGS,
)
def list_projects(req: ApiRequest) -> ProjectList:
    from chalicelib.models.api import ProjectList
    from chalicelib.services import projects

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
    response="chalicelib.models.api:ProjectOut",
    tags=TAGS,
    errors=(404,),
)
def get_project(req: ApiRequest, project_id: str) -> ProjectOut:
    from chalicelib.services import projects

    return project_out(projects.get_owned(req.ctx, req.user_id, project_id))


@endpoint(
    bp,
    "/projects/{project_id}",
    "PATCH",
    summary="Change a project's name or description",
    body="chalicelib.models.api:ProjectUpdate",
    response="chalicelib.models.api:ProjectOut",
    tags=TAGS,
    errors=(404,),
)
def update_project(req: ApiRequest, project_id: str) -> ProjectOut:
    from chalicelib.services import projects

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
    from chalicelib.services import projects

    projects.delete(req.ctx, req.user_id, project_id)

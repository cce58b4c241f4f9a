"""Release routes: a project's shipped releases, and a rollback to an earlier one."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.routes.endpoint import ApiRequest, endpoint

if TYPE_CHECKING:  # models and services are imported on first use (cold start)
    from chalicelib.models.releases import ReleaseList, ReleaseQueued, RollbackOut

bp = Blueprint(__name__)
TAGS = ("releases",)


@endpoint(
    bp,
    "/projects/{project_id}/releases",
    "GET",
    summary="The project's releases, newest first: image tag, source upload, time, who, status",
    response="chalicelib.models.releases:ReleaseList",
    rate_bucket="status",
    tags=TAGS,
    errors=(404,),
)
def list_releases(req: ApiRequest, project_id: str) -> ReleaseList:
    from chalicelib.services import projects, releases

    projects.get_owned(req.ctx, req.user_id, project_id)
    return releases.list_for_project(req.ctx, project_id)


@endpoint(
    bp,
    "/projects/{project_id}/releases/{release_id}/rollback",
    "POST",
    summary="Put an earlier release back: queues a release of its source (local stage:"
    " rebuilt and restarted)",
    response="chalicelib.models.releases:RollbackOut",
    status=202,
    tags=TAGS,
    errors=(404, 409),
)
def rollback_release(req: ApiRequest, project_id: str, release_id: str) -> RollbackOut:
    from chalicelib.services import projects, releases

    projects.get_owned(req.ctx, req.user_id, project_id)
    return releases.rollback(req.ctx, project_id, release_id, req.user_id, req.request_id)


@endpoint(
    bp,
    "/projects/{project_id}/releases",
    "POST",
    summary="Ship new source onto a live stack: the infrastructure stays; build, release,"
    " roll out and verify run (409 when nothing is live or the stack is busy)",
    body="chalicelib.models.releases:ReleaseCreate",
    response="chalicelib.models.releases:ReleaseQueued",
    status=202,
    tags=TAGS,
    errors=(404, 409, 422),
)
def create_release(req: ApiRequest, project_id: str) -> ReleaseQueued:
    from chalicelib.services import projects, releases

    projects.get_owned(req.ctx, req.user_id, project_id)
    body = req.body
    return releases.redeploy(
        req.ctx, project_id, body.upload_id, body.stack, req.user_id, req.request_id
    )

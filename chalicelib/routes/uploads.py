"""Upload routes: a presigned POST for an archive, and the size check after the upload."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chalice import Blueprint

from chalicelib.routes.endpoint import ApiRequest, endpoint

if TYPE_CHECKING:
    from chalicelib.models.uploads import UploadOut


bp = Blueprint(__name__)
TAGS = ("uploads",)


@endpoint(
    bp,
    "/projects/{project_id}/uploads",
    "POST",
    summary="Start an upload: a presigned POST (15 min, 1 byte..10 MB, zip or gzip)",
    body="chalicelib.models.uploads:UploadCreate",
    response="chalicelib.models.uploads:UploadOut",
    status=201,
    tags=TAGS,
    errors=(404,),
)
def create_upload(req: ApiRequest, project_id: str) -> UploadOut:
    from chalicelib.services import projects, uploads

    projects.get_owned(req.ctx, req.user_id, project_id)
    record, presigned = uploads.create(req.ctx, project_id, req.body.format)
    return record.out(presigned)


@endpoint(
    bp,
    "/projects/{project_id}/uploads/{upload_id}",
    "GET",
    summary="An upload's status",
    response="chalicelib.models.uploads:UploadOut",
    rate_bucket="status",
    tags=TAGS,
    errors=(404,),
)
def get_upload(req: ApiRequest, project_id: str, upload_id: str) -> UploadOut:
    from chalicelib.services import projects, uploads

    projects.get_owned(req.ctx, req.user_id, project_id)
    return uploads.get(req.ctx, project_id, upload_id).out()


@endpoint(
    bp,
    "/projects/{project_id}/uploads/{upload_id}/complete",
    "POST",
    summary="Check the uploaded archive (size); over the limit it is deleted and rejected",
    response="chalicelib.models.uploads:UploadOut",
    tags=TAGS,
    errors=(404, 409, 422),
)
def complete_upload(req: ApiRequest, project_id: str, upload_id: str) -> UploadOut:
    from chalicelib.services import projects, uploads

    projects.get_owned(req.ctx, req.user_id, project_id)
    return uploads.verify(req.ctx, project_id, upload_id).out()

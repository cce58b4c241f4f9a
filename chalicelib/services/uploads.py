"""Uploads: a presigned POST straight to S3, then a size check after the upload.

API Gateway and Lambda cannot carry 10 MB bodies, so the client posts the
archive to S3 itself (``services.presigned_uploads``: the POST pins the key, the
content type and ``content-length-range`` 1..max, and expires in 15 minutes).
S3 enforces these; the local emulator does not, so the size is checked again
with a HEAD when the upload is completed or analysed: an object over the limit
(or empty) is deleted and the upload marked ``rejected`` with the reason.

Item: ``chalicelib.store.uploads.UploadStore``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib import keys
from chalicelib.context import AppContext
from chalicelib.errors import NotFoundError
from chalicelib.models.jobs import JobError
from chalicelib.models.uploads import PresignedPost, UploadOut
from chalicelib.services import presigned_uploads as shared
from chalicelib.services.presigned_uploads import PENDING_TTL_S, UploadRejectedError
from chalicelib.services.users import iso, new_id


@dataclass(frozen=True)
class UploadRecord:
    upload_id: str
    project_id: str
    key: str
    format: str
    status: str
    created_at: str
    size: int | None = None
    error: dict[str, str] | None = None

    def out(self, presigned: PresignedPost | None = None) -> UploadOut:
        return UploadOut(
            id=self.upload_id,
            project_id=self.project_id,
            key=self.key,
            format=self.format,  # type: ignore[arg-type]
            status=self.status,  # type: ignore[arg-type]
            size=self.size,
            created_at=self.created_at,
            error=JobError(**self.error) if self.error else None,
            upload=presigned,
        )


upload_key = keys.upload_key


def _record(values: dict[str, Any]) -> UploadRecord:
    return UploadRecord(
        upload_id=values["upload_id"],
        project_id=values["project_id"],
        key=values["key"],
        format=values["format"],
        status=values["status"],
        created_at=values["created_at"],
        size=values.get("size"),
        error=values.get("error"),
    )


def create(ctx: AppContext, project_id: str, fmt: str) -> tuple[UploadRecord, PresignedPost]:
    """A pending upload and the presigned POST that fills it (the project is already checked)."""
    upload_id = new_id()
    record = UploadRecord(
        upload_id=upload_id,
        project_id=project_id,
        key=upload_key(project_id, upload_id, fmt),
        format=fmt,
        status="pending",
        created_at=iso(ctx.clock()),
    )
    # A pending upload nobody completes is dropped after a day (TTL; also filtered in get).
    ctx.stores.uploads.put_pending(
        project_id,
        upload_id,
        {**record.__dict__, "expires_at": int(ctx.clock()) + PENDING_TTL_S},
    )
    return record, shared.presigned_post(ctx, record.key, fmt)


def get(ctx: AppContext, project_id: str, upload_id: str) -> UploadRecord:
    if not upload_id or len(upload_id) > 64:
        raise NotFoundError("upload not found", details={"upload_id": upload_id[:64]})
    values = ctx.stores.uploads.get_live(project_id, upload_id, ctx.clock())
    if values is None:
        raise NotFoundError("upload not found", details={"upload_id": upload_id})
    return _record(values)


def _transition(
    ctx: AppContext, record: UploadRecord, status: str, changes: dict[str, Any]
) -> UploadRecord:
    """pending -> ready/rejected, once (a concurrent check may have done it first)."""
    values = ctx.stores.uploads.settle(record.project_id, record.upload_id, status, changes)
    return _record(values) if values else get(ctx, record.project_id, record.upload_id)


def verify(ctx: AppContext, project_id: str, upload_id: str) -> UploadRecord:
    """Check the uploaded object (HEAD): ready, or rejected and deleted, or still missing.

    Raises ``UploadIncompleteError`` (409) when nothing was uploaded yet and
    ``UploadRejectedError`` (422) when the upload is (or was) rejected.
    """
    record = get(ctx, project_id, upload_id)
    if record.status == "pending":
        record = _check_object(ctx, record)
    if record.status == "rejected":
        error = record.error or {"code": "upload_rejected", "message": "the upload was rejected"}
        raise UploadRejectedError(error["message"], details={"upload_id": upload_id, **error})
    return record


def _check_object(ctx: AppContext, record: UploadRecord) -> UploadRecord:
    size = shared.uploaded_size(
        ctx,
        record.key,
        missing="the archive has not been uploaded yet: POST it to the presigned URL first",
        details={"upload_id": record.upload_id},
    )
    limit = ctx.settings.max_upload_bytes
    if size > limit or size == 0:
        # Never keep what the rules refuse: delete first, then record why.
        ctx.aws.s3.delete_object(Bucket=ctx.settings.bucket, Key=record.key)
        reason = (
            f"the uploaded file is {size} bytes, over the {limit}-byte ({limit // (1024 * 1024)}"
            " MB) limit; it was deleted"
            if size
            else "the uploaded file is empty; it was deleted"
        )
        code = "upload_too_large" if size else "upload_empty"
        return _transition(
            ctx, record, "rejected", {"size": size, "error": {"code": code, "message": reason}}
        )
    return _transition(ctx, record, "ready", {"size": size})

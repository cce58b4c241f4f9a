"""Uploads: a presigned POST straight to S3, then a size check after the upload.

API Gateway and Lambda cannot carry 10 MB bodies, so the client posts the
archive to S3 itself. The presigned POST pins the key, the content type and
``content-length-range`` 1..max, and expires in 15 minutes. S3 enforces these;
the local emulator does not, so the size is checked again with a HEAD when
the upload is completed or analysed: an object over the limit (or empty) is
deleted and the upload marked ``rejected`` with the reason.

Item: pk ``PROJECT#<project_id>``, sk ``UPLOAD#<upload_id>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.context import AppContext
from chalicelib.errors import AutoStackError, ConflictError, NotFoundError
from chalicelib.models.jobs import JobError
from chalicelib.models.uploads import PresignedPost, UploadOut
from chalicelib.services.users import iso, new_id
from chalicelib.store.dynamodb import from_item, to_attr, to_item

PRESIGN_EXPIRY_S = 15 * 60
PENDING_TTL_S = 24 * 3600
CONTENT_TYPES = {"zip": "application/zip", "tar.gz": "application/gzip"}


class UploadRejectedError(AutoStackError):
    """The uploaded object broke a rule (size); it was deleted. Details: the reason."""

    status = 422
    code = "upload_rejected"


class UploadIncompleteError(ConflictError):
    code = "upload_incomplete"


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


def upload_key(project_id: str, upload_id: str, fmt: str) -> str:
    return f"uploads/{project_id}/{upload_id}.{fmt}"


def _keys(project_id: str, upload_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"PROJECT#{project_id}"}, "sk": {"S": f"UPLOAD#{upload_id}"}}


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


def presigned_post(ctx: AppContext, key: str, fmt: str) -> PresignedPost:
    content_type = CONTENT_TYPES[fmt]
    max_bytes = ctx.settings.max_upload_bytes
    post = ctx.aws.s3.generate_presigned_post(
        Bucket=ctx.settings.bucket,
        Key=key,
        Fields={"Content-Type": content_type},
        Conditions=[
            ["content-length-range", 1, max_bytes],
            ["eq", "$Content-Type", content_type],
        ],
        ExpiresIn=PRESIGN_EXPIRY_S,
    )
    return PresignedPost(
        url=post["url"],
        fields={k: str(v) for k, v in post["fields"].items()},
        expires_at=iso(ctx.clock() + PRESIGN_EXPIRY_S),
        max_bytes=max_bytes,
        content_type=content_type,
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
    values = {**_keys_plain(project_id, upload_id), **record.__dict__}
    values = {k: v for k, v in values.items() if v is not None}
    # A pending upload nobody completes is dropped after a day (TTL; also filtered in get).
    values["expires_at"] = int(ctx.clock()) + PENDING_TTL_S
    ctx.aws.dynamodb.put_item(
        TableName=ctx.settings.table,
        Item=to_item(values),
        ConditionExpression="attribute_not_exists(pk)",
    )
    return record, presigned_post(ctx, record.key, fmt)


def _keys_plain(project_id: str, upload_id: str) -> dict[str, str]:
    return {"pk": f"PROJECT#{project_id}", "sk": f"UPLOAD#{upload_id}"}


def get(ctx: AppContext, project_id: str, upload_id: str) -> UploadRecord:
    if not upload_id or len(upload_id) > 64:
        raise NotFoundError("upload not found", details={"upload_id": upload_id[:64]})
    item = ctx.aws.dynamodb.get_item(
        TableName=ctx.settings.table, Key=_keys(project_id, upload_id), ConsistentRead=True
    ).get("Item")
    values = from_item(item) if item else None
    expires_at = values.get("expires_at") if values else None
    if values is None or (expires_at is not None and expires_at < ctx.clock()):
        raise NotFoundError("upload not found", details={"upload_id": upload_id})
    return _record(values)


def _transition(
    ctx: AppContext, record: UploadRecord, status: str, changes: dict[str, Any]
) -> UploadRecord:
    """pending -> ready/rejected, once (a concurrent check may have done it first)."""
    from botocore.exceptions import ClientError  # lazily: keeps the Lambda's import light

    names = {"#status": "status"}
    values = {":pending": {"S": "pending"}, ":status": {"S": status}}
    sets = ["#status = :status"]
    for i, (name, value) in enumerate(changes.items()):
        names[f"#c{i}"] = name
        values[f":c{i}"] = to_attr(value)
        sets.append(f"#c{i} = :c{i}")
    expression = "SET " + ", ".join(sets)
    if status == "ready":  # analyses refer to it from now on: it no longer expires
        names["#ttl"] = "expires_at"
        expression += " REMOVE #ttl"
    try:
        response = ctx.aws.dynamodb.update_item(
            TableName=ctx.settings.table,
            Key=_keys(record.project_id, record.upload_id),
            UpdateExpression=expression,
            ConditionExpression="#status = :pending",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return get(ctx, record.project_id, record.upload_id)
        raise
    return _record(from_item(response["Attributes"]))


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
    from botocore.exceptions import ClientError

    s3, bucket = ctx.aws.s3, ctx.settings.bucket
    try:
        head = s3.head_object(Bucket=bucket, Key=record.key)
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
            raise UploadIncompleteError(
                "the archive has not been uploaded yet: POST it to the presigned URL first",
                details={"upload_id": record.upload_id},
            ) from None
        raise
    size = int(head.get("ContentLength", 0))
    limit = ctx.settings.max_upload_bytes
    if size > limit or size == 0:
        # Never keep what the rules refuse: delete first, then record why.
        s3.delete_object(Bucket=bucket, Key=record.key)
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

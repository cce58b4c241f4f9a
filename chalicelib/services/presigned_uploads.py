"""What code uploads and uploaded Terraform bundles share: a client posts an object
straight to S3 with a presigned POST, then the API checks it and settles its item once.

- ``presigned_post``: pins the key, the content type and ``content-length-range``
  1..``AUTOSTACK_MAX_UPLOAD_BYTES``; expires in 15 minutes.
- ``uploaded_size``: HEAD of the object (S3 enforces the POST's conditions, the local
  emulator does not, so the size is checked again); a missing object is 409.
- the ``pending`` item (TTL one day) and its one-time move to ``ready`` (TTL removed) or
  ``rejected``: ``chalicelib.store.uploads`` (``PendingItemStore``).
"""

from __future__ import annotations

from typing import Any

from chalicelib.context import AppContext
from chalicelib.errors import AutoStackError, ConflictError
from chalicelib.models.uploads import PresignedPost
from chalicelib.services.users import iso

PRESIGN_EXPIRY_S = 15 * 60
PENDING_TTL_S = 24 * 3600
CONTENT_TYPES = {"zip": "application/zip", "tar.gz": "application/gzip"}
_MISSING_CODES = ("404", "NoSuchKey", "NotFound")


class UploadRejectedError(AutoStackError):
    """The uploaded object broke a rule (size); it was deleted. Details: the reason."""

    status = 422
    code = "upload_rejected"


class UploadIncompleteError(ConflictError):
    code = "upload_incomplete"


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


def uploaded_size(ctx: AppContext, key: str, *, missing: str, details: dict[str, Any]) -> int:
    """The uploaded object's size in bytes; ``UploadIncompleteError(missing)`` when absent."""
    from botocore.exceptions import ClientError  # lazily: keeps the Lambda's import light

    try:
        head = ctx.aws.s3.head_object(Bucket=ctx.settings.bucket, Key=key)
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in _MISSING_CODES:
            raise UploadIncompleteError(missing, details=details) from None
        raise
    return int(head.get("ContentLength", 0))

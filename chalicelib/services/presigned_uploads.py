"""What code uploads and uploaded Terraform bundles share: a client posts an object
straight to S3 with a presigned POST, then the API checks it and settles its item once.

- ``presigned_post``: pins the key, the content type and ``content-length-range``
  1..``AUTOSTACK_MAX_UPLOAD_BYTES``; expires in 15 minutes.
- ``uploaded_size``: HEAD of the object (S3 enforces the POST's conditions, the local
  emulator does not, so the size is checked again); a missing object is 409.
- ``live_item`` / ``put_pending`` / ``settle_pending``: the ``pending`` item (TTL one day)
  and its one-time move to ``ready`` (TTL removed) or ``rejected``.
"""

from __future__ import annotations

from typing import Any

from chalicelib.context import AppContext
from chalicelib.errors import AutoStackError, ConflictError
from chalicelib.models.uploads import PresignedPost
from chalicelib.services.users import iso
from chalicelib.store.dynamodb import from_item, to_attr, to_item

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


def live_item(ctx: AppContext, key: dict[str, Any]) -> dict[str, Any] | None:
    """The item's values, or None when it is missing or past its ``expires_at``."""
    item = ctx.aws.dynamodb.get_item(
        TableName=ctx.settings.table, Key=key, ConsistentRead=True
    ).get("Item")
    values = from_item(item) if item else None
    expires_at = values.get("expires_at") if values else None
    if values is None or (expires_at is not None and expires_at < ctx.clock()):
        return None
    return values


def put_pending(ctx: AppContext, values: dict[str, Any]) -> None:
    """Write a new item (``pk``/``sk`` in ``values``; None values left out)."""
    ctx.aws.dynamodb.put_item(
        TableName=ctx.settings.table,
        Item=to_item({k: v for k, v in values.items() if v is not None}),
        ConditionExpression="attribute_not_exists(pk)",
    )


def settle_pending(
    ctx: AppContext, key: dict[str, Any], status: str, changes: dict[str, Any]
) -> dict[str, Any] | None:
    """pending -> ``status`` with ``changes``, once: the new values, or None when a
    concurrent check settled it first (the caller reads the item again).

    ``ready`` removes the TTL: analyses and deployments refer to the item from now on.
    """
    from botocore.exceptions import ClientError  # lazily: keeps the Lambda's import light

    names = {"#status": "status"}
    values: dict[str, Any] = {":pending": {"S": "pending"}, ":status": {"S": status}}
    sets = ["#status = :status"]
    for i, (name, value) in enumerate(changes.items()):
        names[f"#c{i}"] = name
        values[f":c{i}"] = to_attr(value)
        sets.append(f"#c{i} = :c{i}")
    expression = "SET " + ", ".join(sets)
    if status == "ready":
        names["#ttl"] = "expires_at"
        expression += " REMOVE #ttl"
    try:
        response = ctx.aws.dynamodb.update_item(
            TableName=ctx.settings.table,
            Key=key,
            UpdateExpression=expression,
            ConditionExpression="#status = :pending",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return None
        raise
    return from_item(response["Attributes"])

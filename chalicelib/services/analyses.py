"""Analyses: an ``analyze`` job over a verified upload, its cancel, and its S3 report."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.context import AppContext
from chalicelib.errors import ConflictError
from chalicelib.models.jobs import JobRecord
from chalicelib.services.jobs import for_context, get_job
from chalicelib.store.items import error_code

DEAD_LEASE_GRACE_S = 30  # a running job's lease this far past: its runner is gone


class JobFinishedError(ConflictError):
    """The job already ended (succeeded, failed or cancelled): nothing to cancel."""


def request_analysis(
    ctx: AppContext, project_id: str, upload_id: str, request_id: str | None
) -> JobRecord:
    """Verify the upload (size re-checked), then queue an ``analyze`` job for it."""
    from chalicelib.services import uploads

    upload = uploads.verify(ctx, project_id, upload_id)
    return for_context(ctx).submit(
        project_id=project_id,
        kind="analyze",
        payload={"upload_id": upload.upload_id, "key": upload.key},
        request_id=request_id,
    )


def cancel_analysis(ctx: AppContext, project_id: str, job_id: str) -> JobRecord:
    """Cancel a queued analysis now; ask a running one to stop (409 when already finished)."""
    record = get_job(ctx, project_id, job_id, kind="analyze")
    if record.is_terminal:
        raise JobFinishedError(
            f"the analysis is already {record.status};"
            " only a queued or running one can be cancelled",
            details={"job_id": job_id, "status": record.status},
        )
    service = for_context(ctx)
    service.cancel(
        project_id,
        job_id,
        queued_message="cancelled while queued; nothing ran",
        dead_message="cancelled after its runner stopped answering",
        dead_lease_grace_s=DEAD_LEASE_GRACE_S,
    )
    return service.get(project_id, job_id) or record


def read_report(ctx: AppContext, record: JobRecord) -> dict[str, Any] | None:
    """The stack profile of a succeeded analysis, from its S3 report."""
    key = record.result.get("report_key") if record.status == "succeeded" else None
    if not key:
        return None
    s3 = ctx.aws.s3
    try:
        body = s3.get_object(Bucket=ctx.settings.bucket, Key=key)["Body"].read()
    except Exception as exc:  # by code: ``s3.exceptions`` classes race across threads
        if error_code(exc) != "NoSuchKey":
            raise
        return None  # the report was removed (e.g. by a lifecycle rule): the summary remains
    return json.loads(body)

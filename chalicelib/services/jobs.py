"""Jobs on the API side: create (item, then message), read, list.

The job item is written first (``status = queued``) and the message sent after,
so a runner never receives a message for a job it cannot find. If sending
fails, the job is marked failed at once rather than left queued forever.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Literal

from chalicelib.context import AppContext
from chalicelib.errors import AutoStackError, ConflictError, NotFoundError
from chalicelib.models.jobs import JobMessage, JobRecord, job_pk, job_sk
from chalicelib.store.dynamodb import from_item, query_items, to_attr, to_item


class EnqueueError(AutoStackError):
    """The job item was written but its message could not be sent; the job is failed."""

    status = 503
    code = "queue_unavailable"


def new_job_id() -> str:
    return secrets.token_urlsafe(16)


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + f".{int(epoch % 1 * 1000):03d}Z"


CancelOutcome = Literal["cancelled_queued", "cancelled_dead", "requested", "unchanged"]


def _utc_iso(epoch: float) -> str:
    # The cancel timestamps keep the format the deployments' cancel always wrote.
    return (
        datetime.fromtimestamp(epoch, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    )


class JobService:
    def __init__(
        self,
        *,
        dynamodb: Any,
        sqs: Any,
        table: str,
        queue_url: str,
        clock: Any = time.time,
        on_enqueued: Callable[[], object] | None = None,
    ):
        self._ddb = dynamodb
        self._sqs = sqs
        self._table = table
        self._queue_url = queue_url
        self._clock = clock
        self._on_enqueued = on_enqueued  # e.g. wake the sleeping runner (runner_wake)

    def submit(
        self,
        *,
        project_id: str,
        kind: str,
        payload: dict[str, Any],
        request_id: str | None,
        job_id: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> JobRecord:
        """Write the queued job item, then send its message. Returns the job."""
        job_id = job_id or new_job_id()
        # Validates the kind and ids before anything is written.
        message = JobMessage.model_validate(
            {
                "job_id": job_id,
                "project_id": project_id,
                "kind": kind,
                "request_id": request_id,
                "payload": payload,
            }
        )
        now = self._clock()
        values: dict[str, Any] = {
            "pk": job_pk(project_id),
            "sk": job_sk(job_id),
            "job_id": job_id,
            "project_id": project_id,
            "kind": kind,
            "status": "queued",
            "payload": payload,
            "progress": 0,
            "attempts": 0,
            "created_at": _iso(now),
            "created_at_epoch": now,
            "updated_at": _iso(now),
            **(extra or {}),
        }
        if request_id:
            values["request_id"] = request_id
        self._ddb.put_item(
            TableName=self._table,
            Item=to_item(values),
            ConditionExpression="attribute_not_exists(pk)",
        )
        try:
            self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=message.to_body())
        except Exception as exc:
            self._ddb.update_item(
                TableName=self._table,
                Key={"pk": {"S": job_pk(project_id)}, "sk": {"S": job_sk(job_id)}},
                UpdateExpression="SET #status = :failed, #error = :error",
                ExpressionAttributeNames={"#status": "status", "#error": "error"},
                ExpressionAttributeValues={
                    ":failed": {"S": "failed"},
                    ":error": to_attr(
                        {"code": "enqueue_failed", "message": "the job could not be queued"}
                    ),
                },
            )
            raise EnqueueError(f"could not queue job {job_id}: {exc}") from exc
        if self._on_enqueued is not None:
            self._on_enqueued()
        return JobRecord.model_validate(values)

    def get(self, project_id: str, job_id: str) -> JobRecord | None:
        item = self._ddb.get_item(
            TableName=self._table,
            Key={"pk": {"S": job_pk(project_id)}, "sk": {"S": job_sk(job_id)}},
            ConsistentRead=True,
        ).get("Item")
        return JobRecord.model_validate(from_item(item)) if item else None

    def cancel(
        self,
        project_id: str,
        job_id: str,
        *,
        queued_message: str,
        dead_message: str,
        dead_lease_grace_s: float,
    ) -> CancelOutcome:
        """queued -> cancelled; running -> ``cancel_requested`` (the runner's heartbeat reads it).

        Conditional updates only, so a race with the runner leaves one consistent answer.
        A running job whose lease ran out (its runner died, and none took it over yet) is
        cancelled here: nothing would ever read its flag.
        """
        now = self._clock()
        if self._set_cancelled(
            project_id, job_id, "#status = :queued", {":queued": {"S": "queued"}}, queued_message
        ):
            return "cancelled_queued"
        if self._set_cancelled(
            project_id,
            job_id,
            "#status = :running AND (attribute_not_exists(lease_until) OR lease_until < :dead)",
            {":running": {"S": "running"}, ":dead": to_attr(now - dead_lease_grace_s)},
            dead_message,
        ):
            return "cancelled_dead"
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={"pk": {"S": job_pk(project_id)}, "sk": {"S": job_sk(job_id)}},
                UpdateExpression="SET cancel_requested = :true, updated_at = :at",
                ConditionExpression="#status = :running",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":true": {"BOOL": True},
                    ":running": {"S": "running"},
                    ":at": {"S": _utc_iso(now)},
                },
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return "unchanged"  # it finished meanwhile (or was handed back: a retry sees the flag)
        return "requested"

    def _set_cancelled(
        self, project_id: str, job_id: str, condition: str, values: dict[str, Any], message: str
    ) -> bool:
        now = self._clock()
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={"pk": {"S": job_pk(project_id)}, "sk": {"S": job_sk(job_id)}},
                UpdateExpression="SET #status = :cancelled, finished_at = :at,"
                " finished_at_epoch = :epoch, updated_at = :at, #error = :error,"
                " cancel_requested = :true REMOVE lease_until",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#status": "status", "#error": "error"},
                ExpressionAttributeValues={
                    ":cancelled": {"S": "cancelled"},
                    ":at": {"S": _utc_iso(now)},
                    ":epoch": to_attr(now),
                    ":true": {"BOOL": True},
                    ":error": to_attr({"code": "cancelled", "message": message}),
                    **values,
                },
            )
        except self._ddb.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def list(self, project_id: str, kind: str | None = None, limit: int = 50) -> list[JobRecord]:
        """The project's jobs, newest first (optionally of one kind)."""
        items = query_items(self._ddb, self._table, job_pk(project_id), sk_prefix="JOB#")
        jobs = [JobRecord.model_validate(item) for item in items]
        if kind is not None:
            jobs = [job for job in jobs if job.kind == kind]
        jobs.sort(key=lambda job: (job.created_at_epoch or 0, job.job_id), reverse=True)
        return jobs[:limit]


# --- analyses: the API's use cases over JobService -------------------------------------------

WAIT_POLL_S = 0.5


def for_context(ctx: AppContext) -> JobService:
    from chalicelib.services import runner_wake

    return JobService(
        dynamodb=ctx.aws.dynamodb,
        sqs=ctx.aws.sqs,
        table=ctx.settings.table,
        queue_url=ctx.settings.queue_url,
        clock=ctx.clock,
        on_enqueued=lambda: runner_wake.wake_for_job(ctx),
    )


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


def get_job(
    ctx: AppContext,
    project_id: str,
    job_id: str,
    *,
    kind: str | None = None,
    wait_s: int = 0,
    sleep: Callable[[float], None] = time.sleep,
) -> JobRecord:
    """The job (404 if missing or of another kind); with ``wait_s``, long-poll for a change.

    The long poll returns as soon as the status or progress differs from the
    first read, or the job is finished, or ``wait_s`` has passed.
    """
    service = for_context(ctx)
    if not job_id or len(job_id) > 64:
        raise NotFoundError("job not found", details={"job_id": job_id[:64]})
    first = service.get(project_id, job_id)
    if first is None or (kind is not None and first.kind != kind):
        raise NotFoundError("job not found", details={"job_id": job_id})
    if wait_s <= 0 or first.is_terminal:
        return _with_runner_note(ctx, first)
    deadline = time.monotonic() + wait_s
    current = first
    while time.monotonic() < deadline:
        sleep(min(WAIT_POLL_S, max(0.0, deadline - time.monotonic())))
        current = service.get(project_id, job_id) or current
        if (
            current.is_terminal
            or current.status != first.status
            or current.progress != first.progress
        ):
            break
    return _with_runner_note(ctx, current)


def _with_runner_note(ctx: AppContext, record: JobRecord) -> JobRecord:
    """A queued job while the runner sleeps: wake it, and say "runner starting"."""
    if record.status != "queued":
        return record
    from chalicelib.services import runner_wake

    note = runner_wake.job_view_note(ctx)
    return record.model_copy(update={"progress_message": note}) if note else record


class JobFinishedError(ConflictError):
    """The job already ended (succeeded, failed or cancelled): nothing to cancel."""


ANALYSIS_DEAD_LEASE_GRACE_S = 30  # a running job's lease this far past: its runner is gone


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
        dead_lease_grace_s=ANALYSIS_DEAD_LEASE_GRACE_S,
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
    except s3.exceptions.NoSuchKey:
        return None  # the report was removed (e.g. by a lifecycle rule): the summary remains
    return json.loads(body)

"""Jobs on the API side: submit (item, then message), read, list, cancel.

The job item is written first (``status = queued``) and the message sent after,
so a runner never receives a message for a job it cannot find. If sending
fails, the job is marked failed at once rather than left queued forever.
Persistence: ``chalicelib.store.jobs`` (the same library the runner writes with).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from chalicelib.context import AppContext
from chalicelib.errors import AutoStackError, NotFoundError
from chalicelib.models.jobs import JobMessage, JobRecord
from chalicelib.services.ids import new_job_id
from chalicelib.services.long_poll import long_poll
from chalicelib.store.codec import timestamp

if TYPE_CHECKING:  # the store loads on first use: ``import app`` stays small
    from chalicelib.store.jobs import JobStore

__all__ = ["CancelOutcome", "EnqueueError", "JobService", "for_context", "get_job", "new_job_id"]


class EnqueueError(AutoStackError):
    """The job item was written but its message could not be sent; the job is failed."""

    status = 503
    code = "queue_unavailable"


CancelOutcome = Literal["cancelled_queued", "cancelled_dead", "requested", "unchanged"]


class JobService:
    def __init__(
        self,
        *,
        dynamodb: Any = None,
        sqs: Any,
        table: str = "",
        queue_url: str,
        clock: Callable[[], float] = time.time,
        store: JobStore | None = None,
        on_enqueued: Callable[[], object] | None = None,
    ):
        if store is None:
            from chalicelib.store.jobs import DynamoJobStore

            store = DynamoJobStore(dynamodb, table)
        self._store = store
        self._sqs = sqs
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
            "job_id": job_id,
            "project_id": project_id,
            "kind": kind,
            "status": "queued",
            "payload": payload,
            "progress": 0,
            "attempts": 0,
            "created_at": timestamp(now),
            "created_at_epoch": now,
            "updated_at": timestamp(now),
            **(extra or {}),
        }
        if request_id:
            values["request_id"] = request_id
        record = self._store.create(values)
        try:
            self._sqs.send_message(QueueUrl=self._queue_url, MessageBody=message.to_body())
        except Exception as exc:
            self._store.fail_enqueue(project_id, job_id, self._clock())
            raise EnqueueError(f"could not queue job {job_id}: {exc}") from exc
        if self._on_enqueued is not None:
            self._on_enqueued()
        return record

    def get(self, project_id: str, job_id: str) -> JobRecord | None:
        return self._store.get(project_id, job_id)

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
        from chalicelib.store.jobs import is_queued, is_running, lease_expired

        now = self._clock()
        if self._store.cancel_if(project_id, job_id, is_queued(), now, queued_message):
            return "cancelled_queued"
        dead = is_running() & lease_expired(now - dead_lease_grace_s)
        if self._store.cancel_if(project_id, job_id, dead, now, dead_message):
            return "cancelled_dead"
        if self._store.request_cancel(project_id, job_id, now):
            return "requested"
        return "unchanged"  # it finished meanwhile (or was handed back: a retry sees the flag)

    def list(self, project_id: str, kind: str | None = None, limit: int = 50) -> list[JobRecord]:
        """The project's jobs, newest first (optionally of one kind)."""
        jobs = self._store.list_project(project_id)
        if kind is not None:
            jobs = [job for job in jobs if job.kind == kind]
        jobs.sort(key=lambda job: (job.created_at_epoch or 0, job.job_id), reverse=True)
        return jobs[:limit]


def for_context(ctx: AppContext) -> JobService:
    from chalicelib.services import runner_wake

    return JobService(
        sqs=ctx.aws.sqs,
        queue_url=ctx.settings.queue_url,
        clock=ctx.clock,
        store=ctx.stores.jobs,
        on_enqueued=lambda: runner_wake.wake_for_job(ctx),
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
    """The job (404 if missing or of another kind); with ``wait_s``, long-poll for a change:
    a finished job, or a status or progress that differs from the first read."""
    if not job_id or len(job_id) > 64:
        raise NotFoundError("job not found", details={"job_id": job_id[:64]})
    store = ctx.stores.jobs
    first = store.get(project_id, job_id)
    if first is None or (kind is not None and first.kind != kind):
        raise NotFoundError("job not found", details={"job_id": job_id})
    current = long_poll(
        lambda: store.get(project_id, job_id) or first,
        first=first,
        settled=lambda job: job.is_terminal,
        changed=lambda a, b: (a.status, a.progress) != (b.status, b.progress),
        wait_s=wait_s,
        sleep=sleep,
        poll_s=ctx.settings.long_poll_s,
    )
    return _with_runner_note(ctx, current)


def _with_runner_note(ctx: AppContext, record: JobRecord) -> JobRecord:
    """A queued job while the runner sleeps: wake it, and say "runner starting"."""
    if record.status != "queued":
        return record
    from chalicelib.services import runner_wake

    note = runner_wake.job_view_note(ctx)
    return record.model_copy(update={"progress_message": note}) if note else record

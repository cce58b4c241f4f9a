"""Jobs: the queue message contract and the job record, shared by the API and the runner.

The API writes the job item (``status = queued``) and then sends a ``JobMessage``;
the runner claims the item, runs it and writes the outcome back. Bump
``JOB_MESSAGE_SCHEMA_VERSION`` on any change an older runner could misread; a
runner refuses (dead-letters) a message with a version it does not know.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

JOB_MESSAGE_SCHEMA_VERSION: Literal[1] = 1

JobKind = Literal["analyze", "plan", "apply", "destroy", "snapshot", "release"]
JOB_KINDS: tuple[str, ...] = ("analyze", "plan", "apply", "destroy", "snapshot", "release")
JobStatus = Literal["queued", "running", "planned", "succeeded", "failed", "cancelled"]
# A job in one of these states is done: a redelivered message for it is deleted unanswered.
TERMINAL_STATUSES = frozenset({"planned", "succeeded", "failed", "cancelled"})

# System jobs (the daily runner snapshot) are not a user's project; they live under this id.
SYSTEM_PROJECT_ID = "system"

_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"


class InvalidJobMessageError(ValueError):
    """A queue message body that is not a valid ``JobMessage`` (a poison message)."""

    def __init__(self, reason: str, job_id: str | None = None, project_id: str | None = None):
        super().__init__(reason)
        self.reason = reason
        # Best-effort identity of the job, so that the runner can fail it with the reason.
        self.job_id = job_id
        self.project_id = project_id


class JobMessage(BaseModel):
    """The body of a message on the jobs queue."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    schema_version: Literal[1] = JOB_MESSAGE_SCHEMA_VERSION
    job_id: str = Field(pattern=_ID_PATTERN)
    project_id: str = Field(pattern=_ID_PATTERN)
    kind: JobKind
    request_id: str | None = Field(default=None, max_length=200)
    payload: dict[str, Any] = Field(default_factory=dict)

    def to_body(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_body(cls, body: str) -> JobMessage:
        """Parse a message body; raise ``InvalidJobMessageError`` naming what is wrong."""
        try:
            raw = json.loads(body)
        except (TypeError, ValueError, RecursionError) as exc:
            raise InvalidJobMessageError(f"message body is not JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise InvalidJobMessageError("message body is not a JSON object")
        job_id = raw.get("job_id") if isinstance(raw.get("job_id"), str) else None
        project_id = raw.get("project_id") if isinstance(raw.get("project_id"), str) else None
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'body'}: {err['msg']}"
                for err in exc.errors()
            )
            raise InvalidJobMessageError(
                f"invalid job message: {problems}", job_id=job_id, project_id=project_id
            ) from None


def job_pk(project_id: str) -> str:
    from chalicelib.keys import project_pk

    return project_pk(project_id)


def job_sk(job_id: str) -> str:
    from chalicelib import keys

    return keys.job_sk(job_id)


class JobError(BaseModel):
    """Why a job failed: a stable code and a sentence for people."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    code: str
    message: str


class AppSummary(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    path: str
    name: str
    language: str
    framework: str | None = None
    port: int | None = None


class AnalysisSummary(BaseModel):
    """What an analyze job stores on the job item; the full profile is the S3 report."""

    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    primary_language: str | None = None
    apps: list[AppSummary] = Field(default_factory=list)
    services: list[str] = Field(default_factory=list)


class JobRecord(BaseModel):
    """The job item (pk ``PROJECT#<project_id>``, sk ``JOB#<job_id>``) as both sides read it."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    job_id: str
    project_id: str
    kind: JobKind
    status: JobStatus
    request_id: str | None = None
    payload: dict[str, Any] = Field(default_factory=dict)
    progress: int = Field(default=0, ge=0, le=100)
    progress_message: str | None = None
    attempts: int = 0
    runner_id: str | None = None
    lease_until: float | None = None
    created_at: str | None = None  # ISO 8601 UTC
    created_at_epoch: float | None = None
    started_at: str | None = None  # first claim
    started_at_epoch: float | None = None
    finished_at: str | None = None
    finished_at_epoch: float | None = None
    updated_at: str | None = None
    error: JobError | None = None
    last_error: JobError | None = None  # of the latest attempt that will be retried
    result: dict[str, Any] = Field(default_factory=dict)  # pointers, e.g. report_key
    summary: dict[str, Any] | None = None
    cancel_requested: bool = False
    # Terraform jobs (written by the runner, runner.jobs.terraform_jobs): the deployment
    # phase the job is in (planning, planned, applying, applied), a finer error code for
    # the API (plan_stale) and the resources the stack's state held when the job ended.
    phase: str | None = None
    error_code: str | None = None
    resources: list[str] | None = None
    # Shipping (runner.shipping): one {phase, started_at_epoch, duration_s} per release phase.
    phase_timings: list[Any] | None = None  # read leniently: never makes a job unreadable

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    def timings(self) -> dict[str, float | None]:
        """Seconds spent waiting in the queue and running (None when not known yet)."""
        queued = None
        running = None
        if self.created_at_epoch is not None and self.started_at_epoch is not None:
            queued = round(self.started_at_epoch - self.created_at_epoch, 3)
        if self.started_at_epoch is not None and self.finished_at_epoch is not None:
            running = round(self.finished_at_epoch - self.started_at_epoch, 3)
        return {"queued_s": queued, "running_s": running}

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> JobRecord:
        """Build from a deserialized DynamoDB item (Decimals allowed)."""
        return cls.model_validate(_plain(item))


def _plain(value: Any) -> Any:
    """Decimals from DynamoDB -> int/float, recursively."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    return value

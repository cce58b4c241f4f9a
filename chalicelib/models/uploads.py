"""Request and response models of uploads and analyses (the API's side of issue 4)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from chalicelib.models.api import RequestModel, ResponseModel
from chalicelib.models.jobs import JobError, JobRecord

ArchiveFormat = Literal["zip", "tar.gz"]
UploadStatus = Literal["pending", "ready", "rejected"]


class UploadCreate(RequestModel):
    format: ArchiveFormat = "zip"


class PresignedPost(ResponseModel):
    """POST ``url`` as multipart/form-data with every field of ``fields``, then ``file`` last."""

    url: str
    fields: dict[str, str]
    expires_at: str
    max_bytes: int
    content_type: str


class UploadOut(ResponseModel):
    id: str
    project_id: str
    key: str
    format: ArchiveFormat
    status: UploadStatus
    size: int | None = None
    created_at: str
    error: JobError | None = None
    upload: PresignedPost | None = None  # only in the answer that creates it


class AnalysisCreate(RequestModel):
    upload_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


class Timings(ResponseModel):
    queued_s: float | None = None
    running_s: float | None = None


class JobOut(ResponseModel):
    id: str
    project_id: str
    kind: str
    status: str
    progress: int
    progress_message: str | None = None
    attempts: int
    request_id: str | None = None
    created_at: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    timings: Timings
    error: JobError | None = None
    upload_id: str | None = None
    summary: dict[str, Any] | None = None
    profile: dict[str, Any] | None = None  # the full stack profile, once succeeded

    @classmethod
    def from_record(cls, record: JobRecord, profile: dict[str, Any] | None = None) -> JobOut:
        return cls(
            id=record.job_id,
            project_id=record.project_id,
            kind=record.kind,
            status=record.status,
            progress=record.progress,
            progress_message=record.progress_message,
            attempts=record.attempts,
            request_id=record.request_id,
            created_at=record.created_at,
            started_at=record.started_at,
            finished_at=record.finished_at,
            timings=Timings(**record.timings()),
            error=record.error,
            upload_id=record.payload.get("upload_id"),
            summary=record.summary,
            profile=profile,
        )


class JobList(ResponseModel):
    jobs: list[JobOut]

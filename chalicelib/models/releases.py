"""The releases API's contracts (``GET /projects/{id}/releases``, rollback)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chalicelib.models.api import ResponseModel


class ReleaseOut(ResponseModel):
    id: str
    stack: str
    status: str  # building... live, failed, cancelled, superseded, rolled_back
    image_tag: str
    source_upload_id: str
    bundle_id: str
    app: str | None = None
    deployment_id: str | None = None
    job_id: str | None = None
    created_at_epoch: float
    finished_at_epoch: float | None = None
    created_by: str
    url: str | None = None
    failed_phase: str | None = None
    error: str | None = None
    rollback_of: str | None = None
    phases: list[dict[str, Any]] = Field(default_factory=list)


class ReleaseList(ResponseModel):
    releases: list[ReleaseOut]  # newest first


class RollbackOut(ResponseModel):
    """The queued ``release`` job that puts an earlier release's source back."""

    job_id: str
    rollback_of: str
    stack: str
    status: str = "queued"

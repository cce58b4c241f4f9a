"""The releases API's contracts (``GET /projects/{id}/releases``, rollback)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chalicelib.models.api import RequestModel, ResponseModel

_ID = r"^[A-Za-z0-9_-]{1,64}$"


class ReleaseOut(ResponseModel):
    id: str
    stack: str
    status: str  # building... live, failed, cancelled, superseded, rolled_back, retired
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


class ReleaseCreate(RequestModel):
    """``POST /projects/{id}/releases``: ship new source onto a live stack (its infrastructure
    and app plan stay; only build, release, roll-out and verify run)."""

    upload_id: str = Field(pattern=_ID)
    stack: str | None = Field(default=None, pattern=_ID)  # None: the project's one live stack


class ReleaseQueued(ResponseModel):
    """The queued ``release`` job of new source."""

    job_id: str
    stack: str
    upload_id: str
    bundle_id: str
    status: str = "queued"

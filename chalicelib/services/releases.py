"""Releases: list a project's shipped releases, roll back to an earlier one.

A rollback queues a ``release`` job (``runner.jobs.release``) for the earlier
release's bundle and source upload. On the local stage that rebuilds and restarts it;
the AWS executors (not written yet) will re-point to the earlier image instead.
"""

from __future__ import annotations

from typing import Any

from chalicelib.context import AppContext
from chalicelib.errors import ConflictError, NotFoundError
from chalicelib.models.releases import ReleaseList, ReleaseOut, RollbackOut

IN_FLIGHT = frozenset({"building", "releasing", "verifying"})
WENT_LIVE = frozenset({"live", "superseded", "rolled_back"})
_MAX_ID_LEN = 64


class ReleaseNotFoundError(NotFoundError):
    code = "release_not_found"


class ReleaseBusyError(ConflictError):
    code = "release_in_progress"


class ReleaseNotRollbackableError(ConflictError):
    code = "release_not_rollbackable"


def to_out(item: dict[str, Any]) -> ReleaseOut:
    return ReleaseOut(
        id=item["release_id"],
        stack=item.get("stack", "main"),
        status=item.get("status", "failed"),
        image_tag=item.get("image_tag", ""),
        source_upload_id=item.get("source_upload_id", ""),
        bundle_id=item.get("bundle_id", ""),
        app=item.get("app"),
        deployment_id=item.get("deployment_id"),
        job_id=item.get("job_id"),
        created_at_epoch=float(item.get("created_at_epoch") or 0),
        finished_at_epoch=item.get("finished_at_epoch"),
        created_by=item.get("created_by", "unknown"),
        url=item.get("url"),
        failed_phase=item.get("failed_phase"),
        error=item.get("error"),
        rollback_of=item.get("rollback_of"),
        phases=list(item.get("phase_timings") or []),
    )


def _job_active(ctx: AppContext, project_id: str, job_id: Any) -> bool:
    """Whether a release's job may still be working (a runner that died mid-release
    leaves its record in flight: its finished or missing job does not block)."""
    if not isinstance(job_id, str) or not job_id:
        return True  # cannot tell: be safe
    job = ctx.stores.jobs.get(project_id, job_id)
    return job is not None and not job.is_terminal


def _active_deployment(ctx: AppContext, project_id: str, stack: str) -> str | None:
    """The stack's current deployment if it is queued or running (two never interleave)."""
    from chalicelib.models.deployments import ACTIVE_DEPLOYMENT_STATUSES
    from chalicelib.services import deployments

    current = ctx.stores.deployments.stack_current(project_id, stack)
    if not current:
        return None
    try:
        status = deployments.service(ctx).get(project_id, current).status
    except NotFoundError:
        return None
    return current if status == "queued" or status in ACTIVE_DEPLOYMENT_STATUSES else None


def list_for_project(ctx: AppContext, project_id: str) -> ReleaseList:
    """Newest first (the project's ownership is the route's to check)."""
    return ReleaseList(releases=[to_out(i) for i in ctx.stores.releases.list_project(project_id)])


def rollback(
    ctx: AppContext, project_id: str, release_id: str, user_id: str, request_id: str | None
) -> RollbackOut:
    """Queue a release of ``release_id``'s source; 404 unknown, 409 busy or never live."""
    target = (
        ctx.stores.releases.get(project_id, release_id)
        if release_id and len(release_id) <= _MAX_ID_LEN
        else None
    )
    if not target:
        raise ReleaseNotFoundError(
            f"release {release_id[:_MAX_ID_LEN]!r} not found",
            details={"release_id": release_id[:_MAX_ID_LEN]},
        )
    stack = str(target.get("stack", "main"))
    if target.get("status") not in WENT_LIVE:
        raise ReleaseNotRollbackableError(
            f"release {release_id} never went live ({target.get('status')}): nothing to go back to",
            details={"release_id": release_id, "status": target.get("status")},
        )
    busy = [
        r["release_id"]
        for r in ctx.stores.releases.list_project(project_id, stack)
        if r.get("status") in IN_FLIGHT and _job_active(ctx, project_id, r.get("job_id"))
    ]
    deploying = _active_deployment(ctx, project_id, stack)
    if deploying:
        raise ReleaseBusyError(
            f"deployment {deploying} of stack {stack!r} is in progress: wait for it first",
            details={"stack": stack, "deployment_id": deploying},
        )
    if busy:
        raise ReleaseBusyError(
            f"release {busy[0]} of stack {stack!r} is still in progress",
            details={"stack": stack, "release_id": busy[0]},
        )
    from chalicelib.services import jobs

    job = jobs.for_context(ctx).submit(
        project_id=project_id,
        kind="release",
        payload={
            "stack": stack,
            "bundle_id": target["bundle_id"],
            "upload_id": target["source_upload_id"],
            "created_by": user_id,
            "rollback_of": release_id,
        },
        request_id=request_id,
    )
    return RollbackOut(job_id=job.job_id, rollback_of=release_id, stack=stack)

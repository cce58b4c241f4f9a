"""Releases: list a project's shipped releases, roll back to an earlier one, ship new source.

A rollback queues a ``release`` job (``runner.jobs.release``) for the earlier
release's bundle and source upload; a redeploy queues one for a new source upload on
the stack's live bundle (the infrastructure is reused: only build, release and verify
run). On the local stage that rebuilds and restarts the app.
"""

from __future__ import annotations

from typing import Any

from chalicelib.context import AppContext
from chalicelib.errors import ConflictError, NotFoundError, RequestValidationError
from chalicelib.models.releases import ReleaseList, ReleaseOut, ReleaseQueued, RollbackOut

IN_FLIGHT = frozenset({"building", "releasing", "verifying"})
WENT_LIVE = frozenset({"live", "superseded", "rolled_back", "retired"})
_MAX_ID_LEN = 64


class ReleaseNotFoundError(NotFoundError):
    code = "release_not_found"


class ReleaseBusyError(ConflictError):
    code = "release_in_progress"


class ReleaseNotRollbackableError(ConflictError):
    code = "release_not_rollbackable"


class NothingLiveError(ConflictError):
    code = "nothing_live"


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
    stack_releases = ctx.stores.releases.list_project(project_id, stack)
    if not any(r.get("status") == "live" for r in stack_releases):
        raise NothingLiveError(
            f"nothing is live on stack {stack!r} (destroyed?): deploy it again first",
            details={"stack": stack},
        )
    job_id = _queue_release(
        ctx,
        project_id,
        {
            "stack": stack,
            "bundle_id": target["bundle_id"],
            "upload_id": target["source_upload_id"],
            "created_by": user_id,
            "rollback_of": release_id,
        },
        request_id,
    )
    return RollbackOut(job_id=job_id, rollback_of=release_id, stack=stack)


def redeploy(
    ctx: AppContext,
    project_id: str,
    upload_id: str,
    stack: str | None,
    user_id: str,
    request_id: str | None,
) -> ReleaseQueued:
    """Queue a release of a new source upload on a live stack: 404 unknown upload, 409 when
    nothing is live (or the stack is busy), 422 when several stacks are live and none named."""
    from chalicelib.services import uploads

    upload = uploads.verify(ctx, project_id, upload_id)  # 409 not uploaded, 422 rejected
    live: dict[str, dict[str, Any]] = {}
    for item in ctx.stores.releases.list_project(project_id):  # newest first
        if item.get("status") == "live":
            live.setdefault(str(item.get("stack", "main")), item)
    if stack is None and len(live) > 1:
        names = ", ".join(sorted(live))
        raise RequestValidationError(
            f"stack: {len(live)} stacks are live ({names}); name one",
            details=[{"field": "stack", "message": f"one of {names}", "type": "missing"}],
        )
    chosen = stack if stack is not None else next(iter(live), None)
    current = live.get(chosen) if chosen is not None else None
    if current is None or chosen is None:
        where = f"stack {chosen!r}" if chosen else "this project"
        raise NothingLiveError(
            f"nothing is live on {where}: deploy a generated bundle first",
            details={"stack": chosen},
        )
    job_id = _queue_release(
        ctx,
        project_id,
        {
            "stack": chosen,
            "bundle_id": current["bundle_id"],
            "upload_id": upload.upload_id,
            "created_by": user_id,
        },
        request_id,
    )
    return ReleaseQueued(
        job_id=job_id, stack=chosen, upload_id=upload.upload_id, bundle_id=current["bundle_id"]
    )


def _queue_release(
    ctx: AppContext, project_id: str, payload: dict[str, Any], request_id: str | None
) -> str:
    """Queue a ``release`` job once the stack is idle (two deploys of a stack never
    interleave: 409 while a deployment or another release of it is in flight)."""
    stack = str(payload["stack"])
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
        project_id=project_id, kind="release", payload=payload, request_id=request_id
    )
    return str(job.job_id)

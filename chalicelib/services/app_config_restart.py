"""A config change restarts the app through the release path: a ``release`` job of the
live release's bundle and source, which reads the config when it runs.

Changes in quick succession restart once: while the stack's pending restart
(``store.pending_restarts``) names a job that has not started, a change joins it rather
than queueing another. The claim is conditional, so two changes at once queue one job.
A stack busy with a deployment or a running release refuses a restart (409) before
anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.context import AppContext
from chalicelib.services.app_config_ssm import LiveTarget

# A claim whose job item is not there yet: the request that claimed it is queueing it.
CLAIM_GRACE_S = 30.0
_CLAIM_ATTEMPTS = 3


@dataclass(frozen=True)
class QueuedRestart:
    job_id: str
    joined: bool
    """True: an earlier change's restart had not started; this change rides on it."""


def refuse_if_busy(ctx: AppContext, target: LiveTarget) -> None:
    """A restart waits for the stack's deployment or release in flight (checked before
    anything is written, so a refused change leaves the config as it was)."""
    from chalicelib.services import releases

    deploying = releases._active_deployment(ctx, target.project_id, target.stack)
    if deploying:
        raise releases.ReleaseBusyError(
            f"deployment {deploying} of stack {target.stack!r} is in progress: wait for it,"
            " or pass ?restart=false",
            details={"stack": target.stack, "deployment_id": deploying},
        )
    for release in ctx.stores.releases.list_project(target.project_id, target.stack):
        if release.get("status") in releases.IN_FLIGHT and releases._job_active(
            ctx, target.project_id, release.get("job_id")
        ):
            raise releases.ReleaseBusyError(
                f"release {release['release_id']} of stack {target.stack!r} is still in"
                " progress: wait for it, or pass ?restart=false",
                details={"stack": target.stack, "release_id": release["release_id"]},
            )


def _not_started(ctx: AppContext, target: LiveTarget, pending: dict[str, object]) -> bool:
    job = ctx.stores.jobs.get(target.project_id, str(pending.get("job_id")))
    if job is None:
        claimed = pending.get("claimed_at_epoch")
        age = ctx.clock() - float(claimed) if isinstance(claimed, (int, float)) else 1e9
        return age < CLAIM_GRACE_S
    return job.status == "queued"


def queue_restart(
    ctx: AppContext, target: LiveTarget, user_id: str, request_id: str | None
) -> QueuedRestart:
    """The release job that restarts the app with the new config: a new one, or the
    stack's restart queued by an earlier change that has not started."""
    from chalicelib.services import jobs

    store = ctx.stores.pending_restarts
    pending = None
    for _ in range(_CLAIM_ATTEMPTS):
        pending = store.get(target.project_id, target.stack)
        if pending is not None and _not_started(ctx, target, pending):
            return QueuedRestart(job_id=str(pending["job_id"]), joined=True)
        job_id = jobs.new_job_id()
        seen = str(pending["job_id"]) if pending is not None else None
        if store.claim(target.project_id, target.stack, job_id, ctx.clock(), replacing=seen):
            live = target.release
            jobs.for_context(ctx).submit(
                project_id=target.project_id,
                kind="release",
                payload={
                    "stack": target.stack,
                    "bundle_id": live["bundle_id"],
                    "upload_id": live["source_upload_id"],
                    "created_by": user_id,
                },
                request_id=request_id,
                job_id=job_id,
            )
            return QueuedRestart(job_id=job_id, joined=False)
    # Other changes kept claiming first: the latest one's restart is the one to join.
    latest = store.get(target.project_id, target.stack) or pending or {}
    return QueuedRestart(job_id=str(latest.get("job_id")), joined=True)

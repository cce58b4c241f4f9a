"""After a stack's destroy: its app stops serving and its live release is ``retired``.

In AWS the destroy itself removed what served the app; the local runtime's process must
be stopped by hand (an executor's optional ``retire``). The releases stay listed (the
history), but none of them is ``live``: a redeploy or rollback then needs a new deploy.
"""

from __future__ import annotations

from runner.jobs.context import JobContext


def retire_stack(ctx: JobContext, stack: str) -> int:
    """Stop the stack's app and retire its live releases; how many were retired."""
    from runner.jobs.release import shipping_for

    services = shipping_for(ctx)
    if services is None:
        return 0
    project_id = ctx.message.project_id
    retire = getattr(services.executor, "retire", None)
    if callable(retire):
        retire(project_id, stack, ctx.log.write)
    retired = 0
    for release in services.releases.list_project(project_id, stack):
        if release.get("status") == "live":
            services.releases.set_status(
                project_id, release["release_id"], "retired", finished_at_epoch=ctx.clock()
            )
            retired += 1
    return retired

"""The ``snapshot`` job: back up runner.db to S3, then apply the retention rule."""

from __future__ import annotations

from runner.backup import apply_retention, take_snapshot
from runner.jobs.context import JobContext, JobResult


def handle(ctx: JobContext) -> JobResult:
    ctx.progress(10, "backing up runner.db")
    snap = take_snapshot(
        ctx.ledger,
        ctx.clients.s3,
        ctx.settings.bucket,
        work_dir=ctx.settings.work_dir,
        clock=ctx.clock,
    )
    ctx.log.write(f"snapshot {snap.key} ({snap.size_bytes} bytes, sha256 {snap.sha256})")
    ctx.progress(80, "applying retention")
    deleted = apply_retention(ctx.clients.s3, ctx.settings.bucket, ctx.ledger, ctx.clock)
    for key in deleted:
        ctx.log.write(f"retention: deleted {key}")
    return JobResult(
        result={"snapshot_key": snap.key, "sha256": snap.sha256, "deleted": len(deleted)}
    )

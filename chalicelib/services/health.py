"""/health: can the API reach its table, bucket and queue, and is a runner alive?

The runner check reads the ``RUNNERS`` partition (one heartbeat item per
runner). No heartbeat at all reports "no runner seen"; a missing or stale runner
only makes /health fail (503) when ``AUTOSTACK_RUNNER_REQUIRED`` is true, so the
API can be deployed and checked before any runner exists.

A runner that sleeps (its instance stopped after an idle period, see
services/runner_wake.py) sends no heartbeat: when the heartbeat is missing or stale
and the instance is stopped, pending, or running but woken with no heartbeat since
(the boot), /health says so (``state`` "asleep" / "starting", "the runner is starting
(about N s)") and does not fail. /health never starts the instance (it is public).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from chalicelib.context import AppContext
from chalicelib.models.api import HealthCheck, HealthOut, RunnerStatus


def _check(probe: Callable[[], object]) -> HealthCheck:
    try:
        probe()
    except Exception as exc:
        # Only the error's type: /health is public and must not leak details.
        return HealthCheck(ok=False, detail=type(exc).__name__)
    return HealthCheck(ok=True)


def runner_status(ctx: AppContext) -> tuple[RunnerStatus, bool]:
    """The runner's status and whether it is acceptable."""
    required = ctx.settings.runner_required
    try:
        beats = ctx.stores.runners.heartbeats()
    except Exception as exc:
        status = RunnerStatus(
            seen=False, detail=f"unreadable: {type(exc).__name__}", required=required
        )
        return status, not required
    age = max(0.0, ctx.clock() - max(b.at for b in beats)) if beats else None
    fresh = age is not None and age <= ctx.settings.runner_stale_after_s
    if not fresh:
        sleeping = _sleeping(ctx, max((b.at for b in beats), default=None))
        if sleeping is not None:
            state, detail = sleeping
            status = RunnerStatus(
                seen=bool(beats),
                state=state,
                detail=detail,
                newest_heartbeat_age_s=round(age, 1) if age is not None else None,
                runners=len(beats),
                required=required,
            )
            return status, True
    if not beats or age is None:
        return RunnerStatus(seen=False, detail="no runner seen", required=required), not required
    status = RunnerStatus(
        seen=True,
        detail="alive" if fresh else f"stale: no heartbeat for {int(age)} s",
        newest_heartbeat_age_s=round(age, 1),
        runners=len(beats),
        required=required,
    )
    return status, fresh or not required


def _sleeping(
    ctx: AppContext, newest_beat_at: float | None
) -> tuple[Literal["starting", "asleep"], str] | None:
    """("starting", "the runner is starting (about N s)") while its instance is pending or
    was woken with no heartbeat since; ("asleep", ...) when it is stopped."""
    from chalicelib.services import runner_wake

    state = runner_wake.runner_state(ctx)
    if state in runner_wake.STARTING_STATES:
        return "starting", runner_wake.pending_message()
    if state in runner_wake.ASLEEP_STATES:
        return "asleep", "runner asleep: it starts when a job is queued"
    if state == runner_wake.AWAKE:
        starting = runner_wake.starting_status(ctx, newest_beat_at)
        if starting is not None:
            return "starting", starting
    return None


def check(ctx: AppContext) -> HealthOut:
    s = ctx.settings
    deadline_s = s.health_deadline_s
    probes: dict[str, Callable[[], object]] = {
        "table": ctx.stores.runners.ping,
        "bucket": lambda: ctx.aws.s3.head_bucket(Bucket=s.bucket),
        "queue": lambda: ctx.aws.sqs.get_queue_attributes(
            QueueUrl=s.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        ),
    }
    # Concurrently, and within a deadline: with a dependency that stops answering, /health
    # answers 503 after ``health_deadline_s`` (a healthy table, bucket and queue answer in
    # milliseconds; 5 s by default), not after a client's retries (aws.py) — nor after
    # the runner check's two reads in a row. A probe still running is left to its client
    # timeout (the answer does not wait for it).
    from concurrent.futures import Future, ThreadPoolExecutor, wait

    pool = ThreadPoolExecutor(max_workers=len(probes) + 1)
    try:
        futures = {name: pool.submit(_check, probe) for name, probe in probes.items()}
        runner_future = pool.submit(runner_status, ctx)
        pending: list[Future[Any]] = [*futures.values(), runner_future]
        wait(pending, timeout=deadline_s)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    late = HealthCheck(ok=False, detail=f"no answer within {deadline_s:g} s")
    checks = {name: f.result() if f.done() else late for name, f in futures.items()}
    if runner_future.done():
        runner, runner_ok = runner_future.result()
    else:
        runner = RunnerStatus(
            seen=False,
            detail=f"unreadable: no answer within {deadline_s:g} s",
            required=ctx.settings.runner_required,
        )
        runner_ok = not ctx.settings.runner_required
    healthy = all(c.ok for c in checks.values()) and runner_ok
    return HealthOut(status="ok" if healthy else "degraded", checks=checks, runner=runner)

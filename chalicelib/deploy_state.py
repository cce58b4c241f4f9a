"""A deployment's state, derived from its jobs (pure: no I/O; the API's one place for it).

The runner writes two explicit attributes on a Terraform job item: ``phase`` (the
deployment phase the job is in: ``planning``, ``planned``, ``applying``, ``applied``) and,
when Terraform refused in a way the API words differently, ``error_code`` (e.g.
``plan_stale``). Nothing here reads a progress message.

Plan job queued/running/planned = deployment ``queued``/``planning``/``planned``; an
auto-approved plan job in phase ``applying``/``applied`` = ``applying``; apply job queued
or running = ``applying``, succeeded = ``applied``.

Shipping (a generated bundle whose runner has a release executor): after the apply the
same job goes on in phases ``building`` -> ``releasing`` -> ``verifying`` and ends in
phase ``live``; a job that failed in one of those phases is a ``failed`` deployment whose
``failed_phase`` says where. Bundles without an app end at ``applied`` as before. Each
release phase's timing is the job's ``phase_timings`` attribute (``phase_timings()``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chalicelib.models.jobs import JobError, JobRecord

ENQUEUE_GRACE_S = 120  # a deployment whose job item never appeared is failed after this
APPLYING_PHASES = frozenset({"applying", "applied"})
RELEASE_PHASES = ("building", "releasing", "verifying")
LIVE_PHASE = "live"
# Every state of a deployment, in the order a successful generated deploy passes them.
SHIPPING_ORDER = (
    "queued", "planning", "planned", "applying", *RELEASE_PHASES, LIVE_PHASE,
)  # fmt: skip


@dataclass(frozen=True)
class Derived:
    status: str
    job: JobRecord | None  # the job the status comes from
    error: JobError | None = None
    failed_phase: str | None = None  # failed: the phase it failed in (release phases)


def derive_status(
    item: dict[str, Any], plan_job: JobRecord | None, apply_job: JobRecord | None, now: float
) -> Derived:
    """The deployment's state from its item and its jobs."""
    if plan_job is None:
        if now - float(item.get("created_at_epoch", now)) > ENQUEUE_GRACE_S:
            return Derived(
                "failed", None, JobError(code="enqueue_lost", message="the plan was never queued")
            )
        return Derived("queued", None)
    if plan_job.status == "queued":
        return Derived("queued", plan_job)
    shipped = _shipping(plan_job)
    if shipped is not None:  # auto-approved, applied and releasing in the plan job
        return shipped
    if plan_job.status == "running":
        return Derived("applying" if plan_job.phase in APPLYING_PHASES else "planning", plan_job)
    if plan_job.status == "planned":
        if item.get("apply_job_id"):
            if apply_job is None:
                if now - float(item.get("approved_at_epoch", now)) > ENQUEUE_GRACE_S:
                    return Derived(
                        "failed",
                        None,
                        JobError(code="enqueue_lost", message="the apply was never queued"),
                    )
                return Derived("applying", None)
            return _from_apply(apply_job)
        if item.get("cancelled_at"):
            return Derived(
                "cancelled",
                plan_job,
                JobError(code="cancelled", message="cancelled before approval; nothing applied"),
            )
        return Derived("planned", plan_job)
    if plan_job.status == "succeeded":
        return Derived("applied", plan_job)
    return Derived(plan_job.status, plan_job, plan_job.error)  # failed | cancelled


def _shipping(job: JobRecord) -> Derived | None:
    """The release phases of a job that applied and then shipped (None: not shipping)."""
    if job.phase in RELEASE_PHASES:
        if job.status == "running":
            return Derived(job.phase, job)
        if job.status in ("failed", "cancelled"):
            return Derived(job.status, job, job.error, failed_phase=job.phase)
    if job.phase == LIVE_PHASE and job.status == "succeeded":
        return Derived("live", job)
    return None


def phase_timings(job: JobRecord | None) -> list[dict[str, Any]]:
    """The release phases' timings written by the runner, in order (``[]`` when none)."""
    if job is None or not job.phase_timings:
        return []
    rank = {phase: i for i, phase in enumerate(SHIPPING_ORDER)}
    entries = [t for t in job.phase_timings if isinstance(t, dict) and t.get("phase") in rank]
    return sorted(entries, key=lambda t: rank[str(t["phase"])])


def _from_apply(job: JobRecord) -> Derived:
    shipped = _shipping(job)
    if shipped is not None:
        return shipped
    if job.status in ("queued", "running"):
        return Derived("applying", job)
    if job.status == "succeeded":
        return Derived("applied", job)
    error = job.error
    if error is not None and job.attempts > 1 and job.error_code == "plan_stale":
        # Its own interrupted first attempt changed the state (a runner died mid-apply).
        error = JobError(
            code="apply_interrupted",
            message="the apply was interrupted (its runner stopped) after changing part of the"
            " stack, so the saved plan no longer applies: deploy again to plan what is left."
            f" Terraform said: {error.message}",
        )
    return Derived(job.status if job.status != "planned" else "failed", job, error)


def touched_infrastructure(deployment: dict[str, Any], jobs: dict[str, dict[str, Any]]) -> bool:
    """Whether Terraform applied (or may have partly applied) this deployment."""
    plan = jobs.get(str(deployment.get("plan_job_id", "")))
    apply = jobs.get(str(deployment.get("apply_job_id", "")))
    if apply is not None:
        started = int(apply.get("attempts") or 0) > 0 or apply.get("started_at_epoch")
        return apply.get("status") == "succeeded" or bool(
            started and apply.get("status") in ("failed", "cancelled")
        )
    if plan is None:
        return False
    if plan.get("status") == "succeeded":  # no changes, or auto-approved and applied
        return True
    # An auto-approved plan job that failed while applying.
    return plan.get("status") in ("failed", "cancelled") and plan.get("phase") in APPLYING_PHASES


def live_stacks(deployments: list[dict[str, Any]], jobs: dict[str, dict[str, Any]]) -> list[str]:
    """Stacks whose newest applied deployment is a deploy (sorted)."""
    ordered = sorted(
        deployments, key=lambda d: (float(d.get("created_at_epoch") or 0), d.get("sk", ""))
    )
    live: dict[str, bool] = {}
    for deployment in ordered:
        stack = str(deployment.get("stack", "main"))
        if not touched_infrastructure(deployment, jobs):
            continue
        if deployment.get("action") == "destroy":
            # A destroy that failed half-way leaves the stack as live as it was.
            plan = jobs.get(str(deployment.get("plan_job_id", "")))
            apply = jobs.get(str(deployment.get("apply_job_id", "")))
            finished = (apply or plan or {}).get("status") == "succeeded"
            live[stack] = live.get(stack, False) and not finished
        else:
            live[stack] = True
    return sorted(stack for stack, is_live in live.items() if is_live)

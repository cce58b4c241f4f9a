"""Deployments: Terraform plan, approval, apply, destroy and cancel, on the API's side.

A deployment is one change to a *stack* (a Terraform state, ``keys.state_key``; ``main``
unless the user names another). Every deployment of a stack plans against the same
state, so a new deployment updates what an earlier one created, and a plan made before
a newer deployment of its stack is stale.

Items: ``chalicelib.store.deployments`` (the deployment, and the stack's newest
deployment, moved conditionally so two deployments of a stack never run at once).
State: ``chalicelib.deploy_state``, from the jobs' status and explicit ``phase``.
Answers: ``deployment_views``. Errors: ``deployment_errors``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib import observability
from chalicelib.context import AppContext
from chalicelib.deploy_state import Derived
from chalicelib.errors import NotFoundError
from chalicelib.models.deployments import (
    ACTIVE_DEPLOYMENT_STATUSES,
    TERMINAL_DEPLOYMENT_STATUSES,
    TerraformJobPayload,
)
from chalicelib.models.deployments_api import DeploymentCreate, DeploymentOut, LogOut
from chalicelib.models.jobs import JobRecord
from chalicelib.services import deployment_logs
from chalicelib.services import jobs as jobs_service
from chalicelib.services.deployment_bundles import find_bundle
from chalicelib.services.deployment_errors import (
    AlreadyApprovedError,
    DeploymentFinishedError,
    DeploymentInProgressError,
    NotPlannedError,
    PlanStaleError,
    PlanSupersededError,
)
from chalicelib.services.deployment_views import DeploymentViews, plan_created_at, progress_of
from chalicelib.services.ids import iso, new_id, new_job_id
from chalicelib.services.long_poll import long_poll
from chalicelib.store.records import ProjectRecord

DEAD_LEASE_GRACE_S = 30  # a running job's lease this far past: its runner is gone
# States in which the stack is busy: a new deployment of it must wait.
BUSY_STATUSES = frozenset({"queued"}) | ACTIVE_DEPLOYMENT_STATUSES


@dataclass(frozen=True)
class _Read:
    """One consistent reading of a deployment: its item, its jobs' items, its state."""

    item: dict[str, Any]
    plan: dict[str, Any] | None
    apply: dict[str, Any] | None
    derived: Derived


class DeploymentService:
    def __init__(self, ctx: AppContext, sleep: Callable[[float], None] = time.sleep) -> None:
        self.ctx = ctx
        self.store = ctx.stores.deployments
        self.job_items = ctx.stores.jobs
        self.jobs = jobs_service.for_context(ctx)
        self.views = DeploymentViews(ctx)
        self._sleep = sleep

    # -- reading ---------------------------------------------------------------------

    def _item(self, project_id: str, deployment_id: str) -> dict[str, Any]:
        if not deployment_id or len(deployment_id) > 64:
            raise NotFoundError(
                "deployment not found", details={"deployment_id": deployment_id[:64]}
            )
        item = self.store.get(project_id, deployment_id)
        if not item:
            raise NotFoundError("deployment not found", details={"deployment_id": deployment_id})
        return item

    def _read(self, project_id: str, deployment_id: str) -> _Read:
        item = self._item(project_id, deployment_id)
        plan = self.job_items.get_values(project_id, item.get("plan_job_id"))
        apply = self.job_items.get_values(project_id, item.get("apply_job_id"))
        return _Read(item, plan, apply, self.views.derive(item, plan, apply))

    def get(self, project_id: str, deployment_id: str, wait_s: int = 0) -> DeploymentOut:
        """The deployment; with ``wait_s``, long-poll until it settles (finished or planned) or
        its state or progress changes."""
        last = long_poll(
            lambda: self._read(project_id, deployment_id),
            settled=lambda r: (
                r.derived.status in TERMINAL_DEPLOYMENT_STATUSES or r.derived.status == "planned"
            ),
            changed=lambda a, b: (
                (a.derived.status, progress_of(a.derived))
                != (b.derived.status, progress_of(b.derived))
            ),
            wait_s=wait_s,
            sleep=self._sleep,
            poll_s=self.ctx.settings.long_poll_s,
        )
        return self.views.view(last.item, last.plan, last.apply, detail=True)

    def list_for_project(self, project_id: str, limit: int = 50) -> list[DeploymentOut]:
        items = self.store.list_project(project_id)
        jobs = {j.job_id: j.model_dump() for j in self.job_items.list_project(project_id)}
        items.sort(key=lambda v: (v.get("created_at_epoch", 0), v["deployment_id"]), reverse=True)
        return [
            self.views.view(
                item,
                jobs.get(item.get("plan_job_id", "")),
                jobs.get(item.get("apply_job_id", "")),
                detail=False,
            )
            for item in items[:limit]
        ]

    # -- creating --------------------------------------------------------------------

    def create(
        self,
        project: ProjectRecord,
        body: DeploymentCreate,
        request_id: str | None,
        *,
        action: str = "deploy",
    ) -> DeploymentOut:
        project_id = project.project_id
        bundle = find_bundle(self.ctx, project_id, body.bundle_id)
        previous = self.store.stack_current(project_id, body.stack)
        if previous:
            self._refuse_if_busy(project_id, previous)
        deployment_id = new_id()
        plan_job_id = new_job_id()
        now = self.ctx.clock()
        payload = TerraformJobPayload(
            stack=body.stack,
            bundle_id=body.bundle_id,
            role_arn=body.role_arn,
            external_id=project.external_id,
            region=body.region,
            auto_approve=body.auto_approve,
            terraform_root=bundle.terraform_root,
        )
        item: dict[str, Any] = {
            "deployment_id": deployment_id,
            "project_id": project_id,
            "stack": body.stack,
            "action": action,
            "bundle_id": body.bundle_id,
            "bundle_source": bundle.source,
            "role_arn": body.role_arn,
            "region": body.region,
            "auto_approve": body.auto_approve,
            "plan_job_id": plan_job_id,
            "created_at": iso(now),
            "created_at_epoch": now,
        }
        if bundle.terraform_root:
            item["terraform_root"] = bundle.terraform_root
        if bundle.monthly_usd is not None:
            item["monthly_usd"] = bundle.monthly_usd
            item["target"] = bundle.target
        if request_id:
            item["request_id"] = request_id
        from chalicelib.store.deployments import StackTakenError

        try:
            self.store.create(item, previous)
        except StackTakenError as exc:
            raise DeploymentInProgressError(
                f"another deployment of stack {body.stack!r} was just created: try again",
                details={"stack": body.stack, "reasons": str(exc)},
            ) from None
        plan_job = self.jobs.submit(
            project_id=project_id,
            kind="destroy" if action == "destroy" else "plan",
            payload=payload.model_dump(mode="json", exclude_none=True),
            request_id=request_id,
            job_id=plan_job_id,
            extra={"deployment_id": deployment_id},
        )
        observability.logger.info(
            "deployment queued",
            extra={
                "project_id": project_id,
                "deployment_id": deployment_id,
                "stack": body.stack,
                "action": action,
                "job_id": plan_job.job_id,
            },
        )
        return self.views.view(item, plan_job.model_dump(mode="json"), None, detail=False)

    def _refuse_if_busy(self, project_id: str, deployment_id: str) -> None:
        try:
            read = self._read(project_id, deployment_id)
        except NotFoundError:
            return
        status = read.derived.status
        if status in BUSY_STATUSES:
            raise DeploymentInProgressError(
                f"deployment {deployment_id} of stack {read.item['stack']!r} is {status}: wait"
                " for it or cancel it first",
                details={"deployment_id": deployment_id, "status": status},
            )

    def destroy(
        self, project: ProjectRecord, deployment_id: str, auto_approve: bool, request_id: str | None
    ) -> DeploymentOut:
        """Plan (and, once approved, apply) the destruction of the deployment's stack."""
        item = self._item(project.project_id, deployment_id)
        body = DeploymentCreate.model_validate(
            {
                "bundle_id": item["bundle_id"],
                "role_arn": item["role_arn"],
                "region": item["region"],
                "auto_approve": auto_approve,
                "stack": item["stack"],
            }
        )
        return self.create(project, body, request_id, action="destroy")

    # -- approving -------------------------------------------------------------------

    def approve(
        self, project: ProjectRecord, deployment_id: str, request_id: str | None
    ) -> DeploymentOut:
        project_id = project.project_id
        read = self._read(project_id, deployment_id)
        item, status = read.item, read.derived.status
        if item.get("apply_job_id"):
            raise AlreadyApprovedError(
                "the deployment was already approved", details={"deployment_id": deployment_id}
            )
        if status != "planned":
            raise NotPlannedError(
                f"the deployment is {status}: only a planned deployment can be approved",
                details={"deployment_id": deployment_id, "status": status},
            )
        plan_rec = JobRecord.model_validate(read.plan)
        current = self.store.stack_current(project_id, item["stack"])
        if current != deployment_id:
            raise PlanSupersededError(
                "a newer deployment of this stack was created after this plan: approve that"
                " one, or deploy again",
                details={"deployment_id": deployment_id, "superseded_by": current},
            )
        created = plan_created_at(plan_rec)
        max_age = self.ctx.settings.plan_max_age_s
        now = self.ctx.clock()
        if created is None or now - created > max_age:
            raise PlanStaleError(
                f"the plan is older than {max_age} s: deploy again for a fresh plan",
                details={"deployment_id": deployment_id, "max_age_s": max_age},
            )
        apply_job_id = new_job_id()
        self._mark_approved(item, apply_job_id, now)
        payload = TerraformJobPayload.model_validate(
            {
                **plan_rec.payload,
                "plan_key": plan_rec.result.get("plan_key"),
                "auto_approve": False,
                "destroy": plan_rec.kind == "destroy",
            }
        )
        job = self.jobs.submit(
            project_id=project_id,
            kind="apply",
            payload=payload.model_dump(mode="json", exclude_none=True),
            request_id=request_id,
            job_id=apply_job_id,
            extra={"deployment_id": deployment_id},
        )
        item = {**item, "apply_job_id": apply_job_id, "approved_at": iso(now)}
        return self.views.view(item, read.plan, job.model_dump(mode="json"), detail=False)

    def _mark_approved(self, item: dict[str, Any], apply_job_id: str, now: float) -> None:
        project_id, deployment_id = item["project_id"], item["deployment_id"]
        outcome = self.store.approve(project_id, deployment_id, item["stack"], apply_job_id, now)
        if outcome == "approved":
            return
        if outcome == "superseded":
            raise PlanSupersededError(
                "a newer deployment of this stack was just created",
                details={"deployment_id": deployment_id},
            )
        if self._item(project_id, deployment_id).get("cancelled_at"):
            raise DeploymentFinishedError(
                "the deployment was cancelled", details={"deployment_id": deployment_id}
            )
        raise AlreadyApprovedError(
            "the deployment was already approved", details={"deployment_id": deployment_id}
        )

    # -- cancelling ------------------------------------------------------------------

    def cancel(self, project_id: str, deployment_id: str) -> DeploymentOut:
        """Drop a queued or planned deployment now; ask a running one's Terraform to stop."""
        read = self._read(project_id, deployment_id)
        derived = read.derived
        if derived.status in TERMINAL_DEPLOYMENT_STATUSES:
            raise DeploymentFinishedError(
                f"the deployment is already {derived.status}",
                details={"deployment_id": deployment_id, "status": derived.status},
            )
        if derived.status == "planned":
            self._cancel_planned(read.item, JobRecord.model_validate(read.plan))
        elif derived.job is not None:
            self._cancel_job(project_id, derived.job.job_id)
        read = self._read(project_id, deployment_id)
        return self.views.view(read.item, read.plan, read.apply, detail=False)

    def _cancel_planned(self, item: dict[str, Any], plan_job: JobRecord) -> None:
        if not self.store.cancel_planned(
            item["project_id"], item["deployment_id"], self.ctx.clock()
        ):
            return  # approved meanwhile: the caller reads the new state
        plan_key = plan_job.result.get("plan_key")
        if plan_key:  # the saved plan holds secrets: do not keep it for nothing
            s3 = self.ctx.aws.s3
            for key in (plan_key, plan_key + ".lock.hcl"):
                s3.delete_object(Bucket=self.ctx.settings.bucket, Key=key)

    def _cancel_job(self, project_id: str, job_id: str) -> None:
        """queued -> cancelled (and out of the slot line); running -> ``cancel_requested``.

        A running job whose lease ran out (its runner died, and no runner took it over
        yet) is cancelled here: nothing would ever read its flag. Its state lock, if any,
        is released by the next plan of the stack (``terraform_jobs._recover_stale_lock``).
        """
        outcome = self.jobs.cancel(
            project_id,
            job_id,
            queued_message="cancelled while queued; nothing ran",
            dead_message="cancelled after its runner stopped answering;"
            " the stack may be partly changed",
            dead_lease_grace_s=DEAD_LEASE_GRACE_S,
        )
        if outcome == "cancelled_queued":
            # Leave the line at once, or the jobs behind it wait for it.
            self.ctx.stores.semaphore.leave(job_id)

    # -- logs ------------------------------------------------------------------------

    def logs(self, project_id: str, deployment_id: str, after: int, wait_s: int = 0) -> LogOut:
        """Log text from byte ``after``; with ``wait_s``, long-poll for more (or the end)."""
        s3, bucket = self.ctx.aws.s3, self.ctx.settings.bucket

        def read() -> tuple[str, list[tuple[str, int]], bool]:
            r = self._read(project_id, deployment_id)
            parts = deployment_logs.list_parts(
                s3, bucket, project_id, [r.item.get("plan_job_id"), r.item.get("apply_job_id")]
            )
            status = r.derived.status
            return status, parts, status in TERMINAL_DEPLOYMENT_STATUSES or status == "planned"

        status, parts, settled = long_poll(
            read,
            settled=lambda s: s[2] or sum(size for _, size in s[1]) > after,
            wait_s=wait_s,
            sleep=self._sleep,
            poll_s=self.ctx.settings.long_poll_s,
        )
        total = sum(size for _, size in parts)
        text, next_offset = deployment_logs.read_from(s3, bucket, parts, after)
        return LogOut(
            after=after,
            next=next_offset,
            text=deployment_logs.mask(text),
            complete=settled and next_offset >= total,
            status=status,
        )


def service(ctx: AppContext) -> DeploymentService:
    return DeploymentService(ctx)

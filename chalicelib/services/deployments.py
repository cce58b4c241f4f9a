"""Deployments: Terraform plan, approval, apply, destroy and cancel, on the API's side.

A deployment is one change to a *stack* (a Terraform state: ``tfstate/<project>/<stack>.tfstate``,
``main`` unless the user names another). Every deployment of a stack plans against
the same state, so a new deployment updates what an earlier one created, and a plan
made before a newer deployment of its stack is stale.

Items (table ``PROJECT#<project_id>``):

- ``DEPLOY#<deployment_id>``: stack, action (``deploy``/``destroy``), bundle, role,
  region, ``plan_job_id`` (kind ``plan`` or ``destroy``), ``apply_job_id`` once
  approved, ``cancelled_at`` when a planned deployment is dropped;
- ``STACK#<stack>``: ``current_deployment_id``, the newest deployment of the stack,
  moved with a conditional write so that two deployments of a stack never run at once
  and an older plan can be told superseded.

The runner's job items carry the progress; a deployment's state is derived from its
jobs when it is read (``derive_status``): plan job queued/running/planned =
``queued``/``planning``/``planned``; apply job queued or running = ``applying``, succeeded
= ``applied``. The runner's Terraform payload (``TerraformJobPayload``) names the state
by its ``deployment_id`` field: the API passes the stack there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib import observability
from chalicelib.context import AppContext
from chalicelib.errors import ConflictError, NotFoundError
from chalicelib.models.deployments import (
    ACTIVE_DEPLOYMENT_STATUSES,
    TERMINAL_DEPLOYMENT_STATUSES,
    TerraformJobPayload,
)
from chalicelib.models.deployments_api import (
    CostBeside,
    DeploymentCreate,
    DeploymentOut,
    JobRef,
    LogOut,
    OutputOut,
)
from chalicelib.models.jobs import JobError, JobRecord
from chalicelib.services import deployment_logs
from chalicelib.services import jobs as jobs_service
from chalicelib.services.users import iso, new_id
from chalicelib.store.dynamodb import (
    cancellation_codes,
    from_item,
    query_items,
    to_attr,
    to_item,
)
from chalicelib.store.records import ProjectRecord

SEMAPHORE_PK = "SEMAPHORE#terraform"  # runner/semaphore.py's items (read-only here, but WAIT#)
ENQUEUE_GRACE_S = 120  # a deployment whose job item never appeared is failed after this
WAIT_POLL_S = 0.5
DEAD_LEASE_GRACE_S = 30  # a running job's lease this far past: its runner is gone
# States in which the stack is busy: a new deployment of it must wait.
BUSY_STATUSES = frozenset({"queued"}) | ACTIVE_DEPLOYMENT_STATUSES


# --------------------------------------------------------------------------- errors


class DeploymentInProgressError(ConflictError):
    code = "deployment_in_progress"


class PlanStaleError(ConflictError):
    code = "plan_stale"


class PlanSupersededError(ConflictError):
    code = "plan_superseded"


class NotPlannedError(ConflictError):
    code = "not_planned"


class AlreadyApprovedError(ConflictError):
    code = "already_approved"


class DeploymentFinishedError(ConflictError):
    code = "deployment_finished"


class BundleNotReadyError(ConflictError):
    code = "bundle_not_ready"


# --------------------------------------------------------------------------- keys


def _pk(project_id: str) -> str:
    return f"PROJECT#{project_id}"


def _key(project_id: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": _pk(project_id)}, "sk": {"S": sk}}


def deploy_sk(deployment_id: str) -> str:
    return f"DEPLOY#{deployment_id}"


def stack_sk(stack: str) -> str:
    return f"STACK#{stack}"


def state_key(project_id: str, stack: str) -> str:
    """The runner's state key for a stack (``runner.terraform.state_key``)."""
    return f"tfstate/{project_id}/{stack}.tfstate"


def _is_condition_failure(exc: Exception) -> bool:
    code = getattr(exc, "response", {}).get("Error", {}).get("Code")
    return code in ("ConditionalCheckFailedException", "TransactionCanceledException")


# --------------------------------------------------------------------------- bundles


@dataclass(frozen=True)
class BundleRef:
    bundle_id: str
    source: str  # generated | uploaded
    terraform_root: str | None
    target: str | None
    monthly_usd: float | None

    def cost(self) -> CostBeside:
        if self.monthly_usd is None:
            return CostBeside(note="no estimate: the bundle was uploaded, not generated")
        return CostBeside(target=self.target, monthly_usd=self.monthly_usd)


def find_bundle(ctx: AppContext, project_id: str, bundle_id: str) -> BundleRef:
    """A generated bundle (``BUNDLE#``) or a ready uploaded one (``TFBUNDLE#``); else 404/409."""
    ddb, table = ctx.aws.dynamodb, ctx.settings.table
    item = ddb.get_item(
        TableName=table, Key=_key(project_id, f"BUNDLE#{bundle_id}"), ConsistentRead=True
    ).get("Item")
    if item:
        values = from_item(item)
        monthly = values.get("monthly_usd")
        return BundleRef(
            bundle_id=bundle_id,
            source="generated",
            terraform_root=None,
            target=values.get("target"),
            monthly_usd=float(monthly) if monthly is not None else None,
        )
    from chalicelib.services import bundles_upload

    uploaded = bundles_upload.get_record(ctx, project_id, bundle_id)  # 404 when unknown
    if uploaded.status != "ready":
        raise BundleNotReadyError(
            f"the uploaded bundle is {uploaded.status}: complete it first"
            if uploaded.status == "pending"
            else f"the uploaded bundle was rejected: {(uploaded.error or {}).get('message')}",
            details={"bundle_id": bundle_id, "status": uploaded.status},
        )
    return BundleRef(
        bundle_id=bundle_id,
        source="uploaded",
        terraform_root=uploaded.terraform_root,
        target=None,
        monthly_usd=None,
    )


# --------------------------------------------------------------------------- state derivation


@dataclass(frozen=True)
class Derived:
    status: str
    job: JobRecord | None  # the job the status comes from
    error: JobError | None = None


def derive_status(
    item: dict[str, Any], plan_job: JobRecord | None, apply_job: JobRecord | None, now: float
) -> Derived:
    """The deployment's state from its jobs (pure: see the module doc)."""
    if plan_job is None:
        if now - float(item.get("created_at_epoch", now)) > ENQUEUE_GRACE_S:
            return Derived(
                "failed", None, JobError(code="enqueue_lost", message="the plan was never queued")
            )
        return Derived("queued", None)
    if plan_job.status == "queued":
        return Derived("queued", plan_job)
    if plan_job.status == "running":
        # An auto-approve plan job applies in place: the runner says so in its progress
        # message ("applying (auto-approve)", then "applied"), which always reaches the
        # item (the runner's ProgressReporter writes a throttled last update later).
        message = plan_job.progress_message or ""
        applying = message.startswith(("applying", "applied"))
        return Derived("applying" if applying else "planning", plan_job)
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


def _from_apply(job: JobRecord) -> Derived:
    if job.status in ("queued", "running"):
        return Derived("applying", job)
    if job.status == "succeeded":
        return Derived("applied", job)
    error = job.error
    if error is not None and job.attempts > 1 and "Saved plan is stale" in error.message:
        # Its own interrupted first attempt changed the state (a runner died mid-apply).
        error = JobError(
            code="apply_interrupted",
            message="the apply was interrupted (its runner stopped) after changing part of the"
            " stack, so the saved plan no longer applies: deploy again to plan what is left."
            f" Terraform said: {error.message}",
        )
    return Derived(job.status if job.status != "planned" else "failed", job, error)


def order_outputs(outputs: dict[str, Any]) -> list[OutputOut]:
    """Outputs with the app's URL first (``app_url``, then other ``*url*``), then by name."""

    def rank(name: str) -> tuple[int, str]:
        lowered = name.lower()
        if lowered in ("app_url", "url", "app_endpoint"):
            return (0, lowered)
        if "url" in lowered or "endpoint" in lowered:
            return (1, lowered)
        return (2, lowered)

    result = []
    for name in sorted(outputs, key=rank):
        raw = outputs[name]
        raw = raw if isinstance(raw, dict) else {"value": raw}
        sensitive = bool(raw.get("sensitive"))
        result.append(
            OutputOut(name=name, value=None if sensitive else raw.get("value"), sensitive=sensitive)
        )
    return result


# --------------------------------------------------------------------------- the service


class DeploymentService:
    def __init__(self, ctx: AppContext, sleep: Callable[[float], None] = time.sleep) -> None:
        self.ctx = ctx
        self.ddb = ctx.aws.dynamodb
        self.table = ctx.settings.table
        self.jobs = jobs_service.for_context(ctx)
        self._sleep = sleep

    # -- reading ---------------------------------------------------------------------

    def _item(self, project_id: str, deployment_id: str) -> dict[str, Any]:
        if not deployment_id or len(deployment_id) > 64:
            raise NotFoundError(
                "deployment not found", details={"deployment_id": deployment_id[:64]}
            )
        item = self.ddb.get_item(
            TableName=self.table,
            Key=_key(project_id, deploy_sk(deployment_id)),
            ConsistentRead=True,
        ).get("Item")
        if not item:
            raise NotFoundError("deployment not found", details={"deployment_id": deployment_id})
        return from_item(item)

    def _stack_current(self, project_id: str, stack: str) -> str | None:
        item = self.ddb.get_item(
            TableName=self.table, Key=_key(project_id, stack_sk(stack)), ConsistentRead=True
        ).get("Item")
        return from_item(item).get("current_deployment_id") if item else None

    def _job_items(self, project_id: str, item: dict[str, Any]) -> tuple[Any, Any]:
        plan = self._raw_job(project_id, item.get("plan_job_id"))
        apply = self._raw_job(project_id, item.get("apply_job_id"))
        return plan, apply

    def _raw_job(self, project_id: str, job_id: str | None) -> dict[str, Any] | None:
        if not job_id:
            return None
        found = self.ddb.get_item(
            TableName=self.table, Key=_key(project_id, f"JOB#{job_id}"), ConsistentRead=True
        ).get("Item")
        return from_item(found) if found else None

    def _derive(self, item: dict[str, Any], plan: Any, apply: Any) -> Derived:
        return derive_status(
            item,
            JobRecord.model_validate(plan) if plan else None,
            JobRecord.model_validate(apply) if apply else None,
            self.ctx.clock(),
        )

    def get(self, project_id: str, deployment_id: str, wait_s: int = 0) -> DeploymentOut:
        item = self._item(project_id, deployment_id)
        plan, apply = self._job_items(project_id, item)
        first = self._derive(item, plan, apply)
        deadline = time.monotonic() + wait_s
        progress = _progress(first)
        while (
            wait_s > 0
            and first.status not in TERMINAL_DEPLOYMENT_STATUSES
            and first.status != "planned"
            and time.monotonic() < deadline
        ):
            self._sleep(min(WAIT_POLL_S, max(0.0, deadline - time.monotonic())))
            item = self._item(project_id, deployment_id)
            plan, apply = self._job_items(project_id, item)
            now_derived = self._derive(item, plan, apply)
            if now_derived.status != first.status or _progress(now_derived) != progress:
                break
        return self._view(item, plan, apply, detail=True)

    def list_for_project(self, project_id: str, limit: int = 50) -> list[DeploymentOut]:
        items = self._query(project_id, "DEPLOY#")
        jobs = {j["job_id"]: j for j in self._query(project_id, "JOB#") if "job_id" in j}
        items.sort(key=lambda v: (v.get("created_at_epoch", 0), v["deployment_id"]), reverse=True)
        views = []
        for item in items[:limit]:
            plan = jobs.get(item.get("plan_job_id", ""))
            apply = jobs.get(item.get("apply_job_id", ""))
            views.append(self._view(item, plan, apply, detail=False))
        return views

    def _query(self, project_id: str, prefix: str) -> list[dict[str, Any]]:
        return query_items(self.ddb, self.table, _pk(project_id), sk_prefix=prefix)

    def _view(
        self,
        item: dict[str, Any],
        plan: dict[str, Any] | None,
        apply: dict[str, Any] | None,
        *,
        detail: bool,
    ) -> DeploymentOut:
        derived = self._derive(item, plan, apply)
        project_id, status = item["project_id"], derived.status
        job = derived.job
        plan_rec = JobRecord.model_validate(plan) if plan else None
        view: dict[str, Any] = {
            "id": item["deployment_id"],
            "project_id": project_id,
            "stack": item["stack"],
            "action": item["action"],
            "status": status,
            "bundle_id": item["bundle_id"],
            "bundle_source": item.get("bundle_source", "generated"),
            "role_arn": item["role_arn"],
            "region": item["region"],
            "auto_approve": bool(item.get("auto_approve")),
            "created_at": item["created_at"],
            "approved_at": item.get("approved_at"),
            "error": derived.error,
            "jobs": [
                JobRef(
                    id=j["job_id"],
                    kind=j["kind"],
                    status=j["status"],
                    attempts=j.get("attempts", 0),
                )
                for j in (plan, apply)
                if j
            ],
        }
        if job is not None:
            view["progress"] = job.progress
            view["progress_message"] = job.progress_message
            view["cancel_requested"] = job.cancel_requested
            if status in TERMINAL_DEPLOYMENT_STATUSES:
                view["finished_at"] = job.finished_at
        if status == "queued" or (status == "applying" and job and job.status == "queued"):
            raw = apply if status == "applying" else plan
            view.update(self._queue_place(raw))
        if plan_rec is not None and plan_rec.summary:
            view["plan"] = plan_rec.summary
        monthly = item.get("monthly_usd")
        view["cost"] = BundleRef(
            item["bundle_id"],
            item.get("bundle_source", "generated"),
            None,
            item.get("target"),
            float(monthly) if monthly is not None else None,
        ).cost()
        if status == "planned" and plan_rec is not None:
            created = _plan_created_at(plan_rec)
            if created is not None:
                view["plan_expires_at"] = iso(created + self.ctx.settings.plan_max_age_s)
        if detail and status in ("planned",):
            current = self._stack_current(project_id, item["stack"])
            if current and current != item["deployment_id"]:
                view["superseded_by"] = current
        if status == "applied":
            result = (job.result if job else {}) or {}
            view["outputs"] = order_outputs(result.get("outputs") or {})
        if detail and status in TERMINAL_DEPLOYMENT_STATUSES:
            view["resources_in_state"] = self._resources_in_state(project_id, item["stack"])
        return DeploymentOut.model_validate(view)

    def _queue_place(self, raw_job: dict[str, Any] | None) -> dict[str, Any]:
        """Place in line: from the semaphore's waiters (``runner.semaphore``), live."""
        job_id = (raw_job or {}).get("job_id")
        now = self.ctx.clock()
        page = self.ddb.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": SEMAPHORE_PK}},
            ConsistentRead=True,
        )
        waiting: list[tuple[float, str]] = []
        holders = 0
        for raw in page.get("Items", []):
            values = from_item(raw)
            if values["sk"].startswith("SLOT#") and float(values.get("lease_until", 0)) >= now:
                holders += 1
            elif values["sk"].startswith("WAIT#") and float(values.get("seen_until", 0)) >= now:
                waiting.append((float(values.get("since", now)), values.get("job_id", "")))
        line = [j for _, j in sorted(waiting)]
        if job_id in line:
            return {"queue_position": line.index(job_id) + 1, "queue_waiting": len(line)}
        free = self.ctx.settings.max_concurrent_deployments - holders
        # Not seen by a runner yet: behind the known waiters (or next, with a free slot).
        position = len(line) + 1 if free <= len(line) else 1
        return {"queue_position": position, "queue_waiting": max(len(line), position)}

    def _resources_in_state(self, project_id: str, stack: str) -> list[str] | None:
        """Addresses of the resources the stack's state holds now (never their attributes)."""
        s3 = self.ctx.aws.s3
        try:
            body = s3.get_object(Bucket=self.ctx.settings.bucket, Key=state_key(project_id, stack))[
                "Body"
            ].read()
        except s3.exceptions.NoSuchKey:
            return []
        try:
            state = json.loads(body)
        except ValueError:
            return None
        addresses = []
        for res in state.get("resources", []):
            if res.get("mode") != "managed":
                continue
            base = f"{res.get('type')}.{res.get('name')}"
            if res.get("module"):
                base = f"{res['module']}.{base}"
            for inst in res.get("instances", []):
                key = inst.get("index_key")
                suffix = (
                    "" if key is None else (f"[{key}]" if isinstance(key, int) else f'["{key}"]')
                )
                addresses.append(base + suffix)
        return sorted(addresses)

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
        previous = self._stack_current(project_id, body.stack)
        if previous:
            self._refuse_if_busy(project_id, previous)
        deployment_id = new_id()
        plan_job_id = jobs_service.new_job_id()
        now = self.ctx.clock()
        payload = TerraformJobPayload(
            deployment_id=body.stack,
            bundle_id=body.bundle_id,
            role_arn=body.role_arn,
            external_id=project.external_id,
            region=body.region,
            auto_approve=body.auto_approve,
            terraform_root=bundle.terraform_root,
        )
        item: dict[str, Any] = {
            "pk": _pk(project_id),
            "sk": deploy_sk(deployment_id),
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
        self._claim_stack(item, previous)
        kind = "destroy" if action == "destroy" else "plan"
        plan_job = self.jobs.submit(
            project_id=project_id,
            kind=kind,
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
        return self._view(item, plan_job.model_dump(mode="json"), None, detail=False)

    def _refuse_if_busy(self, project_id: str, deployment_id: str) -> None:
        try:
            item = self._item(project_id, deployment_id)
        except NotFoundError:
            return
        status = self._derive(item, *self._job_items(project_id, item)).status
        if status in BUSY_STATUSES:
            raise DeploymentInProgressError(
                f"deployment {deployment_id} of stack {item['stack']!r} is {status}: wait for it"
                " or cancel it first",
                details={"deployment_id": deployment_id, "status": status},
            )

    def _claim_stack(self, item: dict[str, Any], previous: str | None) -> None:
        """Write the deployment and make it the stack's newest, unless another got there first."""
        if previous:
            condition = "current_deployment_id = :previous"
            values = {":previous": {"S": previous}}
        else:
            condition = "attribute_not_exists(current_deployment_id)"
            values = {}
        try:
            self.ddb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": to_item(item),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _key(item["project_id"], stack_sk(item["stack"])),
                            "UpdateExpression": "SET current_deployment_id = :me, updated_at = :at",
                            "ConditionExpression": condition,
                            "ExpressionAttributeValues": {
                                ":me": {"S": item["deployment_id"]},
                                ":at": {"S": item["created_at"]},
                                **values,
                            },
                        }
                    },
                ]
            )
        except Exception as exc:
            if _is_condition_failure(exc):
                raise DeploymentInProgressError(
                    f"another deployment of stack {item['stack']!r} was just created: try again",
                    details={"stack": item["stack"], "reasons": cancellation_codes(exc)},
                ) from None
            raise

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
        item = self._item(project_id, deployment_id)
        plan, apply = self._job_items(project_id, item)
        derived = self._derive(item, plan, apply)
        if item.get("apply_job_id"):
            raise AlreadyApprovedError(
                "the deployment was already approved", details={"deployment_id": deployment_id}
            )
        if derived.status != "planned":
            raise NotPlannedError(
                f"the deployment is {derived.status}: only a planned deployment can be approved",
                details={"deployment_id": deployment_id, "status": derived.status},
            )
        plan_rec = JobRecord.model_validate(plan)
        current = self._stack_current(project_id, item["stack"])
        if current != deployment_id:
            raise PlanSupersededError(
                "a newer deployment of this stack was created after this plan: approve that"
                " one, or deploy again",
                details={"deployment_id": deployment_id, "superseded_by": current},
            )
        created = _plan_created_at(plan_rec)
        max_age = self.ctx.settings.plan_max_age_s
        now = self.ctx.clock()
        if created is None or now - created > max_age:
            raise PlanStaleError(
                f"the plan is older than {max_age} s: deploy again for a fresh plan",
                details={"deployment_id": deployment_id, "max_age_s": max_age},
            )
        plan_key = plan_rec.result.get("plan_key")
        apply_job_id = jobs_service.new_job_id()
        self._mark_approved(item, apply_job_id, now)
        payload = TerraformJobPayload.model_validate(
            {**plan_rec.payload, "plan_key": plan_key, "auto_approve": False}
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
        return self._view(item, plan, job.model_dump(mode="json"), detail=False)

    def _mark_approved(self, item: dict[str, Any], apply_job_id: str, now: float) -> None:
        project_id, deployment_id = item["project_id"], item["deployment_id"]
        try:
            self.ddb.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self.table,
                            "Key": _key(project_id, stack_sk(item["stack"])),
                            "ConditionExpression": "current_deployment_id = :me",
                            "ExpressionAttributeValues": {":me": {"S": deployment_id}},
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": _key(project_id, deploy_sk(deployment_id)),
                            "UpdateExpression": "SET apply_job_id = :job, approved_at = :at,"
                            " approved_at_epoch = :epoch",
                            "ConditionExpression": "attribute_not_exists(apply_job_id)"
                            " AND attribute_not_exists(cancelled_at)",
                            "ExpressionAttributeValues": {
                                ":job": {"S": apply_job_id},
                                ":at": {"S": iso(now)},
                                ":epoch": to_attr(now),
                            },
                        }
                    },
                ]
            )
        except Exception as exc:
            if not _is_condition_failure(exc):
                raise
            reasons = cancellation_codes(exc)
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise PlanSupersededError(
                    "a newer deployment of this stack was just created",
                    details={"deployment_id": deployment_id},
                ) from None
            fresh = self._item(project_id, deployment_id)
            if fresh.get("cancelled_at"):
                raise DeploymentFinishedError(
                    "the deployment was cancelled", details={"deployment_id": deployment_id}
                ) from None
            raise AlreadyApprovedError(
                "the deployment was already approved", details={"deployment_id": deployment_id}
            ) from None

    # -- cancelling ------------------------------------------------------------------

    def cancel(self, project_id: str, deployment_id: str) -> DeploymentOut:
        """Drop a queued or planned deployment now; ask a running one's Terraform to stop."""
        item = self._item(project_id, deployment_id)
        plan, apply = self._job_items(project_id, item)
        derived = self._derive(item, plan, apply)
        if derived.status in TERMINAL_DEPLOYMENT_STATUSES:
            raise DeploymentFinishedError(
                f"the deployment is already {derived.status}",
                details={"deployment_id": deployment_id, "status": derived.status},
            )
        if derived.status == "planned":
            self._cancel_planned(item, JobRecord.model_validate(plan))
        elif derived.job is not None:
            self._cancel_job(project_id, derived.job.job_id)
        item = self._item(project_id, deployment_id)
        return self._view(item, *self._job_items(project_id, item), detail=False)

    def _cancel_planned(self, item: dict[str, Any], plan_job: JobRecord) -> None:
        now = self.ctx.clock()
        try:
            self.ddb.update_item(
                TableName=self.table,
                Key=_key(item["project_id"], deploy_sk(item["deployment_id"])),
                UpdateExpression="SET cancelled_at = :at",
                ConditionExpression="attribute_not_exists(apply_job_id)",
                ExpressionAttributeValues={":at": {"S": iso(now)}},
            )
        except self.ddb.exceptions.ConditionalCheckFailedException:
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
        outcome = jobs_service.for_context(self.ctx).cancel(
            project_id,
            job_id,
            queued_message="cancelled while queued; nothing ran",
            dead_message="cancelled after its runner stopped answering;"
            " the stack may be partly changed",
            dead_lease_grace_s=DEAD_LEASE_GRACE_S,
        )
        if outcome == "cancelled_queued":
            # Leave the line at once (``TerraformSemaphore.leave_queue``), or it waits for us.
            self.ddb.delete_item(
                TableName=self.table,
                Key={"pk": {"S": SEMAPHORE_PK}, "sk": {"S": f"WAIT#{job_id}"}},
            )

    # -- logs ------------------------------------------------------------------------

    def logs(self, project_id: str, deployment_id: str, after: int, wait_s: int = 0) -> LogOut:
        deadline = time.monotonic() + wait_s
        while True:
            item = self._item(project_id, deployment_id)
            plan, apply = self._job_items(project_id, item)
            status = self._derive(item, plan, apply).status
            parts = deployment_logs.list_parts(
                self.ctx.aws.s3,
                self.ctx.settings.bucket,
                project_id,
                [item.get("plan_job_id"), item.get("apply_job_id")],
            )
            total = sum(size for _, size in parts)
            settled = status in TERMINAL_DEPLOYMENT_STATUSES or status == "planned"
            if total > after or settled or time.monotonic() >= deadline:
                break
            self._sleep(min(WAIT_POLL_S, max(0.0, deadline - time.monotonic())))
        text, next_offset = deployment_logs.read_from(
            self.ctx.aws.s3, self.ctx.settings.bucket, parts, after
        )
        return LogOut(
            after=after,
            next=next_offset,
            text=deployment_logs.mask(text),
            complete=settled and next_offset >= total,
            status=status,
        )


def _progress(derived: Derived) -> tuple[int, str | None]:
    job = derived.job
    return (job.progress, job.progress_message) if job else (0, None)


def _plan_created_at(plan_job: JobRecord) -> float | None:
    created = plan_job.result.get("plan_created_at")
    if isinstance(created, int | float):
        return float(created)
    return plan_job.finished_at_epoch


def service(ctx: AppContext) -> DeploymentService:
    return DeploymentService(ctx)

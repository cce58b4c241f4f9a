"""What the API answers about a deployment: its state (``chalicelib.deploy_state``), jobs,
plan, cost, place in line, outputs and the resources its stack holds.

The resources come from the last Terraform job's ``resources`` attribute (the runner
reads the state it just wrote); the place in line from the semaphore's own reading
(``chalicelib.store.semaphore.line_place``). Nothing here reads Terraform state.
"""

from __future__ import annotations

from typing import Any

from chalicelib.context import AppContext
from chalicelib.deploy_state import Derived, derive_status, phase_timings
from chalicelib.models.deployments import TERMINAL_DEPLOYMENT_STATUSES
from chalicelib.models.deployments_api import DeploymentOut, JobRef, OutputOut
from chalicelib.models.jobs import JobRecord
from chalicelib.services.deployment_bundles import BundleRef
from chalicelib.services.ids import iso


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


def plan_created_at(plan_job: JobRecord) -> float | None:
    created = plan_job.result.get("plan_created_at")
    if isinstance(created, int | float):
        return float(created)
    return plan_job.finished_at_epoch


def progress_of(derived: Derived) -> tuple[int, str | None]:
    job = derived.job
    return (job.progress, job.progress_message) if job else (0, None)


def record(raw: dict[str, Any] | None) -> JobRecord | None:
    return JobRecord.model_validate(raw) if raw else None


class DeploymentViews:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    def derive(
        self, item: dict[str, Any], plan: dict[str, Any] | None, apply: dict[str, Any] | None
    ) -> Derived:
        return derive_status(item, record(plan), record(apply), self.ctx.clock())

    def view(
        self,
        item: dict[str, Any],
        plan: dict[str, Any] | None,
        apply: dict[str, Any] | None,
        *,
        detail: bool,
    ) -> DeploymentOut:
        derived = self.derive(item, plan, apply)
        project_id, status = item["project_id"], derived.status
        job = derived.job
        plan_rec = record(plan)
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
            if job.status == "queued":
                note = self.runner_note()
                if note:
                    view["progress_message"] = note
        if status == "queued" or (status == "applying" and job and job.status == "queued"):
            raw = apply if status == "applying" else plan
            view.update(self.queue_place((raw or {}).get("job_id")))
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
            created = plan_created_at(plan_rec)
            if created is not None:
                view["plan_expires_at"] = iso(created + self.ctx.settings.plan_max_age_s)
        if detail and status == "planned":
            current = self.ctx.stores.deployments.stack_current(project_id, item["stack"])
            if current and current != item["deployment_id"]:
                view["superseded_by"] = current
        if status in ("applied", "live") or derived.failed_phase:
            result = (job.result if job else {}) or {}
            outputs = dict(result.get("outputs") or {})
            if status == "live":
                outputs.update(self.current_release(item, result, view))
            view["outputs"] = order_outputs(outputs)
        if derived.failed_phase:
            view["failed_phase"] = derived.failed_phase
        timings = phase_timings(job)
        if timings:
            view["phases"] = timings
        if detail and status in TERMINAL_DEPLOYMENT_STATUSES:
            # What the stack's state held when its last job ended (the runner's reading).
            resources = job.resources if job is not None else None
            view["resources_in_state"] = resources if resources is not None else []
        return DeploymentOut.model_validate(view)

    def current_release(
        self, item: dict[str, Any], result: dict[str, Any], view: dict[str, Any]
    ) -> dict[str, Any]:
        """A later release (a redeploy or a rollback) of the stack this deployment put live
        serves at its own URL now: the app URL output follows it, and ``current_release``
        names it. Nothing for a deployment that is no longer the stack's current one."""
        project_id, stack = item["project_id"], item["stack"]
        shipped = result.get("release_id")
        view["current_release"] = shipped
        if self.ctx.stores.deployments.stack_current(project_id, stack) != item["deployment_id"]:
            return {}
        live = next(
            (
                r
                for r in self.ctx.stores.releases.list_project(project_id, stack)
                if r.get("status") == "live"
            ),
            None,
        )
        if live is None or live["release_id"] == shipped or not live.get("url"):
            return {}
        view["current_release"] = live["release_id"]
        return {"app_url": {"value": live["url"], "sensitive": False}}

    def runner_note(self) -> str | None:
        """A queued job while the runner sleeps or boots: wake it if needed, and say
        "the runner is starting (about N s)" (services/runner_wake.py)."""
        from chalicelib.services import runner_wake

        return runner_wake.job_view_note(self.ctx)

    def queue_place(self, job_id: str | None) -> dict[str, Any]:
        """Place in line, live: the semaphore's waiters, read as the runner reads them."""
        from chalicelib.store.semaphore import line_place

        slots = self.ctx.settings.max_concurrent_deployments
        line = self.ctx.stores.semaphore.line(self.ctx.clock(), slots)
        place = line_place(line, job_id or "", slots)
        return {"queue_position": place.position, "queue_waiting": place.waiting}

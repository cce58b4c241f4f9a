"""The deployment and job services on the fakes (item stores in memory, S3 and SQS fakes):
the lifecycle rules without an emulator. The same flows run through the HTTP API on the
emulator in tests/functional/deployments."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.context import AppContext
from chalicelib.models.deployments import TerraformJobPayload
from chalicelib.models.deployments_api import DeploymentCreate
from chalicelib.models.jobs import JobMessage
from chalicelib.services import analyses, deployments
from chalicelib.services import jobs as jobs_service
from chalicelib.services.deployment_errors import (
    AlreadyApprovedError,
    DeploymentFinishedError,
    DeploymentInProgressError,
    NotPlannedError,
    PlanStaleError,
    PlanSupersededError,
)
from chalicelib.store.jobs import JobStore
from chalicelib.store.records import ProjectRecord
from chalicelib.store.registry import memory_stores
from tests.support.fake_aws import FakeAws
from tests.unit.api.helpers import FakeClock, make_settings

ROLE = "arn:aws:iam::123456789012:role/deploy"
PROJECT = ProjectRecord("p1", "u1", "demo", "ext-123", "t", "t")


def context(clock: FakeClock | None = None) -> AppContext:
    return AppContext(
        settings=make_settings(),
        aws=FakeAws(),  # type: ignore[arg-type]
        clock=clock or FakeClock(),
        _stores=memory_stores(),
    )


def bundle(ctx: AppContext, bundle_id: str = "b1") -> str:
    if ctx.stores.bundles.get("p1", bundle_id) is None:
        values = {"bundle_id": bundle_id, "target": "ec2", "monthly_usd": "8.47"}
        ctx.stores.bundles.put("p1", bundle_id, values)
    return bundle_id


def deploy(ctx: AppContext, **extra: Any) -> Any:
    body = DeploymentCreate.model_validate(
        {"bundle_id": bundle(ctx), "role_arn": ROLE, "region": "eu-west-1", **extra}
    )
    return deployments.service(ctx).create(PROJECT, body, "req-1")


def run(ctx: AppContext, job_id: str, status: str, **fields: Any) -> None:
    """Play the runner: claim the job, then end it (the runner's own store calls)."""
    store: JobStore = ctx.stores.jobs
    now = ctx.clock()
    assert store.claim("p1", job_id, "runner-1", now, 60) is not None
    if fields.get("phase"):
        store.note_terraform("p1", job_id, "runner-1", now, phase=fields.pop("phase"))
    if status != "running":
        store.finish("p1", job_id, "runner-1", now, status, **fields)


def planned(ctx: AppContext, **extra: Any) -> Any:
    created = deploy(ctx, **extra)
    plan_key = f"plans/p1/main/{created.jobs[0].id}.tfplan"
    ctx.aws.s3.put_object(Bucket="b", Key=plan_key, Body=b"plan")
    result = {"changes": True, "plan_key": plan_key, "plan_created_at": ctx.clock()}
    run(ctx, created.jobs[0].id, "planned", result=result, summary={"add": 1})
    return created


def test_a_deployment_queues_its_plan_with_the_stack_in_its_payload() -> None:
    ctx = context()
    created = deploy(ctx)
    assert created.status == "queued" and created.queue_position == 1
    (body,) = ctx.aws.sqs.sent
    message = JobMessage.from_body(body)
    payload = TerraformJobPayload.model_validate(message.payload)
    assert (message.kind, payload.stack, payload.deployment_id) == ("plan", "main", None)
    assert payload.external_id == "ext-123" and created.cost.monthly_usd == 8.47


def test_the_state_follows_the_jobs_phase() -> None:
    ctx = context()
    created = deploy(ctx, auto_approve=True)
    service = deployments.service(ctx)
    run(ctx, created.jobs[0].id, "running", phase="planning")
    assert service.get("p1", created.id).status == "planning"
    ctx.stores.jobs.note_terraform("p1", created.jobs[0].id, "runner-1", 1.0, phase="applying")
    assert service.get("p1", created.id).status == "applying"


def test_plan_approve_apply_and_the_resources_from_the_jobs_result() -> None:
    ctx = context()
    created = planned(ctx)
    service = deployments.service(ctx)
    assert service.get("p1", created.id).status == "planned"
    approved = service.approve(PROJECT, created.id, None)
    assert approved.status == "applying"
    with pytest.raises(AlreadyApprovedError):
        service.approve(PROJECT, created.id, None)
    apply_id = approved.jobs[1].id
    apply_payload = TerraformJobPayload.model_validate(ctx.stores.jobs.get("p1", apply_id).payload)  # type: ignore[union-attr]
    assert apply_payload.plan_key == f"plans/p1/main/{created.jobs[0].id}.tfplan"
    outputs = {"app_url": {"value": "https://a", "sensitive": False}}
    run(ctx, apply_id, "succeeded", result={"outputs": outputs}, attributes={"resources": ["x.y"]})
    done = service.get("p1", created.id)
    assert done.status == "applied" and done.resources_in_state == ["x.y"]
    assert [o.name for o in done.outputs or []] == ["app_url"]


def test_a_stale_or_superseded_plan_is_refused_and_a_busy_stack_refuses_a_deployment() -> None:
    clock = FakeClock()
    ctx = context(clock)
    service = deployments.service(ctx)
    first = deploy(ctx)
    with pytest.raises(DeploymentInProgressError):
        deploy(ctx)  # the first one is still queued
    with pytest.raises(NotPlannedError):
        service.approve(PROJECT, first.id, None)
    run(ctx, first.jobs[0].id, "planned", result={"plan_key": "k", "plan_created_at": clock()})
    second = deploy(ctx)  # a planned stack is not busy: this one supersedes the first
    with pytest.raises(PlanSupersededError):
        service.approve(PROJECT, first.id, None)
    run(ctx, second.jobs[0].id, "planned", result={"plan_key": "k", "plan_created_at": clock()})
    clock.advance(ctx.settings.plan_max_age_s + 1)
    with pytest.raises(PlanStaleError):
        service.approve(PROJECT, second.id, None)


def test_cancelling_a_queued_deployment_leaves_the_line_and_a_planned_one_drops_its_plan() -> None:
    ctx = context()
    service = deployments.service(ctx)
    queued = deploy(ctx)
    ctx.stores.semaphore.wait(queued.jobs[0].id, "runner-1", ctx.clock(), ctx.clock() + 60)
    cancelled = service.cancel("p1", queued.id)
    assert cancelled.status == "cancelled"
    assert ctx.stores.semaphore.line(ctx.clock(), 2).waiters == []
    with pytest.raises(DeploymentFinishedError):
        service.cancel("p1", queued.id)
    plan = planned(ctx)
    plan_key = f"plans/p1/main/{plan.jobs[0].id}.tfplan"
    assert service.cancel("p1", plan.id).status == "cancelled"
    assert plan_key not in ctx.aws.s3.objects  # the saved plan holds secrets


def test_the_place_in_line_is_the_semaphores() -> None:
    ctx = context()
    for slot in range(2):
        ctx.stores.semaphore.take_slot(
            slot, f"other{slot}", "r", ctx.clock(), ctx.clock() + 60, None
        )
    ctx.stores.semaphore.wait("ahead", "r", ctx.clock() - 5, ctx.clock() + 60)
    created = deploy(ctx)
    assert (created.queue_position, created.queue_waiting) == (2, 2)


def test_logs_are_read_from_the_parts_of_both_jobs_and_masked() -> None:
    ctx = context()
    created = planned(ctx)
    job_id = created.jobs[0].id
    key = f"logs/p1/{job_id}/attempt-1/part-0001.log"
    ctx.aws.s3.put_object(Bucket="b", Key=key, Body=b"init\nsecret AKIAABCDEFGHIJKLMNOP\n")
    out = deployments.service(ctx).logs("p1", created.id, after=0)
    assert out.complete and out.status == "planned" and "AKIAABCDEFGHIJKLMNOP" not in out.text
    assert out.text.startswith("init\n") and out.next == len(ctx.aws.s3.objects[key])


def test_a_job_whose_message_cannot_be_sent_is_failed_at_once() -> None:
    ctx = context()
    ctx.aws.sqs.fail_with = ConnectionError("queue down")  # type: ignore[attr-defined]
    service = jobs_service.for_context(ctx)
    with pytest.raises(jobs_service.EnqueueError):
        service.submit(project_id="p1", kind="analyze", payload={}, request_id=None, job_id="j1")
    failed = service.get("p1", "j1")
    assert failed is not None and failed.status == "failed"
    assert failed.error is not None and failed.error.code == "enqueue_failed"


def test_an_analysis_is_cancelled_while_queued_and_refused_when_finished() -> None:
    ctx = context()
    job = jobs_service.for_context(ctx).submit(
        project_id="p1", kind="analyze", payload={}, request_id=None
    )
    assert analyses.cancel_analysis(ctx, "p1", job.job_id).status == "cancelled"
    with pytest.raises(analyses.JobFinishedError):
        analyses.cancel_analysis(ctx, "p1", job.job_id)


def test_the_long_poll_returns_on_a_change_without_sleeping_the_whole_wait() -> None:
    ctx = context()
    created = deploy(ctx)
    naps: list[float] = []

    def sleep(seconds: float) -> None:  # the runner claims the plan during the first nap
        naps.append(seconds)
        if len(naps) == 1:
            run(ctx, created.jobs[0].id, "running", phase="planning")

    service = deployments.DeploymentService(ctx, sleep=sleep)
    assert service.get("p1", created.id, wait_s=20).status == "planning"
    assert len(naps) == 1

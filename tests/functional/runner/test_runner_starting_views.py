"""A woken runner is "starting" until its first heartbeat: /health, a queued job's view
and a queued deployment's view say "the runner is starting (about N s)" instead of
looking stuck, against the emulator's EC2 API and table."""

from __future__ import annotations

from typing import Any

import pytest
from runner_harness import client

from chalicelib import keys
from chalicelib.context import build_context
from chalicelib.services import health, jobs, runner_wake
from chalicelib.services.deployment_views import DeploymentViews
from chalicelib.settings import load_settings
from devtools.local_resources import LocalResources

T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def _stopped_instance(resources: LocalResources) -> str:
    ec2 = client(resources, "ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance_id = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro")[
        "Instances"
    ][0]["InstanceId"]
    ec2.stop_instances(InstanceIds=[instance_id])
    return instance_id


def _context(resources: LocalResources, instance_id: str, clock: Clock) -> Any:
    env = resources.environment() | {
        "AUTOSTACK_STAGE": "test",
        "AUTOSTACK_RUNNER_INSTANCE_ID": instance_id,
    }
    return build_context(load_settings(env), clock=clock)


def _heartbeat(resources: LocalResources, at: float) -> None:
    client(resources, "dynamodb").put_item(
        TableName=resources.table,
        Item={
            "pk": {"S": keys.RUNNERS_PK},
            "sk": {"S": keys.runner_sk("runner-1")},
            "runner_id": {"S": "runner-1"},
            "at": {"N": repr(at)},
            "version": {"S": "test"},
            "state": {"S": "idle"},
        },
    )


def _deployment_view(ctx: Any, plan: dict[str, Any]) -> Any:
    item = {
        "deployment_id": "dep1",
        "project_id": "proj1",
        "stack": "web",
        "action": "deploy",
        "bundle_id": "bundle1",
        "bundle_source": "generated",
        "role_arn": "arn:aws:iam::123456789012:role/deployer",
        "region": "us-east-1",
        "created_at": "2027-01-15T08:00:00Z",
        "created_at_epoch": T0,
    }
    return DeploymentViews(ctx).view(item, plan, None, detail=False)


@pytest.fixture(autouse=True)
def _fresh_state_cache() -> None:
    runner_wake._cache.clear()  # one Lambda container per test


def test_a_woken_runner_is_starting_until_its_first_heartbeat(
    local_resources: LocalResources,
) -> None:
    clock = Clock()
    instance_id = _stopped_instance(local_resources)
    ctx = _context(local_resources, instance_id, clock)
    status, ok = health.runner_status(ctx)
    assert (status.state, ok) == ("asleep", True)

    job = jobs.for_context(ctx).submit(
        project_id="proj1", kind="snapshot", payload={}, request_id="r-start"
    )
    assert runner_wake.last_wake(ctx) == T0  # the StartInstances call was recorded
    # EC2 soon says "running"; the runner itself has not sent a heartbeat yet.
    runner_wake._cache.clear()
    assert runner_wake.runner_state(ctx) == "running"
    clock.now = T0 + 20
    status, ok = health.runner_status(ctx)
    assert status.state == "starting" and ok is True
    assert status.detail == "the runner is starting (about 40 s)"
    shown = jobs.get_job(ctx, "proj1", job.job_id)
    assert shown.status == "queued"
    assert shown.progress_message == "the runner is starting (about 40 s)"
    view = _deployment_view(ctx, job.model_dump())
    assert view.status == "queued"
    assert view.progress_message == "the runner is starting (about 40 s)"

    # Past the usual boot: still starting, and it says so.
    clock.now = T0 + 75
    assert health.runner_status(ctx)[0].detail == (
        "the runner is starting (taking longer than the usual 60 s)"
    )

    # The first heartbeat after the wake: alive, no note on the job any more.
    _heartbeat(local_resources, T0 + 80)
    clock.now = T0 + 85
    status, ok = health.runner_status(ctx)
    assert (status.state, status.detail, ok) == (None, "alive", True)
    assert jobs.get_job(ctx, "proj1", job.job_id).progress_message is None
    assert _deployment_view(ctx, job.model_dump()).progress_message is None


def test_a_wake_with_no_heartbeat_for_long_is_stale_not_starting(
    local_resources: LocalResources,
) -> None:
    clock = Clock()
    instance_id = _stopped_instance(local_resources)
    ctx = _context(local_resources, instance_id, clock)
    _heartbeat(local_resources, T0 - 3600)  # before it went to sleep
    jobs.for_context(ctx).submit(project_id="proj1", kind="snapshot", payload={}, request_id="r")
    runner_wake._cache.clear()
    clock.now = T0 + runner_wake.STARTING_WINDOW_S + 1
    status, _ = health.runner_status(ctx)
    assert status.state is None
    assert status.detail.startswith("stale: no heartbeat for")


def test_a_runner_that_was_never_woken_shows_no_starting_note(
    local_resources: LocalResources,
) -> None:
    clock = Clock()
    ec2 = client(local_resources, "ec2")
    instance_id = _stopped_instance(local_resources)
    ec2.start_instances(InstanceIds=[instance_id])  # started by hand, not by the API
    ctx = _context(local_resources, instance_id, clock)
    _heartbeat(local_resources, T0 - 5)
    job = jobs.JobService(
        sqs=ctx.aws.sqs, queue_url=ctx.settings.queue_url, clock=clock, store=ctx.stores.jobs
    ).submit(project_id="proj1", kind="snapshot", payload={}, request_id="r")
    assert runner_wake.last_wake(ctx) is None
    assert jobs.get_job(ctx, "proj1", job.job_id).progress_message is None
    assert health.runner_status(ctx)[0].detail == "alive"

"""Asleep when idle, started when work arrives: against the emulator's EC2 API.

The runner stops its own instance (StopInstances) after a quiet period with nothing
running or queued; the API starts it (StartInstances) when it queues a job, and
/health and job views say "runner starting" / "asleep" instead of failing.
"""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from runner_harness import client, make_worker, put_upload, runner_settings, small_zip

from chalicelib.context import build_context
from chalicelib.services import health, jobs, runner_wake
from chalicelib.settings import load_settings
from devtools.local_resources import LocalResources
from runner.chores import IdleStop
from runner.semaphore import TerraformSemaphore


def _instance(resources: LocalResources, state: str = "running") -> str:
    ec2 = client(resources, "ec2")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance_id = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t3.micro")[
        "Instances"
    ][0]["InstanceId"]
    if state == "stopped":
        ec2.stop_instances(InstanceIds=[instance_id])
    return instance_id


def _state(resources: LocalResources, instance_id: str) -> str:
    response = client(resources, "ec2").describe_instances(InstanceIds=[instance_id])
    return response["Reservations"][0]["Instances"][0]["State"]["Name"]


def _idle_stop(resources: LocalResources, instance_id: str, after_s: float) -> IdleStop:
    return IdleStop(
        ec2=client(resources, "ec2"),
        instance_id=instance_id,
        sqs=client(resources, "sqs"),
        queue_url=resources.queue_url,
        dynamodb=client(resources, "dynamodb"),
        table=resources.table,
        after_s=after_s,
    )


def _api_context(resources: LocalResources, instance_id: str | None) -> Any:
    env = resources.environment() | {"AUTOSTACK_STAGE": "test"}
    if instance_id:
        env["AUTOSTACK_RUNNER_INSTANCE_ID"] = instance_id
    return build_context(load_settings(env))


@pytest.fixture(autouse=True)
def _fresh_state_cache() -> None:
    runner_wake._cache.clear()  # one Lambda container per test


def test_idle_runner_stops_its_own_instance_after_the_quiet_period(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    instance_id = _instance(local_resources)
    settings = runner_settings(local_resources, tmp_path)
    worker = make_worker(
        settings, local_resources, idle_stop=_idle_stop(local_resources, instance_id, 2.0)
    )
    # A job first: the quiet period counts from its end, not from the start.
    upload_id, key = put_upload(local_resources, "proj1", small_zip())
    job = jobs.JobService(
        dynamodb=client(local_resources, "dynamodb"),
        sqs=client(local_resources, "sqs"),
        table=local_resources.table,
        queue_url=local_resources.queue_url,
    ).submit(
        project_id="proj1",
        kind="analyze",
        payload={"upload_id": upload_id, "key": key},
        request_id="r1",
    )
    began = time.monotonic()
    handled = worker.run(idle_exit_s=30)

    took = time.monotonic() - began
    assert handled == 1
    assert worker.stopped_for_idle
    assert 2.0 <= took < 15, took
    assert _state(local_resources, instance_id) in ("stopping", "stopped")
    attempts = worker.ledger.attempts_for(job.job_id)
    assert [a.outcome for a in attempts] == ["succeeded"]
    assert time.time() - attempts[0].ended_at >= 2.0  # stopped a quiet period after the job


def test_a_queued_message_or_a_slot_waiter_keeps_the_runner_up(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    instance_id = _instance(local_resources)
    idle = _idle_stop(local_resources, instance_id, 0.5)
    assert idle.nothing_waiting()
    # A delayed message (a job waiting for a slot is sent back with a delay) counts.
    sqs = client(local_resources, "sqs")
    sqs.send_message(QueueUrl=local_resources.queue_url, MessageBody="{}", DelaySeconds=60)
    assert idle.queued_messages() == 1
    assert not idle.nothing_waiting()
    sqs.purge_queue(QueueUrl=local_resources.queue_url)
    assert idle.nothing_waiting()
    # A job registered as waiting for a Terraform slot counts too.
    semaphore = TerraformSemaphore(
        client(local_resources, "dynamodb"), local_resources.table, "other-runner", slots=1
    )
    assert semaphore.try_acquire("holder").lease is not None
    assert semaphore.try_acquire("waiter").place is not None
    assert idle.slot_waiters() == 1
    assert not idle.nothing_waiting()

    settings = runner_settings(local_resources, tmp_path)
    worker = make_worker(settings, local_resources, idle_stop=idle)
    worker.run(idle_exit_s=3)
    assert not worker.stopped_for_idle
    assert _state(local_resources, instance_id) == "running"


def test_queuing_a_job_starts_the_stopped_runner_and_views_say_starting(
    local_resources: LocalResources,
) -> None:
    instance_id = _instance(local_resources, "stopped")
    ctx = _api_context(local_resources, instance_id)
    assert health.runner_status(ctx)[0].detail == "runner asleep: it starts when a job is queued"
    assert health.runner_status(ctx)[1] is True  # asleep is healthy
    assert _state(local_resources, instance_id) == "stopped"  # /health never starts it

    runner_wake._cache.clear()
    job = jobs.for_context(ctx).submit(
        project_id="proj1", kind="snapshot", payload={}, request_id="r-wake"
    )
    assert _state(local_resources, instance_id) in ("pending", "running")
    # StartInstances answered "pending": cached for a few seconds, so the views say so.
    assert runner_wake.runner_state(ctx) == "pending"
    shown = jobs.get_job(ctx, "proj1", job.job_id)
    assert shown.status == "queued"
    assert shown.progress_message == "the runner is starting (about 60 s)"
    assert health.runner_status(ctx)[0].detail == "the runner is starting (about 60 s)"
    assert health.runner_status(ctx)[1] is True


def test_an_awake_runner_costs_no_ec2_call_per_request(local_resources: LocalResources) -> None:
    instance_id = _instance(local_resources)
    ec2 = client(local_resources, "ec2")
    clock = [0.0]
    wake = runner_wake.RunnerWake(ec2, instance_id, monotonic=lambda: clock[0], cache={})
    for _ in range(50):
        assert wake.ensure_awake() == "running"
        clock[0] += 1.0
    assert wake.calls == 1  # one DescribeInstances for 50 jobs within a minute
    clock[0] += runner_wake.RUNNING_CACHE_S
    wake.ensure_awake()
    assert wake.calls == 2


def test_a_stopping_runner_is_started_by_the_next_job_view(local_resources: LocalResources) -> None:
    instance_id = _instance(local_resources, "stopped")
    clock = [0.0]
    cache: dict[str, tuple[str, float]] = {instance_id: ("stopping", 0.0)}
    wake = runner_wake.RunnerWake(
        client(local_resources, "ec2"), instance_id, monotonic=lambda: clock[0], cache=cache
    )
    assert wake.ensure_awake() == "stopping"  # cannot start yet: the job waits
    assert _state(local_resources, instance_id) == "stopped"
    clock[0] += runner_wake.OTHER_CACHE_S
    assert wake.ensure_awake() in ("pending", "running")
    assert _state(local_resources, instance_id) in ("pending", "running")


def test_without_an_instance_id_nothing_is_woken(local_resources: LocalResources) -> None:
    ctx = _api_context(local_resources, None)
    assert runner_wake.wake_for_job(ctx) is None
    assert runner_wake.runner_state(ctx) is None


def test_idle_stop_needs_the_quiet_period_and_an_empty_pool(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    """A runner busy with a long job is not stopped, however long it has had no message."""
    instance_id = _instance(local_resources)
    settings = replace(runner_settings(local_resources, tmp_path), test_job_delay_s=3.0)
    worker = make_worker(
        settings, local_resources, idle_stop=_idle_stop(local_resources, instance_id, 1.0)
    )
    upload_id, key = put_upload(local_resources, "proj1", small_zip())
    jobs.JobService(
        dynamodb=client(local_resources, "dynamodb"),
        sqs=client(local_resources, "sqs"),
        table=local_resources.table,
        queue_url=local_resources.queue_url,
    ).submit(
        project_id="proj1",
        kind="analyze",
        payload={"upload_id": upload_id, "key": key},
        request_id="r2",
    )
    seen_running: list[str] = []

    def watch() -> None:
        while not worker.stopped_for_idle:
            if worker.current_jobs and _state(local_resources, instance_id) == "running":
                seen_running.append("yes")
            time.sleep(0.2)

    threading.Thread(target=watch, daemon=True).start()
    worker.run(idle_exit_s=30)
    assert worker.stopped_for_idle
    assert len(seen_running) >= 5  # up for the whole 3 s job, though no message came

"""A runner that dies while CodeBuild builds its release leaves the build running in the
user's account; the restarted runner finds the build id on the release record and stops it.

Real pieces: the emulator's "user account" (CodeBuild, ECR, S3, ECS) reached through the
job's scoped session and the deploy role (the real STS), the release job handler, the
job and release items in the emulator's DynamoDB. The death is the runner's process
ending right after StartBuild answered, before its first BatchGetBuilds (moto finishes a
build at its first BatchGetBuilds, so no later moment leaves one running): a botocore
hook raises an exception nothing in the runner catches (as SIGKILL stops everything).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib import keys
from chalicelib.store.bundles import DynamoBundleStore
from chalicelib.store.jobs import DynamoJobStore
from chalicelib.store.releases import DynamoReleaseStore
from devtools.local_resources import REGION, LocalResources
from runner.errors import PermanentJobError
from runner.jobs.registry import HandlerRegistry
from runner.jobs.release import ShippingServices
from runner.local_runtime import http_probe
from runner.shipping.aws_access import AwsExecutorFactory, DeployRoleClients
from runner.shipping.settings import ShippingSettings
from runner.shipping.verify import HealthCheck
from tests.functional.shipping.aws_user_stack import (
    PROJECT,
    health_server,
    make_user_stack,
    put_item,
    seed,
)
from tests.functional.terraform.harness import EXTERNAL_ID, ROLE_ARN, job_session_issuer
from tests.functional.terraform.jobs_harness import JobsHarness, make_jobs_harness

pytestmark = pytest.mark.slow

FAST = ShippingSettings(executor="aws", poll_interval_s=0.1, wait_timeout_s=60)


class RunnerDiedError(BaseException):
    """The process ended here (a BaseException: no handler of the runner catches it)."""


def _shipping(
    jobs: JobsHarness, resources: LocalResources, hooks: dict[str, Any]
) -> ShippingServices:
    def session() -> Any:
        made = boto3.session.Session()
        for event, handler in hooks.items():
            made.events.register(event, handler)
        return made

    dynamodb, table = jobs.clients.dynamodb, jobs.settings.table
    clients = DeployRoleClients(
        issuer=job_session_issuer(resources),
        bucket=resources.bucket,
        stage="test",
        endpoint_url=resources.endpoint_url,
        session_factory=session,
    )
    return ShippingServices(
        executor=None,
        make_executor=AwsExecutorFactory(clients_for=clients, settings=FAST),
        check=HealthCheck(
            probe=http_probe, clock=time.time, sleep=time.sleep, timeout_s=3, interval_s=0.1
        ),
        releases=DynamoReleaseStore(dynamodb, table),
        bundles=DynamoBundleStore(dynamodb, table),
        jobs=DynamoJobStore(dynamodb, table),
    )


def test_a_build_left_running_by_a_killed_runner_is_stopped_on_restart(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    jobs = make_jobs_harness(local_resources, tmp_path)
    registry = HandlerRegistry()
    releases = DynamoReleaseStore(jobs.clients.dynamodb, jobs.settings.table)
    job_store = DynamoJobStore(jobs.clients.dynamodb, jobs.settings.table)

    def die(**_: Any) -> None:
        raise RunnerDiedError

    with health_server(200) as app:
        stack = make_user_stack(local_resources.endpoint_url, "ecs-fargate", app.url)
        seed(jobs, stack)
        payload = {
            "stack": "dep1", "bundle_id": "b1",
            "role_arn": ROLE_ARN, "external_id": EXTERNAL_ID, "region": REGION,
        }  # fmt: skip
        ctx = jobs.context("release", payload)
        ctx.services["shipping"] = _shipping(
            jobs, local_resources, {"before-call.codebuild.BatchGetBuilds": die}
        )
        put_item(jobs, {
            "pk": keys.project_pk(PROJECT), "sk": keys.job_sk(ctx.message.job_id),
            "job_id": ctx.message.job_id, "project_id": PROJECT, "kind": "release",
            "status": "running", "payload": payload, "runner_id": jobs.settings.runner_id,
            "lease_until": time.time() + 600, "created_at_epoch": time.time(),
        })  # fmt: skip
        with pytest.raises(RunnerDiedError):
            registry.resolve("release")(ctx)

        # What the dead runner left: a build running, its id on the release record.
        (build_id,) = stack.builds()
        (cut,) = [
            r for r in releases.list_project(PROJECT) if r.get("job_id") == ctx.message.job_id
        ]
        assert (cut["status"], cut["build_id"]) == ("building", build_id)
        left = job_store.get(PROJECT, ctx.message.job_id)
        assert left is not None and left.phase == "building"

        # The restarted runner's attempt: the job as it reads it when it claims it again.
        stops: list[dict[str, Any]] = []
        restarted = dataclasses.replace(
            ctx,
            job=left,
            attempt=2,
            services={
                **ctx.services,
                "shipping": _shipping(
                    jobs,
                    local_resources,
                    {
                        "provide-client-params.codebuild.StopBuild": lambda params, **_: (
                            stops.append(dict(params))
                        )
                    },
                ),
            },
        )
        with pytest.raises(PermanentJobError) as failed:
            registry.resolve("release")(restarted)

    assert "the runner stopped during building; the previous release is still serving" in str(
        failed.value
    )
    assert stops == [{"id": build_id}]  # through the job's scoped session, with the build's id
    lines = ctx.log.all_lines  # type: ignore[attr-defined]
    assert f"stopped CodeBuild {build_id} (left running by the stopped runner): STOPPED" in lines, (
        lines[-5:]
    )
    after = releases.get(PROJECT, cut["release_id"])
    assert after is not None
    assert (after["status"], after["failed_phase"]) == ("failed", "building")
    assert len(stack.builds()) == 1  # nothing built again

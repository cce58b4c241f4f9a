"""The AWS executors against the emulator: CodeBuild, ECR, ECS, SSM and Lambda of the
"user account", reached through the job's scoped session and the deploy role.

What the emulator proves: the calls, their order and arguments, and the state they leave
(the source in the build bucket, a build started, new task definitions and the service
on them, the SSM commands, the function's image and alias), and that a failed verify or
a redeploy of the same source do what they must. What only AWS proves: that CodeBuild
really builds and pushes the image (moto marks a build SUCCEEDED without running it),
that tasks and functions really run it (moto runs no container; the app's URL is a
loopback server standing in), and the Lambda release invocation (moto would need Docker).
"""

from __future__ import annotations

import hashlib
import io
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib import keys
from chalicelib.generate.plan import build_app_plans
from chalicelib.models.templates import TemplateRequest
from chalicelib.store.bundles import DynamoBundleStore
from chalicelib.store.jobs import DynamoJobStore
from chalicelib.store.releases import DynamoReleaseStore
from devtools.local_resources import REGION, LocalResources
from runner.analysis.engine import analyze_directory
from runner.errors import PermanentJobError
from runner.job_session import JobSessionError
from runner.jobs.context import JobContext
from runner.jobs.registry import HandlerRegistry
from runner.jobs.release import ShippingServices, live_image_tag
from runner.local_runtime import http_probe
from runner.shipping.aws_access import (
    AwsExecutorFactory,
    DeployAccess,
    DeployRoleClients,
    ExecutorRequest,
)
from runner.shipping.aws_ec2 import Ec2Executor
from runner.shipping.aws_lambda import LambdaExecutor
from runner.shipping.executor import ReleaseSpec
from runner.shipping.settings import ShippingSettings
from runner.shipping.verify import HealthCheck
from tests.functional.shipping.aws_user_stack import (
    DOCKERFILE,
    FIXTURE,
    OLD_TAG,
    PROJECT,
    HealthServer,
    UserStack,
    health_server,
    make_user_stack,
    put_item,
    seed,
)
from tests.functional.terraform.harness import EXTERNAL_ID, ROLE_ARN, job_session_issuer
from tests.functional.terraform.jobs_harness import JobsHarness, make_jobs_harness

pytestmark = pytest.mark.slow

FAST = ShippingSettings(executor="aws", poll_interval_s=0.1, wait_timeout_s=60)


def _shipping(jobs: JobsHarness, resources: LocalResources) -> ShippingServices:
    dynamodb, table = jobs.clients.dynamodb, jobs.settings.table
    clients = DeployRoleClients(
        issuer=job_session_issuer(resources),  # the runner's real path: scoped session + role
        bucket=resources.bucket,
        stage="test",
        endpoint_url=resources.endpoint_url,
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


def _release_job(
    jobs: JobsHarness, shipping: ShippingServices, with_role: bool = True
) -> JobContext:
    payload: dict[str, Any] = {"stack": "dep1", "bundle_id": "b1"}
    if with_role:  # as an apply job's payload; the API's rollback jobs name no role
        payload |= {"role_arn": ROLE_ARN, "external_id": EXTERNAL_ID, "region": REGION}
    ctx = jobs.context("release", payload)
    ctx.services["shipping"] = shipping
    put_item(jobs, {
        "pk": keys.project_pk(PROJECT), "sk": keys.job_sk(ctx.message.job_id),
        "job_id": ctx.message.job_id, "project_id": PROJECT, "kind": "release",
        "status": "running", "payload": payload, "runner_id": jobs.settings.runner_id,
        "lease_until": time.time() + 600, "created_at_epoch": time.time(),
    })  # fmt: skip
    return ctx


@pytest.fixture
def app() -> Iterator[HealthServer]:
    with health_server(200) as server:
        yield server


def test_an_ecs_release_builds_in_codebuild_runs_the_release_task_and_rolls_out(
    local_resources: LocalResources, tmp_path: Path, app: HealthServer
) -> None:
    jobs = make_jobs_harness(local_resources, tmp_path)
    registry = HandlerRegistry()
    stack = make_user_stack(local_resources.endpoint_url, "ecs-fargate", app.url)
    archive = seed(jobs, stack)
    shipping = _shipping(jobs, local_resources)
    ctx = _release_job(jobs, shipping)
    result = registry.resolve("release")(ctx)

    tag = "src-" + hashlib.sha256(archive).hexdigest()[:16]
    assert result.attributes["phase"] == "live"
    assert [t["phase"] for t in result.attributes["phase_timings"]] == [
        "building", "releasing", "verifying",
    ]  # fmt: skip
    assert result.result["outputs"]["app_url"]["value"] == app.url
    # The source went to the stack's build bucket with the bundle's Dockerfile on top.
    body = (
        stack.client("s3")
        .get_object(Bucket=f"{stack.name}-build", Key=f"sources/{tag}.zip")["Body"]
        .read()
    )
    source = zipfile.ZipFile(io.BytesIO(body))
    assert source.read("Dockerfile").decode() == DOCKERFILE
    assert "app.py" in source.namelist() and "infra/main.tf" not in source.namelist()
    assert len(stack.builds()) == 1
    # The release task ran the new image once, then the service moved to it.
    ecs = stack.client("ecs")
    release = ecs.describe_task_definition(taskDefinition=f"{stack.name}-release")
    assert release["taskDefinition"]["revision"] == 2
    assert release["taskDefinition"]["containerDefinitions"][0]["image"] == (
        f"{stack.repository_url}:{tag}"
    )
    stopped = ecs.list_tasks(cluster=stack.name, startedBy="autostack-release")["taskArns"]
    assert len(stopped) == 1
    assert stack.service_image() == f"{stack.repository_url}:{tag}"
    releases = {r["image_tag"]: r for r in shipping.releases.list_project(PROJECT)}
    assert (releases[tag]["status"], releases[OLD_TAG]["status"]) == ("live", "superseded")
    assert releases[tag]["executor"] == "aws-ecs"
    assert releases[tag]["target_outputs"]["build_project"]["value"] == f"{stack.name}-build"
    # The next Terraform plan of the stack keeps the image the executor rolled out.
    assert live_image_tag(ctx, "dep1") == tag
    log = jobs.log_text(ctx)
    assert "CodeBuild" in log and "release task" in log and "is steady" in log

    # A redeploy of the same source, its image already pushed: no second build; the
    # stack's outputs kept on the release say where the app is.
    stack.push(tag)
    probes = len(app.probes)
    again = _release_job(jobs, shipping, with_role=False)  # the live release's job names it
    registry.resolve("release")(again)
    assert len(app.probes) > probes
    assert len(stack.builds()) == 1
    assert "already in ECR" in jobs.log_text(again)


def test_an_ecs_release_that_never_answers_puts_the_previous_task_definition_back(
    local_resources: LocalResources, tmp_path: Path, app: HealthServer
) -> None:
    jobs = make_jobs_harness(local_resources, tmp_path)
    app.status[0] = 503
    stack = make_user_stack(local_resources.endpoint_url, "ecs-fargate", app.url)
    seed(jobs, stack)
    before = stack.service_image()
    shipping = _shipping(jobs, local_resources)
    with pytest.raises(PermanentJobError) as failed:
        HandlerRegistry().resolve("release")(_release_job(jobs, shipping))
    assert app.probes  # it was asked, and said 503
    assert failed.value.code == "verifying_failed"
    assert stack.service_image() == before == f"{stack.repository_url}:{OLD_TAG}"
    statuses = {r["image_tag"]: r["status"] for r in shipping.releases.list_project(PROJECT)}
    assert statuses[OLD_TAG] == "live" and "failed" in statuses.values()


def _executor(resources: LocalResources, stack: UserStack) -> Any:
    clients = DeployRoleClients(
        issuer=job_session_issuer(resources), bucket=resources.bucket, stage="test",
        endpoint_url=resources.endpoint_url,
    )  # fmt: skip
    request = ExecutorRequest(
        project_id=PROJECT, stack="dep1", job_id="job-x", target=stack.kind,
        outputs=stack.outputs,
        access=DeployAccess(ROLE_ARN, EXTERNAL_ID, REGION),
        clock=time.monotonic, sleep=time.sleep,
    )  # fmt: skip
    return AwsExecutorFactory(clients_for=clients, settings=FAST)(request)


def _spec(tmp_path: Path, tag: str) -> ReleaseSpec:
    plans = build_app_plans(
        analyze_directory(FIXTURE), TemplateRequest(analysis_id="an1", target="ec2")
    )
    return ReleaseSpec(
        project_id=PROJECT, stack="dep1", release_id="r2", image_tag=tag,
        plan=plans[0].model_copy(update={"release": ["flask db upgrade"]}),
        source_dir=FIXTURE, work_dir=tmp_path / "work",
        build_files={"Dockerfile": DOCKERFILE}, previous_image_tag=OLD_TAG,
    )  # fmt: skip


def test_ec2_swaps_the_container_through_ssm_and_discard_runs_the_previous_tag(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    stack = make_user_stack(local_resources.endpoint_url, "ec2", "http://127.0.0.1:9")
    executor = _executor(local_resources, stack)
    assert isinstance(executor, Ec2Executor)
    spec = _spec(tmp_path, "src-1111111111111111")
    lines: list[str] = []
    candidate = executor.build(spec, lines.append)
    executor.run_release(spec, candidate, lines.append)
    assert executor.roll_out(spec, candidate, lines.append) == "http://127.0.0.1:9"
    executor.discard(spec, candidate, lines.append)
    instance = stack.outputs["instance_id"]["value"]
    commands = stack.client("ssm").list_commands(InstanceId=instance)["Commands"]
    sent = sorted((c["RequestedDateTime"], c["Parameters"]["commands"][0]) for c in commands)
    assert [command for _, command in sent] == [  # both on this stack's instance, in order
        "/usr/local/bin/app-deploy src-1111111111111111",
        f"/usr/local/bin/app-deploy {OLD_TAG}",
    ]
    assert len(stack.builds()) == 1
    assert "the instance is back on " + OLD_TAG in lines


def test_lambda_moves_the_live_alias_to_a_new_version_and_discard_moves_it_back(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    stack = make_user_stack(local_resources.endpoint_url, "lambda", "http://127.0.0.1:9")
    executor = _executor(local_resources, stack)
    assert isinstance(executor, LambdaExecutor)
    spec = _spec(tmp_path, "src-2222222222222222")
    lam, name = stack.client("lambda"), stack.name
    candidate = executor.build(spec, print)
    executor.roll_out(spec, candidate, print)
    assert lam.get_function(FunctionName=name)["Code"]["ImageUri"] == (
        f"{stack.repository_url}:src-2222222222222222"
    )
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "2"
    executor.discard(spec, candidate, print)
    assert lam.get_function(FunctionName=name)["Code"]["ImageUri"] == (
        f"{stack.repository_url}:{OLD_TAG}"
    )
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "1"


def test_a_deploy_role_session_is_required_outside_the_local_stages(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    clients = DeployRoleClients(issuer=None, bucket=local_resources.bucket, stage="prod")
    request = ExecutorRequest(PROJECT, "dep1", "job-y", "ec2", {}, DeployAccess(
        ROLE_ARN, EXTERNAL_ID, REGION), time.monotonic, time.sleep)  # fmt: skip
    with pytest.raises(JobSessionError, match="AUTOSTACK_TERRAFORM_SESSION_ROLE_ARN"):
        clients(request)

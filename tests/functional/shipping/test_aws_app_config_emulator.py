"""The user's config reaches the app in AWS: the AWS executors against the emulator.

Set in the user's SSM under ``/autostack/<project>/<stack>/`` (a String and a
SecureString), read by the release job through the deploy role, then:
- ECS: every service on the app's image (the web service and a worker, not a monorepo
  companion on its own image) and the release task run a new task definition whose
  container has the value in ``environment`` and the secret as ``valueFrom`` = the
  parameter's own ARN (as SSM reports it); no task definition holds the secret's value;
- EC2: the SSM command names the tag only;
- Lambda: the version behind ``live`` has both in its environment, ``$LATEST`` is left as
  it was (no drift for Terraform's next plan), and discard brings the alias back.
The secret's value is in no job log line and no item of AutoStack's table.
What only AWS proves: that ECS really resolves ``valueFrom`` with the execution role at
task start (moto starts no container).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.models.app_config import parameter_prefix
from devtools.local_resources import LocalResources
from runner.jobs.registry import HandlerRegistry
from runner.shipping.app_config import read_environment
from runner.shipping.aws_ec2 import Ec2Executor
from runner.shipping.aws_lambda import LambdaExecutor
from tests.functional.shipping.aws_user_stack import (
    OLD_TAG,
    PROJECT,
    HealthServer,
    UserStack,
    health_server,
    make_user_stack,
    seed,
)
from tests.functional.shipping.test_aws_release_emulator import (
    _executor,
    _release_job,
    _shipping,
    _spec,
)
from tests.functional.terraform.jobs_harness import make_jobs_harness

pytestmark = pytest.mark.slow

SECRET = "sk_live_awsconfig_5f0c2a9e71"
PREFIX = parameter_prefix(PROJECT, "dep1")


@pytest.fixture
def app() -> Iterator[HealthServer]:
    with health_server(200) as server:
        yield server


@pytest.fixture
def user_config(local_resources: LocalResources) -> Iterator[dict[str, str]]:
    """LOG_LEVEL (String) and STRIPE_KEY (SecureString) in the user's SSM; their ARNs."""
    from tests.functional.shipping.aws_user_stack import client

    ssm = client(local_resources.endpoint_url, "ssm")
    ssm.put_parameter(Name=f"{PREFIX}/LOG_LEVEL", Value="debug", Type="String", Overwrite=True)
    ssm.put_parameter(
        Name=f"{PREFIX}/STRIPE_KEY", Value=SECRET, Type="SecureString", Overwrite=True
    )
    arns = {
        name: ssm.get_parameter(Name=f"{PREFIX}/{name}")["Parameter"]["ARN"]
        for name in ("LOG_LEVEL", "STRIPE_KEY")
    }
    yield arns
    ssm.delete_parameters(Names=[f"{PREFIX}/LOG_LEVEL", f"{PREFIX}/STRIPE_KEY"])


def _add_service(stack: UserStack, service: str, image: str) -> str:
    """Another service in the stack's cluster, as the bundle's worker / companion."""
    ecs, ec2 = stack.client("ecs"), stack.client("ec2")
    arn = ecs.register_task_definition(
        family=f"{stack.name}-{service}",
        requiresCompatibilities=["FARGATE"],
        networkMode="awsvpc",
        cpu="256",
        memory="512",
        containerDefinitions=[{"name": service, "image": image, "essential": True}],
    )["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(
        cluster=stack.name,
        serviceName=service,
        taskDefinition=arn,
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": [ec2.describe_subnets()["Subnets"][0]["SubnetId"]],
                "securityGroups": [ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]],
            }
        },
    )
    return str(arn)


def _container_of(stack: UserStack, service: str) -> dict[str, Any]:
    ecs = stack.client("ecs")
    running = ecs.describe_services(cluster=stack.name, services=[service])["services"][0]
    definition = ecs.describe_task_definition(taskDefinition=running["taskDefinition"])
    return dict(definition["taskDefinition"]["containerDefinitions"][0])


def _table_items(jobs: Any) -> str:
    dynamodb, table = jobs.clients.dynamodb, jobs.settings.table
    items, start = [], None
    while True:
        page = dynamodb.scan(TableName=table, **({"ExclusiveStartKey": start} if start else {}))
        items += page["Items"]
        start = page.get("LastEvaluatedKey")
        if not start:
            return json.dumps(items)


def test_ecs_services_and_the_release_task_get_the_config_and_secrets_by_arn(
    local_resources: LocalResources,
    tmp_path: Path,
    app: HealthServer,
    user_config: dict[str, str],
) -> None:
    jobs = make_jobs_harness(local_resources, tmp_path)
    stack = make_user_stack(local_resources.endpoint_url, "ecs-fargate", app.url)
    image = f"{stack.repository_url}:{OLD_TAG}"
    _add_service(stack, "worker-jobs", image)
    companion = _add_service(stack, "admin", "123456789012.dkr.ecr.us-east-1.amazonaws.com/x:1")
    archive = seed(jobs, stack)
    shipping = _shipping(jobs, local_resources)
    ctx = _release_job(jobs, shipping)
    result = HandlerRegistry().resolve("release")(ctx)
    assert result.attributes["phase"] == "live"

    tag = "src-" + hashlib.sha256(archive).hexdigest()[:16]
    for service in ("app", "worker-jobs"):  # every service on the app's image rolled
        container = _container_of(stack, service)
        assert container["image"] == f"{stack.repository_url}:{tag}", service
        env = {e["name"]: e["value"] for e in container.get("environment") or []}
        assert env["LOG_LEVEL"] == "debug"
        assert container["secrets"] == [
            {"name": "STRIPE_KEY", "valueFrom": user_config["STRIPE_KEY"]}
        ]
    ecs = stack.client("ecs")
    admin = ecs.describe_services(cluster=stack.name, services=["admin"])["services"][0]
    assert admin["taskDefinition"] == companion  # its own image: not this build's
    release = ecs.describe_task_definition(taskDefinition=f"{stack.name}-release")
    release_container = release["taskDefinition"]["containerDefinitions"][0]
    assert {"name": "LOG_LEVEL", "value": "debug"} in release_container["environment"]
    assert release_container["secrets"] == [
        {"name": "STRIPE_KEY", "valueFrom": user_config["STRIPE_KEY"]}
    ]

    # The value is nowhere AutoStack writes, nor in any task definition.
    definitions = [
        ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"]
        for arn in ecs.list_task_definitions()["taskDefinitionArns"]
    ]
    assert SECRET not in json.dumps(definitions)
    log = jobs.log_text(ctx)
    assert "STRIPE_KEY (secret)" in log and SECRET not in log
    assert SECRET not in _table_items(jobs)

    # The secret unset: the next release's task definitions drop it.
    stack.client("ssm").delete_parameter(Name=f"{PREFIX}/STRIPE_KEY")
    HandlerRegistry().resolve("release")(_release_job(jobs, shipping))
    for service in ("app", "worker-jobs"):
        container = _container_of(stack, service)
        assert "secrets" not in container or container["secrets"] == [], service
        env = {e["name"]: e["value"] for e in container.get("environment") or []}
        assert env["LOG_LEVEL"] == "debug" and env["AUTOSTACK_CONFIG_NAMES"] == "LOG_LEVEL"
    stack.client("ssm").put_parameter(
        Name=f"{PREFIX}/STRIPE_KEY", Value=SECRET, Type="SecureString", Overwrite=True
    )  # for the fixture's clean-up


def test_the_ec2_command_names_the_tag_only(
    local_resources: LocalResources, tmp_path: Path, user_config: dict[str, str]
) -> None:
    stack = make_user_stack(local_resources.endpoint_url, "ec2", "http://127.0.0.1:9")
    executor = _executor(local_resources, stack)
    assert isinstance(executor, Ec2Executor)
    config = read_environment(stack.client("ssm"), PREFIX)
    assert config.secrets == {"STRIPE_KEY": SECRET}
    spec = dataclasses.replace(_spec(tmp_path, "src-3333333333333333"), config=config)
    candidate = executor.build(spec, print)
    executor.roll_out(spec, candidate, print)
    instance = stack.outputs["instance_id"]["value"]
    commands = stack.client("ssm").list_commands(InstanceId=instance)["Commands"]
    assert [c["Parameters"] for c in commands] == [
        {"commands": ["/usr/local/bin/app-deploy src-3333333333333333"]}
    ]
    assert SECRET not in json.dumps(commands, default=str)


def test_lambda_serves_a_version_with_the_config_and_leaves_latest_as_terraform_wrote_it(
    local_resources: LocalResources, tmp_path: Path, user_config: dict[str, str]
) -> None:
    stack = make_user_stack(local_resources.endpoint_url, "lambda", "http://127.0.0.1:9")
    lam, name = stack.client("lambda"), stack.name
    terraform_env = {"PORT": "8000", "LOG_LEVEL": "info"}
    lam.update_function_configuration(FunctionName=name, Environment={"Variables": terraform_env})
    executor = _executor(local_resources, stack)
    assert isinstance(executor, LambdaExecutor)
    config = read_environment(stack.client("ssm"), PREFIX)
    spec = dataclasses.replace(_spec(tmp_path, "src-4444444444444444"), config=config)
    candidate = executor.build(spec, print)
    executor.roll_out(spec, candidate, print)

    live = lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"]
    assert live != "1"
    served = lam.get_function_configuration(FunctionName=name, Qualifier="live")
    assert served["Environment"]["Variables"] == {
        "PORT": "8000",
        "LOG_LEVEL": "debug",
        "STRIPE_KEY": SECRET,
        "AUTOSTACK_CONFIG_NAMES": "LOG_LEVEL,STRIPE_KEY",
    }
    latest = lam.get_function_configuration(FunctionName=name)
    assert latest["Environment"]["Variables"] == terraform_env
    executor.discard(spec, candidate, print)
    assert lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"] == "1"
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"]]
    assert live not in versions  # Terraform's alias follows the newest version: the old one

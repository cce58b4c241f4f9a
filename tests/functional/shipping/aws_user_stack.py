"""A deployed stack in the emulator's "user account", as a generated bundle leaves it.

Made with boto3 (not a Terraform apply: test_gen_deploy_emulator.py applies the bundles
themselves): the ECR repository, the build-source bucket, the CodeBuild project and its
log group, and per target the ECS cluster/service/task definitions, the EC2 instance or
the Lambda function. ``outputs`` is what the bundle's Terraform outputs would say.
"""

from __future__ import annotations

import http.server
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3

from devtools.local_resources import REGION

OLD_TAG = "src-0000000000000000"


def client(endpoint_url: str, name: str) -> Any:
    return boto3.client(
        name,
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@dataclass
class UserStack:
    endpoint_url: str
    kind: str
    name: str
    outputs: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        return client(self.endpoint_url, service)

    @property
    def repository_url(self) -> str:
        return str(self.outputs["ecr_repository_url"]["value"])

    def push(self, tag: str) -> None:
        """An image with ``tag`` in the repository (what CodeBuild's push leaves)."""
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "digest": "sha256:" + secrets.token_hex(32),
                "size": 1,
                "mediaType": "application/vnd.docker.container.image.v1+json",
            },
            "layers": [],
        }
        self.client("ecr").put_image(
            repositoryName=self.name, imageManifest=json.dumps(manifest), imageTag=tag
        )

    def builds(self) -> list[str]:
        return list(
            self.client("codebuild").list_builds_for_project(projectName=f"{self.name}-build")[
                "ids"
            ]
        )

    def service_image(self) -> str:
        ecs = self.client("ecs")
        service = ecs.describe_services(cluster=self.name, services=["app"])["services"][0]
        definition = ecs.describe_task_definition(taskDefinition=service["taskDefinition"])
        return str(definition["taskDefinition"]["containerDefinitions"][0]["image"])


def _role(iam: Any, name: str, service: str) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
        ],
    }
    return str(
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    )


def make_user_stack(endpoint_url: str, kind: str, app_url: str) -> UserStack:
    name = f"shop-{secrets.token_hex(3)}"
    stack = UserStack(endpoint_url, kind, name)
    repo = stack.client("ecr").create_repository(repositoryName=name)["repository"]
    bucket = f"{name}-build"
    stack.client("s3").create_bucket(Bucket=bucket)  # in us-east-1, as the emulator's stack
    stack.client("logs").create_log_group(logGroupName=f"/aws/codebuild/{name}")
    iam = stack.client("iam")
    stack.client("codebuild").create_project(
        name=f"{name}-build",
        source={"type": "S3", "location": f"{bucket}/sources/latest.zip"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/amazonlinux2-x86_64-standard:5.0",
            "computeType": "BUILD_GENERAL1_SMALL",
            "privilegedMode": True,
        },
        serviceRole=_role(iam, f"{name}-build", "codebuild.amazonaws.com"),
    )
    outputs: dict[str, Any] = {
        "app_url": app_url,
        "build_project": f"{name}-build",
        "build_source_bucket": bucket,
        "ecr_repository_url": repo["repositoryUri"],
        "log_group": f"/autostack/{name}",
    }
    image = f"{repo['repositoryUri']}:{OLD_TAG}"
    if kind == "ecs-fargate":
        outputs.update(_ecs(stack, image))
    elif kind == "ec2":
        ec2 = stack.client("ec2")
        instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)
        outputs["instance_id"] = instance["Instances"][0]["InstanceId"]
    elif kind == "lambda":
        lam = stack.client("lambda")
        lam.create_function(
            FunctionName=name,
            Role=_role(iam, f"{name}-function", "lambda.amazonaws.com"),
            PackageType="Image",
            Code={"ImageUri": image},
        )
        version = lam.publish_version(FunctionName=name)["Version"]
        lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)
        outputs["function_name"] = name
    stack.outputs = {k: {"value": v, "sensitive": False} for k, v in outputs.items()}
    return stack


def _ecs(stack: UserStack, image: str) -> dict[str, Any]:
    ecs, ec2, name = stack.client("ecs"), stack.client("ec2"), stack.name
    ecs.create_cluster(clusterName=name)
    subnet = ec2.describe_subnets()["Subnets"][0]["SubnetId"]
    group = ec2.describe_security_groups()["SecurityGroups"][0]["GroupId"]

    def register(family: str, container: str, command: list[str] | None) -> str:
        definition: dict[str, Any] = {
            "name": container,
            "image": image,
            "essential": True,
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": f"/autostack/{name}",
                    "awslogs-region": REGION,
                    "awslogs-stream-prefix": container,
                },
            },
        }
        if command:
            definition["command"] = command
        # As the bundle's: the memory is the task's, no container sets its own.
        return str(
            ecs.register_task_definition(
                family=family,
                requiresCompatibilities=["FARGATE"],
                networkMode="awsvpc",
                cpu="256",
                memory="512",
                containerDefinitions=[definition],
            )["taskDefinition"]["taskDefinitionArn"]
        )

    app = register(f"{name}-app", "app", None)
    release = register(f"{name}-release", "release", ["/bin/sh", "-c", "flask db upgrade"])
    ecs.create_service(
        cluster=name,
        serviceName="app",
        taskDefinition=app,
        desiredCount=1,
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [group]}
        },
    )
    return {
        "ecs_cluster": name,
        "ecs_service": "app",
        "release_task": {"task_definition": release, "subnets": [subnet], "security_group": group},
    }


@dataclass
class HealthServer:
    """A loopback HTTP server standing in for the app behind the stack's URL (the emulator
    runs no container): it answers ``status`` and counts the probes."""

    url: str
    status: list[int]
    probed: threading.Event
    probes: list[str]


@contextmanager
def health_server(status: int = 200) -> Iterator[HealthServer]:
    state = HealthServer(url="", status=[status], probed=threading.Event(), probes=[])

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.probes.append(self.path)
            state.probed.set()
            self.send_response(state.status[0])
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()

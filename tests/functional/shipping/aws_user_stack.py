"""A deployed stack in the emulator's "user account", as a generated bundle leaves it.

Made with boto3 (not a Terraform apply: test_gen_deploy_emulator.py applies the bundles
themselves): the ECR repository, the build-source bucket, the CodeBuild project and its
log group, and per target the ECS cluster/service/task definitions, the EC2 instance or
the Lambda function. ``outputs`` is what the bundle's Terraform outputs would say.
"""

from __future__ import annotations

import http.server
import io
import json
import secrets
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from chalicelib import keys
from chalicelib.generate.plan import build_app_plans
from chalicelib.models.templates import TemplateRequest
from chalicelib.store.bundles import DynamoBundleStore
from chalicelib.store.codec import to_item
from chalicelib.store.releases import DynamoReleaseStore
from devtools.local_resources import REGION
from runner.analysis.engine import analyze_directory
from tests.functional.terraform.jobs_harness import JobsHarness

OLD_TAG = "src-0000000000000000"
FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "shipping" / "flask_hello"
PROJECT = "proj1"
DOCKERFILE = "FROM python:3.13-slim\nCOPY . /app\n"


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


def create_build_project(stack_client: Callable[[str], Any], name: str, *, privileged: bool) -> str:
    """What a bundle's codebuild.tf makes for a stack named ``name``: the build-source bucket
    (in us-east-1, as the emulator's stack), the log group, the role and the project, all
    ``<name>-build``. Returns the bucket's name."""
    bucket = f"{name}-build"
    stack_client("s3").create_bucket(Bucket=bucket)
    stack_client("logs").create_log_group(logGroupName=f"/aws/codebuild/{name}")
    stack_client("codebuild").create_project(
        name=f"{name}-build",
        source={"type": "S3", "location": f"{bucket}/sources/latest.zip"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/amazonlinux2-x86_64-standard:5.0",
            "computeType": "BUILD_GENERAL1_SMALL",
            "privilegedMode": privileged,
        },
        serviceRole=_role(stack_client("iam"), f"{name}-build", "codebuild.amazonaws.com"),
    )
    return bucket


def make_user_stack(endpoint_url: str, kind: str, app_url: str) -> UserStack:
    name = f"shop-{secrets.token_hex(3)}"
    stack = UserStack(endpoint_url, kind, name)
    repo = stack.client("ecr").create_repository(repositoryName=name)["repository"]
    bucket = create_build_project(stack.client, name, privileged=True)  # docker builds
    iam = stack.client("iam")
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


def _zip(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def put_item(jobs: JobsHarness, item: dict[str, Any]) -> None:
    jobs.clients.dynamodb.put_item(TableName=jobs.settings.table, Item=to_item(item))


def seed(jobs: JobsHarness, stack: UserStack) -> bytes:
    """Bundle b1 (target ``stack.kind``) generated from upload up1, and a live release
    src-0000... on stack dep1 with the stack's outputs (as after a first deploy)."""
    s3, bucket = jobs.clients.s3, jobs.settings.bucket
    plans = build_app_plans(
        analyze_directory(FIXTURE), TemplateRequest(analysis_id="an1", target=stack.kind)
    )
    dumped = [p.model_dump(mode="json") for p in plans]
    dumped[0]["release"] = ["flask db upgrade"]
    document = {
        "record": {"id": "b1", "plans": dumped, "target": stack.kind},
        "files": {"Dockerfile": DOCKERFILE, "infra/main.tf": "# not a build file"},
    }
    s3.put_object(Bucket=bucket, Key=keys.bundle_document_key(PROJECT, "b1"),
                  Body=json.dumps(document).encode())  # fmt: skip
    archive = _zip(FIXTURE)
    s3.put_object(Bucket=bucket, Key=keys.upload_key(PROJECT, "up1", "zip"), Body=archive)
    DynamoBundleStore(jobs.clients.dynamodb, jobs.settings.table).put(
        PROJECT, "b1", {"bundle_id": "b1", "analysis_id": "an1", "target": stack.kind}
    )
    put_item(jobs, {
        "pk": keys.project_pk(PROJECT), "sk": keys.job_sk("an1"), "job_id": "an1",
        "project_id": PROJECT, "kind": "analyze", "status": "succeeded",
        "created_at_epoch": time.time(),
        "payload": {"upload_id": "up1", "key": keys.upload_key(PROJECT, "up1", "zip")},
    })  # fmt: skip
    DynamoReleaseStore(jobs.clients.dynamodb, jobs.settings.table).put(
        PROJECT, "0000000000001-first", {
            "stack": "dep1", "bundle_id": "b1", "image_tag": OLD_TAG, "status": "live",
            "created_at_epoch": time.time() - 60, "target_outputs": stack.outputs,
        },
    )  # fmt: skip
    return archive


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

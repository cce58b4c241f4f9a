"""A release job reads the app's config from the user's SSM and the app runs with it.

Real pieces: the emulator's STS (the deploy role of another account, assumed with the
project's ExternalId) and SSM (a String and a SecureString under the project's prefix),
the stack's deployment items in DynamoDB (where the runner finds the role), the real
local runtime (a stdlib Python app: a fresh venv, its release command, its server). The
app shows what it received; the release command prints the secret, and the job's log has
it masked."""

from __future__ import annotations

import hashlib
import io
import json
import os
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib import keys
from chalicelib.store.bundles import DynamoBundleStore
from chalicelib.store.codec import to_item
from chalicelib.store.jobs import DynamoJobStore
from chalicelib.store.releases import DynamoReleaseStore
from devtools.local_resources import LocalResources
from runner.errors import PermanentJobError
from runner.jobs.registry import HandlerRegistry
from runner.jobs.release import ShippingServices
from runner.local_runtime import LocalRuntime, SubprocessRunner, http_probe
from runner.shipping.local import LocalApps, LocalExecutor
from runner.shipping.verify import HealthCheck
from tests.functional.terraform.jobs_harness import JobsHarness, make_jobs_harness

pytestmark = pytest.mark.slow

PROJECT = "proj1"
USER_ROLE = "arn:aws:iam::210987654321:role/autostack-deploy"
EXTERNAL_ID = "ext-config-1"
SECRET = "sk_live_config_0123456789"
SERVER = """
import hashlib, json, os
from http.server import BaseHTTPRequestHandler, HTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({
            "LOG_LEVEL": os.environ.get("LOG_LEVEL"),
            "API_KEY_SHA256": hashlib.sha256(os.environ.get("API_KEY", "").encode()).hexdigest(),
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""
RELEASE = 'import os\nprint("release sees", os.environ["API_KEY"], os.environ["LOG_LEVEL"])\n'
PLAN = {
    "name": "cfgapp",
    "path": ".",
    "toolchain": {"language": "python", "version": "3.12", "image": "python:3.12-slim"},
    "package_manager": "pip",
    "release": ["python release.py"],
    "start": "python server.py",
    "port": 8000,
    "health_path": "/health",
    "secrets": [{"name": "API_KEY", "kind": "provided"}],
}


@pytest.fixture
def apps() -> Iterator[LocalApps]:
    serving = LocalApps()
    yield serving
    serving.stop_all()


def _put(jobs: JobsHarness, item: dict[str, Any]) -> None:
    jobs.clients.dynamodb.put_item(TableName=jobs.settings.table, Item=to_item(item))


def _world(jobs: JobsHarness, project: str = PROJECT) -> None:
    """Bundle b1 (the plan above) from upload up1; stack main deployed by d1 with the role."""
    s3, bucket = jobs.clients.s3, jobs.settings.bucket
    document = {"record": {"id": "b1", "plans": [PLAN]}}
    s3.put_object(Bucket=bucket, Key=keys.bundle_document_key(project, "b1"),
                  Body=json.dumps(document).encode())  # fmt: skip
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("server.py", SERVER)
        archive.writestr("release.py", RELEASE)
    s3.put_object(Bucket=bucket, Key=keys.upload_key(project, "up1", "zip"),
                  Body=buffer.getvalue())  # fmt: skip
    DynamoBundleStore(jobs.clients.dynamodb, jobs.settings.table).put(
        project, "b1", {"bundle_id": "b1", "analysis_id": "an1", "target": "ec2"}
    )
    base = {"pk": keys.project_pk(project), "project_id": project, "created_at_epoch": time.time()}
    role = {"role_arn": USER_ROLE, "external_id": EXTERNAL_ID, "region": "us-east-1"}
    for item in (
        {**base, "sk": keys.job_sk("an1"), "job_id": "an1", "kind": "analyze",
         "status": "succeeded",
         "payload": {"upload_id": "up1", "key": keys.upload_key(project, "up1", "zip")}},
        {**base, "sk": keys.job_sk("plan1"), "job_id": "plan1", "kind": "plan",
         "status": "succeeded", "payload": {"stack": "main", "bundle_id": "b1", **role}},
        {**base, "sk": keys.deploy_sk("d1"), "deployment_id": "d1", "stack": "main",
         "action": "deploy", "bundle_id": "b1", "role_arn": USER_ROLE, "region": "us-east-1",
         "plan_job_id": "plan1"},
        {**base, "sk": keys.stack_sk("main"), "stack": "main", "current_deployment_id": "d1"},
    ):  # fmt: skip
        _put(jobs, item)


def _user_ssm(jobs: JobsHarness) -> Any:
    sts = jobs.client("sts")
    creds = sts.assume_role(RoleArn=USER_ROLE, RoleSessionName="test-setup")["Credentials"]
    return boto3.client(
        "ssm", region_name="us-east-1", endpoint_url=jobs.settings.endpoint_url,
        aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )  # fmt: skip


def _shipping(jobs: JobsHarness, apps: LocalApps) -> ShippingServices:
    dynamodb, table = jobs.clients.dynamodb, jobs.settings.table
    runtime = LocalRuntime(runner=SubprocessRunner(), machine_env=dict(os.environ))
    return ShippingServices(
        executor=LocalExecutor(runtime=runtime, apps=apps),
        check=HealthCheck(probe=http_probe, clock=time.time, sleep=time.sleep, timeout_s=15),
        releases=DynamoReleaseStore(dynamodb, table),
        bundles=DynamoBundleStore(dynamodb, table),
        jobs=DynamoJobStore(dynamodb, table),
    )


def _release_job(jobs: JobsHarness, shipping: ShippingServices, project: str = PROJECT) -> Any:
    ctx = jobs.context("release", {"stack": "main", "bundle_id": "b1"}, project_id=project)
    ctx.services["shipping"] = shipping
    _put(jobs, {"pk": keys.project_pk(project), "sk": keys.job_sk(ctx.message.job_id),
                "job_id": ctx.message.job_id, "project_id": project, "kind": "release",
                "status": "running", "payload": dict(ctx.message.payload),
                "runner_id": jobs.settings.runner_id,
                "lease_until": time.time() + 600})  # fmt: skip
    return ctx


def test_a_release_runs_the_app_with_its_config_and_masks_the_secret(
    local_resources: LocalResources, tmp_path: Path, apps: LocalApps
) -> None:
    jobs = make_jobs_harness(local_resources, tmp_path)
    _world(jobs)
    ssm = _user_ssm(jobs)
    ssm.put_parameter(Name=f"/autostack/{PROJECT}/main/LOG_LEVEL", Value="debug", Type="String")
    ssm.put_parameter(Name=f"/autostack/{PROJECT}/main/API_KEY", Value=SECRET,
                      Type="SecureString")  # fmt: skip
    shipping = _shipping(jobs, apps)

    ctx = _release_job(jobs, shipping)
    released = HandlerRegistry().resolve("release")(ctx)

    url = released.result["outputs"]["app_url"]["value"]
    with urllib.request.urlopen(url + "/env", timeout=5) as answer:  # noqa: S310 (loopback)
        seen = json.loads(answer.read())
    assert seen == {
        "LOG_LEVEL": "debug",
        "API_KEY_SHA256": hashlib.sha256(SECRET.encode()).hexdigest(),
    }
    log = jobs.log_text(ctx)
    assert "app config: LOG_LEVEL=..., API_KEY (secret)" in log
    assert "release sees **** debug" in log  # the release command's output, masked
    assert SECRET not in log
    item = shipping.jobs.get(PROJECT, ctx.message.job_id)
    assert item is not None and SECRET not in json.dumps(item.model_dump(mode="json"))
    (release,) = shipping.releases.list_project(PROJECT)
    assert release["status"] == "live" and SECRET not in json.dumps(release, default=str)


def test_without_its_provided_secret_the_app_fails_in_building_naming_it(
    local_resources: LocalResources, tmp_path: Path, apps: LocalApps
) -> None:
    jobs = make_jobs_harness(local_resources, tmp_path)
    _world(jobs, "proj2")  # no config under /autostack/proj2/
    ctx = _release_job(jobs, _shipping(jobs, apps), "proj2")
    with pytest.raises(PermanentJobError) as failed:
        HandlerRegistry().resolve("release")(ctx)
    assert "secrets.API_KEY" in failed.value.message

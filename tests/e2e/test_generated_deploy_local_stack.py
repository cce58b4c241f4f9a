"""`make run` end to end with a generated bundle and the real AWS provider (the local walkthrough).

The emulator, `chalice local` and the runner as processes, over HTTP only: upload a real
app archive, analyze it, generate the targets that fit (ec2, ecs-fargate, lambda; a
static site for static), deploy the ec2 bundle, approve, `applied` with outputs and the
resources in the emulator, the log, destroy back to an empty state. The runner is in
the local stage, so it writes the endpoint override (``runner.local_endpoints``) into
its workspace; the bundle is the one the API generated, unchanged.
"""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from devtools.local_stack import LocalStack
from tests.support.emulator import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
PASSWORD = "correct horse battery"
ROLE_ARN = "arn:aws:iam::123456789012:role/autostack-deploy"
MIRROR = Path("/opt/tf-plugins")

APP = {
    "notes/app.py": (
        "import os\nfrom flask import Flask\n\napp = Flask(__name__)\n\n"
        "@app.get('/health')\ndef health():\n    return 'ok'\n\n"
        "if __name__ == '__main__':\n"
        "    app.run(port=int(os.environ.get('PORT', 8000)))\n"
    ),
    "notes/requirements.txt": "flask==3.0.3\ngunicorn==22.0.0\n",
    "notes/Procfile": "web: gunicorn -b 0.0.0.0:8000 app:app\n",
}
SITE = {"site/index.html": "<!doctype html><title>hi</title><h1>hi</h1>\n"}


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


class Api:
    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        creds = {"email": f"walk{time.time_ns()}@example.com", "password": PASSWORD}
        assert self.http.post(f"{url}/auth/signup", json=creds, timeout=30).status_code == 201
        token = self.http.post(f"{url}/auth/login", json=creds, timeout=30).json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {token}"

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        response = self.http.request(method, self.url + path, json=body, timeout=60)
        assert response.status_code == status, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    def analyzed(self, project: str, files: dict[str, str]) -> str:
        upload = self.ok("POST", f"/projects/{project}/uploads", {"format": "zip"}, 201)
        post = upload["upload"]
        sent = requests.post(
            post["url"],
            data=post["fields"],
            files={"file": ("app.zip", _zip(files), post["content_type"])},
            timeout=60,
        )
        assert sent.status_code in (200, 201, 204), sent.text
        job = self.ok("POST", f"/projects/{project}/analyses", {"upload_id": upload["id"]}, 202)
        for _ in range(30):
            job = self.ok("GET", f"/projects/{project}/analyses/{job['id']}?wait=10")
            if job["status"] in ("succeeded", "failed", "cancelled"):
                break
        assert job["status"] == "succeeded", job
        return str(job["id"])

    def until(self, project: str, deployment: str, statuses: set[str], timeout_s: float) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            answer = self.ok("GET", f"/projects/{project}/deployments/{deployment}?wait=15")
            if answer["status"] in statuses:
                return answer
        raise AssertionError(f"deployment {deployment} not {statuses} after {timeout_s}s")

    def log(self, project: str, deployment: str) -> str:
        path = f"/projects/{project}/deployments/{deployment}/logs"
        text, after = "", 0
        for _ in range(100):
            answer = self.ok("GET", f"{path}?after={after}&wait=2")
            text += answer["text"]
            after = answer["next"]
            if answer["complete"]:
                return text
        raise AssertionError("the log never completed")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    assert MIRROR.is_dir(), f"the hashicorp/aws provider mirror {MIRROR} is needed"
    tmp = tmp_path_factory.mktemp("walkthrough")
    local = LocalStack(
        emulator_port=free_port(),
        api_port=free_port(),
        extra_env={
            "AUTOSTACK_SCRYPT_N": "4096",
            "AUTOSTACK_RUNNER_DB": str(tmp / "runner.db"),
            "AUTOSTACK_RUNNER_WORK_DIR": str(tmp / "work"),
            "AUTOSTACK_RUNNER_WAIT_S": "1",
            "AUTOSTACK_STATUS_RATE_LIMIT": "2000",
            "AUTOSTACK_TF_PLUGIN_DIR": str(MIRROR),
        },
        quiet=True,
    )
    local.start()
    yield local
    local.stop()


def _ec2(stack: LocalStack) -> Any:
    return boto3.client(
        "ec2",
        endpoint_url=stack.emulator_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_generated_ec2_bundle_deploys_to_the_emulator_and_destroys(stack: LocalStack) -> None:
    api = Api(stack.api_url)
    project = api.ok("POST", "/projects", {"name": "notes"}, 201)["id"]
    analysis = api.analyzed(project, APP)

    bundles = {}
    for target in ("ec2", "ecs-fargate", "lambda"):
        body = {"analysis_id": analysis, "target": target}
        bundles[target] = api.ok("POST", f"/projects/{project}/templates", body, 201)
        assert "infra/versions.tf" in bundles[target]["files"]
    site = api.analyzed(project, SITE)
    static = api.ok("POST", f"/projects/{project}/templates", {"analysis_id": site}, 201)
    assert static["target"] == "static"

    created = api.ok(
        "POST",
        f"/projects/{project}/deployments",
        {"bundle_id": bundles["ec2"]["id"], "role_arn": ROLE_ARN, "region": "us-east-1"},
        202,
    )
    planned = api.until(project, created["id"], {"planned", "failed"}, 600)
    assert planned["status"] == "planned", planned.get("error")
    assert planned["plan"]["add"] > 10 and planned["plan"]["destroy"] == 0
    assert planned["cost"]["monthly_usd"] > 0  # the generated bundle's estimate

    path = f"/projects/{project}/deployments/{created['id']}"
    assert api.ok("POST", path + "/approve", status=202)["status"] == "applying"
    applied = api.until(project, created["id"], {"applied", "failed"}, 600)
    assert applied["status"] == "applied", applied.get("error")
    outputs = {o["name"]: o["value"] for o in applied["outputs"]}
    assert outputs["app_url"].startswith("http") and outputs["instance_id"].startswith("i-")
    assert "aws_instance.app" in applied["resources_in_state"]
    # The instance exists in the emulator: the provider's calls went there.
    found = _ec2(stack).describe_instances(InstanceIds=[outputs["instance_id"]])
    assert found["Reservations"][0]["Instances"][0]["State"]["Name"] in ("pending", "running")
    log = api.log(project, created["id"])
    assert "Apply complete!" in log and "aws_instance.app: Creation complete" in log

    destroy = api.ok("POST", path + "/destroy", {"auto_approve": True}, 202)
    done = api.until(project, destroy["id"], {"applied", "failed"}, 600)
    assert done["status"] == "applied", done.get("error")
    assert done["resources_in_state"] == []
    gone = _ec2(stack).describe_instances(InstanceIds=[outputs["instance_id"]])
    assert gone["Reservations"][0]["Instances"][0]["State"]["Name"] == "terminated"

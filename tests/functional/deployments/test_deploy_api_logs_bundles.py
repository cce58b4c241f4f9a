"""Deployment logs (incremental, masked, cheap to follow) and user-uploaded Terraform bundles."""

from __future__ import annotations

import time
import zipfile
from typing import Any

import pytest
import requests

from devtools.local_resources import LocalResources
from tests.functional.deployments.deploy_harness import (
    TF_MAIN,
    DeployApi,
    deploy_api,
    zip_bytes,
)

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.fixture
def api(local_resources: LocalResources) -> Any:
    with deploy_api(local_resources, status_rate_limit=30) as client:
        yield client


def _part(api: DeployApi, project_id: str, job_id: str, attempt: int, part: int, text: str) -> None:
    key = f"logs/{project_id}/{job_id}/attempt-{attempt}/part-{part:04d}.log"
    api.s3.put_object(Bucket=api.bucket, Key=key, Body=text.encode())


def test_logs_are_read_incrementally_in_order_and_masked(api: DeployApi) -> None:
    project_id = api.new_project()
    _, created = api.deploy(project_id, api.generated_bundle(project_id))
    job_id = created["jobs"][0]["id"]
    path = f"/projects/{project_id}/deployments/{created['id']}/logs"
    status, empty, _ = api.call("GET", path)
    assert status == 200 and empty == {
        "after": 0, "next": 0, "text": "", "complete": False, "status": "queued"
    }  # fmt: skip

    api.run_job(project_id, job_id, "running", now=time.time())
    _part(api, project_id, job_id, 1, 1, "terraform init\nInitializing the backend...\n")
    _part(
        api,
        project_id,
        job_id,
        1,
        2,
        f"key AKIAABCDEFGHIJKLMNOP aws_secret_access_key = {SECRET}\n",
    )
    first = api.call("GET", path)[1]
    assert first["text"].startswith("terraform init\nInitializing the backend...\n")
    assert "AKIAABCDEFGHIJKLMNOP" not in first["text"] and SECRET not in first["text"]
    assert "****" in first["text"] and first["complete"] is False
    # A later attempt and part 10 (after part 2: numeric order) come after what was read.
    _part(api, project_id, job_id, 1, 10, "part ten\n")
    _part(api, project_id, job_id, 2, 1, "attempt two\n")
    second = api.call("GET", f"{path}?after={first['next']}")[1]
    assert second["text"] == "part ten\nattempt two\n"
    assert second["after"] == first["next"] and second["next"] > first["next"]
    api.jobstore().finish(project_id, job_id, "runner-test", time.time(), "failed",
                          error={"code": "terraform_failed", "message": "boom"})  # fmt: skip
    last = api.call("GET", f"{path}?after={second['next']}")[1]
    assert last["text"] == "" and last["complete"] is True and last["status"] == "failed"


def test_following_a_deployment_uses_the_status_bucket_not_the_default_one(
    api: DeployApi,
) -> None:
    project_id = api.new_project()
    _, created = api.deploy(project_id, api.generated_bundle(project_id))
    base = f"/projects/{project_id}/deployments/{created['id']}"
    limit = api.context.settings.rate_limit  # 50 by default
    for n in range(30):  # the status bucket's limit in this test
        status, _, headers = api.call("GET", base if n % 2 else base + "/logs")
        assert status == 200
        assert headers["X-RateLimit-Limit"] == "30"
    status, body, _ = api.call("GET", base)
    assert status == 429 and body["error"]["details"]["bucket"] == "status"
    status, _, headers = api.call("GET", f"/projects/{project_id}")  # default bucket untouched
    assert status == 200 and int(headers["X-RateLimit-Remaining"]) >= limit - 10


def _upload(api: DeployApi, project_id: str, data: bytes, **extra: Any) -> str:
    status, created, _ = api.call(
        "POST", f"/projects/{project_id}/bundles", {"format": "zip", **extra}
    )
    assert status == 201, created
    upload = created["upload"]
    assert upload["fields"]["key"] == f"bundles/{project_id}/{created['id']}.zip"
    assert upload["max_bytes"] == api.context.settings.max_upload_bytes
    response = requests.post(
        upload["url"], data=upload["fields"], files={"file": ("b.zip", data)}, timeout=10
    )
    assert response.status_code in (200, 201, 204), response.text
    return str(created["id"])


def test_an_uploaded_bundle_is_unpacked_and_deploys_like_a_generated_one(api: DeployApi) -> None:
    project_id = api.new_project()
    data = zip_bytes({"my-stack/infra/main.tf": TF_MAIN, "my-stack/README.md": "hi"})
    bundle_id = _upload(api, project_id, data)
    status, body = api.deploy(project_id, bundle_id)
    assert status == 409 and body["error"]["code"] == "bundle_not_ready"
    path = f"/projects/{project_id}/bundles/{bundle_id}"
    status, ready, _ = api.call("POST", path + "/complete")
    assert status == 200, ready
    assert ready["status"] == "ready" and ready["files"] == ["README.md", "infra/main.tf"]
    stored = api.s3.get_object(
        Bucket=api.bucket, Key=f"bundles/{project_id}/{bundle_id}/infra/main.tf"
    )
    assert stored["Body"].read().decode() == TF_MAIN
    assert api.call("GET", path)[1]["status"] == "ready"
    status, created = api.deploy(project_id, bundle_id)
    assert status == 202, created
    assert created["bundle_source"] == "uploaded"
    assert created["cost"]["monthly_usd"] is None and "uploaded" in created["cost"]["note"]
    listed = api.call("GET", f"/projects/{project_id}/bundles")[1]["bundles"]
    assert [(b["id"], b["status"]) for b in listed] == [(bundle_id, "ready")]
    templates = api.call("GET", f"/projects/{project_id}/templates")[1]
    assert templates == {"bundles": []}  # uploaded bundles are not template bundles


def _zip_with_link() -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("main.tf", TF_MAIN)
        link = zipfile.ZipInfo("creds")
        link.external_attr = (0o120777) << 16
        archive.writestr(link, "/root/.aws/credentials")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (zip_bytes({"../main.tf": TF_MAIN}), "not a safe relative path"),
        (zip_bytes({"/etc/main.tf": TF_MAIN}), "not a safe relative path"),
        (_zip_with_link(), "a link"),
        (zip_bytes({"app.py": "print(1)"}), "no .tf file"),
        (b"not a zip at all", "not a zip archive"),
        (zip_bytes({"main.tf": TF_MAIN, "big.txt": "0" * (21 * 1024 * 1024)}), "unpacks to"),
    ],
    ids=["dotdot", "absolute", "symlink", "no-terraform", "not-zip", "bomb"],
)
def test_a_refused_zip_is_deleted_and_rejected_with_the_reason(
    api: DeployApi, data: bytes, says: str
) -> None:
    project_id = api.new_project()
    bundle_id = _upload(api, project_id, data)
    status, body, _ = api.call("POST", f"/projects/{project_id}/bundles/{bundle_id}/complete")
    assert status == 422, body
    assert says in body["error"]["message"]
    listed = api.s3.list_objects_v2(Bucket=api.bucket, Prefix=f"bundles/{project_id}/")
    assert listed.get("KeyCount", 0) == 0
    status, body = api.deploy(project_id, bundle_id)
    assert status == 409 and body["error"]["code"] == "bundle_not_ready"


def test_complete_before_the_upload_is_409(api: DeployApi) -> None:
    project_id = api.new_project()
    status, created, _ = api.call("POST", f"/projects/{project_id}/bundles", {})
    status, body, _ = api.call("POST", f"/projects/{project_id}/bundles/{created['id']}/complete")
    assert status == 409 and body["error"]["code"] == "upload_incomplete"

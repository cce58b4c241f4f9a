"""Issue 4 end to end through the real local stack: emulator, `chalice local`, the runner.

Upload a real archive through the presigned POST, request an analysis, read the
profile (the real analysis engine); an upload over 10 MB is rejected and removed; a
non-archive fails its analysis with a clear reason; the daily backup command works.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from devtools.local_stack import ROOT, LocalStack
from tests.support.emulator import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
PASSWORD = "correct horse battery"

FLASK_APP = {
    "shop/app.py": (
        "import os\nfrom flask import Flask\n\napp = Flask(__name__)\n\n"
        "@app.get('/health')\ndef health():\n    return 'ok'\n\n"
        "if __name__ == '__main__':\n"
        "    app.run(port=int(os.environ.get('PORT', 8000)))\n"
    ),
    "shop/requirements.txt": "flask==3.0.3\npsycopg2-binary==2.9.9\nredis==5.0.1\n",
}


def zip_bytes(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def tar_gz_bytes(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    state = tmp_path_factory.mktemp("runner-state")
    local = LocalStack(
        emulator_port=free_port(),
        api_port=free_port(),
        extra_env={
            "AUTOSTACK_SCRYPT_N": "4096",
            "AUTOSTACK_RUNNER_DB": str(state / "runner.db"),
            "AUTOSTACK_RUNNER_WORK_DIR": str(state / "work"),
        },
        quiet=True,
    )
    local.start()
    yield local
    local.stop()


class Client:
    def __init__(self, url: str):
        self.url = url
        self.http = requests.Session()
        email = f"e2e-{time.time_ns()}@example.com"
        creds = {"email": email, "password": PASSWORD}
        assert self.http.post(f"{url}/auth/signup", json=creds, timeout=30).status_code == 201
        token = self.http.post(f"{url}/auth/login", json=creds, timeout=30).json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {token}"
        created = self.http.post(f"{url}/projects", json={"name": "shop"}, timeout=30)
        assert created.status_code == 201, created.text
        self.project = created.json()["id"]

    def upload(self, data: bytes, fmt: str = "zip") -> dict[str, Any]:
        started = self.http.post(
            f"{self.url}/projects/{self.project}/uploads", json={"format": fmt}, timeout=30
        )
        assert started.status_code == 201, started.text
        upload = started.json()
        post = upload["upload"]
        sent = requests.post(
            post["url"],
            data=post["fields"],
            files={"file": ("archive", data, post["content_type"])},
            timeout=60,
        )
        assert sent.status_code in (200, 201, 204), sent.text
        return upload

    def analyze(self, upload_id: str) -> requests.Response:
        return self.http.post(
            f"{self.url}/projects/{self.project}/analyses",
            json={"upload_id": upload_id},
            timeout=30,
        )

    def follow(self, job_id: str, timeout_s: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            got = self.http.get(
                f"{self.url}/projects/{self.project}/analyses/{job_id}?wait=10", timeout=30
            )
            assert got.status_code == 200, got.text
            job = got.json()
            if job["status"] in ("succeeded", "failed", "cancelled"):
                return job
        raise AssertionError(f"job {job_id} did not finish in {timeout_s}s")


def test_upload_a_real_archive_analyze_it_and_read_the_profile(stack: LocalStack) -> None:
    client = Client(stack.api_url)
    upload = client.upload(zip_bytes(FLASK_APP))

    requested = client.analyze(upload["id"])

    assert requested.status_code == 202, requested.text
    job = client.follow(requested.json()["id"])
    assert job["status"] == "succeeded", job
    profile = job["profile"]
    assert profile["languages"]["primary"] == "python"
    (app,) = profile["apps"]
    assert app["framework"]["name"] == "flask"
    assert app["port"]["value"] == 8000
    assert {s["kind"] for s in profile["services"]} >= {"postgres", "redis"}
    assert job["summary"]["primary_language"] == "python"
    assert job["timings"]["queued_s"] is not None and job["timings"]["running_s"] is not None
    # The same app as a .tar.gz archive.
    tar_upload = client.upload(tar_gz_bytes(FLASK_APP), fmt="tar.gz")
    tar_job = client.follow(client.analyze(tar_upload["id"]).json()["id"])
    assert tar_job["status"] == "succeeded", tar_job
    assert tar_job["summary"] == job["summary"]
    listed = client.http.get(f"{client.url}/projects/{client.project}/analyses", timeout=30)
    assert {j["id"] for j in listed.json()["jobs"]} == {job["id"], tar_job["id"]}


def test_upload_over_10_mb_is_rejected_and_removed(stack: LocalStack) -> None:
    client = Client(stack.api_url)
    upload = client.upload(os.urandom(10 * 1024 * 1024 + 1))

    requested = client.analyze(upload["id"])

    assert requested.status_code == 422, requested.text
    error = requested.json()["error"]
    assert error["code"] == "upload_rejected"
    assert "10485761 bytes" in error["message"]
    s3 = boto3.client(
        "s3",
        endpoint_url=stack.emulator_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    assert s3.list_objects_v2(Bucket=stack.resources.bucket, Prefix=upload["key"])["KeyCount"] == 0


def test_non_archive_fails_the_analysis_with_a_clear_reason(stack: LocalStack) -> None:
    client = Client(stack.api_url)
    upload = client.upload(b"just some text, not an archive\n" * 20)

    requested = client.analyze(upload["id"])

    assert requested.status_code == 202, requested.text
    job = client.follow(requested.json()["id"])
    assert job["status"] == "failed"
    assert job["error"]["code"] == "archive_refused"
    assert "not_an_archive" in job["error"]["message"]
    assert job["attempts"] == 1  # permanent: not retried


def test_backup_now_exports_the_table_and_the_runner_snapshots(stack: LocalStack) -> None:
    Client(stack.api_url)  # something to export
    done = subprocess.run(
        [sys.executable, str(Path(ROOT) / "scripts" / "backup_now.py")],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    import json

    result = json.loads(done.stdout)
    assert result["export_key"].startswith("backups/api/") and result["items"] > 0
    ddb = boto3.client(
        "dynamodb",
        endpoint_url=stack.emulator_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    key = {"pk": {"S": "PROJECT#system"}, "sk": {"S": f"JOB#{result['snapshot_job_id']}"}}
    deadline = time.monotonic() + 30
    status = None
    while time.monotonic() < deadline:
        status = ddb.get_item(TableName=stack.resources.table, Key=key)["Item"]["status"]["S"]
        if status in ("succeeded", "failed"):
            break
        time.sleep(0.2)
    assert status == "succeeded"

"""From an archive to a live URL on the local stack (`make run`'s processes, over HTTP only).

The emulator, `chalice local` and the runner as processes, the real AWS provider: a real
Flask app and a real Express app (tests/fixtures/shipping) are uploaded, analyzed and
generated (ec2 and lambda bundles, as the API renders them, unchanged); each is deployed,
approved, applied against the emulator, then **shipped**: the local executor builds the
app from its plan (a fresh venv / node_modules from the registries), starts it on
loopback, verifies its health path, and the deployment ends ``live`` with a URL that
serves the app's own page. Then the Flask app is redeployed with changed source (only
build and release run), rolled back, and both stacks are destroyed (the app stops, the
emulator's resources are gone). The two journeys run side by side (the runner holds two
Terraform jobs at once). What the local stage stands in for: the build (CodeBuild in AWS)
and the serving (ECS/EC2/Lambda in AWS) are the local runtime's; README "Shipping".
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
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
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "shipping"
FLASK_PAGE = "Hello from the shipped fixture"
EXPRESS_PAGE = "Hello from the Express fixture"


def _files(folder: Path, replace: tuple[str, str] | None = None) -> dict[str, str]:
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "node_modules" not in path.parts:
            text = path.read_text()
            files[path.relative_to(folder).as_posix()] = text.replace(*replace) if replace else text
    return files


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _page(url: str) -> str:
    response = requests.get(url + "/", timeout=10)
    assert response.status_code == 200, (url, response.status_code)
    return response.text


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

    def uploaded(self, project: str, files: dict[str, str]) -> str:
        upload = self.ok("POST", f"/projects/{project}/uploads", {"format": "zip"}, 201)
        post = upload["upload"]
        sent = requests.post(
            post["url"],
            data=post["fields"],
            files={"file": ("app.zip", _zip(files), post["content_type"])},
            timeout=60,
        )
        assert sent.status_code in (200, 201, 204), sent.text
        return str(upload["id"])

    def analyzed(self, project: str, files: dict[str, str]) -> str:
        upload_id = self.uploaded(project, files)
        job = self.ok("POST", f"/projects/{project}/analyses", {"upload_id": upload_id}, 202)
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

    def release(self, project: str, job_id: str, timeout_s: float) -> Any:
        """The release a ``release`` job made, once it settled."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for release in self.ok("GET", f"/projects/{project}/releases")["releases"]:
                if release["job_id"] == job_id and release["status"] in ("live", "failed"):
                    return release
            time.sleep(1)
        raise AssertionError(f"release job {job_id} did not settle in {timeout_s}s")

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
    tmp = tmp_path_factory.mktemp("shipping")
    local = LocalStack(
        emulator_port=free_port(),
        api_port=free_port(),
        extra_env={
            "AUTOSTACK_SCRYPT_N": "4096",
            "AUTOSTACK_RUNNER_DB": str(tmp / "runner.db"),
            "AUTOSTACK_RUNNER_WORK_DIR": str(tmp / "work"),
            "AUTOSTACK_RUNNER_WAIT_S": "1",
            "AUTOSTACK_LONG_POLL_S": "2",  # long polls read every 2 s, not 0.5: less CPU
            "AUTOSTACK_STATUS_RATE_LIMIT": "2000",
            "AUTOSTACK_TF_PLUGIN_DIR": str(MIRROR),
            "AUTOSTACK_RELEASE_EXECUTOR": "local",  # what `make run` sets
            "AUTOSTACK_RELEASE_HEALTH_TIMEOUT_S": "120",
        },
        quiet=True,
    )
    local.start()
    yield local
    local.stop()


def _client(stack: LocalStack, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=stack.emulator_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _go_live(api: Api, name: str, files: dict[str, str], target: str) -> dict[str, Any]:
    """Project, upload, analysis, bundle, deployment, approve: the live deployment."""
    started = time.monotonic()
    project = api.ok("POST", "/projects", {"name": name}, 201)["id"]
    analysis = api.analyzed(project, files)
    bundle = api.ok(
        "POST", f"/projects/{project}/templates", {"analysis_id": analysis, "target": target}, 201
    )
    assert "infra/versions.tf" in bundle["files"]
    created = api.ok(
        "POST",
        f"/projects/{project}/deployments",
        {"bundle_id": bundle["id"], "role_arn": ROLE_ARN, "region": "us-east-1"},
        202,
    )
    planned = api.until(project, created["id"], {"planned", "failed"}, 900)
    assert planned["status"] == "planned", planned.get("error")
    assert planned["plan"]["add"] > 5 and planned["plan"]["destroy"] == 0
    path = f"/projects/{project}/deployments/{created['id']}"
    assert api.ok("POST", path + "/approve", status=202)["status"] == "applying"
    live = api.until(project, created["id"], {"live", "applied", "failed"}, 900)
    return {
        "project": project,
        "deployment": live,
        "path": path,
        "upload_to_live_s": round(time.monotonic() - started, 1),
    }


def _destroy(api: Api, journey: dict[str, Any]) -> dict[str, Any]:
    destroy = api.ok("POST", journey["path"] + "/destroy", {"auto_approve": True}, 202)
    return api.until(journey["project"], destroy["id"], {"applied", "failed"}, 900)


def test_flask_and_express_archives_go_live_redeploy_roll_back_and_destroy(
    stack: LocalStack,
) -> None:
    api = Api(stack.api_url)
    flask_files = _files(FIXTURES / "flask_hello")
    express_files = _files(FIXTURES / "express_hello")
    with ThreadPoolExecutor(max_workers=2) as pool:
        flask_run = pool.submit(_go_live, api, "notes", flask_files, "ec2")
        express_run = pool.submit(_go_live, api, "shop", express_files, "lambda")
        flask, express = flask_run.result(), express_run.result()

    for journey, page, resource in (
        (flask, FLASK_PAGE, "aws_instance.app"),
        (express, EXPRESS_PAGE, "aws_lambda_function.app"),
    ):
        live = journey["deployment"]
        assert live["status"] == "live", (live.get("error"), live.get("failed_phase"))
        assert [p["phase"] for p in live["phases"]] == ["building", "releasing", "verifying"]
        url = live["outputs"][0]["value"]
        assert live["outputs"][0]["name"] == "app_url" and url.startswith("http://127.0.0.1:")
        assert page in _page(url)  # the app's own page, served from the archive's code
        assert resource in live["resources_in_state"]  # the infrastructure is in the emulator
        log = api.log(journey["project"], live["id"])
        assert "Apply complete!" in log and "===== building =====" in log
        journey["url"] = url
    instance = next(
        o["value"] for o in flask["deployment"]["outputs"] if o["name"] == "instance_id"
    )
    found = _client(stack, "ec2").describe_instances(InstanceIds=[instance])
    assert found["Reservations"][0]["Instances"][0]["State"]["Name"] in ("pending", "running")

    # Redeploy changed source: no Terraform, a new release, the new page; the
    # deployment's app URL follows it.
    project = flask["project"]
    (first,) = api.ok("GET", f"/projects/{project}/releases")["releases"]
    changed = _files(FIXTURES / "flask_hello", (FLASK_PAGE, "Hello from the second release"))
    started = time.monotonic()
    upload = api.uploaded(project, changed)
    queued = api.ok("POST", f"/projects/{project}/releases", {"upload_id": upload}, 202)
    second = api.release(project, queued["job_id"], 600)
    redeploy_s = round(time.monotonic() - started, 1)
    assert second["status"] == "live", second
    assert second["source_upload_id"] == upload and second["image_tag"] != first["image_tag"]
    assert "Hello from the second release" in _page(second["url"])
    view = api.ok("GET", flask["path"])
    assert (view["current_release"], view["outputs"][0]["value"]) == (second["id"], second["url"])

    # Roll back to the first release: its source again, the old page.
    rolled = api.ok("POST", f"/projects/{project}/releases/{first['id']}/rollback", None, 202)
    third = api.release(project, rolled["job_id"], 600)
    assert third["status"] == "live" and third["rollback_of"] == first["id"], third
    assert FLASK_PAGE in _page(third["url"])
    statuses = {
        r["id"]: r["status"] for r in api.ok("GET", f"/projects/{project}/releases")["releases"]
    }
    assert statuses == {third["id"]: "live", second["id"]: "rolled_back", first["id"]: "superseded"}

    # Destroy both: the apps stop, the emulator's resources are gone.
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(lambda j: _destroy(api, j), (flask, express)))
    for journey, destroyed in zip((flask, express), done, strict=True):
        assert destroyed["status"] == "applied", destroyed.get("error")
        assert destroyed["resources_in_state"] == []
        with pytest.raises(requests.ConnectionError):
            requests.get(journey["url"] + "/", timeout=5)
    with pytest.raises(requests.ConnectionError):
        requests.get(third["url"] + "/", timeout=5)
    gone = _client(stack, "ec2").describe_instances(InstanceIds=[instance])
    assert gone["Reservations"][0]["Instances"][0]["State"]["Name"] == "terminated"
    print(  # the figures of the report (pytest -s)
        json.dumps(
            {
                "flask_upload_to_live_s": flask["upload_to_live_s"],
                "express_upload_to_live_s": express["upload_to_live_s"],
                "flask_redeploy_s": redeploy_s,
                "flask_phases": flask["deployment"]["phases"],
            }
        )
    )

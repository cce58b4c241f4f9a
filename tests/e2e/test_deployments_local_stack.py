"""Issue 6 end to end: the emulator, `chalice local` and the runner as processes, over HTTP.

Bundles of Terraform's built-in resources (``terraform_data``), uploaded through the
API's own bundle upload. The first stack runs without provisioners; the second allows
``local-exec`` (a sleeping apply to cancel, a command that prints the runner's secret)
and runs three runners on one queue.
"""

from __future__ import annotations

import io
import json
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from devtools.local_stack import ROOT, LocalStack
from tests.support.emulator import free_port
from tests.support.waiting import most_at_once, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
PASSWORD = "correct horse battery"
ROLE_ARN = "arn:aws:iam::123456789012:role/autostack-deploy"
RUNNER_ROLE_ARN = "arn:aws:iam::000000000000:role/autostack-runner"
# The runner's secret key (the emulator accepts any): it must never reach a log.
TEST_SECRET = "e2eSECRETdoNotLeak0123456789abcdefghijklm"

BASIC = """
variable "role_arn" {
  type = string
}

variable "external_id" {
  type = string
}

resource "terraform_data" "app" {
  input = "app for ${var.role_arn}"
}

resource "terraform_data" "db" {
  input = var.external_id
}

output "zz_note" {
  value = "last"
}

output "app_url" {
  value = "https://example.test/${terraform_data.app.id}"
}

output "db_secret" {
  value     = terraform_data.db.output
  sensitive = true
}
"""

HCL_ERROR = """
resource "terraform_data" "broken" {
  input = "unterminated
}
"""

SLOW_APPLY = """
resource "terraform_data" "quick" {
  input = "quick"

  provisioner "local-exec" {
    command = "echo key=$AWS_SECRET_ACCESS_KEY"
  }
}

resource "terraform_data" "slow" {
  input      = "slow"
  depends_on = [terraform_data.quick]

  provisioner "local-exec" {
    command = "echo slow-started; sleep 60; echo slow-finished"
  }
}
"""

QUICK = """
resource "terraform_data" "one" {
  input = "one"
}
"""


def zip_bytes(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


class Api:
    def __init__(self, stack: LocalStack):
        self.url = stack.api_url
        self.http = requests.Session()
        email = f"dep{time.monotonic_ns()}@example.com"
        creds = {"email": email, "password": PASSWORD}
        assert self.http.post(f"{self.url}/auth/signup", json=creds).status_code == 201
        token = self.http.post(f"{self.url}/auth/login", json=creds).json()["access_token"]
        self.http.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        response = self.http.request(method, self.url + path, json=body, timeout=60)
        return response.status_code, response.json() if response.content else None

    def ok(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        got, answer = self.call(method, path, body)
        assert got == status, (method, path, got, answer)
        return answer

    def project(self) -> str:
        return str(self.ok("POST", "/projects", {"name": "deploy-e2e"}, 201)["id"])

    def bundle(self, project_id: str, files: dict[str, str]) -> str:
        created = self.ok("POST", f"/projects/{project_id}/bundles", {"format": "zip"}, 201)
        upload = created["upload"]
        posted = requests.post(
            upload["url"],
            data=upload["fields"],
            files={"file": ("bundle.zip", zip_bytes(files))},
            timeout=30,
        )
        assert posted.status_code in (200, 201, 204), posted.text
        self.ok("POST", f"/projects/{project_id}/bundles/{created['id']}/complete")
        return str(created["id"])

    def deploy(self, project_id: str, bundle_id: str, **extra: Any) -> dict[str, Any]:
        body = {"bundle_id": bundle_id, "role_arn": ROLE_ARN, "region": "us-east-1", **extra}
        return dict(self.ok("POST", f"/projects/{project_id}/deployments", body, 202))

    def until(
        self, project_id: str, deployment_id: str, statuses: set[str], timeout_s: float
    ) -> Any:
        path = f"/projects/{project_id}/deployments/{deployment_id}?wait=5"

        def settled() -> Any:
            answer = self.ok("GET", path)
            return answer if answer["status"] in statuses else None

        return wait_for(settled, timeout_s, f"deployment {deployment_id} to be {statuses}")

    def full_log(self, project_id: str, deployment_id: str) -> str:
        path = f"/projects/{project_id}/deployments/{deployment_id}/logs"
        text, after = "", 0
        for _ in range(50):
            answer = self.ok("GET", f"{path}?after={after}&wait=2")
            assert answer["after"] == after
            text += answer["text"]
            after = answer["next"]
            if answer["complete"]:
                return text
        raise AssertionError("the log never completed")


def _stack(tmp: Path, **extra_env: str) -> LocalStack:
    env = {
        "AUTOSTACK_SCRYPT_N": "4096",
        "AUTOSTACK_RUNNER_DB": str(tmp / "runner.db"),
        "AUTOSTACK_RUNNER_WORK_DIR": str(tmp / "work"),
        "AUTOSTACK_RUNNER_WAIT_S": "1",
        "AUTOSTACK_LONG_POLL_S": "2",  # long polls read every 2 s, not 0.5: less CPU
        "AUTOSTACK_RUNNER_HEARTBEAT_S": "0.5",
        "AUTOSTACK_RUNNER_ROLE_ARN": RUNNER_ROLE_ARN,
        "AUTOSTACK_STATUS_RATE_LIMIT": "2000",
        "AWS_SECRET_ACCESS_KEY": TEST_SECRET,
        **extra_env,
    }
    return LocalStack(emulator_port=free_port(), api_port=free_port(), extra_env=env, quiet=True)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local = _stack(tmp_path_factory.mktemp("deploy-stack"))
    local.start()
    yield local
    local.stop()


def _s3(stack: LocalStack) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=stack.emulator_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _state(stack: LocalStack, key: str) -> dict[str, Any]:
    assert stack.resources is not None
    body = _s3(stack).get_object(Bucket=stack.resources.bucket, Key=key)["Body"].read()
    return dict(json.loads(body))


def test_plan_approve_apply_outputs_then_destroy(stack: LocalStack) -> None:
    api = Api(stack)
    project_id = api.project()
    role = api.ok("GET", f"/projects/{project_id}/deploy-role")
    assert role["trust_policy"]["Statement"][0]["Principal"] == {"AWS": RUNNER_ROLE_ARN}
    bundle_id = api.bundle(project_id, {"infra/main.tf": BASIC})

    created = api.deploy(project_id, bundle_id)
    assert created["status"] == "queued" and created["queue_position"] >= 1
    planned = api.until(project_id, created["id"], {"planned", "failed"}, 90)
    assert planned["status"] == "planned", planned["error"]
    assert (planned["plan"]["add"], planned["plan"]["destroy"]) == (2, 0)
    assert {r["address"] for r in planned["plan"]["resources"]} == {
        "terraform_data.app",
        "terraform_data.db",
    }
    assert planned["cost"]["monthly_usd"] is None  # an uploaded bundle has no estimate
    plan_log = api.full_log(project_id, created["id"])
    assert "Plan: 2 to add, 0 to change, 0 to destroy." in plan_log

    path = f"/projects/{project_id}/deployments/{created['id']}"
    assert api.ok("POST", path + "/approve", status=202)["status"] == "applying"
    applied = api.until(project_id, created["id"], {"applied", "failed"}, 90)
    assert applied["status"] == "applied", applied["error"]
    outputs = applied["outputs"]
    assert [o["name"] for o in outputs] == ["app_url", "db_secret", "zz_note"]
    assert outputs[0]["value"].startswith("https://example.test/")
    assert outputs[1] == {"name": "db_secret", "value": None, "sensitive": True}
    assert applied["resources_in_state"] == ["terraform_data.app", "terraform_data.db"]
    state_key = f"tfstate/{project_id}/main.tfstate"
    assert len(_state(stack, state_key)["resources"]) == 2
    full = api.full_log(project_id, created["id"])
    assert full.startswith(plan_log) and "Apply complete! Resources: 2 added" in full
    assert TEST_SECRET not in full
    assert api.call("POST", path + "/approve")[0] == 409  # applied once, never again

    destroy = api.ok("POST", path + "/destroy", {}, 202)
    assert destroy["action"] == "destroy"
    planned = api.until(project_id, destroy["id"], {"planned", "failed"}, 90)
    assert (planned["plan"]["add"], planned["plan"]["destroy"]) == (0, 2), planned
    api.ok("POST", f"/projects/{project_id}/deployments/{destroy['id']}/approve", status=202)
    done = api.until(project_id, destroy["id"], {"applied", "failed"}, 90)
    assert done["status"] == "applied", done["error"]
    assert done["resources_in_state"] == []
    assert _state(stack, state_key)["resources"] == []  # the state object stays, empty
    history = api.ok("GET", f"/projects/{project_id}/deployments")["deployments"]
    assert [(d["id"], d["action"], d["status"]) for d in history] == [
        (destroy["id"], "destroy", "applied"),
        (created["id"], "deploy", "applied"),
    ]


def test_a_bundle_with_an_hcl_error_fails_at_plan_with_terraforms_message(
    stack: LocalStack,
) -> None:
    api = Api(stack)
    project_id = api.project()
    bundle_id = api.bundle(project_id, {"main.tf": HCL_ERROR})
    created = api.deploy(project_id, bundle_id, stack="broken")
    failed = api.until(project_id, created["id"], {"failed", "planned", "applied"}, 90)
    assert failed["status"] == "failed"
    assert "Invalid multi-line string" in failed["error"]["message"]
    assert "Invalid multi-line string" in api.full_log(project_id, created["id"])
    # The stack is free again: a fixed bundle deploys.
    fixed = api.bundle(project_id, {"main.tf": QUICK})
    again = api.deploy(project_id, fixed, stack="broken", auto_approve=True)
    assert api.until(project_id, again["id"], {"applied", "failed"}, 90)["status"] == "applied"


# --------------------------------------------------------------------------- local-exec


@dataclass
class ExecStack:
    """The local stack with ``local-exec`` allowed, and three runners (one is the stack's)."""

    stack: LocalStack
    tmp: Path
    runners: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start_runner(self, runner_id: str) -> None:
        env = dict(self.stack.env)
        env.update(
            {
                "AUTOSTACK_RUNNER_ID": runner_id,
                "AUTOSTACK_RUNNER_DB": str(self.tmp / f"runner-{runner_id}.db"),
                "AUTOSTACK_RUNNER_WORK_DIR": str(self.tmp / f"work-{runner_id}"),
            }
        )
        self.runners[runner_id] = subprocess.Popen(
            [sys.executable, "-m", "runner", "run"],
            cwd=ROOT / "ec2-runner",
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )


@pytest.fixture(scope="module")
def exec_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExecStack]:
    tmp = tmp_path_factory.mktemp("deploy-exec-stack")
    # Short message visibility and job lease: a killed runner's job comes back in seconds.
    local = _stack(
        tmp,
        AUTOSTACK_TERRAFORM_ALLOW_PROVISIONERS="true",
        AUTOSTACK_RUNNER_VISIBILITY_S="8",
        AUTOSTACK_RUNNER_LEASE_S="7",
        AUTOSTACK_TERRAFORM_SLOT_RETRY_S="2",
    )
    local.start()
    started = ExecStack(local, tmp)
    started.runners[local.env["AUTOSTACK_RUNNER_ID"]] = local.processes["runner"]
    for index in (1, 2):  # three runners on one queue in all
        started.start_runner(f"extra-runner-{index}")
    yield started
    for runner_id, proc in started.runners.items():
        if runner_id != local.env["AUTOSTACK_RUNNER_ID"] and proc.poll() is None:
            proc.terminate()
    for runner_id, proc in started.runners.items():
        if runner_id != local.env["AUTOSTACK_RUNNER_ID"]:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    local.stop()


def test_cancel_during_a_long_apply_releases_the_lock_and_a_new_plan_shows_what_is_left(
    exec_stack: ExecStack,
) -> None:
    stack = exec_stack.stack
    api = Api(stack)
    project_id = api.project()
    bundle_id = api.bundle(project_id, {"main.tf": SLOW_APPLY})
    created = api.deploy(project_id, bundle_id)
    api.until(project_id, created["id"], {"planned"}, 90)
    path = f"/projects/{project_id}/deployments/{created['id']}"
    api.ok("POST", path + "/approve", status=202)
    logs = path + "/logs"

    def slow_started() -> str | None:
        text = str(api.ok("GET", logs)["text"])
        return text if "slow-started" in text else None

    shipped = wait_for(slow_started, 90, "the slow provisioner to start")
    # Shipped while Terraform is quiet: before its first "Still creating" line (10 s in).
    assert "terraform_data.slow: Still creating" not in shipped
    began = time.monotonic()
    asked = api.ok("POST", path + "/cancel", status=202)
    assert asked["status"] == "applying" and asked["cancel_requested"] is True
    cancelled = api.until(project_id, created["id"], {"cancelled", "failed", "applied"}, 60)
    assert cancelled["status"] == "cancelled", cancelled
    assert time.monotonic() - began < 30  # long before the 60 s sleep would have ended
    assert "terraform_data.quick" in cancelled["resources_in_state"]
    state_key = f"tfstate/{project_id}/main.tfstate"
    assert stack.resources is not None
    listed = _s3(stack).list_objects_v2(Bucket=stack.resources.bucket, Prefix=state_key)
    assert [o["Key"] for o in listed["Contents"]] == [state_key]  # no .tflock left
    log = api.full_log(project_id, created["id"])
    assert "Interrupt received." in log
    assert TEST_SECRET not in log and "key=****" in log  # masked, never the secret

    again = api.deploy(project_id, bundle_id)
    replanned = api.until(project_id, again["id"], {"planned", "failed"}, 90)
    assert replanned["status"] == "planned", replanned["error"]
    changing = {r["address"] for r in replanned["plan"]["resources"]}
    assert "terraform_data.quick" not in changing  # done before the cancel: left alone
    assert "terraform_data.slow" in changing  # what is left (created, or tainted: replaced)
    api.ok("POST", f"/projects/{project_id}/deployments/{again['id']}/cancel", status=202)


def test_five_deployments_at_once_never_more_than_two_running_and_all_finish(
    exec_stack: ExecStack,
) -> None:
    stack, tmp = exec_stack.stack, exec_stack.tmp
    api = Api(stack)
    project_id = api.project()
    bundle_id = api.bundle(
        project_id,
        {"main.tf": QUICK.replace('"one"\n', '"one"\n  provisioner "local-exec" {\n'
                                  '    command = "sleep 1"\n  }\n', 1)},
    )  # fmt: skip
    created = [
        api.deploy(project_id, bundle_id, stack=f"s{n}", auto_approve=True) for n in range(5)
    ]
    assert all(c["status"] == "queued" for c in created)
    done = [
        api.until(project_id, c["id"], {"applied", "failed", "cancelled"}, 180) for c in created
    ]
    assert [d["status"] for d in done] == ["applied"] * 5, [d["error"] for d in done]
    job_ids = {c["jobs"][0]["id"] for c in created}
    spans = []
    for db in sorted(tmp.glob("runner*.db")):
        conn = sqlite3.connect(db)
        spans += [
            (started, ended)
            for job_id, started, ended in conn.execute(
                "SELECT job_id, started_at, ended_at FROM attempts WHERE outcome = 'succeeded'"
            )
            if job_id in job_ids
        ]
        conn.close()
    assert len(spans) == 5
    # A ledger span is wider than the slot it held: the attempt is closed (and its
    # end written) after the slot is released, up to ~1 s later on a loaded machine.
    assert most_at_once(spans, slack_s=1.0) <= 2


def test_runner_killed_during_an_apply_fails_it_with_a_reason_and_frees_the_stack(
    exec_stack: ExecStack,
) -> None:
    stack = exec_stack.stack
    assert stack.resources is not None
    api = Api(stack)
    project_id = api.project()
    bundle_id = api.bundle(project_id, {"main.tf": SLOW_APPLY})
    created = api.deploy(project_id, bundle_id, stack="killed")
    api.until(project_id, created["id"], {"planned"}, 90)
    path = f"/projects/{project_id}/deployments/{created['id']}"
    applying = api.ok("POST", path + "/approve", status=202)
    wait_for(
        lambda: api.ok("GET", path)["jobs"][1]["status"] == "running",
        90,
        "the apply job to start",
    )
    # Inside Terraform's apply: its slow step has printed (and then sleeps 60 s).
    wait_for(
        lambda: "slow-started" in str(api.ok("GET", path + "/logs")["text"]),
        90,
        "the slow provisioner to start",
    )
    ddb = boto3.client(
        "dynamodb",
        endpoint_url=stack.emulator_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    item = ddb.get_item(
        TableName=stack.resources.table,
        Key={"pk": {"S": f"PROJECT#{project_id}"}, "sk": {"S": f"JOB#{applying['jobs'][1]['id']}"}},
    )["Item"]
    victim = exec_stack.runners[item["runner_id"]["S"]]
    victim.send_signal(signal.SIGKILL)  # Terraform gets SIGINT from the kernel (PDEATHSIG)
    victim.wait(timeout=10)
    exec_stack.start_runner("replacement-runner")

    ended = api.until(project_id, created["id"], {"failed", "applied", "cancelled"}, 120)
    if ended["status"] == "failed":  # the retry finds its saved plan stale: a clear reason
        assert ended["error"]["code"] == "apply_interrupted", ended
        assert "deploy again" in ended["error"]["message"]
    else:
        assert ended["status"] == "applied", ended
    state_key = f"tfstate/{project_id}/killed.tfstate"
    listed = _s3(stack).list_objects_v2(Bucket=stack.resources.bucket, Prefix=state_key)
    assert [o["Key"] for o in listed["Contents"]] == [state_key]  # the lock is gone
    # A second deployment of the stack is not blocked: it plans what is left.
    again = api.deploy(project_id, bundle_id, stack="killed")
    replanned = api.until(project_id, again["id"], {"planned", "applied", "failed"}, 90)
    assert replanned["status"] in ("planned", "applied"), replanned["error"]

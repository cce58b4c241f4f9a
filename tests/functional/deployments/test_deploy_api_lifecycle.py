"""Deployments API against the emulator: create, plan view, approve, stale/superseded, cancel."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from chalicelib.models.deployments import TerraformJobPayload
from chalicelib.models.jobs import JobMessage
from devtools.local_resources import LocalResources
from tests.functional.deployments.deploy_harness import (
    ROLE_ARN,
    RUNNER_ROLE_ARN,
    DeployApi,
    deploy_api,
)

PLAN_SUMMARY = {
    "schema_version": 1,
    "add": 1,
    "change": 0,
    "destroy": 0,
    "replace": 0,
    "headline": "Plan: 1 to add, 0 to change, 0 to destroy.",
    "resources": [
        {
            "address": "terraform_data.app",
            "type": "terraform_data",
            "name": "app",
            "action": "create",
            "description": 'terraform_data "app" will be created',
        }
    ],
}


@pytest.fixture
def api(local_resources: LocalResources) -> Any:
    with deploy_api(local_resources) as client:
        yield client


def _plan(api: DeployApi, project_id: str, job_id: str, *, at: float | None = None) -> None:
    at = time.time() if at is None else at
    plan_key = f"plans/{project_id}/main/{job_id}.tfplan"
    api.s3.put_object(Bucket=api.bucket, Key=plan_key, Body=b"plan")
    api.run_job(
        project_id,
        job_id,
        "planned",
        now=at,
        summary=PLAN_SUMMARY,
        result={"changes": True, "plan_key": plan_key, "plan_created_at": at},
    )


def _messages(api: DeployApi) -> list[JobMessage]:
    sqs = api.context.aws.sqs
    found = sqs.receive_message(
        QueueUrl=api.context.settings.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
    ).get("Messages", [])
    return [JobMessage.from_body(m["Body"]) for m in found]


def test_deploy_role_gives_the_external_id_and_a_trust_policy(api: DeployApi) -> None:
    project_id = api.new_project()
    status, body, _ = api.call("GET", f"/projects/{project_id}/deploy-role")
    assert status == 200, body
    _, project, _ = api.call("GET", f"/projects/{project_id}")
    statement = body["trust_policy"]["Statement"][0]
    assert statement["Principal"] == {"AWS": RUNNER_ROLE_ARN}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"sts:ExternalId": body["external_id"]}}
    assert body["external_id"] == project["external_id"]
    assert "sts:GetCallerIdentity" in body["permissions_hint"]["Statement"][0]["Action"]
    json.dumps(body["trust_policy"])  # ready to paste: plain JSON
    bundle_id = api.generated_bundle(project_id)
    api.s3.put_object(
        Bucket=api.bucket,
        Key=f"bundles/{project_id}/{bundle_id}/infra/web.tf",
        Body=b'resource "aws_lambda_function" "web" {}\n',
    )
    status, narrowed, _ = api.call(
        "GET", f"/projects/{project_id}/deploy-role?bundle_id={bundle_id}"
    )
    assert status == 200, narrowed
    assert narrowed["permissions_hint"]["Statement"][0]["Action"] == [
        "lambda:*",
        "sts:GetCallerIdentity",
    ]
    status, _, _ = api.call("GET", f"/projects/{project_id}/deploy-role?bundle_id=nope")
    assert status == 404


def test_deploy_role_without_the_runner_role_setting_says_which_setting(
    local_resources: LocalResources,
) -> None:
    with deploy_api(local_resources, runner_role_arn=None) as api:
        project_id = api.new_project()
        status, body, _ = api.call("GET", f"/projects/{project_id}/deploy-role")
    assert status == 503
    assert body["error"]["code"] == "not_configured"
    assert "AUTOSTACK_RUNNER_ROLE_ARN" in body["error"]["message"]


def test_deploy_role_trusts_the_api_role_too_when_it_is_set(
    local_resources: LocalResources,
) -> None:
    api_role = "arn:aws:iam::210987654321:role/autostack-prod"
    with deploy_api(local_resources, api_role_arn=api_role) as api:
        project_id = api.new_project()
        status, body, _ = api.call("GET", f"/projects/{project_id}/deploy-role")
    assert status == 200, body
    runner, config = body["trust_policy"]["Statement"]
    assert runner["Principal"] == {"AWS": RUNNER_ROLE_ARN}
    assert (config["Sid"], config["Principal"]) == ("AutoStackApiConfig", {"AWS": api_role})
    assert config["Condition"] == {"StringEquals": {"sts:ExternalId": body["external_id"]}}


BAD_INPUT = [
    ("role_arn", "arn:aws:iam::12345:role/x"),
    ("role_arn", "arn:aws:iam::123456789012:user/alice"),
    ("role_arn", "arn:aws:iam::123456789012:role/"),
    ("role_arn", "arn:aws:iam::123456789012:role/a//b"),
    ("region", "mars-north-1"),
    ("region", "us-east-1; rm -rf /"),
    ("bundle_id", "../other"),
    ("stack", "Main Stack"),
    ("auto_approve", "yes"),
]


def test_create_refuses_bad_input_naming_the_field(api: DeployApi) -> None:
    project_id = api.new_project()
    good = {"bundle_id": api.generated_bundle(project_id), "role_arn": ROLE_ARN,
            "region": "us-east-1"}  # fmt: skip
    for field, value in BAD_INPUT:
        status, body, _ = api.call(
            "POST", f"/projects/{project_id}/deployments", {**good, field: value}
        )
        assert status == 422, (field, value, body)
        assert [d["field"] for d in body["error"]["details"]] == [field]
    listed = api.call("GET", f"/projects/{project_id}/deployments")[1]
    assert listed == {"deployments": []}


def test_unknown_bundle_and_other_users_project_are_404(api: DeployApi) -> None:
    project_id = api.new_project()
    status, body = api.deploy(project_id, "nope")
    assert status == 404 and body["error"]["details"] == {"bundle_id": "nope"}
    bundle_id = api.generated_bundle(project_id)
    other = api.new_user()
    status, body, _ = api.call(
        "POST",
        f"/projects/{project_id}/deployments",
        {"bundle_id": bundle_id, "role_arn": ROLE_ARN, "region": "us-east-1"},
        token=other,
    )
    assert status == 404 and body["error"]["code"] == "not_found"


def test_plan_approve_apply_with_the_cost_beside_the_plan(api: DeployApi) -> None:
    project_id = api.new_project()
    bundle_id = api.generated_bundle(project_id, monthly_usd="8.47")
    status, created = api.deploy(project_id, bundle_id)
    assert status == 202, created
    assert created["status"] == "queued" and created["queue_position"] == 1
    plan_job_id = created["jobs"][0]["id"]
    assert created["jobs"][0]["kind"] == "plan"

    job = api.job(project_id, plan_job_id)
    payload = TerraformJobPayload.model_validate(job.payload)
    _, project, _ = api.call("GET", f"/projects/{project_id}")
    assert payload.external_id == project["external_id"]
    assert (payload.stack, payload.bundle_id, payload.role_arn, payload.region) == (
        "main",
        bundle_id,
        ROLE_ARN,
        "eu-west-1",
    )
    [message] = _messages(api)
    assert (message.job_id, message.kind, message.payload) == (plan_job_id, "plan", job.payload)

    api.run_job(project_id, plan_job_id, "running", now=time.time())
    path = f"/projects/{project_id}/deployments/{created['id']}"
    assert api.call("GET", path)[1]["status"] == "planning"
    api.jobstore().finish(
        project_id,
        plan_job_id,
        "runner-test",
        time.time(),
        "planned",
        summary=PLAN_SUMMARY,
        result={"changes": True, "plan_key": f"plans/{project_id}/main/{plan_job_id}.tfplan",
                "plan_created_at": time.time()},
    )  # fmt: skip
    status, planned, headers = api.call("GET", path)
    assert planned["status"] == "planned"
    assert planned["plan"]["headline"] == PLAN_SUMMARY["headline"]
    assert planned["plan"]["resources"][0]["action"] == "create"
    assert planned["cost"] == {
        "target": "ec2",
        "monthly_usd": 8.47,
        "currency": "USD",
        "note": None,
    }
    assert planned["plan_expires_at"]
    assert headers["X-RateLimit-Limit"] == str(api.context.settings.status_rate_limit)

    status, approved, _ = api.call("POST", path + "/approve")
    assert status == 202, approved
    assert approved["status"] == "applying"
    apply_job_id = approved["jobs"][1]["id"]
    apply = api.job(project_id, apply_job_id)
    assert apply.kind == "apply"
    assert apply.payload["plan_key"] == f"plans/{project_id}/main/{plan_job_id}.tfplan"
    assert apply.payload["destroy"] is False  # a deploy's plan: the app ships after it
    outputs = {
        "zeta": {"value": 1, "sensitive": False},
        "db_password": {"value": "x", "sensitive": True},
        "app_url": {"value": "https://a.example", "sensitive": False},
    }
    api.run_job(project_id, apply_job_id, "succeeded", now=time.time(), result={"outputs": outputs})
    done = api.call("GET", path)[1]
    assert done["status"] == "applied"
    assert [o["name"] for o in done["outputs"]] == ["app_url", "db_password", "zeta"]
    assert done["outputs"][1] == {"name": "db_password", "value": None, "sensitive": True}
    assert done["resources_in_state"] == []  # no state object in this test

    listed = api.call("GET", f"/projects/{project_id}/deployments")[1]["deployments"]
    assert [(d["id"], d["status"]) for d in listed] == [(created["id"], "applied")]


def test_approve_twice_at_once_enqueues_one_apply(api: DeployApi) -> None:
    project_id = api.new_project()
    _, created = api.deploy(project_id, api.generated_bundle(project_id))
    _plan(api, project_id, created["jobs"][0]["id"])
    path = f"/projects/{project_id}/deployments/{created['id']}/approve"
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: api.call("POST", path)[:2], range(4)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [202, 409, 409, 409], answers
    assert {b["error"]["code"] for s, b in answers if s == 409} == {"already_approved"}
    kinds = [m.kind for m in _messages(api)]
    assert kinds.count("apply") == 1


def test_a_stale_plan_is_refused(local_resources: LocalResources) -> None:
    with deploy_api(local_resources, plan_max_age_s=60) as api:
        project_id = api.new_project()
        _, created = api.deploy(project_id, api.generated_bundle(project_id))
        _plan(api, project_id, created["jobs"][0]["id"], at=time.time() - 61)
        status, body, _ = api.call(
            "POST", f"/projects/{project_id}/deployments/{created['id']}/approve"
        )
    assert status == 409
    assert body["error"]["code"] == "plan_stale"
    assert "older than 60 s" in body["error"]["message"]


def test_a_superseded_plan_is_refused_and_a_busy_stack_refuses_a_new_deployment(
    api: DeployApi,
) -> None:
    project_id = api.new_project()
    bundle_id = api.generated_bundle(project_id)
    _, first = api.deploy(project_id, bundle_id)
    status, busy = api.deploy(project_id, bundle_id)
    assert status == 409 and busy["error"]["code"] == "deployment_in_progress"
    other_stack = api.deploy(project_id, bundle_id, stack="staging")
    assert other_stack[0] == 202  # another stack is another state

    _plan(api, project_id, first["jobs"][0]["id"])
    status, second = api.deploy(project_id, bundle_id)  # a planned one does not block
    assert status == 202, second
    path = f"/projects/{project_id}/deployments/{first['id']}"
    assert api.call("GET", path)[1]["superseded_by"] == second["id"]
    status, body, _ = api.call("POST", path + "/approve")
    assert status == 409 and body["error"]["code"] == "plan_superseded"
    assert body["error"]["details"]["superseded_by"] == second["id"]


def test_approve_before_the_plan_is_ready_is_409(api: DeployApi) -> None:
    project_id = api.new_project()
    _, created = api.deploy(project_id, api.generated_bundle(project_id))
    status, body, _ = api.call(
        "POST", f"/projects/{project_id}/deployments/{created['id']}/approve"
    )
    assert status == 409 and body["error"]["code"] == "not_planned"


def test_cancel_a_queued_deployment_drops_it_and_leaves_the_line(api: DeployApi) -> None:
    project_id = api.new_project()
    _, created = api.deploy(project_id, api.generated_bundle(project_id))
    job_id = created["jobs"][0]["id"]
    wait_key = {"pk": {"S": "SEMAPHORE#terraform"}, "sk": {"S": f"WAIT#{job_id}"}}
    api.ddb.put_item(
        TableName=api.table,
        Item={**wait_key, "job_id": {"S": job_id}, "since": {"N": str(time.time())},
              "seen_until": {"N": str(time.time() + 60)}},
    )  # fmt: skip
    path = f"/projects/{project_id}/deployments/{created['id']}"
    assert api.call("GET", path)[1]["queue_position"] == 1
    status, cancelled, _ = api.call("POST", path + "/cancel")
    assert status == 202 and cancelled["status"] == "cancelled"
    assert api.job(project_id, job_id).status == "cancelled"
    assert "Item" not in api.ddb.get_item(TableName=api.table, Key=wait_key)
    # The runner cannot claim it any more; a new deployment of the stack is allowed.
    assert api.jobstore().claim(project_id, job_id, "r", time.time(), 60) is None
    assert api.deploy(project_id, created["bundle_id"])[0] == 202
    status, body, _ = api.call("POST", path + "/cancel")
    assert status == 409 and body["error"]["code"] == "deployment_finished"


def test_cancel_a_running_deployment_asks_the_runner(api: DeployApi) -> None:
    project_id = api.new_project()
    _, created = api.deploy(project_id, api.generated_bundle(project_id))
    job_id = created["jobs"][0]["id"]
    api.run_job(project_id, job_id, "running", now=time.time())
    path = f"/projects/{project_id}/deployments/{created['id']}"
    status, body, _ = api.call("POST", path + "/cancel")
    assert status == 202
    assert body["status"] == "planning" and body["cancel_requested"] is True
    assert api.job(project_id, job_id).cancel_requested is True
    # The runner's heartbeat sees the flag (runner/worker.py) and the job ends cancelled.
    api.jobstore().finish(
        project_id, job_id, "runner-test", time.time(), "cancelled",
        error={"code": "cancelled", "message": "cancelled: interrupted"},
    )  # fmt: skip
    assert api.call("GET", path)[1]["status"] == "cancelled"


def test_cancel_a_planned_deployment_deletes_its_saved_plan(api: DeployApi) -> None:
    project_id = api.new_project()
    _, created = api.deploy(project_id, api.generated_bundle(project_id))
    job_id = created["jobs"][0]["id"]
    _plan(api, project_id, job_id)
    path = f"/projects/{project_id}/deployments/{created['id']}"
    status, body, _ = api.call("POST", path + "/cancel")
    assert status == 202 and body["status"] == "cancelled"
    listed = api.s3.list_objects_v2(Bucket=api.bucket, Prefix=f"plans/{project_id}/")
    assert listed.get("KeyCount", 0) == 0
    status, body, _ = api.call("POST", path + "/approve")
    assert status == 409


def test_destroy_plans_the_destruction_of_the_stack(api: DeployApi) -> None:
    project_id = api.new_project()
    bundle_id = api.generated_bundle(project_id)
    _, created = api.deploy(project_id, bundle_id)
    plan_job_id = created["jobs"][0]["id"]
    api.run_job(project_id, plan_job_id, "succeeded", now=time.time(), result={"changes": False})
    path = f"/projects/{project_id}/deployments/{created['id']}"
    status, destroy, _ = api.call("POST", path + "/destroy", {})
    assert status == 202, destroy
    assert destroy["action"] == "destroy" and destroy["stack"] == "main"
    job = api.job(project_id, destroy["jobs"][0]["id"])
    assert job.kind == "destroy" and job.payload["bundle_id"] == bundle_id
    # Approved, the destroy plan's apply says so: the runner retires the app, ships nothing.
    plan_key = f"plans/{project_id}/main/{job.job_id}.tfplan"
    api.s3.put_object(Bucket=api.bucket, Key=plan_key, Body=b"plan")
    planned = {"changes": True, "plan_key": plan_key, "plan_created_at": time.time()}
    api.run_job(project_id, job.job_id, "planned", now=time.time(), result=planned)
    status, approved, _ = api.call("POST", f"{path[: path.rindex('/')]}/{destroy['id']}/approve")
    assert status == 202, approved
    apply = api.job(project_id, approved["jobs"][1]["id"])
    assert (apply.kind, apply.payload["destroy"]) == ("apply", True)


def test_other_users_deployment_is_404_everywhere(api: DeployApi) -> None:
    project_id = api.new_project()
    _, created = api.deploy(project_id, api.generated_bundle(project_id))
    other = api.new_user()
    base = f"/projects/{project_id}/deployments/{created['id']}"
    for method, path in [
        ("GET", base),
        ("GET", base + "/logs"),
        ("POST", base + "/approve"),
        ("POST", base + "/cancel"),
        ("GET", f"/projects/{project_id}/deployments"),
        ("GET", f"/projects/{project_id}/deploy-role"),
    ]:
        status, body, _ = api.call(method, path, token=other)
        assert status == 404, (method, path, body)
    own_project = api.new_project(token=other)
    status, _, _ = api.call(
        "GET", f"/projects/{own_project}/deployments/{created['id']}", token=other
    )
    assert status == 404


def test_every_route_is_in_the_openapi_document(api: DeployApi) -> None:
    status, spec, _ = api.call("GET", "/openapi.json")
    assert status == 200
    paths = spec["paths"]
    base = "/projects/{project_id}/deployments"
    for path, method in [
        ("/projects/{project_id}/deploy-role", "get"),
        (base, "post"),
        (base, "get"),
        (base + "/{deployment_id}", "get"),
        (base + "/{deployment_id}/approve", "post"),
        (base + "/{deployment_id}/cancel", "post"),
        (base + "/{deployment_id}/destroy", "post"),
        (base + "/{deployment_id}/logs", "get"),
        ("/projects/{project_id}/bundles", "post"),
        ("/projects/{project_id}/bundles/{bundle_id}/complete", "post"),
    ]:
        assert method in paths[path], (path, method)


def test_cancel_a_job_whose_runner_died_ends_it_and_frees_the_stack(api: DeployApi) -> None:
    project_id = api.new_project()
    bundle_id = api.generated_bundle(project_id)
    _, created = api.deploy(project_id, bundle_id)
    job_id = created["jobs"][0]["id"]
    api.run_job(project_id, job_id, "running", now=time.time() - 3600)  # lease long gone
    assert api.deploy(project_id, bundle_id)[0] == 409  # the stack still looks busy
    path = f"/projects/{project_id}/deployments/{created['id']}"
    status, body, _ = api.call("POST", path + "/cancel")
    assert status == 202 and body["status"] == "cancelled"
    assert "stopped answering" in body["error"]["message"]
    job = api.job(project_id, job_id)
    assert job.status == "cancelled" and job.lease_until is None
    assert api.deploy(project_id, bundle_id)[0] == 202


def test_concurrent_deployments_of_one_stack_queue_exactly_one(api: DeployApi) -> None:
    project_id = api.new_project()
    bundle_id = api.generated_bundle(project_id)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: api.deploy(project_id, bundle_id), range(4)))
    assert sorted(status for status, _ in answers) == [202, 409, 409, 409], answers
    assert {b["error"]["code"] for s, b in answers if s == 409} == {"deployment_in_progress"}
    assert [m.kind for m in _messages(api)] == ["plan"]


def test_wait_long_polls_until_the_state_changes(api: DeployApi) -> None:
    import threading

    project_id = api.new_project()
    _, created = api.deploy(project_id, api.generated_bundle(project_id))
    job_id = created["jobs"][0]["id"]
    timer = threading.Timer(
        1.0, lambda: api.run_job(project_id, job_id, "running", now=time.time())
    )
    timer.start()
    began = time.monotonic()
    status, body, _ = api.call("GET", f"/projects/{project_id}/deployments/{created['id']}?wait=10")
    timer.join()
    assert status == 200 and body["status"] == "planning"
    assert 0.9 <= time.monotonic() - began < 5

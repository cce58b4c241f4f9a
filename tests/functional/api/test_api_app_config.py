"""App config through the API against the emulator: real STS AssumeRole of the project's
deploy role (in another account: the user's) and real SSM. Values are Strings, secrets
SecureStrings in the user's account; a secret never comes back and never reaches the
table; a change queues a restart (a ``release`` job of the live release); refusals write
nothing."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

from chalicelib import keys
from chalicelib.context import AppContext
from chalicelib.store.codec import to_item
from tests.functional.api.conftest import Api, table_snapshot

USER_ACCOUNT = "210987654321"  # not the emulator's default account (AutoStack's)
ROLE_ARN = f"arn:aws:iam::{USER_ACCOUNT}:role/autostack-deploy"
SECRET = "sk_live_0123456789abcdef"


def _project(api: Api, email: str = "alice@example.com") -> tuple[str, str]:
    token = api.user(email)
    status, project, _ = api.call("POST", "/projects", {"name": "shop"}, token=token)
    assert status == 201, project
    return token, project["id"]


def _live(ctx: AppContext, project_id: str, status: str = "live") -> None:
    """A deployment of stack ``main`` with a live release (as the runner leaves them)."""
    now = time.time()
    ctx.stores.releases.put(
        project_id, "r1",
        {"status": status, "stack": "main", "bundle_id": "b1", "image_tag": "src-1",
         "source_upload_id": "up1", "created_at_epoch": now, "created_by": "u1", "app": "web",
         "job_id": "apply1"},
    )  # fmt: skip
    base = {"pk": f"PROJECT#{project_id}", "project_id": project_id, "created_at_epoch": now}
    items = [
        {**base, "sk": "JOB#plan1", "job_id": "plan1", "kind": "plan", "status": "planned",
         "phase": "planned", "payload": {}},
        {**base, "sk": "JOB#apply1", "job_id": "apply1", "kind": "apply", "status": "succeeded",
         "phase": "live", "payload": {}},
        {**base, "sk": "DEPLOY#d1", "deployment_id": "d1", "stack": "main", "action": "deploy",
         "bundle_id": "b1", "bundle_source": "generated", "role_arn": ROLE_ARN,
         "region": "us-east-1", "plan_job_id": "plan1", "apply_job_id": "apply1",
         "created_at": "2026-12-07T00:00:00Z"},
        {"pk": f"PROJECT#{project_id}", "sk": "STACK#main", "current_deployment_id": "d1",
         "stack": "main", "project_id": project_id},
    ]  # fmt: skip
    for item in items:
        ctx.aws.dynamodb.put_item(TableName=ctx.settings.table, Item=to_item(item))
    document = {"record": {"id": "b1", "plans": [{"name": "web", "kind": "web", "secrets": [
        {"name": "SECRET_KEY", "kind": "generated"}]}]}}  # fmt: skip
    ctx.aws.s3.put_object(
        Bucket=ctx.settings.bucket,
        Key=keys.bundle_document_key(project_id, "b1"),
        Body=json.dumps(document).encode(),
    )


def _user_ssm(ctx: AppContext) -> Any:
    """An SSM client of the user's account (through an assumed role, as moto keys accounts)."""
    sts = ctx.aws.client("sts")
    creds = sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName="test-check")["Credentials"]
    return boto3.client(
        "ssm",
        region_name="us-east-1",
        endpoint_url=ctx.settings.aws_endpoint_url,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def _releases_queued(ctx: AppContext, project_id: str) -> list[Any]:
    return [j for j in ctx.stores.jobs.list_project(project_id) if j.kind == "release"]


def test_put_get_delete_through_the_users_ssm(api: Api, api_context: AppContext) -> None:
    ctx = api_context
    token, project_id = _project(api)
    _live(ctx, project_id)
    base = f"/projects/{project_id}/config"

    status, body, _ = api.call(
        "PUT", base, {"values": {"LOG_LEVEL": "debug"}, "secrets": {"API_KEY": SECRET}},
        token=token,
    )  # fmt: skip
    assert status == 202, body
    assert (body["changed"], body["restarting"], body["release_id"]) == (
        ["API_KEY", "LOG_LEVEL"], True, "r1",
    )  # fmt: skip
    (job,) = _releases_queued(ctx, project_id)
    assert job.job_id == body["job_id"]
    assert {k: v for k, v in job.payload.items() if k != "created_by"} == {
        "stack": "main", "bundle_id": "b1", "upload_id": "up1",
    }  # fmt: skip
    assert SECRET not in json.dumps(job.payload)

    # In the user's account, under the project's prefix, as String / SecureString.
    ssm = _user_ssm(ctx)
    prefix = f"/autostack/{project_id}/main"
    stored = {
        p["Name"]: p
        for p in ssm.get_parameters_by_path(Path=prefix, WithDecryption=True)["Parameters"]
    }
    assert stored[f"{prefix}/LOG_LEVEL"]["Type"] == "String"
    assert stored[f"{prefix}/API_KEY"]["Type"] == "SecureString"
    assert stored[f"{prefix}/API_KEY"]["Value"] == SECRET
    own = boto3.client(  # AutoStack's own account has none of it
        "ssm", region_name="us-east-1", endpoint_url=ctx.settings.aws_endpoint_url,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    assert own.get_parameters_by_path(Path=prefix)["Parameters"] == []

    status, body, _ = api.call("GET", base, token=token)
    assert status == 200, body
    assert body["prefix"] == prefix and body["stack"] == "main"
    entries = {e["name"]: e for e in body["entries"]}
    assert entries["LOG_LEVEL"]["kind"] == "value" and entries["LOG_LEVEL"]["value"] == "debug"
    assert entries["API_KEY"]["kind"] == "secret" and entries["API_KEY"]["value"] is None
    assert entries["API_KEY"]["updated_at_epoch"] > 0
    assert entries["SECRET_KEY"] == {  # the plan's generated secret: a name, no value
        "name": "SECRET_KEY", "kind": "generated", "value": None, "updated_at_epoch": None,
    }  # fmt: skip
    assert SECRET not in json.dumps(body)

    # The secret is in no item of AutoStack's table.
    assert SECRET not in json.dumps(table_snapshot(ctx))

    # A value becomes a secret (SSM cannot change a type in place), batched: no restart.
    status, body, _ = api.call(
        "PUT", base + "?restart=false", {"secrets": {"LOG_LEVEL": "quiet-secret"}}, token=token
    )
    assert status == 202 and body["restarting"] is False and body["job_id"] is None, body
    assert len(_releases_queued(ctx, project_id)) == 1
    status, body, _ = api.call("GET", base, token=token)
    assert {e["name"]: e["kind"] for e in body["entries"]}["LOG_LEVEL"] == "secret"

    status, body, _ = api.call("DELETE", base + "/API_KEY?restart=false", token=token)
    assert status == 202 and body["changed"] == ["API_KEY"], body
    status, body, _ = api.call("GET", base, token=token)
    assert "API_KEY" not in {e["name"] for e in body["entries"]}
    status, body, _ = api.call("DELETE", base + "/API_KEY", token=token)
    assert (status, body["error"]["code"]) == (404, "config_name_not_found"), body


BAD_BODIES = [
    ({"values": {"lower": "x"}}, "values.lower"),
    ({"values": {"PORT": "1"}}, "values.PORT"),
    ({"secrets": {"AWS_SECRET_ACCESS_KEY": "x"}}, "secrets.AWS_SECRET_ACCESS_KEY"),
    ({"values": {"BIG": "x" * 4097}}, "values.BIG"),
    ({"values": {"EMPTY": ""}}, "values.EMPTY"),
    ({"values": {"A": "1"}, "secrets": {"A": "2"}}, "values.A"),
    ({"values": {"OK": "1", "bad-name": "2"}}, "values.bad-name"),
    ({}, "values"),
]


def _without_rate_windows(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [i for i in items if not i["pk"]["S"].startswith("RATE#")]


def test_bad_names_and_values_are_refused_naming_the_field_and_write_nothing(
    api: Api, api_context: AppContext
) -> None:
    token, project_id = _project(api)
    _live(api_context, project_id)
    before = _without_rate_windows(table_snapshot(api_context))
    for body, field in BAD_BODIES:
        status, answer, _ = api.call("PUT", f"/projects/{project_id}/config", body, token=token)
        assert status == 422, (body, answer)
        assert field in [d["field"] for d in answer["error"]["details"]], answer
        assert field in answer["error"]["message"], answer
    status, answer, _ = api.call("DELETE", f"/projects/{project_id}/config/lower", token=token)
    assert (status, answer["error"]["code"]) == (404, "config_name_not_found"), answer
    assert "must match" in answer["error"]["message"]
    assert _without_rate_windows(table_snapshot(api_context)) == before
    prefix = f"/autostack/{project_id}/main"
    assert _user_ssm(api_context).get_parameters_by_path(Path=prefix)["Parameters"] == []


def test_no_live_deployment_busy_stack_and_other_users_are_refused(
    api: Api, api_context: AppContext
) -> None:
    token, project_id = _project(api)
    status, body, _ = api.call("GET", f"/projects/{project_id}/config", token=token)
    assert (status, body["error"]["code"]) == (409, "no_live_deployment"), body
    assert "no live deployment" in body["error"]["message"]

    _live(api_context, project_id)
    api_context.stores.releases.put(
        project_id, "r2",
        {"status": "building", "stack": "main", "bundle_id": "b1", "image_tag": "src-2",
         "source_upload_id": "up1", "created_at_epoch": time.time() + 1, "created_by": "u1",
         "job_id": "apply1b"},
    )  # fmt: skip
    item = {"pk": f"PROJECT#{project_id}", "sk": "JOB#apply1b", "job_id": "apply1b",
            "project_id": project_id, "kind": "release", "status": "running",
            "payload": {}}  # fmt: skip
    api_context.aws.dynamodb.put_item(TableName=api_context.settings.table, Item=to_item(item))
    status, body, _ = api.call(
        "PUT", f"/projects/{project_id}/config", {"values": {"A": "1"}}, token=token
    )
    assert (status, body["error"]["code"]) == (409, "release_in_progress"), body
    prefix = f"/autostack/{project_id}/main"
    assert _user_ssm(api_context).get_parameters_by_path(Path=prefix)["Parameters"] == []
    # Batched (no restart) the change goes in while the release runs.
    status, body, _ = api.call(
        "PUT", f"/projects/{project_id}/config?restart=false", {"values": {"A": "1"}}, token=token
    )
    assert status == 202, body

    bob = api.user("bob@example.com")
    status, body, _ = api.call("GET", f"/projects/{project_id}/config", token=bob)
    assert status == 404


def _claim_job(ctx: AppContext, project_id: str, job_id: str, status: str = "running") -> None:
    """What a runner's claim leaves on the job item: it has started."""
    ctx.aws.dynamodb.update_item(
        TableName=ctx.settings.table,
        Key={"pk": {"S": f"PROJECT#{project_id}"}, "sk": {"S": f"JOB#{job_id}"}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": status}},
    )


def test_quick_changes_share_one_queued_restart(api: Api, api_context: AppContext) -> None:
    ctx = api_context
    token, project_id = _project(api)
    _live(ctx, project_id)
    base = f"/projects/{project_id}/config"

    status, first, _ = api.call("PUT", base, {"values": {"A": "1"}}, token=token)
    assert status == 202 and first["status"] == "queued", first
    status, second, _ = api.call("PUT", base, {"values": {"B": "2"}}, token=token)
    assert status == 202, second
    assert (second["restarting"], second["status"], second["job_id"]) == (
        True, "already_queued", first["job_id"],
    )  # fmt: skip
    status, third, _ = api.call("DELETE", base + "/A", token=token)
    assert (status, third["status"], third["job_id"]) == (202, "already_queued", first["job_id"])
    (job,) = _releases_queued(ctx, project_id)  # one restart for three changes
    assert job.job_id == first["job_id"] and job.status == "queued"
    # The config is in SSM already: the queued job reads it when it runs.
    prefix = f"/autostack/{project_id}/main"
    names = {p["Name"] for p in _user_ssm(ctx).get_parameters_by_path(Path=prefix)["Parameters"]}
    assert names == {f"{prefix}/B"}

    # Once a runner has started it (it may have read the config already), a change
    # queues a restart of its own.
    _claim_job(ctx, project_id, first["job_id"])
    status, fourth, _ = api.call("PUT", base, {"values": {"C": "3"}}, token=token)
    assert status == 202 and fourth["status"] == "queued", fourth
    assert fourth["job_id"] != first["job_id"]
    assert len(_releases_queued(ctx, project_id)) == 2
    status, fifth, _ = api.call("PUT", base, {"values": {"D": "4"}}, token=token)
    assert (fifth["status"], fifth["job_id"]) == ("already_queued", fourth["job_id"])

    # A restart that never got queued (its enqueue failed) is not joined.
    _claim_job(ctx, project_id, fourth["job_id"], status="failed")
    status, sixth, _ = api.call("PUT", base, {"values": {"E": "5"}}, token=token)
    assert sixth["status"] == "queued" and sixth["job_id"] != fourth["job_id"], sixth
    assert len(_releases_queued(ctx, project_id)) == 3


def test_changes_at_the_same_moment_queue_one_restart(api: Api, api_context: AppContext) -> None:
    """The claim is a conditional write in DynamoDB (the emulator's, atomic per request)."""
    import threading

    from chalicelib.services import app_config_restart
    from chalicelib.services.app_config_ssm import LiveTarget

    ctx = api_context
    _token, project_id = _project(api)
    _live(ctx, project_id)
    release = ctx.stores.releases.get(project_id, "r1")
    assert release is not None
    target = LiveTarget(project_id, "main", release, ROLE_ARN, "ext-1", "us-east-1")
    start = threading.Barrier(6)
    answers: list[app_config_restart.QueuedRestart] = []
    lock = threading.Lock()

    def change() -> None:
        start.wait()
        queued = app_config_restart.queue_restart(ctx, target, "u1", None)
        with lock:
            answers.append(queued)

    threads = [threading.Thread(target=change) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    (job,) = _releases_queued(ctx, project_id)
    assert {a.job_id for a in answers} == {job.job_id} and len(answers) == 6
    assert sorted(a.joined for a in answers) == [False] + [True] * 5

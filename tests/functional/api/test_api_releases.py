"""Releases through the API against the emulator: the list (newest first), rollback
(queues a ``release`` job), its refusals, and a shipped deployment's view (``live``,
phases with timings, ``app_url`` first)."""

from __future__ import annotations

import json
import time
from typing import Any

from chalicelib.context import AppContext
from chalicelib.store.codec import to_item
from tests.functional.api.conftest import Api


def _release(ctx: AppContext, project_id: str, release_id: str, status: str, at: float,
             stack: str = "main") -> None:  # fmt: skip
    ctx.stores.releases.put(
        project_id, release_id,
        {"status": status, "stack": stack, "bundle_id": "b1", "image_tag": f"src-{release_id}",
         "source_upload_id": f"up-{release_id}", "created_at_epoch": at, "created_by": "u1"},
    )  # fmt: skip


def _project(api: Api, email: str = "alice@example.com") -> tuple[str, str]:
    token = api.user(email)
    status, project, _ = api.call("POST", "/projects", {"name": "shop"}, token=token)
    assert status == 201, project
    return token, project["id"]


def _queued(ctx: AppContext) -> list[dict[str, Any]]:
    got = ctx.aws.sqs.receive_message(
        QueueUrl=ctx.settings.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0
    )
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def test_list_is_newest_first_and_owned(api: Api, api_context: AppContext) -> None:
    token, project_id = _project(api)
    _release(api_context, project_id, "r1", "superseded", 10.0)
    _release(api_context, project_id, "r2", "live", 20.0)
    status, body, _ = api.call("GET", f"/projects/{project_id}/releases", token=token)
    assert status == 200, body
    assert [r["id"] for r in body["releases"]] == ["r2", "r1"]
    first = body["releases"][0]
    assert (first["image_tag"], first["source_upload_id"], first["created_by"]) == (
        "src-r2", "up-r2", "u1",
    )  # fmt: skip
    bob = api.user("bob@example.com")
    status, body, _ = api.call("GET", f"/projects/{project_id}/releases", token=bob)
    assert status == 404


def test_rollback_queues_a_release_of_the_earlier_source(api: Api, api_context: AppContext) -> None:
    token, project_id = _project(api)
    _release(api_context, project_id, "r1", "superseded", 10.0)
    _release(api_context, project_id, "r2", "live", 20.0)
    status, body, _ = api.call("POST", f"/projects/{project_id}/releases/r1/rollback", token=token)
    assert status == 202, body
    assert (body["rollback_of"], body["stack"], body["status"]) == ("r1", "main", "queued")
    job = api_context.stores.jobs.get(project_id, body["job_id"])
    assert job is not None and job.kind == "release" and job.status == "queued"
    assert job.payload["created_by"]  # the user who asked
    assert {k: v for k, v in job.payload.items() if k != "created_by"} == {
        "stack": "main", "bundle_id": "b1", "upload_id": "up-r1", "rollback_of": "r1",
    }  # fmt: skip
    messages = [m for m in _queued(api_context) if m["job_id"] == body["job_id"]]
    assert len(messages) == 1 and messages[0]["kind"] == "release"


def test_rollback_refusals_write_nothing(api: Api, api_context: AppContext) -> None:
    token, project_id = _project(api)
    _release(api_context, project_id, "r1", "failed", 10.0)
    _release(api_context, project_id, "r2", "live", 20.0)
    _release(api_context, project_id, "r3", "building", 30.0)
    cases = [
        ("nope", 404, "release_not_found"),
        ("r1", 409, "release_not_rollbackable"),  # never went live
        ("r2", 409, "release_in_progress"),  # r3 is still building
    ]
    for release_id, expected, code in cases:
        status, body, _ = api.call(
            "POST", f"/projects/{project_id}/releases/{release_id}/rollback", token=token
        )
        assert (status, body["error"]["code"]) == (expected, code), body
    # The stack was destroyed: its live release retired, nothing to roll back onto.
    api_context.stores.releases.set_status(project_id, "r3", "failed")
    api_context.stores.releases.set_status(project_id, "r2", "retired")
    status, body, _ = api.call("POST", f"/projects/{project_id}/releases/r2/rollback", token=token)
    assert (status, body["error"]["code"]) == (409, "nothing_live"), body
    assert [
        j for j in api_context.stores.jobs.list_project(project_id) if j.kind == "release"
    ] == []


def test_a_shipped_deployment_shows_live_phases_and_the_app_url(
    api: Api, api_context: AppContext
) -> None:
    token, project_id = _project(api)
    ctx, now = api_context, time.time()

    def put(item: dict[str, Any]) -> None:
        ctx.aws.dynamodb.put_item(TableName=ctx.settings.table, Item=to_item(item))

    base = {"pk": f"PROJECT#{project_id}", "project_id": project_id, "created_at_epoch": now}
    put({**base, "sk": "JOB#plan1", "job_id": "plan1", "kind": "plan", "status": "planned",
         "phase": "planned", "payload": {}})  # fmt: skip
    timings = [
        {"phase": "verifying", "status": "succeeded", "started_at_epoch": now, "duration_s": 0.4},
        {"phase": "building", "status": "succeeded", "started_at_epoch": now, "duration_s": 7.5},
        {"phase": "releasing", "status": "succeeded", "started_at_epoch": now, "duration_s": 0.1},
    ]
    put({**base, "sk": "JOB#apply1", "job_id": "apply1", "kind": "apply", "status": "succeeded",
         "phase": "live", "payload": {}, "phase_timings": timings,
         "result": {"outputs": {"bucket": {"value": "b"},
                                "app_url": {"value": "http://127.0.0.1:5555"}}}})  # fmt: skip
    put({**base, "sk": "DEPLOY#d1", "deployment_id": "d1", "stack": "main", "action": "deploy",
         "bundle_id": "b1", "bundle_source": "generated",
         "role_arn": "arn:aws:iam::123456789012:role/x",
         "region": "us-east-1", "plan_job_id": "plan1", "apply_job_id": "apply1",
         "created_at": "2026-12-07T00:00:00Z"})  # fmt: skip
    status, body, _ = api.call("GET", f"/projects/{project_id}/deployments/d1", token=token)
    assert status == 200, body
    assert body["status"] == "live"
    assert [p["phase"] for p in body["phases"]] == ["building", "releasing", "verifying"]
    assert body["phases"][0]["duration_s"] == 7.5
    assert body["outputs"][0] == {"name": "app_url", "value": "http://127.0.0.1:5555",
                                  "sensitive": False}  # fmt: skip

    # A later release of the stack (a redeploy) serves elsewhere: once d1 is the stack's
    # current deployment, its app URL follows the live release.
    put({**base, "sk": "STACK#main", "current_deployment_id": "d1"})
    _release(ctx, project_id, "r9", "live", now + 5)
    ctx.stores.releases.set_status(project_id, "r9", "live", url="http://127.0.0.1:6666")
    status, body, _ = api.call("GET", f"/projects/{project_id}/deployments/d1", token=token)
    assert status == 200, body
    assert (body["current_release"], body["outputs"][0]["value"]) == (
        "r9", "http://127.0.0.1:6666",
    )  # fmt: skip


def test_a_release_left_in_flight_by_a_finished_job_does_not_block_rollback(
    api: Api, api_context: AppContext
) -> None:
    token, project_id = _project(api)
    _release(api_context, project_id, "r0", "superseded", 5.0)
    _release(api_context, project_id, "r1", "live", 10.0)
    _release(api_context, project_id, "r2", "building", 20.0)  # its runner died mid-build
    api_context.stores.releases.set_status(project_id, "r2", "building", job_id="deadjob")
    item = {"pk": f"PROJECT#{project_id}", "sk": "JOB#deadjob", "job_id": "deadjob",
            "project_id": project_id, "kind": "apply", "status": "failed",
            "payload": {}}  # fmt: skip
    api_context.aws.dynamodb.put_item(TableName=api_context.settings.table, Item=to_item(item))
    status, body, _ = api.call("POST", f"/projects/{project_id}/releases/r1/rollback", token=token)
    assert status == 202, body


def test_rollback_waits_for_a_deployment_of_the_stack_in_progress(
    api: Api, api_context: AppContext
) -> None:
    token, project_id = _project(api)
    ctx, now = api_context, time.time()
    _release(ctx, project_id, "r1", "live", 10.0)

    def put(item: dict[str, Any]) -> None:
        ctx.aws.dynamodb.put_item(TableName=ctx.settings.table, Item=to_item(item))

    base = {"pk": f"PROJECT#{project_id}", "project_id": project_id, "created_at_epoch": now}
    put({**base, "sk": "JOB#plan2", "job_id": "plan2", "kind": "plan", "status": "planned",
         "phase": "planned", "payload": {}})  # fmt: skip
    put({**base, "sk": "JOB#apply2", "job_id": "apply2", "kind": "apply", "status": "running",
         "phase": "building", "payload": {}})  # fmt: skip
    put({**base, "sk": "DEPLOY#d2", "deployment_id": "d2", "stack": "main", "action": "deploy",
         "bundle_id": "b1", "bundle_source": "generated",
         "role_arn": "arn:aws:iam::123456789012:role/x", "region": "us-east-1",
         "plan_job_id": "plan2", "apply_job_id": "apply2",
         "created_at": "2026-12-07T00:00:00Z"})  # fmt: skip
    put({"pk": f"PROJECT#{project_id}", "sk": "STACK#main", "current_deployment_id": "d2"})
    status, body, _ = api.call("GET", f"/projects/{project_id}/deployments/d2", token=token)
    assert body["status"] == "building"
    status, body, _ = api.call("POST", f"/projects/{project_id}/releases/r1/rollback", token=token)
    assert (status, body["error"]["code"]) == (409, "release_in_progress"), body
    assert body["error"]["details"]["deployment_id"] == "d2"


def _uploaded(api: Api, ctx: AppContext, token: str, project_id: str) -> str:
    """A new source upload with its object in the bucket (as the presigned POST leaves it)."""
    status, upload, _ = api.call(
        "POST", f"/projects/{project_id}/uploads", {"format": "zip"}, token=token
    )
    assert status == 201, upload
    ctx.aws.s3.put_object(
        Bucket=ctx.settings.bucket, Key=upload["key"], Body=b"PK\x05\x06" + bytes(18)
    )
    return str(upload["id"])


def test_redeploy_queues_a_release_of_new_source_on_the_live_bundle(
    api: Api, api_context: AppContext
) -> None:
    token, project_id = _project(api)
    _release(api_context, project_id, "r1", "superseded", 10.0)
    _release(api_context, project_id, "r2", "live", 20.0)
    upload_id = _uploaded(api, api_context, token, project_id)
    status, body, _ = api.call(
        "POST", f"/projects/{project_id}/releases", {"upload_id": upload_id}, token=token
    )
    assert status == 202, body
    assert (body["stack"], body["bundle_id"], body["upload_id"], body["status"]) == (
        "main", "b1", upload_id, "queued",
    )  # fmt: skip
    job = api_context.stores.jobs.get(project_id, body["job_id"])
    assert job is not None and job.kind == "release"
    assert {k: v for k, v in job.payload.items() if k != "created_by"} == {
        "stack": "main", "bundle_id": "b1", "upload_id": upload_id,
    }  # fmt: skip
    messages = [m for m in _queued(api_context) if m["job_id"] == body["job_id"]]
    assert len(messages) == 1 and messages[0]["kind"] == "release"


def test_redeploy_refusals_name_the_reason_and_queue_nothing(
    api: Api, api_context: AppContext
) -> None:
    token, project_id = _project(api)
    path = f"/projects/{project_id}/releases"
    ready = _uploaded(api, api_context, token, project_id)
    status, pending, _ = api.call("POST", f"/projects/{project_id}/uploads", {}, token=token)
    assert status == 201
    # Nothing live yet: there is no infrastructure and no plan to ship onto.
    status, body, _ = api.call("POST", path, {"upload_id": ready}, token=token)
    assert (status, body["error"]["code"]) == (409, "nothing_live"), body
    _release(api_context, project_id, "r1", "live", 10.0)
    _release(api_context, project_id, "r2", "live", 20.0, stack="staging")
    cases = [
        ({"upload_id": ready}, 422, "stack"),  # two stacks live, none named
        ({"upload_id": ready, "stack": "prod"}, 409, None),  # nothing live on that stack
        ({"upload_id": pending["id"], "stack": "main"}, 409, None),  # not uploaded yet
        ({"upload_id": "nope", "stack": "main"}, 404, None),
        ({"upload_id": ready, "image": "x"}, 422, "image"),  # unknown field
        ({"upload_id": "../x"}, 422, "upload_id"),
    ]
    for request, expected, field in cases:
        status, body, _ = api.call("POST", path, request, token=token)
        assert status == expected, (request, body)
        if field:
            assert field in json.dumps(body["error"]), (request, body)
    _release(api_context, project_id, "r3", "building", 30.0)  # a release of main in flight
    status, body, _ = api.call("POST", path, {"upload_id": ready, "stack": "main"}, token=token)
    assert (status, body["error"]["code"]) == (409, "release_in_progress"), body
    assert [
        j for j in api_context.stores.jobs.list_project(project_id) if j.kind == "release"
    ] == []

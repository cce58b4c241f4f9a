"""DELETE /projects/{id} through the emulator: refused (409) while work is in flight or a
stack is live, otherwise every item and object of the project goes, and nothing else."""

from __future__ import annotations

import time
from typing import Any

import pytest

from chalicelib.context import AppContext
from chalicelib.services.project_data import DynamoS3ProjectData
from chalicelib.store.codec import to_item
from tests.functional.api.conftest import Api, table_snapshot


@pytest.fixture
def paged(api_context: AppContext) -> AppContext:
    """Small S3 pages so that listing and batch deletes really page."""
    ctx = api_context
    ctx.project_data = DynamoS3ProjectData(
        ctx.aws.dynamodb, ctx.aws.s3, ctx.settings.table, ctx.settings.bucket, page_size=7
    )
    return ctx


def _put(ctx: AppContext, item: dict[str, Any]) -> None:
    ctx.aws.dynamodb.put_item(TableName=ctx.settings.table, Item=to_item(item))


def _job(ctx: AppContext, project_id: str, job_id: str, status: str, kind: str = "analyze",
         **extra: Any) -> None:  # fmt: skip
    _put(ctx, {"pk": f"PROJECT#{project_id}", "sk": f"JOB#{job_id}", "job_id": job_id,
               "project_id": project_id, "kind": kind, "status": status, "payload": {},
               "created_at_epoch": int(time.time()), **extra})  # fmt: skip


def _deployment(ctx: AppContext, project_id: str, deployment_id: str, action: str, at: int,
                plan: str, apply: str | None = None) -> None:  # fmt: skip
    item = {"pk": f"PROJECT#{project_id}", "sk": f"DEPLOY#{deployment_id}",
            "deployment_id": deployment_id, "project_id": project_id, "stack": "main",
            "action": action, "plan_job_id": plan, "created_at_epoch": at}  # fmt: skip
    if apply:
        item["apply_job_id"] = apply
    _put(ctx, item)


def _keys(ctx: AppContext, prefix: str = "") -> list[str]:
    paginator = ctx.aws.s3.get_paginator("list_objects_v2")
    found = []
    for page in paginator.paginate(Bucket=ctx.settings.bucket, Prefix=prefix):
        found.extend(o["Key"] for o in page.get("Contents", []))
    return sorted(found)


def _partition(ctx: AppContext, project_id: str) -> list[dict[str, Any]]:
    return [i for i in table_snapshot(ctx) if i["pk"]["S"] == f"PROJECT#{project_id}"]


def _project_count(ctx: AppContext, token_user: str) -> int:
    item = ctx.aws.dynamodb.get_item(
        TableName=ctx.settings.table, Key={"pk": {"S": f"USER#{token_user}"}, "sk": {"S": "USER"}}
    )["Item"]
    return int(item["project_count"]["N"])


def _fill(api: Api, ctx: AppContext, token: str, project_id: str) -> None:
    """Items and objects of every kind, more than one page of each."""
    status, _, _ = api.call("POST", f"/projects/{project_id}/uploads", {}, token=token)
    assert status == 201
    for n in range(30):  # > one BatchWriteItem (25)
        _job(ctx, project_id, f"done{n:02d}", "succeeded")
    _put(ctx, {"pk": f"PROJECT#{project_id}", "sk": "BUNDLE#b1", "bundle_id": "b1"})
    _put(ctx, {"pk": f"PROJECT#{project_id}", "sk": "STACK#main", "current_deployment_id": "d1"})
    s3, bucket = ctx.aws.s3, ctx.settings.bucket
    for prefix in ("uploads", "reports", "bundles", "logs", "plans"):
        for n in range(4):
            s3.put_object(Bucket=bucket, Key=f"{prefix}/{project_id}/f{n}", Body=b"x")
    for n in range(12):  # several pages of 7
        s3.put_object(Bucket=bucket, Key=f"bundles/{project_id}/b1/infra/f{n}.tf", Body=b"x")
    s3.put_object(Bucket=bucket, Key=f"tfstate/{project_id}/main.tfstate", Body=b"{}")
    # A neighbour whose id starts with this one's: its objects are not under "<id>/".
    s3.put_object(Bucket=bucket, Key=f"uploads/{project_id}x/keep.zip", Body=b"x")


def test_delete_removes_every_item_and_object_and_nothing_else(api: Api, paged: AppContext) -> None:
    ctx = paged
    alice = api.user("alice@example.com")
    user_id = ctx.signer.verify(alice, ctx.now()).user_id
    _, project, _ = api.call("POST", "/projects", {"name": "doomed"}, token=alice)
    _, other, _ = api.call("POST", "/projects", {"name": "kept"}, token=alice)
    bob = api.user("bob@example.com")
    _, bobs, _ = api.call("POST", "/projects", {"name": "bobs"}, token=bob)
    for token, pid in ((alice, project["id"]), (alice, other["id"]), (bob, bobs["id"])):
        _fill(api, ctx, token, pid)
    assert _project_count(ctx, user_id) == 2
    kept_items = [i for i in table_snapshot(ctx) if project["id"] not in i["pk"]["S"]]
    kept_items = [i for i in kept_items if not i["pk"]["S"].startswith(("RATE#", "USER#"))]
    kept_objects = [k for k in _keys(ctx) if f"/{project['id']}/" not in k]

    status, body, _ = api.call("DELETE", f"/projects/{project['id']}", token=alice)
    assert status == 204, body

    assert _partition(ctx, project["id"]) == []
    for prefix in ("uploads", "reports", "bundles", "logs", "plans"):
        assert _keys(ctx, f"{prefix}/{project['id']}/") == [], prefix
    # Terraform state is kept (module doc of services.project_data).
    assert _keys(ctx, f"tfstate/{project['id']}/") == [f"tfstate/{project['id']}/main.tfstate"]
    after = [i for i in table_snapshot(ctx) if not i["pk"]["S"].startswith(("RATE#", "USER#"))]
    assert after == kept_items
    assert [k for k in _keys(ctx) if not k.startswith("tfstate/")] == [
        k for k in kept_objects if not k.startswith("tfstate/")
    ]
    assert _project_count(ctx, user_id) == 1
    status, body, _ = api.call("GET", f"/projects/{project['id']}", token=alice)
    assert status == 404
    status, body, _ = api.call("DELETE", f"/projects/{project['id']}", token=alice)
    assert status == 404  # a second delete
    status, listed, _ = api.call("GET", "/projects", token=alice)
    assert [p["id"] for p in listed["projects"]] == [other["id"]]


def _assert_refused(api: Api, ctx: AppContext, token: str, project_id: str, what: str) -> None:
    before = ([i for i in table_snapshot(ctx) if not i["pk"]["S"].startswith("RATE#")], _keys(ctx))
    status, body, _ = api.call("DELETE", f"/projects/{project_id}", token=token)
    assert status == 409, (what, body)
    assert body["error"]["code"] == "project_busy"
    assert body["error"]["details"]["project_id"] == project_id
    after = ([i for i in table_snapshot(ctx) if not i["pk"]["S"].startswith("RATE#")], _keys(ctx))
    assert after == before, what


def test_delete_is_refused_while_a_job_is_queued_or_running(api: Api, paged: AppContext) -> None:
    ctx = paged
    alice = api.user("alice@example.com")
    _, project, _ = api.call("POST", "/projects", {"name": "busy"}, token=alice)
    pid = project["id"]
    ctx.aws.s3.put_object(Bucket=ctx.settings.bucket, Key=f"uploads/{pid}/u.zip", Body=b"x")
    for status in ("queued", "running"):
        _job(ctx, pid, "j1", status)
        _assert_refused(api, ctx, alice, pid, status)
    _job(ctx, pid, "j1", "failed")
    status, body, _ = api.call("DELETE", f"/projects/{pid}", token=alice)
    assert status == 204, body
    assert _partition(ctx, pid) == [] and _keys(ctx, f"uploads/{pid}/") == []


def test_delete_is_refused_while_a_stack_is_applied_and_not_destroyed(
    api: Api, paged: AppContext
) -> None:
    ctx = paged
    alice = api.user("alice@example.com")
    _, project, _ = api.call("POST", "/projects", {"name": "live"}, token=alice)
    pid = project["id"]
    # Planned and never approved: nothing applied, nothing live.
    _job(ctx, pid, "p0", "planned", kind="plan")
    _deployment(ctx, pid, "d0", "deploy", 100, "p0")
    # Applied.
    _job(ctx, pid, "p1", "planned", kind="plan")
    _job(ctx, pid, "a1", "succeeded", kind="apply", attempts=1)
    _deployment(ctx, pid, "d1", "deploy", 200, "p1", "a1")
    _assert_refused(api, ctx, alice, pid, "applied")
    # A destroy that failed before applying anything: still live.
    _job(ctx, pid, "p2", "failed", kind="destroy")
    _deployment(ctx, pid, "d2", "destroy", 300, "p2")
    _assert_refused(api, ctx, alice, pid, "failed destroy")
    # Destroyed (auto-approved destroy plan job succeeded).
    _job(ctx, pid, "p3", "succeeded", kind="destroy")
    _deployment(ctx, pid, "d3", "destroy", 400, "p3")
    # A later deploy whose apply ran and failed may have created resources: live again.
    _job(ctx, pid, "p4", "planned", kind="plan")
    _job(ctx, pid, "a4", "failed", kind="apply", attempts=1, started_at_epoch=500)
    _deployment(ctx, pid, "d4", "deploy", 500, "p4", "a4")
    _assert_refused(api, ctx, alice, pid, "failed apply")
    _job(ctx, pid, "p5", "succeeded", kind="destroy")
    _deployment(ctx, pid, "d5", "destroy", 600, "p5")
    status, body, _ = api.call("DELETE", f"/projects/{pid}", token=alice)
    assert status == 204, body
    assert _partition(ctx, pid) == []


def test_concurrent_deletes_delete_once_and_count_once(api: Api, paged: AppContext) -> None:
    from concurrent.futures import ThreadPoolExecutor

    ctx = paged
    alice = api.user("alice@example.com")
    user_id = ctx.signer.verify(alice, ctx.now()).user_id
    _, project, _ = api.call("POST", "/projects", {"name": "raced"}, token=alice)
    _, other, _ = api.call("POST", "/projects", {"name": "other"}, token=alice)
    _fill(api, ctx, alice, project["id"])
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(
            pool.map(
                lambda _: api.call("DELETE", f"/projects/{project['id']}", token=alice), range(6)
            )
        )
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [204] + [404] * 5, statuses
    assert _project_count(ctx, user_id) == 1  # decremented once, whatever the interleaving
    assert _partition(ctx, project["id"]) == [] and _keys(ctx, f"uploads/{project['id']}/") == []
    status, _, _ = api.call("GET", f"/projects/{other['id']}", token=alice)
    assert status == 200

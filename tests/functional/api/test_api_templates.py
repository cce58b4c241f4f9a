"""Template bundle API against the emulator: generate, read, list, download, errors."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import requests

from chalicelib.context import AppContext
from chalicelib.store.codec import to_item
from tests.functional.api.conftest import Api
from tests.golden.stack_profiles import flask_postgres, hostile_stateless


def _analysis(ctx: AppContext, project_id: str, job_id: str, status: str, profile: Any) -> None:
    """A finished analyze job as the runner leaves it: the job item and its S3 report."""
    report_key = f"reports/{project_id}/{job_id}.json"
    if profile is not None:
        ctx.aws.s3.put_object(
            Bucket=ctx.settings.bucket, Key=report_key, Body=profile.model_dump_json().encode()
        )
    item = {
        "pk": f"PROJECT#{project_id}",
        "sk": f"JOB#{job_id}",
        "job_id": job_id,
        "project_id": project_id,
        "kind": "analyze",
        "status": status,
        "payload": {"upload_id": "u1"},
        "result": {"report_key": report_key} if status == "succeeded" else {},
        "created_at_epoch": 1,
    }
    ctx.aws.dynamodb.put_item(TableName=ctx.settings.table, Item=to_item(item))


def _project(api: Api, token: str) -> str:
    status, project, _ = api.call("POST", "/projects", {"name": "shop"}, token=token)
    assert status == 201, project
    return project["id"]


def test_generate_read_list_and_download(api: Api, api_context: AppContext) -> None:
    token = api.user("tpl@example.com")
    project_id = _project(api, token)
    _analysis(api_context, project_id, "job1", "succeeded", flask_postgres())

    status, bundle, _ = api.call(
        "POST", f"/projects/{project_id}/templates", {"analysis_id": "job1"}, token=token
    )
    assert status == 201, bundle
    assert bundle["target"] == "ec2" == bundle["recommendation"]["target"]
    assert bundle["recommendation"]["reasons"]
    assert {t["target"] for t in bundle["cost"]["targets"]} == {
        "static", "lambda", "ec2", "ecs-fargate"
    }  # fmt: skip
    assert "infra/versions.tf" in bundle["files"] and "Dockerfile" in bundle["files"]
    bundle_id = bundle["id"]

    status, got, _ = api.call("GET", f"/projects/{project_id}/templates/{bundle_id}", token=token)
    assert status == 200
    assert got["files"] == bundle["files"] and set(got["contents"]) == set(bundle["files"])
    assert got["contents"]["infra/outputs.tf"].startswith('output "app_url"')

    status, listed, _ = api.call("GET", f"/projects/{project_id}/templates", token=token)
    assert status == 200 and [b["id"] for b in listed["bundles"]] == [bundle_id]
    assert listed["bundles"][0]["monthly_usd"] > 0

    status, link, _ = api.call(
        "GET", f"/projects/{project_id}/templates/{bundle_id}/download", token=token
    )
    assert status == 200 and link["key"] == f"bundles/{project_id}/{bundle_id}.zip"
    response = requests.get(link["url"], timeout=10)
    assert response.status_code == 200 and len(response.content) == link["size"]
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert sorted(archive.namelist()) == sorted(bundle["files"])
        assert archive.read("infra/README.md").decode() == got["contents"]["infra/README.md"]

    # the files one by one under the bundle's prefix: what the runner's plan job downloads
    s3, bucket = api_context.aws.s3, api_context.settings.bucket
    prefix = f"bundles/{project_id}/{bundle_id}/"
    listed_keys = s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]
    assert sorted(o["Key"][len(prefix) :] for o in listed_keys) == sorted(bundle["files"])
    body = s3.get_object(Bucket=bucket, Key=prefix + "infra/outputs.tf")["Body"].read()
    assert body.decode() == got["contents"]["infra/outputs.tf"]


def test_requested_target_and_options(api: Api, api_context: AppContext) -> None:
    token = api.user("tpl2@example.com")
    project_id = _project(api, token)
    _analysis(api_context, project_id, "job1", "succeeded", flask_postgres())
    body = {
        "analysis_id": "job1",
        "target": "ecs-fargate",
        "region": "eu-west-1",
        "options": {"desired_count": 2},
    }
    status, bundle, _ = api.call("POST", f"/projects/{project_id}/templates", body, token=token)
    assert status == 201, bundle
    assert bundle["target"] == "ecs-fargate" and bundle["region"] == "eu-west-1"
    assert bundle["recommendation"]["target"] == "ec2"  # still says what fits best
    assert "infra/ecs.tf" in bundle["files"]


def test_hostile_profile_round_trips_through_the_api(api: Api, api_context: AppContext) -> None:
    token = api.user("tpl3@example.com")
    project_id = _project(api, token)
    _analysis(api_context, project_id, "job1", "succeeded", hostile_stateless())
    status, bundle, _ = api.call(
        "POST", f"/projects/{project_id}/templates", {"analysis_id": "job1"}, token=token
    )
    assert status == 201, bundle
    assert all(".." not in path.split("/") for path in bundle["files"])


def test_errors(api: Api, api_context: AppContext) -> None:
    token = api.user("tpl4@example.com")
    other = api.user("tpl5@example.com")
    project_id = _project(api, token)
    _analysis(api_context, project_id, "done", "succeeded", flask_postgres())
    _analysis(api_context, project_id, "busy", "running", None)
    url = f"/projects/{project_id}/templates"

    status, body, _ = api.call("POST", url, {"analysis_id": "nope"}, token=token)
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body, _ = api.call("POST", url, {"analysis_id": "busy"}, token=token)
    assert status == 409 and body["error"]["code"] == "analysis_not_ready"
    status, body, _ = api.call(
        "POST", url, {"analysis_id": "done", "target": "static"}, token=token
    )
    assert status == 422 and body["error"]["code"] == "generation_refused"
    assert "static" in body["error"]["message"]
    for bad in (
        {"analysis_id": "done", "region": "mars-1"},
        {"analysis_id": "done", "target": "kubernetes"},
        {"analysis_id": "done", "options": {"desired_count": 99}},
        {"analysis_id": "done", "options": {"domain": "not a domain"}},
        {"analysis_id": "../x"},
        {"analysis_id": "done", "surprise": True},
    ):
        status, body, _ = api.call("POST", url, bad, token=token)
        assert status == 422 and body["error"]["code"] == "validation_error", (bad, body)

    # another user's project and bundle answer 404
    status, body, _ = api.call("POST", url, {"analysis_id": "done"}, token=other)
    assert status == 404
    status, bundle, _ = api.call("POST", url, {"analysis_id": "done"}, token=token)
    assert status == 201
    for path in (f"{url}/{bundle['id']}", f"{url}/{bundle['id']}/download"):
        status, _, _ = api.call("GET", path, token=other)
        assert status == 404
    status, body, _ = api.call("GET", f"{url}/missing", token=token)
    assert status == 404 and body["error"]["code"] == "not_found"
    status, _, _ = api.call("POST", url, raw=json.dumps({"analysis_id": "done"}).encode())
    assert status == 401

"""Uploads and analyses through the API (in-process), with the runner's worker in-process."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import requests
from api_harness import api_client
from runner_harness import ZipAnalyzer, client, make_worker, runner_settings, small_zip

from devtools.local_resources import LocalResources


def _post_file(presigned: dict, data: bytes) -> int:
    response = requests.post(
        presigned["url"],
        data=presigned["fields"],
        files={"file": ("archive", data, presigned["content_type"])},
        timeout=30,
    )
    return response.status_code


def test_presigned_post_pins_key_size_type_and_expiry(local_resources: LocalResources) -> None:
    with api_client(local_resources) as api:
        project = api.new_project()
        status, body = api.call("POST", f"/projects/{project}/uploads", {"format": "tar.gz"})

    assert status == 201, body
    assert body["status"] == "pending"
    assert body["key"] == f"uploads/{project}/{body['id']}.tar.gz"
    fields = body["upload"]["fields"]
    assert fields["key"] == body["key"]
    policy = json.loads(base64.b64decode(fields["policy"]))
    conditions = policy["conditions"]
    assert ["content-length-range", 1, 10 * 1024 * 1024] in conditions
    assert ["eq", "$Content-Type", "application/gzip"] in conditions
    assert {"key": body["key"]} in conditions
    assert {"bucket": local_resources.bucket} in conditions
    # 15 minutes (give or take the test's own runtime).
    from datetime import datetime

    expires = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    created = datetime.fromisoformat(body["upload"]["expires_at"].replace("Z", "+00:00"))
    assert abs((expires - created).total_seconds()) <= 2


def test_upload_analyze_and_read_the_profile(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    analyzer = ZipAnalyzer()
    worker = make_worker(runner_settings(local_resources, tmp_path), local_resources, analyzer)
    with api_client(local_resources) as api:
        project = api.new_project()
        _, upload = api.call("POST", f"/projects/{project}/uploads", {})
        assert _post_file(upload["upload"], small_zip()) in (200, 201, 204)

        status, job = api.call("POST", f"/projects/{project}/analyses", {"upload_id": upload["id"]})
        assert status == 202, job
        assert job["status"] == "queued" and job["upload_id"] == upload["id"]
        assert job["request_id"]

        worker.run(max_jobs=1)

        status, done = api.call("GET", f"/projects/{project}/analyses/{job['id']}?wait=5")
        assert status == 200, done
        assert done["status"] == "succeeded" and done["progress"] == 100
        assert done["profile"]["languages"]["primary"] == "python"
        assert done["summary"]["apps"][0]["framework"] == "flask"
        assert done["timings"]["running_s"] is not None
        status, listed = api.call("GET", f"/projects/{project}/analyses")
        assert status == 200 and [j["id"] for j in listed["jobs"]] == [job["id"]]
        status, upload_now = api.call("GET", f"/projects/{project}/uploads/{upload['id']}")
        assert upload_now["status"] == "ready" and upload_now["size"] == len(small_zip())


def test_upload_over_the_limit_is_rejected_and_deleted(local_resources: LocalResources) -> None:
    with api_client(local_resources, max_upload_bytes=1024) as api:
        project = api.new_project()
        _, upload = api.call("POST", f"/projects/{project}/uploads", {})
        # The emulator ignores content-length-range: the object lands, the HEAD check catches it.
        _post_file(upload["upload"], b"z" * 2048)

        status, body = api.call(
            "POST", f"/projects/{project}/analyses", {"upload_id": upload["id"]}
        )

        assert status == 422, body
        assert body["error"]["code"] == "upload_rejected"
        assert "2048 bytes" in body["error"]["message"] and "deleted" in body["error"]["message"]
        s3 = client(local_resources, "s3")
        listed = s3.list_objects_v2(Bucket=local_resources.bucket, Prefix=upload["key"])
        assert listed["KeyCount"] == 0
        _, again = api.call("POST", f"/projects/{project}/uploads/{upload['id']}/complete")
        assert again["error"]["code"] == "upload_rejected"
        _, shown = api.call("GET", f"/projects/{project}/uploads/{upload['id']}")
        assert shown["status"] == "rejected" and shown["error"]["code"] == "upload_too_large"
        _, jobs = api.call("GET", f"/projects/{project}/analyses")
        assert jobs["jobs"] == []


def test_analysis_before_the_upload_and_of_another_users_project(
    local_resources: LocalResources,
) -> None:
    with api_client(local_resources) as api:
        project = api.new_project()
        _, upload = api.call("POST", f"/projects/{project}/uploads", {})
        status, body = api.call(
            "POST", f"/projects/{project}/analyses", {"upload_id": upload["id"]}
        )
        assert status == 409 and body["error"]["code"] == "upload_incomplete"
        status, body = api.call("POST", f"/projects/{project}/analyses", {"upload_id": "nope"})
        assert status == 404
        status, body = api.call("GET", f"/projects/{project}/analyses/unknown-job")
        assert status == 404

        api.login_new_user()  # someone else
        status, _ = api.call("POST", f"/projects/{project}/uploads", {})
        assert status == 404
        status, _ = api.call("GET", f"/projects/{project}/analyses")
        assert status == 404


def test_daily_backup_schedule_exports_the_table_and_the_runner_snapshots(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    with api_client(local_resources) as api:
        api.new_project()
        event = api.client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        )
        payload = api.client.lambda_.invoke("daily_backup", event).payload

    assert payload["export_key"].startswith("backups/api/")
    worker = make_worker(runner_settings(local_resources, tmp_path), local_resources)
    worker.run(max_jobs=1)
    s3 = client(local_resources, "s3")
    snapshots = s3.list_objects_v2(Bucket=local_resources.bucket, Prefix="backups/runner/")
    assert snapshots["KeyCount"] == 1
    job = client(local_resources, "dynamodb").get_item(
        TableName=local_resources.table,
        Key={"pk": {"S": "PROJECT#system"}, "sk": {"S": f"JOB#{payload['snapshot_job_id']}"}},
    )["Item"]
    assert job["status"]["S"] == "succeeded"
    assert job["result"]["M"]["snapshot_key"]["S"] == snapshots["Contents"][0]["Key"]


def test_following_an_analysis_does_not_use_up_the_rate_limit(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    with api_client(local_resources, rate_limit=3) as api:
        project = api.new_project()  # 1 of 3
        _, upload = api.call("POST", f"/projects/{project}/uploads", {})  # 2 of 3
        _post_file(upload["upload"], small_zip())
        status, job = api.call("POST", f"/projects/{project}/analyses", {"upload_id": upload["id"]})
        assert status == 202  # 3 of 3

        statuses = [
            api.call("GET", f"/projects/{project}/analyses/{job['id']}")[0] for _ in range(10)
        ]
        assert statuses == [200] * 10
        assert api.call("GET", f"/projects/{project}/analyses")[0] == 200
        status, body = api.call("POST", f"/projects/{project}/uploads", {})
        assert status == 429, body


def test_pending_upload_expires_after_a_day(local_resources: LocalResources) -> None:
    from chalicelib.context import build_context
    from chalicelib.errors import NotFoundError
    from chalicelib.services import uploads
    from chalicelib.settings import load_settings

    settings = load_settings({**local_resources.environment(), "AUTOSTACK_STAGE": "test"})
    now = 1_800_000_000.0
    record, _ = uploads.create(build_context(settings, clock=lambda: now), "proj1", "zip")
    later = build_context(settings, clock=lambda: now + uploads.PENDING_TTL_S + 1)

    assert uploads.get(build_context(settings, clock=lambda: now), "proj1", record.upload_id)
    with pytest.raises(NotFoundError):
        uploads.get(later, "proj1", record.upload_id)

"""Cancelling an analysis through the API (in-process), with the runner's worker in-process."""

from __future__ import annotations

from pathlib import Path

import requests
from api_harness import ApiClient, api_client
from runner_harness import ZipAnalyzer, make_worker, receive_all, runner_settings, small_zip

from devtools.local_resources import LocalResources


def _queued_analysis(api: ApiClient, resources: LocalResources) -> tuple[str, dict]:
    project = api.new_project()
    _, upload = api.call("POST", f"/projects/{project}/uploads", {})
    presigned = upload["upload"]
    posted = requests.post(
        presigned["url"],
        data=presigned["fields"],
        files={"file": ("archive", small_zip(), presigned["content_type"])},
        timeout=30,
    )
    assert posted.status_code in (200, 201, 204)
    status, job = api.call("POST", f"/projects/{project}/analyses", {"upload_id": upload["id"]})
    assert status == 202, job
    assert job["status"] == "queued"
    return project, job


def test_a_queued_analysis_is_cancelled_and_the_runner_skips_it(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    analyzer = ZipAnalyzer()
    worker = make_worker(runner_settings(local_resources, tmp_path), local_resources, analyzer)
    with api_client(local_resources) as api:
        project, job = _queued_analysis(api, local_resources)

        status, cancelled = api.call("POST", f"/projects/{project}/analyses/{job['id']}/cancel")
        assert status == 202, cancelled
        assert cancelled["id"] == job["id"]
        assert cancelled["status"] == "cancelled"
        assert cancelled["error"]["code"] == "cancelled"

        handled = worker.run(burst=True)

        assert handled == 1
        assert analyzer.calls == []  # never ran
        assert receive_all(local_resources, local_resources.queue_url) == []
        attributes = api.context.aws.sqs.get_queue_attributes(
            QueueUrl=local_resources.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        assert attributes == {
            "ApproximateNumberOfMessages": "0",
            "ApproximateNumberOfMessagesNotVisible": "0",
        }  # deleted, not handed back
        status, after = api.call("GET", f"/projects/{project}/analyses/{job['id']}")
        assert status == 200 and after["status"] == "cancelled"


def test_a_running_analysis_gets_cancel_requested_and_ends_cancelled(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    seen: dict = {}
    with api_client(local_resources) as api:
        project, job = _queued_analysis(api, local_resources)

        def cancel_while_running() -> None:
            seen["status"], seen["body"] = api.call(
                "POST", f"/projects/{project}/analyses/{job['id']}/cancel"
            )
            item = api.context.aws.dynamodb.get_item(
                TableName=local_resources.table,
                Key={"pk": {"S": f"PROJECT#{project}"}, "sk": {"S": f"JOB#{job['id']}"}},
                ConsistentRead=True,
            )["Item"]
            seen["flag"] = item.get("cancel_requested", {}).get("BOOL")
            # The runner's heartbeat reads the flag and stops the job (an event, not a nap).
            running = worker._running.get(job["id"])  # the pool's entry for this job
            seen["noticed"] = running is not None and running.stop.wait(30)

        analyzer = ZipAnalyzer(on_call=cancel_while_running)
        worker = make_worker(runner_settings(local_resources, tmp_path), local_resources, analyzer)
        worker.run(max_jobs=1)

        assert seen["status"] == 202, seen["body"]
        assert seen["body"]["status"] == "running"
        assert seen["flag"] is True
        assert seen["noticed"] is True
        status, after = api.call("GET", f"/projects/{project}/analyses/{job['id']}")
        assert status == 200
        assert after["status"] == "cancelled", after
        assert after["error"]["code"] == "cancelled"
        assert after.get("profile") is None


def test_a_finished_analysis_answers_409_and_stays_as_it_was(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    worker = make_worker(runner_settings(local_resources, tmp_path), local_resources)
    with api_client(local_resources) as api:
        project, job = _queued_analysis(api, local_resources)
        worker.run(max_jobs=1)
        path = f"/projects/{project}/analyses/{job['id']}/cancel"

        status, body = api.call("POST", path)
        assert status == 409, body
        assert body["error"]["code"] == "conflict"
        assert "already succeeded" in body["error"]["message"]
        status, after = api.call("GET", f"/projects/{project}/analyses/{job['id']}")
        assert after["status"] == "succeeded"

        # Cancelling twice: the second answer is a 409 too.
        project2, job2 = _queued_analysis(api, local_resources)
        path2 = f"/projects/{project2}/analyses/{job2['id']}/cancel"
        assert api.call("POST", path2)[0] == 202
        status, body = api.call("POST", path2)
        assert status == 409 and "already cancelled" in body["error"]["message"]


def test_another_users_analysis_is_404_and_untouched(local_resources: LocalResources) -> None:
    with api_client(local_resources) as api:
        project, job = _queued_analysis(api, local_resources)
        owner_token = api.token
        api.login_new_user()
        status, body = api.call("POST", f"/projects/{project}/analyses/{job['id']}/cancel")
        assert status == 404, body
        own_project = api.new_project()
        status, body = api.call("POST", f"/projects/{own_project}/analyses/{job['id']}/cancel")
        assert status == 404, body  # the job id under one's own project: not found either
        status, body = api.call("POST", f"/projects/{own_project}/analyses/nope/cancel")
        assert status == 404, body

        api.token = owner_token
        status, after = api.call("GET", f"/projects/{project}/analyses/{job['id']}")
        assert after["status"] == "queued"

"""The worker loop against the emulator, in-process, with bounded runs."""

from __future__ import annotations

import json
import secrets
import threading
import time
from pathlib import Path

import pytest
from runner_harness import (
    ZipAnalyzer,
    client,
    job_service,
    make_worker,
    message_body,
    put_upload,
    receive_all,
    runner_settings,
    small_zip,
)

from devtools.local_resources import LocalResources
from runner.errors import JobDeferredError, TransientJobError
from runner.jobs.context import JobContext, JobResult
from runner.jobs.registry import HandlerRegistry
from runner.worker import ColdStopError


def _project() -> str:
    return "p" + secrets.token_hex(6)


def _submit_analysis(resources: LocalResources, project: str, body: bytes | None = None):
    upload_id, key = put_upload(resources, project, body if body is not None else small_zip())
    return job_service(resources).submit(
        project_id=project,
        kind="analyze",
        payload={"upload_id": upload_id, "key": key},
        request_id="req-" + secrets.token_hex(4),
    )


def test_analyze_job_succeeds_and_is_answered_once(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    settings = runner_settings(local_resources, tmp_path)
    analyzer = ZipAnalyzer()
    worker = make_worker(settings, local_resources, analyzer)
    project = _project()
    job = _submit_analysis(local_resources, project)

    assert worker.run(max_jobs=1) == 1

    done = job_service(local_resources).get(project, job.job_id)
    assert done is not None
    assert done.status == "succeeded"
    assert done.progress == 100
    assert done.attempts == 1
    assert done.runner_id == settings.runner_id
    assert done.summary == {
        "primary_language": "python",
        "apps": [
            {"path": ".", "name": "app", "language": "python", "framework": "flask", "port": 5000}
        ],
        "services": ["postgres"],
    }
    assert done.result["report_key"] == f"reports/{project}/{job.job_id}.json"
    assert done.timings()["running_s"] is not None
    report = client(local_resources, "s3").get_object(
        Bucket=local_resources.bucket, Key=done.result["report_key"]
    )
    assert json.loads(report["Body"].read())["languages"]["primary"] == "python"
    assert len(analyzer.calls) == 1
    # The message is gone, the attempt is in the ledger, the log is in S3.
    assert receive_all(local_resources, local_resources.queue_url) == []
    attempts = worker.ledger.attempts_for(job.job_id)
    assert [(a.attempt, a.outcome) for a in attempts] == [(1, "succeeded")]
    logs = client(local_resources, "s3").list_objects_v2(
        Bucket=local_resources.bucket, Prefix=f"logs/{project}/{job.job_id}/"
    )
    assert logs["KeyCount"] >= 1
    assert (
        worker.ledger.query("SELECT count(*) FROM log_index WHERE job_id = ?", (job.job_id,))[0][0]
        == logs["KeyCount"]
    )


def test_duplicate_delivery_is_executed_once(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    settings = runner_settings(local_resources, tmp_path)
    analyzer = ZipAnalyzer()
    worker = make_worker(settings, local_resources, analyzer)
    project = _project()
    job = _submit_analysis(local_resources, project)
    # SQS may deliver a message twice: send the same body again.
    client(local_resources, "sqs").send_message(
        QueueUrl=local_resources.queue_url,
        MessageBody=message_body(
            job.job_id, project, upload_id=job.payload["upload_id"], key=job.payload["key"]
        ),
    )

    assert worker.run(max_jobs=2) == 2

    assert len(analyzer.calls) == 1
    done = job_service(local_resources).get(project, job.job_id)
    assert done is not None and done.status == "succeeded" and done.attempts == 1
    assert receive_all(local_resources, local_resources.queue_url) == []


def test_archive_over_the_limit_fails_at_once(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    settings = runner_settings(local_resources, tmp_path, max_upload_bytes=1000)
    analyzer = ZipAnalyzer()
    worker = make_worker(settings, local_resources, analyzer)
    project = _project()
    job = _submit_analysis(local_resources, project, body=b"x" * 1001)

    worker.run(max_jobs=1)

    done = job_service(local_resources).get(project, job.job_id)
    assert done is not None and done.status == "failed"
    assert done.error is not None and done.error.code == "archive_too_large"
    assert "1001 bytes" in done.error.message
    assert analyzer.calls == []
    assert receive_all(local_resources, local_resources.queue_url) == []


def test_refused_archive_is_a_permanent_failure(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    settings = runner_settings(local_resources, tmp_path)
    worker = make_worker(settings, local_resources, ZipAnalyzer())
    project = _project()
    job = _submit_analysis(local_resources, project, body=b"this is not an archive")

    worker.run(max_jobs=1)

    done = job_service(local_resources).get(project, job.job_id)
    assert done is not None and done.status == "failed"
    assert done.error is not None and done.error.code == "archive_refused"
    assert "not a zip archive" in done.error.message
    assert done.attempts == 1
    assert receive_all(local_resources, local_resources.queue_url) == []
    # The job's log in S3 tells the user what happened (the runner's lines about this job).
    s3 = client(local_resources, "s3")
    keys = s3.list_objects_v2(Bucket=local_resources.bucket, Prefix=f"logs/{project}/{job.job_id}/")
    text = "".join(
        s3.get_object(Bucket=local_resources.bucket, Key=o["Key"])["Body"].read().decode()
        for o in keys["Contents"]
    )
    assert "WARNING job attempt failed" in text
    assert "attempt 1 ended: failed: archive refused" in text


def test_key_outside_the_project_is_refused(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    settings = runner_settings(local_resources, tmp_path)
    analyzer = ZipAnalyzer()
    worker = make_worker(settings, local_resources, analyzer)
    project, other = _project(), _project()
    _, other_key = put_upload(local_resources, other, small_zip())
    job = job_service(local_resources).submit(
        project_id=project,
        kind="analyze",
        payload={"upload_id": "u1", "key": other_key},
        request_id=None,
    )

    worker.run(max_jobs=1)

    done = job_service(local_resources).get(project, job.job_id)
    assert done is not None and done.status == "failed"
    assert done.error is not None and done.error.code == "invalid_payload"
    assert analyzer.calls == []


def test_transient_error_is_retried_then_succeeds(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    settings = runner_settings(local_resources, tmp_path)
    analyzer = ZipAnalyzer(fail_with=[TransientJobError("S3 is throttling")])
    worker = make_worker(settings, local_resources, analyzer)
    project = _project()
    job = _submit_analysis(local_resources, project)

    worker.run(max_jobs=2, idle_exit_s=8)

    done = job_service(local_resources).get(project, job.job_id)
    assert done is not None and done.status == "succeeded"
    assert done.attempts == 2
    assert done.last_error is not None and "throttling" in done.last_error.message
    outcomes = [a.outcome for a in worker.ledger.attempts_for(job.job_id)]
    assert outcomes == ["retry", "succeeded"]


def test_persistent_transient_error_fails_after_three_receives_and_dead_letters(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    settings = runner_settings(local_resources, tmp_path)
    analyzer = ZipAnalyzer(fail_with=[TransientJobError("S3 is throttling")] * 5)
    worker = make_worker(settings, local_resources, analyzer)
    project = _project()
    job = _submit_analysis(local_resources, project)

    worker.run(max_jobs=3, idle_exit_s=10)

    done = job_service(local_resources).get(project, job.job_id)
    assert done is not None and done.status == "failed"
    assert done.error is not None
    assert "gave up after 3 attempts" in done.error.message
    assert len(analyzer.calls) == 3
    # The next receive hands it to the dead-letter queue (SQS redrive), not to us.
    assert worker.run(burst=True) == 0
    dead = receive_all(local_resources, local_resources.dlq_url)
    assert [json.loads(m["Body"])["job_id"] for m in dead] == [job.job_id]


def test_poison_message_goes_to_the_dlq_and_fails_its_job(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    settings = runner_settings(local_resources, tmp_path)
    worker = make_worker(settings, local_resources)
    project = _project()
    job = _submit_analysis(local_resources, project)
    sqs = client(local_resources, "sqs")
    # The real message is replaced by poison: a bad kind for a known job, and plain garbage.
    sqs.purge_queue(QueueUrl=local_resources.queue_url)
    sqs.send_message(
        QueueUrl=local_resources.queue_url,
        MessageBody=message_body(job.job_id, project, kind="explode"),
    )
    sqs.send_message(QueueUrl=local_resources.queue_url, MessageBody="{not json")

    handled = worker.run(idle_exit_s=3)

    assert handled >= 6  # each poison message received 3 times, the loop kept going
    done = job_service(local_resources).get(project, job.job_id)
    assert done is not None and done.status == "failed"
    assert done.error is not None and done.error.code == "invalid_message"
    assert "kind" in done.error.message
    bodies = [m["Body"] for m in receive_all(local_resources, local_resources.dlq_url)]
    assert len(bodies) == 2 and "{not json" in bodies
    assert [json.loads(b)["kind"] for b in bodies if b != "{not json"] == ["explode"]


def test_job_longer_than_the_visibility_timeout_runs_once_on_two_workers(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    # Visibility and lease are 2 s; the job takes 3.5 s (the sleep simulates the work's
    # duration against the emulator's real-time visibility clock; nothing synchronises on
    # it). Without the heartbeat the second worker would receive the message again and run
    # the job a second time.
    analyzer = ZipAnalyzer(on_call=lambda: time.sleep(3.5))
    first = make_worker(runner_settings(local_resources, tmp_path / "a"), local_resources, analyzer)
    second = make_worker(
        runner_settings(local_resources, tmp_path / "b"), local_resources, analyzer
    )
    project = _project()
    job = _submit_analysis(local_resources, project)

    threads = [threading.Thread(target=w.run, kwargs={"idle_exit_s": 15}) for w in (first, second)]
    for thread in threads:
        thread.start()
    jobs = job_service(local_resources)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        current = jobs.get(project, job.job_id)
        if current is not None and current.is_terminal:
            break
        time.sleep(0.1)
    for worker in (first, second):
        worker.request_stop()
    for thread in threads:
        thread.join(timeout=30)

    assert len(analyzer.calls) == 1
    done = job_service(local_resources).get(project, job.job_id)
    assert done is not None and done.status == "succeeded" and done.attempts == 1


def test_warm_stop_finishes_the_current_job_then_leaves(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    settings = runner_settings(local_resources, tmp_path)
    holder: dict[str, object] = {}
    analyzer = ZipAnalyzer(on_call=lambda: holder["worker"].request_stop())  # type: ignore[attr-defined]
    worker = make_worker(settings, local_resources, analyzer)
    holder["worker"] = worker
    project = _project()
    first = _submit_analysis(local_resources, project)
    second = _submit_analysis(local_resources, project)

    assert worker.run() == 1

    jobs = job_service(local_resources)
    statuses = {jobs.get(project, j.job_id).status for j in (first, second)}  # type: ignore[union-attr]
    assert statuses == {"succeeded", "queued"}


def test_cold_stop_hands_the_job_back_at_once(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    settings = runner_settings(local_resources, tmp_path, visibility_timeout_s=30, lease_s=30)

    def cold(_ctx: JobContext) -> JobResult:
        raise ColdStopError()

    worker = make_worker(settings, local_resources, registry=HandlerRegistry({"snapshot": cold}))
    job = job_service(local_resources).submit(
        project_id="system", kind="snapshot", payload={}, request_id=None
    )

    with pytest.raises(ColdStopError):
        worker.run(max_jobs=1)

    back = job_service(local_resources).get("system", job.job_id)
    assert back is not None and back.status == "queued" and back.runner_id is None
    # Visible again at once (not after the 30 s visibility timeout).
    assert len(receive_all(local_resources, local_resources.queue_url)) == 1
    assert [a.outcome for a in worker.ledger.attempts_for(job.job_id)] == ["interrupted"]


def test_deferred_job_is_requeued_with_a_fresh_message(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    settings = runner_settings(local_resources, tmp_path)
    calls: list[int] = []

    def waits_for_a_slot(ctx: JobContext) -> JobResult:
        calls.append(ctx.receive_count)
        if len(calls) == 1:
            raise JobDeferredError("no free terraform slot", delay_s=1, attributes={"place": 1})
        return JobResult(result={"ok": True})

    worker = make_worker(
        settings, local_resources, registry=HandlerRegistry({"snapshot": waits_for_a_slot})
    )
    job = job_service(local_resources).submit(
        project_id="system", kind="snapshot", payload={}, request_id=None
    )

    worker.run(max_jobs=2, idle_exit_s=5)

    assert calls == [1, 1]  # the copy starts again at receive count 1
    done = job_service(local_resources).get("system", job.job_id)
    assert done is not None and done.status == "succeeded" and done.result == {"ok": True}


def test_unknown_handler_and_missing_upload_fail_with_reasons(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    settings = runner_settings(local_resources, tmp_path)
    worker = make_worker(
        settings, local_resources, registry=HandlerRegistry(package="runner.jobs_that_do_not_exist")
    )
    jobs = job_service(local_resources)
    project = _project()
    plan = jobs.submit(project_id=project, kind="plan", payload={}, request_id=None)

    worker.run(max_jobs=1)

    failed = jobs.get(project, plan.job_id)
    assert failed is not None and failed.status == "failed"
    assert failed.error is not None and failed.error.code == "unknown_kind"

    worker = make_worker(settings, local_resources)
    missing = jobs.submit(
        project_id=project,
        kind="analyze",
        payload={"upload_id": "nope", "key": f"uploads/{project}/nope.zip"},
        request_id=None,
    )
    worker.run(max_jobs=1)
    failed = jobs.get(project, missing.job_id)
    assert failed is not None and failed.error is not None
    assert failed.error.code == "upload_missing"


def test_expired_lease_of_a_dead_runner_is_taken_over(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    settings = runner_settings(local_resources, tmp_path)
    worker = make_worker(settings, local_resources)
    project = _project()
    job = _submit_analysis(local_resources, project)
    # Another runner claimed it and died: its lease has run out.
    assert worker.store.claim(project, job.job_id, "dead-runner", time.time() - 60, 2) is not None

    worker.run(max_jobs=1)

    done = job_service(local_resources).get(project, job.job_id)
    assert done is not None and done.status == "succeeded"
    assert done.attempts == 2 and done.runner_id == settings.runner_id


def test_cancel_requested_on_the_item_reaches_the_handler(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    settings = runner_settings(local_resources, tmp_path)
    seen: list[str | None] = []

    def long_job(ctx: JobContext) -> JobResult:
        ctx.stop.wait(10)  # until the heartbeat notices the cancel request
        seen.append(ctx.stop.reason)
        ctx.stop.raise_if_cancelled()
        return JobResult()

    worker = make_worker(
        settings, local_resources, registry=HandlerRegistry({"snapshot": long_job})
    )
    job = job_service(local_resources).submit(
        project_id="system", kind="snapshot", payload={}, request_id=None
    )
    ddb = client(local_resources, "dynamodb")

    def request_cancel() -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            current = job_service(local_resources).get("system", job.job_id)
            if current is not None and current.status == "running":
                ddb.update_item(
                    TableName=local_resources.table,
                    Key={"pk": {"S": "PROJECT#system"}, "sk": {"S": f"JOB#{job.job_id}"}},
                    UpdateExpression="SET cancel_requested = :yes",
                    ExpressionAttributeValues={":yes": {"BOOL": True}},
                )
                return
            time.sleep(0.05)

    canceller = threading.Thread(target=request_cancel)
    canceller.start()
    began = time.monotonic()
    worker.run(max_jobs=1)
    canceller.join()

    assert seen == ["cancel"]
    assert time.monotonic() - began < 5
    done = job_service(local_resources).get("system", job.job_id)
    assert done is not None and done.status == "cancelled"
    assert done.error is not None and done.error.code == "cancelled"

